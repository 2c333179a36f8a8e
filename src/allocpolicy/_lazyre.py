"""Regular expressions compiled on first use.

CPython compiles a pattern in pure Python (``re._parser``/``re._compiler``), 0.1-0.3 ms
each: the modules' ~60 patterns cost ~10 ms of every run's imports, and a one-service
scan or a pre-commit check uses a third of them (benchmarks/README.md, fifth round).
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any, AnyStr

# What callers use; after the first use each is a plain attribute of the instance
# (the compiled pattern's own bound method), so a hot loop pays no indirection.
_FORWARDED = (
    "match",
    "fullmatch",
    "search",
    "sub",
    "subn",
    "split",
    "findall",
    "finditer",
    "pattern",
    "flags",
    "groups",
    "groupindex",
)


class LazyPattern:
    """Stands in for `re.compile(pattern, flags)` until an attribute is first asked for."""

    def __init__(self, pattern: str | bytes, flags: int) -> None:
        self._args = (pattern, flags)

    def __getattr__(self, name: str) -> Any:
        pattern, flags = self._args
        compiled: re.Pattern[Any] = re.compile(pattern, flags)
        self.__dict__.update({a: getattr(compiled, a) for a in _FORWARDED})
        return getattr(compiled, name)

    def __repr__(self) -> str:
        return f"lazy_re({self._args[0]!r})"


def lazy_re(pattern: AnyStr, flags: int = 0) -> re.Pattern[AnyStr]:
    """`re.compile(pattern, flags)`, compiled when first used (typed as the pattern it becomes)."""
    return LazyPattern(pattern, flags)  # type: ignore[return-value]
