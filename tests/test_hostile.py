"""Hostile trees are normal input: special files and links out of the tree cost a finding.

Each test builds its tree from the bundled musl example and runs the real command in
a subprocess with a deadline, so a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "alpine-no-mimalloc"
SECRET = "TOP-SECRET-LINE-7f3a"

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and symlinks")


def allocpolicy(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "allocpolicy", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,  # the old reader blocked forever on a FIFO
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLE, root)
    return root


def findings(done: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    assert done.returncode in (0, 1), done.stderr
    assert "internal error" not in done.stderr
    return list(json.loads(done.stdout)["findings"])


@pytest.mark.parametrize("name", ["Dockerfile", "Cargo.toml", "src/main.rs"])
def test_a_fifo_in_place_of_a_file_is_a_finding_not_a_hang(tree: Path, name: str) -> None:
    (tree / name).unlink()
    os.mkfifo(tree / name)
    found = findings(allocpolicy("scan", "--format", "json", ".", cwd=tree))
    assert any(f["path"] == name and "not a regular file" in str(f["message"]) for f in found)


def test_a_link_to_dev_zero_is_not_read(tree: Path) -> None:
    (tree / "Cargo.toml").unlink()
    (tree / "Cargo.toml").symlink_to("/dev/zero")
    found = findings(allocpolicy("scan", "--format", "json", ".", cwd=tree))
    # refused before it is opened, as a link out of the tree; a device would be refused anyway
    assert any(
        f["path"] == "Cargo.toml" and "outside the scanned tree" in str(f["message"]) for f in found
    )


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_a_link_out_of_the_tree_never_shows_the_outside_file(tree: Path, fmt: str) -> None:
    outside = tree.parent / "secret.toml"
    outside.write_text(f'[package]\nname = "{SECRET}"\nversion = "1.0.0\n')  # broken on purpose
    (tree / "Cargo.toml").unlink()
    (tree / "Cargo.toml").symlink_to(outside)
    done = allocpolicy("scan", "--format", fmt, ".", cwd=tree)
    assert done.returncode in (0, 1), done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert "outside the scanned tree" in done.stdout


def test_fix_never_writes_through_a_link_out_of_the_tree(tree: Path) -> None:
    outside = tree.parent / "Cargo.toml"
    shutil.move(tree / "Cargo.toml", outside)
    before = outside.read_bytes()
    (tree / "Cargo.toml").symlink_to(outside)
    done = allocpolicy("fix", ".", cwd=tree)
    assert "internal error" not in done.stderr
    assert outside.read_bytes() == before
    assert (tree / "Cargo.toml").is_symlink()


def test_a_link_inside_the_tree_is_still_followed(tree: Path) -> None:
    shutil.move(tree / "Cargo.toml", tree / "manifest.toml")
    (tree / "Cargo.toml").symlink_to("manifest.toml")
    found = findings(allocpolicy("scan", "--format", "json", ".", cwd=tree))
    assert [f["rule"] for f in found] == ["AP001"]


@pytest.mark.parametrize("where", [".gitignore", "src/.gitignore"])
def test_a_fifo_gitignore_is_a_finding_not_a_hang(tree: Path, where: str) -> None:
    os.mkfifo(tree / where)  # git itself blocks on it
    found = findings(allocpolicy("scan", "--format", "json", ".", cwd=tree))
    assert any(f["path"] == where and "not a regular file" in str(f["message"]) for f in found)
    assert any(f["rule"] == "AP001" for f in found)  # the scan went on


def test_a_gitignore_linked_to_dev_zero_is_not_followed_as_in_git(tree: Path) -> None:
    (tree / ".gitignore").symlink_to("/dev/zero")
    found = findings(allocpolicy("scan", "--format", "json", ".", cwd=tree))
    assert [f["rule"] for f in found] == ["AP001"]


def test_an_oversized_gitignore_is_a_finding(tree: Path) -> None:
    (tree / ".gitignore").write_text("Dockerfile\n" + "#" * (2 << 20))
    found = findings(allocpolicy("scan", "--format", "json", ".", cwd=tree))
    assert sorted((f["rule"], f["path"]) for f in found) == [
        ("AP001", "Dockerfile"),  # its patterns are not applied: the Dockerfile is read
        ("AP900", ".gitignore"),
    ]
