"""Regenerate every file derived from the rules, the fix actions and the subject records.

A rule is written once (policies/default.yaml), a fix action once (its `@action` in
allocpolicy/fixes/actions.py), a fact once (its `fact(...)` field in
allocpolicy/facts/catalog.py). Everything else that repeats them is generated here:

    src/allocpolicy/policy/compiled_default.py   the default policy as a Python literal (start-up)
    src/allocpolicy/policy/schema.json           its `fix.action` enum: the registered actions;
                                                 its `subject` enums: the subject kinds
    docs/facts.md                                the facts each subject offers conditions
    docs/rules/<ID>.md, README.md rule table     the rule pages, ruff-style

    python scripts/generate.py           # rewrite what is stale
    python scripts/generate.py --check   # exit 1 naming each stale file (tests/test_generated.py)

It lives outside the package because it needs every layer at once (the policy layer
cannot import the fix actions it documents).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from allocpolicy.facts.catalog import ARTIFACT_SUBJECT_TYPES, SUBJECT_TYPES, facts_markdown
from allocpolicy.fixes.actions import ACTIONS
from allocpolicy.policy import docs
from allocpolicy.policy.loader import PolicyError, compile_policy

ROOT = Path(__file__).resolve().parent.parent
COMPILED = Path("src/allocpolicy/policy/compiled_default.py")
SCHEMA = Path("src/allocpolicy/policy/schema.json")
FACTS = Path("docs/facts.md")


def _schema(root: Path) -> str:
    """schema.json with `fix.action` listing the registered actions and `subject` the
    subject kinds of the fact catalogue.

    Names already listed keep their place (a policy error lists them in this order);
    new ones are appended, removed ones dropped. Everything else in the file is kept.
    """
    text = (root / SCHEMA).read_text(encoding="utf-8")
    schema = json.loads(text)
    rule = schema["$defs"]["rule"]["properties"]
    fix = rule["fix"]
    action = next(o for o in fix["oneOf"] if o.get("type") == "object")["properties"]["action"]
    text = _enum(text, action, list(ACTIONS), "fix.action")
    text = _enum(text, rule["subject"], [t.KIND for t in SUBJECT_TYPES], "subject")
    artifact = rule["artifact"]["properties"]["subject"]
    return _enum(text, artifact, [t.KIND for t in ARTIFACT_SUBJECT_TYPES], "artifact.subject")


def _enum(text: str, prop: dict[str, list[str]], names: list[str], where: str) -> str:
    old = [a for a in prop["enum"] if a in names]
    new = old + [a for a in names if a not in old]
    before = json.dumps(prop["enum"])
    if before not in text:
        raise PolicyError(str(SCHEMA), 1, where, "enum is not written on one line")
    return text.replace(before, json.dumps(new), 1)


def expected(root: Path) -> dict[Path, str]:
    """Every generated file under root: relative path -> content."""
    policy = (root / docs.POLICY).read_text(encoding="utf-8")
    schema = _schema(root)  # first: the policy may name an action registered a moment ago
    out = {
        COMPILED: compile_policy(str(docs.POLICY), policy, json.loads(schema)),
        SCHEMA: schema,
        FACTS: facts_markdown(),
    }
    out.update(docs.expected(root, json.loads(schema)))
    return out


def stale(root: Path) -> list[Path]:
    """Generated files that are missing or differ, and rule pages that belong to no rule."""
    files = expected(root)
    out = [
        rel
        for rel, text in files.items()
        if not (root / rel).is_file() or (root / rel).read_text(encoding="utf-8") != text
    ]
    return out + docs.orphans(root, files)


def write(root: Path) -> list[Path]:
    """Rewrite the stale files (and delete the pages of rules that no longer exist)."""
    files = expected(root)
    changed = stale(root)
    for rel in changed:
        if rel in files:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(files[rel], encoding="utf-8")
        else:
            (root / rel).unlink()
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    args = parser.parse_args(argv)
    try:
        if args.check:
            bad = stale(args.root)
            for rel in bad:
                print(f"stale: {rel.as_posix()} (run: python scripts/generate.py)", file=sys.stderr)
            return 1 if bad else 0
        for rel in write(args.root):
            print(f"wrote {rel.as_posix()}")
    except (OSError, PolicyError, KeyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
