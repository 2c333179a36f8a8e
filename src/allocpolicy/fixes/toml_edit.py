"""Cargo.toml edits through tomlkit, handed out as minimal whole-line edits."""

from __future__ import annotations

from typing import Any, Callable

from allocpolicy.model import Edit

from allocpolicy.fixes.edits import line_diff


def edit_toml(path: str, text: str, change: Callable[[Any], bool]) -> Edit | None:
    """Run `change` on the tomlkit document; return the edit it amounts to."""
    import tomlkit

    doc = tomlkit.parse(text)
    if not change(doc):
        return None
    new = tomlkit.dumps(doc)
    return line_diff(path, text.splitlines(), new.splitlines())


def inline_table(**items: Any) -> Any:
    """An inline table spelled the way Cargo's docs write it: `{ version = "0.1", ... }`."""
    import tomlkit

    body = ", ".join(f"{k.replace('_', '-')} = {tomlkit.item(v).as_string()}" for k, v in items.items())
    return tomlkit.parse(f"x = {{ {body} }}")["x"]


def table_at(doc: Any, path: tuple[str, ...], create: bool = True) -> Any:
    """The (possibly nested, possibly super-) table at path, creating it when asked."""
    import tomlkit

    node = doc
    for i, key in enumerate(path):
        if key not in node:
            if not create:
                return None
            is_leaf = i == len(path) - 1
            node[key] = tomlkit.table(is_super_table=not is_leaf)
        node = node[key]
    return node
