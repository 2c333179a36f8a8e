"""Decide, for every finding, where it goes: an inline comment, a file comment,
the summary comment, or only the job summary. Pure: no network, no GitHub types.

Filter modes follow reviewdog:

============  ====================================  =====================================
mode          inline comment when the finding is    other findings in files of the PR
============  ====================================  =====================================
added         on added lines only                   summary comment
diff_context  anywhere inside one diff hunk         summary comment
file          anywhere inside one diff hunk         file-level comment (max 10), then summary
nofilter      anywhere inside one diff hunk         file-level comment (max 10), then summary
============  ====================================  =====================================

Findings in files the PR does not touch are out of scope (job summary only, not
counted for ``fail-on``) except with ``nofilter``, which lists them in the summary
comment and counts them, and except those the PR's changes cause (an untouched
Dockerfile building a crate the PR changes; see :mod:`.scope`): in every mode
they count and are shown on the change that causes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from allocpolicy._record import field, record
from allocpolicy.model import Finding, Location, Safety, Severity

from . import render
from .diffmap import DiffMap, FileDiff
from .suggest import LineReplacement, whole_line_replacement

FILTER_MODES = ("added", "diff_context", "file", "nofilter")
MAX_FILE_COMMENTS = 10

# dispositions
INLINE = "inline"
FILE = "file comment"
SUMMARY = "summary"
OVERFLOW = "summary (over max-comments)"
OUT_OF_SCOPE = "not in this PR"
UNLISTED = "summary (PR past GitHub's file listing)"
ANNOTATION = "annotation"


@record
class RuleInfo:
    id: str
    name: str
    why: str = ""
    documentation: str = ""
    summary: str = ""  # one line on what the rule finds (a finding's text in fork-safe mode)


@record
class PlannedComment:
    """One review comment the bot wants to exist (inline, or file-level if line is None)."""

    path: str
    line: int | None
    start_line: int | None
    findings: list[Finding]
    keys: tuple[str, ...]
    body: str
    suggestion: LineReplacement | None = None
    suggested: list[Finding] = field(default_factory=list)  # findings the suggestion carries

    @property
    def file_level(self) -> bool:
        return self.line is None

    @property
    def anchor(self) -> tuple[str, int | None, int | None]:
        return (self.path, self.start_line, self.line)

    @property
    def severity(self) -> Severity:
        return max((f.severity for f in self.findings), key=lambda s: s.rank)

    def review_dict(self) -> dict[str, Any]:
        """The item for ``comments[]`` of pulls/create-review."""
        d: dict[str, Any] = {
            "path": self.path,
            "body": self.body,
            "line": self.line,
            "side": "RIGHT",
        }
        if self.start_line is not None and self.start_line < (self.line or 0):
            d["start_line"] = self.start_line
            d["start_side"] = "RIGHT"
        return d


@record
class Plan:
    comments: list[PlannedComment] = field(default_factory=list)  # inline + file-level
    summary: list[Finding] = field(default_factory=list)
    out_of_scope: list[Finding] = field(default_factory=list)
    disposition: dict[str, str] = field(default_factory=dict)  # key -> disposition
    keys: dict[int, str] = field(default_factory=dict)  # id(finding) -> key
    in_scope: list[Finding] = field(default_factory=list)

    def key(self, f: Finding) -> str:
        return self.keys[id(f)]


def finding_keys(findings: list[Finding]) -> dict[int, str]:
    """Fingerprint per finding, made unique when identical findings repeat in a file."""
    seen: dict[str, int] = {}
    out: dict[int, str] = {}
    for f in sorted(findings, key=lambda f: f.sort_key()):
        fp = f.fingerprint
        n = seen.get(fp, 0)
        seen[fp] = n + 1
        out[id(f)] = fp if n == 0 else f"{fp}{n:02x}"
    return out


def build_plan(
    findings: list[Finding],
    rules: dict[str, RuleInfo],
    diff: DiffMap,
    filter_mode: str = "added",
    source_line: Callable[[str, int], str | None] | None = None,
    causes: Mapping[int, list[str]] | None = None,
    anchorable: Callable[[Finding], bool] | None = None,
    suggest: bool = True,
) -> Plan:
    """Place each finding. ``source_line(path, n)`` reads the checked-out file (for
    diff blocks of fixes outside the diff); the diff's own text is preferred.

    ``causes`` maps id(finding) of a finding outside the diff that the PR's changes
    cause to the changed files it is best shown on: it is in scope in every mode, an
    inline comment on the first change of the first of them that has a hunk, else a
    file comment on the first, else in the summary comment.

    When the scanned checkout is not the PR head, ``anchorable(f)`` says whether a
    finding's lines are the head's (if not, no inline comment), and without the head's
    text there are no suggestions (``suggest``) and diff blocks use the scanned text.
    """
    if filter_mode not in FILTER_MODES:
        raise ValueError(f"unknown filter mode {filter_mode!r}")
    plan = Plan(keys=finding_keys(findings))
    line_of = _line_reader(diff if suggest else DiffMap(), source_line)
    singles: list[PlannedComment] = []
    file_level: dict[str, list[Finding]] = {}
    caused_at: dict[tuple[str, int], list[Finding]] = {}
    for f in sorted(findings, key=lambda f: (-f.severity.rank, f.sort_key())):
        key = plan.key(f)
        fd = diff.get(f.location.path)
        if (fd is None or fd.status == "removed") and causes and id(f) in causes:
            plan.in_scope.append(f)
            _place_caused(plan, f, causes[id(f)], diff, caused_at, file_level)
            continue
        if fd is None and diff.unlisted:
            # past GitHub's file cap, unknown to git: may be in the PR, so it counts
            plan.in_scope.append(f)
            plan.summary.append(f)
            plan.disposition[key] = UNLISTED
            continue
        if fd is None or fd.status == "removed":
            _place_outside_diff(plan, f, filter_mode)
            continue
        plan.in_scope.append(f)
        anchor = (
            _anchor(fd, f.location, filter_mode) if anchorable is None or anchorable(f) else None
        )
        if anchor is not None:
            sugg = _suggestion(f, fd) if suggest else None
            singles.append(_inline_comment(f, key, anchor, sugg))
            plan.disposition[key] = INLINE
        elif filter_mode in ("file", "nofilter"):
            file_level.setdefault(f.location.path, []).append(f)
        else:
            plan.summary.append(f)
            plan.disposition[key] = SUMMARY

    merged = _merge_overlapping(singles, diff) + _caused_comments(plan, caused_at)
    for c in merged:
        c.body = render.inline_body(c, rules, plan, line_of)
    plan.comments.extend(merged)
    _add_file_comments(plan, file_level, rules, line_of)
    for c in plan.comments:
        c.body = _with_cause_note(c)
    plan.summary.sort(key=lambda f: (-f.severity.rank, f.sort_key()))
    return plan


def _line_reader(
    diff: DiffMap, source_line: Callable[[str, int], str | None] | None
) -> Callable[[str, int], str | None]:
    """Line text for diff blocks: the diff's own text first, else the checked-out file."""
    return _LineReader(diff, source_line)


class _LineReader:
    """Line text for diff blocks, and the file's ending when the source reader knows it."""

    def __init__(self, diff: DiffMap, source: Callable[[str, int], str | None] | None) -> None:
        self.diff = diff
        self.source = source

    def __call__(self, path: str, n: int) -> str | None:
        fd = self.diff.get(path)
        if fd is not None and fd.text(n) is not None:
            return fd.text(n)
        return self.source(path, n) if self.source else None

    def ending(self, path: str) -> tuple[int, bool] | None:
        ending = getattr(self.source, "ending", None)
        return ending(path) if callable(ending) else None


def _place_outside_diff(plan: Plan, f: Finding, filter_mode: str) -> None:
    """A finding in a file the PR does not change: only nofilter reports it (in the summary)."""
    key = plan.key(f)
    if filter_mode == "nofilter":
        plan.summary.append(f)
        plan.in_scope.append(f)
        plan.disposition[key] = SUMMARY
    else:
        plan.out_of_scope.append(f)
        plan.disposition[key] = OUT_OF_SCOPE


def _place_caused(
    plan: Plan,
    f: Finding,
    shown_on: list[str],
    diff: DiffMap,
    caused_at: dict[tuple[str, int], list[Finding]],
    file_level: dict[str, list[Finding]],
) -> None:
    """A finding the PR causes outside its diff: on the change that causes it if GitHub
    takes that line, else on that changed file, else in the summary comment."""
    for path in shown_on:
        fd = diff.get(path)
        line = fd.first_change() if fd is not None else None
        if line is not None:
            caused_at.setdefault((path, line), []).append(f)
            plan.disposition[plan.key(f)] = INLINE
            return
    if shown_on:
        file_level.setdefault(shown_on[0], []).append(f)
        return
    plan.summary.append(f)
    plan.disposition[plan.key(f)] = SUMMARY


def _caused_comments(
    plan: Plan, caused_at: dict[tuple[str, int], list[Finding]]
) -> list[PlannedComment]:
    """One inline comment per changed line that causes findings elsewhere."""
    out = []
    for (path, line), fs in sorted(caused_at.items()):
        fs.sort(key=lambda f: (-f.severity.rank, f.sort_key()))
        out.append(
            PlannedComment(
                path=path,
                line=line,
                start_line=None,
                findings=fs,
                keys=tuple(plan.key(f) for f in fs),
                body="",
            )
        )
    return out


def _with_cause_note(c: PlannedComment) -> str:
    """Say where a finding shown on the change that causes it really is (after the marker)."""
    elsewhere = [f for f in c.findings if f.location.path != c.path]
    if not elsewhere:
        return c.body
    where = ", ".join(f"`{render.cell(f.location.path)}:{f.location.line}`" for f in elsewhere)
    note = (
        f"**Caused by this change:** the finding is in {where}, which this pull request does "
        "not change but which builds or belongs to the crate changed here."
    )
    marker, _, rest = c.body.partition("\n")
    return f"{marker}\n{note}\n\n{rest}"


def _anchor(fd: FileDiff, loc: Location, filter_mode: str) -> tuple[int, int] | None:
    """Lines an inline comment can hang on: the whole finding, else its first line, if
    they lie in one hunk (and, for `added`, are all added lines)."""

    def eligible(a: int, b: int) -> bool:
        if not fd.same_hunk(a, b):
            return False
        return fd.all_added(a, b) if filter_mode == "added" else True

    first, last = loc.line, max(loc.end_line or loc.line, loc.line)
    if eligible(first, last):
        return (first, last)
    if last != first and eligible(first, first):
        return (first, first)
    return None


def _suggestion(f: Finding, fd: FileDiff) -> LineReplacement | None:
    """A ```suggestion for a safe fix that is a whole-line change inside one hunk of this file."""
    if f.fix is None or f.fix.safety != Safety.SAFE:
        return None
    cand = whole_line_replacement(list(f.fix.edits), fd.text, prefer_line=f.location.line)
    if (
        cand is not None
        and cand.path == f.location.path
        and fd.same_hunk(cand.start_line, cand.end_line)
    ):
        return cand
    return None


def _inline_comment(
    f: Finding, key: str, anchor: tuple[int, int], sugg: LineReplacement | None
) -> PlannedComment:
    """One finding's inline comment, spanning its suggestion's lines when it has one."""
    start, end = (sugg.start_line, sugg.end_line) if sugg is not None else anchor
    return PlannedComment(
        path=f.location.path,
        line=end,
        start_line=start if start < end else None,
        findings=[f],
        keys=(key,),
        body="",
        suggestion=sugg,
        suggested=[f] if sugg is not None else [],
    )


def _add_file_comments(
    plan: Plan,
    file_level: dict[str, list[Finding]],
    rules: dict[str, RuleInfo],
    line_of: Callable[[str, int], str | None],
) -> None:
    """File-level comments, most severe file first, at most MAX_FILE_COMMENTS (the rest: summary)."""
    ordered = sorted(
        file_level.items(), key=lambda kv: (-max(f.severity.rank for f in kv[1]), kv[0])
    )
    for i, (path, fs) in enumerate(ordered):
        if i >= MAX_FILE_COMMENTS:
            for f in fs:
                plan.summary.append(f)
                plan.disposition[plan.key(f)] = SUMMARY
            continue
        fs.sort(key=lambda f: f.sort_key())
        c = PlannedComment(
            path=path,
            line=None,
            start_line=None,
            findings=fs,
            keys=tuple(plan.key(f) for f in fs),
            body="",
        )
        c.body = render.inline_body(c, rules, plan, line_of)
        plan.comments.append(c)
        for f in fs:
            plan.disposition[plan.key(f)] = FILE


def _merge_overlapping(comments: list[PlannedComment], diff: DiffMap) -> list[PlannedComment]:
    """Suggestions whose line ranges overlap become one comment with one suggestion.

    GitHub applies only one suggestion per line in a batch, so overlapping fixes are
    combined; if their edits conflict, the first keeps its suggestion and the
    others are shown in the same comment as diff blocks.
    """
    with_s = sorted(
        (c for c in comments if c.suggestion is not None),
        key=lambda c: (c.path, c.start_line or c.line, c.line),
    )
    without = [c for c in comments if c.suggestion is None]
    out: list[PlannedComment] = []
    for c in with_s:
        prev = out[-1] if out else None
        if prev is None or prev.path != c.path or (c.start_line or c.line) > prev.line:  # type: ignore[operator]
            out.append(c)
            continue
        fd = diff.get(c.path)
        carried = prev.suggested + c.suggested
        edits = [e for f in carried if f.fix for e in f.fix.edits]
        combined = whole_line_replacement(edits, fd.text) if fd else None
        if (
            combined is not None
            and fd is not None
            and fd.same_hunk(combined.start_line, combined.end_line)
        ):
            prev.suggestion = combined
            prev.start_line = (
                combined.start_line if combined.start_line < combined.end_line else None
            )
            prev.line = combined.end_line
            prev.suggested = carried
        prev.findings.extend(c.findings)
        prev.keys = prev.keys + c.keys
    return sorted(out + without, key=lambda c: (-c.severity.rank, c.path, c.line or 0))
