"""Load policy files: YAML, checked against schema.json, with line-accurate errors."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from allocpolicy.config import confined
from allocpolicy.facts.catalog import SUBJECTS
from allocpolicy.model import Severity
from allocpolicy.parsing.text import ReadError, decode, read_bytes
from allocpolicy.policy.conditions import facts_used, pattern_error, walk
from allocpolicy.policy.errors import PolicyError as PolicyError  # re-exported
from allocpolicy.policy.errors import error_at, field_name, invalid_yaml, line_at, node
from allocpolicy.policy.rule import ArtifactVariant, FixSpec, Rule, SeverityOverride

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

DEFAULT_POLICY = "default.yaml"
PACKAGE_DIR = Path(__file__).resolve().parent.parent
# default.yaml compiled to a Python literal, which loads from bytecode: parsing YAML on
# every pre-commit run cost more than the rest of a one-service scan, and even JSON
# costs the json import. tests/policy keeps the two identical.
COMPILED_DEFAULT = Path(__file__).resolve().parent / "compiled_default.py"
SCHEMA = Path(__file__).resolve().parent / "schema.json"


def default_policy_text() -> tuple[str, str]:
    path = PACKAGE_DIR / "policies" / DEFAULT_POLICY
    return "<builtin>/policies/default.yaml", path.read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    import json

    schema: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return schema


def compile_default() -> str:
    """The shipped default.yaml as a Python module (see scripts/generate.py)."""
    return compile_policy(*default_policy_text())


def compile_policy(name: str, text: str, schema: dict[str, Any] | None = None) -> str:
    """A policy file's text as the Python module compiled_default.py holds."""
    import pprint

    import yaml

    parse_policy(name, text, validate=True, schema=schema)
    body = pprint.pformat(yaml.safe_load(text), indent=1, width=100, sort_dicts=True)
    return (
        '"""Generated from policies/default.yaml by `python scripts/generate.py`; do not edit."""\n\n'
        f"POLICY = {body}\n"
    )


def _builtin_rules() -> list[Rule]:
    name = "<builtin>/policies/default.yaml"
    try:
        from allocpolicy.policy.compiled_default import POLICY
    except ImportError:
        # The shipped policy is validated by the test suite; skipping the schema keeps start-up fast.
        return parse_policy(name, default_policy_text()[1], validate=False)
    policy: dict[str, Any] = POLICY
    return [_rule(name, r) for r in policy["rules"]]


def load_rules(extra: list[Path] | None = None, root: Path | None = None) -> dict[str, Rule]:
    """The shipped rules and those of `extra`; one named inside `root` must really be there."""
    rules = {r.id: r for r in _builtin_rules()}
    for path in extra or []:
        for rule in parse_policy(str(path), _read(path, root)):
            if rule.id in rules and rules[rule.id].source != rule.source:
                raise PolicyError(
                    str(path),
                    1,
                    "id",
                    f"rule id {rule.id} is already defined by {rules[rule.id].source}",
                )
            rules[rule.id] = rule
    return rules


def _read(path: Path, root: Path | None) -> str:
    # Bounded, regular files only, never blocking: a FIFO or /dev/zero by a policy's
    # name must not hang the scan or fill memory.
    from allocpolicy.policy import bounds

    try:
        inside = confined(path, root) if root is not None else None
        return decode(read_bytes(path, bounds.MAX_POLICY_BYTES, root=inside)).text
    except ReadError as exc:
        reason = exc.message.removesuffix("; skipped")
        raise PolicyError(str(path), exc.line, "", f"cannot read policy file: {reason}") from None


def parse_policy(
    path: str, text: str, validate: bool = True, schema: dict[str, Any] | None = None
) -> list[Rule]:
    """The rules of one policy file; `schema` replaces the shipped one (the generator's)."""
    import yaml

    from allocpolicy.policy import bounds  # here: the shipped policy loads without it

    bounds.check_yaml(path, text)  # before anything is built: aliases, nesting
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise invalid_yaml(path, exc) from None
    bounds.check_rules(path, text, data)  # before the schema walks it: rule count, conditions
    if validate:
        _validate(path, text, data, schema or _schema())
    rules = [_rule(path, r) for r in data["rules"]]
    _check_facts(path, text, rules)
    _check_patterns(path, text, rules)
    return rules


def _validate(path: str, text: str, data: Any, schema: dict[str, Any]) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: len(list(e.absolute_path)))
    if not errors:
        return
    err = jsonschema.exceptions.best_match(errors)
    where = list(err.absolute_path)
    raise PolicyError(
        path, line_at(node(text), where), field_name(where) or "(top level)", err.message
    )


def _rule(path: str, raw: dict[str, Any]) -> Rule:
    fix = raw.get("fix")
    variant = raw.get("artifact")
    return Rule(
        id=raw["id"],
        name=raw["name"],
        severity=Severity(raw["severity"]),
        subject=raw["subject"],
        summary=raw["summary"],
        rationale=raw.get("rationale", raw["summary"]),
        documentation=raw.get("documentation", ""),
        when=raw["when"],
        message=re.sub(r"\s+", " ", raw["message"]).strip(),
        severity_overrides=tuple(
            SeverityOverride(o["when"], Severity(o["severity"]))
            for o in raw.get("severity_overrides", [])
        ),
        fix=FixSpec(fix["action"], fix.get("safety", "safe"), fix.get("params", {}))
        if fix
        else None,
        artifact=ArtifactVariant(
            variant["subject"], variant["when"], re.sub(r"\s+", " ", variant["message"]).strip()
        )
        if variant
        else None,
        source=path,
    )


def _check_facts(path: str, text: str, rules: list[Rule]) -> None:
    for i, rule in enumerate(rules):
        conds = [rule.when] + [o.when for o in rule.severity_overrides]
        _check_names(path, text, rule, ["rules", i], rule.subject, conds, rule.message)
        if rule.artifact is not None:
            a = rule.artifact
            _check_names(path, text, rule, ["rules", i, "artifact"], a.subject, [a.when], a.message)


def _check_names(
    path: str,
    text: str,
    rule: Rule,
    where: list[Any],
    subject: str,
    conds: list[Any],
    message: str,
) -> None:
    """Every fact a condition or the message names is one `subject` has."""
    known = SUBJECTS[subject]
    for fact in sorted(set().union(*(facts_used(c) for c in conds))):
        if fact not in known:
            raise PolicyError(
                path,
                line_at(node(text), [*where, "when"]),
                field_name([*where, "when"]),
                f"rule {rule.id}: subject {subject!r} has no fact {fact!r} "
                f"(facts: {', '.join(sorted(known))})",
            )
    for name in re.findall(r"\{(\w+)\}", message):
        if name not in known:
            raise PolicyError(
                path,
                line_at(node(text), [*where, "message"]),
                field_name([*where, "message"]),
                f"rule {rule.id}: message names unknown fact {{{name}}}",
            )


def _check_patterns(path: str, text: str, rules: list[Rule]) -> None:
    """Every `matches` pattern compiles now, so a bad one names its rule, not a failed scan."""
    for i, rule in enumerate(rules):
        conds = [(["when"], rule.when)] + [
            (["severity_overrides", j, "when"], o.when)
            for j, o in enumerate(rule.severity_overrides)
        ]
        for where, cond in conds:
            for sub, c in walk(cond):
                reason = pattern_error(c["matches"]) if "matches" in c else None
                if reason is not None:
                    raise error_at(
                        path,
                        text,
                        ["rules", i, *where, *sub, "matches"],
                        f"rule {rule.id}: pattern {c['matches']!r} is not RE2 syntax: {reason} "
                        "(policy patterns are RE2: no backreferences or lookaround)",
                    )
