"""Which comments are the bot's own (issue 14): without --bot-login the login is learnt
from the token, so a PAT or App token does not re-post everything on every run."""

from __future__ import annotations

import pytest
from gh_helpers import BASE, HEAD, base_files, f_ap001, f_ap004_outside

from allocpolicy.frontdoors.github.command import build_parser

pytestmark = pytest.mark.github


def findings():
    return [f_ap001(), f_ap004_outside()]  # an inline comment and the summary comment


def asked_who(double) -> int:
    return sum(r["op"] == "users/get-authenticated" for r in double.requests)


def test_a_pat_posting_as_a_machine_user_does_not_duplicate_on_rerun(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    bot(findings(), token="pat-token")
    posted = len(double.writes())
    assert posted > 0 and len(double.comments_by("octo-bot")) == 1
    bot(findings(), token="pat-token")
    assert len(double.writes()) == posted  # the second run writes nothing
    assert len(double.comments_by("octo-bot")) == 1 and len(double.issue_comments) == 1


def test_an_app_token_that_cannot_read_its_user_does_not_duplicate_on_rerun(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    bot(findings(), token="app-token")
    posted = len(double.writes())
    assert posted > 0 and len(double.comments_by("allocpolicy-app[bot]")) == 1
    assert [r["status"] for r in double.requests if r["op"] == "users/get-authenticated"] == [403]
    bot(findings(), token="app-token")
    assert len(double.writes()) == posted
    assert len(double.comments_by("allocpolicy-app[bot]")) == 1
    assert len(double.issue_comments) == 1


def test_an_explicit_bot_login_wins_and_github_is_not_asked(double, bot, monkeypatch):
    monkeypatch.delenv("ALLOCPOLICY_BOT_LOGIN", raising=False)
    assert build_parser().parse_args([]).bot_login is None  # unset: learnt from the token
    login = build_parser().parse_args(["--bot-login", "octo-bot"]).bot_login
    double.add_pull(7, HEAD, BASE, base_files())
    bot(findings(), token="pat-token", bot_login=login)
    posted = len(double.writes())
    bot(findings(), token="pat-token", bot_login=login)
    assert len(double.writes()) == posted and asked_who(double) == 0
