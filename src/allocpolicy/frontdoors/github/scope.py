"""Findings a pull request causes in files it does not change.

Dropping mimalloc from a crate's Cargo.toml and main.rs breaks the image its
untouched Dockerfile builds: that finding is the PR's. The scope is the
pre-commit hook's (changed files → their crates and workspace root → the
Containerfiles that build them), asked of the full scan's findings. Each caused
finding is paired with the changed files it is best shown on, best first.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from allocpolicy.model import Finding

from .diffmap import DiffMap


def causes(
    scan_root: Path,
    prefix: str,
    config: Any,
    diff: DiffMap,
    findings: list[Finding],
    inventory: list[dict[str, Any]],
) -> dict[int, list[str]]:
    """id(finding) -> the PR's changed files that cause it, for findings outside the diff.

    Paths in ``diff`` and ``findings`` are relative to the checkout; ``scan_root`` is
    the scanned directory, ``prefix`` its path in the checkout ("" at the top).
    """
    from allocpolicy.frontdoors.precommit import narrow, reach

    lead = f"{prefix}/" if prefix else ""
    changed = [p for p in [*diff.files, *diff.missing] if p.startswith(lead)]
    outside = [f for f in findings if f.location.path not in diff.files]
    if not changed or not outside:
        return {}
    scope = narrow(scan_root, config, [p[len(lead) :] for p in changed])
    caused = reach(scan_root, scope, inventory)
    shown_on = [p for p in changed if diff.changed(p)]  # a removed file takes no comment
    out: dict[int, list[str]] = {}
    for f in outside:
        rel = f.location.path[len(lead) :] if f.location.path.startswith(lead) else None
        if rel is not None and caused(_at(f, rel)):
            out[id(f)] = _ranked(f, shown_on)
    return out


def _at(f: Finding, rel: str) -> Finding:
    """The finding as the scan reported it, relative to the scanned directory."""
    from allocpolicy._record import replace

    return replace(f, location=replace(f.location, path=rel))


def _ranked(f: Finding, changed: list[str]) -> list[str]:
    """Where the author can act: files the fix edits, then the nearest (most directories in
    common with the finding's file), a manifest before other files."""
    edited = {e.path for e in f.fix.edits} if f.fix is not None else set()
    here = posixpath.dirname(f.location.path).split("/")

    def shared(p: str) -> int:
        n = 0
        for a, b in zip(here, posixpath.dirname(p).split("/"), strict=False):
            if a != b:
                break
            n += 1
        return n

    return sorted(
        changed,
        key=lambda p: (p not in edited, -shared(p), not p.endswith("Cargo.toml"), p),
    )
