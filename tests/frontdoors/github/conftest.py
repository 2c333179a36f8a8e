from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gh_helpers import BASE, HEAD, Run, rules, run_bot, write_event
from ghdouble import GitHubDouble
from ghgraphql import load_schema

from allocpolicy.frontdoors.github.command import Inputs
from allocpolicy.model import Finding


@pytest.fixture(scope="session")
def graphql_schema():
    """GitHub's GraphQL schema, built once (a skip, or under CI a failure, without it)."""
    return load_schema()


@pytest.fixture
def double(graphql_schema):
    d = GitHubDouble().start()
    yield d
    d.stop()
    assert d.spec_errors == [], d.spec_errors


@pytest.fixture
def event_file(tmp_path):
    def make(
        number: int = 7,
        head: str = HEAD,
        base: str = BASE,
        head_repo: str = "octo/app",
        name: str = "pull_request",
    ) -> Path:
        p = tmp_path / f"event-{number}-{head[:4]}-{head_repo.replace('/', '_')}.json"
        return write_event(p, number, head, base, head_repo)

    return make


@pytest.fixture
def bot(double, event_file, tmp_path):
    """Run the bot in-process against the double; returns a Run."""

    def go(
        findings: list[Finding],
        *,
        token: str = "bot-token",
        event: Path | None = None,
        event_name: str = "pull_request",
        inventory: list[dict[str, Any]] | None = None,
        **kw: Any,
    ) -> Run:
        sleeps: list[float] = kw.pop("sleeps", [])
        return run_bot(
            double.base_url,
            tmp_path,
            Inputs(list(findings), rules(), inventory or [], None),
            event or event_file(),
            path=kw.pop("path", tmp_path),
            token=token,
            event_name=event_name,
            env=kw.pop("env", {}),
            sleep=sleeps.append,
            max_rate_limit_wait=kw.pop("max_rate_limit_wait", 30),
            **kw,
        )

    return go
