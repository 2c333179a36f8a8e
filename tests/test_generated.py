"""Every generated file is current, and the generator notices each kind of drift."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "generate.py"
SCHEMA = Path("src/allocpolicy/policy/schema.json")


def generate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_committed_files_are_current() -> None:
    done = generate("--check")
    assert done.returncode == 0, done.stderr


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for rel in ("policies/default.yaml", "README.md", "src/allocpolicy/policy/compiled_default.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    shutil.copy(ROOT / SCHEMA, tmp_path / SCHEMA)
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    return tmp_path


def _actions(root: Path) -> list[str]:
    schema = json.loads((root / SCHEMA).read_text(encoding="utf-8"))
    fix = schema["$defs"]["rule"]["properties"]["fix"]["oneOf"][1]
    return list(fix["properties"]["action"]["enum"])


def test_schema_lists_every_registered_fix_action(copy: Path) -> None:
    from allocpolicy.fixes.actions import ACTIONS

    assert set(_actions(ROOT)) == set(ACTIONS)
    # A registered action missing from the schema would make policies naming it invalid.
    text = (copy / SCHEMA).read_text(encoding="utf-8")
    (copy / SCHEMA).write_text(text.replace('"remove-dependency"', '"gone-action"'), "utf-8")
    done = generate("--check", "--root", str(copy))
    assert done.returncode == 1 and str(SCHEMA) in done.stderr
    assert generate("--root", str(copy)).returncode == 0
    assert "remove-dependency" in _actions(copy) and "gone-action" not in _actions(copy)
    assert _actions(copy) == _actions(ROOT)


def test_a_hand_edited_facts_page_is_stale_and_restored(copy: Path) -> None:
    page = copy / "docs/facts.md"
    page.write_text(page.read_text().replace("| `linkage` |", "| `link_kind` |"), "utf-8")
    done = generate("--check", "--root", str(copy))
    assert done.returncode == 1 and "docs/facts.md" in done.stderr
    generate("--root", str(copy))
    assert page.read_text() == (ROOT / "docs/facts.md").read_text()


def test_facts_page_documents_each_subject_record_field() -> None:
    from allocpolicy._record import docs
    from allocpolicy.facts.catalog import SUBJECT_TYPES

    page = (ROOT / "docs/facts.md").read_text()
    for kind in SUBJECT_TYPES:
        section = page.split(f"## `{kind.KIND}`", 1)[1].split("\n## ", 1)[0]
        for name in docs(kind):
            assert f"| `{name}` |" in section, (kind.KIND, name)
        # the objects kept for fix actions are not facts a condition can read
        assert "| `shipped` |" not in section and "| `declaring_crate` |" not in section
