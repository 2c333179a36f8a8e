"""Turn a Fix's column-precise edits into GitHub suggestions or diff blocks.

A GitHub suggestion replaces whole lines: the comment's range ``start_line..line``
on the RIGHT side is replaced by the block's text. So edits are expanded to whole
lines (prefix of the first line + replacement + suffix of the last line), using
the line text the diff shows. Positions are 1-based, end column exclusive, as in
:mod:`allocpolicy.model`; columns count characters.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Callable, Sequence

from allocpolicy._record import record
from allocpolicy.model import Edit

_BACKTICKS = re.compile(r"`+")


def fence_for(text: str, minimum: int = 3) -> str:
    """A backtick fence longer than any backtick run in ``text``."""
    longest = max((len(m.group(0)) for m in _BACKTICKS.finditer(text)), default=0)
    return "`" * max(minimum, longest + 1)


@record(frozen=True)
class LineReplacement:
    path: str
    start_line: int
    end_line: int
    original: tuple[str, ...]
    new_text: str  # the lines that replace start_line..end_line, joined by "\n", no final newline

    @property
    def deletes(self) -> bool:
        return self.new_text == "" and len(self.original) > 0

    def suggestion_block(self) -> str:
        body = self.new_text + "\n" if self.new_text else ""
        fence = fence_for(body)
        return f"{fence}suggestion\n{body}{fence}"


def _apply(lines: Sequence[str], first: int, edits: Sequence[Edit]) -> str | None:
    """Apply edits to lines[first..] joined with newlines; None if a position is outside."""
    text = "".join(line + "\n" for line in lines)
    starts = []
    off = 0
    for line in lines:
        starts.append(off)
        off += len(line) + 1
    last = first + len(lines) - 1

    def offset(line: int, col: int) -> int | None:
        if first <= line <= last:
            idx = line - first
            if col < 1 or col - 1 > len(lines[idx]):
                return None
            return starts[idx] + col - 1
        if line == last + 1 and col == 1:
            return len(text)
        return None

    spans = []
    for e in edits:
        a = offset(e.start_line, e.start_column)
        b = offset(e.end_line, e.end_column)
        if a is None or b is None or b < a:
            return None
        spans.append((a, b, e.replacement))
    spans.sort()
    for (_a1, b1, _), (a2, _b2, _) in itertools.pairwise(spans):
        if a2 < b1:
            return None  # overlapping edits: not ours to merge
    for a, b, rep in reversed(spans):
        text = text[:a] + rep + text[b:]
    return text


def whole_line_replacement(
    edits: Sequence[Edit], line_text: Callable[[int], str | None], prefer_line: int | None = None
) -> LineReplacement | None:
    """Expand edits of one file to a whole-line replacement, or None if impossible.

    ``line_text(n)`` gives the current text of RIGHT-side line n (None if unknown,
    e.g. outside the diff). Returns None for a no-op, for edits across files, or
    when a line needed is unknown.
    """
    if not edits or len({e.path for e in edits}) != 1:
        return None
    for first, last in _candidate_spans(edits, prefer_line):
        original = _known_lines(line_text, first, last) if first >= 1 else None
        if original is None:
            continue
        new = _apply(original, first, edits)
        if new is None:
            continue
        if new == "".join(t + "\n" for t in original):
            return None  # a no-op suggestion is invalid on GitHub
        if new and not new.endswith("\n"):
            continue  # the edit eats the last newline, i.e. touches the next line
        if _is_crlf(original):  # GitHub applies the text verbatim: keep the file's CRLF
            new = "".join(_with_eol(x, True) for x in new.splitlines(keepends=True))
        return LineReplacement(edits[0].path, first, last, original, new[:-1] if new else "")
    return None


def _candidate_spans(edits: Sequence[Edit], prefer_line: int | None) -> list[tuple[int, int]]:
    """Line spans (first, last) the edits could be shown as replacing, best first."""
    lo = min(e.start_line for e in edits)
    hi = max(
        e.end_line - (1 if e.end_column == 1 and e.end_line > e.start_line else 0) for e in edits
    )
    candidates = [(lo, max(hi, lo))]
    if all(
        e.start_column == 1 and e.end_column == 1 and e.start_line == e.end_line == lo
        for e in edits
    ):
        # a pure insertion before line lo can also hang off the end of line lo-1;
        # prefer that when it is the line the finding points at
        if prefer_line == lo - 1:
            candidates.insert(0, (lo - 1, lo - 1))
        else:
            candidates.append((lo - 1, lo - 1))
    return candidates


def _known_lines(
    line_text: Callable[[int], str | None], first: int, last: int
) -> tuple[str, ...] | None:
    """Text of lines first..last, or None if any of them is unknown."""
    lines = [line_text(n) for n in range(first, last + 1)]
    if any(t is None for t in lines):
        return None
    return tuple(t for t in lines if t is not None)


def diff_block(
    edits: Sequence[Edit], file_lines: Callable[[str, int], str | None], context: int = 1
) -> str:
    """A ```diff block showing the edits, for fixes a suggestion cannot carry.

    Where the text is known it is a real unified diff (``git apply`` takes it);
    ``file_lines`` may also have an ``ending(path)`` method giving the file's line
    count and whether its last line ends with a newline, for the
    ``\\ No newline at end of file`` marker.
    """
    out: list[str] = []
    by_path: dict[str, list[Edit]] = {}
    for e in edits:
        by_path.setdefault(e.path, []).append(e)
    ending = getattr(file_lines, "ending", None)
    for path, group in sorted(by_path.items()):
        group.sort()
        lo = min(e.start_line for e in group)
        hi = max(
            max(e.end_line - (1 if e.end_column == 1 and e.end_line > e.start_line else 0), lo)
            for e in group
        )
        known = _context_lines(file_lines, path, lo, hi, context, group)
        if known is not None:
            first, lines = known
            info = ending(path) if callable(ending) else None
            no_eol = info is not None and info[0] == first + len(lines) - 1 and not info[1]
            unified = _unified_of(path, first, lines, group, no_eol)
            if unified is not None:
                out.append(unified)
                continue
        # Source text unknown: describe the edits themselves.
        out.append(f"--- {path}")
        for e in group:
            where = f"{e.start_line}:{e.start_column}"
            if (e.end_line, e.end_column) != (e.start_line, e.start_column):
                where += f"-{e.end_line}:{e.end_column}"
            out.append(f"@@ {where} @@")
            out.extend("+" + r for r in e.replacement.rstrip("\n").split("\n"))
    text = "\n".join(out)
    fence = fence_for(text)
    return f"{fence}diff\n{text}\n{fence}"


def _unified_of(
    path: str, first: int, lines: list[str], edits: Sequence[Edit], no_final_newline: bool
) -> str | None:
    """The edits applied to lines first.. as one file's unified diff (None if they do not fit)."""
    new = _apply(lines, first, edits)
    if new is None:
        return None
    old_text = "".join(line + "\n" for line in lines)
    if no_final_newline:
        old_text = old_text[:-1]
        if new.endswith("\n") and not _edits_reach_end(edits, first + len(lines)):
            new = new[:-1]  # the newline _apply added after the last line is not the file's
    crlf = _is_crlf(lines)
    old = old_text.splitlines(keepends=True)
    new_lines = [_with_eol(x, crlf) for x in new.splitlines(keepends=True)]
    return _unified(path, first, old, new_lines)


def _edits_reach_end(edits: Sequence[Edit], past_last: int) -> bool:
    """Whether an edit inserts at the very end of the text (line ``past_last``, column 1)."""
    return any(e.end_line >= past_last for e in edits)


def _unified(path: str, first: int, old: list[str], new: list[str]) -> str:
    """A unified diff of two windows of lines (with their endings) starting at line ``first``.

    One line of context, the headers ``git apply`` needs, hunk ranges counted from
    ``first``, and the marker after a line that has no newline.
    """
    out = [f"--- a/{path}", f"+++ b/{path}"]
    for raw in difflib.unified_diff(old, new, n=1, lineterm=""):
        if raw.startswith(("---", "+++")) and not out[2:]:
            continue
        m = _RANGE.match(raw)
        if m:
            out.append(f"@@ -{_shift(m.group(1), first)} +{_shift(m.group(2), first)} @@")
            continue
        body = raw.rstrip("\n")
        out.append(body)
        if not raw.endswith("\n"):
            out.append("\\ No newline at end of file")
    return "\n".join(out)


_RANGE = re.compile(r"^@@ -(\S+) \+(\S+) @@")


def _shift(rng: str, first: int) -> str:
    """A hunk range of the window (1-based) as a range of the file."""
    start, comma, count = rng.partition(",")
    return f"{int(start) + first - 1}{comma}{count}"


def _is_crlf(lines: Sequence[str]) -> bool:
    """Whether these lines (as the diff shows them, each without its \\n) end in CRLF."""
    return bool(lines) and sum(line.endswith("\r") for line in lines) * 2 > len(lines)


def _with_eol(line: str, crlf: bool) -> str:
    """A line (with its ending) ending as the file's lines do: CRLF files stay CRLF."""
    if not crlf or not line.endswith("\n"):
        return line
    return line[:-1].rstrip("\r") + "\r\n"


def _context_lines(
    file_lines: Callable[[str, int], str | None],
    path: str,
    lo: int,
    hi: int,
    context: int,
    edits: Sequence[Edit] = (),
) -> tuple[int, list[str]] | None:
    """Lines lo..hi with up to ``context`` lines around them (fewer where the text is
    unknown) and the number of the first; None if an edited line itself is unknown.

    A line just past the known ones that the edits only insert before (column 1), as
    a fix appending at the end of a file does, needs no text: the insertion hangs off
    the end of the line above it.
    """
    first, last = max(1, lo - context), hi + context
    lines: list[str] = []
    for n in range(first, last + 1):
        t = file_lines(path, n)
        if t is None:
            if n < lo:
                first = n + 1
                continue
            if n > hi or (lines and n == hi and _inserts_only_at(edits, n)):
                break
            return None
        lines.append(t)
    return first, lines


def _inserts_only_at(edits: Sequence[Edit], n: int) -> bool:
    """Every edit that touches line n starts and ends at its column 1."""
    touching = [e for e in edits if e.end_line >= n]
    return bool(touching) and all(
        (e.start_line, e.start_column, e.end_line, e.end_column) == (n, 1, n, 1) for e in touching
    )
