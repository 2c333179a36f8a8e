"""Which findings a pull request is answerable for: none may pass silently."""

from __future__ import annotations

import pytest
from ghdouble import PrFile
from real_repo import git, new_repo, review

pytestmark = pytest.mark.github

CARGO = (
    '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nserde = "1"\n'
)
MUSL = (
    "FROM rust:1-alpine AS build\nWORKDIR /src\nCOPY . .\nRUN cargo build --release\n\n"
    "FROM alpine:3.20\nCOPY --from=build /src/target/release/app /usr/local/bin/app\n"
    'CMD ["app"]\n'
)


def test_past_githubs_3000_file_listing_on_a_shallow_checkout_an_error_still_fails(
    tmp_path, double
):
    origin = new_repo(tmp_path, {"Cargo.toml": CARGO, "src/main.rs": "fn main() {}\n"}, "origin")
    base = origin.commit("base")
    docs = {f"docs/{i:04}.md": f"page {i}\n" for i in range(3000)}
    origin.write({**docs, "zz/Containerfile": MUSL})
    head = origin.commit("a large PR")
    # actions/checkout's default: the head commit alone, no base to diff against
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{origin.root}", str(checkout))
    files = [PrFile(p, "@@ -0,0 +1 @@\n+x", "added") for p in sorted(docs)]
    files.append(PrFile("zz/Containerfile", "@@ -0,0 +1 @@\n+x", "added"))  # 3001st: not listed
    double.add_pull(7, head, base, files)

    r = review(double, tmp_path, checkout, 7, head, base)

    assert r.code == 1, r.summary
    assert r.outputs["errors"] == "1" and r.outputs["failed"] == "true"
    assert "❌ failing" in r.summary
    assert "3000" in r.summary and "3001" in r.summary and "shallow" in r.summary
    assert "::error file=zz/Containerfile,line=1" in r.stdout
    (summary,) = [c["body"] for c in double.issue_comments]
    assert "zz/Containerfile:1" in summary
