"""Rule documentation rendered from the policy: docs/rules/<ID>.md and the README table.

A rule's documentation lives in one place, its entry in policies/default.yaml; the
pages and the README's rule catalogue are rendered from it, in the layout of ruff's
rule pages. `python scripts/generate.py` writes them (with the other generated
files); `--check` fails naming each stale one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from allocpolicy.policy.loader import PolicyError, parse_policy
from allocpolicy.policy.rule import Rule

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

POLICY = Path("policies") / "default.yaml"
PAGES = Path("docs") / "rules"
README = Path("README.md")
START = "<!-- rules:start -->"
END = "<!-- rules:end -->"
COMMAND = "python scripts/generate.py"
GENERATED = f"<!-- Generated from policies/default.yaml by `{COMMAND}`; do not edit. -->"

# ruff's section order; a section the policy does not write is left out, except that
# "Why is this bad?" always carries the rule's rationale.
WHAT, WHY, EXAMPLE, FIX = "What it does", "Why is this bad?", "Example", "Fix"
ORDER = (WHAT, WHY, EXAMPLE, FIX)
_FENCE = re.compile(r"^\s*(```|~~~)")
PROJECT = "https://github.com/allocpolicy/allocpolicy"


def page_url(rule_id: str, env: Mapping[str, str]) -> str:
    """Where a shipped rule's page is read: docs/rules/<ID>.md at the action's own ref.

    Run as an action, GITHUB_ACTION_REPOSITORY and GITHUB_ACTION_REF name the copy of
    allocpolicy that produced the finding, so the page matches its rules; anywhere
    else, the project's repository at this version's tag.
    """
    from allocpolicy import __version__

    repo, ref = env.get("GITHUB_ACTION_REPOSITORY"), env.get("GITHUB_ACTION_REF")
    if repo and ref:
        server = (env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
        return f"{server}/{repo}/blob/{ref}/{PAGES.as_posix()}/{rule_id}.md"
    return f"{PROJECT}/blob/v{__version__}/{PAGES.as_posix()}/{rule_id}.md"


def sections(documentation: str) -> dict[str, str]:
    """The documentation's `## ` sections by heading (text before the first is under "")."""
    out: dict[str, list[str]] = {"": []}
    current, fenced = "", False
    for line in documentation.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and line.startswith("## "):
            current = line[3:].strip()
            out.setdefault(current, [])
            continue
        out[current].append(line)
    return {k: "\n".join(v).strip() for k, v in out.items() if "\n".join(v).strip()}


def _severity(rule: Rule) -> str:
    text = f"`{rule.severity.value}`"
    for o in rule.severity_overrides:
        text += f"; `{o.severity.value}` when `{json.dumps(o.when, sort_keys=True)}`"
    return text


def _fix_line(rule: Rule) -> str:
    if rule.fix is None:
        return "none"
    return f"`{rule.fix.action}` ({rule.fix.safety})"


def _fix_safety(rule: Rule) -> str:
    fix = rule.fix
    if fix is None:
        return "No automatic fix: `allocpolicy fix` leaves this finding to you."
    params = ", ".join(f"`{k}: {v}`" for k, v in sorted(fix.params.items()))
    action = f"`{fix.action}`" + (f" (with {params})" if params else "")
    only = f"`allocpolicy fix --rule {rule.id}` applies this rule's fixes alone"
    if fix.safety == "safe":
        return (
            f"The fix action is {action}, marked **safe**: `allocpolicy fix` applies it "
            f"({only}; `--diff` prints the change without writing). An action may still "
            "offer a particular fix as unsafe when it would change what a working service "
            "does, never the other way round."
        )
    return (
        f"The fix action is {action}, marked **unsafe**: `allocpolicy fix` applies it only "
        f"with `--unsafe-fixes` ({only}); review the change first (`--diff --unsafe-fixes` "
        "prints it without writing)."
    )


def rule_page(rule: Rule) -> str:
    """One rule's page, as docs/rules/<ID>.md holds it."""
    doc = sections(rule.documentation)
    why = "\n\n".join(t for t in (doc.get(WHY, ""), rule.rationale.strip()) if t)
    body = {**doc, WHY: why}
    lines = [
        f"# {rule.id}: {rule.name}",
        "",
        GENERATED,
        "",
        f"- Severity: {_severity(rule)}",
        f"- Subject: [`{rule.subject}`](../facts.md#{rule.subject})",
        f"- Fix: {_fix_line(rule)}",
        *_artifact_line(rule),
        "",
        rule.summary.strip(),
        "",
    ]
    if doc.get(""):
        lines += [doc[""], ""]
    for heading in ORDER:
        if body.get(heading):
            lines += [f"## {heading}", "", body[heading], ""]
    lines += ["## Fix safety", "", _fix_safety(rule), ""]
    for heading in doc:
        if heading and heading not in ORDER:
            lines += [f"## {heading}", "", doc[heading], ""]
    lines += [f"`allocpolicy explain {rule.id}` prints this documentation in the terminal."]
    return "\n".join(lines) + "\n"


def _artifact_line(rule: Rule) -> list[str]:
    if rule.artifact is None:
        return []
    kind = rule.artifact.subject
    return [
        f"- Built artifacts (`allocpolicy inspect`, [docs/inspect.md](../inspect.md)): "
        f"[`{kind}`](../facts.md#{kind})"
    ]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def readme_table(rules: list[Rule]) -> str:
    """The README's rule catalogue, between its markers (markers included)."""
    lines = [
        START,
        GENERATED,
        "",
        "| id | name | severity | summary | fix | page |",
        "|---|---|---|---|---|---|",
    ]
    for r in rules:
        page = f"[{r.id}.md]({PAGES.as_posix()}/{r.id}.md)"
        row = [r.id, r.name, r.severity.value, _cell(r.summary), _fix_line(r), page]
        lines.append("| " + " | ".join(row) + " |")
    lines.append(END)
    return "\n".join(lines)


def load(root: Path, schema: dict[str, Any] | None = None) -> list[Rule]:
    """The rules of root's policies/default.yaml, in file order."""
    text = (root / POLICY).read_text(encoding="utf-8")
    return parse_policy(str(POLICY), text, validate=True, schema=schema)


def expected(root: Path, schema: dict[str, Any] | None = None) -> dict[Path, str]:
    """Every generated file under root (relative path -> content)."""
    rules = load(root, schema)
    out = {PAGES / f"{r.id}.md": rule_page(r) for r in rules}
    readme = (root / README).read_text(encoding="utf-8")
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < start:
        raise PolicyError(str(README), 1, "", f"no {START} ... {END} markers")
    out[README] = readme[:start] + readme_table(rules) + readme[end + len(END) :]
    return out


def orphans(root: Path, files: dict[Path, str]) -> list[Path]:
    """Rule pages under root that no rule of `files` generates."""
    pages = root / PAGES
    found = sorted(pages.glob("*.md")) if pages.is_dir() else []
    return [p.relative_to(root) for p in found if p.relative_to(root) not in files]
