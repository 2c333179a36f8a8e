"""The findings file the two-workflow (fork-safe) setup passes between workflows.

Workflow A (``pull_request``, read-only token) writes it; workflow B
(``workflow_run``, write token) reads it. For B it is untrusted input from a
fork: every field is type-checked and size-capped, paths must be plain relative
paths, fingerprints are recomputed rather than read, and nothing in it is ever
executed. Paths and lines are re-validated later against the PR's files as
GitHub lists them.

The file carries no prose that B renders: rule names, rationales, messages and
fix titles come from B's own rule catalogue by rule id (:func:`with_catalogue`),
so a fork cannot put words under the bot's name. Only ids, severities, paths,
lines, columns, edits and the (never shown) snippets cross over.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

from allocpolicy.model import Edit, Finding, Fix, Location, Safety, Severity

from .plan import RuleInfo

VERSION = 1
MAX_FINDINGS = 5000
MAX_TEXT = 20_000
MAX_FILE_BYTES = 20 * 1024 * 1024
_RULE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,63}$")
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


class ArtifactError(ValueError):
    pass


def dump(
    path: Path,
    findings: list[Finding],
    inventory: list[dict[str, Any]],
    pr_number: int | None,
    head_sha: str | None,
    source: dict[str, dict[int, str]] | None = None,
) -> None:
    data = {
        "version": VERSION,
        "tool": "allocpolicy",
        "pull_request": {"number": pr_number, "head_sha": head_sha},
        "findings": [_finding_json(f) for f in findings],
        "inventory": inventory,
        "source": {p: {str(n): t for n, t in lines.items()} for p, lines in (source or {}).items()},
    }
    path.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")


def _finding_json(f: Finding) -> dict[str, Any]:
    """A finding without its prose: the reader renders that from its own catalogue.

    The snippet (the source line) is kept: it is never shown, only part of the
    fingerprint that tells one run's comment from another's."""
    loc = f.location
    out: dict[str, Any] = {
        "rule": f.rule,
        "severity": f.severity.value,
        "path": loc.path,
        "line": loc.line,
        "column": loc.column,
        "end_line": loc.end_line,
        "end_column": loc.end_column,
        "snippet": f.snippet,
    }
    out = {k: v for k, v in out.items() if v is not None}
    if f.fix is not None:
        out["fix"] = {
            "safety": f.fix.safety.value,
            "edits": [
                {
                    "path": e.path,
                    "start_line": e.start_line,
                    "start_column": e.start_column,
                    "end_line": e.end_line,
                    "end_column": e.end_column,
                    "replacement": e.replacement,
                }
                for e in f.fix.edits
            ],
        }
    return out


def with_catalogue(
    findings: list[Finding], catalogue: dict[str, RuleInfo]
) -> tuple[list[Finding], list[str]]:
    """The findings with every word taken from the reader's own rules, and the ids it lacks.

    A finding whose rule the catalogue does not know is dropped: there is no trusted
    text to show for it.
    """
    from allocpolicy._record import replace

    kept: list[Finding] = []
    unknown: list[str] = []
    for f in findings:
        rule = catalogue.get(f.rule)
        if rule is None:
            if f.rule not in unknown:
                unknown.append(f.rule)
            continue
        fix = replace(f.fix, title=f"{rule.name} fix") if f.fix is not None else None
        kept.append(replace(f, name=rule.name, message=rule.summary, fix=fix))
    return kept, unknown


def _str(v: Any, what: str, limit: int = MAX_TEXT, allow_empty: bool = True) -> str:
    if not isinstance(v, str) or len(v) > limit or (not allow_empty and not v) or "\0" in v:
        raise ArtifactError(f"{what}: expected a string of at most {limit} characters")
    return v


def _int(v: Any, what: str, lo: int = 1, hi: int = 10_000_000) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ArtifactError(f"{what}: expected an integer in {lo}..{hi}")
    return v


def safe_path(v: Any, what: str) -> str:
    p = _str(v, what, 1024, allow_empty=False)
    pp = PurePosixPath(p)
    if (
        p.startswith("/")
        or "\\" in p
        or any(part in ("..", ".", "") for part in p.split("/"))
        or pp.is_absolute()
    ):
        raise ArtifactError(f"{what}: {p!r} is not a plain relative path")
    if any(ord(ch) < 32 for ch in p):
        raise ArtifactError(f"{what}: control character in path")
    return p


def load(path: Path) -> dict[str, Any]:
    """Read and validate a findings file. Returns findings, inventory, PR info, source.

    Prose in the file (rule texts, messages, fix titles) is never read.
    """
    data = _read_document(path)
    raw = data.get("findings")
    if not isinstance(raw, list) or len(raw) > MAX_FINDINGS:
        raise ArtifactError(f"findings: expected a list of at most {MAX_FINDINGS}")
    findings = [_finding(i, f) for i, f in enumerate(raw)]
    number, head = _pull_request(data.get("pull_request") or {})
    inventory = _inventory(data.get("inventory") or [])
    source = _source(data.get("source") or {})
    return {
        "findings": findings,
        "inventory": inventory,
        "number": number,
        "head_sha": head,
        "source": source,
    }


def _read_document(path: Path) -> dict[str, Any]:
    """The file as JSON, if it is small enough and says it is an allocpolicy findings file."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ArtifactError("findings file too large")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ArtifactError(f"not JSON: {exc}") from exc
    if (
        not isinstance(data, dict)
        or data.get("version") != VERSION
        or data.get("tool") != "allocpolicy"
    ):
        raise ArtifactError("not an allocpolicy findings file (version 1)")
    return data


def _pull_request(pr: Any) -> tuple[Any, Any]:
    """The PR number and head SHA the file claims (checked against GitHub before posting)."""
    number = pr.get("number")
    head = pr.get("head_sha")
    if number is not None:
        _int(number, "pull_request.number", 1, 10**9)
    if head is not None and not (isinstance(head, str) and _SHA.match(head)):
        raise ArtifactError("pull_request.head_sha: not a commit SHA")
    return number, head


def _inventory(inventory: Any) -> list[dict[str, str | None]]:
    """Inventory rows for the job summary, as bounded strings."""
    if not isinstance(inventory, list):
        raise ArtifactError("inventory: expected a list")
    return [
        {str(k)[:50]: (str(v)[:500] if v is not None else None) for k, v in row.items()}
        for row in inventory[:1000]
        if isinstance(row, dict)
    ]


def _source(raw_src: Any) -> dict[str, dict[int, str]]:
    """Line text around the fixes (diff blocks need it: this workflow has no checkout)."""
    source: dict[str, dict[int, str]] = {}
    if not isinstance(raw_src, dict):
        return source
    for p, lines in list(raw_src.items())[:2000]:
        if not isinstance(lines, dict):
            continue
        sp = safe_path(p, "source path")
        source[sp] = {
            _int(int(n), "source line"): _str(t, "source text", 5000)
            for n, t in list(lines.items())[:200]
            if str(n).isdigit()
        }
    return source


def _finding(i: int, f: Any) -> Finding:
    w = f"findings[{i}]"
    if not isinstance(f, dict):
        raise ArtifactError(f"{w}: expected an object")
    rule = _str(f.get("rule"), f"{w}.rule", 64, allow_empty=False)
    if not _RULE_ID.match(rule):
        raise ArtifactError(f"{w}.rule: bad rule id")
    try:
        sev = Severity(f.get("severity"))
    except ValueError as exc:
        raise ArtifactError(f"{w}.severity: bad value") from exc
    path = safe_path(f.get("path"), f"{w}.path")
    line = _int(f.get("line"), f"{w}.line")
    end_line = _int(f.get("end_line", line), f"{w}.end_line")
    col = _int(f.get("column", 1), f"{w}.column")
    end_col = f.get("end_column")
    loc = Location(
        path,
        line,
        col,
        max(end_line, line),
        _int(end_col, f"{w}.end_column") if end_col is not None else None,
    )
    fix = _fix(w, f["fix"]) if f.get("fix") is not None else None
    return Finding(
        rule=rule,
        name=rule,  # the words come from the reader's catalogue (with_catalogue)
        severity=sev,
        location=loc,
        message="",
        fix=fix,
        snippet=_str(f.get("snippet", ""), f"{w}.snippet", 5000),  # never shown: fingerprint only
    )


def _fix(w: str, fx: Any) -> Fix:
    """A finding's fix: at most 100 edits, each to a safe path."""
    if not isinstance(fx, dict) or not isinstance(fx.get("edits"), list) or len(fx["edits"]) > 100:
        raise ArtifactError(f"{w}.fix: bad fix")
    edits = []
    for j, e in enumerate(fx["edits"]):
        if not isinstance(e, dict):
            raise ArtifactError(f"{w}.fix.edits[{j}]: bad edit")
        edits.append(
            Edit(
                safe_path(e.get("path"), f"{w}.fix.edits[{j}].path"),
                _int(e.get("start_line"), "start_line"),
                _int(e.get("start_column"), "start_column"),
                _int(e.get("end_line"), "end_line"),
                _int(e.get("end_column"), "end_column"),
                _str(e.get("replacement"), "replacement"),
            )
        )
    try:
        safety = Safety(fx.get("safety", "safe"))
    except ValueError as exc:
        raise ArtifactError(f"{w}.fix.safety: bad value") from exc
    return Fix("", safety, tuple(edits))
