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

`matches` searches the fact's text with an RE2 pattern (https://github.com/google/re2/wiki/Syntax):
Python's syntax without backreferences and lookaround, in exchange for time linear in
the text whatever the pattern. A policy can come from anyone's pull request, and
`(x+x+)+y` against a 40-character image name took Python's `re` minutes.
"""

from __future__ import annotations

from functools import lru_cache

from allocpolicy.parsing.versions import version_tuple

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
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


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> Any:
    # Imported here: only a policy with a `matches` test pays for the import (~5 ms),
    # and the shipped policy has none.
    import re2

    options = re2.Options()
    options.log_errors = False  # its errors reach the user as policy errors, not on stderr
    return re2.compile(pattern, options=options)


def pattern_error(pattern: str) -> str | None:
    """Why RE2 refuses `pattern` (load time, so the error can name the rule), or None."""
    import re2

    try:
        _regex(pattern)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        return reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
    return None


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


def walk(cond: Any) -> Iterator[tuple[tuple[str | int, ...], Mapping[str, Any]]]:
    """Every condition in `cond`, itself first, with its path from `cond`, in file order.

    Iterative, and it steps only into the shapes a combinator may have: the bounds
    check walks a condition before the schema has seen it.
    """
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), cond)]
    while stack:
        path, c = stack.pop()
        if not isinstance(c, dict):
            continue
        yield path, c
        if "not" in c:
            stack.append(((*path, "not"), c["not"]))
        for key in ("any", "all"):
            if isinstance(c.get(key), list):
                stack.extend(((*path, key, i), x) for i, x in reversed(list(enumerate(c[key]))))


def facts_used(cond: Mapping[str, Any]) -> set[str]:
    used: set[str] = set()
    for _, c in walk(cond):
        if "all" not in c and "any" not in c and "not" not in c:
            used |= {c["fact"]} | ({c["in_fact"]} if "in_fact" in c else set())
    return used
