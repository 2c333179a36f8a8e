"""The fork-safe two-workflow setup: pull_request writes a findings file, workflow_run posts it."""

from __future__ import annotations

import json

import pytest
from gh_helpers import HEAD, HEAD2, base_files, f_ap001, f_ap003, f_ap004_main, parse_outputs

from allocpolicy.frontdoors.github import main
from allocpolicy.model import Finding, Location, Severity

pytestmark = pytest.mark.github


@pytest.fixture
def runner(tmp_path, monkeypatch, double):
    def go(argv, event: dict, event_name: str, token: str):
        out = tmp_path / f"out-{event_name}"
        summary = tmp_path / f"summary-{event_name}"
        out.write_text("")
        summary.write_text("")
        ev = tmp_path / f"{event_name}.json"
        ev.write_text(json.dumps(event))
        for k, v in {
            "GITHUB_EVENT_PATH": str(ev),
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_OUTPUT": str(out),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_REPOSITORY": "octo/app",
            "GITHUB_API_URL": double.base_url,
            "ALLOCPOLICY_GITHUB_TOKEN": token,
            "GITHUB_WORKSPACE": str(tmp_path),
        }.items():
            monkeypatch.setenv(k, v)
        code = main(["--seconds-between-writes", "0", *argv])
        return code, parse_outputs(out.read_text()), summary.read_text()

    return go


def workflow_run_event(head=HEAD, prs=()):
    return {
        "action": "completed",
        "workflow_run": {
            "head_sha": head,
            "head_repository": {"full_name": "mallory/app"},
            "pull_requests": [{"number": n} for n in prs],
            "conclusion": "failure",
        },
        "repository": {"full_name": "octo/app"},
    }


def write_findings(bot, event_file, tmp_path, findings):
    """Workflow A: a fork PR, read-only token; annotations + the findings file."""
    path = tmp_path / "allocpolicy-findings.json"
    r = bot(
        findings, token="ro-token", event=event_file(head_repo="mallory/app"), findings_out=path
    )
    assert r.outputs["reporter"] == "annotations"
    return path


def test_two_workflows_post_the_review_from_the_artifact(double, bot, event_file, tmp_path, runner):
    double.add_pull(7, HEAD, "b" * 40, base_files(), head_repo="mallory/app")
    path = write_findings(bot, event_file, tmp_path, [f_ap001(), f_ap003(), f_ap004_main()])
    assert double.writes() == []
    # workflow B: the fork's run has no pull_requests[]; the PR number comes from the file,
    # and is checked against GitHub (head sha, repositories) before anything is posted
    code, outputs, _summary = runner(
        ["--findings-in", str(path)], workflow_run_event(), "workflow_run", "bot-token"
    )
    [review] = double.calls("pulls/create-review")
    assert review["body"]["commit_id"] == HEAD
    assert {c["path"] for c in review["body"]["comments"]} == {"Containerfile", "Cargo.toml"}
    assert code == 1 and outputs["reporter"] == "review"
    # and again: idempotent
    n = len(double.writes())
    runner(["--findings-in", str(path)], workflow_run_event(), "workflow_run", "bot-token")
    assert double.writes()[n:] == []


def test_artifact_for_a_stale_commit_is_not_posted(double, bot, event_file, tmp_path, runner):
    double.add_pull(7, HEAD, "b" * 40, base_files(), head_repo="mallory/app")
    path = write_findings(bot, event_file, tmp_path, [f_ap001()])
    double.push(7, HEAD2, base_files())
    _code, outputs, summary = runner(
        ["--findings-in", str(path)], workflow_run_event(), "workflow_run", "bot-token"
    )
    assert double.writes() == [] and "moved on" in summary and outputs["reporter"] == "annotations"


def test_artifact_naming_another_pr_is_refused(double, bot, event_file, tmp_path, runner):
    double.add_pull(7, HEAD, "b" * 40, base_files(), head_repo="mallory/app")
    path = write_findings(bot, event_file, tmp_path, [f_ap001()])
    _code, _outputs, summary = runner(
        ["--findings-in", str(path)], workflow_run_event(prs=[9]), "workflow_run", "bot-token"
    )
    assert double.writes() == [] and "not about" in summary


def test_artifact_lines_are_revalidated_against_the_pr(double, bot, event_file, tmp_path, runner):
    double.add_pull(7, HEAD, "b" * 40, base_files(), head_repo="mallory/app")
    lying = Finding(
        "AP001",
        "musl-default-allocator",
        Severity.ERROR,
        Location("Containerfile", 99, 1),
        "claims a line that is not in the diff",
        snippet="x",
    )
    ghost = Finding(
        "AP001",
        "musl-default-allocator",
        Severity.ERROR,
        Location("not/in/pr.toml", 1, 1),
        "claims a file that is not in the PR",
        snippet="y",
    )
    path = write_findings(bot, event_file, tmp_path, [lying, ghost])
    _code, _outputs, _summary = runner(
        ["--findings-in", str(path)], workflow_run_event(), "workflow_run", "bot-token"
    )
    assert double.calls("pulls/create-review") == []
    body = double.issue_comments[0]["body"]
    assert "Containerfile:99" in body and "not/in/pr.toml" not in body


def test_tampered_artifact_is_rejected(double, bot, event_file, tmp_path, runner):
    double.add_pull(7, HEAD, "b" * 40, base_files(), head_repo="mallory/app")
    path = write_findings(bot, event_file, tmp_path, [f_ap001()])
    data = json.loads(path.read_text())
    data["findings"][0]["path"] = "../../.github/workflows/x.yml"
    path.write_text(json.dumps(data))
    code, _outputs, _summary = runner(
        ["--findings-in", str(path)], workflow_run_event(), "workflow_run", "bot-token"
    )
    assert code == 2 and double.writes() == []
