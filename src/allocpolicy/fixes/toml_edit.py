"""Cargo.toml edits through tomlkit, handed out as minimal whole-line edits.

The one edit most fixes make, a key added to a table that exists (`AddKey`), is done on
lines when that is provably the same: it saves tomlkit's import, ~30 ms of a ~140 ms
one-service scan (benchmarks/README.md, fifth round).
"""

from __future__ import annotations

import re

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import record
from allocpolicy.fixes.edits import line_diff
from allocpolicy.model import Edit
from allocpolicy.parsing.toml_lines import index_toml

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


@record(frozen=True)
class AddKey:
    """`key = { k = v, ... }` in the table at `table` (created if missing), unless the key
    is there already. Callable on a tomlkit document like any other change."""

    table: tuple[str, ...]
    key: str
    items: tuple[tuple[str, str | bool], ...]  # the inline table's entries, in order

    def __call__(self, doc: Any) -> bool:
        table = table_at(doc, self.table)
        if self.key in table:
            return False
        put_key(table, self.key, inline_table(**dict(self.items)))
        return True

    def line(self) -> str | None:
        """The line tomlkit would write, or None for a value this module does not spell."""
        values = [_scalar(v) for _k, v in self.items]
        if not _BARE_KEY.fullmatch(self.key) or None in values:
            return None
        parts = [
            f"{k.replace('_', '-')} = {v}" for (k, _v), v in zip(self.items, values, strict=True)
        ]
        return f"{self.key} = {{ {', '.join(parts)} }}"

    def value(self) -> dict[str, str | bool]:
        return {k.replace("_", "-"): v for k, v in self.items}


_BARE_KEY = lazy_re(r"[A-Za-z0-9_-]+")
_PLAIN_STRING = lazy_re(r"[A-Za-z0-9 ._+*^~<>=,-]*")  # needs no escape in a basic string


def _scalar(v: str | bool) -> str | None:
    if isinstance(v, bool):
        return "true" if v else "false"
    return f'"{v}"' if _PLAIN_STRING.fullmatch(v) else None


def add_keys_on_lines(text: str, data: dict[str, Any], adds: list[AddKey]) -> str | None:
    """`text` with `adds` made on its lines, as tomlkit would make them; None when that is
    not certain (a table to create, indented keys, a value it cannot spell) — the caller
    then uses tomlkit. `data` is tomllib's value of `text`; the result is re-read and must
    equal it plus the new keys, else None."""
    from allocpolicy.parsing.cargo import load_toml

    lines = text.splitlines()
    expected = _copy(data)
    for add in adds:
        table = _dict_at(expected, add.table)
        line = add.line()
        if table is None or line is None:
            return None
        if add.key in table:
            continue
        at = _insertion_line(lines, add.table)
        if at is None:
            return None
        lines.insert(at, line)
        table[add.key] = add.value()
    new = "\n".join(lines) + ("\n" if text.endswith(("\n", "\r")) or not text else "")
    try:
        return new if load_toml(new, cache=True) == expected else None
    except Exception:  # not even TOML: the line reader misread the file
        return None


def _insertion_line(lines: list[str], table: tuple[str, ...]) -> int | None:
    """Index (0-based) of the line the new key goes before: after the table's last key."""
    idx = index_toml(lines)
    header = idx.tables.get(table)
    if header is None or lines[header - 1].lstrip().startswith("[["):
        return None  # only a table that has its own `[header]`
    order = list(idx.tables)  # headers in file order
    mine = [i for i, h in enumerate(order) if h[: len(table)] == table]
    if mine != list(range(mine[0], mine[0] + len(mine))):
        return None  # sub-tables after another table: tomlkit's out-of-order proxy differs
    end = idx.table_ends.get(table, header)
    if end != header and lines[end - 1][:1] in (" ", "\t"):
        return None  # indented keys: tomlkit's indentation rules are not copied here
    return end


def _copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_copy(v) for v in data]
    return data


def _dict_at(data: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    node: Any = data
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def toml_after(text: str, change: Callable[[Any], bool]) -> str | None:
    """The text after `change` ran on its tomlkit document, or None when it changed nothing."""
    import tomlkit

    # A missing final newline makes tomlkit glue a new table onto the last line;
    # apply_edits restores the file's own ending, and line_diff ignores this one.
    doc = tomlkit.parse(text if text.endswith("\n") or not text else text + "\n")
    if not change(doc):
        return None
    return tomlkit.dumps(doc)


def edit_toml(path: str, text: str, change: Callable[[Any], bool]) -> Edit | None:
    """Run `change` on the tomlkit document; return the edit it amounts to."""
    new = toml_after(text, change)
    return None if new is None else line_diff(path, text.splitlines(), new.splitlines())


def inline_table(**items: Any) -> Any:
    """An inline table spelled the way Cargo's docs write it: `{ version = "0.1", ... }`."""
    import tomlkit

    body = ", ".join(
        f"{k.replace('_', '-')} = {tomlkit.item(v).as_string()}" for k, v in items.items()
    )
    # The trailing newline gives the item a line ending of its own; without it a new
    # key swallows the blank line that separates its table from the next one.
    return tomlkit.parse(f"x = {{ {body} }}\n")["x"]


def put_key(table: Any, key: str, value: Any) -> None:
    """`table[key] = value`, a new key placed right after the table's last key.

    tomlkit appends after everything the table holds, and to tomlkit the comment
    lines above the next table header belong to this table: a plain append lands
    the new line under `# Optional extras` that introduces `[features]`.
    """
    from tomlkit.items import AoT, Table

    body = table.value.body if isinstance(table, Table) else None
    if body is None or key in table:
        table[key] = value
        return
    # keys: plain ones and dotted ones (`x.version = ...`, a table to tomlkit); not sub-tables
    last = [
        i
        for i, (k, v) in enumerate(body)
        if k is not None and (not isinstance(v, Table | AoT) or k.is_dotted())
    ]
    at = last[-1] + 1 if last else 0
    if at >= len(body):
        table[key] = value
    else:
        table.value._insert_at(at, key, value)  # private, but tomlkit's only positioned insert


def table_at(doc: Any, path: tuple[str, ...], create: bool = True) -> Any:
    """The (possibly nested, possibly super-) table at path, creating it when asked."""
    import tomlkit

    node = doc
    for i, key in enumerate(path):
        if key not in node:
            if not create:
                return None
            is_leaf = i == len(path) - 1
            node.append(_key(key), tomlkit.table(is_super_table=not is_leaf))
        node = node[key]
    return node


def _key(name: str) -> Any:
    """A key spelled as Cargo's docs do: bare when possible, else `'cfg(target_env = "musl")'`."""
    from tomlkit.items import KeyType, SingleKey

    if re.fullmatch(r"[A-Za-z0-9_-]+", name) or "'" in name:
        return SingleKey(name)
    return SingleKey(name, t=KeyType.Literal)
