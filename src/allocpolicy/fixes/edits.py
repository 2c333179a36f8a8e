"""Whole-line text edits: build them, merge them, apply them.

Every edit allocpolicy makes replaces whole lines (or inserts before a line), so
the same edit is a `fix` change, a SARIF replacement and a GitHub suggestion.
Replacement text uses "\n"; applying converts it to the file's own line ending.
"""

from __future__ import annotations

from allocpolicy._record import record
from allocpolicy.model import Edit, Fix


def replace_lines(path: str, first: int, last: int, new_lines: list[str]) -> Edit:
    """Replace lines first..last (inclusive, 1-based) by new_lines; [] deletes them."""
    text = "".join(line + "\n" for line in new_lines)
    return Edit(path, first, 1, last + 1, 1, text)


def insert_before(path: str, line: int, new_lines: list[str]) -> Edit:
    return Edit(path, line, 1, line, 1, "".join(x + "\n" for x in new_lines))


def common_affixes(old: list[str], new: list[str]) -> tuple[int, int]:
    """How many leading and trailing lines two versions share (not overlapping)."""
    p = 0
    while p < min(len(old), len(new)) and old[p] == new[p]:
        p += 1
    s = 0
    while s < min(len(old), len(new)) - p and old[-1 - s] == new[-1 - s]:
        s += 1
    return p, s


def line_diff(path: str, old: list[str], new: list[str]) -> Edit | None:
    """The smallest whole-line edit turning old into new, or None when equal."""
    if old == new:
        return None
    p, s = common_affixes(old, new)
    first, last = p + 1, len(old) - s
    replacement = new[p : len(new) - s]
    if last < first:
        return insert_before(path, first, replacement)
    return replace_lines(path, first, last, replacement)


def _overlaps(a: Edit, b: Edit) -> bool:
    if a.path != b.path:
        return False
    a0, a1 = (a.start_line, a.start_column), (a.end_line, a.end_column)
    b0, b1 = (b.start_line, b.start_column), (b.end_line, b.end_column)
    if a0 == a1 and b0 == b1:
        return a0 == b0  # two insertions at one point: order would be arbitrary
    return (a0 < b1 and b0 < a1) or (a0 == a1 and b0 <= a0 < b1) or (b0 == b1 and a0 <= b0 < a1)


@record
class MergeResult:
    accepted: list[Fix]
    dropped: list[tuple[Fix, str]]  # fix, why

    @property
    def edits(self) -> list[Edit]:
        seen: dict[Edit, None] = {}
        for fix in self.accepted:
            for e in fix.edits:
                seen.setdefault(e)
        return sorted(seen)


def merge(fixes: list[Fix]) -> MergeResult:
    """Accept fixes in order; a fix whose edits overlap an accepted one is dropped whole."""
    accepted: list[Fix] = []
    taken: set[Edit] = set()
    by_path: dict[str, list[Edit]] = {}  # only edits of one file can overlap: 300 files, not 300²
    dropped: list[tuple[Fix, str]] = []
    for fix in fixes:
        fresh = [e for e in fix.edits if e not in taken]
        clash = next((t for e in fresh for t in by_path.get(e.path, ()) if _overlaps(e, t)), None)
        if clash is not None:
            dropped.append((fix, f"overlaps another fix at {clash.path}:{clash.start_line}"))
            continue
        if any(_overlaps(a, b) for i, a in enumerate(fresh) for b in fresh[i + 1 :]):
            dropped.append((fix, "its own edits overlap"))
            continue
        accepted.append(fix)
        taken.update(fresh)
        for e in fresh:
            by_path.setdefault(e.path, []).append(e)
    return MergeResult(accepted, dropped)


def apply_edits(text: str, edits: list[Edit], newline: str = "\n") -> str:
    """Apply non-overlapping edits to one file's text (line endings kept)."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(line: int, column: int) -> int:
        if line > len(lines):
            return len(text)
        return starts[line - 1] + column - 1

    out = text
    for e in sorted(edits, key=lambda e: (e.start_line, e.start_column), reverse=True):
        a, b = offset(e.start_line, e.start_column), offset(e.end_line, e.end_column)
        rep = e.replacement.replace("\n", newline)
        if a == len(text) and text and not text.endswith(("\n", "\r")) and rep:
            rep = newline + rep.removesuffix(newline)  # append to a file without a final newline
        out = out[:a] + rep + out[b:]
    if text and not text.endswith("\n") and out.endswith(newline) and not text.endswith(newline):
        out = out[: -len(newline)]
    return out
