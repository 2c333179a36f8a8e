"""The only module that imports PyGithub (lazily, when a client is built).

Requests go through one policy:

* 403/429 rate limits: wait for ``retry-after`` or until ``x-ratelimit-reset``
  (bounded by ``max_wait``; beyond that, give up and let the caller degrade);
  a rate-limited request was rejected, so re-sending it is safe, POST included.
* 5xx / connection errors: reads are retried; a write that may have landed is
  first checked with ``verify()`` (a re-list looking for our marker) and only
  re-sent if it is not there.
* 403/404 on a write that is not a rate limit: :class:`PermissionDenied`.

PyGithub's own urllib3 retry is switched off so that POSTs are never re-sent
blindly; throttling between writes uses PyGithub's ``seconds_between_writes``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from allocpolicy._record import record

if TYPE_CHECKING:
    from github.PullRequest import ReviewComment as GhReviewComment

T = TypeVar("T")


class ApiError(Exception):
    def __init__(
        self,
        status: int | None,
        message: str,
        headers: dict[str, str] | None = None,
        data: Any = None,
    ):
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.data = data


class PermissionDenied(ApiError):
    pass


class RateLimitGaveUp(ApiError):
    pass


class Unprocessable(ApiError):  # 422
    pass


@record
class ReviewComment:
    id: int
    body: str
    user: str
    path: str
    line: int | None
    start_line: int | None
    side: str | None
    subject_type: str | None
    in_reply_to_id: int | None
    html_url: str = ""
    review_id: int | None = None  # the review it was posted with (None: a lone comment)


@record
class IssueComment:
    id: int
    body: str
    user: str
    html_url: str = ""


@record
class Review:
    id: int
    state: str
    user: str
    body: str
    html_url: str = ""
    node_id: str = ""  # what GraphQL's minimizeComment takes
    commit_id: str = ""


@record
class PullInfo:
    number: int
    head_sha: str
    base_sha: str
    head_repo: str | None
    base_repo: str
    state: str
    draft: bool
    changed_files: int


@record
class PrFile:
    filename: str
    status: str
    patch: str | None
    previous_filename: str | None


def _lower(headers: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (headers or {}).items()}


def _message(data: Any) -> str:
    if isinstance(data, dict):
        msg = str(data.get("message", ""))
        errs = data.get("errors")
        if errs:
            msg += " " + "; ".join(
                str(e.get("message", e) if isinstance(e, dict) else e) for e in errs
            )
        return msg.strip()
    return str(data or "")


class Policy:
    def __init__(
        self,
        max_wait: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        attempts: int = 3,
        log: Callable[[str], None] | None = None,
    ):
        self.max_wait = max_wait
        self.sleep = sleep
        self.clock = clock
        self.attempts = attempts
        self.log = log or (lambda m: None)

    def rate_limit_wait(self, err: ApiError, attempt: int) -> float | None:
        """Seconds to wait if err is a rate limit, else None."""
        h = err.headers
        msg = err.message.lower()
        limited = err.status == 429 or (
            err.status == 403
            and (
                "retry-after" in h
                or h.get("x-ratelimit-remaining") == "0"
                or "rate limit" in msg
                or msg.endswith("please retry your request again later.")
            )
        )
        if not limited:
            return None
        if "retry-after" in h:
            try:
                return max(0.0, float(h["retry-after"]))
            except ValueError:
                pass
        if h.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in h:
            try:
                return max(0.0, float(h["x-ratelimit-reset"]) - self.clock()) + 1
            except ValueError:
                pass
        return (
            60.0 * 2.0**attempt
        )  # secondary limit without a hint: at least a minute, then back off

    def call(
        self,
        what: str,
        fn: Callable[[], T],
        *,
        write: bool = False,
        verify: Callable[[], T | None] | None = None,
    ) -> T:
        attempt = 0
        resent = False
        while True:
            try:
                return fn()
            except ApiError as err:
                wait = self.rate_limit_wait(err, attempt)
                if wait is not None:
                    if wait > self.max_wait or attempt + 1 >= self.attempts:
                        raise RateLimitGaveUp(
                            err.status, f"{what}: rate limited, would wait {wait:.0f}s", err.headers
                        ) from err
                    self.log(f"{what}: rate limited ({err.status}); waiting {wait:.0f}s")
                    self.sleep(wait)
                    attempt += 1
                    continue
                if err.status is None or err.status >= 500:
                    if write:
                        # it may have landed: look before re-sending, and re-send only once
                        if verify is not None:
                            found = verify()
                            if found is not None:
                                self.log(
                                    f"{what}: {err.status or 'connection error'}, but it was created; not re-sending"
                                )
                                return found
                        if resent:
                            raise
                        resent = True
                        self.log(
                            f"{what}: {err.status or 'connection error'}; not created, re-sending once"
                        )
                        continue
                    if attempt + 1 >= self.attempts:
                        raise
                    attempt += 1
                    self.sleep(min(2.0**attempt, self.max_wait) if self.max_wait else 0)
                    continue
                if err.status == 422:
                    raise Unprocessable(err.status, err.message, err.headers, err.data) from err
                if err.status in (401, 403, 404) and write:
                    raise PermissionDenied(err.status, err.message, err.headers, err.data) from err
                if err.status in (401, 403):
                    raise PermissionDenied(err.status, err.message, err.headers, err.data) from err
                raise


class GitHubClient:
    """A thin, typed facade over PyGithub for one pull request."""

    def __init__(
        self,
        token: str,
        repo: str,
        number: int,
        api_url: str = "https://api.github.com",
        policy: Policy | None = None,
        seconds_between_requests: float = 0.25,
        seconds_between_writes: float = 1.0,
        timeout: float = 30.0,
    ):
        import github  # PyGithub: only ever imported here
        from github import Auth

        self._github_mod = github
        self.policy = policy or Policy()
        self.gh = github.Github(
            auth=Auth.Token(token) if token else None,
            base_url=api_url.rstrip("/"),
            per_page=100,
            retry=None,
            timeout=int(timeout),
            seconds_between_requests=seconds_between_requests or None,
            seconds_between_writes=seconds_between_writes or None,
            lazy=True,
        )
        self.repo_name = repo
        self.number = number
        self._repo = self.gh.get_repo(repo)
        self._pr = self._repo.get_pull(number)  # lazy: no request yet

    # -- plumbing ----------------------------------------------------------------
    def _wrap(self, fn: Callable[[], T]) -> Callable[[], T]:
        gh = self._github_mod
        import requests

        def inner() -> T:
            try:
                return fn()
            except gh.GithubException as exc:
                raise ApiError(
                    exc.status, _message(exc.data), _lower(exc.headers), exc.data
                ) from exc
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise ApiError(None, f"connection error: {exc}") from exc

        return inner

    def read(self, what: str, fn: Callable[[], T]) -> T:
        return self.policy.call(what, self._wrap(fn))

    def write(
        self, what: str, fn: Callable[[], T], verify: Callable[[], T | None] | None = None
    ) -> T:
        return self.policy.call(what, self._wrap(fn), write=True, verify=verify)

    # -- reads --------------------------------------------------------------------
    def get_pull(self) -> PullInfo:
        def fn() -> PullInfo:
            pr = self._repo.get_pull(self.number)
            pr.complete()  # GET pulls/get (the object is lazy until now)
            self._pr = pr
            raw = self._raw(pr)
            head, base = raw["head"], raw["base"]
            return PullInfo(
                number=int(raw["number"]),
                head_sha=head["sha"],
                base_sha=base["sha"],
                head_repo=(head.get("repo") or {}).get("full_name"),
                base_repo=(base.get("repo") or {}).get("full_name", self.repo_name),
                state=raw.get("state", "open"),
                draft=bool(raw.get("draft", False)),
                changed_files=int(raw.get("changed_files") or 0),
            )

        return self.read("pulls/get", fn)

    def _raw(self, obj: Any) -> dict[str, Any]:
        """An object's JSON as listed, without PyGithub completing it with a GET
        (list items are 'incomplete' to PyGithub; completing them would call
        single-object endpoints the bot has no business with)."""
        raw: dict[str, Any] = self._github_mod.GithubObject.GithubObject.raw_data.fget(obj)  # type: ignore[attr-defined]
        return raw

    @staticmethod
    def _login(raw: dict[str, Any]) -> str:
        return str((raw.get("user") or {}).get("login", ""))

    def authenticated_login(self) -> str | None:
        """The token's login from GET /user; None when GitHub will not say (GITHUB_TOKEN
        and App installation tokens get a 403) or the request fails."""

        def fn() -> str:
            return str(self.gh.get_user().login)

        try:
            return self.read("users/get-authenticated", fn) or None
        except ApiError:
            return None

    def list_files(self) -> list[PrFile]:
        def fn() -> list[PrFile]:
            out = []
            for f in self._pr.get_files():
                raw = self._raw(f)
                out.append(
                    PrFile(
                        raw["filename"],
                        raw.get("status", "modified"),
                        raw.get("patch"),
                        raw.get("previous_filename"),
                    )
                )
            return out

        return self.read("pulls/list-files", fn)

    def get_tree(self, sha: str) -> dict[str, Any]:
        """git/get-tree of a commit, recursive: every path of the head, as GitHub lists it
        (``truncated`` when the listing passed GitHub's own cap)."""

        def fn() -> dict[str, Any]:
            _, data = self.gh.requester.requestJsonAndCheck(
                "GET", f"{self._repo.url}/git/trees/{sha}", parameters={"recursive": "1"}
            )
            return dict(data or {})

        return self.read("git/get-tree", fn)

    def get_blob(self, sha: str) -> dict[str, Any]:
        """git/get-blob: a blob's bytes as base64 (for what GraphQL's ``text`` cannot give)."""

        def fn() -> dict[str, Any]:
            _, data = self.gh.requester.requestJsonAndCheck(
                "GET", f"{self._repo.url}/git/blobs/{sha}"
            )
            return dict(data or {})

        return self.read("git/get-blob", fn)

    def _review_comment(self, raw: dict[str, Any]) -> ReviewComment:
        return ReviewComment(
            id=int(raw["id"]),
            body=raw.get("body") or "",
            user=self._login(raw),
            path=raw.get("path", ""),
            line=raw.get("line"),
            start_line=raw.get("start_line"),
            side=raw.get("side"),
            subject_type=raw.get("subject_type"),
            in_reply_to_id=raw.get("in_reply_to_id"),
            html_url=raw.get("html_url", ""),
            review_id=raw.get("pull_request_review_id"),
        )

    def list_review_comments(self) -> list[ReviewComment]:
        def fn() -> list[ReviewComment]:
            return [self._review_comment(self._raw(c)) for c in self._pr.get_review_comments()]

        return self.read("pulls/list-review-comments", fn)

    def _issue_comment(self, raw: dict[str, Any]) -> IssueComment:
        return IssueComment(
            int(raw["id"]), raw.get("body") or "", self._login(raw), raw.get("html_url", "")
        )

    def list_issue_comments(self) -> list[IssueComment]:
        def fn() -> list[IssueComment]:
            return [self._issue_comment(self._raw(c)) for c in self._pr.get_issue_comments()]

        return self.read("issues/list-comments", fn)

    def _review(self, raw: dict[str, Any]) -> Review:
        return Review(
            int(raw["id"]),
            str(raw.get("state", "")),
            self._login(raw),
            raw.get("body") or "",
            raw.get("html_url", ""),
            str(raw.get("node_id") or ""),
            str(raw.get("commit_id") or ""),
        )

    def list_reviews(self) -> list[Review]:
        def fn() -> list[Review]:
            return [self._review(self._raw(r)) for r in self._pr.get_reviews()]

        return self.read("pulls/list-reviews", fn)

    # -- writes -------------------------------------------------------------------
    def create_review(
        self,
        commit_sha: str,
        body: str,
        event: str,
        comments: list[dict[str, Any]],
        verify: Callable[[], Review | None],
    ) -> Review:
        if event not in ("COMMENT", "REQUEST_CHANGES"):
            raise ValueError(f"refusing review event {event!r}")  # never APPROVE
        commit = self._github_mod.Commit.Commit(
            self.gh.requester,
            {},
            {"sha": commit_sha, "url": f"{self._repo.url}/commits/{commit_sha}"},
            completed=True,
        )

        def fn() -> Review:
            items = cast("list[GhReviewComment]", comments)  # the keys pulls/create-review takes
            r = self._pr.create_review(commit=commit, body=body, event=event, comments=items)
            return self._review(self._raw(r))

        return self.write("pulls/create-review", fn, verify)

    def submit_review(self, review_id: int, event: str, body: str) -> None:
        if event not in ("COMMENT", "REQUEST_CHANGES"):
            raise ValueError(f"refusing review event {event!r}")

        def fn() -> None:
            self.gh.requester.requestJsonAndCheck(
                "POST",
                f"{self._pr.url}/reviews/{review_id}/events",
                input={"event": event, "body": body},
            )

        self.write("pulls/submit-review", fn)

    def update_review(self, review_id: int, body: str) -> None:
        def fn() -> None:
            self.gh.requester.requestJsonAndCheck(
                "PUT", f"{self._pr.url}/reviews/{review_id}", input={"body": body}
            )

        self.write("pulls/update-review", fn)

    def dismiss_review(self, review_id: int, message: str) -> None:
        def fn() -> None:
            self.gh.requester.requestJsonAndCheck(
                "PUT", f"{self._pr.url}/reviews/{review_id}/dismissals", input={"message": message}
            )

        self.write("pulls/dismiss-review", fn)

    def create_file_comment(
        self, commit_sha: str, path: str, body: str, verify: Callable[[], ReviewComment | None]
    ) -> ReviewComment:
        def fn() -> ReviewComment:
            c = self._pr.create_review_comment(
                body=body, commit=commit_sha, path=path, subject_type="file"
            )
            return self._review_comment(self._raw(c))

        return self.write("pulls/create-review-comment", fn, verify)

    def edit_review_comment(self, comment_id: int, body: str) -> None:
        def fn() -> None:
            self.gh.requester.requestJsonAndCheck(
                "PATCH", f"{self._repo.url}/pulls/comments/{comment_id}", input={"body": body}
            )

        self.write("pulls/update-review-comment", fn)

    def delete_review_comment(self, comment_id: int) -> None:
        def fn() -> None:
            self.gh.requester.requestJsonAndCheck(
                "DELETE", f"{self._repo.url}/pulls/comments/{comment_id}"
            )

        self.write("pulls/delete-review-comment", fn)

    def create_issue_comment(
        self, body: str, verify: Callable[[], IssueComment | None]
    ) -> IssueComment:
        def fn() -> IssueComment:
            c = self._pr.create_issue_comment(body)
            return self._issue_comment(self._raw(c))

        return self.write("issues/create-comment", fn, verify)

    def edit_issue_comment(self, comment_id: int, body: str) -> None:
        def fn() -> None:
            self.gh.requester.requestJsonAndCheck(
                "PATCH", f"{self._repo.url}/issues/comments/{comment_id}", input={"body": body}
            )

        self.write("issues/update-comment", fn)

    # -- GraphQL (review threads; REST cannot resolve a thread or minimise a comment) ----
    def graphql(self, what: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """``data`` of one GraphQL request, under the same retry and rate-limit policy as
        REST. GitHub answers most refusals with HTTP 200 and an ``errors`` list: FORBIDDEN
        (the token lacks a permission) becomes :class:`PermissionDenied`, RATE_LIMITED a
        403 rate limit the policy waits for, anything else :class:`ApiError`."""

        def fn() -> dict[str, Any]:
            try:
                _, data = self.gh.requester.graphql_query(query, variables)
            except self._github_mod.GithubException as exc:
                raise _graphql_error(exc.status, exc.data, _lower(exc.headers)) from exc
            return dict(data.get("data") or {})

        return self.policy.call(what, self._wrap(fn), write=what.startswith("mutation"))


def _graphql_error(status: int, data: Any, headers: dict[str, str]) -> ApiError:
    errors = data.get("errors") if isinstance(data, dict) else None
    if not errors or not isinstance(errors, list):
        return ApiError(status, _message(data), headers, data)
    first = errors[0] if isinstance(errors[0], dict) else {}
    kind = str(first.get("type", ""))
    message = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict))
    if kind == "FORBIDDEN":
        return PermissionDenied(403, message, headers, data)
    if kind == "RATE_LIMITED":
        return ApiError(403, f"rate limit: {message}", headers, data)
    if kind == "NOT_FOUND":
        return ApiError(404, message, headers, data)
    return ApiError(400, message, headers, data)
