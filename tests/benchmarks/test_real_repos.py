"""benchmarks/real_repos.py scores findings and inventory rows against a verdict."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "real_repos.py"
EXAMPLE = ROOT / "examples" / "alpine-no-mimalloc"


def _checkout(tmp_path: Path) -> str:
    repo = tmp_path / "checkouts" / "example+orders"
    shutil.copytree(EXAMPLE, repo)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    return subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def _score(tmp_path: Path, image: dict[str, object], commit: str) -> str:
    verdicts = tmp_path / "verdicts.json"
    verdicts.write_text(
        json.dumps(
            {"repositories": [{"repo": "example/orders", "commit": commit, "images": [image]}]}
        )
    )
    if not (Path(sys.executable).parent / "allocpolicy").exists():
        pytest.skip("allocpolicy is not installed beside this Python")
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--checkouts",
            str(tmp_path / "checkouts"),
            "--verdicts",
            str(verdicts),
            "-v",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


BINARY = {"binary": "orders", "binary_libc": "musl", "linkage": "static", "allocator": "system"}


def test_a_right_verdict_scores_every_finding_and_row_right(tmp_path: Path) -> None:
    commit = _checkout(tmp_path)
    image = {
        "containerfile": "Dockerfile",
        "ships_rust": True,
        "binaries": [BINARY],
        "expected": [{"rule": "AP001", "path": "Dockerfile", "line": 2}],
    }
    out = _score(tmp_path, image, commit)
    assert "| example/orders | 1 | 1 | 1 | 0 (0) | 0 | 1/1 |" in out
    assert "Precision 100 %, recall 100 %" in out


def test_a_finding_nobody_expects_is_wrong_and_an_expected_one_missed(tmp_path: Path) -> None:
    commit = _checkout(tmp_path)
    image = {
        "containerfile": "Dockerfile",
        "ships_rust": True,
        "binaries": [dict(BINARY, allocator="mimalloc")],
        "expected": [{"rule": "AP003", "path": "Dockerfile", "line": 7}],
    }
    out = _score(tmp_path, image, commit)
    assert "| example/orders | 1 | 1 | 0 | 1 (1) | 1 | 0/1 |" in out
    assert "example/orders: wrong: AP001 Dockerfile:2 [error]" in out
    assert (
        "example/orders: inventory: Dockerfile: orders: allocator system (expected mimalloc)" in out
    )
