"""Two runs on one head that raced each other leave each inline comment twice; the
next run keeps one live comment per finding and deletes the bot's extra copies."""

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
