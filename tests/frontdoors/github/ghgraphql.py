"""GitHub's GraphQL endpoint for the API double (``POST /graphql``, and
``/api/graphql`` under a GHES-style ``/api/v3`` base URL, which is where PyGithub
sends it).

Every document the bot sends is parsed and validated against GitHub's public schema
(``schema.graphql`` of npm's ``@octokit/graphql-schema``, fetched and cached by
``real_binaries.npm``) and then executed by graphql-core over the double's state, so
an unknown field, a wrong argument or a mistyped variable is a spec violation
(recorded in ``GitHubDouble.spec_errors``, which the fixture asserts empty) and is
answered the way GitHub answers it: HTTP 200 with ``errors``.

Only what the bot uses is implemented, with GitHub's semantics: a pull request's
``reviewThreads`` and ``comments`` connections (``first``/``after``, at most 100 a
page), ``node(id:)``, ``resolveReviewThread``, ``minimizeComment`` and a repository's
``object(oid:)`` (blobs of the real git repository at ``GitHubDouble.git_root``: their
``text`` is null for a binary blob and cut past ``blob_text_limit``, ``isTruncated``).
Node ids map to the REST objects: ``PRRC_<id>`` review comments, ``IC_<id>`` issue
comments, ``PRR_<id>`` reviews,
``PRRT_<id of the thread's first comment>`` threads. A field the double does not
implement comes back null and is recorded too, so the double cannot silently answer
less than GitHub would.

Permissions (GitHub docs and community reports: resolveReviewThread is gated on the
token's ``contents`` permission, not ``pull-requests``; minimizeComment needs write on
the pull request): a token without them gets
``errors: [{type: "FORBIDDEN", message: "Resource not accessible by integration"}]``.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import graphql
from graphql import GraphQLError

if TYPE_CHECKING:
    from ghdouble import GitHubDouble

SCHEMA_PACKAGE = ("@octokit/graphql-schema", "15.26.1", "package/schema.graphql")
PATHS = ("/graphql", "/api/graphql")
MAX_PAGE = 100
FORBIDDEN = "Resource not accessible by integration"

_SCHEMA: dict[str, graphql.GraphQLSchema] = {}


def load_schema() -> graphql.GraphQLSchema:
    """GitHub's schema, built once per session (it is 1.2 MB of SDL). Skips the test
    when it cannot be fetched, fails under CI (real_binaries.unavailable)."""
    if "schema" not in _SCHEMA:
        import real_binaries

        path = real_binaries.npm(*SCHEMA_PACKAGE)
        # assume_valid too: GitHub's published schema breaks graphql-core's own schema
        # rules (deprecated implementations of non-deprecated interface fields), which
        # would make every validate() and execute() refuse it; documents are still
        # validated against it in full
        _SCHEMA["schema"] = graphql.build_schema(
            path.read_text(), assume_valid=True, assume_valid_sdl=True
        )
    return _SCHEMA["schema"]


def validation_errors(schema: graphql.GraphQLSchema, query: str) -> list[str]:
    try:
        document = graphql.parse(query)
    except GraphQLError as exc:
        return [exc.message]
    return [e.message for e in graphql.validate(schema, document)]


class _Refused(GraphQLError):
    """An error GitHub reports with a ``type`` (FORBIDDEN, NOT_FOUND, ...)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def _cursor(i: int) -> str:
    return base64.b64encode(f"cursor:{i}".encode()).decode()


def _offset(after: str | None) -> int:
    if after is None:
        return 0
    try:
        return int(base64.b64decode(after).decode().split(":", 1)[1]) + 1
    except (ValueError, IndexError):
        raise _Refused(
            "INVALID_CURSOR_ARGUMENTS", f"`{after}` does not appear to be a valid cursor."
        ) from None


def connection(items: list[Any], name: str, first: int | None, after: str | None) -> dict[str, Any]:
    """A GitHub connection page: ``first`` is required (no ``last`` here) and at most 100."""
    if first is None:
        raise _Refused(
            "MISSING_PAGINATION_BOUNDARIES",
            f"You must provide a `first` or `last` value to properly paginate the `{name}` connection.",
        )
    if first > MAX_PAGE or first < 0:
        raise _Refused(
            "EXCESSIVE_PAGINATION",
            f"Requesting {first} records on the `{name}` connection exceeds the `first` limit of 100 records.",
        )
    start = _offset(after)
    chunk = items[start : start + first]
    return {
        "nodes": chunk,
        "edges": [{"cursor": _cursor(start + i), "node": n} for i, n in enumerate(chunk)],
        "totalCount": len(items),
        "pageInfo": {
            "hasNextPage": start + first < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": _cursor(start) if chunk else None,
            "endCursor": _cursor(start + len(chunk) - 1) if chunk else None,
        },
    }


class GraphQLEndpoint:
    def __init__(self, double: GitHubDouble):
        self.d = double

    # -- objects -----------------------------------------------------------------------------
    def _actor(self, login: str) -> dict[str, Any]:
        # GraphQL names a bot by its slug: "github-actions", not REST's "github-actions[bot]"
        if login.endswith("[bot]"):
            return {"__typename": "Bot", "login": login[: -len("[bot]")]}
        return {"__typename": "User", "login": login}

    def _minimizable(self, typename: str, c: dict[str, Any]) -> dict[str, Any]:
        """A REST object as GraphQL shows it: a comment or a review (both Minimizable)."""
        return {
            "__typename": typename,
            "id": c["node_id"],
            "databaseId": c["id"],
            "body": c["body"],
            "author": self._actor(c["user"]["login"]),
            "isMinimized": "_minimized" in c,
            "minimizedReason": c.get("_minimized", "").lower() or None,
            "url": c["html_url"],
        }

    def _review_comment(self, c: dict[str, Any]) -> dict[str, Any]:
        return {**self._minimizable("PullRequestReviewComment", c), "path": c["path"]}

    def _issue_comment(self, c: dict[str, Any]) -> dict[str, Any]:
        return self._minimizable("IssueComment", c)

    def _review(self, r: dict[str, Any]) -> dict[str, Any]:
        return self._minimizable("PullRequestReview", r)

    def _thread(self, root: dict[str, Any], viewer: dict[str, Any]) -> dict[str, Any]:
        replies = [c for c in self.d.review_comments if c.get("in_reply_to_id") == root["id"]]
        members = [root, *replies]
        return {
            "__typename": "PullRequestReviewThread",
            "id": f"PRRT_{root['id']}",
            "isResolved": bool(root.get("_resolved")),
            "isOutdated": root.get("line") is None and root.get("subject_type") != "file",
            "path": root["path"],
            "line": root.get("line"),
            "viewerCanResolve": bool(viewer.get("contents", viewer["write"])),
            "comments": lambda info, first=None, after=None, **kw: connection(
                [self._review_comment(c) for c in members], "comments", first, after
            ),
        }

    def _roots(self, number: int, viewer: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            c
            for c in self.d.review_comments
            if c["_pr"] == number
            and not c.get("in_reply_to_id")
            and not self.d._in_pending_of_other(c, viewer["login"])
        ]

    def _pull(self, number: int, viewer: dict[str, Any]) -> dict[str, Any] | None:
        if number not in self.d.pulls:
            raise _Refused(
                "NOT_FOUND",
                f"Could not resolve to a PullRequest with the number of {number}.",
            )
        return {
            "__typename": "PullRequest",
            "number": number,
            "id": f"PR_{number}",
            "reviewThreads": lambda info, first=None, after=None, **kw: connection(
                [self._thread(c, viewer) for c in self._roots(number, viewer)],
                "reviewThreads",
                first,
                after,
            ),
            "comments": lambda info, first=None, after=None, **kw: connection(
                [self._issue_comment(c) for c in self.d.issue_comments if c["_pr"] == number],
                "comments",
                first,
                after,
            ),
        }

    def _git_object(self, oid: str | None) -> dict[str, Any] | None:
        """A git object by id (null when there is none, as GitHub answers)."""
        found = self.d.git_object(oid) if oid else None
        if found is None:
            return None
        kind, data = found
        if kind != "blob":
            return {"__typename": kind.capitalize(), "oid": oid}
        binary = b"\0" in data[:8000]
        cut = len(data) > self.d.blob_text_limit
        text = None if binary else data[: self.d.blob_text_limit].decode("utf-8", "replace")
        return {
            "__typename": "Blob",
            "oid": oid,
            "byteSize": len(data),
            "isBinary": binary,
            "isTruncated": cut,
            "text": text,
        }

    def _find(self, node_id: str) -> tuple[str, dict[str, Any]] | None:
        kind, _, raw = node_id.partition("_")
        if not raw.isdigit():
            return None
        n = int(raw)
        pool = {
            "PRRC": self.d.review_comments,
            "PRRT": self.d.review_comments,
            "IC": self.d.issue_comments,
            "PRR": self.d.reviews,  # a review is Minimizable too (GitHub's schema)
        }
        for c in pool.get(kind, []):
            if c["id"] == n and not (kind == "PRRT" and c.get("in_reply_to_id")):
                return kind, c
        return None

    def _object(self, kind: str, c: dict[str, Any]) -> dict[str, Any]:
        if kind == "PRR":
            return self._review(c)
        return self._review_comment(c) if kind == "PRRC" else self._issue_comment(c)

    def _not_found(self, node_id: str) -> _Refused:
        return _Refused(
            "NOT_FOUND", f"Could not resolve to a node with the global id of '{node_id}'"
        )

    # -- root fields ----------------------------------------------------------------------------
    def _root(self, viewer: dict[str, Any]) -> dict[str, Any]:
        def repository(info: Any, owner: str, name: str, **kw: Any) -> dict[str, Any]:
            if (owner, name) != (self.d.owner, self.d.repo):
                raise _Refused(
                    "NOT_FOUND",
                    f"Could not resolve to a Repository with the name '{owner}/{name}'.",
                )
            return {
                "__typename": "Repository",
                "nameWithOwner": self.d.full_name,
                "pullRequest": lambda info, number: self._pull(number, viewer),
                "object": lambda info, oid=None, expression=None: self._git_object(oid),
            }

        def node(info: Any, id: str) -> dict[str, Any] | None:
            found = self._find(id)
            if found is None:
                raise self._not_found(id)
            kind, c = found
            if kind == "PRRT":
                return self._thread(c, viewer)
            return self._object(kind, c)

        def resolve_review_thread(info: Any, input: dict[str, Any]) -> dict[str, Any]:
            if not viewer.get("contents", viewer["write"]):
                raise _Refused("FORBIDDEN", FORBIDDEN)
            found = self._find(input["threadId"])
            if found is None or found[0] != "PRRT":
                raise self._not_found(input["threadId"])
            root = found[1]
            root["_resolved"] = True
            return {
                "clientMutationId": input.get("clientMutationId"),
                "thread": self._thread(root, viewer),
            }

        def minimize_comment(info: Any, input: dict[str, Any]) -> dict[str, Any]:
            if not viewer["write"]:
                raise _Refused("FORBIDDEN", FORBIDDEN)
            found = self._find(input["subjectId"])
            if found is None or found[0] == "PRRT":
                raise self._not_found(input["subjectId"])
            kind, c = found
            c["_minimized"] = input["classifier"]
            return {
                "clientMutationId": input.get("clientMutationId"),
                "minimizedComment": self._object(kind, c),
            }

        return {
            "repository": repository,
            "node": node,
            "resolveReviewThread": resolve_review_thread,
            "minimizeComment": minimize_comment,
        }

    # -- the request ----------------------------------------------------------------------------
    def handle(
        self, rec: dict[str, Any], body: Any, viewer: dict[str, Any]
    ) -> tuple[int, dict[str, str], Any]:
        """GitHub's answer to one POST; ``rec`` is the request record the double keeps."""
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            self.d.spec_errors.append("graphql: the body has no query")
            return (
                200,
                {},
                {
                    "errors": [
                        {"message": "A query attribute must be specified and must be a string."}
                    ]
                },
            )
        schema = self.d.graphql_schema()
        query = body["query"]
        variables = body.get("variables") or {}
        errors = validation_errors(schema, query)
        if errors:
            self.d.spec_errors.extend(f"graphql: {e}" for e in errors)
            return 200, {}, {"errors": [{"message": e} for e in errors]}
        document = graphql.parse(query)
        ops = [d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)]
        rec["op"] = f"graphql/{ops[0].operation.value}" if ops else "graphql"
        rec["graphql"] = [
            str(s.name.value)
            for op in ops
            for s in op.selection_set.selections
            if isinstance(s, graphql.FieldNode)
        ]
        inj = next((i for i in self.d.injections if i.op == rec["op"] and i.times > 0), None)
        if inj is not None:  # e.g. a 403 secondary rate limit or a 502 from the proxy
            inj.times -= 1
            return inj.status, inj.headers, inj.body or {"message": "injected failure"}
        result = graphql.execute_sync(
            schema, document, root_value=self._root(viewer), variable_values=variables
        )
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            formatted = []
            for e in result.errors:
                orig = e.original_error
                item: dict[str, Any] = {
                    "message": e.message,
                    "path": e.path,
                    "locations": [
                        {"line": loc.line, "column": loc.column} for loc in (e.locations or [])
                    ],
                }
                if isinstance(orig, _Refused):
                    item["type"] = orig.kind
                elif isinstance(e, _Refused):
                    item["type"] = e.kind
                else:
                    # not GitHub's refusal: a variable that does not coerce, or a field the
                    # double does not implement (non-null came back null)
                    self.d.spec_errors.append(f"graphql: {e.message}")
                formatted.append(item)
            out["errors"] = formatted
        return 200, {}, out
