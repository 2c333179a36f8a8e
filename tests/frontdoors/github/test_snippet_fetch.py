"""The README workflow's fetch step gives the local diff fallback what it needs, and no
more than that.

``git_diff`` (diffmap.py) asks for ``git diff base...head``: the diff from the merge base,
which is what GitHub shows. It needs the merge base in the clone. With only the two tips
(``--depth=1`` each) that diff fails, and ``git diff base head`` would also show,
reversed, every change the base branch made since the PR branched. So the step fetches
the base commit, then deepens both tips until they meet. Here a PR branched 150 commits
behind its base: the step's script, run in a clone as actions/checkout leaves it, must
give the same diff as a full clone, while the clone stays shallow.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from allocpolicy.frontdoors.github.diffmap import git_diff

pytestmark = pytest.mark.github

ROOT = Path(__file__).resolve().parents[3]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def fetch_step() -> dict:
    """The step of the README's main workflow that fetches the base."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(
        r"```yaml\n(# \.github/workflows/allocpolicy\.yml\n.*?)^```", text, re.M | re.S
    )
    assert block, "the README's main workflow snippet"
    steps = yaml.safe_load(block.group(1))["jobs"]["allocpolicy"]["steps"]
    [step] = [s for s in steps if "BASE_SHA" in str(s.get("env", {}))]
    return step


@pytest.fixture(scope="module")
def origin(tmp_path_factory) -> tuple[Path, str, str]:
    """A repository with a long history; the PR branch forks at M, then main moves on
    150 commits, one of which edits the file the PR edits too."""
    repo = tmp_path_factory.mktemp("origin")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.invalid")
    git(repo, "config", "user.name", "t")
    git(repo, "config", "uploadpack.allowReachableSHA1InWant", "true")  # as GitHub serves
    (repo / "Containerfile").write_text("FROM rust:1 AS build\nRUN cargo build --release\n")
    (repo / "Cargo.toml").write_text('[package]\nname = "app"\nversion = "0.1.0"\n')
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "root")
    script = 'for i in $(seq "$1"); do git commit -q --allow-empty -m "c$i"; done'
    subprocess.run(["bash", "-c", script, "_", "120"], cwd=repo, check=True)
    git(repo, "checkout", "-qb", "feature")
    (repo / "Containerfile").write_text("FROM rust:1-alpine AS build\nRUN cargo build --release\n")
    git(repo, "commit", "-qam", "pr: alpine")
    (repo / "Cargo.toml").write_text('[package]\nname = "app"\nversion = "0.2.0"\n')
    git(repo, "commit", "-qam", "pr: bump")
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "main")
    (repo / "Cargo.toml").write_text(
        '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n'
    )
    git(repo, "commit", "-qam", "main: edition")
    subprocess.run(["bash", "-c", script, "_", "150"], cwd=repo, check=True)
    return repo, git(repo, "rev-parse", "HEAD"), head


def checkout(origin: Path, head: str, into: Path) -> Path:
    """What actions/checkout does for `ref: <head sha>`: one commit, fetched by its SHA."""
    into.mkdir()
    git(into, "init", "-q")
    git(into, "remote", "add", "origin", f"file://{origin}")
    git(into, "fetch", "-q", "--no-tags", "--depth=1", "origin", head)
    git(into, "checkout", "-q", "--detach", head)
    return into


def test_fetch_step_gives_the_merge_base_diff_from_a_shallow_clone(tmp_path, origin):
    repo, base, head = origin
    step = fetch_step()
    ws = checkout(repo, head, tmp_path / "ws")
    proc = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", step["run"]],
        cwd=ws,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "BASE_SHA": base, "HEAD_SHA": head},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    full = git(repo, "merge-base", base, head)
    assert git(ws, "merge-base", base, head) == full
    assert git(ws, "rev-parse", "--is-shallow-repository") == "true"  # not the whole history
    local = git_diff(ws, base, head)
    assert local is not None and local == git_diff(repo, base, head)
    assert set(local) == {"Containerfile", "Cargo.toml"}
    # the PR's own change, not main's `edition` line seen backwards
    assert [t for _, t, added in local["Cargo.toml"].right.values() if added] == [
        'version = "0.2.0"'
    ]


def test_the_two_tips_alone_give_no_local_diff_rather_than_a_wrong_one(tmp_path, origin):
    """Why the step deepens: with only `--depth=1` of each tip there is no merge base.
    The two-dot diff of the tips holds main's own change (the `edition` line, as if the PR
    removed it); git_diff must not offer it: no local diff, so nothing anchors on a line
    the PR never touched."""
    repo, base, head = origin
    ws = checkout(repo, head, tmp_path / "ws")
    git(ws, "fetch", "-q", "--no-tags", "--depth=1", "origin", base)
    two_dot = git(ws, "diff", base, head, "--", "Cargo.toml")
    assert '-edition = "2021"' in two_dot  # the wrong diff a two-dot retry would give
    assert git_diff(ws, base, head) is None
    assert git_diff(repo, base, head) is not None  # the full clone has the merge base
