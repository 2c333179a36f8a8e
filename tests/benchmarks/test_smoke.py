"""Smoke test of benchmarks/run.py: N=10, one run, no warm-up; shape only, never timings."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "run.py"
VENV_BIN = Path(sys.executable).parent


def _table_ok(block: list[str]) -> None:
    """A GitHub Markdown table: header, |---| separator, rows with as many cells as the header."""
    assert len(block) >= 3, block
    assert re.fullmatch(r"\|(---\|)+", block[1]), block[1]
    width = block[1].count("---")
    for line in block[:1] + block[2:]:
        assert line.startswith("| ") and line.endswith(" |"), line
        assert len(line[2:-2].split(" | ")) == width, line


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    if not (VENV_BIN / "allocpolicy").exists():
        pytest.skip("allocpolicy is not installed beside this Python")
    tmp = tmp_path_factory.mktemp("bench")
    out, md = tmp / "results.json", tmp / "table.md"
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--sizes",
            "10",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--fix-size",
            "5",
            "--image-mib",
            "48",
            "--out",
            str(out),
            "--markdown",
            str(md),
            "--workdir",
            str(tmp / "repos"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads(out.read_text()), md.read_text(), tmp / "repos"


def test_markdown_tables_are_well_formed(bench):
    proc, _, md, _ = bench
    assert proc.stdout == md
    tables, cur = [], []
    for line in md.splitlines():
        if line.startswith("|"):
            cur.append(line)
        elif cur:
            tables.append(cur)
            cur = []
    if cur:
        tables.append(cur)
    assert len(tables) == 2
    for t in tables:
        _table_ok(t)
    assert "scan vs hadolint, 10 services" in md
    assert "Machine:" in md


def test_json_has_every_command_and_comparison(bench):
    _, data, _, _ = bench
    assert data["sizes"] == [10] and data["runs"] == 1
    cmds = data["commands"]
    for key in (
        "scan-10",
        "python-pass",
        "one-service-10",
        "precommit-dockerfile-10",
        "precommit-cargo-10",
        "fix-diff-5",
        "scan-broken-5",
        "scan-hostile-10",
        "hadolint-10",
        "checkov-10",
    ):
        assert key in cmds, key
    assert data["machine"]["cores"] >= 1 and data["machine"]["cpu"]
    for key in ("scan-10", "python-pass", "one-service-10", "fix-diff-5", "scan-hostile-10"):
        c = cmds[key]
        assert c["available"], c["note"]
        assert len(c["times"]) == 1 and c["time_s"]["median"] > 0
        assert c["peak_rss_mib"] > 0
        assert c["exit_codes"][0] in (0, 1)
    for c in cmds.values():  # unavailable rows say why instead of failing the run
        assert c["available"] or c["note"]
    whats = {row["what"] for row in data["comparisons"]}
    assert "scan vs hadolint, 10 services" in whats
    assert "scan with hostile files vs without, 10 services" in whats
    for row in data["comparisons"]:
        assert row.get("ratio") or row.get("status") in ("not measured", "not available")
    assert data["repos"]["mixed-10"]["dockerfiles"] == 10
    assert data["machine"]["python"]


def test_the_inspect_row_reads_a_real_image_and_has_its_targets(bench):
    # the synthetic docker save holds this machine's ELF binaries: inspect must read them
    # all (exit 0/1, not 2) and the table carries the time and RSS targets
    _, data, md, _ = bench
    c = data["commands"]["inspect-image"]
    assert c["available"] and c["exit_codes"][0] in (0, 1), c
    (tt,) = data["time_targets"]
    assert tt["command"] == "inspect-image" and tt["target_s"] == 5.0
    assert tt["status"] in ("met", "missed")
    assert any(r["command"] == "inspect-image" for r in data["rss_targets"])
    assert "| inspect of the image tarball |" in md


def test_generator_is_deterministic(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import synth
    finally:
        sys.path.pop(0)
    a = synth.generate(tmp_path / "a", 12, "mixed", git=False)
    b = synth.generate(tmp_path / "b", 12, "mixed", git=False)

    def files(root):
        return sorted(
            p.relative_to(root) for p in root.rglob("*") if p.is_file() and ".git" not in p.parts
        )

    files_a, files_b = files(a.root), files(b.root)
    assert files_a == files_b
    for rel in files_a:
        if rel.name != ".bench-stamp.json":
            assert (a.root / rel).read_bytes() == (b.root / rel).read_bytes(), rel
    main_rs = (a.root / "services/svc0000/src/main.rs").read_text()
    assert 190 <= main_rs.count("\n") <= 230
    assert len(set(a.variants)) == 10


def test_precommit_rows_run_the_hooks_entry():
    import yaml

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run as bench

    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    [check] = [h for h in hooks if h["id"] == "allocpolicy"]
    assert check["entry"].split()[1:] == list(bench.HOOK_ARGS)


def test_precommit_rows_edit_their_file_and_leave_it_as_it_was(bench):
    *_, repos = bench
    [repo] = [p for p in repos.iterdir() if p.name == "mixed-10"]
    edited = [repo / "services/svc0001/Dockerfile", repo / "services/svc0002/Cargo.toml"]
    assert all(p.exists() and "allocpolicy-bench edit" not in p.read_text() for p in edited)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run as run_module

    touch = run_module.TouchFile(edited[1])
    touch()
    touch()
    assert edited[1].read_text().endswith("# allocpolicy-bench edit 2\n")
    touch.restore()
    assert "allocpolicy-bench edit" not in edited[1].read_text()
