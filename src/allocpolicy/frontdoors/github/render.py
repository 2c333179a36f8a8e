"""Markdown bodies: inline comments, the sticky summary, the review, the job summary.

Every body stays under GitHub's 65,536-character limit (``MAX_BODY`` leaves room).
Text that comes from the scanned files (messages, paths, fix titles, notes, the
inventory) goes through :mod:`.mdsafe`, which makes it inert: code spans or escaped
prose, no mention, no image, no HTML, one line, capped; source lines are only shown
inside fences longer than any backtick run they contain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from allocpolicy._record import replace
from allocpolicy.model import Finding, Severity
from allocpolicy.policy.docs import page_url

from . import mdsafe
from .markers import Marker
from .suggest import diff_block, fence_for

if TYPE_CHECKING:
    from .plan import Plan, PlannedComment, RuleInfo

MAX_BODY = 65_000
JOB_SUMMARY_LIMIT = 1024 * 1024 - 4096  # 1 MiB per step, in bytes
MAX_MESSAGE = 2_000
MAX_LOCATIONS = 15  # per rule in the summary comment; the job summary lists them all
MAX_DIFF = 8_000  # one fix's diff in the job summary
MAX_FILES_IN_COMMAND = 5

_ICON = {Severity.ERROR: "🛑", Severity.WARNING: "⚠️", Severity.INFO: "ℹ️"}


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def cell(text: Any) -> str:
    """A value as inert prose: fit for a table cell or a sentence."""
    return mdsafe.text(text, 300)


def finding_header(f: Finding, rule: RuleInfo | None) -> str:
    name = rule.name if rule else f.name
    return f"{_ICON[f.severity]} **{cell(f.rule)} · {cell(name)}** ({f.severity.value})"


def _shipped() -> frozenset[str]:
    from allocpolicy.policy.compiled_default import POLICY

    rules: list[dict[str, Any]] = POLICY["rules"]  # type: ignore[assignment]
    return frozenset(str(r["id"]) for r in rules)


def with_pages(rules: Mapping[str, RuleInfo], env: Mapping[str, str]) -> dict[str, RuleInfo]:
    """The rules with each shipped rule's documentation link (docs/rules/<ID>.md at the
    action's own ref); a user's rule keeps the link its policy gives, if any."""
    shipped = _shipped()
    return {
        rid: replace(r, documentation=page_url(rid, env))
        if rid in shipped and not r.documentation.startswith("https://")
        else r
        for rid, r in rules.items()
    }


def _doc_url(rule: RuleInfo | None) -> str | None:
    doc = rule.documentation if rule else ""
    return doc if doc.startswith("https://") and " " not in doc and ")" not in doc else None


def explain_hint(rule_id: str, rule: RuleInfo | None) -> str:
    url = _doc_url(rule)
    if url:
        return f"<sub>Rule documentation: [{mdsafe.text(rule_id, 20)}]({url})</sub>"
    return f"<sub>Details: run {mdsafe.code(f'allocpolicy explain {rule_id}', 60)}</sub>"


def _finding_block(f: Finding, rule: RuleInfo | None, fix_text: str | None) -> list[str]:
    out = [finding_header(f, rule), "", _escape_md(f.message)]
    if rule and rule.why:
        out += ["", f"_Why:_ {mdsafe.message(rule.why, 600)}"]
    if fix_text:
        out += ["", fix_text]
    out += ["", explain_hint(f.rule, rule)]
    return out


def _escape_md(text: str) -> str:
    """A message as inert Markdown (its template's code spans kept)."""
    return mdsafe.message(text, MAX_MESSAGE)


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
        where = mdsafe.code(f"{loc.path}:{loc.line}", 300, table=True)
        disp = plan.disposition.get(plan.key(f), "") if plan else ""
        rows.append(
            f"| {_ICON[f.severity]} {f.severity.value} | {cell(f.rule)} {cell(f.name)} | {where} "
            f"| {mdsafe.message(f.message, 200, table=True)} | {cell(disp)} |"
        )
    return rows


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    counts = {s.value: 0 for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)}
    for f in findings:
        counts[f.severity.value] += 1
    return counts


def repo_url_of(run_url: str | None) -> str | None:
    """``{server}/{owner}/{repo}`` from a run's URL (``…/actions/runs/<id>``)."""
    if not run_url or "/actions/runs/" not in run_url:
        return None
    return run_url.split("/actions/runs/", 1)[0]


def location_link(path: str, line: int, head_sha: str, repo_url: str | None) -> str:
    """``path:line`` as a link to the file at the head commit (a code span without a repo)."""
    label = f"{path}:{line}"
    if not repo_url:
        return mdsafe.code(label)
    url = f"{repo_url}/blob/{head_sha}/{mdsafe.url_path(path)}#L{line}"
    return f"[{mdsafe.text(label, 200)}]({url})"


def fix_command(findings: Iterable[Finding]) -> str | None:
    """The ``allocpolicy fix`` command line that applies these findings' fixes, run at
    the repository root (``--files``: only what those files cause or carry)."""
    with_fix = [f for f in findings if f.fix is not None]
    if not with_fix:
        return None
    rules = sorted({f.rule for f in with_fix})
    files = sorted({f.location.path for f in with_fix})
    unsafe = any(f.fix is not None and f.fix.safety.value != "safe" for f in with_fix)
    words = ["allocpolicy", "fix", "--rule", _shell_word(",".join(rules))]
    words += ["--unsafe-fixes"] if unsafe else []
    one_line = not any(ch < " " or ch == "\x7f" for p in files for ch in p)
    if one_line and len(files) <= MAX_FILES_IN_COMMAND:  # else the whole tree, these rules
        words += ["--files", *(_shell_word(p) for p in files)]
    return " ".join(words)


def _shell_word(word: str) -> str:
    import shlex

    return shlex.quote(word)


def summary_body(
    plan: Plan,
    rules: dict[str, RuleInfo],
    listed: list[Finding],
    head_sha: str,
    run_url: str | None,
    line_of: Callable[[str, int], str | None],
    notes: list[str] | None = None,
    repo_url: str | None = None,
) -> str:
    """The sticky summary comment: findings that are not inline comments, by rule.

    Each rule is one block (its summary and reason once), its locations links to the
    file at the head commit, at most ``MAX_LOCATIONS`` of them (the job summary has
    every one, with its fix); so a change across many services stays a short comment.
    """
    marker = Marker(kind="summary").render()
    counts = severity_counts(plan.in_scope)
    repo_url = repo_url or repo_url_of(run_url)
    head = [
        marker,
        "## allocpolicy",
        "",
        f"Commit {mdsafe.code(head_sha[:12], 12)} · {counts['error']} error(s), "
        f"{counts['warning']} warning(s), {counts['info']} info in the files this pull request changes.",
    ]
    if notes:
        head += [""] + [f"> {mdsafe.message(n, 1000)}" for n in notes]
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
    tail = f"\n\n<sub>Full list, with every fix as a diff, in the job summary{f' of [this run]({run_url})' if run_url else ''}.</sub>"
    body = "\n".join(head)
    if not listed:
        return body + tail
    body += "\n\n### Not shown as inline comments\n\n"
    groups: dict[str, list[Finding]] = {}
    for f in listed:
        groups.setdefault(f.rule, []).append(f)
    blocks = [
        _rule_group(fs, rules.get(rid), head_sha, repo_url, line_of) for rid, fs in groups.items()
    ]
    out = body
    for i, b in enumerate(blocks):
        left = sum(len(fs) for fs in list(groups.values())[i:])
        more = f"\n\n…and {left} more finding(s) not shown here (size limit)."
        if len(out) + len(b) + 2 + len(more) + len(tail) > MAX_BODY:
            out += more
            break
        out += b + "\n\n"
    return out.rstrip() + tail


def _rule_group(
    fs: list[Finding],
    rule: RuleInfo | None,
    head_sha: str,
    repo_url: str | None,
    line_of: Callable[[str, int], str | None],
) -> str:
    """One rule's findings: a heading, what and why once, then where."""
    f0 = fs[0]
    worst = max(fs, key=lambda f: f.severity.rank)
    name = rule.name if rule else f0.name
    n = f" · {len(fs)} findings" if len(fs) > 1 else ""
    out = [
        f"#### {_ICON[worst.severity]} {cell(f0.rule)} · {cell(name)} ({worst.severity.value}){n}",
        "",
    ]
    if len(fs) == 1:  # one finding: its own message and fix, as before
        out += [location_link(f0.location.path, f0.location.line, head_sha, repo_url), ""]
        out += [_escape_md(f0.message)]
    else:
        # the rule's own summary says what every location has; without one, the first message
        what = rule.summary if rule and rule.summary else f"For example: {f0.message}"
        out += [mdsafe.message(what, 600), ""]
        shown = [
            location_link(f.location.path, f.location.line, head_sha, repo_url)
            for f in fs[:MAX_LOCATIONS]
        ]
        rest = f", and {len(fs) - MAX_LOCATIONS} more" if len(fs) > MAX_LOCATIONS else ""
        out += ["At " + ", ".join(shown) + rest + "."]
    if rule and rule.why:
        out += ["", f"_Why:_ {mdsafe.message(rule.why, 600)}"]
    cmd = fix_command(fs)
    if cmd and len(fs) == 1 and f0.fix is not None:
        block = diff_block(list(f0.fix.edits), line_of)
        if len(block) <= MAX_DIFF:
            out += [
                "",
                f"<details><summary>Fix: {mdsafe.html(f0.fix.title)}</summary>",
                "",
                block,
                "",
                "</details>",
            ]
    if cmd:
        out += ["", f"Fix locally: {mdsafe.code(cmd, 2000)}"]
    out += ["", explain_hint(f0.rule, rule)]
    return "\n".join(out)


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
    line_of: Callable[[str, int], str | None] | None = None,
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
    out += [f"> {mdsafe.message(n, 1000)}" for n in notes]
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
                + " | ".join(cell(row.get(c) if row.get(c) is not None else "") for c in cols)
                + " |"
            )
        out.append("")
    text = "\n".join(out) + "\n"
    text += _within(fixes_section(findings, line_of or (lambda p, n: None)), text)
    if len(text.encode()) > JOB_SUMMARY_LIMIT:
        text = text.encode()[:JOB_SUMMARY_LIMIT].decode(errors="ignore")
        text = text.rsplit("\n", 1)[0] + "\n\n…truncated (job summary limit).\n"
    return text


def _within(blocks: list[str], before: str) -> str:
    """As many whole blocks as fit in the job summary after ``before`` (the findings and
    the inventory come first: they are the record), then how many were left out."""
    room = JOB_SUMMARY_LIMIT - len(before.encode()) - 200
    out = ""
    for i, b in enumerate(blocks):
        if len(out.encode()) + len(b.encode()) > room:
            return (
                out
                + f"…and {len(blocks) - i} more file(s) with fixes: `allocpolicy fix --diff` prints them.\n"
            )
        out += b
    return out


def fixes_section(findings: list[Finding], line_of: Callable[[str, int], str | None]) -> list[str]:
    """Every fix as a unified diff, collapsed per file, with the command that applies it
    (a heading, then one block of Markdown per file).

    For the authors who get no suggestion (a fork, Dependabot, annotations only): the
    job summary is where they read the fix.
    """
    by_path: dict[str, list[Finding]] = {}
    for f in sorted(findings, key=lambda f: f.sort_key()):
        if f.fix is not None:
            by_path.setdefault(f.location.path, []).append(f)
    if not by_path:
        return []
    blocks = ["### Fixes\n\n"]
    for path, fs in by_path.items():
        out = [f"<details><summary>{mdsafe.html(path)} · {len(fs)} fix(es)</summary>", ""]
        out += ["Apply them from the repository root:", ""]
        cmd = fix_command(fs) or ""
        out += [f"{fence_for(cmd)}sh", cmd, fence_for(cmd), ""]
        for f in fs:
            fix = f.fix
            if fix is None:
                continue
            kind = "safe" if fix.safety.value == "safe" else "unsafe: review before applying"
            out += [f"{cell(f.rule)} line {f.location.line}: {cell(fix.title)} ({kind})", ""]
            block = diff_block(list(fix.edits), line_of)
            if len(block) > MAX_DIFF:
                block = "(too large to show here; `--diff` prints it)"
            out += [block, ""]
        out += ["</details>", ""]
        blocks.append("\n".join(out) + "\n")
    return blocks
