"""The GitHub Actions runner side: event payload, outputs, job summary, annotations.

Nothing here talks to the API. Workflow commands are escaped the way
``@actions/core`` does it, so file contents and messages can never inject a
command of their own.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from allocpolicy._record import record
from allocpolicy.model import Finding, Severity

# per step, GitHub shows at most 10 annotations of each level
ANNOTATIONS_PER_LEVEL = 10


def escape_data(s: Any) -> str:
    return str(s).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(s: Any) -> str:
    return escape_data(s).replace(":", "%3A").replace(",", "%2C")


def workflow_command(command: str, message: str, **props: Any) -> str:
    parts = ",".join(f"{k}={escape_property(v)}" for k, v in props.items() if v is not None)
    return f"::{command}{' ' + parts if parts else ''}::{escape_data(message)}"


_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
MAX_ANNOTATION = 1_000  # characters of message; the job summary has the rest


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def annotation_message(f: Finding) -> str:
    """The finding's message and, when it has a fix, the command that applies it.

    Annotations are plain text (no Markdown, no mentions); what a fork's or
    Dependabot's author needs is the command, with the diff in the job summary.
    """
    from .render import fix_command

    text = _clip(f.message, MAX_ANNOTATION)
    cmd = fix_command([f])
    if cmd:
        text += f"\nFix: {_clip(cmd, 500)} (the diff is in the job summary)"
    return text


def annotation_lines(
    findings: Iterable[Finding], rule_names: Mapping[str, str] | None = None
) -> list[str]:
    """``::error file=…,line=…,endLine=…,title=…::message`` lines, at most 10 per level."""
    out: list[str] = []
    per: dict[str, int] = {}
    dropped = 0
    for f in sorted(findings, key=lambda f: (-f.severity.rank, f.sort_key())):
        level = _LEVEL[f.severity]
        if per.get(level, 0) >= ANNOTATIONS_PER_LEVEL:
            dropped += 1
            continue
        per[level] = per.get(level, 0) + 1
        loc = f.location
        name = (rule_names or {}).get(f.rule, f.name)
        props: dict[str, Any] = {
            "file": loc.path,
            "line": loc.line,
            "endLine": loc.end_line or loc.line,
        }
        if (loc.end_line or loc.line) == loc.line:
            props["col"] = loc.column
            if loc.end_column:
                props["endColumn"] = loc.end_column
        props["title"] = _clip(f"{f.rule} {name}", 200)
        out.append(workflow_command(level, annotation_message(f), **props))
    if dropped:
        out.append(
            workflow_command(
                "notice",
                f"allocpolicy: {dropped} more finding(s) are listed in the job summary (annotation limit).",
            )
        )
    return out


@record
class PullContext:
    repo: str  # owner/name of the base repository
    number: int
    head_sha: str
    base_sha: str
    head_repo: str | None
    event_name: str
    read_only: bool = False
    read_only_reason: str = ""
    draft: bool = False
    state: str = "open"


class EventError(Exception):
    pass


def load_event(
    event_path: str | None, event_name: str | None, env: Mapping[str, str]
) -> dict[str, Any] | None:
    if not event_path:
        return None
    try:
        event: dict[str, Any] | None = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EventError(f"cannot read GITHUB_EVENT_PATH {event_path}: {exc}") from exc
    return event


def pull_context(
    event: dict[str, Any] | None, event_name: str, env: Mapping[str, str]
) -> PullContext | None:
    """The PR a ``pull_request``-type event is about, or None for other events."""
    if not event or "pull_request" not in event or not isinstance(event["pull_request"], dict):
        return None
    pr = event["pull_request"]
    try:
        base_repo = (event.get("repository") or {}).get("full_name") or pr["base"]["repo"][
            "full_name"
        ]
        head_repo = ((pr.get("head") or {}).get("repo") or {}).get("full_name")
        ctx = PullContext(
            repo=str(base_repo or env.get("GITHUB_REPOSITORY", "")),
            number=int(pr["number"]),
            head_sha=str(pr["head"]["sha"]),  # not GITHUB_SHA: that is the merge commit
            base_sha=str(pr["base"]["sha"]),
            head_repo=head_repo,
            event_name=event_name,
            draft=bool(pr.get("draft", False)),
            state=str(pr.get("state", "open")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise EventError(f"malformed pull_request event: {exc}") from exc
    # A fork's token is read-only whatever the workflow asks for. Dependabot's is read-only
    # only by default (a workflow may grant it write): the review is tried and a 403 falls
    # back to annotations.
    if event_name == "pull_request" and head_repo and head_repo != ctx.repo:
        ctx.read_only, ctx.read_only_reason = True, f"pull request from the fork {head_repo}"
    return ctx


@record
class WorkflowRun:
    repo: str
    head_sha: str
    head_repo: str | None
    pr_numbers: list[int]


def workflow_run_context(
    event: dict[str, Any] | None, env: Mapping[str, str]
) -> WorkflowRun | None:
    if not event or not isinstance(event.get("workflow_run"), dict):
        return None
    wr = event["workflow_run"]
    try:
        numbers = [int(p["number"]) for p in wr.get("pull_requests") or [] if isinstance(p, dict)]
        return WorkflowRun(
            repo=str(
                (event.get("repository") or {}).get("full_name") or env.get("GITHUB_REPOSITORY", "")
            ),
            head_sha=str(wr["head_sha"]),
            head_repo=((wr.get("head_repository") or {}).get("full_name")),
            pr_numbers=numbers,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise EventError(f"malformed workflow_run event: {exc}") from exc


def write_outputs(path: str | None, values: Mapping[str, Any]) -> None:
    """Append ``name<<DELIM`` blocks to $GITHUB_OUTPUT (random delimiter per value)."""
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:
        for k, v in values.items():
            text = "" if v is None else str(v)
            delim = f"ghadelimiter_{secrets.token_hex(8)}"
            while delim in text:
                delim = f"ghadelimiter_{secrets.token_hex(8)}"
            fh.write(f"{k}<<{delim}\n{text}\n{delim}\n")


def write_step_summary(path: str | None, markdown: str) -> None:
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(markdown)


def run_url(env: Mapping[str, str]) -> str | None:
    server, repo, run = (
        env.get("GITHUB_SERVER_URL"),
        env.get("GITHUB_REPOSITORY"),
        env.get("GITHUB_RUN_ID"),
    )
    if server and repo and run:
        return f"{server}/{repo}/actions/runs/{run}"
    return None


def log(msg: str, stream: IO[str] | None = None) -> None:
    print(msg, file=stream or sys.stderr, flush=True)
