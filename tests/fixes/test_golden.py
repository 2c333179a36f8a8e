"""One golden case per fix and shape: tests/fixes/golden/<case>/{before,after,case.toml}.

Each case is a small repository. `allocpolicy fix` on a copy of before/ must give
after/ byte for byte (CRLF, BOM and missing final newlines included), a second
`fix` must change nothing, `scan` must no longer report the fixed rules, and every
edited file must still parse. Regenerate after/ with ALLOCPOLICY_UPDATE_GOLDEN=1,
then read the diff before committing it.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
from pathlib import Path

import pytest
from fixkit import GOLDEN, cli, copy_tree, instructions, rules, snapshot, toml_of

CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "case.toml").is_file())
UPDATE = os.environ.get("ALLOCPOLICY_UPDATE_GOLDEN") == "1"


def _case(name: str) -> dict:
    return toml_of((GOLDEN / name / "case.toml").read_bytes())


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict, Path]:
    name = request.param
    return name, _case(name), copy_tree(GOLDEN / name / "before", tmp_path / "repo")


def test_fix_gives_the_golden_after_tree(case: tuple[str, dict, Path]) -> None:
    name, spec, root = case
    before = snapshot(root)
    reported = rules(root)
    assert set(spec["fixed"]) <= set(reported), f"{name}: the case must start with its findings"
    run = cli("fix", root, *spec["args"])
    assert run.rc in (0, 1), run.err
    if spec.get("note"):
        assert spec["note"] in run.err
    after = snapshot(root)
    golden = GOLDEN / name / "after"
    if UPDATE:
        shutil.rmtree(golden, ignore_errors=True)
        copy_tree(root, golden)
    assert after != before, f"{name}: nothing was fixed\n{run.err}"
    assert after == snapshot(golden), _tree_diff(snapshot(golden), after)


def test_second_fix_changes_nothing(case: tuple[str, dict, Path]) -> None:
    _, spec, root = case
    cli("fix", root, *spec["args"])
    once = snapshot(root)
    again = cli("fix", root, *spec["args"])
    assert snapshot(root) == once
    assert "0 file(s) changed" in again.err


def test_scan_no_longer_reports_the_fixed_rules(case: tuple[str, dict, Path]) -> None:
    _, spec, root = case
    cli("fix", root, *spec["args"])
    assert not set(spec["fixed"]) & set(rules(root))


def test_edited_files_still_parse_and_keep_their_other_instructions(
    case: tuple[str, dict, Path],
) -> None:
    _, spec, root = case
    before = snapshot(root)
    cli("fix", root, *spec["args"])
    for rel, data in snapshot(root).items():
        if data == before.get(rel):
            continue
        if rel.endswith(".toml"):
            toml_of(data)
        elif rel.rsplit("/", 1)[-1] in ("Dockerfile", "Containerfile"):
            _only_preload_instructions_changed(instructions(before[rel]), instructions(data))


def test_diff_prints_the_change_and_writes_nothing(case: tuple[str, dict, Path]) -> None:
    _, spec, root = case
    before = snapshot(root)
    run = cli("fix", root, "--diff", *spec["args"])
    assert snapshot(root) == before
    assert run.out.startswith("--- a/")
    assert "Would fix:" in run.err


def _only_preload_instructions_changed(
    old: list[tuple[str, str]], new: list[tuple[str, str]]
) -> None:
    """Instructions outside the edit are identical. An edited one keeps its keyword and
    every word except the LD_PRELOAD setting (AP007 may swap the library path); removed
    or added ones are LD_PRELOAD settings or the allocator's package install."""
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "replace" and a1 - a0 == b1 - b0:
            for (k0, v0), (k1, v1) in zip(old[a0:a1], new[b0:b1], strict=False):
                assert k0 == k1 and "LD_PRELOAD" in v0
                lost, gained = _words(v0) - _words(v1), _words(v1) - _words(v0)
                assert all(re.search(r"LD_PRELOAD|libmimalloc|(^|/)env$", w) for w in lost), lost
                assert all("libmimalloc" in w for w in gained), gained
        elif tag != "equal":
            for keyword, value in old[a0:a1] + new[b0:b1]:
                assert "LD_PRELOAD" in value or (keyword == "RUN" and "mimalloc" in value), (
                    keyword,
                    value,
                )


def _words(value: str) -> set[str]:
    return set(re.findall(r"[^\s\[\]\",]+", value))


def _tree_diff(want: dict[str, bytes], got: dict[str, bytes]) -> str:
    out = []
    for rel in sorted(set(want) | set(got)):
        a = want.get(rel, b"").decode("utf-8", "replace").splitlines(keepends=True)
        b = got.get(rel, b"").decode("utf-8", "replace").splitlines(keepends=True)
        out += difflib.unified_diff(a, b, f"golden/{rel}", f"got/{rel}")
    return "".join(out) or "(trees differ in bytes only: line endings or BOM)"
