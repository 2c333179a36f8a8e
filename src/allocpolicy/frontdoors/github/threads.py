"""Review threads through GraphQL: the REST API cannot resolve a thread or minimise a
comment, and a repository that requires conversation resolution blocks merging until
every thread is resolved, so editing the bot's comment to say "resolved" is not enough.

Thread ids are looked up with one paginated ``reviewThreads`` query, and only when a
run has a thread to resolve or a comment to minimise, so an identical re-run sends no
GraphQL at all. Every refusal (FORBIDDEN: the token lacks ``contents: write``; a 403;
a network error) turns the rest of the run's GraphQL off: the caller keeps the REST
body edit and says so once in the job summary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from allocpolicy._record import record

from .client import ApiError, GitHubClient

# pages of 100 threads (GitHub's maximum); a bound so a huge pull request cannot loop
MAX_THREAD_PAGES = 50

THREADS_QUERY = """
query ReviewThreads($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 100, after: $after) {
        nodes {
          id
          isResolved
          comments(first: 1) { nodes { id databaseId } }
        }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}
"""

RESOLVE_MUTATION = """
mutation ResolveThread($threadId: ID!) {
  resolveReviewThread(input: {threadId: $threadId}) { thread { id isResolved } }
}
"""

MINIMIZE_MUTATION = """
mutation MinimizeComment($subjectId: ID!, $classifier: ReportedContentClassifiers!) {
  minimizeComment(input: {subjectId: $subjectId, classifier: $classifier}) {
    minimizedComment { isMinimized }
  }
}
"""

COMMENT_IDS_QUERY = """
query CommentNodeIds($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      comments(first: 100, after: $after) {
        nodes { id databaseId isMinimized }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}
"""

PERMISSION_NOTE = (
    "Review threads could not be resolved through GitHub's GraphQL API ({why}); the "
    "bot's comments were edited to say resolved instead. Grant the workflow "
    "`contents: write` (with `pull-requests: write`) so fixed findings resolve their "
    "threads and required conversation resolution does not block the merge."
)


@record
class Thread:
    id: str
    resolved: bool
    root_node: str  # the first comment's node id (what minimizeComment takes)


class Threads:
    """The pull request's review threads, keyed by their first comment's REST id."""

    def __init__(self, api: GitHubClient, log: Callable[[str], None] = lambda m: None):
        self.api = api
        self.log = log
        self.refused: str | None = None  # why GraphQL is off for the rest of the run
        self._by_root: dict[int, Thread] | None = None
        self._issue_nodes: dict[int, tuple[str, bool]] | None = None

    def _vars(self) -> dict[str, object]:
        owner, _, name = self.api.repo_name.partition("/")
        return {"owner": owner, "name": name, "number": self.api.number}

    def _call(
        self, what: str, query: str, variables: dict[str, object]
    ) -> dict[str, object] | None:
        if self.refused is not None:
            return None
        try:
            return self.api.graphql(what, query, dict(variables))
        except ApiError as exc:
            # the job summary names the cause, not a connection error's repr
            self.refused = f"{exc.status}: {exc.message}" if exc.status else "network error"
            self.log(f"GraphQL {what} refused ({self.refused}); falling back to comment edits")
            return None

    def by_root(self) -> dict[int, Thread]:
        """Threads by their first comment's databaseId (empty when refused)."""
        if self._by_root is not None:
            return self._by_root
        found: dict[int, Thread] = {}
        for node in self._nodes("query reviewThreads", THREADS_QUERY, "reviewThreads"):
            first = _dig(node, "comments", "nodes")
            if isinstance(first, list) and first and isinstance(first[0], dict):
                db = first[0].get("databaseId")
                if isinstance(db, int):
                    found[db] = Thread(
                        str(node.get("id")),
                        bool(node.get("isResolved")),
                        str(first[0].get("id")),
                    )
        self._by_root = found
        return found

    def _nodes(self, what: str, query: str, connection: str) -> Iterator[dict[str, Any]]:
        """The nodes of one of the pull request's connections, page after page (at most
        MAX_THREAD_PAGES; none once GraphQL is refused)."""
        after: str | None = None
        for _ in range(MAX_THREAD_PAGES):
            data = self._call(what, query, {**self._vars(), "after": after})
            conn = _dig(data, "repository", "pullRequest", connection)
            if not isinstance(conn, dict):
                return
            for node in conn.get("nodes") or []:
                if isinstance(node, dict):
                    yield node
            page = conn.get("pageInfo") or {}
            if not (isinstance(page, dict) and page.get("hasNextPage") and page.get("endCursor")):
                return
            after = str(page["endCursor"])

    def resolve(self, comment_id: int) -> bool:
        """Resolve the thread this comment starts; True if this call resolved it (one
        already resolved, by the bot or a person, is left as it is)."""
        t = self.by_root().get(comment_id)
        if t is None or t.resolved:
            return False
        if self._call("mutation resolveReviewThread", RESOLVE_MUTATION, {"threadId": t.id}) is None:
            return False
        t.resolved = True
        return True

    def minimize_review_comment(self, comment_id: int) -> bool:
        """Hide a review comment as a duplicate. Its node id is the thread's first
        comment's, so only a thread's first comment (the bot's copies are) can be found."""
        t = self.by_root().get(comment_id)
        if t is None:
            return False
        return self._minimize(t.root_node)

    def minimize_issue_comment(self, comment_id: int) -> bool:
        if self._issue_nodes is None:
            nodes: dict[int, tuple[str, bool]] = {}
            for n in self._nodes("query comments", COMMENT_IDS_QUERY, "comments"):
                if isinstance(n.get("databaseId"), int):
                    nodes[n["databaseId"]] = (str(n.get("id")), bool(n.get("isMinimized")))
            self._issue_nodes = nodes
        found = self._issue_nodes.get(comment_id)
        if found is None:
            return False
        node_id, minimized = found
        return minimized or self._minimize(node_id)

    def minimize_review(self, node_id: str) -> bool:
        """Hide a review's body as a duplicate (REST lists its node id; a review is
        Minimizable in GitHub's schema, like a comment)."""
        return bool(node_id) and self._minimize(node_id)

    def _minimize(self, node_id: str) -> bool:
        return (
            self._call(
                "mutation minimizeComment",
                MINIMIZE_MUTATION,
                {"subjectId": node_id, "classifier": "DUPLICATE"},
            )
            is not None
        )


def _dig(data: object, *keys: str) -> object:
    for k in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(k)
    return data
