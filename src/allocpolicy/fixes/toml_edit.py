"""Cargo.toml edits through tomlkit, handed out as minimal whole-line edits."""

from __future__ import annotations

import re

from allocpolicy.fixes.edits import line_diff
from allocpolicy.model import Edit

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


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
