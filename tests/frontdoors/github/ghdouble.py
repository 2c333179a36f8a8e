"""A stateful GitHub REST API double for the review bot's tests.

A real threaded HTTP server on 127.0.0.1, driven by the real PyGithub client via
``base_url``. Every request is validated against GitHub's official OpenAPI
description (the vendored ``rest-subset.json``): method + path must be an
operation of the subset, and path/query parameters and the JSON body must match
its schemas. Responses are validated too, so the double cannot drift from the
real API's shapes. On top of that come the rules the spec cannot express
(``semantic``): strict keys in review comments, lines inside a diff hunk on the
right side, ``start_line < line`` in one hunk, one pending review per user, no
APPROVE from Actions, body size limits, and the all-or-nothing 422 on reviews.

Spec violations are bugs in the client: they are recorded in ``spec_errors``
(tests assert it stays empty) and answered with 400. Semantic violations are
answered like GitHub does (422) and recorded in ``rejections``.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import re
import subprocess
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from ghgraphql import PATHS as GRAPHQL_PATHS
from ghgraphql import GraphQLEndpoint, load_schema
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

SPEC_PATH = Path(__file__).with_name("openapi") / "rest-subset.json"
BODY_LIMIT = 65_536
API_PREFIX = "/api/v3"
# GraphQL's Blob.text is cut for a large blob (isTruncated): the bot then reads the REST blob
BLOB_TEXT_LIMIT = 512 * 1024

_SPEC_CACHE: dict[str, Any] = {}


def load_spec() -> dict[str, Any]:
    if "spec" not in _SPEC_CACHE:
        _SPEC_CACHE["spec"] = json.loads(SPEC_PATH.read_text())
    return _SPEC_CACHE["spec"]


def openapi_for(base_url: str) -> OpenAPI:
    key = "api"
    if key not in _SPEC_CACHE:
        spec = copy.deepcopy(load_spec())
        spec["servers"] = [{"url": "http://double.invalid" + API_PREFIX}]
        _SPEC_CACHE[key] = OpenAPI.from_dict(spec)
    return _SPEC_CACHE[key]


# ---------------------------------------------------------------------------------------------
# schema-driven example objects: the minimal valid response, overlaid with the double's state
# ---------------------------------------------------------------------------------------------


def example(schema: dict[str, Any], depth: int = 0) -> Any:
    if "allOf" in schema:
        out: dict[str, Any] = {}
        for s in schema["allOf"]:
            v = example(s, depth)
            if isinstance(v, dict):
                out.update(v)
        return out
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return example(schema[key][0], depth)
    if schema.get("nullable") and depth > 0:
        return None
    if "enum" in schema:
        return schema["enum"][0]
    t = schema.get("type")
    if t == "object" or "properties" in schema:
        return {
            k: example(schema["properties"][k], depth + 1)
            for k in schema.get("required", [])
            if k in schema.get("properties", {})
        }
    if t == "array":
        return []
    if t == "integer":
        return 1
    if t == "number":
        return 1.0
    if t == "boolean":
        return False
    fmt = schema.get("format")
    if fmt == "date-time":
        return "2024-01-01T00:00:00Z"
    if fmt == "uri":
        return "https://example.invalid/x"
    return "x"


def overlay(base: Any, top: Any) -> Any:
    if isinstance(base, dict) and isinstance(top, dict):
        out = dict(base)
        for k, v in top.items():
            out[k] = overlay(base.get(k), v) if k in base else v
        return out
    return top


def _response_schema(op: dict[str, Any], status: int) -> dict[str, Any] | None:
    r = op["responses"].get(str(status))
    if not r or "content" not in r:
        return None
    return r["content"]["application/json"]["schema"]


# ---------------------------------------------------------------------------------------------
# diff bookkeeping (independent of the code under test)
# ---------------------------------------------------------------------------------------------

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def right_lines(patch: str | None) -> dict[int, tuple[int, str]]:
    """RIGHT-side line -> (hunk index, text) for added and context lines."""
    out: dict[int, tuple[int, str]] = {}
    if not patch:
        return out
    hunk, new, o_left, n_left = -1, 0, 0, 0
    for raw in patch.split("\n"):
        m = _HUNK.match(raw)
        if m:
            hunk += 1
            new = int(m.group(3))
            o_left = int(m.group(2) or 1)
            n_left = int(m.group(4) or 1)
            continue
        if (o_left <= 0 and n_left <= 0) or raw.startswith("\\"):
            continue
        if raw.startswith("+"):
            out[new] = (hunk, raw[1:])
            new += 1
            n_left -= 1
        elif raw.startswith("-"):
            o_left -= 1
        else:
            out[new] = (hunk, raw[1:])
            new += 1
            o_left -= 1
            n_left -= 1
    return out


@dataclass
class PrFile:
    filename: str
    patch: str | None
    status: str = "modified"
    previous_filename: str | None = None
    truth: str | None = None  # the hunks GitHub really validates against, if not the patch

    def validation_patch(self) -> str | None:
        return self.truth if self.truth is not None else self.patch


@dataclass
class PullRequest:
    number: int
    head_sha: str
    base_sha: str
    files: list[PrFile]
    head_repo: str | None = None
    author: str = "alice"
    state: str = "open"
    draft: bool = False
    shas: list[str] = field(default_factory=list)
    stale_files_once: list[PrFile] | None = None  # served once by list-files (a lagging replica)


@dataclass
class Injection:
    op: str  # operationId
    status: int
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    after: bool = False  # perform the operation, then answer with the error


_CUT = "X-Double-Cut-Body"  # internal: the handler sends only half of this response


class GitHubDouble:
    def __init__(self, owner: str = "octo", repo: str = "app", validate_responses: bool = True):
        self.owner, self.repo = owner, repo
        self.full_name = f"{owner}/{repo}"
        self.validate_responses = validate_responses
        # "app": an installation token (GITHUB_TOKEN or a GitHub App's), which GET /user
        # refuses; the others are personal access tokens
        self.tokens: dict[str, dict[str, Any]] = {
            "bot-token": {"login": "github-actions[bot]", "write": True, "app": True},
            # GITHUB_TOKEN with pull-requests: write but contents: read (resolveReviewThread
            # is gated on contents: write)
            "pr-write-token": {
                "login": "github-actions[bot]",
                "write": True,
                "contents": False,
                "app": True,
            },
            "ro-token": {"login": "github-actions[bot]", "write": False, "app": True},
            "alice-token": {"login": "alice", "write": True},
            "pat-token": {"login": "octo-bot", "write": True},
            "app-token": {"login": "allocpolicy-app[bot]", "write": True, "app": True},
        }
        self.pulls: dict[int, PullRequest] = {}
        self.reviews: list[dict[str, Any]] = []
        self.review_comments: list[dict[str, Any]] = []
        self.issue_comments: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.spec_errors: list[str] = []
        self.rejections: list[str] = []
        self.injections: list[Injection] = []
        self.cut_body: dict[str, int] = {}  # operationId -> how many responses to cut mid-body
        self.reject_lines: set[tuple[str, int]] = set()
        self._ids = itertools.count(1000)
        self._lock = threading.RLock()
        self.server: ThreadingHTTPServer | None = None
        self.base_url = ""
        self.spec = load_spec()
        self._ops = self._index_ops()
        self.graphql = GraphQLEndpoint(self)
        # The repository's objects (git/get-tree, git/get-blob, GraphQL Repository.object),
        # served from a real git repository a test made with git
        self.git_root: Path | None = None
        self.tree_truncated = False  # GitHub's cap on a recursive listing was reached
        self.blob_text_limit = BLOB_TEXT_LIMIT

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> GitHubDouble:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:  # quiet
                pass

            def _go(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, headers, body = double.handle(
                    self.command, self.path, dict(self.headers), raw
                )
                data = b"" if body is None else json.dumps(body).encode()
                cut = headers.pop(_CUT, None) is not None
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if body is not None:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if cut:  # the declared length, half the body, then the connection is gone
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _go

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}{API_PREFIX}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        openapi_for(self.base_url)
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    # -- test set-up helpers ------------------------------------------------------------------
    def add_pull(
        self, number: int, head_sha: str, base_sha: str, files: list[PrFile], **kw: Any
    ) -> PullRequest:
        pr = PullRequest(number, head_sha, base_sha, files, **kw)
        pr.shas = [head_sha]
        self.pulls[number] = pr
        return pr

    def push(self, number: int, head_sha: str, files: list[PrFile]) -> None:
        """A new head: comments move with their line's text or become outdated (line gone)."""
        with self._lock:
            pr = self.pulls[number]
            old = {f.filename: right_lines(f.validation_patch()) for f in pr.files}
            new = {f.filename: right_lines(f.validation_patch()) for f in files}
            for c in self.review_comments:
                if (
                    c.get("subject_type") == "file"
                    or c.get("in_reply_to_id")
                    or c.get("line") is None
                ):
                    continue
                text = old.get(c["path"], {}).get(c["line"], (None, None))[1]
                cands = [n for n, (_, t) in new.get(c["path"], {}).items() if t == text]
                if text is None or not cands:
                    for k in ("line", "start_line", "position", "side", "start_side"):
                        c.pop(k, None)
                    continue
                best = min(cands, key=lambda n: abs(n - c["line"]))
                delta = best - c["line"]
                c["line"] = best
                if c.get("start_line"):
                    c["start_line"] += delta
                c["commit_id"] = head_sha
            pr.files = files
            pr.head_sha = head_sha
            pr.shas.append(head_sha)

    def inject(
        self,
        op: str,
        status: int,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        after: bool = False,
    ) -> None:
        self.injections.append(Injection(op, status, times, headers or {}, body, after))

    def add_reply(self, comment_id: int, login: str, body: str) -> dict[str, Any]:
        with self._lock:
            parent = next(c for c in self.review_comments if c["id"] == comment_id)
            c = self._new_review_comment(
                parent["_pr"],
                login,
                body,
                parent["path"],
                parent.get("line"),
                None,
                parent["commit_id"],
                review_id=None,
            )
            c["in_reply_to_id"] = comment_id
            return c

    def add_issue_comment(self, number: int, login: str, body: str) -> dict[str, Any]:
        with self._lock:
            return self._new_issue_comment(number, login, body)

    def add_review_comment(
        self, number: int, login: str, body: str, path: str, line: int
    ) -> dict[str, Any]:
        with self._lock:
            return self._new_review_comment(
                number, login, body, path, line, None, self.pulls[number].head_sha, None
            )

    def race_review(self, review_id: int, attempt: str = "0123456789abcdef") -> dict[str, Any]:
        """What a concurrent run on the same head leaves: its own submitted review (same
        event, its own attempt id in the marker) with a copy of each of the review's
        comments at the same anchors."""
        with self._lock:
            r = next(r for r in self.reviews if r["id"] == review_id)
            body = re.sub(r"attempt=[0-9a-f]+", f"attempt={attempt}", r["body"])
            copy = self._new_review(r["_pr"], r["user"]["login"], body, r["state"], r["commit_id"])
            for c in [
                c for c in self.review_comments if c.get("pull_request_review_id") == review_id
            ]:
                self._new_review_comment(
                    c["_pr"],
                    c["user"]["login"],
                    c["body"],
                    c["path"],
                    c.get("line"),
                    c.get("start_line"),
                    c["commit_id"],
                    copy["id"],
                    c.get("subject_type", "line"),
                )
            return copy

    def add_pending_review(self, number: int, login: str, body: str = "") -> dict[str, Any]:
        with self._lock:
            return self._new_review(number, login, body, "PENDING", self.pulls[number].head_sha)

    # -- git objects (from the real repository at git_root) ----------------------------------------
    def git_object(self, sha: str) -> tuple[str, bytes] | None:
        """(type, content) of an object of the repository, or None."""
        if self.git_root is None or not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", sha):
            return None
        kind = self._git("cat-file", "-t", sha)
        if kind is None:
            return None
        t = kind.decode().strip()
        content = self._git("cat-file", t, sha)
        return None if content is None else (t, content)

    def _git(self, *args: str) -> bytes | None:
        proc = subprocess.run(
            ["git", "-C", str(self.git_root), *args], capture_output=True, timeout=60, check=False
        )
        return proc.stdout if proc.returncode == 0 else None

    def _get_tree(self, sha: str, query: dict[str, list[str]]) -> tuple[int, dict[str, str], Any]:
        tree = (
            self._git("rev-parse", "--verify", "-q", f"{sha}^{{tree}}") if self.git_root else None
        )
        if tree is None:
            return 404, {}, {"message": "Not Found"}
        recursive = "recursive" in query
        raw = self._git("ls-tree", "-z", "-l", *(["-r", "-t"] if recursive else []), sha) or b""
        entries = []
        for rec in raw.split(b"\0"):
            if not rec:
                continue
            head, _, path = rec.partition(b"\t")
            mode, kind, obj, size = head.decode().split()
            item: dict[str, Any] = {
                "path": path.decode("utf-8", "surrogateescape"),
                "mode": mode,
                "type": kind,
                "sha": obj,
                "url": f"{self._repo_url()}/git/{kind}s/{obj}",
            }
            if kind == "blob":
                item["size"] = int(size)
            entries.append(item)
        tree_sha = tree.decode().strip()
        return (
            200,
            {},
            {
                "sha": tree_sha,
                "url": f"{self._repo_url()}/git/trees/{tree_sha}",
                "tree": entries,
                "truncated": self.tree_truncated,
            },
        )

    def _get_blob(self, sha: str) -> tuple[int, dict[str, str], Any]:
        found = self.git_object(sha)
        if found is None or found[0] != "blob":
            return 404, {}, {"message": "Not Found"}
        data = found[1]
        encoded = base64.b64encode(data).decode()
        content = "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60))
        return (
            200,
            {},
            {
                "sha": sha,
                "node_id": f"B_{sha[:12]}",
                "url": f"{self._repo_url()}/git/blobs/{sha}",
                "size": len(data),
                "content": content + "\n",
                "encoding": "base64",
            },
        )

    # -- queries for assertions -------------------------------------------------------------------
    def calls(self, op: str | None = None, method: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in self.requests
            if (op is None or r["op"] == op) and (method is None or r["method"] == method)
        ]

    def writes(self) -> list[dict[str, Any]]:
        """REST writes and GraphQL mutations (a GraphQL query is a POST that writes nothing)."""
        return [r for r in self.requests if r["method"] != "GET" and r["op"] != "graphql/query"]

    def graphql_calls(self, kind: str | None = None) -> list[dict[str, Any]]:
        """GraphQL requests; kind "query" or "mutation"."""
        return [
            r
            for r in self.requests
            if str(r["op"]).startswith("graphql") and (kind is None or r["op"] == f"graphql/{kind}")
        ]

    def graphql_schema(self) -> Any:
        return load_schema()

    def thread_of(self, comment_id: int) -> dict[str, Any]:
        """The review thread a comment starts, as GraphQL shows it."""
        root = next(c for c in self.review_comments if c["id"] == comment_id)
        return {"id": f"PRRT_{root['id']}", "isResolved": bool(root.get("_resolved"))}

    def comments_by(self, login: str, number: int | None = None) -> list[dict[str, Any]]:
        return [
            c
            for c in self.review_comments
            if c["user"]["login"] == login and (number is None or c["_pr"] == number)
        ]

    # -- dispatch --------------------------------------------------------------------------------
    def _index_ops(self) -> list[tuple[str, re.Pattern[str], str, dict[str, Any]]]:
        ops = []
        for path, item in self.spec["paths"].items():
            rx = re.compile("^" + re.sub(r"\{[^}]+\}", r"([^/]+)", path) + "$")
            for method, op in item.items():
                if isinstance(op, dict) and "operationId" in op:
                    ops.append((method.upper(), rx, path, op))
        return ops

    def _find_op(self, method: str, path: str) -> tuple[str, dict[str, Any], list[str]] | None:
        for m, rx, tmpl, op in self._ops:
            if m != method:
                continue
            mt = rx.match(path)
            if mt:
                return tmpl, op, list(mt.groups())
        return None

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], Any]:
        url = urllib.parse.urlsplit(raw_path)
        path = url.path
        query = urllib.parse.parse_qs(url.query)
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                self.spec_errors.append(f"{method} {path}: body is not JSON")
                return 400, {}, {"message": "Problems parsing JSON"}
        rec = {
            "method": method,
            "path": path,
            "query": query,
            "body": body,
            "op": None,
            "status": None,
        }
        with self._lock:
            self.requests.append(rec)
            if path in GRAPHQL_PATHS and method == "POST":
                rec["op"] = "graphql"
                auth = headers.get("Authorization") or headers.get("authorization") or ""
                viewer = self.tokens.get(auth.split()[-1] if auth else "")
                if viewer is None:
                    return self._finish(rec, 401, {}, {"message": "Bad credentials"})
                return self._finish(rec, *self.graphql.handle(rec, body, viewer))
            if not path.startswith(API_PREFIX):
                self.spec_errors.append(f"{method} {path}: not under the API base URL")
                return self._finish(rec, 404, {}, {"message": "Not Found"})
            api_path = path[len(API_PREFIX) :]
            found = self._find_op(method, api_path)
            if found is None:
                self.spec_errors.append(
                    f"{method} {api_path}: no such operation in the OpenAPI subset"
                )
                return self._finish(rec, 404, {}, {"message": "Not Found"})
            tmpl, op, params = found
            rec["op"] = op["operationId"]
            err = self._validate_request(method, raw_path, headers, raw)
            if err:
                self.spec_errors.append(f"{rec['op']}: {err}")
                return self._finish(rec, 400, {}, {"message": f"spec violation: {err}"})
            auth = headers.get("Authorization") or headers.get("authorization") or ""
            user = self.tokens.get(auth.split()[-1] if auth else "")
            if user is None:
                return self._finish(rec, 401, {}, {"message": "Bad credentials"})
            if rec["op"] == "users/get-authenticated":
                return self._finish(rec, *self._authenticated_user(user), op=op)
            if params[:2] != [self.owner, self.repo]:
                return self._finish(rec, 404, {}, {"message": "Not Found"})
            inj = next((i for i in self.injections if i.op == rec["op"] and i.times > 0), None)
            if inj is not None:
                inj.times -= 1
                if inj.after:
                    self._dispatch(rec["op"], params[2:], query, body, user, tmpl)
                return self._finish(
                    rec,
                    inj.status,
                    inj.headers,
                    inj.body or {"message": "injected failure"},
                    validate=False,
                )
            if method != "GET" and not user["write"]:
                return self._finish(
                    rec,
                    403,
                    {},
                    {
                        "message": "Resource not accessible by integration",
                        "documentation_url": "https://docs.github.com/rest",
                    },
                )
            status, hdrs, out = self._dispatch(rec["op"], params[2:], query, body, user, tmpl)
            status, hdrs, out = self._finish(rec, status, hdrs, out, op=op)
            if self.cut_body.get(rec["op"], 0) > 0:
                self.cut_body[rec["op"]] -= 1
                hdrs = {**hdrs, _CUT: "1"}
            return status, hdrs, out

    def _finish(
        self,
        rec: dict[str, Any],
        status: int,
        headers: dict[str, str],
        body: Any,
        op: dict[str, Any] | None = None,
        validate: bool = True,
    ) -> tuple[int, dict[str, str], Any]:
        rec["status"] = status
        if (
            op is not None
            and validate
            and self.validate_responses
            and status < 300
            and body is not None
        ):
            err = self._validate_response(rec, status, body)
            if err:
                raise AssertionError(
                    f"the double's own {rec['op']} response breaks the spec: {err}"
                )
        return status, headers, body

    def _validate_request(
        self, method: str, raw_path: str, headers: dict[str, str], raw: bytes
    ) -> str | None:
        api = openapi_for(self.base_url)
        url = "http://double.invalid" + raw_path
        req = requests.Request(
            method,
            url,
            data=raw or None,
            headers={"Content-Type": "application/json"} if raw else {},
        ).prepare()
        try:
            api.validate_request(RequestsOpenAPIRequest(req))
        except Exception as exc:
            cause = exc.__cause__
            return f"{type(exc).__name__}: {exc}" + (f" ({cause})" if cause else "")
        return None

    def _validate_response(self, rec: dict[str, Any], status: int, body: Any) -> str | None:
        api = openapi_for(self.base_url)
        raw_path = rec["path"] + (
            "?" + urllib.parse.urlencode(rec["query"], doseq=True) if rec["query"] else ""
        )
        raw = json.dumps(rec["body"]).encode() if rec["body"] is not None else None
        req = requests.Request(
            rec["method"],
            "http://double.invalid" + raw_path,
            data=raw,
            headers={"Content-Type": "application/json"} if raw else {},
        ).prepare()
        resp = requests.Response()
        resp.status_code = status
        resp._content = json.dumps(body).encode()
        resp.headers["Content-Type"] = "application/json"
        try:
            api.validate_response(RequestsOpenAPIRequest(req), RequestsOpenAPIResponse(resp))
        except Exception as exc:
            return f"{type(exc).__name__}: {exc} ({exc.__cause__})"
        return None

    # -- object factories -----------------------------------------------------------------------
    def _schema(self, op_id: str, status: int) -> dict[str, Any]:
        for _m, _rx, _t, op in self._ops:
            if op["operationId"] == op_id:
                s = _response_schema(op, status)
                assert s is not None
                return s["items"] if s.get("type") == "array" else s
        raise KeyError(op_id)

    def _authenticated_user(self, user: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        if user.get("app"):
            return 403, {}, {"message": "Resource not accessible by integration"}
        u = example(self._schema("users/get-authenticated", 200))
        return 200, {}, overlay(u, self._user(user["login"]))

    def _user(self, login: str) -> dict[str, Any]:
        u = example(self._schema("pulls/get", 200)["properties"]["user"])
        kind = "Bot" if login.endswith("[bot]") else "User"
        return overlay(u, {"login": login, "id": abs(hash(login)) % 10**6, "type": kind})

    def _repo_url(self) -> str:
        return f"{self.base_url}/repos/{self.full_name}"

    def _pull_json(self, pr: PullRequest) -> dict[str, Any]:
        schema = self._schema("pulls/get", 200)
        base = example(schema)
        repo_base = example(schema["properties"]["base"]["properties"]["repo"])
        url = f"{self._repo_url()}/pulls/{pr.number}"

        def branch(sha: str, full: str) -> dict[str, Any]:
            owner, name = full.split("/")
            return {
                "label": f"{owner}:b",
                "ref": "b",
                "sha": sha,
                "user": self._user(owner),
                "repo": overlay(
                    repo_base,
                    {
                        "full_name": full,
                        "name": name,
                        "owner": self._user(owner),
                        "url": f"{self.base_url}/repos/{full}",
                        "fork": full != self.full_name,
                    },
                ),
            }

        return overlay(
            base,
            {
                "url": url,
                "number": pr.number,
                "state": pr.state,
                "draft": pr.draft,
                "title": "PR",
                "issue_url": f"{self._repo_url()}/issues/{pr.number}",
                "html_url": f"https://github.invalid/{self.full_name}/pull/{pr.number}",
                "user": self._user(pr.author),
                "head": branch(pr.head_sha, pr.head_repo or self.full_name),
                "base": branch(pr.base_sha, self.full_name),
                "changed_files": len(pr.files),
                "commits": len(pr.shas),
            },
        )

    def _new_review(
        self, number: int, login: str, body: str, state: str, commit_id: str
    ) -> dict[str, Any]:
        rid = next(self._ids)
        r = overlay(
            example(self._schema("pulls/create-review", 200)),
            {
                "id": rid,
                "node_id": f"PRR_{rid}",
                "user": self._user(login),
                "body": body,
                "state": state,
                "commit_id": commit_id,
                "html_url": f"https://github.invalid/{self.full_name}/pull/{number}#pullrequestreview-{rid}",
                "pull_request_url": f"{self._repo_url()}/pulls/{number}",
            },
        )
        r["_pr"] = number
        self.reviews.append(r)
        return r

    def _new_review_comment(
        self,
        number: int,
        login: str,
        body: str,
        path: str,
        line: int | None,
        start_line: int | None,
        commit_id: str,
        review_id: int | None,
        subject_type: str = "line",
    ) -> dict[str, Any]:
        cid = next(self._ids)
        c = overlay(
            example(self._schema("pulls/create-review-comment", 201)),
            {
                "id": cid,
                "node_id": f"PRRC_{cid}",
                "url": f"{self._repo_url()}/pulls/comments/{cid}",
                "pull_request_review_id": review_id,
                "diff_hunk": "@@",
                "path": path,
                "commit_id": commit_id,
                "original_commit_id": commit_id,
                "user": self._user(login),
                "body": body,
                "html_url": f"https://github.invalid/{self.full_name}/pull/{number}#discussion_r{cid}",
                "pull_request_url": f"{self._repo_url()}/pulls/{number}",
                "subject_type": subject_type,
            },
        )
        if line is not None:
            c.update(line=line, original_line=line, side="RIGHT")
            if start_line is not None:
                c.update(start_line=start_line, original_start_line=start_line, start_side="RIGHT")
        c["_pr"] = number
        self.review_comments.append(c)
        return c

    def _new_issue_comment(self, number: int, login: str, body: str) -> dict[str, Any]:
        cid = next(self._ids)
        c = overlay(
            example(self._schema("issues/create-comment", 201)),
            {
                "id": cid,
                "node_id": f"IC_{cid}",
                "url": f"{self._repo_url()}/issues/comments/{cid}",
                "html_url": f"https://github.invalid/{self.full_name}/pull/{number}#issuecomment-{cid}",
                "issue_url": f"{self._repo_url()}/issues/{number}",
                "user": self._user(login),
                "body": body,
            },
        )
        c["_pr"] = number
        self.issue_comments.append(c)
        return c

    # -- operations -------------------------------------------------------------------------------
    def _page(
        self, items: list[Any], query: dict[str, list[str]], path: str
    ) -> tuple[int, dict[str, str], Any]:
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []

        def link(p: int, rel: str) -> str:
            q = {k: v[0] for k, v in query.items()}
            q.update(page=str(p), per_page=str(per_page))
            return f'<{self.base_url}{path}?{urllib.parse.urlencode(q)}>; rel="{rel}"'

        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        hdrs = {"Link": ", ".join(links)} if links else {}
        return 200, hdrs, [_public(x) for x in chunk]

    def _dispatch(
        self,
        op: str,
        ids: list[str],
        query: dict[str, list[str]],
        body: Any,
        user: dict[str, Any],
        tmpl: str,
    ) -> tuple[int, dict[str, str], Any]:
        login = user["login"]
        rel_path = tmpl.replace("{owner}", self.owner).replace("{repo}", self.repo)
        if "{pull_number}" in tmpl or "{issue_number}" in tmpl:
            number = int(ids[0])
            rel_path = re.sub(r"\{(pull|issue)_number\}", str(number), rel_path)
            pr = self.pulls.get(number)
            if pr is None:
                return 404, {}, {"message": "Not Found"}
        if op == "git/get-tree":
            return self._get_tree(ids[0], query)
        if op == "git/get-blob":
            return self._get_blob(ids[0])
        if op == "pulls/get":
            return 200, {}, self._pull_json(pr)
        if op == "pulls/list-files":
            files = pr.files
            if pr.stale_files_once is not None:
                files, pr.stale_files_once = pr.stale_files_once, None
            items = []
            for f in files[:3000]:
                item = overlay(
                    example(self._schema("pulls/list-files", 200)),
                    {
                        "filename": f.filename,
                        "status": f.status,
                        "sha": "0" * 40,
                        "additions": 1,
                        "deletions": 0,
                        "changes": 1,
                    },
                )
                if f.patch is not None:
                    item["patch"] = f.patch
                if f.previous_filename:
                    item["previous_filename"] = f.previous_filename
                items.append(item)
            return self._page(items, query, rel_path)
        if op == "pulls/list-review-comments":
            visible = [
                c
                for c in self.review_comments
                if c["_pr"] == number and not self._in_pending_of_other(c, login)
            ]
            return self._page(visible, query, rel_path)
        if op == "issues/list-comments":
            return self._page(
                [c for c in self.issue_comments if c["_pr"] == number], query, rel_path
            )
        if op == "pulls/list-reviews":
            visible = [
                r
                for r in self.reviews
                if r["_pr"] == number and (r["state"] != "PENDING" or r["user"]["login"] == login)
            ]
            return self._page(visible, query, rel_path)
        if op == "pulls/create-review":
            return self._create_review(pr, body, login)
        if op == "pulls/submit-review":
            r = self._review(int(ids[1]), number)
            if r is None or r["user"]["login"] != login:
                return 404, {}, {"message": "Not Found"}
            if r["state"] != "PENDING":
                return self._reject(422, "Can not submit a non-pending review")
            if body["event"] == "APPROVE":
                return self._reject(
                    422, "GitHub Actions is not permitted to approve pull requests."
                )
            r["state"] = {"COMMENT": "COMMENTED", "REQUEST_CHANGES": "CHANGES_REQUESTED"}[
                body["event"]
            ]
            if "body" in body:
                r["body"] = body["body"]
            return 200, {}, _public(r)
        if op == "pulls/dismiss-review":
            r = self._review(int(ids[1]), number)
            if r is None:
                return 404, {}, {"message": "Not Found"}
            if r["state"] not in ("APPROVED", "CHANGES_REQUESTED"):
                return self._reject(422, "Can not dismiss a commented pull request review")
            r["state"] = "DISMISSED"
            return 200, {}, _public(r)
        if op == "pulls/update-review":
            return self._edit_body(self._review(int(ids[1]), number), login, body)
        if op == "pulls/create-review-comment":
            return self._create_single_comment(pr, body, login)
        if op == "pulls/update-review-comment":
            c = next((c for c in self.review_comments if c["id"] == int(ids[0])), None)
            return self._edit_body(c, login, body)
        if op == "pulls/delete-review-comment":
            c = next((c for c in self.review_comments if c["id"] == int(ids[0])), None)
            if c is None:
                return 404, {}, {"message": "Not Found"}
            if any(r.get("in_reply_to_id") == c["id"] for r in self.review_comments):
                self.rejections.append("deleted a thread that has replies")
            self.review_comments.remove(c)
            return 204, {}, None
        if op == "issues/create-comment":
            if len(body["body"]) > BODY_LIMIT:
                return self._reject(422, "Body is too long (maximum is 65536 characters)")
            return 201, {}, _public(self._new_issue_comment(number, login, body["body"]))
        if op == "issues/update-comment":
            c = next((c for c in self.issue_comments if c["id"] == int(ids[0])), None)
            return self._edit_body(c, login, body)
        self.spec_errors.append(f"{op}: the double does not implement it")
        return 404, {}, {"message": "Not Found"}

    def _edit_body(
        self, obj: dict[str, Any] | None, login: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, str], Any]:
        """An edit of a review's or comment's body: only its author may, within the limit."""
        if obj is None:
            return 404, {}, {"message": "Not Found"}
        if obj["user"]["login"] != login:
            return 403, {}, {"message": "Resource not accessible by integration"}
        if len(body["body"]) > BODY_LIMIT:
            return self._reject(422, "Body is too long (maximum is 65536 characters)")
        obj["body"] = body["body"]
        return 200, {}, _public(obj)

    def _in_pending_of_other(self, c: dict[str, Any], login: str) -> bool:
        r = (
            self._review(c.get("pull_request_review_id"), c["_pr"])
            if c.get("pull_request_review_id")
            else None
        )
        return r is not None and r["state"] == "PENDING" and r["user"]["login"] != login

    def _review(self, rid: int | None, number: int) -> dict[str, Any] | None:
        return next((r for r in self.reviews if r["id"] == rid and r["_pr"] == number), None)

    def _reject(
        self, status: int, message: str, errors: list[str] | None = None
    ) -> tuple[int, dict[str, str], Any]:
        self.rejections.append(message if not errors else f"{message}: {'; '.join(errors)}")
        body: dict[str, Any] = {
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
        }
        if errors:
            body["errors"] = errors
        return status, {}, body

    def _check_anchor(
        self, pr: PullRequest, c: dict[str, Any], strict_keys: set[str]
    ) -> str | None:
        extra = set(c) - strict_keys
        if extra:
            self.spec_errors.append(f"review comment has unknown keys {sorted(extra)}")
            return f"unknown keys {sorted(extra)}"
        for k in ("side", "start_side"):
            if k in c and c[k] not in ("LEFT", "RIGHT"):
                self.spec_errors.append(f"review comment {k}={c[k]!r}")
                return f"{k} must be LEFT or RIGHT"
        if "position" in c:
            self.spec_errors.append("review comment uses the deprecated position")
        f = next((f for f in pr.files if f.filename == c["path"]), None)
        if f is None:
            return "Pull request review thread path is invalid"
        if len(c["body"]) > BODY_LIMIT:
            return "Body is too long (maximum is 65536 characters)"
        if c.get("subject_type") == "file":
            return None
        line = c.get("line")
        if not isinstance(line, int):
            return "line is required"
        if c.get("side", "RIGHT") != "RIGHT":
            return "Pull request review thread line must be part of the diff"  # the bot only comments on RIGHT
        rl = right_lines(f.validation_patch())
        if line not in rl or (c["path"], line) in self.reject_lines:
            return "Pull request review thread line must be part of the diff"
        if "start_line" in c:
            s = c["start_line"]
            if s >= line:
                return "Pull request review thread start line must precede the end line."
            if s not in rl or rl[s][0] != rl[line][0] or c.get("start_side", "RIGHT") != "RIGHT":
                return "Pull request review thread start line must be part of the same hunk as the line."
        return None

    def _create_review(
        self, pr: PullRequest, body: dict[str, Any], login: str
    ) -> tuple[int, dict[str, str], Any]:
        event = body.get("event")
        if event == "APPROVE":
            return self._reject(422, "GitHub Actions is not permitted to approve pull requests.")
        if event in ("COMMENT", "REQUEST_CHANGES") and not body.get("body"):
            return self._reject(
                422, "Unprocessable Entity", ["Body is required for COMMENT and REQUEST_CHANGES"]
            )
        if len(body.get("body", "")) > BODY_LIMIT:
            return self._reject(422, "Body is too long (maximum is 65536 characters)")
        if any(
            r["_pr"] == pr.number and r["state"] == "PENDING" and r["user"]["login"] == login
            for r in self.reviews
        ):
            return self._reject(
                422,
                "Unprocessable Entity",
                ["User can only have one pending review per pull request"],
            )
        commit_id = body.get("commit_id", pr.head_sha)
        if commit_id not in pr.shas:
            return self._reject(
                422, "Unprocessable Entity", ["commit_id is not part of the pull request"]
            )
        comments = body.get("comments", [])
        errors = []
        for c in comments:
            err = self._check_anchor(
                pr, c, {"path", "body", "line", "side", "start_line", "start_side", "position"}
            )
            if err:
                errors.append(err)
        if errors:  # all or nothing, and GitHub does not say which comment
            return self._reject(422, "Unprocessable Entity", sorted(set(errors)))
        state = {"COMMENT": "COMMENTED", "REQUEST_CHANGES": "CHANGES_REQUESTED", None: "PENDING"}[
            event
        ]
        r = self._new_review(pr.number, login, body.get("body", ""), state, commit_id)
        for c in comments:
            self._new_review_comment(
                pr.number,
                login,
                c["body"],
                c["path"],
                c.get("line"),
                c.get("start_line"),
                commit_id,
                r["id"],
            )
        return 200, {}, _public(r)

    def _create_single_comment(
        self, pr: PullRequest, body: dict[str, Any], login: str
    ) -> tuple[int, dict[str, str], Any]:
        if "in_reply_to" in body:
            parent = next((c for c in self.review_comments if c["id"] == body["in_reply_to"]), None)
            if parent is None:
                return 404, {}, {"message": "Not Found"}
            c = self._new_review_comment(
                pr.number,
                login,
                body["body"],
                parent["path"],
                parent.get("line"),
                None,
                parent["commit_id"],
                None,
            )
            c["in_reply_to_id"] = parent["id"]
            return 201, {}, _public(c)
        if body.get("subject_type") == "line":
            self.spec_errors.append("subject_type=line sent explicitly (PyGithub#3293)")
        err = self._check_anchor(
            pr,
            body,
            {
                "body",
                "commit_id",
                "path",
                "line",
                "side",
                "start_line",
                "start_side",
                "subject_type",
                "position",
            }
            | {"in_reply_to"},
        )
        if err:
            return self._reject(422, "Unprocessable Entity", [err])
        c = self._new_review_comment(
            pr.number,
            login,
            body["body"],
            body["path"],
            body.get("line"),
            body.get("start_line"),
            body["commit_id"],
            None,
            subject_type=body.get("subject_type", "line"),
        )
        return 201, {}, _public(c)


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("_") or k == "_links"}
