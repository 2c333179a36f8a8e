"""Two runs on one head that raced each other leave each inline comment twice, and two
reviews; the next run keeps one live comment per finding, deletes the bot's extra copies
and retires the review they came with."""

from __future__ import annotations

import pytest
from gh_helpers import BASE, HEAD, base_files, f_ap001, f_ap003, f_ap004_main, f_ap004_outside

from allocpolicy.frontdoors.github import markers

pytestmark = pytest.mark.github

BOT = "github-actions[bot]"


def _findings():
    return [f_ap001(), f_ap003(), f_ap004_outside(), f_ap004_main()]


def _open_inline(double):
    return [
        c
        for c in double.comments_by(BOT)
        if not c.get("in_reply_to_id") and markers.parse(c["body"]).state == "open"
    ]


def _race(double):
    """What a concurrent run that listed the comments before the first one posted leaves:
    a copy of every inline comment, at the same anchor, by the same bot."""
    for c in list(_open_inline(double)):
        double.add_review_comment(7, BOT, c["body"], c["path"], c["line"])


def test_the_run_after_a_race_leaves_one_comment_per_finding(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    bot(_findings())
    first = {c["id"] for c in _open_inline(double)}
    _race(double)
    assert len(_open_inline(double)) == 2 * len(first)
    bot(_findings())
    assert {c["id"] for c in _open_inline(double)} == first  # the older copy is kept
    assert double.rejections == []
    n = len(double.writes())
    bot(_findings())  # and then nothing more to do
    assert double.writes()[n:] == []


def test_a_copy_with_a_human_reply_is_resolved_not_deleted(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    bot(_findings())
    first = {c["id"] for c in _open_inline(double)}
    _race(double)
    copy = next(c for c in _open_inline(double) if c["id"] not in first)
    reply = double.add_reply(copy["id"], "alice", "which one do I answer?")
    bot(_findings())
    assert copy in double.review_comments and reply in double.review_comments
    assert markers.parse(copy["body"]).state == "resolved"
    assert {c["id"] for c in _open_inline(double)} == first
    assert double.rejections == []


def _own_reviews(double):
    return [r for r in double.reviews if r["user"]["login"] == BOT]


def _open_reviews(double):
    return [r for r in _own_reviews(double) if markers.parse(r["body"]).state == "open"]


def test_a_concurrent_runs_review_is_retired_with_its_copies(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    bot(_findings())
    (first,) = _own_reviews(double)
    extra = double.race_review(first["id"])  # the other run's review, comments and all
    assert len(_open_inline(double)) == 2 * len(
        [c for c in double.review_comments if c.get("pull_request_review_id") == first["id"]]
    )
    run = bot(_findings())
    assert _open_reviews(double) == [first]
    assert markers.parse(extra["body"]).state == "duplicate"
    assert first["html_url"] in extra["body"] and "found" not in extra["body"]
    assert extra["_minimized"] == "DUPLICATE" and "_minimized" not in first
    assert "1 duplicate review(s) retired" in run.summary
    assert double.rejections == []
    n = len(double.writes())
    bot(_findings())  # the retired review is left alone from now on
    assert double.writes()[n:] == []


def test_two_blocking_reviews_from_a_race_leave_one_blocking(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    bot(_findings(), review_event="REQUEST_CHANGES")
    (first,) = _own_reviews(double)
    assert first["state"] == "CHANGES_REQUESTED"
    extra = double.race_review(first["id"])
    bot(_findings(), review_event="REQUEST_CHANGES")
    assert [r["state"] for r in (first, extra)] == ["CHANGES_REQUESTED", "DISMISSED"]
    assert markers.parse(extra["body"]).state == "duplicate"
    n = len(double.writes())
    bot(_findings(), review_event="REQUEST_CHANGES")
    assert double.writes()[n:] == []


def test_a_lone_blocking_review_without_comments_is_kept(double, bot):
    """A summary-only block (nothing could be anchored) is the review carrying the event."""
    double.add_pull(7, HEAD, BASE, base_files())
    bot([f_ap001()], review_event="REQUEST_CHANGES", filter_mode="nofilter")
    blocking = [r for r in _own_reviews(double) if r["state"] == "CHANGES_REQUESTED"]
    assert len(blocking) == 1
    n = len(double.writes())
    bot([f_ap001()], review_event="REQUEST_CHANGES", filter_mode="nofilter")
    assert double.writes()[n:] == []
    assert markers.parse(blocking[0]["body"]).state == "open"


def test_without_graphql_the_extra_review_is_still_rewritten(double, bot):
    """A token without GraphQL access: the body edit alone says it is a duplicate."""
    double.add_pull(7, HEAD, BASE, base_files())
    bot(_findings())
    (first,) = _own_reviews(double)
    extra = double.race_review(first["id"])
    double.inject(
        "graphql/mutation",
        403,
        times=99,
        body={"message": "Resource not accessible by integration"},
    )
    bot(_findings())
    assert markers.parse(extra["body"]).state == "duplicate" and "_minimized" not in extra
    assert _open_reviews(double) == [first]
