"""`allocpolicy rules` and `allocpolicy explain`: the rule catalogue, one rule's documentation."""

from __future__ import annotations

from pathlib import Path

from allocpolicy.commands import EXIT_OK, UsageError
from allocpolicy.config import load_config
from allocpolicy.policy.loader import load_rules

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    import argparse

    from allocpolicy.policy.rule import Rule


def _rules(args: argparse.Namespace) -> dict[str, Rule]:
    root = Path(args.path)
    return load_rules(load_config(root, args.config).policies, root)


def run_rules(args: argparse.Namespace) -> int:
    for rule in _rules(args).values():
        print(f"{rule.id}  {rule.name:<32} {rule.severity.value:<8} {rule.summary}")
    return EXIT_OK


def run_explain(args: argparse.Namespace) -> int:
    rules = _rules(args)
    key = args.rule.upper()
    rule = rules.get(key) or next((r for r in rules.values() if r.name == args.rule), None)
    if rule is None:
        raise UsageError(f"unknown rule {args.rule!r}; `allocpolicy rules` lists them")
    fix = f"{rule.fix.action} ({rule.fix.safety})" if rule.fix else "none"
    print(f"# {rule.id} {rule.name} ({rule.severity.value})\n\n{rule.summary}\n")
    print(f"Rationale: {rule.rationale}\n")
    print(rule.documentation.rstrip() + "\n")
    print(f"Fix action: {fix}")
    return EXIT_OK
