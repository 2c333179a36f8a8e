from __future__ import annotations

import pytest

from allocpolicy.parsing.versions import version_tuple
from allocpolicy.policy.conditions import evaluate, facts_used

FACTS = {
    "libc": "musl",
    "allocator": "system",
    "recommended": ["jemalloc"],
    "features": ["override"],
    "locked_version": "0.1.43",
    "optional": False,
    "target": None,
}


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ({"fact": "libc", "eq": "musl"}, True),
        ({"fact": "libc", "ne": "musl"}, False),
        ({"fact": "allocator", "in": ["system", "other"]}, True),
        ({"fact": "allocator", "not_in": ["mimalloc", "unknown"]}, True),
        ({"fact": "allocator", "in_fact": "recommended"}, False),
        ({"fact": "optional", "is": False}, True),
        ({"fact": "target", "exists": False}, True),
        ({"fact": "target", "eq": None}, False),  # a missing fact equals nothing
        ({"fact": "features", "contains": "override"}, True),
        ({"fact": "libc", "matches": "^mu"}, True),
        ({"fact": "locked_version", "version_lt": "0.1.43"}, False),
        ({"fact": "locked_version", "version_ge": "0.1.38"}, True),
        ({"fact": "target", "version_lt": "1"}, False),
        (
            {
                "all": [
                    {"fact": "libc", "eq": "musl"},
                    {"not": {"fact": "allocator", "eq": "mimalloc"}},
                ]
            },
            True,
        ),
        ({"any": [{"fact": "libc", "eq": "glibc"}, {"fact": "optional", "is": True}]}, False),
    ],
)
def test_operators(cond, expected):
    assert evaluate(cond, FACTS.get) is expected


def test_facts_used_and_versions():
    cond = {"all": [{"fact": "a", "eq": 1}, {"not": {"fact": "b", "in_fact": "c"}}]}
    assert facts_used(cond) == {"a", "b", "c"}
    assert version_tuple("0.1.38+abc") == (0, 1, 38) < version_tuple("0.1.43")
