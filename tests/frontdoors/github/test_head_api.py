"""--head-source api: a pull_request_target workflow reads the fork's head through the
API as data (a real git repository behind the double) and scans it itself."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from gh_helpers import parse_outputs, write_event
from real_repo import bot_comments, git, new_repo, patches
from test_scope import ORDERS_CARGO, ORDERS_DOCKERFILE, ORDERS_MAIN

from allocpolicy.commands.scan import scan
from allocpolicy.config import load_config
from allocpolicy.frontdoors.github import headtree, main
from allocpolicy.frontdoors.github.client import GitHubClient, Policy

pytestmark = pytest.mark.github

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
MONOREPO = {
    "Cargo.toml": '[workspace]\nmembers = ["services/orders"]\nresolver = "2"\n',
    "services/orders/Cargo.toml": ORDERS_CARGO,
    "services/orders/src/main.rs": ORDERS_MAIN,
    "services/orders/Dockerfile": ORDERS_DOCKERFILE,
}
DROPPED = {
    "services/orders/Cargo.toml": ORDERS_CARGO.replace(
        'mimalloc = { version = "0.1", default-features = false }\n', ""
    ),
    "services/orders/src/main.rs": 'fn main() {\n    println!("orders");\n}\n',
}


class Fork:
    """A fork PR whose history is a real git repository the double serves objects from."""

    def __init__(self, tmp_path: Path, double, base: dict, head: dict, remove=()):
        self.tmp, self.double = tmp_path, double
        self.repo = new_repo(tmp_path, base, "origin")
        self.base = self.repo.commit("base")
        self.repo.write(head)
        if remove:
            self.repo.remove(*remove)
        self.head = self.repo.commit("the fork's change")
        double.git_root = self.repo.root
        double.add_pull(
            7,
            self.head,
            self.base,
            patches(self.repo.root, self.base, self.head),
            head_repo="mallory/app",
        )
        # the workflow's own checkout (the base branch), or an empty workspace
        self.trusted = tmp_path / "trusted"
        self.trusted.mkdir()
        self.temp = tmp_path / "runner-temp"
        self.temp.mkdir()

    def run(self, capfd, *argv: str, token: str = "bot-token", head: str | None = None):
        out, summary = self.tmp / "out", self.tmp / "summary"
        out.write_text("")
        summary.write_text("")
        ev = self.tmp / "event.json"
        write_event(ev, 7, head or self.head, self.base, "mallory/app")  # a fork's PR
        env = {
            "GITHUB_EVENT_PATH": str(ev),
            "GITHUB_EVENT_NAME": "pull_request_target",
            "GITHUB_OUTPUT": str(out),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_REPOSITORY": "octo/app",
            "GITHUB_API_URL": self.double.base_url,
            "ALLOCPOLICY_GITHUB_TOKEN": token,
            "GITHUB_WORKSPACE": str(self.trusted),
            "RUNNER_TEMP": str(self.temp),
        }
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            capfd.readouterr()
            code = main(
                [
                    "--seconds-between-writes",
                    "0",
                    "--path",
                    str(self.trusted),
                    "--head-source",
                    "api",
                    *argv,
                ]
            )
            logged = capfd.readouterr()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        # the head was written into RUNNER_TEMP only, and is gone again
        assert list(self.temp.iterdir()) == []
        return code, parse_outputs(out.read_text()), summary.read_text(), logged.out + logged.err


def test_a_fork_pr_dropping_mimalloc_gets_the_untouched_dockerfiles_ap001(tmp_path, double, capfd):
    fork = Fork(tmp_path, double, MONOREPO, DROPPED)
    n0 = len(double.requests)
    code, outputs, summary, _ = fork.run(capfd)

    assert code == 1, summary
    assert outputs["errors"] == "1" and outputs["failed"] == "true"
    assert outputs["reporter"] == "review"
    assert "caused by its changes" in summary and "read through the API as data" in summary
    (c,) = [c for c in bot_comments(double) if "AP001" in c["body"]]
    assert c["path"] == "services/orders/Cargo.toml" and c["commit_id"] == fork.head
    assert "services/orders/Dockerfile:1" in c["body"]
    assert double.rejections == []
    reads = [
        r["op"] for r in double.requests[n0:] if r["method"] == "GET" or r["op"] == "graphql/query"
    ]
    assert reads.count("git/get-tree") == 1 and "git/get-blob" not in reads
    # four files the scan reads: one GraphQL query for their texts (the review's own
    # thread lookups are GraphQL queries too)
    tree_q = [r for r in double.graphql_calls("query") if r["graphql"] == ["repository"]]
    assert tree_q, double.graphql_calls()

    n = len(double.writes())
    again, _, _, _ = fork.run(capfd)
    assert again == 1 and double.writes()[n:] == []  # an identical re-run writes nothing


def test_a_runner_temp_inside_a_git_checkout_does_not_lend_the_head_its_index(
    tmp_path, double, capfd
):
    """The widening lists files with git: run in the head's copy, it must not find the
    repository the temporary directory happens to sit in (it would list none of them)."""
    # the PR only touches the workspace root: its members come from git's listing (or a walk)
    root = MONOREPO["Cargo.toml"] + "\n[profile.release]\nlto = true\n"
    fork = Fork(tmp_path, double, {**MONOREPO, **DROPPED}, {"Cargo.toml": root})
    git(fork.trusted, "init", "-q")
    fork.temp = fork.trusted / "tmp"
    fork.temp.mkdir()
    code, outputs, summary, _ = fork.run(capfd)
    assert code == 1 and outputs["errors"] == "1", summary
    assert "caused by its changes" in summary


def test_the_api_request_count_of_one_pull_request(tmp_path, double, capfd):
    """What one run of this mode costs: the tree once, the texts one query per 100 blobs."""
    fork = Fork(tmp_path, double, MONOREPO, DROPPED)
    fork.run(capfd)
    ops = [r["op"] for r in double.requests]
    blob_queries = [r for r in double.requests if r.get("body") and "object(oid:" in str(r["body"])]
    assert ops.count("git/get-tree") == 1 and len(blob_queries) == 1
    assert ops.count("pulls/get") == 1 and ops.count("pulls/list-files") == 1


def test_more_than_100_files_take_one_query_per_100_and_reruns_none_more(tmp_path, double, capfd):
    many = {f"crates/c{i:03}/src/lib.rs": f"pub fn f{i}() {{}}\n" for i in range(150)}
    fork = Fork(tmp_path, double, MONOREPO, {**DROPPED, **many})
    code, _, summary, _ = fork.run(capfd)
    assert code == 1, summary
    blob_queries = [r for r in double.requests if r.get("body") and "object(oid:" in str(r["body"])]
    assert len(blob_queries) == 2  # 154 files: 100 + 54
    assert "154 file(s) the scan reads" in summary


def test_a_pr_that_moved_on_is_not_reviewed(tmp_path, double, capfd):
    fork = Fork(tmp_path, double, MONOREPO, DROPPED)
    fork.repo.write({"README.md": "newer\n"})
    newer = fork.repo.commit("newer")
    double.push(7, newer, patches(fork.repo.root, fork.base, newer))
    code, outputs, summary, _ = fork.run(capfd, head=fork.head)
    assert double.writes() == [] and "moved on" in summary
    assert outputs["reporter"] == "annotations" and code == 1


def test_the_forks_config_is_not_applied_and_the_trusted_one_is(tmp_path, double, capfd):
    fork = Fork(
        tmp_path,
        double,
        MONOREPO,
        {**DROPPED, "allocpolicy.toml": '[rules]\ndisable = ["AP001", "AP003", "AP004"]\n'},
    )
    code, outputs, summary, _ = fork.run(capfd)
    assert code == 1 and outputs["errors"] == "1", summary
    assert [c for c in bot_comments(double) if "AP001" in c["body"]]
    assert "own allocpolicy.toml; it is not used" in summary
    # the base branch's config (the workflow's checkout) is what applies
    (fork.trusted / "allocpolicy.toml").write_text('[rules]\ndisable = ["AP001"]\n')
    double.review_comments.clear()
    double.issue_comments.clear()
    double.reviews.clear()
    code, outputs, summary, _ = fork.run(capfd)
    assert not [c for c in bot_comments(double) if "AP001" in c["body"]]
    assert outputs["errors"] == "0"


def _policy(rule_id: str) -> str:
    return (
        f"version: 1\nrules:\n  - id: {rule_id}\n    name: team-musl\n    severity: error\n"
        "    subject: binary\n    summary: s\n    message: a musl binary\n"
        "    when: {fact: libc, eq: musl}\n"
    )


def test_the_trusted_sides_policies_apply_and_the_forks_do_not(tmp_path, double, capfd):
    fork = Fork(
        tmp_path,
        double,
        MONOREPO,
        {
            **DROPPED,
            "allocpolicy.toml": 'policies = ["evil.yaml"]\n',
            "evil.yaml": _policy("EVIL001"),
        },
    )
    (fork.trusted / "allocpolicy.toml").write_text('policies = ["team.yaml"]\n')
    (fork.trusted / "team.yaml").write_text(_policy("TEAM001"))
    code, _outputs, summary, _ = fork.run(capfd)
    assert code == 1, summary
    assert "TEAM001" in summary and "EVIL001" not in summary
    assert not list((tmp_path / "trusted").glob("*.rs"))  # nothing of the head came here


# -- differential: the API's copy scans as the directory itself ---------------------------------

MIXED = {
    "Cargo.toml": ORDERS_CARGO.replace("orders", "mixed"),
    "src/main.rs": "fn main() {}\r\n",  # CRLF kept byte for byte
    "src/latin1.rs": b"// caf\xe9\nfn x() {}\n",  # not UTF-8: GraphQL's text is not its bytes
    "src/blob.rs": b"\x00\x01binary",  # GraphQL withholds a binary text
    ".gitignore": "ignored/\n",
    "ignored/Dockerfile": "FROM rust:1-alpine\nRUN cargo build --release\n",
    "Makefile": "build:\n\tcargo build --release\n",
    "Dockerfile": (
        "FROM rust:1-alpine AS build\nWORKDIR /src\nCOPY . .\nRUN make build\n\n"
        "FROM alpine:3.20\nCOPY --from=build /src/target/release/mixed /usr/local/bin/mixed\n"
        'CMD ["mixed"]\n'
    ),
    ".cargo/config.toml": '[build]\nrustflags = ["-C", "target-cpu=native"]\n',
    "docs/readme.md": "not read, only there\n",
}


def _examples() -> list[tuple[str, dict[str, str | bytes]]]:
    out = []
    for d in sorted(EXAMPLES.iterdir()):
        files = {p.relative_to(d).as_posix(): p.read_bytes() for p in d.rglob("*") if p.is_file()}
        out.append((d.name, files))
    return out + [("monorepo", dict(MONOREPO)), ("mixed", dict(MIXED))]


def _force_add(root: Path, files: dict) -> None:
    """Commit every file, ignored ones too (a tracked file its .gitignore names)."""
    git(root, "add", "-f", *files)


def _client(double) -> GitHubClient:
    return GitHubClient(
        "bot-token",
        "octo/app",
        7,
        api_url=double.base_url,
        policy=Policy(sleep=lambda s: None),
        seconds_between_requests=0,
        seconds_between_writes=0,
    )


def _view(result) -> dict:
    """Findings (with their fixes' edits) and inventory, as `scan --format json` has them."""
    from allocpolicy.reporters import json as json_reporter

    return json.loads(json_reporter.render(result))


@pytest.mark.parametrize("name,files", _examples(), ids=[n for n, _ in _examples()])
def test_the_api_copy_scans_as_the_checkout(tmp_path, double, name, files):
    repo = new_repo(tmp_path, files)
    _force_add(repo.root, files)
    head = repo.commit("head")
    double.git_root = repo.root
    double.blob_text_limit = 64  # and a text GraphQL cuts is read from the REST blob
    config = load_config(repo.root)
    got = headtree.read_head(
        _client(double), head, prefix="", config=config, temp_parent=str(tmp_path)
    )
    try:
        assert got.fetched >= 2
        assert _view(scan(got.root, config=config)) == _view(scan(repo.root))
    finally:
        headtree.remove(got.top)
    assert not got.top.exists()


def test_the_fallbacks_are_taken_for_what_graphqls_text_cannot_give(tmp_path, double):
    repo = new_repo(tmp_path, MIXED)
    _force_add(repo.root, MIXED)
    head = repo.commit("head")
    double.git_root = repo.root
    got = headtree.read_head(
        _client(double), head, prefix="", config=load_config(repo.root), temp_parent=str(tmp_path)
    )
    try:
        blobs = {r["path"].rsplit("/", 1)[1] for r in double.calls("git/get-blob")}
        want = {
            git(repo.root, "rev-parse", f"{head}:{p}").strip()
            for p in ("src/latin1.rs", "src/blob.rs")
        }
        assert blobs == want  # the latin-1 text and the binary one, nothing else
        for p in ("src/main.rs", "src/latin1.rs", "src/blob.rs", "Makefile"):
            assert (got.root / p).read_bytes() == (repo.root / p).read_bytes()
        assert (got.root / "docs/readme.md").read_bytes() == b""  # there, not fetched
        assert (got.root / "ignored/Dockerfile").read_bytes() == b""  # ignored: not fetched
    finally:
        headtree.remove(got.top)


def test_a_subdirectory_path_scans_that_directory_of_the_head(tmp_path, double, capfd):
    fork = Fork(
        tmp_path,
        double,
        {f"svc/{k}": v for k, v in MONOREPO.items()},
        {f"svc/{k}": v for k, v in DROPPED.items()},
    )
    (fork.trusted / "svc").mkdir()
    code, _outputs, summary, _ = fork.run(capfd, "--path", str(fork.trusted / "svc"))
    assert code == 1, summary
    (c,) = [c for c in bot_comments(double) if "AP001" in c["body"]]
    assert c["path"] == "svc/services/orders/Cargo.toml"
    assert "svc/services/orders/Dockerfile:1" in c["body"]


# -- hostile trees ------------------------------------------------------------------------------


def _hash(repo: Path, kind: str, data: bytes) -> str:
    return (
        subprocess.run(
            ["git", "-C", str(repo), "hash-object", "-t", kind, "--literally", "-w", "--stdin"],
            input=data,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )


def _entry(mode: str, name: bytes, sha: str) -> bytes:
    return mode.encode() + b" " + name + b"\0" + bytes.fromhex(sha)


def _hostile_head(fork: Fork, extra: list[bytes]) -> str:
    """The head commit with entries git itself would never check out, made with git."""
    root = fork.repo.root
    listing = git(root, "ls-tree", "-z", fork.head).split("\0")
    entries = []
    for rec in filter(None, listing):
        head, _, name = rec.partition("\t")
        mode, _kind, sha = head.split()
        entries.append(_entry(mode.lstrip("0"), name.encode(), sha))
    tree = _hash(
        root,
        "tree",
        b"".join(sorted(entries + extra, key=lambda e: e.split(b"\0")[0].split(b" ")[1])),
    )
    commit = git(root, "commit-tree", tree, "-p", fork.head, "-m", "hostile").strip()
    fork.double.pulls[7].head_sha = commit
    fork.double.pulls[7].shas.append(commit)
    fork.head = commit
    return commit


def test_hostile_entries_are_notes_and_nothing_is_written_outside(tmp_path, double, capfd):
    fork = Fork(tmp_path, double, MONOREPO, DROPPED)
    root = fork.repo.root
    evil = _hash(root, "blob", b"[package]\nname = 'evil'\n")
    inner = _hash(root, "tree", _entry("100644", b"Cargo.toml", evil))
    up = inner
    for _ in range(6):  # ../../../../../../Cargo.toml: far above the temporary directory
        up = _hash(root, "tree", _entry("40000", b"..", up))
    dotgit = _hash(root, "tree", _entry("100644", b"config", evil))
    _hostile_head(
        fork,
        [
            _entry("40000", b"..", up),
            _entry("40000", b".git", dotgit),
            _entry("120000", b"link.rs", _hash(root, "blob", b"/etc/passwd")),
            _entry("160000", b"vendored", fork.base),  # a submodule
        ],
    )
    code, _outputs, summary, logged = fork.run(capfd)
    assert code == 1, summary  # the rest of the head is scanned as usual
    assert [c for c in bot_comments(double) if "AP001" in c["body"]]
    assert "'..' or empty path component" in summary and "a .git path component" in summary
    assert "1 symbolic link(s) and 1 submodule(s)" in summary
    assert "Traceback" not in logged
    for d in [fork.temp, *fork.temp.parents][:9]:  # where ../ x6 from the head's root could land
        assert not (d / "Cargo.toml").exists() or "evil" not in (d / "Cargo.toml").read_text()


def test_a_blob_over_the_cap_is_not_fetched_and_the_scan_says_it_skipped_it(
    tmp_path, double, capfd
):
    big = "// " + "x" * 4000 + "\n"
    fork = Fork(tmp_path, double, MONOREPO, {**DROPPED, "services/orders/src/big.rs": big})
    (fork.trusted / "allocpolicy.toml").write_text('max-file-size = "2KiB"\n')
    sha = git(fork.repo.root, "rev-parse", f"{fork.head}:services/orders/src/big.rs").strip()
    code, _outputs, summary, _ = fork.run(capfd)
    assert code == 1, summary
    assert not [r for r in double.requests if sha in json.dumps(r.get("body")) or sha in r["path"]]
    assert "over the scan's per-file cap and were not fetched" in summary
    assert "services/orders/src/big.rs" in summary and "AP903" in summary


def test_a_truncated_tree_is_not_scanned_and_nothing_is_posted(tmp_path, double, capfd):
    fork = Fork(tmp_path, double, MONOREPO, DROPPED)
    double.tree_truncated = True
    code, outputs, summary, logged = fork.run(capfd)
    assert code == 2 and double.writes() == []
    assert "::warning::allocpolicy: The pull request's head was not scanned" in logged
    assert "not scanned" in summary and "truncated" in summary
    assert outputs["failed"] == "true" and outputs["findings"] == "0"
    assert "Traceback" not in logged


def test_too_many_files_are_not_scanned(tmp_path, double, capfd, monkeypatch):
    monkeypatch.setattr(headtree, "MAX_FILES", 3)
    fork = Fork(tmp_path, double, MONOREPO, DROPPED)
    code, _outputs, summary, logged = fork.run(capfd)
    assert code == 2 and double.writes() == []
    assert "files the scan reads, over 3" in summary and "Traceback" not in logged
    assert not [r for r in double.requests if "object(oid:" in json.dumps(r.get("body"))]


def test_too_many_bytes_are_not_scanned(tmp_path, double, capfd, monkeypatch):
    monkeypatch.setattr(headtree, "MAX_TOTAL_BYTES", 100)
    fork = Fork(tmp_path, double, MONOREPO, DROPPED)
    code, _outputs, summary, _ = fork.run(capfd)
    assert code == 2 and double.writes() == [] and "over 100" in summary


@pytest.mark.parametrize(
    "path,why",
    [
        ("../x", "'..'"),
        ("a/../../x", "'..'"),
        ("/etc/passwd", "absolute"),
        ("a\0b", "NUL"),
        ("src/.git/config", ".git"),
        ("src/.GIT/hooks/x", ".git"),
        ("/".join(["d"] * 65), "deep"),
        ("a/" + "n" * 300, "length"),
        ("a//b", "empty"),
    ],
)
def test_path_rules(path, why):
    assert why in (headtree.bad_path(path) or "")


def test_plain_paths_pass():
    for p in ("Cargo.toml", "services/orders/src/main.rs", ".cargo/config.toml", "a b/ü.rs"):
        assert headtree.bad_path(p) is None


def test_without_a_pull_request_event_nothing_is_scanned(tmp_path, double, capfd, monkeypatch):
    fork = Fork(tmp_path, double, MONOREPO, DROPPED)
    ev = tmp_path / "push.json"
    ev.write_text(json.dumps({"ref": "refs/heads/main"}))
    out = tmp_path / "o"
    out.write_text("")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(ev))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "push")
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    monkeypatch.setenv("RUNNER_TEMP", str(fork.temp))
    code = main(["--head-source", "api", "--path", str(fork.trusted)])
    assert code == 2 and "pull_request_target" in capfd.readouterr().err
    assert double.requests == [] and list(fork.temp.iterdir()) == []


def test_an_api_error_on_the_blob_texts_is_a_note_not_a_post(tmp_path, double, capfd):
    fork = Fork(tmp_path, double, MONOREPO, DROPPED)
    double.inject("graphql/query", 502, times=5)  # past the policy's retries
    code, _outputs, summary, logged = fork.run(capfd, "--max-rate-limit-wait", "0")
    assert code == 2 and double.writes() == [] and "Traceback" not in logged
    assert "Could not read the pull request's head through the API" in summary


def test_findings_in_and_the_api_head_do_not_mix(tmp_path, capfd):
    assert main(["--head-source", "api", "--findings-in", str(tmp_path / "x.json")]) == 2
    assert "takes no findings file" in capfd.readouterr().err
