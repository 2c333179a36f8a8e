"""Policy files: the shipped one is valid and documented; bad ones fail with a line and field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from allocpolicy.facts.catalog import SUBJECTS
from allocpolicy.policy.loader import PolicyError, default_policy_text, load_rules, parse_policy

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = [
    "AP001",
    "AP002",
    "AP003",
    "AP004",
    "AP005",
    "AP006",
    "AP007",
    "AP008",
    "AP009",
    "AP010",
    "AP011",
    "AP012",
    "AP900",
]


def test_default_policy_validates_against_schema():
    name, text = default_policy_text()
    rules = parse_policy(name, text, validate=True)
    assert [r.id for r in rules][: len(CATALOGUE)] == CATALOGUE


def test_top_level_policies_dir_is_the_shipped_file():
    assert (ROOT / "policies/default.yaml").read_text() == default_policy_text()[1]


def test_every_rule_is_documented_in_ruff_style():
    for rule in load_rules().values():
        for heading in ("## What it does", "## Fix"):
            assert heading in rule.documentation, (rule.id, heading)
        assert rule.rationale and rule.why.endswith(".")


def test_readme_catalogue_lists_every_rule():
    readme = (ROOT / "README.md").read_text()
    for rule in load_rules().values():
        assert f"| {rule.id} | {rule.name} | {rule.severity.value} |" in readme


def test_facts_doc_matches_catalog():
    doc = (ROOT / "docs/facts.md").read_text()
    for subject, facts in SUBJECTS.items():
        assert f"## `{subject}`" in doc
        for fact in facts:
            assert f"| `{fact}` |" in doc, (subject, fact)


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        (
            "version: 1\nrules:\n  - id: X001\n    name: a\n    severity: error\n    subject: binary\n"
            "    summary: s\n    when: {fact: nope, eq: 1}\n    message: m\n",
            8,
            "rules[0].when",
        ),
        (
            "version: 1\nrules:\n  - id: X001\n    name: a\n    severity: error\n    subject: binary\n"
            "    summary: s\n    when: {fact: libc, eq: musl}\n    message: '{bogus}'\n",
            9,
            "rules[0].message",
        ),
        (
            "version: 1\nrules:\n  - id: X001\n    name: a\n    severity: error\n    subject: binary\n"
            "    summary: s\n    when: {fact: libc, equals: musl}\n    message: m\n",
            8,
            "rules[0].when",
        ),
        (
            # an artifact: variant's facts are its own subject's, not the rule's
            "version: 1\nrules:\n  - id: X001\n    name: a\n    severity: error\n    subject: binary\n"
            "    summary: s\n    when: {fact: libc, eq: musl}\n    message: m\n    artifact:\n"
            "      subject: artifact_binary\n      when: {fact: target, eq: x}\n      message: m\n",
            12,
            "rules[0].artifact.when",
        ),
        (
            "version: 1\nrules:\n  - id: X001\n    name: a\n    severity: error\n    subject: binary\n"
            "    summary: s\n    when: {fact: libc, eq: musl}\n    message: m\n    artifact:\n"
            "      subject: artifact_binary\n      when: {fact: rust, is: true}\n"
            "      message: '{image}'\n",
            13,
            "rules[0].artifact.message",
        ),
        (
            "version: 1\nrules:\n  - id: X001\n    name: a\n    severity: error\n    subject: binary\n"
            "    summary: s\n    when: {fact: libc, eq: musl}\n    message: m\n    artifact:\n"
            "      subject: dependency\n      when: {fact: crate, eq: x}\n      message: m\n",
            11,
            "rules[0].artifact.subject",
        ),
        ("version: 2\nrules: []\n", 1, "version"),
        ("version: 1\nrules: [\n", 3, ""),
    ],
)
def test_bad_policy_errors_point_at_line_and_field(text, line, field):
    with pytest.raises(PolicyError) as exc:
        parse_policy("team.yaml", text)
    assert exc.value.line == line
    assert exc.value.field == field
    assert re.match(r"team\.yaml:\d+: ", str(exc.value))


def test_duplicate_rule_id_from_user_policy(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\nrules:\n  - id: AP001\n    name: a\n    severity: error\n    subject: binary\n"
        "    summary: s\n    when: {fact: libc, eq: musl}\n    message: m\n"
    )
    with pytest.raises(PolicyError, match="already defined"):
        load_rules([path])


def test_compiled_default_is_in_step_with_the_yaml():
    from allocpolicy.policy.loader import COMPILED_DEFAULT, compile_default

    assert COMPILED_DEFAULT.read_text() == compile_default(), (
        "run: python -m allocpolicy.policy.loader"
    )
