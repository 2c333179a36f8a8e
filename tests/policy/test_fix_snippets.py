"""A rule page's Fix snippet is advice a user copies: applied to a crate it must satisfy
the rules, not trip another one (AP001's once gated the dependency to musl but left
the static ungated, which AP006 reports)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import write_tree

from allocpolicy.cli import main

_FIX = re.compile(r"^## Fix\n(.*?)(?=^## |\Z)", re.S | re.M)
_BLOCK = re.compile(r"```(toml|rust)\n(.*?)```", re.S)
ALPINE = (
    "FROM rust:1.82-alpine AS b\nWORKDIR /w\nCOPY . .\nRUN cargo build --release\n"
    "FROM alpine:3.20\nCOPY --from=b /w/target/release/svc /usr/local/bin/svc\n"
)


def _pages() -> dict[str, tuple[str, str]]:
    """Rule id -> (toml, rust) of the pages whose Fix shows both."""
    out = {}
    for page in sorted((Path(__file__).resolve().parents[2] / "docs" / "rules").glob("AP*.md")):
        fix = _FIX.search(page.read_text(encoding="utf-8"))
        blocks = dict(_BLOCK.findall(fix.group(1))) if fix else {}
        if "toml" in blocks and "rust" in blocks:
            out[page.stem] = (blocks["toml"], blocks["rust"])
    return out


PAGES = _pages()


def test_the_pages_with_crate_fixes_are_found():
    assert "AP001" in PAGES  # else the reading above is broken and the test below is empty


@pytest.mark.parametrize("rule", sorted(PAGES))
def test_fix_snippet_scans_clean_on_a_musl_image(rule, tmp_path, capsys):
    toml, rust = PAGES[rule]
    write_tree(
        tmp_path,
        {
            "Cargo.toml": '[package]\nname = "svc"\nversion = "0.1.0"\nedition = "2021"\n\n' + toml,
            "src/main.rs": rust + "\nfn main() {}\n",
            "Dockerfile": ALPINE,
        },
    )
    main(["scan", str(tmp_path), "--format", "json", "--fail-on", "info"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert [(f["rule"], f["message"]) for f in findings] == []
