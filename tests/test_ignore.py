"""Our gitignore matcher must agree with pathspec's GitIgnoreSpec wherever it answers."""

from __future__ import annotations

import pathspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocpolicy.ignore import compile_ignore, ignore_matcher

NAMES = [
    "target",
    "node_modules",
    "a",
    "b",
    "x.log",
    "dist",
    ".env",
    "keep.log",
    "src",
    "Dockerfile",
    "a.b",
]
SEGMENTS = st.sampled_from(
    ["target", "a", "b", "*", "*.log", "?", "x?", "**", "dist", ".env", "src", "keep.log", "d*t"]
)
PATTERNS = st.builds(  # re-inclusion (`!`) always goes to pathspec: tested below
    lambda lead, segs, trail: ("/" if lead else "") + "/".join(segs) + ("/" if trail else ""),
    st.booleans(),
    st.lists(SEGMENTS, min_size=1, max_size=3),
    st.booleans(),
)
PATHS = st.builds(
    lambda parts, is_dir: "/".join(parts) + ("/" if is_dir else ""),
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=4),
    st.booleans(),
)


_SHORT = ["a", "b", "target", "x.log", "dist"]
EVERY_PATH = [  # every file and directory path up to three levels of these names
    "/".join(parts) + slash
    for parts in [(x,) for x in _SHORT]
    + [(x, y) for x in _SHORT for y in _SHORT]
    + [(x, y, z) for x in _SHORT for y in _SHORT for z in _SHORT]
    for slash in ("", "/")
]


@settings(max_examples=600, deadline=None)
@given(st.lists(PATTERNS, min_size=1, max_size=3), st.lists(PATHS, min_size=1, max_size=8))
def test_agrees_with_pathspec(patterns: list[str], paths: list[str]) -> None:
    quick = compile_ignore(patterns)
    if quick is None:
        return
    spec = pathspec.GitIgnoreSpec.from_lines(patterns)
    for path in paths + EVERY_PATH:
        assert quick(path) == spec.match_file(path), (patterns, path)


@pytest.mark.parametrize(
    "lines",
    [
        ["/target", "/node_modules", "**/*.log", "/dist/", ".env", "# comment", ""],
        ["target/", "*.rs.bk", "Cargo.lock"],
        ["**/node_modules/**", "docs/**/*.md"],
    ],
)
def test_common_ignore_files_take_the_fast_path(lines: list[str]) -> None:
    quick = compile_ignore(lines)
    assert quick is not None
    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    for path in [
        "target/",
        "target/x",
        "a/target/",
        "x.log",
        "a/b/keep.log",
        "dist/",
        "dist",
        "src/main.rs",
        "node_modules/",
        "a/node_modules/b/",
        "docs/a/b.md",
        "docs/b.md",
        "Cargo.lock",
        "a/x.rs.bk",
    ]:
        assert quick(path) == spec.match_file(path), path


@pytest.mark.parametrize(
    "lines", [["[Bb]uild/"], ["\\#notes"], ["a**b"], ["!keep"], [" leading"], ["**"], ["foo//"]]
)
def test_the_rest_goes_to_pathspec(lines: list[str]) -> None:
    assert compile_ignore(lines) is None
    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    matcher = ignore_matcher(lines)
    for path in [
        "build/",
        "Build/x",
        "#notes",
        "axxb",
        "leading",
        " leading",
        "a/b",
        "foo/",
        "foo/x",
    ]:
        assert matcher(path) == spec.match_file(path)


def test_patterns_git_cannot_use_are_dropped_not_raised() -> None:
    match = ignore_matcher(["\\", "[z-a]", "target/"])
    assert match("target/") and not match("src/")
