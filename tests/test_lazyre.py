"""Module patterns compiled on first use answer exactly as `re.compile` would."""

from __future__ import annotations

import re

import pytest

from allocpolicy._lazyre import lazy_re

CASES = [
    (r"(?P<name>[a-z]+)-(\d+)", 0, "app-12 and db-3, not X-9"),
    (r"^\s*FROM\s+(\S+)", re.I | re.M, "from alpine\n  FROM rust:1 AS b\n"),
    (rb"alloc\w*\s*!\s*[({\[]", 0, b"x = allocator!(y); alloc ! {"),
]


@pytest.mark.parametrize(("pattern", "flags", "text"), CASES)
def test_a_lazy_pattern_answers_as_the_compiled_one(pattern, flags, text):
    lazy, real = lazy_re(pattern, flags), re.compile(pattern, flags)
    for _ in range(2):  # before and after its first use
        assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in real.finditer(text)]
        assert lazy.findall(text) == real.findall(text)
        assert lazy.sub(text[:1], text) == real.sub(text[:1], text)
        assert lazy.split(text) == real.split(text)
        assert (lazy.pattern, lazy.flags, lazy.groups) == (real.pattern, real.flags, real.groups)
        assert lazy.groupindex == real.groupindex


def test_a_bad_pattern_fails_where_it_is_used():
    bad = lazy_re(r"(unclosed")
    with pytest.raises(re.error):
        bad.match("x")
