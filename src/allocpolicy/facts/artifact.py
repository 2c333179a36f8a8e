"""The binaries of a built artifact, as facts and as the subjects `inspect`'s rules test."""

from __future__ import annotations

from allocpolicy._record import field, record
from allocpolicy.facts.binaries import BinaryFacts, describe, is_binary
from allocpolicy.facts.catalog import (
    PROFILE_ALLOCATORS,
    ArtifactBinarySubject,
    ArtifactSourceSubject,
    ParseErrorSubject,
    SkippedFileSubject,
    Subject,
)
from allocpolicy.model import Location
from allocpolicy.parsing.elf import ElfError, is_io_error, read_elf
from allocpolicy.parsing.image import preload_paths

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

    from allocpolicy.config import Config
    from allocpolicy.parsing.artifact import Artifact, Member
    from allocpolicy.parsing.image import Image


@record
class ArtifactReport:
    """One artifact: its binaries' facts and the subjects (binaries, errors, skips)."""

    artifact: Artifact
    binaries: list[BinaryFacts] = field(default_factory=list)
    subjects: dict[str, list[Subject]] = field(default_factory=dict)
    preloads: dict[str, dict[str, Any]] = field(default_factory=dict)  # binary path ->
    # inspect --repo: its Rust binaries paired with the repository's (facts/source.py)
    pairings: list[ArtifactSourceSubject] = field(default_factory=list)

    @property
    def platform(self) -> str | None:
        """An image's os/arch, else linux/<machine> when every binary agrees, else null."""
        if self.artifact.platform:
            return self.artifact.platform
        machines = {b.machine for b in self.binaries}
        return f"linux/{machines.pop()}" if len(machines) == 1 else None

    def to_json(self) -> dict[str, Any]:
        out = {
            "kind": self.artifact.kind,
            "path": self.artifact.path,
            "platform": self.platform,
            "binaries": [self._binary_json(b) for b in self.binaries],
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.artifact.skipped],
        }
        if self.artifact.image is not None:
            out["config"] = self.artifact.image.config
            out["entrypoint"] = self.artifact.image.entrypoint
        return out

    def _binary_json(self, b: BinaryFacts) -> dict[str, Any]:
        out = b.to_json()
        if self.artifact.image is not None:
            out["preload"] = self.preloads.get(b.path)
        return out


def gather_artifact(artifact: Artifact, config: Config) -> ArtifactReport:
    """Read every member's ELF facts; a malformed one is a parse error, not a crash."""
    report = ArtifactReport(artifact)
    pre = artifact.prefix
    for name, message in artifact.errors:
        _add(report, ParseErrorSubject(pre + name, message, Location(pre + name, 1)))
    try:
        _members(report, artifact, config)
    finally:
        if artifact.opener is not None:
            artifact.opener.close()
    return report


def _members(report: ArtifactReport, artifact: Artifact, config: Config) -> None:
    pre = artifact.prefix
    for member in artifact.members:
        try:
            facts = _facts(artifact, member)
        except ElfError as exc:
            where = pre + member.path
            _add(report, ParseErrorSubject(where, str(exc), Location(where, 1)))
            continue
        except OSError as exc:
            reason = f"could not be read: {exc.strerror or exc}; skipped"
            where = pre + member.path
            _add(report, SkippedFileSubject(where, reason, Location(where, 1)))
            continue
        if facts is not None:
            report.binaries.append(facts)
    if artifact.image is not None:
        _preloads(report, artifact.image)
    for facts in report.binaries:
        _add(report, _subject(report, facts, config))
    for skipped in artifact.skipped:
        where = pre + skipped.path
        _add(report, SkippedFileSubject(where, skipped.reason, Location(where, 1)))


def _preloads(report: ArtifactReport, image: Image) -> None:
    """The entrypoint binary's LD_PRELOAD (Image.preload), each library looked up in the
    layered filesystem."""
    if image.entrypoint is None or image.preload is None:
        return
    value, source = image.preload
    by_path = {b.path: b for b in report.binaries}
    libraries = []
    for lib in preload_paths(value):
        found = image.fs.lookup(lib)
        exists = found is not None and found[1].kind == "file"
        facts = by_path.get(found[0]) if found is not None else None
        libraries.append(
            {
                "path": lib,
                "exists": exists,
                "allocator": facts.allocator if facts else None,
                "preload_target": facts.preload_target if facts else False,
            }
        )
    report.preloads[image.entrypoint] = {"value": value, "source": source, "libraries": libraries}


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


def _subject(report: ArtifactReport, b: BinaryFacts, config: Config) -> ArtifactBinarySubject:
    artifact = report.artifact
    pre = report.preloads.get(b.path)
    libs = pre["libraries"] if pre else []
    missing = [x["path"] for x in libs if not x["exists"]]
    not_alloc = [x["path"] for x in libs if x["exists"] and not x["preload_target"]]
    image = artifact.image
    profile = config.default_profile
    recommended = PROFILE_ALLOCATORS.get(profile, ("mimalloc",))
    return ArtifactBinarySubject(
        artifact=artifact.path,
        artifact_kind=artifact.kind,
        platform=report.platform if image is not None else None,
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
        entrypoint=image is not None and image.entrypoint == b.path,
        preload=pre["value"] if pre else None,
        preload_source=pre["source"] if pre else None,
        preload_missing=missing,
        preload_missing_text=", ".join(missing) or "none",
        preload_not_allocator=not_alloc,
        preload_not_allocator_text=", ".join(not_alloc) or "none",
        location=Location(artifact.prefix + b.path, 1),
    )


def _add(report: ArtifactReport, subject: Subject) -> None:
    report.subjects.setdefault(subject.KIND, []).append(subject)
