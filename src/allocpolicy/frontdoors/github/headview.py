"""The scanned checkout against the PR head: comments must land on the head's lines.

actions/checkout on ``pull_request`` checks out ``refs/pull/N/merge``: the PR
merged into the latest base. One line added on the base shifts every line below
it, so a finding's line number is not the head's, and a suggestion built from
the head's diff text would replace the wrong line. When the checkout is not the
head, findings are moved to the head's lines by comparing each file's text at
both commits (read from git as data: nothing of the repository runs); a finding
whose lines the head does not have stays out of inline comments. Without the
head commit locally there is nothing to compare but the diff's own lines: no
suggestions, and a finding is an inline comment only where its line reads the
same in the diff.
"""

from __future__ import annotations

import difflib
import subprocess
from collections.abc import Callable
from pathlib import Path

from allocpolicy._record import field, record, replace
from allocpolicy.model import Edit, Finding

from .diffmap import DiffMap


def _git(root: Path, *args: str) -> bytes | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def checkout_sha(root: Path) -> str | None:
    out = _git(root, "rev-parse", "--verify", "-q", "HEAD")
    return out.decode().strip() if out else None


def has_commit(root: Path, sha: str) -> bool:
    return _git(root, "cat-file", "-e", f"{sha}^{{commit}}") is not None


def file_at(root: Path, sha: str, path: str) -> list[str] | None:
    """A file's lines at a commit (a blob read as data: no filters, no textconv)."""
    out = _git(root, "cat-file", "blob", f"{sha}:{path}")
    return None if out is None else out.decode("utf-8", "replace").splitlines()


class HeadReader:
    """Line text at the PR head, for diff blocks (the checkout's files are not the head's)."""

    def __init__(self, root: Path, sha: str) -> None:
        self.root, self.sha = root, sha
        self.cache: dict[str, list[str] | None] = {}

    def lines(self, path: str) -> list[str] | None:
        if path not in self.cache:
            self.cache[path] = file_at(self.root, self.sha, path)
        return self.cache[path]

    def __call__(self, path: str, n: int) -> str | None:
        lines = self.lines(path)
        return lines[n - 1] if lines is not None and 1 <= n <= len(lines) else None


@record
class HeadView:
    findings: list[Finding]  # as at the head where they could be moved, else as scanned
    unanchored: set[int] = field(default_factory=set)  # id()s: no inline comment
    suggest: bool = True
    reader: HeadReader | None = None  # line text at the head, if the head is here
    note: str = ""


def at_head(
    root: Path,
    head_sha: str,
    findings: list[Finding],
    diff: DiffMap,
    checkout_line: Callable[[str, int], str | None],
) -> HeadView | None:
    """None when the checkout is the head (or git cannot tell); else what to post."""
    here = checkout_sha(root)
    if here is None or here == head_sha:
        return None
    where = f"The scanned checkout ({here[:12]}) is not the pull request's head ({head_sha[:12]})"
    if has_commit(root, head_sha):
        return _moved(root, head_sha, findings, where)
    unanchored = {id(f) for f in findings if not _reads_same(f, diff, checkout_line)}
    return HeadView(
        list(findings),
        unanchored,
        suggest=False,
        note=f"{where}, e.g. actions/checkout's merge commit, and the head commit is not "
        "available locally: no suggestions are posted, and findings whose lines read "
        f"differently at the head ({len(unanchored)}) are in the summary comment. "
        "Check out the head (ref: ${{ github.event.pull_request.head.sha }}) or fetch it.",
    )


def _moved(root: Path, head_sha: str, findings: list[Finding], where: str) -> HeadView:
    maps: dict[str, dict[int, int] | None] = {}

    def line_map(path: str) -> dict[int, int] | None:
        if path not in maps:
            old = file_at(root, "HEAD", path)
            new = file_at(root, head_sha, path)
            maps[path] = None if old is None or new is None else _matching(old, new)
        return maps[path]

    out: list[Finding] = []
    unanchored: set[int] = set()
    for f in findings:
        moved = _move(f, line_map)
        if moved is None:
            unanchored.add(id(f))
            out.append(f)
        else:
            out.append(moved)
    note = (
        f"{where}, e.g. actions/checkout's merge commit: findings were moved to the head's lines."
    )
    if unanchored:
        note += f" {len(unanchored)} finding(s) on lines the head does not have are in the summary comment."
    return HeadView(out, unanchored, reader=HeadReader(root, head_sha), note=note)


def _matching(old: list[str], new: list[str]) -> dict[int, int]:
    """Checkout line -> head line, for the lines both have unchanged (1-based)."""
    sm = difflib.SequenceMatcher(None, old, new, autojunk=False)
    out: dict[int, int] = {}
    for a, b, size in sm.get_matching_blocks():
        for k in range(size):
            out[a + k + 1] = b + k + 1
    return out


def _move(f: Finding, line_map: Callable[[str], dict[int, int] | None]) -> Finding | None:
    """The finding (and its fix) on the head's lines; None if a line it needs is not there."""
    m = line_map(f.location.path)
    if m is None:
        return None
    loc = f.location
    line = m.get(loc.line)
    end = m.get(loc.end_line) if loc.end_line is not None else None
    if line is None or (loc.end_line is not None and end is None):
        return None
    fix = f.fix
    if fix is not None:
        edits = []
        for e in fix.edits:
            em = line_map(e.path)
            moved = _edit_moved(e, em) if em is not None else None
            if moved is None:
                return None
            edits.append(moved)
        fix = replace(fix, edits=tuple(edits))
    return replace(f, location=replace(loc, line=line, end_line=end), fix=fix)


def _reads_same(f: Finding, diff: DiffMap, checkout_line: Callable[[str, int], str | None]) -> bool:
    """Whether the finding's lines read the same in the checkout and in the head's diff."""
    fd = diff.get(f.location.path)
    if fd is None:
        return True  # not anchored on the diff anyway
    last = max(f.location.end_line or f.location.line, f.location.line)
    for n in range(f.location.line, last + 1):
        head, here = fd.text(n), checkout_line(f.location.path, n)
        if head is None or here is None or head.rstrip("\r") != here.rstrip("\r"):
            return False
    return True


def _edit_moved(e: Edit, m: dict[int, int]) -> Edit | None:
    start = _pos(e.start_line, e.start_column, m)
    end = _pos(e.end_line, e.end_column, m)
    if start is None or end is None:
        return None
    return replace(e, start_line=start, end_line=end)


def _pos(line: int, col: int, m: dict[int, int]) -> int | None:
    """A position's line at the head: its own line's, or (column 1) just past the line above."""
    if line in m:
        return m[line]
    if col == 1 and line - 1 in m:
        return m[line - 1] + 1
    return None
