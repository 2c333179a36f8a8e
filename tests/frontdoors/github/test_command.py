"""`allocpolicy github-review` as the runner runs it: every error ends as a message."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from gh_helpers import parse_outputs
from test_action import github_patches, make_repo

pytestmark = pytest.mark.github


def test_a_response_cut_mid_body_ends_in_an_error_line_summary_and_outputs(tmp_path, double):
    repo, base, head = make_repo(tmp_path)
    double.add_pull(7, head, base, github_patches(repo, base, head))
    double.cut_body["pulls/list-files"] = 10  # every try: the retries cannot save it
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "number": 7,
                "pull_request": {
                    "number": 7,
                    "head": {"sha": head, "repo": {"full_name": "octo/app"}},
                    "base": {"sha": base, "repo": {"full_name": "octo/app"}},
                },
                "repository": {"full_name": "octo/app"},
            }
        )
    )
    out, summary = tmp_path / "out", tmp_path / "summary"
    out.write_text("")
    summary.write_text("")
    env = {
        **os.environ,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_OUTPUT": str(out),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_REPOSITORY": "octo/app",
        "GITHUB_API_URL": double.base_url,
        "ALLOCPOLICY_GITHUB_TOKEN": "bot-token",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "allocpolicy", "github-review", "--path", str(repo)]
        + ["--seconds-between-writes", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2
    assert "::error::allocpolicy: error:" in proc.stderr
    assert "AP001" in proc.stdout  # the findings are still annotated
    outputs = parse_outputs(out.read_text())
    assert outputs["failed"] == "true" and outputs["errors"] != "0"
    assert "AP001" in summary.read_text() and "error" in summary.read_text()
