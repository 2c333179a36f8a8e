"""`inspect`'s output: the binaries found and the findings, as text or JSON.

The JSON contract (docs/inspect.md): {"version", "artifacts": [{"kind", "path",
"platform", "binaries": [...], "skipped": [...]}], "findings": [...], "summary": {...}}.
"""

from __future__ import annotations

import json

from allocpolicy import __version__
from allocpolicy.engine import InspectResult
from allocpolicy.model import Severity
from allocpolicy.reporters.text import one_line

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

    from allocpolicy.facts.binaries import BinaryFacts


def as_dict(result: InspectResult) -> dict[str, Any]:
    return {
        "version": __version__,
        "artifacts": [a.to_json() for a in result.artifacts],
        "findings": [f.to_json() for f in result.findings],
        "summary": {
            "errors": result.count(Severity.ERROR),
            "warnings": result.count(Severity.WARNING),
            "infos": result.count(Severity.INFO),
            "binaries": result.binaries,
        },
    }


def render_json(result: InspectResult) -> str:
    return json.dumps(as_dict(result), indent=2) + "\n"


def render_text(result: InspectResult) -> str:
    out = []
    for art in result.artifacts:
        platform = art.platform or "no single platform"
        out.append(f"{art.artifact.path} ({art.artifact.kind}, {platform})")
        for b in art.binaries:
            out.append(f"  {b.path}: {_describe(b)}")
            out += [f"      {line}" for line in b.evidence]
        if not art.binaries:
            out.append("  no ELF binaries")
    out += [one_line(f) for f in result.findings]
    out.append(_summary(result))
    return "\n".join(out) + "\n"


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
