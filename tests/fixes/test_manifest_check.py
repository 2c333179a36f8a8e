"""The manifest check a fix must pass agrees with cargo: each manifest here is read by
the real `cargo metadata --offline --no-deps`, and the check finds a problem exactly
when cargo rejects it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from fixkit import write

from allocpolicy.fixes.manifest_check import check_manifest_text

HEAD = """[package]
name = "app"
version = "0.1.0"
edition = "2021"

[dependencies]
opt = { version = "0.1", optional = true }
plain = "0.1"

[dev-dependencies]
devdep = "0.1"

[target.'cfg(unix)'.dependencies]
unixopt = { version = "0.1", optional = true }

"""

# (feature table, whether cargo accepts it)
FEATURES = [
    ('[features]\nx = ["opt"]\n', True),
    ('[features]\nx = ["dep:opt"]\n', True),
    ('[features]\nx = ["opt/std"]\n', True),
    ('[features]\nx = ["opt?/std"]\n', True),
    ('[features]\nx = ["plain/std"]\n', True),
    ('[features]\nx = ["devdep/std"]\n', True),
    ('[features]\nx = ["unixopt"]\ny = ["x"]\n', True),
    ('[features]\nopt = ["dep:opt"]\n', True),
    ('[features]\nopt = ["opt/std"]\n', True),
    ('[features]\nx = ["nope"]\n', False),
    ('[features]\nx = ["nope/std"]\n', False),
    ('[features]\nx = ["dep:nope"]\n', False),
    ('[features]\nx = ["dep:plain"]\n', False),
    ('[features]\nx = ["plain"]\n', False),
    ('[features]\nx = ["plain?/std"]\n', False),
    ('[features]\nx = ["devdep?/std"]\n', False),
    ('[features]\nx = ["dep:opt", "opt"]\n', False),
    ("[features]\nopt = []\n", False),
    ('[features]\nx = ["dep:opt/std"]\n', False),
    ('[features]\nx = "opt"\n', False),
    ('[features]\n"dep:x" = []\n', False),
    ('[features]\nx = []\nx = ["opt"]\n', False),  # a duplicate key
    ("", True),
]


def _cargo_accepts(root: Path) -> bool:
    run = subprocess.run(
        ["cargo", "metadata", "--offline", "--no-deps", "--format-version", "1"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return run.returncode == 0


@pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo")
@pytest.mark.parametrize(("features", "accepted"), FEATURES)
def test_the_check_agrees_with_cargo_on_features(
    tmp_path: Path, features: str, accepted: bool
) -> None:
    manifest = HEAD + features
    write(tmp_path, {"Cargo.toml": manifest, "src/lib.rs": ""})
    assert _cargo_accepts(tmp_path) is accepted  # the table above says what cargo does
    problems = check_manifest_text(manifest)
    assert (not problems) is accepted, problems


ROOT = """[workspace]
members = ["app"]

[workspace.dependencies]
shared = "0.1"
"""


@pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo")
@pytest.mark.parametrize(
    ("member_deps", "accepted"),
    [
        ("shared = { workspace = true }\n", True),
        ("shared = { workspace = true, optional = true }\n", True),
        ("missing = { workspace = true }\n", False),
    ],
)
def test_the_check_agrees_with_cargo_on_workspace_inheritance(
    tmp_path: Path, member_deps: str, accepted: bool
) -> None:
    member = '[package]\nname = "app"\nversion = "0.1.0"\n\n[dependencies]\n' + member_deps
    write(tmp_path, {"Cargo.toml": ROOT, "app/Cargo.toml": member, "app/src/lib.rs": ""})
    assert _cargo_accepts(tmp_path) is accepted
    problems = check_manifest_text(member, ROOT)
    assert (not problems) is accepted, problems


def test_one_package_under_two_names_is_a_problem() -> None:
    """cargo refuses this when it resolves ("depends on crate ... multiple times with
    different names"); `--no-deps` does not get that far, so no cargo here."""
    manifest = HEAD.replace(
        'plain = "0.1"', 'plain = "0.1"\nalias = { package = "plain", version = "0.1" }'
    )
    assert check_manifest_text(manifest) == [
        "`plain` is declared under two names: `plain`, `alias`"
    ]
    other_version = manifest.replace(
        'package = "plain", version = "0.1"', 'package = "plain", version = "0.2"'
    )
    assert check_manifest_text(other_version) == []
