"""Suggestions keep the shape of the file they would change: its line endings."""

from __future__ import annotations

import pytest
from real_repo import bot_comments, fenced, new_repo, patches, review

from allocpolicy.frontdoors.github.suggest import whole_line_replacement
from allocpolicy.model import Edit

pytestmark = pytest.mark.github

CRLF_CARGO = (
    b'[package]\r\nname = "app"\r\nversion = "0.1.0"\r\nedition = "2021"\r\n\r\n'
    b'[dependencies]\r\nserde = "1"\r\n'
)
MAIN = "use mimalloc::MiMalloc;\n\n#[global_allocator]\nstatic GLOBAL: MiMalloc = MiMalloc;\n\nfn main() {}\n"


def test_a_suggestion_for_a_crlf_cargo_toml_uses_crlf_on_every_line(tmp_path, double):
    repo = new_repo(tmp_path, {"Cargo.toml": CRLF_CARGO, "src/main.rs": MAIN})
    base = repo.commit("base")
    repo.write({"Cargo.toml": CRLF_CARGO + b'mimalloc = "0.1"\r\n'})
    head = repo.commit("add mimalloc")
    files = patches(repo.root, base, head)
    assert "\r" in files[0].patch  # as GitHub serves a CRLF file's patch
    double.add_pull(7, head, base, files)
    review(double, tmp_path, repo.root, 7, head, base)
    (comment,) = [c for c in bot_comments(double) if "AP004" in c["body"]]
    (suggestion,) = fenced(comment["body"], "suggestion")
    lines = suggestion.split("\n")
    assert "default-features = false" in suggestion
    assert all(line.endswith("\r") for line in lines), lines


def test_lines_inserted_into_a_crlf_file_get_crlf_like_the_copied_ones():
    text = {1: 'serde = "1"\r', 2: 'tokio = "1"\r'}
    r = whole_line_replacement([Edit("Cargo.toml", 3, 1, 3, 1, 'mimalloc = "0.1"\n')], text.get, 2)
    assert r is not None
    assert r.new_text == 'tokio = "1"\r\nmimalloc = "0.1"\r'
    lf = whole_line_replacement(
        [Edit("Cargo.toml", 3, 1, 3, 1, 'mimalloc = "0.1"\n')], {2: 'tokio = "1"'}.get, 2
    )
    assert lf is not None and "\r" not in lf.new_text
