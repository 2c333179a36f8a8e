"""The issue's scenarios, end to end: real PyGithub against the API double."""

from __future__ import annotations

import json

import pytest
from gh_helpers import (
    BASE,
    CARGO_PATCH,
    CONTAINERFILE_PATCH,
    HEAD,
    HEAD2,
    base_files,
    f_ap001,
    f_ap003,
    f_ap004_main,
    f_ap004_outside,
)
from ghdouble import PrFile

from allocpolicy.frontdoors.github import markers
from allocpolicy.model import Edit, Finding, Fix, Location, Safety, Severity

pytestmark = pytest.mark.github

ALL = [f_ap001, f_ap003, f_ap004_outside, f_ap004_main]


def findings(*makers):
    return [m() for m in (makers or ALL)]


def bot_comments(double):
    return [
        c
        for c in double.review_comments
        if c["user"]["login"] == "github-actions[bot]" and not c.get("in_reply_to_id")
    ]


def suggestion_of(body: str) -> str | None:
    lines = body.split("\n")
    for i, ln in enumerate(lines):
        if ln.lstrip("`") == "suggestion" and ln.startswith("```"):
            fence = ln[: len(ln) - len("suggestion")]
            j = lines.index(fence, i + 1)
            return "\n".join(lines[i + 1 : j])
    return None


def test_first_run_posts_the_right_comments_and_suggestions(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    r = bot(
        findings(),
        inventory=[
            {"file": "Containerfile", "stage": "0", "base": "rust:1-alpine", "libc": "musl"}
        ],
    )

    reviews = double.calls("pulls/create-review")
    assert len(reviews) == 1
    body = reviews[0]["body"]
    assert body["event"] == "COMMENT" and body["commit_id"] == HEAD
    by_path = {c["path"]: c for c in body["comments"]}
    assert set(by_path) == {"Containerfile", "Cargo.toml"}
    cf = by_path["Containerfile"]
    assert (cf["line"], cf["side"]) == (1, "RIGHT") and "start_line" not in cf
    assert suggestion_of(cf["body"]) == "FROM rust:1-bookworm"
    assert "AP001" in cf["body"] and "musl-default-allocator" in cf["body"]
    assert "musl's malloc is slow under contention." in cf["body"]
    assert "/docs/rules/AP001.md)" in cf["body"]
    cargo = by_path["Cargo.toml"]
    assert cargo["line"] == 7  # the insertion hangs off the finding's own line
    assert suggestion_of(cargo["body"]) == 'tokio = "1"\nmimalloc = "0.1"'
    # the finding outside the diff is in the sticky summary, main.rs (not in the PR) is not
    assert len(double.issue_comments) == 1
    summary = double.issue_comments[0]["body"]
    assert markers.parse(summary).kind == "summary"
    assert "Cargo.toml:2" in summary and "AP004" in summary and "src/main.rs" not in summary
    # outputs, job summary, exit code
    assert r.code == 1
    assert (
        r.outputs["errors"] == "1" and r.outputs["warnings"] == "2" and r.outputs["findings"] == "3"
    )
    assert r.outputs["review-url"].endswith(f"pullrequestreview-{double.reviews[0]['id']}")
    assert (
        "| 🛑 error | AP001" in r.summary
        and "### Image inventory" in r.summary
        and "rust:1-alpine" in r.summary
    )
    assert "src/main.rs:1" in r.summary  # the job summary lists everything
    # annotations only for what is not an inline comment
    assert "::warning file=Cargo.toml,line=2" in r.stdout
    assert "file=Containerfile" not in r.stdout
    assert all(rv["body"].get("event") != "APPROVE" for rv in double.writes() if rv["body"])


def test_identical_rerun_posts_nothing(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    bot(findings())
    n = len(double.writes())
    r = bot(findings())
    assert double.writes()[n:] == []
    assert (
        len(bot_comments(double)) == 2
        and len(double.issue_comments) == 1
        and len(double.reviews) == 1
    )
    assert "0 posted, 2 unchanged" in r.summary


def test_push_fixing_one_finding_marks_it_resolved_and_keeps_the_rest(double, bot, event_file):
    double.add_pull(7, HEAD, BASE, base_files())
    bot(findings())
    ap001 = next(c for c in bot_comments(double) if c["path"] == "Containerfile")
    reply = double.add_reply(ap001["id"], "alice", "Why not bookworm-slim?")
    fixed = "@@ -0,0 +1,4 @@\n+FROM rust:1-bookworm\n+WORKDIR /src\n+COPY . .\n+RUN cargo build --release"
    double.push(
        7, HEAD2, [PrFile("Containerfile", fixed, "added"), PrFile("Cargo.toml", CARGO_PATCH)]
    )
    n = len(double.writes())
    bot(findings(f_ap003, f_ap004_outside, f_ap004_main), event=event_file(head=HEAD2))
    writes = [
        w for w in double.writes()[n:] if w["op"] != "issues/update-comment"
    ]  # the summary's counts changed
    # the body edit, and the thread resolved so required conversation resolution passes
    assert [w["op"] for w in writes] == ["pulls/update-review-comment", "graphql/mutation"]
    assert double.thread_of(ap001["id"])["isResolved"]
    assert writes[0]["path"].endswith(f"/pulls/comments/{ap001['id']}")
    m = markers.parse(ap001["body"])
    assert m.state == "resolved" and "Resolved" in ap001["body"]
    assert suggestion_of(ap001["body"]) is None  # the suggestion can no longer be applied
    assert reply in double.review_comments  # the human reply (and its thread) survive
    assert (
        markers.parse(
            next(c for c in bot_comments(double) if c["path"] == "Cargo.toml")["body"]
        ).state
        == "open"
    )
    # and a further identical run changes nothing
    n = len(double.writes())
    bot(findings(f_ap003, f_ap004_outside, f_ap004_main), event=event_file(head=HEAD2))
    assert double.writes()[n:] == []


def test_a_moved_finding_is_reposted_and_the_old_comment_resolved(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    f = f_ap001()
    key = f.fingerprint
    old = double.add_review_comment(
        7,
        "github-actions[bot]",
        markers.Marker("inline", (key,)).render() + "\nold text",
        "Containerfile",
        3,
    )
    bot([f])
    new = [c for c in bot_comments(double) if c["id"] != old["id"]]
    assert len(new) == 1 and new[0]["line"] == 1
    assert markers.parse(old["body"]).state == "resolved" and "moved" in old["body"]


def test_outdated_comment_whose_finding_left_the_diff_is_resolved(double, bot, event_file):
    double.add_pull(7, HEAD, BASE, base_files())
    bot(findings(f_ap003))
    # the tokio line is rewritten: the old comment becomes outdated, the new finding is new
    new_patch = CARGO_PATCH.replace('+tokio = "1"', '+tokio = { version = "1" }')
    double.push(
        7,
        HEAD2,
        [PrFile("Containerfile", CONTAINERFILE_PATCH, "added"), PrFile("Cargo.toml", new_patch)],
    )
    f = f_ap003()
    f.snippet = 'tokio = { version = "1" }'
    bot([f], event=event_file(head=HEAD2))
    states = sorted(markers.parse(c["body"]).state for c in bot_comments(double))
    assert states == ["open", "resolved"]


def test_finding_outside_the_diff_lands_in_the_summary_comment_edited_in_place(
    double, bot, event_file
):
    double.add_pull(7, HEAD, BASE, base_files())
    bot(findings(f_ap004_outside))
    assert double.calls("pulls/create-review") == []  # nothing to anchor: no review at all
    assert len(double.issue_comments) == 1
    summary = double.issue_comments[0]
    assert "Cargo.toml:2" in summary["body"]
    double.push(7, HEAD2, base_files())
    f = f_ap004_outside()
    f.message = "Still no global allocator."
    bot([f], event=event_file(head=HEAD2))
    assert len(double.issue_comments) == 1  # edited, not a second one
    assert "Still no global allocator." in summary["body"]
    assert [w["op"] for w in double.writes()] == ["issues/create-comment", "issues/update-comment"]


def test_422_on_one_position_still_posts_the_rest(double, bot):
    # GitHub served a stale patch for Cargo.toml (e.g. right after a force-push): line 7 is
    # not really in the diff. The review is rejected as a whole; the bot re-validates
    # against a fresh file listing, drops that one position and re-posts once.
    truth = "@@ -9,3 +9,3 @@\n [profile.release]\n-lto = false\n+lto = true\n "
    pr = double.add_pull(
        7,
        HEAD,
        BASE,
        [PrFile("Containerfile", CONTAINERFILE_PATCH, "added"), PrFile("Cargo.toml", truth)],
    )
    pr.stale_files_once = base_files()
    r = bot(findings(f_ap001, f_ap003))
    attempts = double.calls("pulls/create-review")
    assert [a["status"] for a in attempts] == [422, 200]
    assert [c["path"] for c in attempts[1]["body"]["comments"]] == ["Containerfile"]
    assert "Pull request review thread line must be part of the diff" in double.rejections[0]
    summary = double.issue_comments[0]["body"]
    assert "Cargo.toml:7" in summary and "rejected 1 inline comment position" in summary
    assert r.code == 1


def test_403_read_only_token_falls_back_to_annotations(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    r = bot(findings(), token="ro-token")
    assert [w["status"] for w in double.writes()] == [403]  # one attempt, then no more writes
    assert double.review_comments == [] and double.issue_comments == []
    assert (
        "::error file=Containerfile,line=1,endLine=1,col=6,endColumn=19,title=AP001 musl-default-allocator::"
        in r.stdout
    )
    assert "::warning file=Cargo.toml,line=7" in r.stdout
    assert "Review not posted" in r.summary and "annotation" in r.summary
    assert r.code == 1 and r.outputs["errors"] == "1"


def test_fork_pull_request_is_detected_before_writing(double, bot, event_file):
    double.add_pull(7, HEAD, BASE, base_files(), head_repo="mallory/app")
    r = bot(findings(), token="ro-token", event=event_file(head_repo="mallory/app"))
    assert double.writes() == []
    assert "fork mallory/app" in r.summary and "two-workflow" in r.summary
    assert "::error file=Containerfile" in r.stdout and r.code == 1
    assert r.outputs["reporter"] == "annotations"


def test_secondary_rate_limit_with_retry_after_is_honoured(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    double.inject(
        "pulls/create-review",
        403,
        headers={"Retry-After": "7"},
        body={
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
        },
    )
    sleeps = []
    bot(findings(), sleeps=sleeps)
    assert 7.0 in sleeps
    assert [a["status"] for a in double.calls("pulls/create-review")] == [403, 200]
    assert len(double.reviews) == 1 and len(bot_comments(double)) == 2


def test_rate_limit_wait_is_bounded_then_findings_still_reported(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    double.inject(
        "pulls/create-review", 429, headers={"Retry-After": "3600"}, body={"message": "slow down"}
    )
    sleeps = []
    r = bot(findings(), sleeps=sleeps, max_rate_limit_wait=60)
    assert sleeps == [] and double.reviews == []
    assert "rate limit" in r.summary and "::error file=Containerfile" in r.stdout and r.code == 1


def test_primary_rate_limit_on_a_read_waits_for_the_reset(double, bot):
    import time

    double.add_pull(7, HEAD, BASE, base_files())
    double.inject(
        "pulls/list-files",
        403,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 5)},
        body={"message": "API rate limit exceeded for installation ID 1."},
    )
    sleeps = []
    bot(findings(), sleeps=sleeps)
    assert sleeps and 4 <= sleeps[0] <= 7
    assert len(double.reviews) == 1


def test_502_after_the_review_was_created_causes_no_duplicate(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    double.inject("pulls/create-review", 502, after=True)
    double.inject("issues/create-comment", 502, after=True)
    bot(findings())
    assert len(double.calls("pulls/create-review")) == 1
    assert len(double.reviews) == 1 and len(bot_comments(double)) == 2
    assert len(double.calls("issues/create-comment")) == 1 and len(double.issue_comments) == 1
    # the re-list happened before any re-send
    ops = [c["op"] for c in double.requests]
    i = ops.index("pulls/create-review")
    assert ops[i + 1] == "pulls/list-reviews"


def test_502_before_creation_is_resent_once(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    double.inject("pulls/create-review", 502)
    bot(findings())
    assert [a["status"] for a in double.calls("pulls/create-review")] == [502, 200]
    assert len(double.reviews) == 1


def test_pr_with_300_plus_files_is_paginated(double, bot):
    files = [
        PrFile(f"crates/c{i:03d}/Cargo.toml", '@@ -1,1 +1,2 @@\n [package]\n+name = "c"')
        for i in range(350)
    ]
    files.append(PrFile("Containerfile", CONTAINERFILE_PATCH, "added"))
    double.add_pull(7, HEAD, BASE, files)
    f = Finding(
        "AP003",
        "missing-mimalloc-dependency",
        Severity.WARNING,
        Location("crates/c342/Cargo.toml", 2, 1),
        "mimalloc is not a dependency.",
        snippet='name = "c"',
    )
    bot([f, f_ap001()])
    pages = double.calls("pulls/list-files")
    assert [p["query"].get("page", ["1"])[0] for p in pages] == ["1", "2", "3", "4"]
    assert all(p["query"]["per_page"] == ["100"] for p in pages)
    paths = {c["path"] for c in bot_comments(double)}
    assert paths == {"crates/c342/Cargo.toml", "Containerfile"}


def test_leftover_pending_review_of_ours_is_submitted_first(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    pending = double.add_pending_review(
        7, "github-actions[bot]", markers.Marker("review", attempt="dead").render()
    )
    bot(findings())
    assert pending["state"] == "COMMENTED"
    assert [a["status"] for a in double.calls("pulls/create-review")] == [200]
    assert not any("pending" in x for x in double.rejections)


def test_someone_elses_pending_review_is_left_alone(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    pending = double.add_pending_review(7, "github-actions[bot]", "draft by another workflow")
    bot(findings())
    assert pending["state"] == "PENDING"
    assert double.calls("pulls/create-review") == []
    summary = double.issue_comments[0]["body"]
    assert "Containerfile:1" in summary and "pending" in summary


def test_request_changes_then_dismissed_when_clean(double, bot, event_file):
    double.add_pull(7, HEAD, BASE, base_files())
    bot(findings(), review_event="REQUEST_CHANGES")
    assert double.reviews[0]["state"] == "CHANGES_REQUESTED"
    double.push(7, HEAD2, base_files())
    r = bot([], review_event="REQUEST_CHANGES", event=event_file(head=HEAD2))
    assert double.reviews[0]["state"] == "DISMISSED" and r.code == 0


def test_max_comments_overflow_goes_to_the_summary(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    fs = [
        Finding(
            "AP005",
            "ld-preload-allocator",
            Severity.INFO,
            Location("Containerfile", n, 1),
            f"finding {n}",
            snippet=f"line {n}",
        )
        for n in (1, 2, 3, 4)
    ]
    bot(fs, max_comments=2)
    assert len(double.calls("pulls/create-review")[0]["body"]["comments"]) == 2
    summary = double.issue_comments[0]["body"]
    assert summary.count("](https://github.invalid/octo/app/blob/") == 2  # one link per finding
    assert "[Containerfile:4]" in summary  # ordered by severity, then position: 1 and 2 inline
    # an identical re-run does not trickle the overflow in
    n = len(double.writes())
    bot(fs, max_comments=2)
    assert double.writes()[n:] == []


def test_only_the_bots_own_comments_are_reconciled(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    f = f_ap001()
    forged = double.add_review_comment(
        7,
        "mallory",
        markers.Marker("inline", (f.fingerprint,)).render() + "\nforged",
        "Containerfile",
        1,
    )
    human_summary = double.add_issue_comment(
        7, "mallory", markers.Marker("summary").render() + " fake summary"
    )
    bot([f, f_ap004_outside()])
    assert forged["body"].endswith("forged") and human_summary["body"].endswith("fake summary")
    assert len(bot_comments(double)) == 1
    assert (
        len([c for c in double.issue_comments if c["user"]["login"] == "github-actions[bot]"]) == 1
    )


def test_every_body_stays_under_the_limit(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    huge = "x" * 70_000
    fs = [
        Finding(
            "AP001",
            "musl-default-allocator",
            Severity.ERROR,
            Location("Containerfile", 1, 1),
            huge,
            Fix(
                "huge",
                Safety.SAFE,
                (Edit("Containerfile", 1, 1, 1, 1, "# " + "y" * 70_000 + "\n"),),
            ),
            snippet="FROM",
        )
    ]
    fs += [
        Finding(
            "AP004",
            "no-global-allocator",
            Severity.WARNING,
            Location("Cargo.toml", 1, 1),
            huge + str(i),
            snippet=str(i),
        )
        for i in range(5)
    ]
    bot(fs)
    bodies = [w["body"].get("body", "") for w in double.writes()]
    bodies += [c["body"] for w in double.writes() for c in w["body"].get("comments", [])]
    assert bodies and all(len(b) < 65_536 for b in bodies)
    assert double.rejections == []


def test_overlapping_suggestions_are_merged_into_one(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    a = f_ap001()
    b = Finding(
        "AP005",
        "ld-preload-allocator",
        Severity.WARNING,
        Location("Containerfile", 1, 1),
        "Pin the image.",
        Fix(
            "Pin", Safety.SAFE, (Edit("Containerfile", 1, 1, 1, 5, "FROM --platform=linux/amd64"),)
        ),
        snippet="FROM rust:1-alpine",
    )
    bot([a, b])
    comments = double.calls("pulls/create-review")[0]["body"]["comments"]
    assert len(comments) == 1
    assert suggestion_of(comments[0]["body"]) == "FROM --platform=linux/amd64 rust:1-bookworm"
    assert comments[0]["body"].count("```suggestion") == 1
    m = markers.parse(comments[0]["body"])
    assert set(m.fps) == {a.fingerprint, b.fingerprint}


def test_fix_touching_lines_outside_the_diff_is_a_diff_block(double, bot, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.rs").write_text('fn main() {\n    println!("hi");\n}\n')
    double.add_pull(7, HEAD, BASE, base_files())
    f = Finding(
        "AP004",
        "no-global-allocator",
        Severity.ERROR,
        Location("Cargo.toml", 7, 1),
        "mimalloc is a dependency but not the global allocator.",
        Fix(
            "Add the allocator static",
            Safety.SAFE,
            (
                Edit(
                    "src/main.rs",
                    1,
                    1,
                    1,
                    1,
                    "#[global_allocator]\nstatic GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\n",
                ),
            ),
        ),
        snippet='tokio = "1"',
    )
    bot([f], path=tmp_path)
    body = double.calls("pulls/create-review")[0]["body"]["comments"][0]["body"]
    assert "```suggestion" not in body
    assert "```diff" in body and "+#[global_allocator]" in body and " fn main() {" in body


@pytest.mark.parametrize(
    "mode,expect_inline,expect_file_comment",
    [
        ("added", False, False),
        ("diff_context", True, False),
        ("file", False, True),
        ("nofilter", False, True),
    ],
)
def test_filter_modes(double, bot, mode, expect_inline, expect_file_comment):
    double.add_pull(7, HEAD, BASE, base_files())
    on_context = Finding(
        "AP004",
        "no-global-allocator",
        Severity.WARNING,
        Location("Cargo.toml", 5, 1),
        "context line",
        snippet="[dependencies]",
    )
    outside = f_ap004_outside()
    target = on_context if mode in ("added", "diff_context") else outside
    r = bot([target, f_ap004_main()], filter_mode=mode)
    inline = [c for c in bot_comments(double) if c.get("subject_type") != "file"]
    files = [c for c in bot_comments(double) if c.get("subject_type") == "file"]
    assert bool(inline) == expect_inline and bool(files) == expect_file_comment
    if mode == "nofilter":
        assert "src/main.rs:1" in double.issue_comments[0]["body"] and r.outputs["errors"] == "1"
    else:
        assert r.outputs["errors"] == "0"  # main.rs is not in the PR: not counted


def test_file_comment_reconciled_on_rerun(double, bot):
    double.add_pull(7, HEAD, BASE, base_files())
    bot([f_ap004_outside()], filter_mode="file")
    n = len(double.writes())
    bot([f_ap004_outside()], filter_mode="file")
    assert double.writes()[n:] == []


def test_new_commit_since_the_scan_is_not_reviewed(double, bot, event_file):
    double.add_pull(7, HEAD, BASE, base_files())
    double.push(7, HEAD2, base_files())
    r = bot(findings(), event=event_file(head=HEAD))
    assert double.writes() == [] and "moved on" in r.summary and "::error" in r.stdout


def test_not_a_pull_request_event(bot, tmp_path):
    ev = tmp_path / "push.json"
    ev.write_text(json.dumps({"ref": "refs/heads/main"}))
    r = bot(findings(), event=ev, event_name="push")
    assert (
        "Not a pull request event" in r.summary
        and "::error file=src/main.rs" in r.stdout
        and r.code == 1
    )
