"""Fixes shown as ```diff blocks are real patches: `git apply` takes them as they are."""

from __future__ import annotations

import subprocess

import pytest
from real_repo import bot_comments, fenced, new_repo, patches, review

pytestmark = pytest.mark.github

CONTAINERFILE = (
    "FROM rust:1-alpine AS build\nWORKDIR /src\nCOPY . .\nRUN cargo build --release\n\n"
    "FROM alpine:3.20\nCOPY --from=build /src/target/release/app /usr/local/bin/app\n"
    'CMD ["app"]\n'
)
CARGO = (
    '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nserde = "1"'
)


def _diff_of_ap001(tmp_path, double, cargo: str) -> tuple[str, object]:
    """A PR adding a musl Containerfile to a crate whose Cargo.toml ends with its
    dependencies: AP001's fix appends mimalloc at the end of that (unchanged) file."""
    repo = new_repo(tmp_path, {"Cargo.toml": cargo, "src/main.rs": "fn main() {}\n"})
    base = repo.commit("base")
    repo.write({"Containerfile": CONTAINERFILE})
    head = repo.commit("head")
    double.add_pull(7, head, base, patches(repo.root, base, head))
    review(double, tmp_path, repo.root, 7, head, base)
    (comment,) = [c for c in bot_comments(double) if "AP001" in c["body"]]
    (block,) = fenced(comment["body"], "diff")
    return block, repo


def _git_apply_check(repo, block: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo.root), "apply", "--check", "-v", "-"],
        input=block + "\n",
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("final_newline", [True, False], ids=["newline", "no-final-newline"])
def test_a_fix_appending_at_the_end_of_a_file_is_a_diff_git_applies(
    tmp_path, double, final_newline
):
    block, repo = _diff_of_ap001(tmp_path, double, CARGO + ("\n" if final_newline else ""))
    assert "--- a/Cargo.toml" in block and "+++ b/Cargo.toml" in block
    assert "@@ 8:1 @@" not in block
    assert ("\\ No newline at end of file" in block) is (not final_newline)
    proc = _git_apply_check(repo, block)
    assert proc.returncode == 0, proc.stderr + block
    # both files of the fix are patched, none skipped
    assert "Checking patch Cargo.toml" in proc.stderr
    assert "Checking patch src/main.rs" in proc.stderr
    applied = subprocess.run(
        ["git", "-C", str(repo.root), "apply", "-"], input=block + "\n", text=True
    )
    assert applied.returncode == 0
    cargo = (repo.root / "Cargo.toml").read_text()
    assert cargo.endswith('serde = "1"\nmimalloc = { version = "0.1", default-features = false }\n')


def test_a_diff_block_for_a_crlf_file_applies_to_it(tmp_path, double):
    crlf = (CARGO + "\n").replace("\n", "\r\n")
    block, repo = _diff_of_ap001(tmp_path, double, crlf)
    proc = _git_apply_check(repo, block)
    assert proc.returncode == 0, proc.stderr + block
    subprocess.run(["git", "-C", str(repo.root), "apply", "-"], input=block + "\n", text=True)
    data = (repo.root / "Cargo.toml").read_bytes()
    assert data.endswith(
        b'serde = "1"\r\nmimalloc = { version = "0.1", default-features = false }\r\n'
    )
    assert data.count(b"\n") == data.count(b"\r\n")  # no LF-only line crept in
