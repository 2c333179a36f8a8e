"""gitignore-style patterns (`.gitignore`, the `exclude` setting), matched without pathspec.

Importing pathspec costs ~50 ms (it brings typing, dataclasses and inspect), a
tenth of a 300-service scan and most of a 30-service one, while nearly every
ignore file uses a small part of the syntax: `*`, `?`, `**` segments, `/`
anchors and a trailing `/`. `compile_ignore` translates exactly that and
returns None for anything else (character classes, escapes, `!` re-inclusion,
`**` inside a segment...), which then goes to pathspec's GitIgnoreSpec. tests/test_ignore.py
checks that both agree on generated patterns and paths.

A matcher takes a relative posix path, with a trailing `/` for a directory.
"""

from __future__ import annotations

import itertools
import re

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["compile_ignore", "ignore_matcher"]

_SEGMENT = re.compile(r"[A-Za-z0-9._+@=,~%*?-]+")


def ignore_matcher(lines: list[str]) -> Callable[[str], bool]:
    """A matcher for `lines`: ours when it can read them, else pathspec's."""
    quick = compile_ignore(lines)
    if quick is not None:
        return quick
    import pathspec

    try:
        return pathspec.GitIgnoreSpec.from_lines(lines).match_file
    except (ValueError, re.error):  # a pattern git cannot use (a lone `\\`, `[z-a]`): drop it
        valid = [ln for ln in lines if _valid_pattern(pathspec, ln)]
        return pathspec.GitIgnoreSpec.from_lines(valid).match_file


def _valid_pattern(pathspec: object, line: str) -> bool:
    try:
        pathspec.GitIgnoreSpec.from_lines([line])  # type: ignore[attr-defined]
    except (ValueError, re.error):
        return False
    return True


def compile_ignore(lines: list[str]) -> Callable[[str], bool] | None:
    rules: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if "\\" in line:
            return None  # escapes
        line = line.rstrip()
        if not line or line.startswith("#") or line == "/":
            continue
        if line.startswith("!"):
            return None  # re-inclusion has precedence rules (a parent directory's match wins)
        regex = _translate(line)
        if regex is None:
            return None
        rules.append(regex)
    if not rules:
        return lambda path: False
    one = re.compile("|".join(f"(?:{r})" for r in rules))
    return lambda path: one.match(path) is not None


def _translate(pattern: str) -> str | None:
    """The regular expression for one pattern; None outside the subset read here."""
    directory = pattern.endswith("/")
    body = pattern[:-1] if directory else pattern
    if not body or body.endswith("/") or "//" in body:
        return None  # `foo//` and the like match nothing in git: pathspec knows
    anchored = "/" in body
    segments = body.lstrip("/").split("/")
    if not all(s == "**" or (_SEGMENT.fullmatch(s) and "**" not in s) for s in segments):
        return None
    if set(segments) <= {"*", "**"} or any(a == b == "**" for a, b in itertools.pairwise(segments)):
        return None  # `**`, `*/`, `**/**`...: rare, and special cases of their own
    out = "" if anchored else "(?:.+/)?"
    need_slash = False
    last = len(segments) - 1
    for i, seg in enumerate(segments):
        if seg == "**":
            if i == 0:
                out = "(?:.+/)?"
            elif i < last:
                out += "(?:/.+)?"
                need_slash = True
            else:
                return out + "/.*$"  # everything inside, not the directory itself
            continue
        if need_slash:
            out += "/"
        out += _glob(seg)
        need_slash = True
    return out + ("/.*$" if directory else "(?:/.*)?$")


def _glob(segment: str) -> str:
    if segment == "*":
        return "[^/]+"
    return "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in segment)
