"""`allocpolicy inventory`: per image, what ships, for which libc, on which allocator, and why."""

from __future__ import annotations

import json
from typing import Any

COLUMNS = (
    "file",
    "stage",
    "base",
    "libc",
    "binary",
    "target",
    "linkage",
    "allocator",
    "ld_preload",
)


def render(rows: list[dict[str, Any]], fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
    if not rows:
        return "No Containerfiles found.\n"
    cells = [[str(r.get(c) if r.get(c) is not None else "-") for c in COLUMNS] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(COLUMNS)]
    out = ["  ".join(c.upper().ljust(w) for c, w in zip(COLUMNS, widths, strict=False)).rstrip()]
    for r, row in zip(rows, cells, strict=False):
        out.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)).rstrip())
        out += [f"    - {why}" for why in r.get("reasons", [])]
    return "\n".join(out) + "\n"
