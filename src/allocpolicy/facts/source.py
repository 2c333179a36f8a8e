"""An artifact's Rust binaries paired with what the repository's analysis says of them.

`inspect --repo DIR` reads the repository as `inventory DIR` does (data, never run) and
matches each Rust binary of the artifact by file name to the binaries the repository's
images ship. Both sides known and different is a disagreement (AP012); an unknown on
either side, or a binary read with low confidence, is no verdict at all.
"""

from __future__ import annotations

import posixpath

from allocpolicy.facts.catalog import ArtifactSourceSubject, BinarySubject, Subject
from allocpolicy.model import Location

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

    from allocpolicy.facts.binaries import BinaryFacts

# Outcomes in the order one of several matching images wins: a disagreement with any
# image that ships the name is worth reporting, an agreement beats an unknown.
_RANK = {"disagree": 0, "agree": 1, "unknown": 2}


def pair(
    binaries: list[BinaryFacts], subjects: dict[str, list[Subject]]
) -> list[ArtifactSourceSubject]:
    """One pairing per Rust binary of the artifact (`rust` true), matched or not."""
    shipped = [s for s in subjects.get("binary", []) if isinstance(s, BinarySubject)]
    out = []
    for b in binaries:
        if b.rust is not True:
            continue
        name = posixpath.basename(b.path)
        candidates = [_pairing(b, s, subjects) for s in shipped if s.binary == name]
        if candidates:
            out.append(min(candidates, key=lambda p: _RANK[p.outcome]))
        else:
            out.append(_unmatched(b, name))
    return out


def pairing_json(p: ArtifactSourceSubject) -> dict[str, Any]:
    """The `source` object of a binary in inspect's JSON (docs/inspect.md)."""
    return {
        "outcome": p.outcome,
        "allocator": p.source_allocator,
        "libc": p.source_libc,
        "disagreement": p.disagreement or None,
        "evidence": p.source_evidence or None,
    }


def _pairing(
    b: BinaryFacts, s: BinarySubject, subjects: dict[str, list[Subject]]
) -> ArtifactSourceSubject:
    # The allocator linked in, not the one in effect: LD_PRELOAD is not in the binary.
    src = s.linked_allocator
    known_binary = b.allocator != "unknown" and b.allocator_confidence in ("high", "medium")
    diffs = []
    if src != "unknown" and known_binary and src != b.allocator:
        diffs.append(f"allocator: the repository links {src}, the binary has {b.allocator}")
    # Only musl against glibc: a static glibc build ("none" read as glibc) stays silent.
    if s.libc in ("musl", "glibc") and b.libc in ("musl", "glibc") and s.libc != b.libc:
        diffs.append(f"libc: the repository builds for {s.libc}, the binary is {b.libc}")
    if diffs:
        outcome = "disagree"
    elif src == "unknown" or not known_binary:
        outcome = "unknown"
    else:
        outcome = "agree"
    return _subject(
        b, posixpath.basename(b.path), outcome, src, s.libc, diffs, _evidence(s, subjects)
    )


def _evidence(s: BinarySubject, subjects: dict[str, list[Subject]]) -> str:
    """file:line where the repository decides the allocator, then where it ships the binary."""
    out = []
    for g in subjects.get("global_allocator", []):
        if (
            getattr(g, "crate", None) == s.crate
            and getattr(g, "allocator", None) == s.linked_allocator
        ):
            loc = g.location
            out.append(f"#[global_allocator] {s.linked_allocator} at {loc.path}:{loc.line}")
            break
    out.append(
        f"{s.image}:{s.location.line} ships `{s.binary}` (target {s.target or 'unknown'}, "
        f"allocator {s.linked_allocator} from {s.allocator_source})"
    )
    return "; ".join(out)


def _unmatched(b: BinaryFacts, name: str) -> ArtifactSourceSubject:
    why = f"no image of the repository ships a binary named `{name}`"
    return _subject(b, name, "unmatched", "unknown", "unknown", [], why)


def _subject(
    b: BinaryFacts,
    name: str,
    outcome: str,
    src_alloc: str,
    src_libc: str,
    diffs: list[str],
    evidence: str,
) -> ArtifactSourceSubject:
    return ArtifactSourceSubject(
        path=b.path,
        binary=name,
        outcome=outcome,
        source_allocator=src_alloc,
        binary_allocator=b.allocator,
        allocator_confidence=b.allocator_confidence,
        source_libc=src_libc,
        binary_libc=b.libc,
        disagreement="; ".join(diffs),
        source_evidence=evidence,
        binary_evidence="; ".join(b.evidence) or "none",
        location=Location(b.path, 1),
    )
