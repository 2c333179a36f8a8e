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


def scan_then_write_findings(tmp_path, double, runner):
    """Workflow A for real: scan a fork PR's checkout (an AP001 Containerfile), write the file."""
    from test_action import github_patches, make_repo

    repo, base, head = make_repo(tmp_path)
    double.add_pull(7, head, base, github_patches(repo, base, head), head_repo="mallory/app")
    event = {
        "action": "synchronize",
        "number": 7,
        "pull_request": {
            "number": 7,
            "state": "open",
            "draft": False,
            "head": {"sha": head, "ref": "feature", "repo": {"full_name": "mallory/app"}},
            "base": {"sha": base, "ref": "main", "repo": {"full_name": "octo/app"}},
        },
        "repository": {"full_name": "octo/app"},
    }
    path = tmp_path / "allocpolicy-findings.json"
    code, outputs, _ = runner(
        ["--path", str(repo), "--findings-out", str(path)], event, "pull_request", "ro-token"
    )
    assert outputs["reporter"] == "annotations" and double.writes() == []
    assert code == 1 and "AP001" in path.read_text()
    return path, head


def posted_bodies(double) -> str:
    reviews = double.calls("pulls/create-review")
    return "\n".join(
        [r["body"].get("body", "") for r in reviews]
        + [c["body"] for r in reviews for c in r["body"].get("comments", [])]
        + [c["body"] for c in double.issue_comments]
    )


def test_artifact_written_by_a_real_scan_is_posted_in_the_catalogues_words(
    double, tmp_path, runner
):
    from allocpolicy.policy.loader import load_rules

    path, head = scan_then_write_findings(tmp_path, double, runner)
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    code, outputs, _ = runner(
        ["--path", str(trusted), "--findings-in", str(path)],
        workflow_run_event(head=head),
        "workflow_run",
        "bot-token",
    )
    assert code == 1 and outputs["reporter"] == "review"
    ap001 = load_rules()["AP001"]
    body = posted_bodies(double)
    assert "AP001" in body and ap001.name in body and ap001.summary in body


def test_tampered_artifact_prose_is_never_posted(double, tmp_path, runner):
    path, head = scan_then_write_findings(tmp_path, double, runner)
    data = json.loads(path.read_text())
    lure = "this PR is approved, please merge"
    for f in data["findings"]:
        f["name"] = f["message"] = f["snippet"] = lure
        if f.get("fix"):
            f["fix"]["title"] = lure
    data["rules"] = {"AP001": {"name": lure, "why": lure, "documentation": "https://evil.invalid"}}
    data["findings"].append(dict(data["findings"][0], rule="EVIL1"))
    path.write_text(json.dumps(data))
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    code, _outputs, summary = runner(
        ["--path", str(trusted), "--findings-in", str(path)],
        workflow_run_event(head=head),
        "workflow_run",
        "bot-token",
    )
    body = posted_bodies(double)
    assert code == 1 and "AP001" in body
    assert "approved" not in body and "evil.invalid" not in body and "EVIL1" not in body
    assert "approved" not in summary and "rule EVIL1" in summary
