"""Markdown bodies: inline comments, the sticky summary, the review, the job summary.

Every body stays under GitHub's 65,536-character limit (``MAX_BODY`` leaves room);
text that comes from the scanned files is always inside a fence computed to be
longer than any backtick run it contains, and table cells are escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from allocpolicy.model import Finding, Severity

from .markers import Marker
from .suggest import diff_block, fence_for

if TYPE_CHECKING:
    from .plan import Plan, PlannedComment, RuleInfo

MAX_BODY = 65_000
JOB_SUMMARY_LIMIT = 1024 * 1024 - 4096  # 1 MiB per step, in bytes
MAX_MESSAGE = 2_000

_ICON = {Severity.ERROR: "🛑", Severity.WARNING: "⚠️", Severity.INFO: "ℹ️"}


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def cell(text: Any) -> str:
    """Escape a value for one Markdown table cell."""
    s = str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")
    for ch in "<>":
        s = s.replace(ch, {"<": "&lt;", ">": "&gt;"}[ch])
    return _clip(s, 300)


def finding_header(f: Finding, rule: RuleInfo | None) -> str:
    name = rule.name if rule else f.name
    return f"{_ICON[f.severity]} **{f.rule} · {cell(name)}** ({f.severity.value})"


def explain_hint(rule_id: str, rule: RuleInfo | None) -> str:
    hint = f"`allocpolicy explain {rule_id}`"
    doc = rule.documentation if rule else ""
    if doc.startswith("https://"):
        return f"<sub>Details: {hint} · [documentation]({doc})</sub>"
    return f"<sub>Details: run {hint}</sub>"


def _finding_block(f: Finding, rule: RuleInfo | None, fix_text: str | None) -> list[str]:
    out = [finding_header(f, rule), "", _escape_md(_clip(f.message, MAX_MESSAGE))]
    if rule and rule.why:
        out += ["", f"_Why:_ {_escape_md(_clip(rule.why, 500))}"]
    if fix_text:
        out += ["", fix_text]
    out += ["", explain_hint(f.rule, rule)]
    return out


def _escape_md(text: str) -> str:
    # keep messages from opening HTML comments (which could forge a marker) or tags
    return text.replace("<", "&lt;").replace(">", "&gt;")


def inline_body(
    c: PlannedComment,
    rules: dict[str, RuleInfo],
    plan: Plan,
    line_of: Callable[[str, int], str | None],
) -> str:
    marker = Marker(kind="file" if c.file_level else "inline", fps=tuple(c.keys)).render()
    for attempt in ("full", "no-diff", "bare"):
        parts: list[str] = [marker]
        suggested_ids = {id(f) for f in c.suggested} if c.suggestion is not None else set()
        for i, f in enumerate(c.findings):
            rule = rules.get(f.rule)
            fix_text = None
            if f.fix is not None and id(f) not in suggested_ids and attempt == "full":
                block = diff_block(list(f.fix.edits), line_of)
                kind = (
                    "Suggested fix"
                    if f.fix.safety.value == "safe"
                    else "Possible fix (unsafe: review before applying)"
                )
                fix_text = f"{kind} — {cell(f.fix.title)}, outside this diff:\n\n{block}"
            elif f.fix is not None and id(f) not in suggested_ids:
                fix_text = (
                    f"Fix available: {cell(f.fix.title)} (too large to show; see the job summary)."
                )
            if i:
                parts += ["", "---", ""]
            parts += _finding_block(f, rule, fix_text)
        if c.suggestion is not None and attempt != "bare":
            titles = ", ".join(cell(f.fix.title) for f in c.suggested if f.fix)
            parts += ["", f"Suggested fix — {titles}:", "", c.suggestion.suggestion_block()]
        body = "\n".join(parts)
        if len(body) <= MAX_BODY:
            if attempt == "bare":
                c.suggestion = None
            return body
    return _clip(body, MAX_BODY)


def resolved_body(old_body: str, keys: Iterable[str], kind: str, reason: str) -> str:
    """The body an outdated bot comment is edited to: collapsed, marked resolved."""
    marker = Marker(kind=kind, fps=tuple(keys), state="resolved").render()
    # drop the old marker and any suggestion fence so it cannot be applied anymore
    inner = old_body.split("-->", 1)[1].lstrip("\n") if old_body.startswith("<!--") else old_body
    inner = inner.replace("suggestion\n", "text\n")
    fence = fence_for(inner)
    head = f"{marker}\n✅ **Resolved** — {reason}"
    body = f"{head}\n\n<details><summary>Original comment</summary>\n\n{fence}markdown\n{inner}\n{fence}\n</details>"
    if len(body) > MAX_BODY:
        body = head
    return body


def findings_table(
    findings: list[Finding], plan: Plan | None, limit: int | None = None
) -> list[str]:
    rows = ["| Severity | Rule | Location | Message | Posted as |", "|---|---|---|---|---|"]
    shown = findings if limit is None else findings[:limit]
    for f in shown:
        loc = f.location
        where = f"{loc.path}:{loc.line}"
        disp = plan.disposition.get(plan.key(f), "") if plan else ""
        rows.append(
            f"| {_ICON[f.severity]} {f.severity.value} | {cell(f.rule)} {cell(f.name)} | `{cell(where)}` "
            f"| {cell(_clip(f.message, 200))} | {cell(disp)} |"
        )
    return rows


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    counts = {s.value: 0 for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)}
    for f in findings:
        counts[f.severity.value] += 1
    return counts


def summary_body(
    plan: Plan,
    rules: dict[str, RuleInfo],
    listed: list[Finding],
    head_sha: str,
    run_url: str | None,
    line_of: Callable[[str, int], str | None],
    notes: list[str] | None = None,
) -> str:
    """The sticky summary comment: findings that are not inline comments."""
    marker = Marker(kind="summary").render()
    counts = severity_counts(plan.in_scope)
    head = [
        marker,
        "## allocpolicy",
        "",
        f"Commit `{head_sha[:12]}` · {counts['error']} error(s), {counts['warning']} warning(s), "
        f"{counts['info']} info in the files this pull request changes.",
    ]
    if notes:
        head += [""] + [f"> {n}" for n in notes]
    if not listed:
        head += [
            "",
            "No findings outside the inline review comments. ✅"
            if plan.in_scope
            else "No findings. ✅",
        ]
    if plan.out_of_scope:
        head += [
            "",
            f"<sub>{len(plan.out_of_scope)} finding(s) in files this pull request does not touch are listed "
            "only in the job summary.</sub>",
        ]
    tail = f"\n\n<sub>Full list in the job summary{f' of [this run]({run_url})' if run_url else ''}.</sub>"
    body = "\n".join(head)
    if not listed:
        return body + tail
    body += "\n\n### Not shown as inline comments\n\n"
    blocks = []
    for f in listed:
        rule = rules.get(f.rule)
        loc = f.location
        fix = None
        if f.fix is not None:
            fix = f"<details><summary>Fix: {cell(f.fix.title)}</summary>\n\n{diff_block(list(f.fix.edits), line_of)}\n\n</details>"
        block = "\n".join(
            [f"#### `{cell(loc.path)}:{loc.line}`", ""] + _finding_block(f, rule, fix)
        )
        blocks.append(block)
    out = body
    for i, b in enumerate(blocks):
        more = f"\n\n…and {len(blocks) - i} more finding(s) not shown here (size limit)."
        if len(out) + len(b) + 2 + len(more) + len(tail) > MAX_BODY:
            out += more
            break
        out += b + "\n\n"
    return out.rstrip() + tail


def review_body(
    posted: list[PlannedComment], overflow: int, attempt: str, summary_link: str | None
) -> str:
    marker = Marker(kind="review", attempt=attempt).render()
    n = sum(len(c.findings) for c in posted)
    lines = [marker, f"**allocpolicy** found {n} finding(s) on lines this pull request changes."]
    if overflow:
        lines.append(
            f"{overflow} more are listed in the summary comment (at most this many inline comments per run)."
        )
    if summary_link:
        lines.append(f"See also the [summary comment]({summary_link}).")
    return "\n\n".join(lines)


def job_summary(
    findings: list[Finding],
    plan: Plan | None,
    inventory: list[dict[str, Any]],
    notes: list[str],
    fail_on: str,
    failed: bool,
    counted: list[Finding] | None = None,
) -> str:
    # the header counts what the verdict and the errors/warnings outputs count (in scope)
    counts = severity_counts(findings if counted is None else counted)
    verdict = "❌ failing" if failed else "✅ passing"
    out = [
        "## allocpolicy",
        "",
        f"{verdict} (fail-on: `{fail_on}`) · {counts['error']} error(s), {counts['warning']} warning(s), "
        f"{counts['info']} info",
        "",
    ]
    out += [f"> {n}" for n in notes]
    if notes:
        out.append("")
    if findings:
        out += ["### Findings", ""]
        out += findings_table(
            sorted(findings, key=lambda f: (-f.severity.rank, f.sort_key())), plan
        )
        out.append("")
    else:
        out += ["No findings.", ""]
    if inventory:
        cols = [
            "file",
            "stage",
            "base",
            "libc",
            "binary",
            "crate",
            "target",
            "linkage",
            "allocator",
            "ld_preload",
        ]
        out += ["### Image inventory", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for row in inventory:
            out.append(
                "| "
                + " | ".join(cell(row.get(c, "") if row.get(c) is not None else "") for c in cols)
                + " |"
            )
        out.append("")
    text = "\n".join(out) + "\n"
    if len(text.encode()) > JOB_SUMMARY_LIMIT:
        text = text.encode()[:JOB_SUMMARY_LIMIT].decode(errors="ignore")
        text = text.rsplit("\n", 1)[0] + "\n\n…truncated (job summary limit).\n"
    return text
