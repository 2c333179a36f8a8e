"""The pre-commit front door: scope of a commit, and the real pre-commit tool running the hooks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import MIMALLOC_DEP, STATIC, cargo, rules_of, write_tree

from allocpolicy.frontdoors.precommit import Running, scan_changed

CHECKOUT = Path(__file__).resolve().parents[2]
ALPINE = """
FROM rust:1.82-alpine AS build
WORKDIR /app
COPY . .
RUN cargo build --release -p {name}
FROM scratch
COPY --from=build /app/target/release/{name} /{name}
"""


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def _monorepo(root: Path) -> Path:
    files: dict[str, str | bytes] = {"Cargo.toml": '[workspace]\nmembers = ["services/*"]\n'}
    for name, good in (("alpha", True), ("beta", False), ("gamma", False)):
        files[f"services/{name}/Cargo.toml"] = cargo(name, MIMALLOC_DEP if good else "")
        files[f"services/{name}/src/main.rs"] = (STATIC if good else "") + "fn main() {}\n"
        files[f"docker/{name}.Dockerfile"] = ALPINE.format(name=name)
    write_tree(root, files)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    return root


# -- the git runner: started early, read later ------------------------------------


def test_runner_returns_stdout_of_a_successful_program() -> None:
    program = [sys.executable, "-c", "import sys; sys.stdout.write('x' * 200000)"]
    assert Running(program).output() == b"x" * 200000


def test_runner_gives_none_for_failing_and_missing_programs() -> None:
    failing = [sys.executable, "-c", "import sys; print('partial'); sys.exit(3)"]
    assert Running(failing).output() is None
    assert Running(["allocpolicy-no-such-program-here"]).output() is None


def test_runner_discards_stderr_and_gives_empty_stdin() -> None:
    code = "import sys; sys.stderr.write('noise'); print(repr(sys.stdin.read()))"
    assert Running([sys.executable, "-c", code]).output() == b"''\n"


def test_runner_kills_a_hanging_program_at_the_deadline() -> None:
    start = time.monotonic()
    assert Running([sys.executable, "-c", "import time; time.sleep(30)"]).output(0.5) is None
    assert time.monotonic() - start < 10


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pipes grow on Linux only")
def test_a_started_program_finishes_its_output_before_it_is_read() -> None:
    running = Running([sys.executable, "-c", "import sys; sys.stdout.write('y' * 500000)"])
    deadline = time.monotonic() + 20
    while running._proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # nothing reads the pipe yet: it exits only if its output fits
    assert running._proc.poll() == 0, "the program blocked on a full pipe"
    assert running.output() == b"y" * 500000
    assert running.output() is None  # read once


def test_changed_source_reports_the_image_it_breaks(tmp_path):
    root = _monorepo(tmp_path)
    (root / "services/alpha/src/main.rs").write_text("fn main() {}\n")
    result = scan_changed(root, ["services/alpha/src/main.rs"])
    found = sorted((f.rule, f.location.path) for f in result.findings)
    # alpha's image breaks and its dependency is now unwired; beta and gamma's old findings stay out
    assert found == [("AP001", "docker/alpha.Dockerfile"), ("AP005", "services/alpha/Cargo.toml")]


def test_changed_containerfile_finds_its_crate_by_package_name(tmp_path):
    root = _monorepo(tmp_path)
    result = scan_changed(root, ["docker/gamma.Dockerfile"])
    assert [(f.rule, f.location.path) for f in result.findings] == [
        ("AP001", "docker/gamma.Dockerfile")
    ]
    assert scan_changed(root, ["docker/alpha.Dockerfile"]).findings == []


def test_unrelated_and_non_engine_files_report_nothing(tmp_path):
    root = _monorepo(tmp_path)
    (root / "README.md").write_text("hello\n")
    assert scan_changed(root, ["README.md"]).findings == []


def test_a_toolchain_file_is_not_an_input(tmp_path):
    root = _monorepo(tmp_path)
    (root / "rust-toolchain.toml").write_text('[toolchain]\nchannel = "1.82"\n')
    result = scan_changed(root, ["rust-toolchain.toml"])
    assert result.findings == [] and result.files_scanned == 0


def test_only_the_scope_is_read(tmp_path):
    root = _monorepo(tmp_path)
    (root / "services/gamma/Cargo.toml").write_text("not [ toml")  # broken but out of scope
    result = scan_changed(root, ["services/beta/src/main.rs"])
    assert rules_of(result) == ["AP001"] and result.files_scanned < 6


def test_workspace_root_change_reaches_every_member(tmp_path):
    root = _monorepo(tmp_path)
    result = scan_changed(root, ["Cargo.toml"])
    assert sorted(f.location.path for f in result.findings) == [
        "docker/beta.Dockerfile",
        "docker/gamma.Dockerfile",
    ]


def test_validate_manifest():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pre_commit",
            "validate-manifest",
            str(CHECKOUT / ".pre-commit-hooks.yaml"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _try_repo(repo: Path, hook: str, *files: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(CHECKOUT), hook, "--files", *files],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


@pytest.mark.precommit
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_hooks_end_to_end_with_real_pre_commit(tmp_path):
    home = tmp_path / "pre-commit-home"
    repo = tmp_path / "svc"
    write_tree(
        repo, {"Cargo.toml": cargo("svc"), "src/main.rs": "fn main() {}\n", "notes.txt": "hi\n"}
    )
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")

    # an unrelated change passes untouched
    ok = _try_repo(repo, "allocpolicy", "notes.txt", home=home)
    assert ok.returncode == 0, ok.stdout

    # a commit that introduces an Alpine build without mimalloc fails with AP001
    write_tree(repo, {"Dockerfile": ALPINE.format(name="svc")})
    _git(repo, "add", "-A")
    bad = _try_repo(repo, "allocpolicy", "Dockerfile", home=home)
    assert bad.returncode == 1 and "Dockerfile:1:1: AP001 [error]" in bad.stdout, bad.stdout

    # a suppression is honoured
    original = (repo / "Dockerfile").read_text()
    (repo / "Dockerfile").write_text("# allocpolicy: ignore[AP001]\n" + original.lstrip())
    assert _try_repo(repo, "allocpolicy", "Dockerfile", home=home).returncode == 0
    (repo / "Dockerfile").write_text(original)

    # the fix hook edits Cargo.toml and main.rs and fails once, then passes
    fixed = _try_repo(repo, "allocpolicy-fix", "Dockerfile", home=home)
    assert fixed.returncode == 1, fixed.stdout
    assert MIMALLOC_DEP in (repo / "Cargo.toml").read_text()
    assert "static GLOBAL: mimalloc::MiMalloc" in (repo / "src/main.rs").read_text()
    _git(repo, "add", "-A")
    again = _try_repo(repo, "allocpolicy-fix", "Dockerfile", "Cargo.toml", "src/main.rs", home=home)
    assert again.returncode == 0, again.stdout


def test_word_cache_is_reused_and_follows_content(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = _monorepo(tmp_path / "repo")
    (root / "services/alpha/src/main.rs").write_text("fn main() {}\n")
    first = scan_changed(root, ["services/alpha/src/main.rs"])
    [cache] = list((tmp_path / "cache" / "allocpolicy").glob("mentions-*.txt"))
    assert cache.stat().st_size > 0
    # a Containerfile that starts naming alpha is found once its new blob is staged
    (root / "docker/gamma.Dockerfile").write_text(ALPINE.format(name="alpha"))
    _git(root, "add", "-A")
    again = scan_changed(root, ["services/alpha/src/main.rs"])
    assert len(again.findings) == len(first.findings) + 1


def test_word_caches_are_bounded_and_the_recently_used_stay(tmp_path, monkeypatch):
    from allocpolicy.frontdoors import precommit

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(precommit, "MENTION_ENTRIES", 3)  # evicts down to 2
    folder = tmp_path / "cache" / "allocpolicy"

    def check(name: str) -> list[tuple[str, str]]:
        root = tmp_path / name
        if not root.exists():
            _monorepo(root)
            (root / "services/alpha/src/main.rs").write_text("fn main() {}\n")
        result = scan_changed(root, ["services/alpha/src/main.rs"])
        return sorted((f.rule, f.location.path) for f in result.findings)

    def cache_of(name: str) -> Path:
        return precommit.MentionCache(tmp_path / name).path

    expected = check("a")
    check("b")
    check("c")
    for age, name in ((300, "a"), (200, "b"), (100, "c")):  # distinct times, a the oldest
        os.utime(cache_of(name), (time.time() - age, time.time() - age))
    assert check("a") == expected  # a hit: a is now the most recently used
    check("d")
    kept = sorted(p.name for p in folder.glob("mentions-*.txt"))
    assert kept == sorted(cache_of(n).name for n in ("a", "d"))
    monkeypatch.setattr(precommit.MentionCache, "learn", lambda *args: pytest.fail("not a hit"))
    assert check("a") == expected
    assert (folder / "toml").is_dir()  # other caches are not entries of this one


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00not ours",
        b"",
        b"allocpolicy-mentions-1 no newline",
        b"allocpolicy-mentions-1 x\nalpha",
    ],
)
def test_a_damaged_word_cache_is_rebuilt_not_trusted(tmp_path, monkeypatch, garbage):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = _monorepo(tmp_path / "repo")
    (root / "services/alpha/src/main.rs").write_text("fn main() {}\n")
    expected = sorted(
        (f.rule, f.location.path)
        for f in scan_changed(root, ["services/alpha/src/main.rs"]).findings
    )
    [cache] = list((tmp_path / "cache" / "allocpolicy").glob("mentions-*.txt"))
    cache.write_bytes(garbage)
    again = sorted(
        (f.rule, f.location.path)
        for f in scan_changed(root, ["services/alpha/src/main.rs"]).findings
    )
    assert again == expected and ("AP001", "docker/alpha.Dockerfile") in again


def test_word_cache_matches_whole_words_only(tmp_path, monkeypatch):
    from allocpolicy.frontdoors.precommit import MentionCache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "a").write_text("RUN cargo build -p api-gateway\n")
    (tmp_path / "b").write_text("COPY --from=build /app/target/release/api /api\n")
    (tmp_path / "c").write_text("FROM scratch\n")
    cache = MentionCache(tmp_path)
    for rel, blob in (("a", "aaa1"), ("b", "bbb2"), ("c", "ccc3")):
        cache.words(tmp_path, rel, blob)
    cache.save({"aaa1", "bbb2", "ccc3"})
    again = MentionCache(tmp_path)
    assert again.known == {"aaa1", "bbb2", "ccc3"}
    assert again.mentioning({"api"}) == {"bbb2"}
    assert again.mentioning({"api-gateway", "scratch"}) == {"aaa1", "ccc3"}
    assert again.mentioning({"aaa1", "app"}) == {"bbb2"}  # blob ids are not words
    again.save({"bbb2"})  # a blob that left the index is forgotten
    assert MentionCache(tmp_path).known == {"bbb2"}


def test_staged_listing_keeps_the_first_stage_of_a_conflicted_path():
    from allocpolicy.frontdoors.precommit import _staged

    raw = (
        b"100644 aaaa 1\tsvc/Dockerfile\x00100644 bbbb 2\tsvc/Dockerfile\x00"
        b"100644 cccc 0\tother dir/Containerfile\x00"
    )
    assert _staged(raw) == {"svc/Dockerfile": "aaaa", "other dir/Containerfile": "cccc"}
    assert _staged(None) is None


@pytest.mark.parametrize("with_git", [True, False])
def test_images_of_a_changed_crate_by_place_and_by_name(tmp_path, monkeypatch, with_git):
    """Beside or above the crate, inside it, or naming it anywhere; never build output or excluded files."""
    from allocpolicy.config import load_config
    from allocpolicy.frontdoors.precommit import narrow

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "repo"
    files: dict[str, str | bytes] = {"Cargo.toml": '[workspace]\nmembers = ["services/*"]\n'}
    for name in ("alpha", "beta"):
        files[f"services/{name}/Cargo.toml"] = cargo(name)
        files[f"services/{name}/src/main.rs"] = "fn main() {}\n"
    files.update(
        {
            "Dockerfile": "FROM scratch\n",  # above the crate
            "services/Containerfile": "FROM scratch\n",  # above the crate
            "services/alpha/deploy/prod.Dockerfile": "FROM scratch\n",  # inside it
            "ops/images/api.Dockerfile": ALPINE.format(name="alpha"),  # names it
            "ops/images/other.Dockerfile": ALPINE.format(name="beta"),
            "services/beta/Dockerfile": "FROM scratch\n",  # a sibling's
            "services/alpha/target/Dockerfile": ALPINE.format(name="alpha"),  # build output
            "vendor/Dockerfile": ALPINE.format(name="alpha"),  # excluded below
            "allocpolicy.toml": 'exclude = ["vendor/"]\n',
        }
    )
    write_tree(root, files)
    if with_git:
        _git(root, "init", "-q")
        _git(root, "add", "-A")
    config = load_config(root, None)
    for _ in range(2):  # the second run answers from the word cache
        scope = narrow(root, config, ["services/alpha/src/main.rs"])
        assert scope.containerfiles == {
            "Dockerfile",
            "services/Containerfile",
            "services/alpha/deploy/prod.Dockerfile",
            "ops/images/api.Dockerfile",
        }


def test_scope_reads_what_a_full_scan_reads(tmp_path, monkeypatch):
    """Rust files named dockerfile.rs stay Rust; ignored local Cargo files stay out, as in a full scan."""
    from allocpolicy.config import load_config
    from allocpolicy.frontdoors.precommit import narrow

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "repo"
    write_tree(
        root,
        {
            ".gitignore": ".cargo/\nCargo.lock\n",
            "svc/Cargo.toml": cargo("svc"),
            "svc/src/main.rs": "mod dockerfile;\nfn main() {}\n",
            "svc/src/dockerfile.rs": "pub fn render() {}\n",
            "docker/Dockerfile": ALPINE.format(name="svc"),
        },
    )
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    write_tree(
        root,
        {
            ".cargo/config.toml": '[build]\ntarget = "x86_64-unknown-linux-musl"\n',
            "svc/Cargo.lock": "",
        },
    )
    scope = narrow(root, load_config(root, None), ["svc/src/main.rs"])
    assert scope.containerfiles == {"docker/Dockerfile"}
    assert scope.files.containerfiles == ["docker/Dockerfile"]
    assert "svc/src/dockerfile.rs" in scope.files.rust_sources
    assert scope.files.cargo_configs == [] and scope.files.locks == []


def test_word_cache_is_asked_again_when_settings_change_or_a_file_was_unreadable(
    tmp_path, monkeypatch
):
    from allocpolicy.config import load_config
    from allocpolicy.frontdoors.precommit import narrow

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = _monorepo(tmp_path / "repo")
    (root / "legacy").mkdir()
    (root / "legacy/Dockerfile").write_text(ALPINE.format(name="alpha"))
    _git(root, "add", "-A")
    changed = ["services/alpha/src/main.rs"]
    (root / "allocpolicy.toml").write_text('exclude = ["legacy/"]\n')
    assert "legacy/Dockerfile" not in narrow(root, load_config(root, None), changed).containerfiles
    (root / "allocpolicy.toml").unlink()
    assert "legacy/Dockerfile" in narrow(root, load_config(root, None), changed).containerfiles
    # unreadable while the cache learns the listing: read again on the next run
    (root / "docker/beta.Dockerfile").write_text(ALPINE.format(name="beta") + "# alpha\n")
    _git(root, "add", "-A")
    hidden = root / "docker/beta.Dockerfile"
    hidden.rename(root / "beta.away")
    assert (
        "docker/beta.Dockerfile"
        not in narrow(root, load_config(root, None), changed).containerfiles
    )
    (root / "beta.away").rename(hidden)
    assert "docker/beta.Dockerfile" in narrow(root, load_config(root, None), changed).containerfiles


@pytest.mark.parametrize("with_git", [True, False])
@pytest.mark.parametrize("crate", ["svc", ""])  # at the root, its sources come from git's listing
def test_scope_skips_what_the_walk_skips_nested_gitignore_files_included(
    tmp_path, monkeypatch, with_git, crate
):
    from allocpolicy.config import load_config
    from allocpolicy.discovery import discover
    from allocpolicy.frontdoors.precommit import narrow

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "repo"
    at = f"{crate}/" if crate else ""
    write_tree(
        root,
        {
            ".gitignore": "*\n!*/\n!*.rs\n!*.toml\n!*Dockerfile\n!.gitignore\n",  # an allow-list
            f"{at}Cargo.toml": cargo("svc"),
            f"{at}src/main.rs": "fn main() {}\n",
            f"{at}src/gen/.gitignore": "*.rs\n!keep.rs\n",
            f"{at}src/gen/out.rs": "pub fn f() {}\n",
            f"{at}src/gen/keep.rs": "pub fn g() {}\n",
            "ops/.gitignore": "old.Dockerfile\n",
            "ops/old.Dockerfile": ALPINE.format(name="svc"),
            "ops/api.Dockerfile": ALPINE.format(name="svc"),
            "notes.txt": "",
        },
    )
    if with_git:
        _git(root, "init", "-q")
        _git(root, "add", "-f", "-A")  # tracked, yet ignored: a full scan does not read them
    scope = narrow(root, load_config(root, None), [f"{at}src/main.rs"])
    walked = discover(root)
    assert scope.containerfiles == {"ops/api.Dockerfile"} == set(walked.containerfiles)
    assert scope.files.rust_sources == walked.rust_sources
    assert scope.files.rust_sources == [f"{at}src/gen/keep.rs", f"{at}src/main.rs"]


def test_word_cache_is_asked_again_when_a_nested_gitignore_changes(tmp_path, monkeypatch):
    from allocpolicy.config import load_config
    from allocpolicy.frontdoors.precommit import narrow

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = _monorepo(tmp_path / "repo")
    write_tree(
        root,
        {
            "legacy/.gitignore": "*.Dockerfile\n",
            "legacy/old.Dockerfile": ALPINE.format(name="alpha"),
        },
    )
    _git(root, "add", "-f", "-A")
    changed = ["services/alpha/src/main.rs"]
    assert (
        "legacy/old.Dockerfile" not in narrow(root, load_config(root, None), changed).containerfiles
    )
    (root / "legacy/.gitignore").write_text("# nothing ignored now\n")  # not staged
    assert "legacy/old.Dockerfile" in narrow(root, load_config(root, None), changed).containerfiles


def test_narrowed_manifests_are_in_path_order_as_a_full_scan_lists_them(tmp_path, monkeypatch):
    from allocpolicy.config import load_config
    from allocpolicy.discovery import discover
    from allocpolicy.frontdoors.precommit import narrow

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "repo"
    write_tree(
        root,
        {f"{d}/Cargo.toml": cargo(d) for d in ("svc", "svc-x")}
        | {f"{d}/src/main.rs": "fn main() {}\n" for d in ("svc", "svc-x")},
    )
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    scope = narrow(root, load_config(root, None), ["svc/src/main.rs", "svc-x/src/main.rs"])
    assert (
        scope.files.manifests == discover(root).manifests == ["svc-x/Cargo.toml", "svc/Cargo.toml"]
    )
