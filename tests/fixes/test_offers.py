"""Text, JSON and `fix --diff` promise the same fixes: every `fix:` line of a text scan is
a fix JSON carries (same title), and text's "N fixable" is JSON's `summary.fixable`."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from fixkit import cli
from helpers import MIMALLOC_DEP, STATIC, cargo, write_tree

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
    # two unmaintained crates, each with its own replacement: the titles must say which
    "jemallocator-and-ctl": {
        "Cargo.toml": cargo("svc", 'jemallocator = "0.5"\njemalloc-ctl = "0.5"'),
        "src/main.rs": "#[global_allocator]\n"
        "static GLOBAL: jemallocator::Jemalloc = jemallocator::Jemalloc;\nfn main() {}\n",
    },
}
_FIXABLE = re.compile(r"; (\d+) fixable")


def _trees() -> list[tuple[str, Path | dict]]:
    out: list[tuple[str, Path | dict]] = [
        (p.name, p) for p in sorted(EXAMPLES.iterdir()) if p.is_dir()
    ]
    out += [(p.name, p / "before") for p in sorted(GOLDEN.iterdir()) if (p / "before").is_dir()]
    return out + list(CRAFTED.items())


def _text_fixes(out: str) -> list[tuple[str, str]]:
    """(finding line `path:line:col: RULE`, fix title) for each `fix:` line of a text scan."""
    pairs, finding = [], ""
    for line in out.splitlines():
        if re.match(r"^\S+:\d+:\d+: [A-Z][A-Z0-9]* \[", line):
            finding = " ".join(line.split()[:2])
        elif line.startswith("    fix: "):
            pairs.append((finding, line[9:].removesuffix(" (unsafe: --unsafe-fixes)")))
    return pairs


@pytest.mark.parametrize(("name", "tree"), _trees(), ids=[n for n, _ in _trees()])
def test_text_promises_exactly_the_fixes_json_carries(tmp_path, name, tree):
    root = tmp_path / "repo"
    if isinstance(tree, Path):
        shutil.copytree(tree, root)
    else:
        write_tree(root, tree)
    text = cli("scan", root).out
    doc = json.loads(cli("scan", root, "--format", "json").out)
    carried = [
        (f"{f['path']}:{f['line']}:{f['column']}: {f['rule']}", f["fix"]["title"])
        for f in doc["findings"]
        if f["fix"] is not None
    ]
    assert _text_fixes(text) == carried
    m = _FIXABLE.search(text.splitlines()[-1])
    assert (int(m.group(1)) if m else 0) == doc["summary"]["fixable"] == len(carried)
