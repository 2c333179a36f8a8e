"""Whether a Rust file can declare a `#[global_allocator]`, without loading the Rust scanner.

Most sources of a repository never mention the attribute, and templates mention it
in a comment ("add a #[global_allocator] here"); neither needs parsing.rust, whose
import (and tree-sitter's, behind it) a pre-commit check would otherwise pay.
"""

from __future__ import annotations

NEEDLE = b"global_allocator"


def might_declare_allocator(data: bytes) -> bool:
    """The cheap pre-check: only files passing it are worth parsing."""
    return NEEDLE in data and not only_in_line_comments(data)


def only_in_line_comments(data: bytes) -> bool:
    """True when every needle sits on a line that starts with `//`.

    Templates often say "add a #[global_allocator] here" in a comment; such a file
    declares nothing, and loading tree-sitter to learn that costs more than the
    rest of a pre-commit check. A line starting with `//` is a comment, or the
    inside of a string or block comment: never an attribute, as long as no `*/`
    or `"` on it could end that comment or string before the needle.
    """
    at = data.find(NEEDLE)
    while at >= 0:
        start = data.rfind(b"\n", 0, at) + 1
        before = data[start:at]
        # ...unless a block comment or string that the line is part of ends before the needle
        if not before.lstrip().startswith(b"//") or b"*/" in before or b'"' in before:
            return False
        at = data.find(NEEDLE, at + len(NEEDLE))
    return True
