"""From a directory to subjects, inventory rows and suppressions."""

from __future__ import annotations

from pathlib import Path

from allocpolicy.config import Config
from allocpolicy.discovery import FileSet
from allocpolicy.facts.catalog import (
    BinarySubject,
    ParseErrorSubject,
    SkippedFileSubject,
    Subject,
    UnknownImageSubject,
)
from allocpolicy.facts.containers import Containerfile
from allocpolicy.facts.repo import ParseProblem, Repo, load_repo
from allocpolicy.facts.subjects import (
    binary_subjects,
    crate_subjects,
    dependency_subjects,
    preload_subjects,
    shipped_binaries,
    static_subjects,
)
from allocpolicy.facts.targets import image_targets
from allocpolicy.model import Location
from allocpolicy.parsing.suppressions import Suppression, Suppressions, scan_lines

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any


def gather(
    root: Path, config: Config, files: FileSet | None = None
) -> tuple[Repo, dict[str, list[Subject]], list[dict[str, Any]], Suppressions]:
    repo = load_repo(root, config, files)
    subjects: dict[str, list[Subject]] = {
        k: []
        for k in (
            "binary",
            "ld_preload",
            "dependency",
            "global_allocator",
            "crate",
            "parse_error",
            "unknown_image",
        )
    }  # kind -> subjects of that kind
    inventory: list[dict[str, Any]] = []
    image_triples: dict[str, set[str]] = {}
    for cf in repo.containerfiles:
        for view in image_targets(cf):
            _image(repo, view, view is cf, subjects, inventory, image_triples)
    subjects["dependency"] = list(dependency_subjects(repo))
    # problems found while analysing images are parse errors too
    subjects["global_allocator"] = list(static_subjects(repo, image_triples))
    subjects["crate"] = list(crate_subjects(repo))
    subjects["parse_error"] = [
        ParseErrorSubject(
            file=p.path, message=p.message, location=Location(p.path, p.line, p.column)
        )
        for p in repo.problems
        if not p.skipped
    ]
    subjects["skipped_file"] = [
        SkippedFileSubject(file=p.path, reason=p.message, location=Location(p.path, p.line))
        for p in repo.problems
        if p.skipped
    ]
    return repo, subjects, inventory, _suppressions(repo)


def _image(
    repo: Repo,
    cf: Containerfile,
    default: bool,
    subjects: dict[str, list[Subject]],
    inventory: list[dict[str, Any]],
    image_triples: dict[str, set[str]],
) -> None:
    """One image's subjects and rows; `default` is the file's last stage, which always
    gets a row, while another `--target` stage counts only when it ships a binary."""
    try:
        bins = shipped_binaries(repo, cf)
        bsubs = binary_subjects(repo, cf, bins)
    except Exception as exc:  # one odd Containerfile must not end the scan of the rest
        repo.problems.append(
            ParseProblem(
                cf.path,
                1,
                f"internal error analysing this file: {type(exc).__name__}: {exc}",
                skipped=True,  # our defect, not the user's: its facts are unknown
            )
        )
        return
    if not bins and not default:
        return
    subjects["binary"] += bsubs
    subjects["ld_preload"] += preload_subjects(repo, cf, bsubs)
    for sb, subj in zip(bins, bsubs, strict=False):
        if sb.crate and sb.triple:
            image_triples.setdefault(sb.crate.name, set()).add(sb.triple)
        inventory.append(_row(subj, sb.reasons))
    final = cf.final
    if final is not None and bins and final.image.libc == "unknown":
        subjects["unknown_image"].append(
            UnknownImageSubject(
                image=cf.path,
                base=final.image.ref,
                location=Location(cf.path, final.stage.from_line),
            )
        )
    if final is not None and not bins:
        inventory.append(_empty_row(cf))


def _row(subj: BinarySubject, reasons: list[str]) -> dict[str, Any]:
    return {
        "file": subj.image,
        "stage": subj.stage,
        "base": subj.base,
        "libc": subj.runtime_libc,
        "binary": subj.binary,
        "crate": subj.crate,
        "target": subj.target,
        "binary_libc": subj.libc,
        "linkage": subj.linkage,
        "allocator": subj.allocator,
        "ld_preload": subj.ld_preload_allocator,
        "reasons": reasons,
    }


def _empty_row(cf: Any) -> dict[str, Any]:
    final = cf.final
    return {
        "file": cf.path,
        "stage": final.stage.name or str(final.stage.index),
        "base": final.image.ref,
        "libc": final.image.libc,
        "binary": None,
        "crate": None,
        "target": None,
        "binary_libc": None,
        "linkage": None,
        "allocator": None,
        "ld_preload": None,
        "reasons": [f"no Rust binary found in the final stage; base: {final.image.reason}"],
    }


def _suppressions(repo: Repo) -> Suppressions:
    by_file: dict[str, list[Suppression]] = {}
    lines: dict[str, list[str]] = {}
    for path, text in repo.texts.items():
        if "allocpolicy:" in text.text:
            lines[path] = text.lines
            by_file[path] = scan_lines(path, lines[path])
    for path, items in repo.rust_suppressions.items():
        by_file[path] = [Suppression(path, line, kind, ids) for line, kind, ids in items]
        source = repo.text(path)  # through the bounded reader, like every other read
        lines[path] = source.lines if source is not None else []
    return Suppressions(by_file, lines)
