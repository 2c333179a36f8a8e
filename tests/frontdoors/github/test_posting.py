"""Review posting mechanics (issue 14): the review event follows every blocking finding."""

from __future__ import annotations

import json

import pytest
from gh_helpers import BASE, HEAD, HEAD2, base_files, f_ap001, f_ap003, f_ap004_outside

from allocpolicy.model import Location, Severity

pytestmark = pytest.mark.github


def blocking_outside_the_diff():
    f = f_ap004_outside()
    f.severity = Severity.ERROR
    return f


def test_blocking_finding_only_in_the_summary_still_requests_changes(double, bot, event_file):
    # Nothing can be anchored inline, yet the finding is at fail-on: the PR must be blocked.
    double.add_pull(7, HEAD, BASE, base_files())
    bot([blocking_outside_the_diff()], review_event="REQUEST_CHANGES")
    assert [r["state"] for r in double.reviews] == ["CHANGES_REQUESTED"]
    assert "Cargo.toml:2" in double.issue_comments[0]["body"]
    # a re-run on a new head with the same finding does not stack a second blocking review
    double.push(7, HEAD2, base_files())
    bot([blocking_outside_the_diff()], review_event="REQUEST_CHANGES", event=event_file(head=HEAD2))
    assert [r["state"] for r in double.reviews] == ["CHANGES_REQUESTED"]


def test_non_blocking_summary_finding_posts_no_review(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    bot([f_ap004_outside()], review_event="REQUEST_CHANGES")
    assert double.reviews == []


def test_reporter_output_says_annotations_after_a_fallback(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    r = bot([f_ap001()], token="ro-token")  # the review is refused with 403
    assert "Review not posted" in r.summary
    assert r.outputs["reporter"] == "annotations"


def test_job_summary_header_counts_the_findings_the_outputs_count(double, bot):
    # an error in a file the pull request does not touch is out of scope: neither the
    # `errors` output nor the summary's header may count it
    elsewhere = f_ap001()
    elsewhere.location = Location("services/other/Containerfile", 1, 6)
    double.add_pull(7, HEAD, BASE, base_files())
    r = bot([elsewhere, f_ap004_outside()])
    assert r.outputs["errors"] == "0" and r.outputs["warnings"] == "1"
    header = next(ln for ln in r.summary.splitlines() if "fail-on" in ln)
    assert "0 error(s), 1 warning(s)" in header, header


def dependabot_event(event_file):
    p = event_file()
    event = json.loads(p.read_text())
    event["sender"] = {"login": "dependabot[bot]"}
    p.write_text(json.dumps(event))
    return p


def test_dependabot_pr_gets_a_review_when_the_workflow_grants_write(double, bot, event_file):
    double.add_pull(7, HEAD, BASE, base_files())
    r = bot([f_ap001()], event=dependabot_event(event_file))
    assert r.outputs["reporter"] == "review"
    assert len(double.reviews) == 1 and len(double.review_comments) == 1


def test_dependabot_pr_with_a_read_only_token_falls_back_on_the_403(double, bot, event_file):
    double.add_pull(7, HEAD, BASE, base_files())
    r = bot([f_ap001()], token="ro-token", event=dependabot_event(event_file))
    assert [w["status"] for w in double.writes()] == [403]
    assert r.outputs["reporter"] == "annotations"
    assert "::error file=Containerfile" in r.stdout and "Review not posted" in r.summary


def test_an_unattributable_422_costs_only_the_culprit(double, bot):
    # GitHub refuses one anchor that every local check accepts: the batch is bisected, the
    # rest is posted inline and only the culprit goes to the summary, on every push.
    double.add_pull(7, HEAD, BASE, base_files())
    double.reject_lines.add(("Cargo.toml", 7))
    bot([f_ap001(), f_ap003()])
    # whole batch 422, Containerfile's half posted, Cargo.toml's half alone 422: the culprit
    assert [a["status"] for a in double.calls("pulls/create-review")] == [422, 200, 422]
    posted = [c["path"] for c in double.review_comments]
    assert posted == ["Containerfile"]
    summary = double.issue_comments[0]["body"]
    assert "Cargo.toml:7" in summary and "Containerfile:1" not in summary
