"""A resolved file-level comment stays as it was resolved: later runs neither edit it
again (each edit used to wrap the body in one more <details>) nor reopen it."""

from __future__ import annotations

import pytest
from gh_helpers import BASE, HEAD, HEAD2, base_files, f_ap004_outside

from allocpolicy.frontdoors.github import markers

pytestmark = pytest.mark.github


def _file_comments(double):
    return [c for c in double.review_comments if c.get("subject_type") == "file"]


def test_a_resolved_file_comment_is_edited_once_and_never_again(double, bot, event_file):
    double.add_pull(7, HEAD, BASE, base_files())
    bot([f_ap004_outside()], filter_mode="file")
    (first,) = _file_comments(double)

    def body() -> str:
        return next(c["body"] for c in double.review_comments if c["id"] == first["id"])

    double.push(7, HEAD2, base_files())
    bot([], filter_mode="file", event=event_file(head=HEAD2))  # the push fixed it
    assert markers.parse(body()).state == "resolved"
    resolved = body()
    for _ in range(3):  # identical runs on the same head
        n = len(double.writes())
        bot([], filter_mode="file", event=event_file(head=HEAD2))
        assert [w for w in double.writes()[n:] if w["op"] != "issues/update-comment"] == []
    assert body() == resolved
    assert resolved.count("<details>") == 1
