"""A checkout that is not the PR head (actions/checkout's merge commit) must not put
comments or suggestions on the wrong lines."""

from __future__ import annotations

import pytest
from real_repo import bot_comments, fenced, git, new_repo, patches, review

pytestmark = pytest.mark.github

CARGO = (
    '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nserde = "1"\n'
)
MAIN = "use mimalloc::MiMalloc;\n\n#[global_allocator]\nstatic GLOBAL: MiMalloc = MiMalloc;\n\nfn main() {}\n"


def _merge_checkout(tmp_path, double):
    """The PR adds mimalloc (AP004: default features) and tokio; main meanwhile gains a
    line above them; the checkout is the merge of the two, as refs/pull/N/merge is."""
    repo = new_repo(tmp_path, {"Cargo.toml": CARGO, "src/main.rs": "fn main() {}\n"})
    base = repo.commit("base")
    git(repo.root, "checkout", "-q", "-b", "feature")
    repo.write({"Cargo.toml": CARGO + 'mimalloc = "0.1"\ntokio = "1"\n', "src/main.rs": MAIN})
    head = repo.commit("add mimalloc")
    git(repo.root, "checkout", "-q", "main")
    repo.write(
        {"Cargo.toml": CARGO.replace('edition = "2021"\n', 'edition = "2021"\nlicense = "MIT"\n')}
    )
    repo.commit("a line on main")
    git(repo.root, "merge", "-q", "--no-ff", "-m", "merge", "feature")
    git(repo.root, "checkout", "-q", "--detach")
    double.add_pull(7, head, base, patches(repo.root, base, head))
    return repo, base, head


def test_on_a_merge_checkout_the_suggestion_lands_on_the_heads_line(tmp_path, double):
    repo, base, head = _merge_checkout(tmp_path, double)
    assert git(repo.root, "show", "HEAD:Cargo.toml").splitlines()[8] == 'mimalloc = "0.1"'
    r = review(double, tmp_path, repo.root, 7, head, base)
    (c,) = [c for c in bot_comments(double) if "AP004" in c["body"]]
    # at the head, mimalloc is line 8 (line 9 is tokio, which must not be replaced)
    assert c["line"] == 8, c
    (suggestion,) = fenced(c["body"], "suggestion")
    assert suggestion == 'mimalloc = { version = "0.1", default-features = false }'
    assert "is not the pull request's head" in r.summary


def test_without_the_head_commit_no_suggestion_and_no_comment_on_a_moved_line(tmp_path, double):
    repo, base, head = _merge_checkout(tmp_path, double)
    merge = git(repo.root, "rev-parse", "HEAD").strip()
    git(repo.root, "branch", "-q", "merged", merge)
    checkout = tmp_path / "checkout"  # the merge commit alone: no head to read
    git(
        tmp_path,
        "clone",
        "-q",
        "--depth",
        "1",
        "-b",
        "merged",
        f"file://{repo.root}",
        str(checkout),
    )
    r = review(double, tmp_path, checkout, 7, head, base)
    assert not any(fenced(c["body"], "suggestion") for c in bot_comments(double))
    assert not [c for c in bot_comments(double) if "AP004" in c["body"]]
    (summary,) = [c["body"] for c in double.issue_comments]
    assert "AP004" in summary and "Cargo.toml:9" in summary
    assert "head commit is not available locally" in r.summary
    assert "::warning file=Cargo.toml,line=9" in r.stdout
