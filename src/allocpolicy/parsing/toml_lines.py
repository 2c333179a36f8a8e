"""Where a key sits in a TOML file.

tomllib gives values but no positions; findings and fixes need lines. This
index walks the physical lines once and records the line of every table header
and of every key assignment, by its dotted path. It is deliberately simple: it
understands headers, dotted and quoted keys, and skips multi-line strings and
arrays well enough to keep line numbers right in real manifests.
"""

from __future__ import annotations

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import field, record

_BARE = lazy_re(r"[A-Za-z0-9_-]+")


def split_key(text: str) -> tuple[str, ...] | None:
    """Split a dotted TOML key (`a."b.c".d`) into its parts; None if malformed."""
    parts: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            return None
        ch = text[i]
        if ch in "\"'":
            end = text.find(ch, i + 1)
            while ch == '"' and end > 0 and text[end - 1] == "\\":
                end = text.find(ch, end + 1)
            if end < 0:
                return None
            parts.append(text[i + 1 : end])
            i = end + 1
        else:
            m = _BARE.match(text, i)
            if not m:
                return None
            parts.append(m.group(0))
            i = m.end()
        while i < n and text[i] in " \t":
            i += 1
        if i < n:
            if text[i] != ".":
                return None
            i += 1
    return tuple(parts) if parts else None


def _key_end(line: str) -> int:
    """Index of the `=` that ends the key part of an assignment, or -1."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "=":
            return i
        elif ch == "#":
            return -1
    return -1


@record
class TomlIndex:
    """Line numbers (1-based) of tables and keys, by dotted path."""

    tables: dict[tuple[str, ...], int] = field(default_factory=dict)
    keys: dict[tuple[str, ...], int] = field(default_factory=dict)
    table_ends: dict[tuple[str, ...], int] = field(default_factory=dict)

    def line_of(self, path: tuple[str, ...]) -> int | None:
        """The line of a key, or of the table (or its nearest ancestor) that holds it."""
        for n in range(len(path), 0, -1):
            head = path[:n]
            if head in self.keys:
                return self.keys[head]
            if head in self.tables:
                return self.tables[head]
        return None


def index_toml(lines: list[str]) -> TomlIndex:
    idx = TomlIndex()
    current: tuple[str, ...] = ()
    last_content = 0
    depth = 0  # open brackets of a multi-line array or inline table
    in_multiline = ""
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if in_multiline:
            if in_multiline in line:
                in_multiline = ""
            continue
        if not line or line.startswith("#"):
            continue
        if depth > 0:
            if (
                "[" in line or "]" in line or "{" in line or "}" in line
            ):  # most lines of a long array have none
                depth += _bracket_delta(line)
            last_content = number
            continue
        if line.startswith("["):
            idx.table_ends[current] = last_content
            inner = (
                line.lstrip("[").split("]")[0]
                if not line.startswith("[[")
                else line[2:].split("]]")[0]
            )
            key = split_key(inner)
            if key is not None:
                current = key
                idx.tables.setdefault(current, number)
            last_content = number
            continue
        eq = _key_end(line)
        if eq > 0:
            key = split_key(line[:eq])
            if key is not None:
                # `foo.version = "1"` also places `foo` here, the line a finding about it points at
                for n in range(1, len(key) + 1):
                    idx.keys.setdefault(current + key[:n], number)
            value = line[eq + 1 :].strip()
            for q in ('"""', "'''"):
                if value.startswith(q) and value.count(q) == 1:
                    in_multiline = q
            depth = max(0, _bracket_delta(value))
        last_content = number
    idx.table_ends[current] = last_content
    return idx


def _bracket_delta(text: str) -> int:
    delta, quote = 0, ""
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch in "[{":
            delta += 1
        elif ch in "]}":
            delta -= 1
    return delta
