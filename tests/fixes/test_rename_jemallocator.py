"""AP008's rename fix leaves manifests cargo accepts: every feature that names a renamed
dependency follows it, the feature names users pass stay, and where the rename cannot
be proven no fix is offered. The judge is the real `cargo metadata`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from fixkit import GOLDEN, cli, rules, snapshot, toml_of, write

PACKAGE = """[package]
name = "app"
version = "0.1.0"
edition = "2021"

[package.metadata.allocpolicy]
profile = "long-running"

"""

# The shape lighthouse and shadowsocks-rust have: optional jemalloc crates that
# [features] name bare, through a `crate/feature`, and by default.
IMPLICIT = (
    PACKAGE
    + """[dependencies]
jemallocator = { version = "0.5", optional = true }
jemalloc-ctl = { version = "0.5", optional = true }
[features]
default = ["jemalloc"]
jemalloc = ["jemallocator", "jemalloc-ctl"]
prof = ["jemallocator/profiling"]
"""
)

MAIN = """#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: jemallocator::Jemalloc = jemallocator::Jemalloc;

fn main() {
    #[cfg(feature = "jemallocator")]
    let _ = jemalloc_ctl::epoch::advance();
}
"""

needs_cargo = pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo")


def cargo_metadata(root: Path) -> subprocess.CompletedProcess[str]:
    """cargo's own reading of the manifests: no registry, no network (`--no-deps`)."""
    return subprocess.run(
        ["cargo", "metadata", "--offline", "--no-deps", "--format-version", "1"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )


def fixed(root: Path, files: dict[str, str]) -> dict[str, str]:
    write(root, files)
    run = cli("fix", root)
    assert run.rc in (0, 1), run.err
    return {rel: data.decode() for rel, data in snapshot(root).items()}


def features(manifest: str) -> dict[str, list[str]]:
    return toml_of(manifest.encode()).get("features", {})


@needs_cargo
def test_cargo_accepts_the_renamed_manifest_with_its_features(tmp_path: Path) -> None:
    files = {"Cargo.toml": IMPLICIT, "src/main.rs": MAIN}
    assert cargo_metadata(write(tmp_path, files)).returncode == 0  # the case is valid before
    after = fixed(tmp_path, files)
    meta = cargo_metadata(tmp_path)
    assert meta.returncode == 0, meta.stderr
    deps = json.loads(meta.stdout)["packages"][0]["dependencies"]
    assert sorted(d["name"] for d in deps) == ["tikv-jemalloc-ctl", "tikv-jemallocator"]
    assert "AP008" not in rules(tmp_path)
    # The old names stay features (`--features jemallocator` still works) and enable the
    # renamed crates; `prof` still switches the `jemallocator` feature on, as it did.
    feats = features(after["Cargo.toml"])
    assert feats["jemallocator"] == ["dep:tikv-jemallocator"]
    assert feats["jemalloc-ctl"] == ["dep:tikv-jemalloc-ctl"]
    assert feats["jemalloc"] == ["jemallocator", "jemalloc-ctl"]
    assert feats["prof"] == ["tikv-jemallocator/profiling", "jemallocator"]
    assert after["src/main.rs"] == MAIN.replace("jemallocator::", "tikv_jemallocator::").replace(
        "jemalloc_ctl::", "tikv_jemalloc_ctl::"
    )  # `cfg(feature = "jemallocator")` names the kept feature: left alone


@needs_cargo
def test_cargo_accepts_the_renamed_manifest_with_the_cli_features(tmp_path: Path) -> None:
    """`cargo metadata --features jemallocator,prof` reads the feature names users pass."""
    fixed(tmp_path, {"Cargo.toml": IMPLICIT, "src/main.rs": MAIN})
    meta = subprocess.run(
        ["cargo", "metadata", "--offline", "--no-deps", "--format-version", "1"]
        + ["--features", "jemallocator,jemalloc-ctl,prof"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert meta.returncode == 0, meta.stderr


def test_dep_syntax_and_weak_features_follow_the_rename(tmp_path: Path) -> None:
    manifest = (
        PACKAGE
        + """[dependencies]
jemallocator = { version = "0.5", optional = true }
jemalloc-ctl = { version = "0.5", optional = true }

[features]
jemalloc = ["dep:jemallocator", "dep:jemalloc-ctl"]
prof = ["jemallocator?/profiling", "jemalloc-ctl?/stats"]
"""
    )
    after = fixed(tmp_path, {"Cargo.toml": manifest, "src/main.rs": MAIN})
    # No implicit feature existed (`dep:` hides it), so none is added.
    assert features(after["Cargo.toml"]) == {
        "jemalloc": ["dep:tikv-jemallocator", "dep:tikv-jemalloc-ctl"],
        "prof": ["tikv-jemallocator?/profiling", "tikv-jemalloc-ctl?/stats"],
    }


def test_an_explicit_feature_of_the_old_name_is_kept_and_still_switched_on(
    tmp_path: Path,
) -> None:
    manifest = (
        PACKAGE
        + """[dependencies]
jemallocator = { version = "0.5", optional = true }

[features]
jemallocator = ["dep:jemallocator"]
prof = ["jemallocator/profiling"]
"""
    )
    after = fixed(tmp_path, {"Cargo.toml": manifest, "src/main.rs": MAIN})
    assert features(after["Cargo.toml"]) == {
        "jemallocator": ["dep:tikv-jemallocator"],
        # cargo switched the same-named feature on with `jemallocator/profiling`
        "prof": ["tikv-jemallocator/profiling", "jemallocator"],
    }


@needs_cargo
def test_workspace_dependencies_members_and_target_tables_are_renamed_together(
    tmp_path: Path,
) -> None:
    files = {
        "Cargo.toml": """[workspace]
members = ["app", "tools"]
resolver = "2"

[workspace.dependencies]
jemallocator = "0.5"
jemalloc-ctl = { version = "0.5" }
""",
        "app/Cargo.toml": PACKAGE
        + """[target.'cfg(not(target_env = "msvc"))'.dependencies]
jemallocator = { workspace = true, optional = true }

[target.'cfg(target_os = "linux")'.dependencies]
jemalloc-ctl = { workspace = true }

[features]
default = ["jemallocator"]
prof = ["jemallocator/profiling"]
""",
        "app/src/main.rs": MAIN,
        "tools/Cargo.toml": """[package]
name = "tools"
version = "0.1.0"
edition = "2021"

[dependencies]
jemalloc-ctl = { workspace = true }
""",
        "tools/src/lib.rs": "pub use ::jemalloc_ctl::epoch;\n",
    }
    after = fixed(tmp_path, files)
    meta = cargo_metadata(tmp_path)
    assert meta.returncode == 0, meta.stderr
    root = toml_of(after["Cargo.toml"].encode())
    assert root["workspace"]["dependencies"] == {
        "tikv-jemallocator": "0.6",
        "tikv-jemalloc-ctl": {"version": "0.6"},
    }
    app = toml_of(after["app/Cargo.toml"].encode())
    targets = app["target"]
    assert targets['cfg(not(target_env = "msvc"))']["dependencies"] == {
        "tikv-jemallocator": {"workspace": True, "optional": True}
    }
    assert targets['cfg(target_os = "linux")']["dependencies"] == {
        "tikv-jemalloc-ctl": {"workspace": True}
    }
    assert app["features"]["default"] == ["jemallocator"]
    assert "tikv-jemalloc-ctl" in toml_of(after["tools/Cargo.toml"].encode())["dependencies"]
    assert after["tools/src/lib.rs"] == "pub use ::tikv_jemalloc_ctl::epoch;\n"
    assert "AP008" not in rules(tmp_path)


def test_every_finding_of_a_workspace_carries_the_same_whole_rename(tmp_path: Path) -> None:
    """Renaming one jemalloc crate alone leaves `jemalloc-sys` and `tikv-jemalloc-sys`
    side by side, which cargo refuses (both link `jemalloc`); so each finding's fix is
    the whole rename, and `fix --diff` (one round) shows all of it."""
    write(tmp_path, {"Cargo.toml": IMPLICIT, "src/main.rs": MAIN})
    report = json.loads(cli("scan", tmp_path, "--format", "json").out)
    fixes = [f["fix"] for f in report["findings"] if f["rule"] == "AP008"]
    assert [f["title"] for f in fixes] == [
        "Use tikv-jemallocator instead of jemallocator",
        "Use tikv-jemalloc-ctl instead of jemalloc-ctl",
    ]
    assert fixes[0]["edits"] == fixes[1]["edits"]
    diff = cli("fix", tmp_path, "--diff")
    assert "+tikv-jemalloc-ctl =" in diff.out and "+tikv-jemallocator =" in diff.out


def test_the_text_scan_names_each_crates_own_replacement(tmp_path: Path) -> None:
    write(tmp_path, {"Cargo.toml": IMPLICIT, "src/main.rs": MAIN})
    out = cli("scan", tmp_path).out
    assert "fix: Use tikv-jemallocator instead of jemallocator" in out
    assert "fix: Use tikv-jemalloc-ctl instead of jemalloc-ctl" in out


def test_sources_rename_crate_paths_only(tmp_path: Path) -> None:
    main = """extern crate jemallocator as jem;
use ::jemallocator::Jemalloc;

mod settings {
    pub mod jemallocator {
        pub const NAME: &str = "jemallocator";
    }
}

#[global_allocator]
static GLOBAL: Jemalloc = Jemalloc;

fn main() {
    #[cfg(feature = "jemallocator")]
    println!("{}", crate::settings::jemallocator::NAME); // jemallocator::x in a comment
    println!("{}", settings::jemallocator::NAME);
}
"""
    manifest = PACKAGE + '[dependencies]\njemallocator = "0.5"\n'
    after = fixed(tmp_path, {"Cargo.toml": manifest, "src/main.rs": main})
    assert after["src/main.rs"] == main.replace(
        "extern crate jemallocator", "extern crate tikv_jemallocator"
    ).replace("::jemallocator::Jemalloc", "::tikv_jemallocator::Jemalloc")


def test_no_fix_when_the_renamed_crate_would_be_declared_twice(tmp_path: Path) -> None:
    """`jem` renamed to tikv-jemallocator beside a tikv-jemallocator of the same
    requirement: one crate under two names, which cargo rejects. Not offered."""
    manifest = (
        PACKAGE
        + """[dependencies]
jem = { package = "jemallocator", version = "0.5" }
tikv-jemallocator = "0.6"
"""
    )
    files = {"Cargo.toml": manifest, "src/main.rs": "fn main() {}\n"}
    write(tmp_path, files)
    report = json.loads(cli("scan", tmp_path, "--format", "json").out)
    [finding] = [f for f in report["findings"] if f["rule"] == "AP008"]
    assert finding["fix"] is None
    assert "use `tikv-jemallocator`" in finding["message"]  # the manual step
    cli("fix", tmp_path)
    assert (tmp_path / "Cargo.toml").read_text() == manifest


def test_no_fix_for_a_patched_jemalloc_crate(tmp_path: Path) -> None:
    manifest = (
        PACKAGE
        + '[dependencies]\njemallocator = "0.5"\n\n'
        + '[patch.crates-io]\njemallocator = { git = "https://example.invalid/jemallocator" }\n'
    )
    write(tmp_path, {"Cargo.toml": manifest, "src/main.rs": "fn main() {}\n"})
    cli("fix", tmp_path)
    assert (tmp_path / "Cargo.toml").read_text() == manifest


AP008_GOLDEN = sorted(p for p in GOLDEN.iterdir() if p.name.startswith("ap008-"))


@needs_cargo
@pytest.mark.parametrize("case", AP008_GOLDEN, ids=lambda p: p.name)
def test_cargo_accepts_every_ap008_golden_result(case: Path) -> None:
    meta = cargo_metadata(case / "after")
    assert meta.returncode == 0, meta.stderr


def test_fix_writes_what_the_diff_showed_without_a_second_round(tmp_path: Path) -> None:
    """The old name stays the feature the static is gated on, so no AP006 re-gate
    (`feature = "tikv-jemallocator"`) follows the rename in a round `--diff` never shows."""
    manifest = PACKAGE + '[dependencies]\njemallocator = { version = "0.5", optional = true }\n'
    main = (
        '#[cfg(feature = "jemallocator")]\n#[global_allocator]\n'
        "static G: jemallocator::Jemalloc = jemallocator::Jemalloc;\nfn main() {}\n"
    )
    write(tmp_path, {"Cargo.toml": manifest, "src/main.rs": main})
    diff = cli("fix", tmp_path, "--diff")
    run = cli("fix", tmp_path)
    assert "AP006" not in run.err and "AP006" not in diff.err
    assert (tmp_path / "src/main.rs").read_text().startswith('#[cfg(feature = "jemallocator")]\n')
    assert rules(tmp_path) == []
