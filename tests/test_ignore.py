"""gitignore matching must give real git's answer for every path (`git check-ignore` is the judge)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gitignore_cases import EXAMPLES, cases, git_ignored, write_case
from hypothesis import HealthCheck, given, settings

from allocpolicy.ignore import MAX_WILDCARD_TEXT, IgnoreTree, PatternList, lines, rules

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"


def verdicts(root: Path, paths: list[str], dirs: set[str]) -> set[str]:
    tree = IgnoreTree(str(root))
    return {p for p in paths if tree.ignored(p, p in dirs)}


def agree_with_git(
    root: Path, gitignore: str, files: list[str], dirs: list[str] | None = None
) -> set[str]:
    """Write the tree, check every path against git, and give git's ignored set."""
    dirs = dirs or sorted({f.rsplit("/", n)[0] for f in files for n in range(1, f.count("/") + 1)})
    write_case(root, dirs, files, {"": gitignore})
    paths = [*dirs, *files]
    expected = git_ignored(root, paths)
    assert verdicts(root, paths, set(dirs)) == expected
    return expected


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(cases())
def test_every_path_is_ignored_exactly_when_git_ignores_it(tmp_path_factory, case) -> None:
    """Directories and files, nested .gitignore files, negation, malformed and odd patterns."""
    dirs, files, ignores = case
    root = tmp_path_factory.mktemp("case") / "repo"
    write_case(root, dirs, files, ignores)
    paths = dirs + files
    expected = git_ignored(root, paths)
    assert verdicts(root, paths, set(dirs)) == expected, ignores


@pytest.mark.parametrize(
    "gitignore",
    ["foo\\\n", "[z-a]\n", "x[z-ab]\n", "[a\n", "[[:nope:]]\n", "a/b\\\n*.rs\n", "\\\n"],
)
def test_a_malformed_pattern_is_read_as_git_reads_it(tmp_path: Path, gitignore: str) -> None:
    """A trailing backslash or unclosed class matches nothing; `[z-a]` is `[z]`, as in git."""
    files = ["foo", "foo\\", "z", "y", "xb", "xz", "[a", "a/b", "a/b\\", "m.rs", "\\"]
    agree_with_git(tmp_path / "repo", gitignore, files, dirs=["a"])


@pytest.mark.parametrize("gitignore", ["foo\\\n", "[z-a]\n"])
def test_a_malformed_pattern_is_no_internal_error(tmp_path: Path, gitignore: str) -> None:
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES_DIR / "alpine-no-mimalloc", root)
    (root / ".gitignore").write_text(gitignore)
    done = subprocess.run(
        [sys.executable, "-m", "allocpolicy", "scan", "--format", "json", "."],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "internal error" not in done.stderr
    assert [f["rule"] for f in json.loads(done.stdout)["findings"]] == ["AP001"]


@pytest.mark.parametrize(
    "gitignore",
    [
        "*\n!*/\n!*.toml\n!*.rs\n!Dockerfile\n",  # an allow-list: directories re-included
        "*\n!*.rs\n!Cargo.toml\n",  # not re-included: nothing below them can be
        "/*\n!/src/\n",
        "src/\n!src/main.rs\n",  # a file in an ignored directory cannot be re-included
        "src/*\n!src/main.rs\n",  # ...but one whose directory is not ignored can
        "**/x\n!a/**\n",
    ],
)
def test_re_inclusion_follows_the_parent_directory_rule(tmp_path: Path, gitignore: str) -> None:
    files = ["Cargo.toml", "Dockerfile", "src/main.rs", "src/lib.rs", "a/x/y.rs", "a/b/x"]
    agree_with_git(tmp_path / "repo", gitignore, files, dirs=["src", "a", "a/x", "a/b"])


@pytest.mark.parametrize(
    ("gitignore", "ignored"),
    [
        (
            "a**/b\n",
            {"a/b", "ab", "ax/y/b", "a/x/b"},
        ),  # the literal prefix is compared apart (git's quirk)
        ("a/**\\/b\n", {"a/x/b"}),  # `**\/` needs a directory: no shortcut, as in git
        ("x[[:space:]]\n", {"x\t", "x "}),  # git's isspace has no \v or \f
        ("q?\n", set()),  # `?` is one byte, and é is two
        ("r??\n", {"ré"}),
        ("[é]x\n", set()),  # a class of bytes: é's first byte, then `x` must follow
        ("foo\\ \nbar  \n", {"foo ", "bar"}),  # an escaped trailing space stays, others go
        ("\\#c\n\\!d\n#e\n", {"#c", "!d"}),
        ("!\n/\n//\n\n", set()),
        ("\ufeffbom\r\n", {"bom"}),  # a BOM before the first line, a CR before LF
    ],
)
def test_byte_level_details_match_git(tmp_path: Path, gitignore: str, ignored: set[str]) -> None:
    files = ["a/b", "ab", "ax/y/b", "a/x/b", "x\t", "x\v", "x\f", "x ", "qé", "ré", "éx"]
    files += ["foo ", "foo", "bar", "bar ", "#c", "!d", "#e", "e", "bom"]
    dirs = ["a", "a/x", "ax", "ax/y"]
    assert agree_with_git(tmp_path / "repo", gitignore, files, dirs) == ignored


DEEP = "/".join(["a"] * 70)


@pytest.mark.parametrize(
    ("pattern", "ignored", "kept"),
    [
        # exponential for a naive translation, and for git's own wildmatch: `git check-ignore`
        # takes minutes on the 203-byte name, so the answers here are worked out by hand
        ("*a" * 40 + "*b", ["a" * 50 + "b"], ["a" * 200 + ".rs", "x", "a" * 39 + "b"]),
        ("**/a/" * 40 + "b", [DEEP + "/b"], [DEEP + "/c", "/".join(["a"] * 39) + "/b"]),
        ("**\\/" * 60 + "b", [DEEP + "/b"], ["/".join(["a"] * 50) + "/b", "b"]),
        ("*?" * 500, [], ["a" * 255, DEEP + "/c"]),  # a name is at most 255 bytes
        ("*" * 100_000 + "x", ["x", "ax", DEEP + "/x"], ["a" * 200 + ".rs"]),
        ("[!b]*" * 100 + "c", ["a" * 150 + "c"], ["a" * 99 + "c", "a" * 200 + ".rs"]),
        ("a" * 5000 + "*", [], ["a" * 255]),  # needs a longer path than any: dropped
    ],
)
def test_a_pathological_pattern_is_answered_quickly(
    tmp_path: Path, pattern: str, ignored: list[str], kept: list[str]
) -> None:
    (tmp_path / ".gitignore").write_text(pattern + "\n")
    tree = IgnoreTree(str(tmp_path))
    started = time.perf_counter()
    assert [p for p in ignored + kept if tree.ignored(p)] == ignored
    assert time.perf_counter() - started < 2


def test_many_literal_patterns_are_looked_up_not_compiled() -> None:
    """A long generated .gitignore is mostly names and paths: no regular expression for them."""
    patterns = lines(
        "\n".join(f"gen/file{i}.rs\nname{i}\n*.ext{i}\n!keep{i}" for i in range(20_000))
    )
    started = time.perf_counter()
    found = PatternList(rules(patterns))
    assert found.decide("gen/file7.rs", False) is True
    assert found.decide("x/name19999", True) is True
    assert found.decide("x/a.ext123", False) is True
    assert found.decide("keep3", False) is False
    assert found.decide("gen/file7.rsx", False) is None
    assert time.perf_counter() - started < 5


def test_too_many_wildcard_patterns_are_not_applied_and_say_so(tmp_path: Path) -> None:
    line = "*a[bc]*d%d\n"
    count = MAX_WILDCARD_TEXT // 20 + 1
    (tmp_path / ".gitignore").write_text("".join(line % i for i in range(count)))
    tree = IgnoreTree(str(tmp_path))
    started = time.perf_counter()
    assert not tree.ignored("xabd1")
    assert time.perf_counter() - started < 5
    assert tree.problems and tree.problems[0][0] == ".gitignore"
    assert "too many wildcard patterns" in tree.problems[0][1]


def test_the_exclude_setting_is_its_own_list(tmp_path: Path) -> None:
    """A `!` in a .gitignore does not re-include what the setting excludes, nor the reverse."""
    (tmp_path / ".gitignore").write_text("!vendor/\nbuild/\n")
    tree = IgnoreTree(str(tmp_path), ["vendor/", "!build/"])
    assert tree.ignored("vendor", True) and tree.ignored("vendor/x.rs")
    assert tree.ignored("build", True) and tree.ignored("build/x.rs")
    assert not tree.ignored("src/x.rs")
