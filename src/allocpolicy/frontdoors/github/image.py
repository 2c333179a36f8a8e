"""The Action's `image:` input: `inspect --repo` on the artifact an earlier step wrote.

Its findings are reported like the scan's (annotations, the job summary under their own
heading) and count toward fail-on and the outputs. They are never review comments: a
binary is not a line of the pull request's diff.
"""

from __future__ import annotations

from pathlib import Path

from allocpolicy._record import field, record, replace
from allocpolicy.frontdoors.github.mdsafe import code, message, text
from allocpolicy.model import Finding

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any


@record
class ImageReport:
    image: str
    findings: list[Finding] = field(default_factory=list)
    binaries: int = 0
    pairings: list[Any] = field(default_factory=list)
    error: str | None = None  # the artifact could not be read: the run fails with this


def inspect_image(image: str, repo: Path, config: Path | None) -> ImageReport:
    """Inspect `image` against the checkout `repo`; a bad artifact is an error, not a crash."""
    from allocpolicy.engine import inspect
    from allocpolicy.parsing.artifact import ArtifactError
    from allocpolicy.reporters.inspect import workspace_prefix

    try:
        result = inspect(image, config, repo)
    except (ArtifactError, OSError) as exc:
        return ImageReport(image, error=f"cannot inspect image {image}: {exc}")
    findings = _located(result.findings, workspace_prefix(result, image))
    return ImageReport(image, findings, result.binaries, list(result.pairings))


def _located(findings: list[Finding], prefix: str | None) -> list[Finding]:
    """Paths relative to the workspace for an artifact on disk inside it, so an annotation
    lands on the file; else the path inside the artifact (GitHub shows it unattached)."""
    from allocpolicy.reporters.inspect import workspace_path

    if prefix is None:
        return findings
    return [
        replace(f, location=replace(f.location, path=workspace_path(prefix, f.location.path)))
        for f in findings
    ]


def summary_section(report: ImageReport) -> str:
    """The job summary's part for the image: its findings and each binary's pairing."""
    out = ["", f"### Built image {code(report.image)}", ""]
    if report.error is not None:
        out.append(f"**Not inspected:** {text(report.error)}")
        return "\n".join(out) + "\n"
    n = report.binaries
    out.append(f"{n} binar{'y' if n == 1 else 'ies'} inspected.")
    if report.pairings:
        out += ["", "| binary | repository | outcome |", "|---|---|---|"]
        for p in report.pairings:
            said = f"{p.source_allocator}, {p.source_libc}"
            out.append(f"| {code(p.path, table=True)} | {text(said)} | {text(p.outcome)} |")
    if report.findings:
        out += ["", "| severity | rule | binary | message |", "|---|---|---|---|"]
        for f in report.findings:
            out.append(
                f"| {f.severity.value} | {f.rule} | {code(f.location.path, table=True)} "
                f"| {message(f.message, table=True)} |"
            )
    else:
        out += ["", "No findings in the image."]
    return "\n".join(out) + "\n"
