"""The pull request's head, read through the API as data (``--head-source api``).

A workflow on ``pull_request_target`` has a write token and checks out nothing of a
fork. Instead of a findings file from an untrusted workflow, it reads the head
commit's tree (git/get-tree, recursive) and the texts of the files the scan reads
(GraphQL ``Blob.text``, 100 a query; git/get-blob for what that cannot give), writes
them as plain files into a fresh temporary directory and scans that. Nothing is
checked out, built or run.

The fork controls the tree, so every entry is hostile input: a path must be a plain
relative path (no ``..``, no ``.git``, bounded depth and length) and is written only
by this module, inside the directory it created, with ``O_EXCL | O_NOFOLLOW``;
symbolic links and submodules are never written (their count is a note); a blob over
the scan's per-file cap is not fetched but stands as a hole of its size, so the scan
reports it as it would from a checkout; and the number and bytes of fetched files are
capped. A listing GitHub truncated, or a tree past these caps, is not scanned at all
(:class:`Incomplete`): a partial scan would pass what it did not see.

Every other file of the tree is written empty: the scan asks whether a path exists
(``COPY build.sh``, a binary committed in ``target/``), never what such a file holds.
Each fetched text is checked against its blob id (git's hash of the bytes), so what
is scanned is byte for byte the head's file, or the REST blob is fetched instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import posixpath
import tempfile
from pathlib import Path

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import field, record
from allocpolicy.config import CONFIG_NAMES
from allocpolicy.discovery import SKIP_DIRS, kind_of
from allocpolicy.ignore import MAX_IGNORE_BYTES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from allocpolicy.config import Config

    from .client import GitHubClient

MAX_FILES = 20_000  # files fetched: a real service repository has a few thousand
MAX_TOTAL_BYTES = 256 * 1024 * 1024  # their bytes together
MAX_ENTRIES = 200_000  # tree entries at all (GitHub truncates a listing near 100 000)
MAX_DEPTH = 64  # directories in a path
MAX_PATH_BYTES = 4096  # PATH_MAX
MAX_NAME_BYTES = 255  # NAME_MAX
BATCH = 100  # blobs per GraphQL query (aliases)
# Read by the scan besides discovery's kinds: the task files a RUN line runs
# (facts/recipes.py), under their conventional names.
TASK_FILES = frozenset({"GNUmakefile", "makefile", "Makefile", "justfile", "Justfile", ".justfile"})
_BLOB_MODES = frozenset({"100644", "100755"})
_SYMLINK, _SUBMODULE = "120000", "160000"
_SHA = lazy_re(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_OPEN = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
_OPEN |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
# Marks the directory above the head's files: git run on the materialised tree (the
# scope widening lists files with git) must not find a repository further up.
_NOT_A_REPOSITORY = "gitdir: /nonexistent/allocpolicy-api-head\n"


class Incomplete(Exception):
    """The head cannot be read in full: nothing is scanned (the message says why)."""


@record
class Entry:
    path: str
    mode: str
    sha: str
    size: int


@record
class Head:
    """The head's files on disk: the scan's root is ``root / prefix``."""

    root: Path
    top: Path  # the temporary directory to remove afterwards
    fetched: int = 0  # files written with the head's bytes
    fetched_bytes: int = 0
    placeholders: set[str] = field(default_factory=set)  # written empty or as a hole
    holes: int = 0  # of them, files over the cap written as a hole of their size
    graphql_queries: int = 0
    rest_blobs: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"The head was read through the API as data: {self.fetched} file(s) the scan "
            f"reads ({self.fetched_bytes} bytes) in 1 tree request, {self.graphql_queries} "
            f"GraphQL quer{'y' if self.graphql_queries == 1 else 'ies'} and {self.rest_blobs} "
            f"blob request(s); {len(self.placeholders) - self.holes} other file(s) stand empty "
            "(their existence is all the scan asks of them)."
        )


def scanned_name(name: str, parent: str) -> bool:
    """Whether the scan reads a file of this name (its text must be fetched)."""
    return (
        kind_of(name, parent) is not None
        or name == ".gitignore"
        or name in TASK_FILES
        or name.endswith(".mk")
    )


def bad_path(path: str) -> str | None:
    """Why a tree path may not be written, or None for a plain relative path."""
    if not path:
        return "an empty path"
    if "\0" in path:
        return "a NUL byte in the path"
    if path.startswith("/") or path.startswith("\\") or (len(path) > 1 and path[1] == ":"):
        return "an absolute path"
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "a '.', '..' or empty path component"
    if any(p.lower() == ".git" for p in parts):
        return "a .git path component"
    if len(parts) > MAX_DEPTH:
        return f"more than {MAX_DEPTH} directories deep"
    try:
        raw = path.encode("utf-8")
    except UnicodeEncodeError:
        return "a path that is not UTF-8"
    if len(raw) > MAX_PATH_BYTES or any(len(p.encode()) > MAX_NAME_BYTES for p in parts):
        return "a path or name over the length limit"
    return None


def _shown(path: str) -> str:
    """A hostile path as a note shows it: quoted, escaped, clipped."""
    text = ascii(path[:200])
    return text if len(path) <= 200 else text[:-1] + "...'"


def _cap(name: str, config: Config) -> int:
    """The scan's own per-file cap for this file (a .gitignore has its own)."""
    return MAX_IGNORE_BYTES if name == ".gitignore" else config.max_file_size


def blob_id(data: bytes, width: int = 40) -> str:
    """git's id of a blob of these bytes (SHA-1, or SHA-256 in a 64-digit repository)."""
    algorithm = hashlib.sha256 if width == 64 else hashlib.sha1
    return algorithm(b"blob %d\0" % len(data) + data).hexdigest()


def read_head(
    api: GitHubClient,
    sha: str,
    *,
    prefix: str,
    config: Config,
    temp_parent: str | None,
    log: Callable[[str], None] = lambda m: None,
) -> Head:
    """The head commit's files under ``prefix``, written into a new temporary directory.

    Raises :class:`Incomplete` (the directory removed) when the head cannot be read in
    full, and lets the client's ApiError through.
    """
    if not _SHA.match(sha):
        raise Incomplete(f"the head sha {_shown(sha)} is not a commit id")
    tree = api.get_tree(sha)
    if tree.get("truncated"):
        raise Incomplete(
            "GitHub truncated its listing of the head's tree (over its limit of about "
            "100 000 entries or 7 MB)"
        )
    entries = tree.get("tree")
    if not isinstance(entries, list):
        raise Incomplete("GitHub's listing of the head's tree has no entries")
    if len(entries) > MAX_ENTRIES:
        raise Incomplete(f"the head's tree has {len(entries)} entries, over {MAX_ENTRIES}")
    top = Path(tempfile.mkdtemp(prefix="allocpolicy-head-", dir=temp_parent or None))
    try:
        return _materialise(api, top, entries, prefix, config, log)
    except BaseException:
        remove(top)
        raise


def remove(top: Path) -> None:
    """Remove a materialised head (it holds no links: nothing outside is touched)."""
    import shutil

    shutil.rmtree(top, ignore_errors=True)


def _materialise(
    api: GitHubClient,
    top: Path,
    raw_entries: list[Any],
    prefix: str,
    config: Config,
    log: Callable[[str], None],
) -> Head:
    (top / ".git").write_text(_NOT_A_REPOSITORY, encoding="utf-8")
    root = top / "head"
    root.mkdir()
    head = Head(root=root, top=top)
    lead = f"{prefix}/" if prefix else ""
    files, bad, links, submodules, other = _entries(raw_entries, lead)
    for path, why in bad[:5]:
        head.notes.append(
            f"The head's tree has an entry this run does not write ({why}): {_shown(path)}."
        )
    if len(bad) > 5:
        head.notes.append(f"{len(bad) - 5} more tree entries with such paths were not written.")
    if links or submodules or other:
        head.notes.append(
            f"The head's tree has {links} symbolic link(s) and {submodules} submodule(s)"
            + (f" and {other} other special entr{'y' if other == 1 else 'ies'}" if other else "")
            + ": none is written (a link could lead out of the copy, a submodule's files are "
            "another repository's), so the scan reads no file through them."
        )
    writer = _Writer(root, head)
    wanted = [e for e in files if scanned_name(*_name_parent(e.path))]
    forked = [e.path for e in files if e.path in {f"{lead}{n}" for n in CONFIG_NAMES}]
    if forked:
        head.notes.append(
            f"The head has its own {forked[0]}; it is not used: in this mode the rules and "
            "settings are the trusted workflow's (its checkout's config, or the defaults)."
        )
    wanted_paths = {e.path for e in wanted}
    # .gitignore files first: what they ignore (and the exclude setting) is not fetched
    ignores = [e for e in wanted if posixpath.basename(e.path) == ".gitignore"]
    _fetch(api, writer, ignores, config, head, log)
    from allocpolicy.discovery import walk_ignore

    skipped = walk_ignore(root / prefix if prefix else root, list(config.exclude))
    rest = []
    for e in wanted:
        name = posixpath.basename(e.path)
        if name == ".gitignore":
            continue
        rel = e.path[len(lead) :]
        task = name in TASK_FILES or name.endswith(".mk")  # a RUN may read one from anywhere
        if not task and (any(p in SKIP_DIRS for p in rel.split("/")[:-1]) or skipped.ignored(rel)):
            wanted_paths.discard(e.path)  # the walk would not list it: it stays empty
            continue
        rest.append(e)
    _fetch(api, writer, rest, config, head, log)
    for e in files:
        if e.path not in wanted_paths and e.path not in forked:
            writer.write(e.path, b"", placeholder=True)
    return head


def _name_parent(path: str) -> tuple[str, str]:
    parent, _, name = path.rpartition("/")
    return name, parent


def _entries(
    raw_entries: list[Any], lead: str
) -> tuple[list[Entry], list[tuple[str, str]], int, int, int]:
    """The tree's regular files under ``lead``; the rest counted or named."""
    files: list[Entry] = []
    bad: list[tuple[str, str]] = []
    links = submodules = other = 0
    for raw in raw_entries:
        if not isinstance(raw, dict):
            other += 1
            continue
        path, mode, kind = raw.get("path"), raw.get("mode"), raw.get("type")
        if not isinstance(path, str):
            other += 1
            continue
        if lead and not path.startswith(lead):
            continue  # outside the scanned directory
        if kind == "tree":
            continue  # directories are made for the files in them (git has no empty ones)
        why = bad_path(path)
        if why is not None:
            bad.append((path, why))
            continue
        if mode == _SYMLINK:
            links += 1
        elif mode == _SUBMODULE or kind == "commit":
            submodules += 1
        elif kind != "blob" or mode not in _BLOB_MODES:
            other += 1
        else:
            sha, size = raw.get("sha"), raw.get("size")
            if not isinstance(sha, str) or not _SHA.match(sha) or not isinstance(size, int):
                bad.append((path, "no blob id or size"))
                continue
            files.append(Entry(path, mode, sha, max(0, size)))
    return files, bad, links, submodules, other


class _Writer:
    """Writes files only below ``root``, in directories it made itself, never through a link."""

    def __init__(self, root: Path, head: Head) -> None:
        self.root = root
        self.head = head
        self.made: set[str] = {""}
        self.collisions: list[str] = []

    def _dir(self, rel_dir: str) -> bool:
        if rel_dir in self.made:
            return True
        parent = rel_dir.rpartition("/")[0]
        if not self._dir(parent):
            return False
        full = self.root / rel_dir
        try:
            os.mkdir(full, 0o755)
        except FileExistsError:
            # made by us as a directory (another spelling on a case-insensitive disk), or
            # a file of that name: anything but a real directory is refused
            import stat

            if not stat.S_ISDIR(os.lstat(full).st_mode):
                return False
        except OSError:
            return False
        self.made.add(rel_dir)
        return True

    def write(self, path: str, data: bytes, *, placeholder: bool = False, size: int = 0) -> bool:
        if not self._dir(path.rpartition("/")[0]):
            self.collisions.append(path)
            return False
        try:
            fd = os.open(self.root / path, _OPEN, 0o644)
        except (OSError, UnicodeEncodeError, ValueError):
            self.collisions.append(path)  # e.g. Cargo.toml and cargo.toml on a macOS runner
            return False
        try:
            if size:
                os.ftruncate(fd, size)  # a hole: no byte of it is fetched or stored
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        if placeholder:
            self.head.placeholders.add(path)
        return True


def _fetch(
    api: GitHubClient,
    writer: _Writer,
    entries: list[Entry],
    config: Config,
    head: Head,
    log: Callable[[str], None],
) -> None:
    """Fetch and write ``entries``' bytes; a blob over the scan's cap becomes a hole."""
    small: list[Entry] = []
    over: list[Entry] = []
    for e in entries:
        (over if e.size > _cap(posixpath.basename(e.path), config) else small).append(e)
    for e in over:
        if writer.write(e.path, b"", placeholder=True, size=e.size):
            head.holes += 1
    if over:
        head.notes.append(
            f"{len(over)} file(s) of the head are over the scan's per-file cap and were not "
            f"fetched (e.g. {_shown(over[0].path)}, {over[0].size} bytes); the scan reports "
            "them as skipped, as it would from a checkout."
        )
    if head.fetched + len(small) > MAX_FILES:
        raise Incomplete(
            f"the head has {head.fetched + len(small)} files the scan reads, over {MAX_FILES}"
        )
    total = head.fetched_bytes + sum(e.size for e in small)
    if total > MAX_TOTAL_BYTES:
        raise Incomplete(
            f"the files the scan reads are {total} bytes together, over {MAX_TOTAL_BYTES}"
        )
    by_sha: dict[str, list[Entry]] = {}
    for e in small:
        by_sha.setdefault(e.sha, []).append(e)  # one fetch for identical files
    texts = _blob_bytes(api, by_sha, head, log)
    for sha, group in by_sha.items():
        data = texts[sha]
        for e in group:
            if writer.write(e.path, data):
                head.fetched += 1
                head.fetched_bytes += len(data)
    if writer.collisions:
        head.notes.append(
            f"{len(writer.collisions)} path(s) of the head could not be written as files here "
            f"(e.g. {_shown(writer.collisions[0])}: a name this disk cannot tell from "
            "another); they were not scanned."
        )
        writer.collisions = []


def _blob_bytes(
    api: GitHubClient,
    by_sha: dict[str, list[Entry]],
    head: Head,
    log: Callable[[str], None],
) -> dict[str, bytes]:
    """Each blob's bytes: GraphQL texts 100 a query, checked against the blob id; REST
    for a text GraphQL truncated, withheld (binary) or gave in another encoding."""
    shas = sorted(by_sha)
    out: dict[str, bytes] = {}
    owner, _, name = api.repo_name.partition("/")
    for start in range(0, len(shas), BATCH):
        batch = shas[start : start + BATCH]
        fields = " ".join(
            f'f{i}: object(oid: "{sha}") {{ ... on Blob {{ text isTruncated isBinary byteSize }} }}'
            for i, sha in enumerate(batch)  # ids matched _SHA: nothing else reaches the query
        )
        query = (
            "query($owner: String!, $name: String!) { "
            f"repository(owner: $owner, name: $name) {{ {fields} }} }}"
        )
        data = api.graphql("query blob texts", query, {"owner": owner, "name": name})
        head.graphql_queries += 1
        repo = data.get("repository") or {}
        for i, sha in enumerate(batch):
            blob = repo.get(f"f{i}") if isinstance(repo, dict) else None
            if not isinstance(blob, dict) or blob.get("isTruncated"):
                continue
            text = blob.get("text")
            if isinstance(text, str):
                raw = text.encode("utf-8", "surrogatepass")
                if blob_id(raw, len(sha)) == sha:
                    out[sha] = raw
    for sha in shas:
        if sha not in out:
            out[sha] = _rest_blob(api, sha, by_sha[sha][0], head)
    log(f"allocpolicy: read {len(shas)} blob(s) of the head through the API")
    return out


def _rest_blob(api: GitHubClient, sha: str, entry: Entry, head: Head) -> bytes:
    """One blob's exact bytes (git/get-blob), checked against its id."""
    data = api.get_blob(sha)
    head.rest_blobs += 1
    content = data.get("content")
    if data.get("encoding") != "base64" or not isinstance(content, str):
        raise Incomplete(f"GitHub gave no bytes for {_shown(entry.path)}")
    if len(content) > 2 * entry.size + 1024:  # base64 is 4/3 of the bytes, plus newlines
        raise Incomplete(f"GitHub's blob for {_shown(entry.path)} is larger than its tree says")
    try:
        raw = base64.b64decode(content.replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        raise Incomplete(f"GitHub's blob for {_shown(entry.path)} is not base64") from None
    if blob_id(raw, len(sha)) != sha:
        raise Incomplete(f"GitHub's blob for {_shown(entry.path)} does not match its id")
    return raw
