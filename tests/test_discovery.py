from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from gitignore_cases import EXAMPLES, cases, git_ignored, write_case
from helpers import write_tree
from hypothesis import HealthCheck, given, settings

from allocpolicy.discovery import discover, is_containerfile

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize(
    "name",
    [
        "Dockerfile",
        "Containerfile",
        "api.Dockerfile",
        "api.Containerfile",
        "Dockerfile.prod",
        "Containerfile.musl",
        "dockerfile",
    ],
)
def test_containerfile_name_forms(name):
    assert is_containerfile(name)


@pytest.mark.parametrize(
    "name", ["Dockerfile.dockerignore", "README.md", "docker-compose.yml", "Cargo.toml"]
)
def test_not_containerfiles(name):
    assert not is_containerfile(name)


def test_discovery_skips_vendored_and_ignored_trees(tmp_path):
    write_tree(
        tmp_path,
        {
            ".gitignore": "generated/\n*.bak.rs\n",
            "Cargo.toml": "",
            "src/main.rs": "",
            "src/old.bak.rs": "",
            ".cargo/config.toml": "",
            ".cargo/config": "",
            "rust-toolchain.toml": "",
            "deploy/api.Dockerfile": "",
            "target/Dockerfile": "",
            "node_modules/x/Cargo.toml": "",
            ".git/Dockerfile": "",
            "generated/Cargo.toml": "",
        },
    )
    inv = discover(tmp_path, ["deploy/"])
    assert inv.manifests == ["Cargo.toml"]
    assert inv.rust_sources == ["src/main.rs"]
    assert inv.cargo_configs == [".cargo/config", ".cargo/config.toml"]
    assert not any("rust-toolchain.toml" in paths for paths in vars(inv).values())  # never read
    assert inv.containerfiles == []


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(cases())
def test_discover_lists_exactly_the_files_git_does_not_ignore(tmp_path_factory, case) -> None:
    """The walk's pruning, nested .gitignore files and re-inclusion, against `git check-ignore`."""
    dirs, files, ignores = case
    root = tmp_path_factory.mktemp("case") / "repo"
    write_case(root, dirs, files, ignores)
    kept = set(files) - git_ignored(root, files)
    inv = discover(root)
    found = {
        p
        for kind in ("manifests", "locks", "rust_sources", "containerfiles")
        for p in getattr(inv, kind)
    }
    assert found == kept, ignores


def test_an_allow_list_gitignore_hides_no_finding(tmp_path):
    """`*` then `!*/`: directories are re-included, so src/main.rs is read (and its finding shown)."""
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES_DIR / "cfg-mismatch", root)
    (root / ".gitignore").write_text("*\n!*/\n!*.toml\n!*.rs\n!Dockerfile\n")
    assert discover(root).rust_sources == ["src/main.rs"]
    done = subprocess.run(
        [sys.executable, "-m", "allocpolicy", "scan", "--format", "json", "."],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert [(f["rule"], f["path"]) for f in json.loads(done.stdout)["findings"]] == [
        ("AP006", "src/main.rs")
    ]


def test_nested_gitignore_files_count_as_in_git(tmp_path):
    files = {
        ".gitignore": "*.gen.rs\nlegacy/\n",
        "a/.gitignore": "!keep.gen.rs\nDockerfile\n/local.rs\n",
        "a/keep.gen.rs": "",  # re-included by the deeper file
        "a/x.gen.rs": "",
        "a/Dockerfile": "",
        "a/b/Dockerfile": "",  # a name pattern holds at any depth below its file
        "a/local.rs": "",
        "a/b/local.rs": "",  # an anchored one only beside it
        "legacy/.gitignore": "!*\n",  # inside an ignored directory: never read
        "legacy/Cargo.toml": "",
        "Dockerfile": "",
    }
    write_tree(tmp_path, files)
    inv = discover(tmp_path)
    assert inv.rust_sources == ["a/b/local.rs", "a/keep.gen.rs"]
    assert inv.containerfiles == ["Dockerfile"]
    assert inv.manifests == []
    listed = [f for f in files if not f.endswith(".gitignore")]
    assert set(listed) - git_ignored(tmp_path, listed) == {
        "a/b/local.rs",
        "a/keep.gen.rs",
        "Dockerfile",
    }


def test_the_exclude_setting_still_applies_below_a_re_included_directory(tmp_path):
    write_tree(tmp_path, {".gitignore": "!vendor/\n", "vendor/x/Cargo.toml": "", "Cargo.toml": ""})
    assert discover(tmp_path, ["vendor/"]).manifests == ["Cargo.toml"]


def test_a_gitignore_that_cannot_be_applied_is_a_finding(tmp_path):
    write_tree(
        tmp_path, {"Cargo.toml": "", "big/.gitignore": "x" * (2 << 20), "big/Cargo.toml": ""}
    )
    inv = discover(tmp_path)
    assert inv.manifests == ["Cargo.toml", "big/Cargo.toml"]  # nothing ignored: all read
    assert [rel for rel, _ in inv.ignore_problems] == ["big/.gitignore"]
    assert "not applied" in inv.ignore_problems[0][1]
