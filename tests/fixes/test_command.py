"""`allocpolicy fix` end to end: options, exit codes, and the bundled examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixkit import EXAMPLES, GOLDEN, cli, copy_tree, rules, snapshot

BROKEN = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir() and p.name != "clean")


@pytest.mark.parametrize("name", BROKEN)
def test_example_diff_shows_the_fix_and_writes_nothing(name: str, tmp_path: Path) -> None:
    root = copy_tree(EXAMPLES / name, tmp_path / name)
    before = snapshot(root)
    run = cli("fix", root, "--diff", "--unsafe-fixes")
    assert snapshot(root) == before
    assert "--- a/" in run.out and "+++ b/" in run.out and "\n+" in run.out
    assert "would change" in run.err


@pytest.mark.parametrize("name", BROKEN)
def test_example_scans_clean_after_fix(name: str, tmp_path: Path) -> None:
    root = copy_tree(EXAMPLES / name, tmp_path / name)
    assert rules(root)
    assert cli("fix", root, "--unsafe-fixes").rc == 0
    assert rules(root) == []
    assert cli("scan", root, "--fail-on", "info").rc == 0


def test_clean_example_is_left_alone(tmp_path: Path) -> None:
    root = copy_tree(EXAMPLES / "clean", tmp_path / "clean")
    before = snapshot(root)
    run = cli("fix", root, "--unsafe-fixes")
    assert run.rc == 0 and snapshot(root) == before


def _golden(name: str, tmp_path: Path) -> Path:
    return copy_tree(GOLDEN / name / "before", tmp_path / "repo")


def test_unsafe_fixes_need_the_flag(tmp_path: Path) -> None:
    root = _golden("ap001-replace-jemalloc", tmp_path)
    before = snapshot(root)
    run = cli("fix", root)
    assert snapshot(root) == before
    assert run.rc == 1  # the AP001 error is still there
    assert "1 with unsafe fixes: --unsafe-fixes" in run.err


def test_rule_limits_the_fixes(tmp_path: Path) -> None:
    root = copy_tree(EXAMPLES / "glibc-system", tmp_path / "repo")
    cli("fix", root, "--rule", "ap004")
    assert (
        'mimalloc = { version = "0.1", default-features = false }'
        in (root / "Cargo.toml").read_text()
    )
    assert "global_allocator" not in (root / "src/main.rs").read_text().replace(
        "// #[global_allocator]", ""
    )
    assert sorted(set(rules(root))) == ["AP003", "AP005"]


def test_rule_takes_a_comma_list(tmp_path: Path) -> None:
    root = copy_tree(EXAMPLES / "glibc-system", tmp_path / "repo")
    run = cli("fix", root, "--rule", "ap004,AP005")
    assert "Fixed AP004" in run.err and "Fixed AP005" in run.err
    assert "global_allocator" in (root / "src/main.rs").read_text()
    assert rules(root) == []  # AP003 goes with them: mimalloc is wired now


@pytest.mark.parametrize("given", [["AP999"], ["AP004,AP999"], ["AP004", "nope"], [","]])
def test_an_unknown_rule_is_a_usage_error_and_writes_nothing(
    given: list[str], tmp_path: Path
) -> None:
    root = copy_tree(EXAMPLES / "glibc-system", tmp_path / "repo")
    before = snapshot(root)
    run = cli("fix", root, *[w for g in given for w in ("--rule", g)])
    assert run.rc == 2 and "--rule" in run.err
    assert "AP999" in run.err or "nope" in run.err.lower() or "no rule id" in run.err
    assert snapshot(root) == before


def test_exit_codes_follow_fail_on_and_exit_non_zero_on_fix(tmp_path: Path) -> None:
    root = copy_tree(EXAMPLES / "jemallocator", tmp_path / "a")
    assert cli("fix", root, "--diff", "--fail-on", "warning").rc == 1  # AP008 still there
    assert cli("fix", root, "--exit-non-zero-on-fix").rc == 1  # fixed, but files changed
    assert cli("fix", root, "--exit-non-zero-on-fix").rc == 0  # nothing left to change


def test_fix_reports_what_it_changed_and_what_is_left(tmp_path: Path) -> None:
    root = _golden("ap005-tikv-jemallocator", tmp_path)
    run = cli("fix", root)
    assert "Fixed: src/main.rs" in run.err
    assert "note: skipped fix 'Link mimalloc as the #[global_allocator]'" in run.err
    assert "1 file(s) changed; 0 finding(s) remain." in run.err


def test_conflicting_fixes_leave_a_file_that_still_parses(tmp_path: Path) -> None:
    root = _golden("ap002-conflicts-with-ap007", tmp_path)
    run = cli("fix", root, "--unsafe-fixes", "--diff")
    assert "skipped fix 'Install libmimalloc2.0" in run.err
    assert run.out.count("\n-ENV LD_PRELOAD") == 1 and "+RUN apt-get" not in run.out


def test_json_output_carries_fixes(tmp_path: Path) -> None:
    root = _golden("ap001-replace-jemalloc", tmp_path)
    doc = json.loads(cli("scan", root, "--format", "json").out)
    fix = next(f["fix"] for f in doc["findings"] if f["rule"] == "AP001")
    assert fix["title"] == "Replace the global allocator with mimalloc"
    assert fix["safety"] == "unsafe"
    assert {e["path"] for e in fix["edits"]} == {"Cargo.toml", "src/main.rs"}
    for e in fix["edits"]:
        assert set(e) == {
            "path",
            "start_line",
            "start_column",
            "end_line",
            "end_column",
            "replacement",
        }
        assert e["start_column"] == e["end_column"] == 1  # whole lines: a GitHub suggestion each
        assert e["replacement"] == "" or e["replacement"].endswith("\n")
    assert doc["summary"]["fixable"] >= 1


def test_json_safe_fix(tmp_path: Path) -> None:
    root = copy_tree(EXAMPLES / "glibc-system", tmp_path / "repo")
    doc = json.loads(cli("scan", root, "--format", "json").out)
    ap004 = next(f for f in doc["findings"] if f["rule"] == "AP004")
    assert ap004["fix"] == {
        "title": "Set default-features = false on mimalloc",
        "safety": "safe",
        "edits": [
            {
                "path": "Cargo.toml",
                "start_line": 7,
                "start_column": 1,
                "end_line": 8,
                "end_column": 1,
                "replacement": 'mimalloc = { version = "0.1", default-features = false }\n',
            }
        ],
    }


def test_replacing_an_allocator_used_elsewhere_is_left_to_a_human(tmp_path: Path) -> None:
    root = _golden("ap001-replace-jemalloc", tmp_path)
    main = root / "src" / "main.rs"
    main.write_text(
        main.read_text().replace("fn main() {}", "fn main() {\n    let _ = Jemalloc;\n}")
    )
    before = snapshot(root)
    cli("fix", root, "--unsafe-fixes")
    assert snapshot(root) == before
    assert rules(root) == ["AP001"]
