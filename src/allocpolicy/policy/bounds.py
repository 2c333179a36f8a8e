"""What a policy file may hold, checked before anything is built from it.

A user policy is untrusted input: the repository's allocpolicy.toml names it, and a
pull request (which the GitHub Action scans) can change both. So each limit is
checked before the step it protects: aliases and nesting on the parser's events,
before a node is composed or constructed (a 9-level alias bomb expands to 9^9
conditions; 500 nested `not:` overflowed the composer, the schema check and the
evaluator); the number of rules and each condition's depth and size on the plain
data, before the JSON Schema walks it. The limits are far beyond any real policy:
the shipped one has 13 rules whose deepest condition has 3 levels.
"""

from __future__ import annotations

from allocpolicy.policy.conditions import walk
from allocpolicy.policy.errors import PolicyError, error_at, invalid_yaml

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

# The shipped policy, documentation and all, is 17 KB.
MAX_POLICY_BYTES = 256 * 1024
MAX_RULES = 1000
# Any condition can be written 3 deep (an `any` of `all`s of tests); 32 leaves room for
# every readable one, and keeps the evaluator and the schema check (~9 frames a level)
# a few hundred frames deep, well inside Python's limit of 1000 from any caller.
MAX_CONDITION_DEPTH = 32
# Conditions, plus the values of `in`/`not_in` lists, in one rule's `when` and overrides.
MAX_CONDITION_TERMS = 10_000
# YAML collections: a condition level is at most two (`all:` and its list), a rule's
# overrides sit 5 deep, and the innermost `in:` list is one more.
MAX_NESTING = 2 * MAX_CONDITION_DEPTH + 8


def check_yaml(path: str, text: str) -> None:
    """No anchors or aliases, no nesting past MAX_NESTING: read from the parser's events."""
    import yaml

    depth = 0
    try:
        for event in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            line = event.start_mark.line + 1 if event.start_mark else 1
            anchor = getattr(event, "anchor", None)
            if isinstance(event, yaml.AliasEvent):
                raise PolicyError(
                    path,
                    line,
                    "",
                    f"YAML alias *{anchor}: aliases are not supported in policy files",
                )
            if anchor is not None:
                raise PolicyError(
                    path,
                    line,
                    "",
                    f"YAML anchor &{anchor}: anchors and aliases are not supported in policy files",
                )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_NESTING:
                    raise PolicyError(
                        path,
                        line,
                        "",
                        f"nested more than {MAX_NESTING} levels deep "
                        f"(a condition may nest {MAX_CONDITION_DEPTH} levels)",
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:
        raise invalid_yaml(path, exc) from None


def check_rules(path: str, text: str, data: Any) -> None:
    """At most MAX_RULES rules; each rule's conditions within the depth and size limits.

    `data` has not been through the schema yet: whatever is not a list of rules with
    conditions is left for the schema to name.
    """
    rules = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(rules, list):
        return
    if len(rules) > MAX_RULES:
        raise error_at(
            path, text, ["rules", MAX_RULES], f"more than {MAX_RULES} rules in one policy file"
        )
    for i, rule in enumerate(rules):
        if isinstance(rule, dict):
            _check_conditions(path, text, ["rules", i], rule)


def _conditions(rule: dict[str, Any]) -> list[tuple[list[Any], Any]]:
    found: list[tuple[list[Any], Any]] = [(["when"], rule.get("when"))]
    overrides = rule.get("severity_overrides")
    for j, o in enumerate(overrides if isinstance(overrides, list) else []):
        if isinstance(o, dict):
            found.append((["severity_overrides", j, "when"], o.get("when")))
    return found


def _check_conditions(path: str, text: str, at: list[Any], rule: dict[str, Any]) -> None:
    terms = 0
    for where, cond in _conditions(rule):
        for sub, c in walk(cond):
            if 1 + sum(isinstance(step, str) for step in sub) > MAX_CONDITION_DEPTH:
                raise error_at(
                    path,
                    text,
                    at + where + list(sub),
                    f"condition nested more than {MAX_CONDITION_DEPTH} levels deep",
                )
            terms += 1 + sum(len(c[k]) for k in ("in", "not_in") if isinstance(c.get(k), list))
            if terms > MAX_CONDITION_TERMS:
                raise error_at(
                    path,
                    text,
                    at + where,
                    f"the rule's conditions hold more than {MAX_CONDITION_TERMS} terms "
                    "(tests, combinators and list values)",
                )
