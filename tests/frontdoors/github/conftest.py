from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gh_helpers import BASE, HEAD, Run, parse_outputs, rules, write_event
from ghdouble import GitHubDouble

from allocpolicy.frontdoors.github.command import Inputs, Options, run
from allocpolicy.model import Finding


@pytest.fixture
def double():
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
        out_file = tmp_path / "github_output"
        sum_file = tmp_path / "step_summary"
        out_file.write_text("")
        sum_file.write_text("")
        env = {
            "GITHUB_OUTPUT": str(out_file),
            "GITHUB_STEP_SUMMARY": str(sum_file),
            "GITHUB_REPOSITORY": "octo/app",
            "GITHUB_SERVER_URL": "https://github.invalid",
            "GITHUB_RUN_ID": "42",
            **kw.pop("env", {}),
        }
        sleeps: list[float] = kw.pop("sleeps", [])
        opt = Options(
            path=kw.pop("path", tmp_path),
            api_url=double.base_url,
            token=token,
            event_path=str(event or event_file()),
            event_name=event_name,
            seconds_between_writes=0,
            seconds_between_requests=0,
            max_rate_limit_wait=kw.pop("max_rate_limit_wait", 30),
            sleep=sleeps.append,
            env=env,
            **kw,
        )
        buf = io.StringIO()
        inputs = Inputs(list(findings), rules(), inventory or [], None)
        code = run(inputs, opt, out=buf)
        return Run(code, buf.getvalue(), parse_outputs(out_file.read_text()), sum_file.read_text())

    return go
