"""``allocpolicy github-review``: scan, then report to a pull request.

Every option also reads an environment variable (``ALLOCPOLICY_<NAME>``), which
is how ``action.yml`` passes its inputs (never by ``${{ }}`` inside a script).
The token is only read from the environment (``ALLOCPOLICY_GITHUB_TOKEN`` or
``GITHUB_TOKEN``) so it never shows in a process list.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from allocpolicy._record import field, record, replace
from allocpolicy.model import Finding, Severity

from . import artifact, image, render, workflow
from .diffmap import GITHUB_MAX_FILES, DiffMap, git_diff, parse_patch
from .headview import HeadView, at_head
from .plan import ANNOTATION, FILE, FILTER_MODES, INLINE, Plan, RuleInfo, build_plan

if TYPE_CHECKING:  # the client (and PyGithub) is imported only when a pull request is read
    from .client import GitHubClient, Policy
    from .headtree import Head
    from .review import ReviewOutcome

REPORTERS = ("review", "annotations", "sarif", "none")
HEAD_SOURCES = ("checkout", "api")
FAIL_ON = ("error", "warning", "info", "none")


def _env(name: str, default: str | None = None) -> str | None:
    v = os.environ.get(f"ALLOCPOLICY_{name}")
    return v if v not in (None, "") else default


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="allocpolicy github-review",
        description="Scan the checkout and report findings on a GitHub pull request "
        "(review comments with suggestions, a summary comment, annotations, job summary).",
    )
    p.add_argument(
        "--path",
        default=_env("PATH_INPUT", os.environ.get("GITHUB_WORKSPACE", ".")),
        help="directory to scan",
    )
    p.add_argument("--config", default=_env("CONFIG"), help="allocpolicy config file")
    p.add_argument("--filter-mode", choices=FILTER_MODES, default=_env("FILTER_MODE", "added"))
    p.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default=_env("FAIL_ON"),
        help="default: the config's fail-on, else error",
    )
    p.add_argument("--reporter", choices=REPORTERS, default=_env("REPORTER", "review"))
    p.add_argument("--max-comments", type=int, default=int(_env("MAX_COMMENTS", "30") or 30))
    p.add_argument(
        "--review-event",
        choices=("COMMENT", "REQUEST_CHANGES"),
        default=_env("REVIEW_EVENT", "COMMENT"),
    )
    p.add_argument(
        "--api-url",
        default=_env("API_URL", os.environ.get("GITHUB_API_URL", "https://api.github.com")),
    )
    p.add_argument(
        "--bot-login",
        default=_env("BOT_LOGIN"),
        help="login the token posts as (default: asked of GitHub)",
    )
    p.add_argument("--event-path", default=os.environ.get("GITHUB_EVENT_PATH"))
    p.add_argument("--event-name", default=os.environ.get("GITHUB_EVENT_NAME", ""))
    p.add_argument(
        "--findings-out",
        default=_env("FINDINGS_OUT"),
        help="write a findings file (two-workflow setup)",
    )
    p.add_argument(
        "--findings-in",
        default=_env("FINDINGS_IN"),
        help="post a findings file instead of scanning (workflow_run)",
    )
    p.add_argument("--sarif-file", default=_env("SARIF_FILE"), help="write SARIF here")
    p.add_argument(
        "--head-source",
        choices=HEAD_SOURCES,
        default=_env("HEAD_SOURCE", "checkout"),
        help="checkout: scan --path; api: read the PR head's files through the API as data "
        "and scan them (pull_request_target, no checkout of the PR)",
    )
    p.add_argument(
        "--image",
        default=_env("IMAGE"),
        help="also inspect this artifact (tarball, OCI layout, directory, ELF) against the checkout",
    )
    p.add_argument(
        "--seconds-between-writes",
        type=float,
        default=float(_env("SECONDS_BETWEEN_WRITES", "1.0") or 1.0),
    )
    p.add_argument(
        "--max-rate-limit-wait",
        type=float,
        default=float(_env("MAX_RATE_LIMIT_WAIT", "300") or 300),
    )
    return p


@record
class Options:
    path: Path = Path(".")
    config: Path | None = None
    filter_mode: str = "added"
    fail_on: str | None = None
    reporter: str = "review"
    max_comments: int = 30
    review_event: str = "COMMENT"
    api_url: str = "https://api.github.com"
    bot_login: str | None = None  # None: learnt from the token (GET /user)
    event_path: str | None = None
    event_name: str = ""
    findings_out: Path | None = None
    findings_in: Path | None = None
    sarif_file: Path | None = None
    # "api": the PR head's files are read through the API into a temporary directory and
    # scanned there (frontdoors/github/headtree.py); `path` is then the trusted checkout,
    # where the config comes from
    head_source: str = "checkout"
    image: str | None = (
        None  # the `image:` input: inspected with --repo (frontdoors/github/image.py)
    )
    seconds_between_writes: float = 1.0
    seconds_between_requests: float = 0.25
    max_rate_limit_wait: float = 300.0
    token: str = ""
    sleep: Callable[[float], None] | None = None
    env: Mapping[str, str] = field(default_factory=dict)


@record
class Inputs:
    findings: list[Finding]
    rules: dict[str, RuleInfo]
    inventory: list[dict[str, Any]]
    config_fail_on: Severity | None = None
    source: dict[str, dict[int, str]] | None = None  # artifact mode: line text for diff blocks
    pr_number: int | None = None
    head_sha: str | None = None
    result: Any = None  # the ScanResult, when scanned here (for SARIF)
    notes: list[str] = field(default_factory=list)  # for the job summary and the log
    # where the scanned directory is in the repository, when git cannot say (an API head)
    prefix: str | None = None
    unread: set[str] = field(default_factory=set)  # placeholder files: not the head's lines


def rule_infos(result: Any) -> dict[str, RuleInfo]:
    return catalogue_infos(getattr(result, "rules", None) or {})


def catalogue_infos(rules: Mapping[str, Any]) -> dict[str, RuleInfo]:
    """What comments show of each rule, from the rules as loaded."""
    out = {}
    for rid, r in rules.items():
        try:
            why = r.why
        except Exception:
            why = ""
        out[rid] = RuleInfo(
            rid,
            getattr(r, "name", rid),
            why,
            getattr(r, "documentation", "") or "",
            getattr(r, "summary", "") or "",
        )
    return out


def inputs_from_result(result: Any) -> Inputs:
    cfg = getattr(result, "config", None)
    return Inputs(
        findings=list(result.findings),
        rules=rule_infos(result),
        inventory=list(getattr(result, "inventory", []) or []),
        config_fail_on=getattr(cfg, "fail_on", None),
        result=result,
    )


def rebase(findings: list[Finding], prefix: str) -> list[Finding]:
    """Make paths relative to the repository when a subdirectory was scanned."""
    if not prefix:
        return findings
    from allocpolicy._record import replace  # model classes are records, not dataclasses

    out = []
    for f in findings:
        loc = replace(f.location, path=f"{prefix}/{f.location.path}")
        fix = None
        if f.fix is not None:
            fix = replace(
                f.fix, edits=tuple(replace(e, path=f"{prefix}/{e.path}") for e in f.fix.edits)
            )
        out.append(replace(f, location=loc, fix=fix))
    return out


def repo_prefix(root: Path) -> str:
    """root relative to the top of its git checkout ("" if it is the top)."""
    import subprocess

    try:
        top = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""
    if not top:
        return ""
    try:
        rel = root.resolve().relative_to(Path(top).resolve()).as_posix()
    except ValueError:
        return ""
    return "" if rel == "." else rel


class SourceReader:
    """Reads lines of checked-out files, as data, never outside ``root``."""

    def __init__(
        self,
        root: Path,
        extra: dict[str, dict[int, str]] | None = None,
        read_files: bool = True,
        unread: set[str] | None = None,
    ):
        self.root = root.resolve()
        self.extra = extra or {}
        self.read_files = read_files
        self.unread = unread or set()  # files standing in for the head's (empty, or a hole)
        self.cache: dict[str, list[str] | None] = {}
        self.final_newline: dict[str, bool] = {}

    def lines(self, path: str) -> list[str] | None:
        if path not in self.cache:
            self.cache[path] = None
            if self.read_files and path not in self.unread:
                try:
                    full = (self.root / path).resolve()
                    if (
                        full.is_relative_to(self.root)
                        and full.is_file()
                        and full.stat().st_size < 5_000_000
                    ):
                        # split at \n only, as git counts lines; a CRLF file keeps its CRs
                        # so diff blocks of its fixes apply to it
                        data = full.read_bytes().decode("utf-8", "replace")
                        text = data.removesuffix("\n")
                        self.cache[path] = text.split("\n") if data else []
                        self.final_newline[path] = data.endswith("\n")
                except OSError:
                    pass
        return self.cache[path]

    def ending(self, path: str) -> tuple[int, bool] | None:
        """The file's line count and whether it ends with a newline (for diff blocks)."""
        lines = self.lines(path)
        return None if lines is None else (len(lines), self.final_newline.get(path, True))

    def __call__(self, path: str, n: int) -> str | None:
        if path in self.extra and n in self.extra[path]:
            return self.extra[path][n]
        lines = self.lines(path)
        if lines is None or not 1 <= n <= len(lines):
            return None
        return lines[n - 1]


def resolve_fail_on(opt: Options, inputs: Inputs) -> Severity | None:
    if opt.fail_on == "none":
        return None
    if opt.fail_on:
        return Severity(opt.fail_on)
    return inputs.config_fail_on or Severity.ERROR


def build_diff(api: Any, pull: Any, root: Path, log: Callable[[str], None]) -> DiffMap:
    """Diff map from pulls/list-files, completed by a local git diff when GitHub
    leaves a patch out or lists fewer files than the PR has."""
    dm = DiffMap()
    files = api.list_files()
    for f in files:
        if f.patch is not None:
            dm.files[f.filename] = parse_patch(f.filename, f.patch, f.status, f.previous_filename)
            dm.sources[f.filename] = "api"
        elif f.status == "removed":
            dm.files[f.filename] = parse_patch(f.filename, "", "removed")
        else:
            dm.missing.append(f.filename)
    dm.truncated = len(files) >= GITHUB_MAX_FILES or (pull.changed_files or 0) > len(files)
    dm.pr_files = max(pull.changed_files or 0, len(files))
    if dm.missing or dm.truncated:
        local = git_diff(root, pull.base_sha, pull.head_sha, None if dm.truncated else dm.missing)
        dm.unlisted = dm.truncated and local is None
        if local is None:
            log(
                "allocpolicy: no local git diff available (fetch more history?); some files have no known hunks"
            )
            for p in dm.missing:
                dm.files[p] = parse_patch(
                    p, "", "modified"
                )  # in the PR, but nothing can be anchored
                dm.sources[p] = "none"
        else:
            for p, fd in local.items():
                if p in dm.missing or (dm.truncated and p not in dm.files):
                    dm.files[p] = fd
                    dm.sources[p] = "git"
            for p in dm.missing:
                if p not in dm.files:
                    dm.files[p] = parse_patch(p, "", "modified")
                    dm.sources[p] = "none"
    return dm


def unlisted_note(diff: DiffMap) -> str:
    """What the job summary says when the PR has files neither GitHub nor git listed."""
    listed = len(diff.files) + len(diff.missing)
    return (
        f"GitHub lists at most {GITHUB_MAX_FILES} files of a pull request: {listed} of its "
        f"{diff.pr_files} changed files are known, and no local git diff of the base was possible "
        "(a shallow checkout? fetch-depth: 0 fixes it). Findings in the files not listed count "
        "as part of this pull request."
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    env = dict(os.environ)
    opt = Options(
        path=Path(args.path),
        config=Path(args.config) if args.config else None,
        filter_mode=args.filter_mode,
        fail_on=args.fail_on,
        reporter=args.reporter,
        max_comments=max(0, args.max_comments),
        review_event=args.review_event,
        api_url=args.api_url,
        bot_login=args.bot_login,
        event_path=args.event_path,
        event_name=args.event_name,
        findings_out=Path(args.findings_out) if args.findings_out else None,
        findings_in=Path(args.findings_in) if args.findings_in else None,
        sarif_file=Path(args.sarif_file) if args.sarif_file else None,
        head_source=args.head_source,
        image=args.image or None,
        seconds_between_writes=args.seconds_between_writes,
        seconds_between_requests=min(0.25, args.seconds_between_writes),
        max_rate_limit_wait=args.max_rate_limit_wait,
        token=env.get("ALLOCPOLICY_GITHUB_TOKEN") or env.get("GITHUB_TOKEN", ""),
        env=env,
    )
    if opt.head_source == "api":
        if opt.findings_in:
            workflow.log(
                "::error::allocpolicy: --head-source api scans the head itself; it takes no "
                "findings file (--findings-in)"
            )
            return 2
        inputs = Inputs([], {}, [])  # the scan runs once the pull request is read (_scan_api_head)
    elif opt.findings_in:
        try:
            data = artifact.load(opt.findings_in)
        except (OSError, artifact.ArtifactError) as exc:
            workflow.log(
                f"::error::allocpolicy: unusable findings file: {workflow.escape_data(exc)}"
            )
            return 2
        try:
            catalogue = own_catalogue(opt)
        except Exception as exc:
            workflow.log(
                f"::error::allocpolicy: cannot load the rule catalogue: {workflow.escape_data(exc)}"
            )
            return 2
        findings, unknown = artifact.with_catalogue(data["findings"], catalogue)
        inputs = Inputs(
            findings,
            catalogue,
            data["inventory"],
            None,
            data["source"],
            data["number"],
            data["head_sha"],
            notes=[
                f"The findings file names rule {rid}, which this workflow's rules do not know; "
                "its findings are dropped."
                for rid in unknown
            ],
        )
    else:
        from allocpolicy.commands.scan import scan

        try:
            result = scan(opt.path, opt.config)
        except Exception as exc:
            workflow.log(f"::error::allocpolicy: scan failed: {workflow.escape_data(exc)}")
            return 2
        inputs = inputs_from_result(result)
        prefix = repo_prefix(opt.path)
        if prefix:
            inputs.findings = rebase(inputs.findings, prefix)
            opt.path = opt.path.resolve().parents[len(prefix.split("/")) - 1]  # the checkout root
    return run(inputs, opt)


def own_catalogue(opt: Options) -> dict[str, RuleInfo]:
    """This workflow's rules (shipped, plus the policies its own config names), by id.

    In fork-safe mode every word a comment shows comes from here, never from the file.
    """
    from allocpolicy.config import load_config
    from allocpolicy.policy.loader import load_rules

    root = opt.path.resolve()
    return catalogue_infos(load_rules(load_config(root, opt.config).policies, root))


def _log(message: str) -> None:
    """Log through workflow.log as looked up at call time (tests replace it)."""
    workflow.log(message)


def _to_annotations(reporter: str) -> str:
    """The reporter to use when a review cannot be posted: annotations stand in for it."""
    return "annotations" if reporter == "review" else reporter


def run(inputs: Inputs, opt: Options, out: IO[str] | None = None) -> int:
    """Report ``inputs`` according to ``opt``; returns the exit code (0 pass, 1 fail-on hit,
    2 error). Any error ends as a message with the job summary and outputs, never a traceback."""
    try:
        return _run(inputs, opt, out)
    except Exception as exc:  # e.g. a response cut mid-body: requests' ChunkedEncodingError
        return _report_crash(inputs, opt, out, exc)


def _report_crash(inputs: Inputs, opt: Options, out: IO[str] | None, exc: Exception) -> int:
    """Say what went wrong, then annotate, summarise and set outputs as far as they go."""
    problem = f"allocpolicy: error: {type(exc).__name__}: {exc}"
    _log(f"::error::{workflow.escape_data(problem)}")
    findings = list(inputs.findings)
    steps: list[Callable[[], None]] = [
        lambda: _print_annotations(inputs, None, findings, None, out or sys.stdout),
        lambda: workflow.write_step_summary(
            opt.env.get("GITHUB_STEP_SUMMARY"),
            render.job_summary(findings, None, inputs.inventory, [problem], "error", True),
        ),
        lambda: workflow.write_outputs(
            opt.env.get("GITHUB_OUTPUT"),
            _step_outputs(inputs, findings, "annotations", None, None, True),
        ),
    ]
    for step in steps:
        try:
            step()
        except Exception as again:  # one failing step must not stop the others
            _log(f"allocpolicy: could not finish reporting: {type(again).__name__}: {again}")
    return 2


def _run(inputs: Inputs, opt: Options, out: IO[str] | None) -> int:
    notes: list[str] = list(inputs.notes)
    ctx, wr = _event_context(opt, notes)
    ctx, reporter = _choose_reporter(opt, inputs, ctx, wr, notes)
    api, diff, reporter = _read_pull(opt, ctx, reporter, notes)
    if opt.head_source != "api":
        return _report(inputs, opt, out, notes, ctx, api, diff, reporter)
    head, problem = _scan_api_head(opt, inputs, ctx, api, notes)
    if head is None:
        return _not_scanned(opt, inputs, problem or "", notes)
    try:
        return _report(inputs, replace(opt, path=head.root), out, notes, ctx, api, diff, reporter)
    finally:
        from .headtree import remove

        remove(head.top)


def _report(
    inputs: Inputs,
    opt: Options,
    out: IO[str] | None,
    notes: list[str],
    ctx: workflow.PullContext | None,
    api: GitHubClient | None,
    diff: DiffMap | None,
    reporter: str,
) -> int:
    """Plan, post and summarise the findings on the pull request's diff."""
    inputs.rules = render.with_pages(inputs.rules, opt.env)  # comments link the rule pages
    fail_on = resolve_fail_on(opt, inputs)
    diff = _local_diff_fallback(opt, ctx, diff, notes)
    if diff is not None and diff.unlisted:
        notes.append(unlisted_note(diff))

    reader = SourceReader(
        opt.path, inputs.source, read_files=not opt.findings_in, unread=inputs.unread
    )
    scanned = inputs.findings
    view = _head_view(opt, ctx, inputs, diff, reader, notes)
    line_reader: Callable[[str, int], str | None] = reader
    if view is not None:
        inputs.findings = view.findings
        line_reader = view.reader or reader
    plan: Plan | None = None
    if diff is not None:
        causes = _causes(opt, inputs, diff, notes)
        plan = build_plan(
            inputs.findings,
            inputs.rules,
            diff,
            opt.filter_mode,
            line_reader,
            causes,
            (lambda f: id(f) not in view.unanchored) if view is not None else None,
            view.suggest if view is not None else True,
        )
    in_scope = plan.in_scope if plan is not None else list(inputs.findings)

    outcome, reporter = _post_review(
        opt, inputs, ctx, api, diff, plan, line_reader, fail_on, reporter, notes
    )
    if reporter in ("annotations", "review"):
        _print_annotations(inputs, plan, in_scope, outcome, out or sys.stdout)
    sarif_path = _write_sarif(opt, inputs, reporter, notes)
    if opt.findings_out:  # as scanned: the posting run reads the lines it saves
        _write_findings_file(opt.findings_out, replace(inputs, findings=scanned), ctx, reader)

    built = _inspect_image(opt, reporter, out)
    counted = in_scope + (built.findings if built is not None else [])
    failed = fail_on is not None and any(f.severity.at_least(fail_on) for f in counted)
    if outcome is not None:
        notes.extend(_outcome_notes(outcome))
    fail_label = fail_on.value if fail_on else "none"
    summary_md = render.job_summary(
        list(inputs.findings),
        plan,
        inputs.inventory,
        notes,
        fail_label,
        failed,
        reader,
        counted=in_scope,
    )
    if built is not None:
        summary_md += image.summary_section(built)
    workflow.write_step_summary(opt.env.get("GITHUB_STEP_SUMMARY"), summary_md)
    workflow.write_outputs(
        opt.env.get("GITHUB_OUTPUT"),
        _step_outputs(inputs, counted, reporter, outcome, sarif_path, failed),
    )
    for n in notes:
        _log(f"allocpolicy: {n}")
    if built is not None and built.error is not None:
        return 2
    return 1 if failed else 0


def _inspect_image(opt: Options, reporter: str, out: IO[str] | None) -> image.ImageReport | None:
    """The `image:` input, inspected against the checkout; its findings are annotations
    (a binary is no line of the diff) whenever the scan's findings would be."""
    if not opt.image:
        return None
    built = image.inspect_image(opt.image, opt.path, opt.config)
    if built.error is not None:
        workflow.log(f"::error::allocpolicy: {workflow.escape_data(built.error)}")
    elif reporter in ("annotations", "review"):
        for line in workflow.annotation_lines(built.findings):
            print(line, file=out or sys.stdout)
    return built


def _head_view(
    opt: Options,
    ctx: workflow.PullContext | None,
    inputs: Inputs,
    diff: DiffMap | None,
    reader: SourceReader,
    notes: list[str],
) -> HeadView | None:
    """Findings on the PR head's lines when the scanned checkout is another commit."""
    if ctx is None or diff is None or opt.findings_in or opt.head_source == "api":
        return None  # an API head is the head: its lines are the diff's
    view = at_head(opt.path, ctx.head_sha, inputs.findings, diff, reader)
    if view is not None:
        notes.append(view.note)
    return view


def _causes(opt: Options, inputs: Inputs, diff: DiffMap, notes: list[str]) -> dict[int, list[str]]:
    """Findings outside the diff that the PR's changes cause (needs this run's scan)."""
    result = inputs.result
    if result is None or opt.findings_in:
        return {}
    from .scope import causes

    root = Path(result.root)
    prefix = inputs.prefix if inputs.prefix is not None else repo_prefix(root)
    try:
        found = causes(root, prefix, result.config, diff, inputs.findings, inputs.inventory)
    except Exception as exc:  # the widening is an addition: without it, the diff's own scope stands
        notes.append(
            f"Could not tell which findings outside the diff this pull request causes ({exc})."
        )
        return {}
    if found:
        notes.append(
            f"{len(found)} finding(s) in files this pull request does not change are caused by its "
            "changes (the crates it changes and the images that build them); they count for fail-on."
        )
    return found


def _scan_api_head(
    opt: Options,
    inputs: Inputs,
    ctx: workflow.PullContext | None,
    api: GitHubClient | None,
    notes: list[str],
) -> tuple[Head | None, str | None]:
    """``--head-source api``: the head's files read as data into a temporary directory
    and scanned there with the trusted side's rules and config; ``inputs`` filled in.

    None and why when it cannot be (then nothing is scanned, and nothing posted).
    """
    if ctx is None:
        return None, (
            "head-source api reads a pull request's head, and this event is about none "
            "(use it on pull_request_target)."
        )
    if api is None:
        return None, "head-source api needs the API to read the head, and it could not be read."
    from allocpolicy.commands.scan import scan
    from allocpolicy.config import load_config

    from .client import ApiError
    from .headtree import Incomplete, read_head, remove

    trusted = opt.path.resolve()
    prefix = _trusted_prefix(opt)
    try:
        # the workflow's own checkout (the base branch) or the defaults: never the head's
        config = load_config(trusted, opt.config)
    except Exception as exc:
        return None, f"Cannot load the trusted config: {exc}."
    try:
        head = read_head(
            api,
            ctx.head_sha,
            prefix=prefix,
            config=config,
            temp_parent=opt.env.get("RUNNER_TEMP"),
            log=_log,
        )
    except Incomplete as exc:
        return None, (
            f"The pull request's head was not scanned: {exc}. A partial scan could pass what "
            "it did not see; for a tree past these limits, use the two-workflow setup."
        )
    except ApiError as exc:
        return None, f"Could not read the pull request's head through the API ({exc})."
    except OSError as exc:  # RUNNER_TEMP missing or full
        return None, f"Could not write the pull request's head into a temporary directory ({exc})."
    notes.extend(head.notes)
    notes.append(head.summary())
    root = head.root / prefix if prefix else head.root
    try:
        root.mkdir(parents=True, exist_ok=True)  # a PR that deletes the directory: nothing in it
        result = scan(root, config=config)
    except Exception as exc:
        remove(head.top)
        return None, f"The scan of the pull request's head failed: {exc}."
    scanned = inputs_from_result(result)
    inputs.findings = rebase(scanned.findings, prefix)
    inputs.rules = scanned.rules
    inputs.inventory = scanned.inventory
    inputs.config_fail_on = scanned.config_fail_on
    inputs.result = result
    inputs.prefix = prefix
    inputs.unread = head.placeholders
    return head, None


def _trusted_prefix(opt: Options) -> str:
    """Where --path is in the repository: its place in the trusted checkout, else in the
    workspace; the same directory of the head is scanned."""
    prefix = repo_prefix(opt.path)
    if prefix:
        return prefix
    workspace = opt.env.get("GITHUB_WORKSPACE")
    if not workspace:
        return ""
    try:
        rel = opt.path.resolve().relative_to(Path(workspace).resolve()).as_posix()
    except ValueError:
        return ""
    return "" if rel == "." else rel


def _not_scanned(opt: Options, inputs: Inputs, problem: str, notes: list[str]) -> int:
    """Nothing was scanned: a warning, the job summary and outputs say so; nothing is
    posted (an empty review would mark every open finding fixed). Exit 2: the check did
    not run, so it must not pass."""
    _log(f"::warning::allocpolicy: {workflow.escape_data(problem)}")
    from . import mdsafe

    notes = [*notes, problem]
    summary = ["## allocpolicy", "", "⚠️ not scanned: nothing was checked or posted", ""]
    summary += [f"> {mdsafe.message(n, 1000)}" for n in notes]
    workflow.write_step_summary(opt.env.get("GITHUB_STEP_SUMMARY"), "\n".join(summary) + "\n")
    workflow.write_outputs(
        opt.env.get("GITHUB_OUTPUT"), _step_outputs(inputs, [], "none", None, None, True)
    )
    for n in notes:
        _log(f"allocpolicy: {n}")
    return 2


def _event_context(
    opt: Options, notes: list[str]
) -> tuple[workflow.PullContext | None, workflow.WorkflowRun | None]:
    """Which pull request (or workflow_run) the event is about; a bad event is a note, not a crash."""
    event = None
    try:
        event = workflow.load_event(opt.event_path, opt.event_name, opt.env)
    except workflow.EventError as exc:
        notes.append(str(exc))
    try:
        ctx = workflow.pull_context(event, opt.event_name, opt.env)
        wr = workflow.workflow_run_context(event, opt.env) if ctx is None else None
    except workflow.EventError as exc:
        notes.append(str(exc))
        return None, None
    return ctx, wr


def _choose_reporter(
    opt: Options,
    inputs: Inputs,
    ctx: workflow.PullContext | None,
    wr: workflow.WorkflowRun | None,
    notes: list[str],
) -> tuple[workflow.PullContext | None, str]:
    """Fall back from review to annotations wherever posting is not allowed or not possible."""
    reporter = opt.reporter
    if opt.findings_in and wr is None:
        notes.append(
            "A findings file is only posted from a workflow_run event; reporting it without a review."
        )
        reporter = _to_annotations(reporter)
    if wr is not None:
        ctx, problem = _workflow_run_pull(opt, inputs, wr)
        if problem:
            notes.append(problem)
            reporter = _to_annotations(reporter)
    if ctx is None and reporter == "review":
        notes.append(
            "Not a pull request event: findings are reported as annotations and in this summary."
        )
        reporter = "annotations"
    if ctx is not None and ctx.read_only and reporter == "review":
        notes.append(
            f"Read-only token ({ctx.read_only_reason}): findings are reported as annotations and in this summary; "
            "use the two-workflow setup (pull_request + workflow_run) to get review comments on fork PRs."
        )
        reporter = "annotations"
    return ctx, reporter


def _read_pull(
    opt: Options, ctx: workflow.PullContext | None, reporter: str, notes: list[str]
) -> tuple[GitHubClient | None, DiffMap | None, str]:
    """The API client and the PR's diff from GitHub; no review on a PR that moved on."""
    if ctx is None or not opt.token:
        return None, None, reporter
    from .client import ApiError, GitHubClient

    try:
        api = GitHubClient(
            opt.token,
            ctx.repo,
            ctx.number,
            api_url=opt.api_url,
            policy=_policy(opt, log=_log),
            seconds_between_requests=opt.seconds_between_requests,
            seconds_between_writes=opt.seconds_between_writes,
        )
        pull = api.get_pull()
        if pull.head_sha != ctx.head_sha:
            notes.append(
                f"The pull request has moved on to {pull.head_sha[:12]} since {ctx.head_sha[:12]} was scanned; "
                "not posting a review (the run for the new commit will)."
            )
            reporter = _to_annotations(reporter)
        return api, build_diff(api, pull, opt.path, _log), reporter
    except ApiError as exc:
        notes.append(f"Could not read the pull request from the API ({exc}).")
        return None, None, reporter


def _policy(opt: Options, log: Callable[[str], None] | None = None) -> Policy:
    """Rate-limit policy from the options (the sleep is injectable for tests)."""
    import time

    from .client import Policy

    return Policy(max_wait=opt.max_rate_limit_wait, sleep=opt.sleep or time.sleep, log=log)


def _local_diff_fallback(
    opt: Options, ctx: workflow.PullContext | None, diff: DiffMap | None, notes: list[str]
) -> DiffMap | None:
    """Without the API's diff, the local checkout's git diff (not in artifact mode nor for
    an API head: there is no checkout of the pull request)."""
    if ctx is not None and diff is None and not opt.findings_in and opt.head_source != "api":
        local = git_diff(opt.path, ctx.base_sha, ctx.head_sha)
        if local is not None:
            diff = DiffMap(files=local, sources={p: "git" for p in local})
    if ctx is not None and diff is None:
        notes.append("The pull request diff is unknown: every finding is reported.")
    return diff


def _post_review(
    opt: Options,
    inputs: Inputs,
    ctx: workflow.PullContext | None,
    api: GitHubClient | None,
    diff: DiffMap | None,
    plan: Plan | None,
    reader: Callable[[str, int], str | None],
    fail_on: Severity | None,
    reporter: str,
    notes: list[str],
) -> tuple[ReviewOutcome | None, str]:
    """Reconcile the review with the plan when everything a review needs is there."""
    if reporter != "review":
        return None, reporter
    if plan is None or api is None or ctx is None or diff is None:
        notes.append("No usable GitHub API access: findings are reported as annotations.")
        return None, "annotations"
    from .review import Reviewer, ReviewOptions

    client = api

    def refresh() -> DiffMap:
        return build_diff(client, client.get_pull(), opt.path, _log)

    reviewer = Reviewer(
        api,
        ctx.head_sha,
        plan,
        inputs.rules,
        diff,
        ReviewOptions(opt.max_comments, opt.review_event, _bot_login(opt, api), fail_on),
        reader,
        workflow.run_url(opt.env),
        refresh,
        _log,
    )
    outcome = reviewer.run()
    notes.extend(outcome.notes)
    if outcome.fallback:
        notes.append(
            f"Review not posted: {outcome.fallback}. Findings are reported as annotations instead."
        )
        return outcome, _to_annotations(reporter)  # the `reporter` output says what was used
    return outcome, reporter


def _bot_login(opt: Options, api: GitHubClient) -> str | None:
    """The login the token posts as: an explicit --bot-login, else what GET /user says
    (a PAT); None for integration tokens, which GET /user refuses (see Reviewer._mine)."""
    if opt.bot_login:
        return opt.bot_login
    login = api.authenticated_login()
    _log(f"the token posts as {login}" if login else "the token posts as an app ([bot] login)")
    return login


def _print_annotations(
    inputs: Inputs,
    plan: Plan | None,
    in_scope: list[Finding],
    outcome: ReviewOutcome | None,
    out: IO[str],
) -> None:
    """Annotate every in-scope finding that is not already an inline or file review comment."""
    if outcome is not None and not outcome.fallback and plan is not None:
        ann = [f for f in in_scope if plan.disposition.get(plan.key(f)) not in (INLINE, FILE)]
    else:
        ann = list(in_scope)
        if plan is not None:
            for f in ann:
                plan.disposition[plan.key(f)] = ANNOTATION
    names = {k: r.name for k, r in inputs.rules.items()}
    for line in workflow.annotation_lines(ann, names):
        print(line, file=out)


def _write_sarif(opt: Options, inputs: Inputs, reporter: str, notes: list[str]) -> Path | None:
    """SARIF for code scanning, when asked for; needs the scan result (not a findings file)."""
    if not (reporter == "sarif" or opt.sarif_file):
        return None
    sarif_path = opt.sarif_file or Path(opt.env.get("RUNNER_TEMP", ".")) / "allocpolicy.sarif"
    try:
        from allocpolicy.reporters.sarif import render as render_sarif

        result = inputs.result
        if result is None:
            raise ImportError("SARIF needs a scan result")
        sarif_path.write_text(render_sarif(result), encoding="utf-8")
    except ImportError as exc:
        notes.append(f"SARIF output is not available in this version ({exc}).")
        return None
    return sarif_path


def _write_findings_file(
    path: Path, inputs: Inputs, ctx: workflow.PullContext | None, reader: SourceReader
) -> None:
    """The first half of the two-workflow setup: findings plus the lines their fixes touch."""
    artifact.dump(
        path,
        inputs.findings,
        inputs.inventory,
        ctx.number if ctx else None,
        ctx.head_sha if ctx else None,
        _source_for_fixes(inputs.findings, reader),
    )


def _outcome_notes(outcome: ReviewOutcome) -> list[str]:
    """What the review did, for the job summary and the log."""
    notes = [f"Review: {outcome.review_url}"] if outcome.review_url else []
    notes.append(
        f"Review comments: {len(outcome.posted)} posted, {outcome.unchanged} unchanged, "
        f"{outcome.updated} updated, {outcome.resolved} resolved"
        + (f", {outcome.deleted} duplicate(s) deleted" if outcome.deleted else "")
        + (
            f", {outcome.retired_reviews} duplicate review(s) retired"
            if outcome.retired_reviews
            else ""
        )
        + (f", {outcome.threads_resolved} thread(s) resolved" if outcome.threads_resolved else "")
        + (f", {outcome.minimized} duplicate(s) minimised" if outcome.minimized else "")
        + "."
    )
    return notes + list(outcome.job_notes)


def _step_outputs(
    inputs: Inputs,
    in_scope: list[Finding],
    reporter: str,
    outcome: ReviewOutcome | None,
    sarif_path: Path | None,
    failed: bool,
) -> dict[str, Any]:
    """The step outputs action.yml declares, one per name."""
    counts = render.severity_counts(in_scope)
    return {
        "findings": len(in_scope),
        "errors": counts["error"],
        "warnings": counts["warning"],
        "infos": counts["info"],
        "total-findings": len(inputs.findings),
        "reporter": reporter,
        "review-url": (outcome.review_url if outcome else "") or "",
        "sarif-file": str(sarif_path) if sarif_path else "",
        "failed": str(failed).lower(),
    }


def _workflow_run_pull(
    opt: Options, inputs: Inputs, wr: workflow.WorkflowRun
) -> tuple[workflow.PullContext | None, str | None]:
    """Re-derive the PR for a workflow_run from GitHub, not from the artifact."""
    numbers = set(wr.pr_numbers)
    claimed = inputs.pr_number
    if claimed is not None and numbers and claimed not in numbers:
        return (
            None,
            f"The findings file names PR #{claimed}, which the triggering run is not about; not posting.",
        )
    number = claimed if claimed is not None else (min(numbers) if numbers else None)
    if number is None:
        return None, "Cannot tell which pull request the findings are for; not posting."
    if inputs.head_sha is not None and inputs.head_sha != wr.head_sha:
        return (
            None,
            "The findings file was produced for another commit than the triggering run; not posting.",
        )
    if not opt.token:
        return None, "No token to post with."
    from .client import ApiError, GitHubClient

    try:
        api = GitHubClient(
            opt.token,
            wr.repo,
            number,
            api_url=opt.api_url,
            policy=_policy(opt),
            seconds_between_requests=opt.seconds_between_requests,
            seconds_between_writes=opt.seconds_between_writes,
        )
        pull = api.get_pull()
    except ApiError as exc:
        return None, f"Cannot read PR #{number} ({exc}); not posting."
    if pull.head_sha != wr.head_sha:
        return (
            None,
            f"PR #{number} has moved on to {pull.head_sha[:12]}; these findings are for {wr.head_sha[:12]}. Not posting.",
        )
    if pull.base_repo != wr.repo or (
        wr.head_repo and pull.head_repo and pull.head_repo != wr.head_repo
    ):
        return None, f"PR #{number} does not belong to the triggering run; not posting."
    ctx = workflow.PullContext(
        repo=wr.repo,
        number=number,
        head_sha=pull.head_sha,
        base_sha=pull.base_sha,
        head_repo=pull.head_repo,
        event_name="workflow_run",
    )
    return ctx, None


def _source_for_fixes(findings: list[Finding], reader: SourceReader) -> dict[str, dict[int, str]]:
    src: dict[str, dict[int, str]] = {}
    for f in findings:
        if f.fix is None:
            continue
        for e in f.fix.edits:
            for n in range(max(1, e.start_line - 1), e.end_line + 2):
                t = reader(e.path, n)
                if t is not None:
                    src.setdefault(e.path, {})[n] = t
    return src
