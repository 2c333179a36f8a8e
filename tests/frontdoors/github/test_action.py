"""action.yml: schema-valid, injection-free, and its composite steps work as a runner runs them.

The end-to-end test runs the real engine on a real temporary git repository (a
Containerfile ``FROM rust:1-alpine`` + ``cargo build --release``, a Cargo.toml
without mimalloc), through the action's own ``run:`` scripts, against the API
double.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml
from gh_helpers import parse_outputs, read_pins
from ghdouble import PrFile

pytestmark = pytest.mark.github

ROOT = Path(__file__).resolve().parents[3]
ACTION = ROOT / "action.yml"
EXPR = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def action() -> dict:
    return yaml.safe_load(ACTION.read_text())


def test_action_yml_passes_the_github_actions_schema():
    exe = Path(sys.executable).with_name("check-jsonschema")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "check_jsonschema"]
    proc = subprocess.run(
        cmd + ["--builtin-schema", "vendor.github-actions", str(ACTION)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_action_yml_conventions():
    a = action()
    assert a["runs"]["using"] == "composite"
    assert a["branding"]["color"] in {
        "white",
        "black",
        "yellow",
        "blue",
        "green",
        "orange",
        "red",
        "purple",
        "gray-dark",
    }
    expected = {
        "github-token",
        "path",
        "config",
        "filter-mode",
        "fail-on",
        "reporter",
        "max-comments",
        "api-url",
    }
    assert expected <= set(a["inputs"])
    assert a["inputs"]["github-token"]["default"] == "${{ github.token }}"
    for name, spec in a["inputs"].items():
        assert spec.get("description"), name
        assert isinstance(spec.get("default", ""), str), name
    run_step = next(s for s in a["runs"]["steps"] if s.get("id") == "run")
    passed = {m.group(1) for v in run_step["env"].values() for m in EXPR.finditer(str(v))}
    assert passed == {f"inputs.{n}" for n in a["inputs"]}  # every input reaches the tool, via env
    for step in a["runs"]["steps"]:
        if "uses" in step:  # an action the composite calls: pinned to a commit, not a movable tag
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
            continue
        assert "${{" not in step.get("run", ""), (
            "expressions in run: scripts allow injection; use env:"
        )
        assert step.get("shell") == "bash"
    for name, out in a["outputs"].items():
        assert out["value"] == f"${{{{ steps.run.outputs.{name} }}}}"
    # every output is one the tool writes
    from allocpolicy.frontdoors.github import command

    src = Path(command.__file__).read_text()
    for name in a["outputs"]:
        assert f'"{name}":' in src, name
    # pinned dependencies, installed in hash-checking mode
    for pin in read_pins():
        assert str(pin.requirement.specifier).startswith("=="), pin
    install = next(s for s in a["runs"]["steps"] if s.get("id") == "install")["run"]
    assert "--require-hashes" in install and "action-requirements.txt" in install


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def make_repo(tmp: Path) -> tuple[Path, str, str]:
    repo = tmp / "workspace"
    (repo / "src").mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "t@example.invalid")
    _git(repo, "config", "user.name", "t")
    (repo / "Cargo.toml").write_text(
        '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nserde = "1"\n'
    )
    (repo / "src/main.rs").write_text('fn main() {\n    println!("hi");\n}\n')
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    base = _git(repo, "rev-parse", "HEAD").strip()
    (repo / "Containerfile").write_text(
        "FROM rust:1-alpine AS build\nWORKDIR /src\nCOPY . .\nRUN cargo build --release\n\n"
        'FROM alpine:3.20\nCOPY --from=build /src/target/release/app /usr/local/bin/app\nCMD ["app"]\n'
    )
    with (repo / "Cargo.toml").open("a") as fh:
        fh.write('tokio = "1"\n')
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "head")
    head = _git(repo, "rev-parse", "HEAD").strip()
    return repo, base, head


def github_patches(repo: Path, base: str, head: str) -> list[PrFile]:
    """What pulls/list-files would say: the diff body after the headers, per file."""
    out = []
    for line in _git(repo, "diff", "--name-status", base, head).splitlines():
        status, name = line.split("\t", 1)
        diff = _git(repo, "diff", base, head, "--", name)
        body = diff[diff.index("\n@@") + 1 :].rstrip("\n")
        out.append(PrFile(name, body, {"A": "added", "M": "modified", "D": "removed"}[status[0]]))
    return out


def test_scan_json_shape_on_the_fixture_repo(tmp_path):
    repo, _, _ = make_repo(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "allocpolicy", "scan", "--format", "json", str(repo)],
        capture_output=True,
        text=True,
    )
    data = json.loads(proc.stdout)
    assert {"findings", "inventory"} <= set(data)
    ap001 = [f for f in data["findings"] if f["rule"] == "AP001"]
    assert ap001 and ap001[0]["path"] == "Containerfile"
    for key in (
        "rule",
        "name",
        "severity",
        "path",
        "line",
        "end_line",
        "message",
        "fingerprint",
        "fix",
    ):
        assert key in ap001[0]
    assert data["inventory"][0]["libc"] == "musl"


CONDITION = re.compile(r"\s*([\w.-]+)\s*(==|!=)\s*'([^']*)'\s*")


def run_composite(
    env: dict[str, str], inputs: dict[str, str], workdir: Path, cache: Path | None = None
) -> tuple[int, str]:
    """Run the action's steps as the runner does: expressions evaluated into env: and with:,
    each run: script handed to bash, outputs read back from GITHUB_OUTPUT, if: conditions
    honoured. actions/cache/restore and /save are played by ``cache`` (a directory of saved
    entries, one per key; without it, every restore misses and nothing is saved)."""
    a = action()
    values = {
        f"inputs.{k}": inputs.get(k, str(v.get("default", ""))) for k, v in a["inputs"].items()
    }
    ctx = {
        "github.token": env["TEST_GITHUB_TOKEN"],
        "github.api_url": env["GITHUB_API_URL"],
        "runner.temp": env["RUNNER_TEMP"],
    }
    outputs: dict[str, dict[str, str]] = {}

    def lookup(key: str) -> str:
        if key in values:
            return ev(values[key]) if "${{" in values[key] else values[key]
        if key.startswith("steps."):
            sid, kind, name = key.removeprefix("steps.").split(".", 2)
            assert kind == "outputs", key
            return outputs.get(sid, {}).get(name, "")
        return ctx[key]

    def ev(text: str) -> str:
        return EXPR.sub(lambda m: lookup(m.group(1)), text)

    def condition(expr: str) -> bool:
        m = CONDITION.fullmatch(expr)
        assert m, f"the test runner reads only `context ==/!= 'literal'` conditions: {expr!r}"
        return (lookup(m.group(1)) == m.group(3)) == (m.group(2) == "==")

    log = []
    rc = 0
    for step in a["runs"]["steps"]:
        if "if" in step and not condition(step["if"]):
            continue
        if "uses" in step:
            with_ = {k: ev(str(v)) for k, v in (step.get("with") or {}).items()}
            outputs[step.get("id", "")] = fake_cache(step["uses"], with_, cache)
            continue
        step_env = dict(env)
        step_env.update({k: ev(str(v)) for k, v in (step.get("env") or {}).items()})
        out = Path(env["GITHUB_OUTPUT"])
        before = out.read_text()
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", step["run"]],
            env=step_env,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=300,
        )
        outputs[step.get("id", "")] = step_outputs(out.read_text()[len(before) :])
        log.append(proc.stdout + proc.stderr)
        rc = proc.returncode
        if rc != 0:
            break
    return rc, "\n".join(log)


def step_outputs(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT as the runner reads it: ``name<<DELIM`` blocks and ``name=value`` lines."""
    found: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        name, sep, rest = lines[i].partition("<<")
        if sep and "=" not in name:
            j = lines.index(rest, i + 1)
            found[name] = "\n".join(lines[i + 1 : j])
            i = j + 1
            continue
        name, sep, rest = lines[i].partition("=")
        if sep:
            found[name] = rest
        i += 1
    return found


def fake_cache(uses: str, with_: dict[str, str], store: Path | None) -> dict[str, str]:
    """actions/cache/restore and /save on a local directory: an exact key restores the
    saved tree (cache-hit "true"); a miss leaves cache-hit unset, as actions/cache does."""
    action_name = uses.split("@", 1)[0]
    assert action_name in {"actions/cache/restore", "actions/cache/save"}, uses
    path, entry = Path(with_["path"]), (store / with_["key"]) if store else None
    assert with_["key"] and "${{" not in with_["key"], with_
    if action_name == "actions/cache/restore":
        if entry is None or not entry.exists():
            return {}
        shutil.copytree(entry, path, symlinks=True, dirs_exist_ok=True)
        return {"cache-hit": "true"}
    if entry is not None and not entry.exists():
        shutil.copytree(path, entry, symlinks=True)
    return {}


@pytest.fixture
def runner_env(tmp_path, double):
    temp = tmp_path / "runner_temp"
    temp.mkdir()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    # Stand in for the runner's network: the venv the action would create already exists and
    # sees this interpreter's packages (pip included), so the action's pinned
    # `pip install -r` finds every pin satisfied with PIP_NO_INDEX set. CI could drop this.
    venv = temp / "allocpolicy-venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True
    )
    site = subprocess.run(
        [
            str(venv / "bin/python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "runner-cache.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    os.symlink(getattr(sys, "_base_executable", None) or sys.executable, bindir / "python3")
    out = tmp_path / "github_output"
    summary = tmp_path / "step_summary"
    out.write_text("")
    summary.write_text("")
    env = {
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "GITHUB_ACTIONS": "true",
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_OUTPUT": str(out),
        "GITHUB_STEP_SUMMARY": str(summary),
        "RUNNER_TEMP": str(temp),
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
        "GITHUB_API_URL": double.base_url,
        "GITHUB_REPOSITORY": "octo/app",
        "GITHUB_SERVER_URL": "https://github.invalid",
        "GITHUB_RUN_ID": "99",
        "TEST_GITHUB_TOKEN": "bot-token",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "ALLOCPOLICY_SECONDS_BETWEEN_WRITES": "0",
    }
    if pins_satisfied():
        env["PIP_NO_INDEX"] = "1"  # offline: the pins must be found already installed
    return env, out, summary


def pins_satisfied() -> bool:
    """Does this interpreter already have exactly the action's pinned versions? (Otherwise
    the action's pip fetches them, which needs the package index, as on a real runner.)"""
    from importlib import metadata

    for pin in read_pins():
        r = pin.requirement
        if r.marker is not None and not r.marker.evaluate():
            continue
        try:
            if metadata.version(r.name) not in r.specifier:
                return False
        except metadata.PackageNotFoundError:
            return False
    return True


def test_composite_steps_end_to_end_against_the_double(tmp_path, double, runner_env):
    env, out, summary = runner_env
    repo, base, head = make_repo(tmp_path)
    double.add_pull(12, head, base, github_patches(repo, base, head))
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "number": 12,
                "pull_request": {
                    "number": 12,
                    "head": {"sha": head, "repo": {"full_name": "octo/app"}},
                    "base": {"sha": base, "repo": {"full_name": "octo/app"}},
                },
                "repository": {"full_name": "octo/app"},
            }
        )
    )
    env.update(
        GITHUB_EVENT_PATH=str(event), GITHUB_EVENT_NAME="pull_request", GITHUB_WORKSPACE=str(repo)
    )
    rc, log = run_composite(env, {}, repo)
    assert rc == 1, log  # an error-level finding, fail-on defaults to error
    outputs = parse_outputs(out.read_text())
    assert (
        outputs["errors"] >= "1" and outputs["reporter"] == "review" and outputs["failed"] == "true"
    ), log
    [review] = double.calls("pulls/create-review")
    assert (
        review["status"] == 200
        and review["body"]["commit_id"] == head
        and review["body"]["event"] == "COMMENT"
    )
    by_path = {c["path"]: c for c in review["body"]["comments"]}
    ap001 = by_path["Containerfile"]
    assert (
        ap001["line"] == 1 and "AP001" in ap001["body"] and "/docs/rules/AP001.md)" in ap001["body"]
    )
    # the fix adds mimalloc to Cargo.toml and #[global_allocator] to the unchanged main.rs: a diff block
    assert "```diff" in ap001["body"] and "+#[global_allocator]" in ap001["body"]
    assert "```suggestion" not in ap001["body"]
    text = summary.read_text()
    assert (
        "### Findings" in text
        and "### Image inventory" in text
        and "x86_64-unknown-linux-musl" in text
    )
    # a second run of the same action posts nothing new
    n = len(double.writes())
    rc2, log2 = run_composite(env, {}, repo)
    assert rc2 == 1 and double.writes()[n:] == [], log2


def test_composite_steps_fork_pr_annotations_and_sarif(tmp_path, double, runner_env):
    env, out, summary = runner_env
    repo, base, head = make_repo(tmp_path)
    double.add_pull(13, head, base, github_patches(repo, base, head), head_repo="mallory/app")
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "number": 13,
                "pull_request": {
                    "number": 13,
                    "head": {"sha": head, "repo": {"full_name": "mallory/app"}},
                    "base": {"sha": base, "repo": {"full_name": "octo/app"}},
                },
                "repository": {"full_name": "octo/app"},
            }
        )
    )
    env.update(
        GITHUB_EVENT_PATH=str(event),
        GITHUB_EVENT_NAME="pull_request",
        GITHUB_WORKSPACE=str(repo),
        TEST_GITHUB_TOKEN="ro-token",
    )
    sarif = tmp_path / "out.sarif"
    rc, log = run_composite(env, {"sarif-file": str(sarif), "fail-on": "none"}, repo)
    assert rc == 0, log
    assert double.writes() == []
    assert "::error file=Containerfile,line=1" in log
    outputs = parse_outputs(out.read_text())
    assert outputs["reporter"] == "annotations" and outputs["sarif-file"] == str(sarif)
    assert json.loads(sarif.read_text())["version"] == "2.1.0"
    assert "fork mallory/app" in summary.read_text()


def test_composite_steps_review_a_subdirectory_given_as_path(tmp_path, double, runner_env):
    """`path: svc` scans only svc/ and anchors its findings at svc/... in the diff
    (the paths the pull request's files have), not at the scan-relative ones."""
    env, out, _ = runner_env
    repo, base, _ = make_repo(tmp_path)
    svc = repo / "svc"
    (svc / "src").mkdir(parents=True)
    (svc / "Cargo.toml").write_text((repo / "Cargo.toml").read_text())
    (svc / "src/main.rs").write_text((repo / "src/main.rs").read_text())
    (svc / "Containerfile").write_text((repo / "Containerfile").read_text())
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "svc")
    head = _git(repo, "rev-parse", "HEAD").strip()
    double.add_pull(14, head, base, github_patches(repo, base, head))
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "number": 14,
                "pull_request": {
                    "number": 14,
                    "head": {"sha": head, "repo": {"full_name": "octo/app"}},
                    "base": {"sha": base, "repo": {"full_name": "octo/app"}},
                },
                "repository": {"full_name": "octo/app"},
            }
        )
    )
    env.update(
        GITHUB_EVENT_PATH=str(event), GITHUB_EVENT_NAME="pull_request", GITHUB_WORKSPACE=str(repo)
    )
    rc, log = run_composite(env, {"path": "svc"}, repo)
    assert "Traceback" not in log, log
    assert rc == 1, log  # the error-level finding, not a crash
    assert parse_outputs(out.read_text())["reporter"] == "review", log
    [review] = double.calls("pulls/create-review")
    paths = {c["path"] for c in review["body"]["comments"]}
    assert "svc/Containerfile" in paths and "Containerfile" not in paths, review["body"]
    ap001 = next(c for c in review["body"]["comments"] if c["path"] == "svc/Containerfile")
    assert ap001["line"] == 1 and "AP001" in ap001["body"]
    # the fix's edits are rebased too: the diff block names svc/src/main.rs
    assert "svc/src/main.rs" in ap001["body"], ap001["body"]


def test_action_venv_from_the_pins_alone_runs_a_custom_policy(tmp_path):
    """The install step as a runner runs it, with nothing preinstalled: a fresh venv, pip
    fetching only the pinned, hashed requirements, the action's src/ on the path. A
    repository with its own rule file (validated with jsonschema) is scanned by it.
    Slow (about a minute) and needs the package index, as a real runner does."""
    repo = tmp_path / "workspace"
    (repo / "src").mkdir(parents=True)
    (repo / "team.yaml").write_text((ROOT / "policies/examples/team.yaml").read_text())
    (repo / "allocpolicy.toml").write_text('policies = ["team.yaml"]\n')
    (repo / "Cargo.toml").write_text(
        '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n'
        '[dependencies]\ntcmalloc = "0.3"\n'
    )
    (repo / "src/main.rs").write_text("fn main() {}\n")
    temp = tmp_path / "runner_temp"
    temp.mkdir()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(getattr(sys, "_base_executable", None) or sys.executable, bindir / "python3")
    out = tmp_path / "github_output"
    out.write_text("")
    env = {
        "PATH": f"{bindir}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", str(tmp_path)),  # pip's download cache, nothing else
        "GITHUB_ACTIONS": "true",
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_OUTPUT": str(out),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "step_summary"),
        "RUNNER_TEMP": str(temp),
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
        "GITHUB_API_URL": "http://127.0.0.1:9",  # never reached: not a pull request event
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_WORKSPACE": str(repo),
        "GITHUB_REPOSITORY": "octo/app",
        "TEST_GITHUB_TOKEN": "",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    rc, log = run_composite(env, {"fail-on": "error"}, repo)
    assert "No module named" not in log, log
    assert "TEAM001" in log and "::error file=Cargo.toml,line=7" in log, log
    assert rc == 1, log  # TEAM001 is an error
    outputs = parse_outputs(out.read_text())
    assert outputs["reporter"] == "annotations" and outputs["failed"] == "true", log
    venv_python = temp / "allocpolicy-venv/bin/python"
    freeze = subprocess.run(
        [str(venv_python), "-m", "pip", "freeze", "--all"], capture_output=True, text=True
    ).stdout.lower()
    assert "jsonschema==" in freeze and "dockerfile-parse" not in freeze, freeze


def venv_key(env: dict[str, str], action_path: Path) -> str:
    [step] = [s for s in action()["runs"]["steps"] if s.get("id") == "venv-key"]
    out = Path(env["GITHUB_OUTPUT"])
    out.write_text("")
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", step["run"]],
        env={**env, "GITHUB_ACTION_PATH": str(action_path)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    return step_outputs(out.read_text())["key"]


def test_venv_cache_key_is_the_pins_hash_and_the_interpreter(tmp_path, runner_env):
    """A change to the pins (or another Python) must miss the cache: a stale venv would run
    with dependencies the pins no longer name, unchecked by --require-hashes."""
    env, _, _ = runner_env
    pins = ROOT / "src/allocpolicy/frontdoors/github/action-requirements.txt"
    key = venv_key(env, ROOT)
    assert key.endswith("-" + hashlib.sha256(pins.read_bytes()).hexdigest()), key
    assert f"-Linux-X64-py{platform.python_version()}-" in key, key
    other = tmp_path / "other-action"
    (other / pins.relative_to(ROOT).parent).mkdir(parents=True)
    (other / pins.relative_to(ROOT)).write_text(pins.read_text() + "# one more line\n")
    assert venv_key(env, other) != key
    # the restore and the save use that key, not hashFiles() (blind to the action's files)
    for step in action()["runs"]["steps"]:
        if str(step.get("uses", "")).startswith("actions/cache/"):
            assert step["with"]["key"] == "${{ steps.venv-key.outputs.key }}", step


def test_second_run_restores_the_cached_venv_without_pip(tmp_path, double, runner_env):
    """The first run saves the venv right after installing (its job then fails on the
    finding, which would skip a post-job save); a later runner restores it and runs
    allocpolicy without pip."""
    env, out, _ = runner_env
    repo, base, head = make_repo(tmp_path)
    double.add_pull(15, head, base, github_patches(repo, base, head))
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "number": 15,
                "pull_request": {
                    "number": 15,
                    "head": {"sha": head, "repo": {"full_name": "octo/app"}},
                    "base": {"sha": base, "repo": {"full_name": "octo/app"}},
                },
                "repository": {"full_name": "octo/app"},
            }
        )
    )
    env.update(
        GITHUB_EVENT_PATH=str(event), GITHUB_EVENT_NAME="pull_request", GITHUB_WORKSPACE=str(repo)
    )
    store = tmp_path / "actions-cache"
    store.mkdir()
    rc, log = run_composite(env, {}, repo, cache=store)
    assert rc == 1 and "cached venv" not in log, log
    [entry] = store.iterdir()
    assert entry.name == venv_key(env, ROOT)
    # a new runner: an empty RUNNER_TEMP, and a pip that fails if anything calls it
    shutil.rmtree(env["RUNNER_TEMP"])
    Path(env["RUNNER_TEMP"]).mkdir()
    env["PIP_CONSTRAINT"] = str(tmp_path / "no-such-constraints.txt")
    out.write_text("")
    rc2, log2 = run_composite(env, {}, repo, cache=store)
    assert rc2 == 1 and "cached venv" in log2 and "allocpolicy 0." in log2, log2
    assert parse_outputs(out.read_text())["reporter"] == "review", log2


def _mimalloc_repo(root: Path) -> Path:
    """A crate that links mimalloc, built for musl into scratch: no error-level finding."""
    files = {
        "Cargo.toml": '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n'
        '[dependencies]\nmimalloc = { version = "0.1", default-features = false }\n',
        "src/main.rs": "#[global_allocator]\n"
        "static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\n\nfn main() {}\n",
        "Dockerfile": "FROM rust:1-alpine AS build\nWORKDIR /src\nCOPY . .\n"
        "RUN cargo build --release --target x86_64-unknown-linux-musl\n\nFROM scratch\n"
        "COPY --from=build /src/target/x86_64-unknown-linux-musl/release/app /app\n"
        'ENTRYPOINT ["/app"]\n',
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_image_input_inspects_the_artifact_and_fails_on_its_errors(
    tmp_path, double, runner_env, ruff_musl
):
    env, out, summary = runner_env
    repo = _mimalloc_repo(tmp_path / "ws")
    env.update(GITHUB_EVENT_NAME="push", GITHUB_WORKSPACE=str(repo))
    env.pop("GITHUB_EVENT_PATH", None)
    # Without `image:` the scan alone decides: the source links mimalloc, nothing fails.
    rc, log = run_composite(env, {}, repo)
    assert rc == 0, log
    assert "::error" not in log and "Built image" not in summary.read_text()
    # An earlier step "built" the image: the real ruff musl binary (jemalloc) as `app`.
    (repo / "out").mkdir()
    shutil.copyfile(ruff_musl, repo / "out/app")
    out.write_text("")
    summary.write_text("")
    rc, log = run_composite(env, {"image": "out", "fail-on": "error"}, repo)
    assert rc == 1, log
    assert "::error file=out/app,line=1" in log and "title=AP001 musl-requires-mimalloc" in log
    assert "title=AP012 source-artifact-disagreement" in log
    outputs = parse_outputs(out.read_text())
    assert outputs["failed"] == "true" and int(outputs["errors"]) >= 2, outputs
    text = summary.read_text()
    assert "### Built image `out`" in text and "| error | AP012 |" in text
    assert "| `app` | mimalloc, musl | disagree |" in text


def test_image_input_that_cannot_be_read_is_an_error(tmp_path, double, runner_env):
    env, _out, summary = runner_env
    repo = _mimalloc_repo(tmp_path / "ws")
    env.update(GITHUB_EVENT_NAME="push", GITHUB_WORKSPACE=str(repo))
    env.pop("GITHUB_EVENT_PATH", None)
    rc, log = run_composite(env, {"image": "missing.tar"}, repo)
    assert rc == 2, log
    assert "::error::allocpolicy: cannot inspect image missing.tar" in log
    assert "Traceback" not in log and "**Not inspected:**" in summary.read_text()
