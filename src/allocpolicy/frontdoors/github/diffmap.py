"""Which lines of which files a pull request's diff shows, and their text.

Built from the ``patch`` of each entry of ``pulls/list-files``; when GitHub leaves
a patch out (large or binary files, more than 3000 files in the PR) the missing
files come from a local ``git diff``; when that is impossible too (a shallow
checkout) past the 3000-file cap, the map is ``unlisted``: a file it does not hold
may still be in the PR. GitHub only accepts a review comment on a
line shown in a hunk: added or context lines on the RIGHT side, and a multi-line
comment must stay inside one hunk. Everything here is plain data: no network.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from allocpolicy._record import field, record

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")

# GitHub's list-files endpoint stops at this many files.
GITHUB_MAX_FILES = 3000


@record
class FileDiff:
    path: str
    status: str = "modified"  # added | modified | removed | renamed | copied | changed | unchanged
    previous_path: str | None = None
    # RIGHT-side line number -> (hunk index, text, is_added)
    right: dict[int, tuple[int, str, bool]] = field(default_factory=dict)
    left: dict[int, int] = field(default_factory=dict)  # LEFT-side line -> hunk index
    # (hunk index, RIGHT line) where each added line is, or where deleted lines were
    changes: list[tuple[int, int]] = field(default_factory=list)

    def added(self, line: int) -> bool:
        entry = self.right.get(line)
        return bool(entry and entry[2])

    def in_hunk(self, line: int) -> bool:
        return line in self.right

    def hunk_of(self, line: int) -> int | None:
        entry = self.right.get(line)
        return entry[0] if entry else None

    def text(self, line: int) -> str | None:
        entry = self.right.get(line)
        return entry[1] if entry else None

    def same_hunk(self, first: int, last: int) -> bool:
        """Every line first..last is on the RIGHT side of one hunk."""
        if first > last:
            return False
        hunk = self.hunk_of(first)
        return hunk is not None and all(self.hunk_of(n) == hunk for n in range(first, last + 1))

    def all_added(self, first: int, last: int) -> bool:
        return first <= last and all(self.added(n) for n in range(first, last + 1))

    def first_change(self) -> int | None:
        """The RIGHT line a comment on this file's first change hangs on: the first added
        line, or the line beside the first deleted one (the removed dependency's neighbour)."""
        for hunk, n in self.changes:
            for line in (n, n - 1):
                if self.hunk_of(line) == hunk:
                    return line
        return None


def parse_patch(
    path: str, patch: str, status: str = "modified", previous_path: str | None = None
) -> FileDiff:
    """Parse the hunks of one file's unified diff (the ``patch`` field, or a git diff body).

    Lines are consumed by the counts in each hunk header, so a blank context line
    whose leading space was stripped and the patch's final newline are both handled.
    """
    fd = FileDiff(path=path, status=status, previous_path=previous_path)
    hunk = -1
    old = new = 0
    old_left = new_left = 0
    for raw in patch.split("\n"):
        m = _HUNK.match(raw)
        if m:
            hunk += 1
            old, new = int(m.group(1)), int(m.group(3))
            old_left = int(m.group(2)) if m.group(2) is not None else 1
            new_left = int(m.group(4)) if m.group(4) is not None else 1
            continue
        if old_left <= 0 and new_left <= 0:
            continue
        if raw.startswith("\\"):  # "\ No newline at end of file"
            continue
        if raw.startswith("+"):
            fd.right[new] = (hunk, raw[1:], True)
            fd.changes.append((hunk, new))
            new += 1
            new_left -= 1
        elif raw.startswith("-"):
            fd.left[old] = hunk
            fd.changes.append((hunk, new))
            old += 1
            old_left -= 1
        else:  # context; " text" or "" when trailing whitespace was stripped
            fd.right[new] = (hunk, raw[1:], False)
            fd.left[old] = hunk
            old += 1
            new += 1
            old_left -= 1
            new_left -= 1
    return fd


@record
class DiffMap:
    files: dict[str, FileDiff] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # in the PR, but no hunks known
    truncated: bool = False  # GitHub listed fewer files than the PR has
    # truncated, and no local git diff told the rest: a file not listed may be in the PR
    unlisted: bool = False
    pr_files: int = 0  # how many files the PR changes, as GitHub counts them
    sources: dict[str, str] = field(default_factory=dict)  # path -> "api" | "git"

    def get(self, path: str) -> FileDiff | None:
        return self.files.get(path)

    def __contains__(self, path: str) -> bool:
        return path in self.files

    def changed(self, path: str) -> bool:
        fd = self.files.get(path)
        return fd is not None and fd.status != "removed"


def split_git_diff(text: str) -> dict[str, FileDiff]:
    """Split ``git diff`` output into one FileDiff per file (new-side path)."""
    out: dict[str, FileDiff] = {}
    chunks = re.split(r"^(?=diff --git )", text, flags=re.M)
    for chunk in chunks:
        if not chunk.startswith("diff --git "):
            continue
        lines = chunk.split("\n")
        new_path = old_path = None
        status = "modified"
        body_start = None
        for i, ln in enumerate(lines):
            if ln.startswith("+++ "):
                target = ln[4:]
                new_path = None if target == "/dev/null" else _strip_prefix(target)
            elif ln.startswith("--- "):
                src = ln[4:]
                old_path = None if src == "/dev/null" else _strip_prefix(src)
            elif ln.startswith("rename from "):
                old_path = ln[len("rename from ") :]
                status = "renamed"
            elif ln.startswith("rename to "):
                new_path = ln[len("rename to ") :]
                status = "renamed"
            elif ln.startswith("new file mode"):
                status = "added"
            elif ln.startswith("deleted file mode"):
                status = "removed"
            elif ln.startswith("@@"):
                body_start = i
                break
        if new_path is None and status != "removed":
            m = re.match(r"diff --git a/(.*) b/(.*)$", lines[0])
            if m:
                new_path = m.group(2)
        if status == "removed" or new_path is None:
            continue
        body = "\n".join(lines[body_start:]) if body_start is not None else ""
        prev = old_path if old_path and old_path != new_path else None
        out[new_path] = parse_patch(new_path, body, status=status, previous_path=prev)
    return out


def _strip_prefix(p: str) -> str:
    if p.startswith('"') and p.endswith('"'):
        p = p[1:-1]
    return p[2:] if p[:2] in ("a/", "b/") else p


def git_diff(
    repo: Path, base: str, head: str, paths: list[str] | None = None
) -> dict[str, FileDiff] | None:
    """Local fallback: ``git diff base...head`` in the checkout, as data only.

    External diff drivers and textconv filters are switched off so that nothing
    configured for the PR's files runs. Returns None when git cannot produce it
    (e.g. a shallow clone without the merge base). There is no two-dot retry: without
    the merge base, ``git diff base head`` also shows every change the base branch made
    since the PR branched, reversed, and comments would anchor on lines the PR never
    touched; no local diff is the honest answer ("fetch more history").
    """
    cmd = [
        "git",
        "-c",
        "core.quotepath=off",
        "-C",
        str(repo),
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--find-renames",
        "--unified=3",
        f"{base}...{head}",
    ]
    if paths:
        cmd += ["--", *paths]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode == 0:
        # bytes, not text mode: universal newlines would drop a CRLF file's CRs,
        # which its suggestions must keep (GitHub's own patches keep them)
        return split_git_diff(proc.stdout.decode("utf-8", "replace"))
    return None
