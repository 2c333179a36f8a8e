"""A fix that adds a dependency under a Cargo.lock says which `cargo update` to run, and
which `--locked`/`--frozen` builds fail until then (the tool never runs cargo itself)."""

from __future__ import annotations

import json
from pathlib import Path

from fixkit import cli
from helpers import cargo, write_tree

LOCK = 'version = 4\n\n[[package]]\nname = "{name}"\nversion = "0.1.0"\n'
MAIN = "fn main() {}\n"


def _alpine(build: str, workdir: str = "/src", binary: str = "svc") -> str:
    return (
        f"FROM rust:1.82-alpine AS b\nWORKDIR {workdir}\nCOPY . .\nRUN {build}\n"
        f"FROM alpine:3.20\nCOPY --from=b {workdir}/target/release/{binary} /usr/local/bin/\n"
    )


def _titles(root: Path) -> dict[str, str]:
    doc = json.loads(cli("scan", root, "--format", "json").out)
    return {f["rule"]: f["fix"]["title"] for f in doc["findings"] if f["fix"]}


def test_adding_mimalloc_under_a_lock_names_the_update_and_the_locked_build(tmp_path):
    write_tree(
        tmp_path,
        {
            "Cargo.toml": cargo("svc"),
            "Cargo.lock": LOCK.format(name="svc"),
            "src/main.rs": MAIN,
            "Dockerfile": _alpine("cargo build --release --locked"),
        },
    )
    title = _titles(tmp_path)["AP001"]
    assert "then run `cargo update -p mimalloc` to update Cargo.lock" in title
    assert "--locked build at Dockerfile:4 fails" in title
    # the same words where the user accepts it
    assert "cargo update -p mimalloc" in cli("fix", tmp_path).err


def test_frozen_before_the_subcommand_in_a_member_counts_too(tmp_path):
    write_tree(
        tmp_path,
        {
            "Cargo.toml": '[workspace]\nmembers = ["svc"]\nresolver = "2"\n',
            "Cargo.lock": LOCK.format(name="svc"),
            "svc/Cargo.toml": cargo("svc"),
            "svc/src/main.rs": MAIN,
            "Dockerfile": _alpine("cargo --frozen build --release -p svc"),
        },
    )
    title = _titles(tmp_path)["AP001"]
    assert "`cargo update -p mimalloc` to update Cargo.lock" in title
    assert "Dockerfile:4" in title


def test_without_a_lock_or_a_locked_build_the_title_says_only_what_applies(tmp_path):
    write_tree(
        tmp_path,
        {
            "Cargo.toml": cargo("svc"),
            "src/main.rs": MAIN,
            "Dockerfile": _alpine("cargo build --release --locked"),
        },
    )
    assert _titles(tmp_path)["AP001"] == "Link mimalloc as the #[global_allocator]"
    (tmp_path / "Cargo.lock").write_text(LOCK.format(name="svc"))
    (tmp_path / "Dockerfile").write_text(_alpine("cargo build --release"))
    title = _titles(tmp_path)["AP001"]
    assert "cargo update -p mimalloc" in title and "--locked" not in title


def test_a_rename_names_the_new_package(tmp_path):
    write_tree(
        tmp_path,
        {
            "Cargo.toml": cargo("svc", 'jemallocator = "0.5"'),
            "Cargo.lock": LOCK.format(name="svc"),
            "src/main.rs": "#[global_allocator]\n"
            "static GLOBAL: jemallocator::Jemalloc = jemallocator::Jemalloc;\n" + MAIN,
        },
    )
    assert "`cargo update -p tikv-jemallocator`" in _titles(tmp_path)["AP008"]


def test_a_fix_that_adds_no_dependency_says_nothing_of_the_lock(tmp_path):
    write_tree(
        tmp_path,
        {
            "Cargo.toml": cargo("svc", 'mimalloc = "0.1"'),
            "Cargo.lock": LOCK.format(name="svc"),
            "src/main.rs": MAIN,
        },
    )
    titles = _titles(tmp_path)
    assert titles and not any("cargo update" in t for t in titles.values())
