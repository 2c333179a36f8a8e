"""One engine for every front door: discover, parse, gather facts, evaluate rules."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import field, record
from allocpolicy.config import Config, load_config
from allocpolicy.discovery import FileSet
from allocpolicy.facts.catalog import ArtifactSourceSubject, Subject, SuppressionSubject
from allocpolicy.model import Finding, Location, Severity
from allocpolicy.policy.conditions import evaluate
from allocpolicy.policy.loader import load_rules
from allocpolicy.policy.rule import FixSpec, Rule

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

    from allocpolicy.facts.artifact import ArtifactReport
    from allocpolicy.facts.repo import Repo
    from allocpolicy.parsing.suppressions import Suppressions


@record
class PendingFix:
    """A finding whose rule names a fix action; the fixes layer offers and computes it."""

    finding: Finding
    spec: FixSpec
    subject: Subject
    repo: Repo


@record
class ScanResult:
    root: Path
    findings: list[Finding]
    rules: dict[str, Rule]
    inventory: list[dict[str, Any]] = field(default_factory=list)  # one row per image and binary
    files_scanned: int = 0
    config: Config = field(default_factory=Config)
    # Fixes not yet computed (tomlkit, tree-sitter): only outputs that show edits pay for them.
    pending: list[PendingFix] = field(default_factory=list, repr=False)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def failed(self, fail_on: Severity) -> bool:
        return any(f.severity.at_least(fail_on) for f in self.findings)


_PLACEHOLDER = lazy_re(r"\{(\w+)\}")


def render_message(template: str, subject: Subject) -> str:
    """Fill `{fact}` placeholders; a missing fact reads "unknown", a list is comma-joined."""

    def value(m: re.Match[str]) -> str:
        v = subject.fact(m.group(1))
        if v is None:
            return "unknown"
        return ", ".join(str(x) for x in v) if isinstance(v, (list, tuple)) else str(v)

    return _PLACEHOLDER.sub(value, template)


def scan(
    root: Path,
    config_path: Path | None = None,
    *,
    config: Config | None = None,
    files: FileSet | None = None,
) -> ScanResult:
    """Every finding of the tree (or of `files`, a narrowed file set), sorted; fixes pending."""
    # Here, not at the top: `inspect` shares this module and never reads a source tree,
    # and the source-scan machinery is a third of a one-binary inspect's start-up.
    from allocpolicy.facts.gather import gather

    config = config or load_config(root, config_path)
    rules = load_rules(config.policies, root)
    repo, subjects, inventory, suppressions = gather(root, config, files)
    findings: list[Finding] = []
    pending: list[PendingFix] = []
    for rule in rules.values():
        if not config.rule_enabled(rule.id) or rule.subject == "suppression":
            continue
        for subject in subjects.get(rule.subject, []):
            finding = _evaluate(rule, subject, repo, config, pending)
            if finding is not None and not _ignored(finding, subject, suppressions, config):
                findings.append(finding)
    findings += _unused_suppressions(rules, suppressions, repo, config, pending)
    findings = _dedupe(findings)
    findings.sort(key=Finding.sort_key)
    kept = {id(f) for f in findings}
    return ScanResult(
        root,
        findings,
        rules,
        inventory,
        len(set(repo.texts) | set(repo.files.rust_sources)),
        config,
        [p for p in pending if id(p.finding) in kept],
    )


def _ignored(
    finding: Finding, subject: Subject, suppressions: Suppressions, config: Config
) -> bool:
    """Suppressed by a comment (on the finding's lines or a subject's anchor) or by config."""
    loc = finding.location
    anchors = [(loc.line, loc.end_line or loc.line)]
    anchors += [(n, n) for n in subject.suppression_anchors]
    if any(suppressions.match(finding.rule, loc.path, a, b) for a, b in anchors):
        return True
    return any(
        finding.rule in ids and fnmatch.fnmatch(loc.path, pat)
        for pat, ids in config.per_path_ignores.items()
    )


def _evaluate(
    rule: Rule, subject: Subject, repo: Repo, config: Config, pending: list[PendingFix]
) -> Finding | None:
    if not evaluate(rule.when, subject.fact):
        return None
    severity = rule.severity
    for override in rule.severity_overrides:
        if evaluate(override.when, subject.fact):
            severity = override.severity
    severity = config.severity.get(rule.id, severity)
    message = render_message(rule.message, subject)
    loc: Location = subject.location
    finding = Finding(rule.id, rule.name, severity, loc, message, snippet=_snippet(repo, loc))
    if rule.fix is not None:
        pending.append(PendingFix(finding, rule.fix, subject, repo))
    return finding


def _snippet(repo: Repo, loc: Location) -> str:
    text = repo.text(loc.path)
    if text is None:
        return ""
    lines = text.lines
    return lines[loc.line - 1] if 0 < loc.line <= len(lines) else ""


def _unused_suppressions(
    rules: dict[str, Rule],
    suppressions: Suppressions,
    repo: Repo,
    config: Config,
    pending: list[PendingFix],
) -> list[Finding]:
    rule = rules.get("AP902")
    if rule is None or not config.rule_enabled("AP902"):
        return []
    out = []
    # A file that did not parse or was skipped produced no findings, so its suppressions
    # are not unused, only unseen. And while any file is unread, a finding it would give
    # may be what another file's suppression is for: report those, offer no removal.
    broken = {p.path for p in repo.problems}
    offer = pending if not broken else []
    for s in suppressions.unused():
        if s.path in broken:
            continue
        ids = sorted(s.rules)
        subject = SuppressionSubject(
            file=s.path,
            rules=ids,
            rules_text=", ".join(ids) or "nothing",
            location=Location(s.path, s.line),
            suppression=s,
        )
        f = _evaluate(rule, subject, repo, config, offer)
        if f is not None:
            out.append(f)
    return out


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for f in findings:
        key = (f.rule, f.location.path, f.location.line, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


@record
class InspectResult:
    """`inspect`'s answer: each artifact's binaries and the findings about them."""

    artifacts: list[ArtifactReport]
    findings: list[Finding]
    rules: dict[str, Rule]
    config: Config = field(default_factory=Config)
    # --repo: the repository read (each artifact holds its binaries' pairings with it)
    repository: str | None = None

    @property
    def pairings(self) -> list[ArtifactSourceSubject]:
        return [p for a in self.artifacts for p in a.pairings]

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def failed(self, fail_on: Severity) -> bool:
        return any(f.severity.at_least(fail_on) for f in self.findings)

    @property
    def binaries(self) -> int:
        return sum(len(a.binaries) for a in self.artifacts)


def inspect(path: str, config_path: Path | None = None, repo: Path | None = None) -> InspectResult:
    """The binaries of the artifact at `path` and every rule's findings about them.

    The config is --config, else allocpolicy.toml of the current directory: an
    artifact's own files (a rootfs) are data, never configuration. With `repo`, the
    repository is read as `inventory` reads it and its binaries paired with the
    artifact's (AP012).
    """
    from allocpolicy.facts.artifact import gather_artifact
    from allocpolicy.parsing.artifact import open_artifacts

    cwd = Path.cwd()
    config = load_config(cwd, config_path)
    rules = load_rules(config.policies, cwd)
    reports = [gather_artifact(a, config) for a in open_artifacts(path)]
    repo_subjects = None
    if repo is not None:
        from allocpolicy.facts.gather import gather
        from allocpolicy.facts.source import pair

        # The repository's own allocpolicy.toml, as `inventory DIR` reads it (data only).
        _, repo_subjects, _, _ = gather(repo, load_config(repo, None))
    findings = []
    for report in reports:
        subjects = dict(report.subjects)
        if repo_subjects is not None:
            # per artifact: each platform of an image ships its own build of a binary
            report.pairings = pair(report.binaries, repo_subjects)
            subjects[ArtifactSourceSubject.KIND] = list(report.pairings)
        findings += evaluate_artifact(rules, subjects, config)
    findings = _dedupe(findings)
    findings.sort(key=Finding.sort_key)
    where = None if repo is None else str(repo)
    return InspectResult(reports, findings, rules, config, where)


def evaluate_artifact(
    rules: dict[str, Rule], subjects: dict[str, list[Subject]], config: Config
) -> list[Finding]:
    """Each enabled rule on the subjects of its kind, and its `artifact:` variant on theirs.

    No fix is offered (a binary is not edited) and only the config suppresses: the
    rules' enable/disable, severities and per-path-ignores, on paths inside the artifact.
    """
    out = []
    for rule in rules.values():
        if not config.rule_enabled(rule.id):
            continue
        tests = [(rule.subject, rule.when, rule.message, rule.severity_overrides)]
        if rule.artifact is not None:
            a = rule.artifact
            tests.append((a.subject, a.when, a.message, ()))
        for kind, when, message, overrides in tests:
            for subject in subjects.get(kind, []):
                if not evaluate(when, subject.fact):
                    continue
                severity = rule.severity
                for override in overrides:
                    if evaluate(override.when, subject.fact):
                        severity = override.severity
                severity = config.severity.get(rule.id, severity)
                loc = subject.location
                text = render_message(message, subject)
                finding = Finding(rule.id, rule.name, severity, loc, text)
                if not any(
                    rule.id in ids and fnmatch.fnmatch(loc.path, pat)
                    for pat, ids in config.per_path_ignores.items()
                ):
                    out.append(finding)
    return out
