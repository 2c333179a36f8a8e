"""The binaries of a built artifact, as facts and as the subjects `inspect`'s rules test."""

from __future__ import annotations

from allocpolicy._record import field, record
from allocpolicy.facts.binaries import BinaryFacts, describe, is_binary
from allocpolicy.facts.catalog import (
    PROFILE_ALLOCATORS,
    ArtifactBinarySubject,
    ParseErrorSubject,
    SkippedFileSubject,
    Subject,
)
from allocpolicy.model import Location
from allocpolicy.parsing.elf import ElfError, is_io_error, read_elf

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

    from allocpolicy.config import Config
    from allocpolicy.parsing.artifact import Artifact, Member


@record
class ArtifactReport:
    """One artifact: its binaries' facts and the subjects (binaries, errors, skips)."""

    artifact: Artifact
    binaries: list[BinaryFacts] = field(default_factory=list)
    subjects: dict[str, list[Subject]] = field(default_factory=dict)

    @property
    def platform(self) -> str | None:
        """linux/<machine> when every binary agrees, else null (no binary, or a mix)."""
        machines = {b.machine for b in self.binaries}
        return f"linux/{machines.pop()}" if len(machines) == 1 else None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.artifact.kind,
            "path": self.artifact.path,
            "platform": self.platform,
            "binaries": [b.to_json() for b in self.binaries],
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.artifact.skipped],
        }


def gather_artifact(artifact: Artifact, config: Config) -> ArtifactReport:
    """Read every member's ELF facts; a malformed one is a parse error, not a crash."""
    report = ArtifactReport(artifact)
    for member in artifact.members:
        try:
            facts = _facts(artifact, member)
        except ElfError as exc:
            _add(report, ParseErrorSubject(member.path, str(exc), Location(member.path, 1)))
            continue
        except OSError as exc:
            reason = f"could not be read: {exc.strerror or exc}; skipped"
            _add(report, SkippedFileSubject(member.path, reason, Location(member.path, 1)))
            continue
        if facts is not None:
            report.binaries.append(facts)
            _add(report, _subject(artifact, facts, config))
    for skipped in artifact.skipped:
        _add(report, SkippedFileSubject(skipped.path, skipped.reason, Location(skipped.path, 1)))
    return report


def _facts(artifact: Artifact, member: Member) -> BinaryFacts | None:
    with artifact.open(member) as stream:
        elf = read_elf(stream, member.size)
        if not is_binary(elf):
            return None
        try:
            return describe(member.path, elf)
        except Exception as exc:  # a table that points past the file, a bad offset
            if is_io_error(exc):
                raise
            raise ElfError(f"not a valid ELF file: {type(exc).__name__}: {exc}") from None


def _subject(artifact: Artifact, b: BinaryFacts, config: Config) -> ArtifactBinarySubject:
    profile = config.default_profile
    recommended = PROFILE_ALLOCATORS.get(profile, ("mimalloc",))
    return ArtifactBinarySubject(
        artifact=artifact.path,
        artifact_kind=artifact.kind,
        path=b.path,
        elf_type=b.elf_type,
        machine=b.machine,
        linkage=b.linkage,
        libc=b.libc,
        interpreter=b.interpreter,
        needed=b.needed,
        rust=b.rust,
        allocator=b.allocator,
        allocator_confidence=b.allocator_confidence,
        stripped=b.stripped,
        preload_target=b.preload_target,
        evidence=b.evidence,
        evidence_text="; ".join(b.evidence) or "none",
        profile=profile,
        recommended_text=" or ".join(recommended),
        location=Location(b.path, 1),
    )


def _add(report: ArtifactReport, subject: Subject) -> None:
    report.subjects.setdefault(subject.KIND, []).append(subject)
