"""The condition language of policy files.

A condition is a mapping. Combinators: `all: [c, ...]`, `any: [c, ...]`,
`not: c`. A test names a fact and one operator:

    {fact: libc, eq: musl}            {fact: allocator, in: [jemalloc, tcmalloc]}
    {fact: profile, ne: simple}       {fact: allocator, not_in: [mimalloc, unknown]}
    {fact: optional, is: true}        {fact: expected_path, exists: true}
    {fact: locked_version, version_lt: "0.1.43"}   (also version_ge)
    {fact: features, contains: override}          {fact: crate, matches: "^tcmalloc"}
    {fact: allocator, in_fact: recommended}       (membership in another fact's list)

A missing fact is None: `eq`/`in`/`is`/`contains`/`matches`/`version_*` are false
on it, `ne`/`not_in` true, `exists: false` true.
"""

from __future__ import annotations

import re
from functools import lru_cache

from allocpolicy.parsing.versions import version_tuple

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

OPERATORS = (
    "eq",
    "ne",
    "in",
    "not_in",
    "in_fact",
    "is",
    "exists",
    "contains",
    "matches",
    "version_lt",
    "version_ge",
)


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _version_cmp(value: Any, bound: Any, lower: bool) -> bool:
    if not value:
        return False
    a, b = version_tuple(str(value)), version_tuple(str(bound))
    if not a:
        return False
    return a < b if lower else a >= b


_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda v, x: v is not None and v == x,
    "ne": lambda v, x: v != x,
    "in": lambda v, x: v is not None and v in x,
    "not_in": lambda v, x: v not in x,
    "is": lambda v, x: v is x,
    "exists": lambda v, x: (v is not None) == bool(x),
    "contains": lambda v, x: isinstance(v, (list, tuple, set, frozenset)) and x in v,
    "matches": lambda v, x: isinstance(v, str) and _regex(x).search(v) is not None,
    "version_lt": lambda v, x: _version_cmp(v, x, True),
    "version_ge": lambda v, x: _version_cmp(v, x, False),
}


def evaluate(cond: Mapping[str, Any], fact: Callable[[str], Any]) -> bool:
    """Whether a subject meets the condition; `fact(name)` reads one of its facts (None if absent)."""
    if "all" in cond:
        return all(evaluate(c, fact) for c in cond["all"])
    if "any" in cond:
        return any(evaluate(c, fact) for c in cond["any"])
    if "not" in cond:
        return not evaluate(cond["not"], fact)
    value = fact(cond["fact"])
    if "in_fact" in cond:
        other = fact(cond["in_fact"])
        return (
            value is not None
            and isinstance(other, (list, tuple, set, frozenset))
            and value in other
        )
    for op in OPERATORS:
        if op in cond:
            return _TESTS[op](value, cond[op])
    raise ValueError(f"condition has no operator: {dict(cond)}")


def facts_used(cond: Mapping[str, Any]) -> set[str]:
    if "all" in cond or "any" in cond:
        return set().union(*(facts_used(c) for c in cond.get("all", cond.get("any", []))))
    if "not" in cond:
        return facts_used(cond["not"])
    return {cond["fact"]} | ({cond["in_fact"]} if "in_fact" in cond else set())
