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
    a, b, c = (cache.read(tmp_path, rel) for rel in "abc")
    assert a is not None and b is not None and c is not None
    cache.save({a, b, c})
    again = MentionCache(tmp_path)
    assert again.known == {a, b, c}
    assert again.mentioning({"api"}) == {b}
    assert again.mentioning({"api-gateway", "scratch"}) == {a, c}
    assert again.mentioning({a, "app"}) == {b}  # blob ids are not words
    again.save({b})  # a blob that left the index is forgotten
    assert MentionCache(tmp_path).known == {b}


@pytest.mark.parametrize("object_format", ["sha1", "sha256"])
def test_words_are_kept_under_the_id_git_gives_the_bytes_read(tmp_path, object_format):
    from allocpolicy.frontdoors.precommit import MentionCache

    _git(tmp_path, "init", "-q", f"--object-format={object_format}")
    (tmp_path / "Dockerfile").write_bytes(b"FROM scratch\r\n\xff\x00 odd bytes, no newline")
    git_id = subprocess.run(
        ["git", "hash-object", "Dockerfile"], cwd=tmp_path, capture_output=True, text=True
    ).stdout.strip()
    assert MentionCache(tmp_path).read(tmp_path, "Dockerfile", len(git_id)) == git_id


def test_staged_listing_keeps_the_first_stage_of_a_conflicted_path():
    from allocpolicy.frontdoors.precommit import _staged

    raw = (
        b"M 100644 aaaa 1\tsvc/Dockerfile\x00M 100644 bbbb 2\tsvc/Dockerfile\x00"
        b"H 100644 cccc 0\tother dir/Containerfile\x00"
    )
    assert _staged(raw) == {"svc/Dockerfile": "aaaa", "other dir/Containerfile": "cccc"}
    assert _staged(None) is None


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_path_that_holds_listing_text_stays_one_path(tmp_path):
    """Tabs, spaces, newlines, a leading dash, non-UTF-8 bytes: git lists them as they are."""
    from allocpolicy.frontdoors.precommit import (
        _children,
        _entries,
        _paths_below,
        _paths_with_blob,
        start_containerfile_listing,
    )

    odd = [
        "ops/1 ab 0\tfoo.Dockerfile",  # reads as `<mode> <blob> <stage>\t<path>` from its 1
        "ops/x\tservices/alpha/Dockerfile",  # a tab, then what looks like another path
        "ops/-n\nnew \udcfe line.Dockerfile",  # a newline, a leading dash, a non-UTF-8 byte
    ]
    for rel in odd:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("FROM scratch\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    raw = start_containerfile_listing(tmp_path).output()
    assert raw is not None
    listing = raw.decode("utf-8", "surrogateescape")
    staged, differs = _entries(listing)
    assert sorted(staged) == sorted(odd) and not differs
    assert _paths_below(listing, "services/alpha") == []
    assert _children(listing, {""}) == []
    assert sorted(_children(listing, {"ops"})) == sorted([odd[0], odd[2]])
    assert sorted(_paths_with_blob(listing, staged[odd[0]])) == sorted(odd)  # one content
    assert _paths_with_blob(listing, "ab") == []


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


# -- the hooks as a commit runs them: pre-commit's argument order, its stash ----------


def _hook_env(tmp_path: Path) -> dict[str, str]:
    """pre-commit's environment: its own home, and this interpreter's `allocpolicy` on PATH."""
    return {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PRE_COMMIT_COLOR": "never",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def _use_manifest_hooks(repo: Path, args: dict[str, list[str]], env: dict[str, str]) -> None:
    """A `repo: local` config running the manifest's hooks as declared (entry, files), with `args`.

    The same command lines a `repo: <url>` config runs, without installing a virtualenv
    per test: `language: system` finds this checkout's `allocpolicy` on PATH.
    """
    import yaml

    hooks = []
    for hook in yaml.safe_load((CHECKOUT / ".pre-commit-hooks.yaml").read_text()):
        if hook["id"] in args:
            keep = ("id", "name", "entry", "files", "exclude", "require_serial")
            hooks.append({**{k: hook[k] for k in keep if k in hook}, "language": "system"})
            hooks[-1]["args"] = args[hook["id"]]
    config = {"repos": [{"repo": "local", "hooks": hooks}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    _git(repo, "add", ".pre-commit-config.yaml")
    if not (repo / ".git/hooks/pre-commit").exists():
        _pre_commit(repo, env, "install")


def _pre_commit(repo: Path, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *argv],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _commit(repo: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    identity = ["-c", "user.name=allocpolicy-test", "-c", "user.email=test@allocpolicy.invalid"]
    return subprocess.run(
        ["git", *identity, "commit", "-q", "-m", "change", *extra],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.precommit
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_hook_args_come_before_the_file_names_and_are_honoured(tmp_path):
    env = _hook_env(tmp_path)
    repo = tmp_path / "lib"
    write_tree(
        repo,
        {
            "Cargo.toml": cargo("lib", MIMALLOC_DEP),
            "src/lib.rs": "pub fn f() {}\n",
            "ci/strict.toml": 'fail-on = "warning"\n',
        },
    )
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    assert _commit(repo, env, "--no-verify").returncode == 0
    # a library that picks the global allocator: AP009, a warning without a fix
    (repo / "src/lib.rs").write_text(STATIC + "pub fn f() {}\n")
    _git(repo, "add", "src/lib.rs")
    for hook in ("allocpolicy", "allocpolicy-fix"):
        for args, fails in (
            ([], False),
            (["--fail-on", "warning"], True),
            (["--config", "ci/strict.toml"], True),
        ):
            _use_manifest_hooks(repo, {hook: args}, env)
            done = _commit(repo, env)
            assert (done.returncode != 0) == fails, (hook, args, done.stdout + done.stderr)
            if fails:
                out = done.stdout + done.stderr
                assert "- exit code: 1" in out and "src/lib.rs:1:1: AP009 [warning]" in out, out
            else:
                _git(repo, "reset", "-q", "--soft", "HEAD~1")


@pytest.mark.precommit
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_check_of_unstaged_edits_does_not_hide_what_a_later_commit_breaks(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    env = _hook_env(tmp_path)
    repo = _monorepo(tmp_path / "repo")
    _use_manifest_hooks(repo, {"allocpolicy": []}, env)
    assert _commit(repo, env, "--no-verify").returncode == 0
    image = repo / "docker/alpha.Dockerfile"
    staged = image.read_text()
    image.write_text("FROM scratch\n")  # an unstaged edit: for now the image builds no crate
    # `pre-commit run --files` does not stash: the check reads, and caches, the work tree
    check = _pre_commit(repo, env, "run", "allocpolicy", "--files", "services/alpha/src/main.rs")
    assert check.returncode == 0, check.stdout
    image.write_text(staged)
    # the commit drops mimalloc from alpha, whose (unchanged, staged) Alpine image now breaks
    write_tree(
        repo,
        {
            "services/alpha/Cargo.toml": cargo("alpha"),
            "services/alpha/src/main.rs": "fn main() {}\n",
        },
    )
    _git(repo, "add", "services/alpha")
    done = _commit(repo, env)
    out = done.stdout + done.stderr
    assert done.returncode == 1 and "docker/alpha.Dockerfile:1:1: AP001 [error]" in out, out


def test_a_check_by_hand_sees_unstaged_edits_and_caches_none_of_them(tmp_path, monkeypatch):
    """Outside a commit the engine reads the work tree: the scope follows it, the cache does not keep it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = _monorepo(tmp_path / "repo")
    (root / "services/alpha/src/main.rs").write_text("fn main() {}\n")  # alpha's images break

    def broken() -> set[str]:
        found = scan_changed(root, ["services/alpha/src/main.rs"]).findings
        return {f.location.path for f in found if f.rule == "AP001"}

    assert broken() == {"docker/alpha.Dockerfile"}
    gamma = root / "docker/gamma.Dockerfile"
    staged = gamma.read_text()
    gamma.write_text(ALPINE.format(name="alpha"))  # unstaged: gamma's image builds alpha now
    assert broken() == {"docker/alpha.Dockerfile", "docker/gamma.Dockerfile"}
    gamma.write_text(ALPINE.format(name="alpha") + "# edited again\n")  # the same listing
    assert broken() == {"docker/alpha.Dockerfile", "docker/gamma.Dockerfile"}
    gamma.write_text(staged)
    assert broken() == {"docker/alpha.Dockerfile"}
    # and the other way round: an unstaged edit that stops naming alpha, then reverted
    image = root / "docker/alpha.Dockerfile"
    staged = image.read_text()
    image.write_text("FROM scratch\n")
    assert broken() == set()
    image.write_text(staged)
    assert broken() == {"docker/alpha.Dockerfile"}


_MAIN = "import sys; from allocpolicy.cli import main; sys.exit(main(sys.argv[1:]))"


def _bounded_run(argv: list[str], cwd: Path, code: str = _MAIN) -> subprocess.CompletedProcess[str]:
    """Python `code` (the command line) in a child with 1 GiB of address space and a
    minute: a hang or a read of /dev/zero fails the test, not the machine."""

    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limit,
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="FIFOs, /dev/zero, rlimits")
def test_the_scope_reads_no_fifo_device_or_file_outside_the_tree(tmp_path):
    outside = write_tree(tmp_path / "outside", {"Cargo.toml": cargo("wanted")})
    root = tmp_path / "repo"
    write_tree(
        root,
        {
            "svc/Cargo.toml": cargo("svc"),
            "svc/src/main.rs": "fn main() {}\n",
            "Dockerfile": ALPINE.format(name="wanted"),  # a crate found by reading manifests
        },
    )
    (root / "zero").mkdir()
    (root / "zero/Cargo.toml").symlink_to("/dev/zero")
    (root / "away").mkdir()
    (root / "away/Cargo.toml").symlink_to(outside / "Cargo.toml")
    (root / "zero.Dockerfile").symlink_to("/dev/zero")  # the word cache learns every image
    _git(root, "init", "-q")
    _git(root, "add", "-A")  # git keeps the links as links: a clone has them too
    os.mkfifo(root / "svc/Cargo.lock")  # and a FIFO a script may name
    done = _bounded_run(["pre-commit", "Dockerfile", "svc/src/main.rs", "svc/Cargo.lock"], root)
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    assert "away/" not in done.stdout  # the link out of the tree named no crate of ours
    os.remove(root / "svc/Cargo.toml")
    os.mkfifo(root / "svc/Cargo.toml")  # its workspace root is sniffed before anything else
    done = _bounded_run(["pre-commit", "svc/Cargo.toml"], root)
    assert done.returncode == 0 and "internal error" not in done.stderr, done.stdout + done.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="FIFOs and /dev/zero")
def test_the_ignore_settings_are_read_bounded(tmp_path):
    code = (
        "from pathlib import Path\nfrom allocpolicy.config import Config\n"
        "from allocpolicy.frontdoors.precommit import Files\n"
        "print(Files(Path('.'), Config()).settings)"
    )
    # the root .gitignore is named with no content: neither the link nor the FIFO is read
    (tmp_path / ".gitignore").symlink_to("/dev/zero")
    assert _bounded_run([], tmp_path, code).stdout == "['.gitignore\\x00']\n"
    (tmp_path / ".gitignore").unlink()
    os.mkfifo(tmp_path / ".gitignore")
    assert _bounded_run([], tmp_path, code).stdout == "['.gitignore\\x00']\n"


def test_a_manifest_that_is_not_utf8_is_a_finding_not_a_crash(tmp_path):
    root = write_tree(
        tmp_path, {"svc/src/main.rs": "fn main() {}\n", "Dockerfile": "FROM scratch\n"}
    )
    (root / "svc/Cargo.toml").write_bytes(b'[package]\nname = "\xfe\xff"\nversion = "0.1.0"\n')
    result = scan_changed(root, ["svc/Cargo.toml", "Dockerfile"])
    assert [(f.rule, f.location.path) for f in result.findings] == [("AP900", "svc/Cargo.toml")]


@pytest.mark.parametrize("name", ["../outside/Dockerfile", "/nowhere/Dockerfile"])
def test_a_changed_file_outside_the_repository_is_a_usage_error(
    tmp_path, capsys, monkeypatch, name
):
    from allocpolicy.cli import main

    write_tree(tmp_path, {"repo/Cargo.toml": cargo("svc"), "outside/Dockerfile": ALPINE})
    monkeypatch.chdir(tmp_path / "repo")
    assert main(["pre-commit", name]) == 2
    assert f"allocpolicy: error: {name}: not inside the repository" in capsys.readouterr().err
