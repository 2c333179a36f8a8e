"""Fixed findings resolve their review threads for real (GraphQL resolveReviewThread),
so a repository that requires conversation resolution does not block the merge; the
bot's duplicate comments are minimised; without GraphQL the body edit stands alone and
the job summary says which permission is missing. Every GraphQL document goes through
GitHub's published schema in the double."""

from __future__ import annotations

import pytest
import requests
from gh_helpers import BASE, HEAD, base_files, f_ap001, f_ap003
from ghgraphql import validation_errors

from allocpolicy.frontdoors.github import markers, threads

pytestmark = pytest.mark.github

BOT = "github-actions[bot]"


def _comment(double, rule_path: str, state: str = "open"):
    return [
        c
        for c in double.comments_by(BOT)
        if c["path"] == rule_path
        and not c.get("in_reply_to_id")
        and markers.parse(c["body"]).state == state
    ]


def _fixed(double, bot, **kw):
    """Two findings posted, then the Containerfile one (AP001) fixed."""
    double.add_pull(7, HEAD, BASE, base_files())
    first = bot([f_ap001(), f_ap003()], **kw)
    assert double.graphql_calls() == []  # nothing to resolve: no GraphQL at all
    (ap001,) = _comment(double, "Containerfile")
    second = bot([f_ap003()], **kw)
    return ap001, first, second


def test_a_fixed_finding_resolves_its_thread_and_a_rerun_sends_nothing(double, bot):
    ap001, _, run = _fixed(double, bot)
    assert markers.parse(ap001["body"]).state == "resolved"  # the body edit stays
    assert double.thread_of(ap001["id"])["isResolved"] is True
    (ap003,) = _comment(double, "Cargo.toml")
    assert double.thread_of(ap003["id"])["isResolved"] is False
    assert len(double.graphql_calls("query")) == 1  # one paginated lookup
    assert "1 thread(s) resolved" in run.summary
    n, g = len(double.writes()), len(double.graphql_calls())
    bot([f_ap003()])  # identical re-run: nothing to write, nothing to ask GraphQL
    assert double.writes()[n:] == []
    assert double.graphql_calls()[g:] == []


def test_a_finding_that_comes_back_gets_a_fresh_comment(double, bot):
    ap001, _, _ = _fixed(double, bot)
    resolved_body = ap001["body"]
    g = len(double.graphql_calls("mutation"))
    bot([f_ap001(), f_ap003()])  # the fix was reverted
    (fresh,) = _comment(double, "Containerfile")
    assert fresh["id"] != ap001["id"]
    assert ap001["body"] == resolved_body  # the resolved one is not edited or reopened
    assert double.thread_of(ap001["id"])["isResolved"] is True
    assert double.thread_of(fresh["id"])["isResolved"] is False
    assert double.graphql_calls("mutation")[g:] == []  # not resolved a second time


def test_a_thread_a_human_already_resolved_is_not_resolved_again(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    bot([f_ap001(), f_ap003()])
    (ap001,) = _comment(double, "Containerfile")
    ap001["_resolved"] = True  # alice clicked "Resolve conversation"
    bot([f_ap003()])
    assert markers.parse(ap001["body"]).state == "resolved"
    assert double.graphql_calls("mutation") == []
    assert len(double.graphql_calls("query")) == 1


@pytest.mark.parametrize(
    "token, inject",
    [
        ("pr-write-token", None),  # contents: read → FORBIDDEN in a 200
        ("bot-token", ("graphql/query", 403, {"message": "Forbidden"})),
        ("bot-token", ("graphql/mutation", 502, {"message": "Bad Gateway"})),
    ],
)
def test_refused_graphql_falls_back_to_the_body_edit_with_one_note(double, bot, token, inject):
    if inject:
        double.inject(inject[0], inject[1], times=5, body=inject[2])
    ap001, _, run = _fixed(double, bot, token=token)
    assert markers.parse(ap001["body"]).state == "resolved"
    assert double.thread_of(ap001["id"])["isResolved"] is False
    assert run.code == 0  # as when the thread is resolved: only a warning is left
    assert "Traceback" not in run.stdout
    assert run.summary.count("`contents: write`") == 1
    assert double.rejections == []


def test_the_schema_check_rejects_a_wrong_field(double):
    schema = double.graphql_schema()
    for doc in (
        threads.THREADS_QUERY,
        threads.RESOLVE_MUTATION,
        threads.MINIMIZE_MUTATION,
        threads.COMMENT_IDS_QUERY,
    ):
        assert validation_errors(schema, doc) == []
    wrong = threads.THREADS_QUERY.replace("isResolved", "isSettled")
    assert validation_errors(schema, wrong)
    root = double.base_url.removesuffix("/v3")  # PyGithub's GHES form: /api/graphql
    for url in (root + "/graphql", double.base_url.removesuffix("/api/v3") + "/graphql"):
        r = requests.post(
            url,
            json={"query": wrong, "variables": {"owner": "octo", "name": "app", "number": 7}},
            headers={"Authorization": "bearer bot-token"},
            timeout=10,
        )
        assert r.status_code == 200
        assert "isSettled" in r.json()["errors"][0]["message"]
    assert len(double.spec_errors) == 2 and "isSettled" in double.spec_errors[0]
    double.spec_errors.clear()


def _race(double):
    for c in list(_comment(double, "Containerfile") + _comment(double, "Cargo.toml")):
        double.add_review_comment(7, BOT, c["body"], c["path"], c["line"])


def test_a_copy_with_a_human_reply_is_minimized_as_duplicate(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    bot([f_ap001(), f_ap003()])
    _race(double)
    copy = _comment(double, "Containerfile")[-1]
    double.add_reply(copy["id"], "alice", "which one do I answer?")
    bot([f_ap001(), f_ap003()])
    assert copy["_minimized"] == "DUPLICATE"
    assert double.thread_of(copy["id"])["isResolved"] is True
    assert len(_comment(double, "Containerfile")) == 1


def test_a_copy_that_cannot_be_deleted_is_minimized(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    bot([f_ap001(), f_ap003()])
    _race(double)
    double.inject("pulls/delete-review-comment", 403, times=10)
    run = bot([f_ap001(), f_ap003()])
    copies = [c for c in double.comments_by(BOT) if c.get("_minimized") == "DUPLICATE"]
    assert len(copies) == 2
    assert all(markers.parse(c["body"]).state == "resolved" for c in copies)
    assert "2 duplicate(s) minimised" in run.summary
    n, g = len(double.writes()), len(double.graphql_calls())
    bot([f_ap001(), f_ap003()])
    assert double.writes()[n:] == [] and double.graphql_calls()[g:] == []


def test_a_duplicate_summary_comment_is_minimized(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    bot([f_ap001(), f_ap003()], max_comments=0)  # everything in the summary comment
    (summary,) = double.issue_comments
    extra = double.add_issue_comment(7, BOT, summary["body"])  # a concurrent run's
    bot([f_ap001(), f_ap003()], max_comments=0)
    assert extra["_minimized"] == "DUPLICATE"
    assert markers.parse(extra["body"]).state == "duplicate"
    assert "_minimized" not in summary and markers.parse(summary["body"]).state == "open"
    n, g = len(double.writes()), len(double.graphql_calls())
    bot([f_ap001(), f_ap003()], max_comments=0)
    assert double.writes()[n:] == [] and double.graphql_calls()[g:] == []
