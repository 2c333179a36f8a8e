"""A user policy is untrusted input (a pull request can add one): bounded, or an error.

What used to hang or crash runs the real command in a subprocess with a deadline, so a
regression fails the test instead of stalling the suite.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import main_without_importing, write_tree
from helpers import run_allocpolicy as allocpolicy

from allocpolicy.cli import main
from allocpolicy.policy import bounds
from allocpolicy.policy.loader import PolicyError, load_rules, parse_policy

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "alpine-no-mimalloc"
HEAD = (
    "version: 1\nrules:\n  - id: TEAM001\n    name: a\n    severity: error\n"
    "    subject: binary\n    summary: s\n    message: m\n"
)  # `when:` follows, on line 9


def rule_with(when: str) -> str:
    return HEAD + f"    when: {when}\n"


def repo_with_policy(root: Path, policy: str, **files: str) -> Path:
    write_tree(root, {rel: (EXAMPLE / rel).read_text() for rel in ("Dockerfile", "Cargo.toml")})
    write_tree(root, {"src/main.rs": "fn main() {}\n"})
    (root / "allocpolicy.toml").write_text('policies = ["team.yaml"]\n')
    (root / "team.yaml").write_text(policy)
    for rel, text in files.items():
        (root / rel).write_text(text)
    return root


def alias_bomb() -> str:
    """Billion laughs: nine levels of nine aliases, 9^9 conditions once expanded."""
    test = "{fact: libc, eq: x}"
    lines = [f"  - &a0 [{', '.join([test] * 9)}]"]
    lines += [f"  - &a{i} [{', '.join([f'{{any: *a{i - 1}}}'] * 9)}]" for i in range(1, 9)]
    rule = rule_with("{any: *a8}").removeprefix("version: 1\n")
    return "version: 1\nx-anchors:\n" + "\n".join(lines) + "\n" + rule


def test_an_alias_bomb_is_refused_before_it_is_built(tmp_path: Path) -> None:
    repo = repo_with_policy(tmp_path, alias_bomb())
    done = allocpolicy("scan", ".", cwd=repo)  # ran for minutes before
    assert done.returncode == 2
    assert "team.yaml:3: YAML anchor &a0: " in done.stderr
    assert "aliases are not supported in policy files" in done.stderr


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        (rule_with("&t {fact: libc, eq: musl}"), 9, "anchor &t"),
        (rule_with("{fact: libc, eq: musl}") + "x: &v musl\n", 10, "anchor &v"),
        (HEAD + "    when: {fact: libc, eq: *m}\n", 9, "alias *m"),
    ],
)
def test_yaml_anchors_and_aliases_are_refused_with_their_line(
    text: str, line: int, what: str
) -> None:
    with pytest.raises(PolicyError) as exc:
        parse_policy("team.yaml", text)
    assert str(exc.value).startswith(f"team.yaml:{line}: YAML {what}: ")


def test_five_hundred_nested_nots_are_an_error_not_a_lost_scan(capsys, tmp_path: Path) -> None:
    deep = "{not: " * 500 + "{fact: libc, eq: musl}" + "}" * 500
    repo = repo_with_policy(tmp_path, rule_with(deep))
    code = main(["scan", str(repo)])
    err = capsys.readouterr().err
    assert code == 2 and "internal error" not in err
    assert re.search(r"team\.yaml:9: nested more than \d+ levels deep", err)


def nested(n: int, combinator: str) -> str:
    test = "{fact: libc, eq: musl}"
    if combinator == "not":
        return "{not: " * (n - 1) + test + "}" * (n - 1)
    return "{all: [" * (n - 1) + test + "]}" * (n - 1)


@pytest.mark.parametrize("combinator", ["not", "all"])
def test_conditions_nest_at_most_32_levels(combinator: str) -> None:
    assert parse_policy("team.yaml", rule_with(nested(32, combinator)))
    with pytest.raises(PolicyError, match="condition nested more than 32 levels deep") as exc:
        parse_policy("team.yaml", rule_with(nested(33, combinator)))
    assert exc.value.line == 9 and exc.value.field.startswith("rules[0].when.")


def test_a_severity_override_is_bounded_as_the_rule_is() -> None:
    block = "{not: " * 40 + "{fact: libc, eq: musl}" + "}" * 40
    text = rule_with("{fact: libc, eq: musl}") + (
        f"    severity_overrides:\n      - severity: info\n        when: {block}\n"
    )
    with pytest.raises(PolicyError, match="nested more than 32") as exc:
        parse_policy("team.yaml", text)
    assert exc.value.line == 12 and exc.value.field.startswith("rules[0].severity_overrides[0]")


def test_an_any_of_more_than_ten_thousand_tests_is_refused() -> None:
    # a 100k-element one is over the file size limit too; this one fits in it
    huge = "{any: [" + ", ".join(["{fact: libc, eq: musl}"] * 10_001) + "]}"
    assert len(rule_with(huge)) < bounds.MAX_POLICY_BYTES
    with pytest.raises(PolicyError, match="more than 10000 terms") as exc:
        parse_policy("team.yaml", rule_with(huge))
    assert exc.value.line == 9 and exc.value.field == "rules[0].when"


def test_in_lists_count_towards_a_condition_s_size() -> None:
    assert parse_policy("team.yaml", rule_with("{fact: crate, in: [" + "a, " * 9_000 + "b]}"))
    with pytest.raises(PolicyError, match="more than 10000 terms"):
        parse_policy("team.yaml", rule_with("{fact: crate, in: [" + "a, " * 10_000 + "b]}"))


def test_a_policy_holds_at_most_a_thousand_rules() -> None:
    def policy(n: int) -> str:
        return "version: 1\nrules:\n" + "".join(
            f"  - {{id: T{i:04d}, name: a, severity: info, subject: binary, summary: s,"
            " message: m, when: {fact: libc, eq: musl}}\n"
            for i in range(n)
        )

    assert len(parse_policy("team.yaml", policy(1000))) == 1000
    with pytest.raises(PolicyError, match="more than 1000 rules") as exc:
        parse_policy("team.yaml", policy(1001))
    assert exc.value.line == 1003


def test_a_policy_file_is_read_no_further_than_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    doc = "    documentation: |\n" + "      padding\n" * (bounds.MAX_POLICY_BYTES // 14)
    path.write_text(rule_with("{fact: libc, eq: musl}") + doc)
    with pytest.raises(PolicyError, match=r"cannot read policy file: file is \d+ bytes, over"):
        load_rules([path])


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="needs FIFOs")
def test_a_fifo_in_place_of_a_policy_is_an_error_not_a_hang(tmp_path: Path) -> None:
    import os

    repo = repo_with_policy(tmp_path, "")
    (repo / "team.yaml").unlink()
    os.mkfifo(repo / "team.yaml")
    done = allocpolicy("scan", ".", cwd=repo)  # read_text() waited for a writer forever
    assert done.returncode == 2
    assert "team.yaml:1: cannot read policy file: not a regular file" in done.stderr


def test_a_catastrophic_pattern_runs_in_linear_time(tmp_path: Path) -> None:
    policy = HEAD.replace("message: m", "message: '{base}'") + (
        '    when: {fact: base, matches: "(x+x+)+y"}\n'
    )
    repo = repo_with_policy(tmp_path, policy)
    dockerfile = (repo / "Dockerfile").read_text()
    (repo / "Dockerfile").write_text(dockerfile.replace("alpine:3.20", "alpine:" + "x" * 44))
    done = allocpolicy("scan", ".", cwd=repo)  # Python's re: minutes per subject
    assert done.returncode == 1, done.stderr
    assert "TEAM001" not in done.stdout


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a)\\1", "invalid escape sequence"),  # a backreference
        ("(?=musl)", "invalid perl operator"),  # lookahead
        ("(?<!g)libc", "invalid perl operator"),  # lookbehind
        ("[musl", "missing ]"),
    ],
)
def test_a_pattern_re2_cannot_run_is_an_error_at_load_naming_rule_and_line(
    capfd, pattern: str, reason: str
) -> None:
    text = rule_with(
        "{all: [{fact: libc, eq: musl}, {fact: base, matches: " + f'"{pattern}"' + "}]}"
    )
    with pytest.raises(PolicyError) as exc:
        parse_policy("team.yaml", text)
    assert exc.value.line == 9 and exc.value.field == "rules[0].when.all[1].matches"
    assert "rule TEAM001: pattern" in exc.value.message and reason in exc.value.message
    assert capfd.readouterr().err == ""  # RE2's own log stays quiet


def test_patterns_search_the_fact_as_the_condition_language_says(tmp_path: Path) -> None:
    policy = HEAD.replace("message: m", "message: '{base}'") + (
        "    when: {all: [{fact: base, matches: 'alp(ine)?:3\\.\\d+$'}, "
        "{fact: image, matches: '(?i)dockerFILE'}]}\n"
    )
    repo = repo_with_policy(tmp_path, policy)
    done = allocpolicy("scan", ".", cwd=repo)
    assert done.returncode == 1 and "TEAM001 [error] alpine:3.20" in done.stdout


def test_a_scan_with_the_shipped_policy_does_not_import_re2() -> None:
    # start-up time: only a policy with a `matches` test pays for the import
    done = main_without_importing("re2", "scan", str(EXAMPLE))
    assert done.returncode == 1, done.stderr
