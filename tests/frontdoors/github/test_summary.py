"""The summary comment groups by rule and stays short; the job summary and the
annotations carry every fix for authors who get no suggestion."""

from __future__ import annotations

import io
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from gh_helpers import BASE, CONTAINERFILE_PATCH, HEAD, parse_outputs, rules
from ghdouble import PrFile

from allocpolicy.commands.scan import scan
from allocpolicy.frontdoors.github import render
from allocpolicy.frontdoors.github.command import Options, inputs_from_result, run
from allocpolicy.frontdoors.github.diffmap import DiffMap
from allocpolicy.frontdoors.github.plan import RuleInfo, build_plan
from allocpolicy.model import Edit, Finding, Fix, Location, Safety, Severity

pytestmark = pytest.mark.github
RUN_URL = "https://github.invalid/octo/app/actions/runs/42"
BLOB = f"https://github.invalid/octo/app/blob/{HEAD}/"


def _service(n: int) -> Finding:
    path = f"services/svc-{n:02d}/Containerfile"
    return Finding(
        "AP001",
        "musl-default-allocator",
        Severity.ERROR,
        Location(path, 1, 6, 1, 19),
        f"{path} ships `svc-{n:02d}` built for x86_64-unknown-linux-musl (musl, static) with the "
        "system allocator; musl and static builds must link mimalloc as #[global_allocator]",
        Fix(
            "Link mimalloc as the #[global_allocator]",
            Safety.SAFE,
            (Edit(f"services/svc-{n:02d}/src/main.rs", 1, 1, 1, 1, "use mimalloc as _;\n"),),
        ),
        snippet="FROM rust:1-alpine",
    )


def test_a_45_service_pull_request_gets_one_short_block_per_rule(double, bot):
    """30 inline comments (max-comments), the other 15 in the summary: one AP001 block,
    each location a link to its file and line at the head commit."""
    files = [
        PrFile(f"services/svc-{n:02d}/Containerfile", CONTAINERFILE_PATCH, "added")
        for n in range(45)
    ]
    double.add_pull(7, HEAD, BASE, files)
    r = bot([_service(n) for n in range(45)], max_comments=30)
    [summary] = [c["body"] for c in double.issue_comments]
    assert len(summary) < 4_096, len(summary)
    assert summary.count("#### ") == 1 and "15 findings" in summary
    links = re.findall(r"\]\((https://[^)]*)\)", summary)
    located = [u for u in links if u.startswith(BLOB)]
    assert len(located) == 15
    assert f"{BLOB}services/svc-44/Containerfile#L1" in located
    assert summary.count("musl's malloc is slow under contention.") == 1  # the why, once
    # the job summary still lists all 45
    assert sum(f"services/svc-{n:02d}/Containerfile:1" in r.summary for n in range(45)) == 45


def test_many_locations_are_capped_with_a_count():
    fs = [_service(n) for n in range(45)]
    plan = build_plan(fs, rules(), DiffMap(), "nofilter")
    body = render.summary_body(plan, rules(), plan.summary, HEAD, RUN_URL, lambda p, n: None)
    assert len(body) < 4_096, len(body)
    assert body.count(BLOB) == render.MAX_LOCATIONS
    assert f"and {45 - render.MAX_LOCATIONS} more" in body
    assert "`allocpolicy fix --rule AP001`" in body  # 45 files: the whole tree, this rule


def test_one_finding_keeps_its_message_and_fix():
    f = _service(3)
    plan = build_plan([f], rules(), DiffMap(), "nofilter")
    body = render.summary_body(plan, rules(), plan.summary, HEAD, RUN_URL, lambda p, n: None)
    assert f"[services/svc-03/Containerfile:1]({BLOB}services/svc-03/Containerfile#L1)" in body
    assert "ships `svc-03` built for" in body and "+use mimalloc as _;" in body


def _huge(n: int) -> Finding:
    path = f"{'d' * 200}/{n}/Containerfile"
    text = "x" * 3_000 + "\n" * 50
    return Finding(
        f"ORG{n % 300:03d}",
        "n" * 500,
        Severity.WARNING,
        Location(path, n + 1, 1),
        text,
        Fix(text, Safety.UNSAFE, (Edit(path, n + 1, 1, n + 1, 1, text * 5),)),
        snippet=str(n),
    )


def test_no_body_exceeds_githubs_limit():
    fs = [_huge(n) for n in range(3_000)]
    infos = {f.rule: RuleInfo(f.rule, "r" * 400, "w" * 2_000, "", "s" * 2_000) for f in fs}
    plan = build_plan(fs, infos, DiffMap(), "nofilter")
    body = render.summary_body(
        plan, infos, plan.summary, HEAD, RUN_URL, lambda p, n: "y" * 1_000, ["note " * 500] * 20
    )
    assert len(body) <= 65_536 and "more finding(s) not shown here" in body
    inventory = [{"file": f"{'i' * 100}{n}", "base": "alpine:3"} for n in range(100)]
    some = [  # each diff just under the size shown, together far over the limit
        Finding(f.rule, f.name, f.severity, f.location, "m", Fix("t", Safety.SAFE, (edit,)))
        for f in fs[:500]
        for edit in [Edit(f.location.path, 1, 1, 1, 1, "z" * 5_000 + "\n")]
    ]
    job = render.job_summary(some, None, inventory, [], "error", True, lambda p, n: "y" * 1_000)
    assert len(job.encode()) <= 1024 * 1024
    # the record (every finding, the inventory) is whole; the fixes fill what is left
    assert job.count("| ⚠️ warning |") == 500 and f"{'i' * 100}99" in job
    assert "more file(s) with fixes" in job


def _repo(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir(parents=True)
    (tmp_path / "Cargo.toml").write_text(
        '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n'
        '[dependencies]\nmimalloc = "0.1"\n'
    )
    (tmp_path / "src" / "main.rs").write_text(
        "#[global_allocator]\nstatic GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\nfn main() {}\n"
    )
    return tmp_path


def _report_without_review(root: Path) -> tuple[str, str]:
    """Scan root and report as a fork's run would: no token, annotations and job summary."""
    step_summary = root.parent / f"{root.name}-summary.md"
    outputs = root.parent / f"{root.name}-outputs"
    step_summary.write_text("")
    outputs.write_text("")
    opt = Options(
        path=root,
        token="",
        env={"GITHUB_STEP_SUMMARY": str(step_summary), "GITHUB_OUTPUT": str(outputs)},
    )
    out = io.StringIO()
    run(inputs_from_result(scan(root)), opt, out=out)
    assert parse_outputs(outputs.read_text())["findings"] == "1"
    return step_summary.read_text(), out.getvalue()


def test_a_forks_author_reads_the_fix_in_the_job_summary_and_the_command_works(tmp_path):
    root = _repo(tmp_path / "repo")
    summary, annotations = _report_without_review(root)

    assert "### Fixes" in summary and "<details><summary>Cargo.toml" in summary
    assert '-mimalloc = "0.1"' in summary
    assert '+mimalloc = { version = "0.1", default-features = false }' in summary
    [cmd] = re.findall(r"```sh\n(.*)\n```", summary)
    assert cmd == "allocpolicy fix --rule AP004 --files Cargo.toml"
    [ann] = [a for a in annotations.splitlines() if "AP004" in a]
    assert f"Fix: {cmd}" in ann.replace("%0A", "\n")

    # the command does what it says, run from the repository root
    words = shlex.split(cmd)
    done = subprocess.run(
        [sys.executable, "-m", "allocpolicy", *words[1:]],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (
        'mimalloc = { version = "0.1", default-features = false }'
        in (root / "Cargo.toml").read_text()
    )
    assert scan(root).findings == []


def test_unsafe_fixes_say_so_in_the_command():
    f = _huge(1)
    cmd = render.fix_command([f])
    assert cmd is not None and "--unsafe-fixes" in cmd and cmd.startswith("allocpolicy fix --rule")
    assert shlex.split(cmd)[-1] == f.location.path


def test_the_fix_command_is_one_safe_shell_line_whatever_the_paths():
    fix = _service(1).fix

    def at(path: str) -> Finding:
        return Finding("AP001", "n", Severity.ERROR, Location(path, 1, 1), "m", fix)

    path = "a b/$(touch x);`id`/Containerfile"
    cmd = render.fix_command([at(path)])
    assert cmd is not None
    assert shlex.split(cmd) == ["allocpolicy", "fix", "--rule", "AP001", "--files", path]
    # a path with a line break would make two lines of shell: the whole tree instead
    assert render.fix_command([at("a\nrm -rf ~/Containerfile")]) == "allocpolicy fix --rule AP001"
