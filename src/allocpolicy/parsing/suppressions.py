"""`allocpolicy: ignore[ID]` and `ignore-file[ID]` comments in any scanned file."""

from __future__ import annotations

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import field, record

_DIRECTIVE = lazy_re(r"(?:#|//)\s*allocpolicy:\s*(ignore|ignore-file)\[([^\]]*)\]")


@record
class Suppression:
    path: str
    line: int
    kind: str  # ignore | ignore-file
    rules: frozenset[str]
    used: set[str] = field(default_factory=set)


def scan_lines(path: str, lines: list[str]) -> list[Suppression]:
    out = []
    for number, line in enumerate(lines, start=1):
        if "allocpolicy:" not in line:
            continue
        for m in _DIRECTIVE.finditer(line):
            ids = frozenset(i.strip() for i in m.group(2).split(",") if i.strip())
            out.append(Suppression(path, number, m.group(1), ids))
    return out


def _is_header_line(text: str) -> bool:
    """Comment or attribute lines that belong to the item below them."""
    s = text.strip()
    return s.startswith("#") or s.startswith("//")


@record
class Suppressions:
    """Every suppression comment of a scan, and the lines needed to see what each sits above."""

    by_file: dict[str, list[Suppression]]
    lines: dict[str, list[str]]

    def match(self, rule: str, path: str, line: int, end_line: int) -> Suppression | None:
        for s in self.by_file.get(path, []):
            if rule not in s.rules:
                continue
            if (
                s.kind == "ignore-file"
                or line <= s.line <= end_line
                or self._above(path, s.line, line)
            ):
                s.used.add(rule)
                return s
        return None

    def _above(self, path: str, comment_line: int, line: int) -> bool:
        if comment_line >= line:
            return False
        text = self.lines.get(path, [])
        for n in range(line - 1, comment_line, -1):
            if n - 1 >= len(text) or not _is_header_line(text[n - 1]):
                return False
        return True

    def unused(self) -> list[Suppression]:
        return [s for ss in self.by_file.values() for s in ss if not s.used]
