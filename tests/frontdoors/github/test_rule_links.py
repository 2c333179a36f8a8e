"""Comments link the rule's page and state its reason; SARIF links the same page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gh_helpers import BASE, HEAD, base_files, f_ap001
from ghdouble import PrFile

from allocpolicy.commands.scan import scan
from allocpolicy.frontdoors.github.command import Options, own_catalogue
from allocpolicy.model import Finding, Location, Severity
from allocpolicy.policy.docs import load
from allocpolicy.reporters.sarif import render as render_sarif

pytestmark = pytest.mark.github
ROOT = Path(__file__).resolve().parents[3]
SHIPPED = [r.id for r in load(ROOT)]


def _inline(double) -> str:
    [c] = [c for c in double.review_comments if c["path"] == "Containerfile"]
    return str(c["body"])


def test_comments_link_the_rule_page_at_the_actions_own_ref(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    bot(
        [f_ap001()],
        env={"GITHUB_ACTION_REPOSITORY": "octo/allocpolicy-fork", "GITHUB_ACTION_REF": "v2.1"},
    )
    body = _inline(double)
    assert "(https://github.invalid/octo/allocpolicy-fork/blob/v2.1/docs/rules/AP001.md)" in body
    assert "allocpolicy explain" not in body


def test_outside_an_action_the_link_is_the_projects_page_at_this_version(double, bot):
    from allocpolicy import __version__

    double.add_pull(7, HEAD, BASE, base_files())
    bot([f_ap001()])
    body = _inline(double)
    url = f"https://github.com/allocpolicy/allocpolicy/blob/v{__version__}/docs/rules/AP001.md"
    assert f"({url})" in body


def test_a_users_own_rule_has_no_page_of_ours_and_keeps_the_explain_hint(double, bot):
    double.add_pull(7, HEAD, BASE, [PrFile("Containerfile", "@@ -0,0 +1 @@\n+FROM x", "added")])
    mine = Finding("ORG001", "my-rule", Severity.WARNING, Location("Containerfile", 1, 1), "m")
    bot([mine])
    body = _inline(double)
    assert "allocpolicy explain ORG001" in body and "docs/rules/ORG001.md" not in body


def test_every_shipped_rule_has_its_generated_page():
    assert len(SHIPPED) > 10
    for rid in SHIPPED:
        page = (ROOT / "docs" / "rules" / f"{rid}.md").read_text(encoding="utf-8")
        assert page.startswith(f"# {rid}: ")
        for heading in ("## What it does", "## Why is this bad?", "## Example", "## Fix safety"):
            assert heading in page, (rid, heading)


def test_sarif_help_uri_is_the_rules_page(tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_ACTION_REPOSITORY", raising=False)
    (tmp_path / "Containerfile").write_text("FROM rust:1-alpine\nRUN cargo build --release\n")
    sarif = json.loads(render_sarif(scan(tmp_path)))
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert rules
    for r in rules:
        uri = r["helpUri"]
        assert uri.endswith(f"/docs/rules/{r['id']}.md"), uri
        assert (ROOT / "docs" / "rules" / f"{r['id']}.md").is_file()


def test_the_why_line_states_the_reason_not_the_guidance(tmp_path):
    catalogue = own_catalogue(Options(path=tmp_path))  # what fork-safe mode renders from
    for rid in SHIPPED:
        why = catalogue[rid].why
        assert why and "guidance" not in why.lower(), (rid, why)
        assert catalogue[rid].summary, rid  # the artifact path's message
    ap001 = catalogue["AP001"].why
    assert "7x" in ap001 and "nickb.dev" in ap001  # the measured number and its source
    assert "10%" in catalogue["AP004"].why and "mimalloc_rust" in catalogue["AP004"].why


def test_the_reason_reaches_the_comment(tmp_path):
    from gh_helpers import CONTAINERFILE_PATCH

    from allocpolicy.frontdoors.github.diffmap import DiffMap, parse_patch
    from allocpolicy.frontdoors.github.plan import build_plan

    catalogue = own_catalogue(Options(path=tmp_path))
    diff = DiffMap(
        files={"Containerfile": parse_patch("Containerfile", CONTAINERFILE_PATCH, "added")}
    )
    plan = build_plan([f_ap001()], catalogue, diff)
    [c] = plan.comments
    [why] = [ln for ln in c.body.splitlines() if ln.startswith("_Why:_")]
    assert "7x" in why and "nickb" in why and "guidance" not in why.lower()
