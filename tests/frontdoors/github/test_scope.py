"""Which findings a pull request is answerable for: none may pass silently."""

from __future__ import annotations

import pytest
from ghdouble import PrFile
from real_repo import bot_comments, git, new_repo, patches, review

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


ORDERS_CARGO = (
    '[package]\nname = "orders"\nversion = "0.1.0"\nedition = "2021"\n\n'
    '[dependencies]\nserde = "1"\nmimalloc = { version = "0.1", default-features = false }\n'
    'tokio = "1"\n'
)
ORDERS_MAIN = (
    "use mimalloc::MiMalloc;\n\n#[global_allocator]\nstatic GLOBAL: MiMalloc = MiMalloc;\n\n"
    'fn main() {\n    println!("orders");\n}\n'
)
ORDERS_DOCKERFILE = (
    "FROM rust:1-alpine AS build\nWORKDIR /src\nCOPY . .\nRUN cargo build --release -p orders\n\n"
    "FROM alpine:3.20\nCOPY --from=build /src/target/release/orders /usr/local/bin/orders\n"
    'CMD ["orders"]\n'
)


def _monorepo(tmp_path, double):
    """A workspace with services/orders; the PR drops mimalloc from its Cargo.toml and main.rs."""
    repo = new_repo(
        tmp_path,
        {
            "Cargo.toml": '[workspace]\nmembers = ["services/orders"]\nresolver = "2"\n',
            "services/orders/Cargo.toml": ORDERS_CARGO,
            "services/orders/src/main.rs": ORDERS_MAIN,
            "services/orders/Dockerfile": ORDERS_DOCKERFILE,
        },
    )
    base = repo.commit("base")
    repo.write(
        {
            "services/orders/Cargo.toml": ORDERS_CARGO.replace(
                'mimalloc = { version = "0.1", default-features = false }\n', ""
            ),
            "services/orders/src/main.rs": 'fn main() {\n    println!("orders");\n}\n',
        }
    )
    head = repo.commit("drop mimalloc")
    double.add_pull(7, head, base, patches(repo.root, base, head))
    return repo, base, head


def test_a_pr_breaking_an_untouched_dockerfile_fails_with_a_comment_on_the_change(tmp_path, double):
    repo, base, head = _monorepo(tmp_path, double)
    r = review(double, tmp_path, repo.root, 7, head, base)

    assert r.code == 1, r.summary
    assert r.outputs["errors"] == "1" and r.outputs["failed"] == "true"
    assert "❌ failing" in r.summary and "caused by its changes" in r.summary
    (c,) = [c for c in bot_comments(double) if "AP001" in c["body"]]
    # on the removed dependency's neighbourhood in the Cargo.toml the PR changes
    assert c["path"] == "services/orders/Cargo.toml"
    assert c["line"] == 8 and c.get("subject_type", "line") == "line"  # where it was
    assert "Caused by this change" in c["body"] and "services/orders/Dockerfile:1" in c["body"]
    assert double.rejections == []
    assert "::error file=services/orders/Dockerfile" not in r.stdout  # it is a review comment
    n = len(double.writes())
    again = review(double, tmp_path, repo.root, 7, head, base)
    assert double.writes()[n:] == [] and again.code == 1  # a rerun keeps the comment as it is


def test_without_a_hunk_to_hang_on_a_caused_finding_is_a_file_comment_on_the_change(
    tmp_path, double
):
    repo, base, head = _monorepo(tmp_path, double)
    for f in double.pulls[7].files:
        f.patch = None  # e.g. GitHub leaves a large diff's patch out
    checkout = tmp_path / "checkout"  # shallow: no local diff to recover the hunks from
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo.root}", str(checkout))
    r = review(double, tmp_path, checkout, 7, head, base)
    assert r.code == 1, r.summary
    (c,) = [c for c in bot_comments(double) if "AP001" in c["body"]]
    assert c["subject_type"] == "file" and c["path"] == "services/orders/Cargo.toml"
    assert "services/orders/Dockerfile:1" in c["body"]


def test_a_caused_finding_with_no_changed_file_to_comment_on_is_in_the_summary(tmp_path, double):
    """The PR only deletes the module holding the #[global_allocator]: a removed file
    takes no comment, so the broken image is listed in the summary comment, and fails."""
    alloc = "use mimalloc::MiMalloc;\n\n#[global_allocator]\nstatic GLOBAL: MiMalloc = MiMalloc;\n"
    repo = new_repo(
        tmp_path,
        {
            "services/orders/Cargo.toml": ORDERS_CARGO,
            "services/orders/src/main.rs": "mod alloc;\n\nfn main() {}\n",
            "services/orders/src/alloc.rs": alloc,
            "services/orders/Dockerfile": ORDERS_DOCKERFILE,
        },
    )
    base = repo.commit("base")
    repo.remove("services/orders/src/alloc.rs")
    head = repo.commit("drop the allocator module")
    double.add_pull(7, head, base, patches(repo.root, base, head))
    r = review(double, tmp_path, repo.root, 7, head, base)
    assert r.code == 1, r.summary
    assert not [c for c in bot_comments(double) if "AP001" in c["body"]]
    (summary,) = [c["body"] for c in double.issue_comments]
    assert "services/orders/Dockerfile:1" in summary and "AP001" in summary
