"""`inspect`'s output: the binaries found and the findings, as text or JSON.

The JSON contract (docs/inspect.md): {"version", "artifacts": [{"kind", "path",
"platform", "binaries": [...], "skipped": [...]}], "findings": [...], "summary": {...}}.
"""

from __future__ import annotations

import json
import posixpath

from allocpolicy import __version__
from allocpolicy.engine import InspectResult
from allocpolicy.facts.source import pairing_json
from allocpolicy.model import Severity
from allocpolicy.reporters.text import one_line

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

    from allocpolicy.facts.artifact import ArtifactReport
    from allocpolicy.facts.binaries import BinaryFacts
    from allocpolicy.facts.catalog import ArtifactSourceSubject


def workspace_prefix(result: InspectResult, path: str) -> str | None:
    """Where the artifact at `path` lies inside the current directory, for one on disk (an
    ELF file: its folder; a directory: itself), so a finding can be located on the file a
    checkout-relative consumer (an annotation, a code-scanning upload) knows; else None
    (outside the cwd, or an image whose binaries are inside a tarball)."""
    from pathlib import Path

    kind = result.artifacts[0].artifact.kind if result.artifacts else ""
    cwd, on_disk = Path.cwd().resolve(), Path(path).resolve()
    if kind not in ("elf", "directory") or not on_disk.is_relative_to(cwd):
        return None
    rel = on_disk.relative_to(cwd).as_posix()
    return posixpath.dirname(rel) if kind == "elf" else rel


def workspace_path(prefix: str, inner: str) -> str:
    """A binary's path inside the artifact, joined onto its workspace_prefix."""
    inner = inner.lstrip("/")
    return posixpath.join(prefix, inner) if prefix not in ("", ".") else inner


def as_dict(result: InspectResult) -> dict[str, Any]:
    out = {
        "version": __version__,
        "artifacts": [_artifact(a, result) for a in result.artifacts],
        "findings": [f.to_json() for f in result.findings],
        "summary": {
            "errors": result.count(Severity.ERROR),
            "warnings": result.count(Severity.WARNING),
            "infos": result.count(Severity.INFO),
            "binaries": result.binaries,
        },
    }
    if result.repository is not None:
        out["repository"] = _repository(result)
    return out


def _artifact(art: ArtifactReport, result: InspectResult) -> dict[str, Any]:
    """The artifact's JSON; with --repo each Rust binary has its `source` pairing."""
    data = art.to_json()
    if result.repository is None:
        return data
    pairings = {p.path: p for p in art.pairings}
    for b in data["binaries"]:
        p = pairings.get(b["path"])
        b["source"] = pairing_json(p) if p is not None else None
    return data


def _repository(result: InspectResult) -> dict[str, Any]:
    outcomes = [p.outcome for p in result.pairings]
    return {
        "path": result.repository,
        "binaries": len(outcomes),
        **{o: outcomes.count(o) for o in ("agree", "disagree", "unknown", "unmatched")},
    }


def render_json(result: InspectResult) -> str:
    return json.dumps(as_dict(result), indent=2) + "\n"


def render_text(result: InspectResult) -> str:
    out = []
    for art in result.artifacts:
        pairings = {p.path: p for p in art.pairings}
        platform = art.platform or "no single platform"
        out.append(f"{art.artifact.path} ({art.artifact.kind}, {platform})")
        for b in art.binaries:
            out.append(f"  {b.path}: {_describe(b)}")
            out += [f"      {line}" for line in b.evidence]
            if (p := pairings.get(b.path)) is not None:
                out.append(f"      source ({result.repository}): {_source(p)}")
        if not art.binaries:
            out.append("  no ELF binaries")
    out += [one_line(f) for f in result.findings]
    out.append(_summary(result))
    return "\n".join(out) + "\n"


def _source(p: ArtifactSourceSubject) -> str:
    if p.outcome == "unmatched":
        return f"unmatched: {p.source_evidence}"
    said = f"allocator {p.source_allocator}, libc {p.source_libc}"
    detail = f"; {p.disagreement}" if p.disagreement else ""
    return f"{p.outcome} ({said}{detail}) — {p.source_evidence}"


def _describe(b: BinaryFacts) -> str:
    rust = {True: "Rust", False: "not Rust", None: "Rust unknown"}[b.rust]
    parts = [b.elf_type, b.linkage, f"libc {b.libc}", rust]
    parts.append(f"allocator {b.allocator} ({b.allocator_confidence} confidence)")
    if b.preload_target:
        parts.append("an LD_PRELOAD target")
    return ", ".join(parts)


def _summary(result: InspectResult) -> str:
    n = result.binaries
    checked = f"{n} binar{'y' if n == 1 else 'ies'} inspected"
    if not result.findings:
        return f"No findings ({checked})."
    counts = [(s, result.count(s)) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)]
    parts = [f"{c} {s.value}{'s' if c != 1 else ''}" for s, c in counts if c]
    return f"Found {', '.join(parts)} ({checked})."
