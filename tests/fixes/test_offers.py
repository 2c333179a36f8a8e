"""A finding shown as fixable (without computing edits) must really get a fix, and vice versa."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import MIMALLOC_DEP, STATIC, cargo, write_tree

from allocpolicy.commands.scan import scan
from allocpolicy.fixes.actions import resolve_fixes

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"
CRAFTED = {
    "musl-gated-dep-on-glibc-image": {
        "Cargo.toml": cargo("svc")
        + "\n[target.'cfg(target_env = \"musl\")'.dependencies]\n"
        + MIMALLOC_DEP
        + "\n",
        "src/main.rs": '#[cfg(target_env = "musl")]\n' + STATIC + "fn main() {}\n",
        "Dockerfile": "FROM rust:1.82-bookworm AS b\nWORKDIR /w\nCOPY . .\nRUN cargo build --release\n"
        "FROM debian:bookworm-slim\nCOPY --from=b /w/target/release/svc /svc\n",
    },
    "feature-gated-built-without": {
        "Cargo.toml": cargo(
            "svc", 'mimalloc = { version = "0.1", default-features = false, optional = true }'
        ),
        "src/main.rs": '#[cfg(feature = "mimalloc")]\n' + STATIC + "fn main() {}\n",
        "Dockerfile": "FROM rust:1.82-alpine AS b\nWORKDIR /w\nCOPY . .\nRUN cargo build --release\n"
        "FROM scratch\nCOPY --from=b /w/target/release/svc /svc\n",
    },
}


def _trees() -> list[tuple[str, Path | dict]]:
    out: list[tuple[str, Path | dict]] = [
        (p.name, p) for p in sorted(EXAMPLES.iterdir()) if p.is_dir()
    ]
    out += [(p.name, p / "before") for p in sorted(GOLDEN.iterdir()) if (p / "before").is_dir()]
    return out + list(CRAFTED.items())


@pytest.mark.parametrize(("name", "tree"), _trees(), ids=[n for n, _ in _trees()])
def test_offered_iff_computed(tmp_path, name, tree):
    if isinstance(tree, Path):
        shutil.copytree(tree, tmp_path / "repo")
    else:
        write_tree(tmp_path / "repo", tree)
    result = scan(tmp_path / "repo", with_fixes=False)
    offered = {(f.rule, f.location.line): f.offered is not None for f in result.findings}
    resolve_fixes(result)
    computed = {(f.rule, f.location.line): f.fix is not None for f in result.findings}
    assert offered == computed
