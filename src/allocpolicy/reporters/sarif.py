"""SARIF 2.1.0 for code-scanning uploads."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from allocpolicy import __version__
from allocpolicy.engine import InspectResult, ScanResult
from allocpolicy.model import Finding, Fix
from allocpolicy.policy.docs import page_url

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def as_dict(result: ScanResult) -> dict[str, Any]:
    base = {"SRCROOT": {"uri": result.root.resolve().as_uri() + "/"}}
    return _log(result.rules, result.findings, base, lambda f: (f.location.path, "SRCROOT"))


def as_dict_inspect(result: InspectResult, path: str) -> dict[str, Any]:
    """inspect's findings, located on the binary inside the artifact.

    An artifact on disk (an ELF file, a directory) inside the current directory gives
    uris relative to it (SRCROOT), as a code-scanning upload of the checkout expects;
    anything else (outside the cwd, a tarball) gives the path inside the artifact,
    against an ARTIFACT base that names it.
    """
    from allocpolicy.reporters.inspect import workspace_path, workspace_prefix

    prefix = workspace_prefix(result, path)
    base: dict[str, Any] = {"SRCROOT": {"uri": Path.cwd().resolve().as_uri() + "/"}}
    if prefix is None:
        base["ARTIFACT"] = {"description": {"text": f"inside the artifact {path}"}}

    def where(f: Finding) -> tuple[str, str]:
        if prefix is None:
            return f.location.path.lstrip("/"), "ARTIFACT"
        return workspace_path(prefix, f.location.path), "SRCROOT"

    return _log(result.rules, result.findings, base, where)


def _log(
    rules: dict[str, Any],
    findings: list[Finding],
    base: dict[str, Any],
    where: Callable[[Finding], tuple[str, str]],
) -> dict[str, Any]:
    rule_ids = sorted(rules)
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "allocpolicy",
                        "version": __version__,
                        "informationUri": "https://github.com/allocpolicy/allocpolicy",
                        "rules": [_rule(rules[i]) for i in rule_ids],
                    }
                },
                "originalUriBaseIds": base,
                "results": [
                    _result(f, rule_ids.index(f.rule) if f.rule in rule_ids else -1, *where(f))
                    for f in findings
                ],
            }
        ],
    }


def _rule(rule: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.rationale},
        "help": {
            "text": rule.documentation or rule.summary,
            "markdown": rule.documentation or rule.summary,
        },
        "defaultConfiguration": {"level": _LEVEL[rule.severity.value]},
    }
    if str(getattr(rule, "source", "")).startswith(
        "<builtin>"
    ):  # a user's rule has no page of ours
        out["helpUri"] = page_url(rule.id, os.environ)
    return out


def _result(f: Finding, index: int, uri: str, base_id: str) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": f.location.line, "startColumn": f.location.column}
    if f.location.end_line:
        region["endLine"] = f.location.end_line
    out: dict[str, Any] = {
        "ruleId": f.rule,
        "level": _LEVEL[f.severity.value],
        "message": {"text": f.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": uri, "uriBaseId": base_id},
                    "region": region,
                }
            }
        ],
        "partialFingerprints": {"allocpolicy/v1": f.fingerprint},
    }
    if index >= 0:
        out["ruleIndex"] = index
    if f.fix is not None:
        out["fixes"] = [_fix(f.fix)]
    return out


def _fix(fix: Fix) -> dict[str, Any]:
    by_path: dict[str, list[Any]] = {}
    for e in fix.edits:
        by_path.setdefault(e.path, []).append(
            {
                "deletedRegion": {
                    "startLine": e.start_line,
                    "startColumn": e.start_column,
                    "endLine": e.end_line,
                    "endColumn": e.end_column,
                },
                "insertedContent": {"text": e.replacement},
            }
        )
    return {
        "description": {"text": f"{fix.title} ({fix.safety.value})"},
        "artifactChanges": [
            {"artifactLocation": {"uri": p, "uriBaseId": "SRCROOT"}, "replacements": reps}
            for p, reps in by_path.items()
        ],
    }


def render(result: ScanResult) -> str:
    return json.dumps(as_dict(result), indent=2) + "\n"


def render_inspect(result: InspectResult, path: str) -> str:
    return json.dumps(as_dict_inspect(result, path), indent=2) + "\n"
