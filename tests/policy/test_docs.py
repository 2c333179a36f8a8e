"""Rule pages and the README catalogue are generated from the policy and never stale."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from allocpolicy.policy import docs
from allocpolicy.policy.loader import load_rules, parse_policy

ROOT = Path(__file__).resolve().parents[2]


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate", ROOT / "scripts" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = _load_generator()
COMPILED = Path("src/allocpolicy/policy/compiled_default.py")


def run_docs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate.py"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The generator's inputs and outputs, copied out of the repository."""
    (tmp_path / "policies").mkdir()
    shutil.copy(ROOT / "policies/default.yaml", tmp_path / "policies/default.yaml")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    (tmp_path / "src/allocpolicy/policy").mkdir(parents=True)
    for name in ("compiled_default.py", "schema.json"):
        shutil.copy(ROOT / "src/allocpolicy/policy" / name, tmp_path / "src/allocpolicy/policy")
    return tmp_path


def readme_catalogue() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = text.index(docs.START), text.index(docs.END)
    return text[start:end]


def test_committed_files_are_in_step_with_the_policy() -> None:
    done = run_docs("--check")
    assert done.returncode == 0, done.stderr + "\nrun: python -m allocpolicy.policy.docs"
    assert done.stderr == ""


def test_every_default_rule_has_a_page_and_a_readme_row() -> None:
    rules = load_rules()
    table = readme_catalogue()
    pages = {p.stem for p in (ROOT / "docs/rules").glob("*.md")}
    assert pages == set(rules)
    for rule in rules.values():
        page = (ROOT / f"docs/rules/{rule.id}.md").read_text(encoding="utf-8")
        assert page.startswith(f"# {rule.id}: {rule.name}\n"), rule.id
        assert rule.summary in page
        row = f"| {rule.id} | {rule.name} | {rule.severity.value} | {rule.summary} |"
        assert row in table, rule.id
        assert f"[{rule.id}.md](docs/rules/{rule.id}.md)" in table


def test_ap001_page_has_the_documentation_sections_and_the_fix_safety() -> None:
    page = (ROOT / "docs/rules/AP001.md").read_text(encoding="utf-8")
    heads = ["## What it does", "## Why is this bad?", "## Example", "## Fix\n", "## Fix safety"]
    at = [page.index(h) for h in heads]
    assert at == sorted(at)
    example = page[at[2] : at[3]]
    assert "```dockerfile\nFROM rust:1-alpine AS build\n" in example
    assert "with no `#[global_allocator]` in the crate." in example
    fix = page[at[3] : at[4]]
    assert 'mimalloc = { version = "0.1", default-features = false }' in fix
    assert "static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;" in fix
    safety = page[at[4] :]
    assert "`add-mimalloc`" in safety and "**safe**" in safety
    assert "- Severity: `error`" in page
    assert "- Subject: [`binary`](../facts.md#binary)" in page


def test_unsafe_and_missing_fixes_say_so() -> None:
    ap002 = (ROOT / "docs/rules/AP002.md").read_text(encoding="utf-8")
    safety = ap002[ap002.index("## Fix safety") :]
    assert "`remove-ld-preload`" in safety and "**unsafe**" in safety
    assert "--unsafe-fixes" in safety
    ap009 = (ROOT / "docs/rules/AP009.md").read_text(encoding="utf-8")
    assert "- Fix: none" in ap009
    assert "No automatic fix" in ap009[ap009.index("## Fix safety") :]


def test_why_carries_the_rationale_even_where_the_documentation_has_no_such_section() -> None:
    rule = load_rules()["AP009"]
    assert "## Why is this bad?" not in rule.documentation
    page = docs.rule_page(rule)
    why = page[page.index("## Why is this bad?") : page.index("## Fix\n")]
    assert " ".join(rule.rationale.split()) in " ".join(why.split())


def test_check_fails_naming_the_page_after_a_documentation_edit(copy: Path) -> None:
    policy = copy / "policies/default.yaml"
    text = policy.read_text(encoding="utf-8")
    old = "glibc malloc fragments under multi-threaded load, often doubling RSS."
    assert text.count(old) == 1
    policy.write_text(text.replace(old, "glibc malloc fragments badly."), encoding="utf-8")
    done = run_docs("--check", "--root", str(copy))
    assert done.returncode == 1
    assert "docs/rules/AP003.md" in done.stderr
    assert "AP001.md" not in done.stderr and "README.md" not in done.stderr
    assert run_docs("--root", str(copy)).returncode == 0
    assert "glibc malloc fragments badly." in (copy / "docs/rules/AP003.md").read_text()
    assert run_docs("--check", "--root", str(copy)).returncode == 0


def test_check_names_the_readme_after_a_summary_edit(copy: Path) -> None:
    policy = copy / "policies/default.yaml"
    old = "summary: Only binaries should choose the global allocator."
    text = policy.read_text(encoding="utf-8")
    assert text.count(old) == 1
    policy.write_text(text.replace(old, "summary: Libraries must not."), encoding="utf-8")
    assert generate.stale(copy) == [COMPILED, Path("docs/rules/AP009.md"), Path("README.md")]


def test_regenerating_touches_only_the_readme_catalogue(copy: Path) -> None:
    readme = copy / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(docs.START), text.index(docs.END)
    # someone else's edit outside the markers is not staleness, and survives
    edited = "# edited title\n" + text[len("# allocpolicy\n") : start]
    edited += docs.START + "\n| broken |\n" + text[end:] + "\nnew section\n"
    readme.write_text(edited, encoding="utf-8")
    assert generate.stale(copy) == [Path("README.md")]
    generate.write(copy)
    after = readme.read_text(encoding="utf-8")
    assert after.startswith("# edited title\n") and after.endswith("\nnew section\n")
    assert readme_catalogue() in after
    assert generate.stale(copy) == []


def test_pages_of_rules_that_do_not_exist_are_stale_and_removed(copy: Path) -> None:
    orphan = copy / "docs/rules/AP999.md"
    orphan.write_text("# AP999: gone\n", encoding="utf-8")
    (copy / "docs/rules/AP005.md").unlink()
    assert set(generate.stale(copy)) == {Path("docs/rules/AP999.md"), Path("docs/rules/AP005.md")}
    generate.write(copy)
    assert not orphan.exists()
    assert (copy / "docs/rules/AP005.md").read_text() == (ROOT / "docs/rules/AP005.md").read_text()


def test_readme_without_markers_is_an_error(copy: Path) -> None:
    readme = copy / "README.md"
    readme.write_text(readme.read_text().replace(docs.START, ""), encoding="utf-8")
    done = run_docs("--check", "--root", str(copy))
    assert done.returncode == 2
    assert "rules:start" in done.stderr


USER_POLICY = """\
version: 1
rules:
  - id: TEAM001
    name: forbid-tcmalloc
    severity: error
    subject: dependency
    summary: tcmalloc is not allowed here.
    when: {fact: allocator, eq: tcmalloc}
    message: "`{crate}` is tcmalloc; use mimalloc"
  - id: TEAM002
    name: documented
    severity: warning
    subject: binary
    summary: s.
    rationale: Because.
    documentation: |
      Intro text.

      ## Example
      ```dockerfile
      ## not a heading: a Dockerfile comment
      FROM alpine
      ```

      ## See also
      AP001.
    when: {fact: libc, eq: musl}
    message: m
    fix:
      action: remove-ld-preload
      safety: unsafe
"""


def test_user_rules_render_in_the_same_structure() -> None:
    bare, documented = parse_policy("team.yaml", USER_POLICY)
    page = docs.rule_page(bare)
    assert page.startswith("# TEAM001: forbid-tcmalloc\n")
    # no documentation: the summary stands in for the rationale, and the fix says none
    assert "## Why is this bad?\n\ntcmalloc is not allowed here." in page
    assert "No automatic fix" in page and "## Example" not in page
    page = docs.rule_page(documented)
    assert page.count("## not a heading") == 1
    assert "```dockerfile\n## not a heading: a Dockerfile comment\nFROM alpine\n```" in page
    heads = ["Intro text.", "## Why is this bad?", "## Example", "## Fix safety", "## See also"]
    at = [page.index(h) for h in heads]
    assert at == sorted(at)
    assert "**unsafe**" in page
