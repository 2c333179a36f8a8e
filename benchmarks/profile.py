#!/usr/bin/env python3
"""Where does an allocpolicy scan spend its time?  Run before optimising anything.

    python benchmarks/profile.py                       # 300 and 3000 services
    python benchmarks/profile.py --sizes 300 --top 30 --out profile.txt

For each synthetic repository (the same ones run.py generates) it reports:

1. ``python -X importtime -m allocpolicy scan``: the most expensive imports
   (cumulative and self), and which heavy third-party packages a scan imports at all;
2. cProfile of ``allocpolicy scan`` in-process: top functions by cumulative and own time;
3. checks of the issue's rules, by instrumenting one in-process scan:
   - every directory ``os.scandir`` opened (is anything under target/, .git, node_modules walked?),
   - how many Rust files went to tree-sitter vs how many contain ``global_allocator``,
   - whether ``github`` (PyGithub), ``tomlkit``, ``yaml``, ``jsonschema`` were imported.

Each measurement is a separate child process so imports are cold.  Timings under
cProfile are inflated (roughly 2x); read them as proportions.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth

CHILD_CHECKS = r"""
import json, os, sys, time
root, scan_args = sys.argv[1], json.loads(sys.argv[2])
opened = []
_real = os.scandir
def scandir(path=".", *a, **k):
    opened.append(os.fspath(path))
    return _real(path, *a, **k)
os.scandir = scandir
import allocpolicy.parsing.rust as rust
scanned, parsed = [], []
_scan, _parse = rust.scan_rust_source, rust._parse
def scan_rust_source(data, *a, **k):
    scanned.append(len(data))
    return _scan(data, *a, **k)
def parse(data, *a, **k):  # every tree-sitter parse, from the scanner or the fix builders
    parsed.append(b"global_allocator" in data)
    return _parse(data, *a, **k)
rust.scan_rust_source, rust._parse = scan_rust_source, parse
import io, contextlib
from allocpolicy.cli import main
os.chdir(root)
t0 = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    code = main(scan_args)
dt = time.perf_counter() - t0
heavy = ["github", "tree_sitter", "tree_sitter_rust", "tomlkit", "yaml", "jsonschema", "pathspec",
         "dockerfile_parse", "requests", "urllib3"]
rel = [os.path.relpath(os.path.join(root, p) if not os.path.isabs(p) else p, root) for p in opened]
print(json.dumps({"exit": code, "seconds": dt, "dirs_opened": len(rel),
                  "skipped_dirs_opened": [p for p in rel if any(s in p.split(os.sep) for s in
                                          ("target", ".git", "node_modules"))][:20],
                  "scan_rust_source_calls": len(scanned), "tree_sitter_parses": len(parsed),
                  "tree_sitter_parses_without_needle": parsed.count(False),
                  "modules": {m: m in sys.modules for m in heavy},
                  "allocpolicy_modules": len([m for m in sys.modules if m.startswith("allocpolicy")]),
                  "modules_total": len(sys.modules)}))
"""

CHILD_PROFILE = r"""
import cProfile, pstats, io, os, sys, contextlib, json
root, scan_args, top = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
os.chdir(root)
pr = cProfile.Profile()
pr.enable()
from allocpolicy.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    main(scan_args)
pr.disable()
for key in ("cumulative", "tottime"):
    s = io.StringIO()
    pstats.Stats(pr, stream=s).strip_dirs().sort_stats(key).print_stats(top)
    text = s.getvalue()
    print(f"--- by {key} ---")
    print(text[text.find("   ncalls"):].rstrip())
"""


def importtime(python: str, root: Path, scan_args: list[str], top: int) -> str:
    proc = subprocess.run(
        [python, "-X", "importtime", "-m", "allocpolicy", *scan_args],
        cwd=root,
        capture_output=True,
        text=True,
        env=ENV,
    )
    rows = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m:
            rows.append((int(m.group(1)), int(m.group(2)), len(m.group(3)) // 2, m.group(4)))
    total = sum(r[0] for r in rows)
    out = [f"total import time (sum of self): {total / 1000:.1f} ms over {len(rows)} modules"]
    tops = [r for r in rows if r[2] == 0]
    tops.sort(key=lambda r: -r[1])
    out.append(f"top-level imports by cumulative time (top {top}):")
    out += [f"  {r[1] / 1000:7.1f} ms  {r[3]}" for r in tops[:top]]
    rows.sort(key=lambda r: -r[0])
    out.append(f"modules by self time (top {top}):")
    out += [f"  {r[0] / 1000:7.1f} ms  {r[3]}" for r in rows[:top]]
    by_pkg: dict[str, int] = {}
    for r in rows:
        pkg = r[3].split(".")[0]
        by_pkg[pkg] = by_pkg.get(pkg, 0) + r[0]
    out.append("self time by top-level package:")
    out += [
        f"  {v / 1000:7.1f} ms  {k}" for k, v in sorted(by_pkg.items(), key=lambda kv: -kv[1])[:15]
    ]
    return "\n".join(out)


ENV: dict[str, str] | None = None  # set by --source


def run_child(python: str, code: str, *argv: str) -> str:
    proc = subprocess.run([python, "-c", code, *argv], capture_output=True, text=True, env=ENV)
    if proc.returncode != 0:
        return f"(failed: {proc.stderr.strip()[-500:]})"
    return proc.stdout


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sizes", default="300,3000")
    p.add_argument("--top", type=int, default=25)
    p.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "allocpolicy-bench"
    )
    p.add_argument(
        "--python", default=sys.executable, help="the Python allocpolicy is installed in"
    )
    p.add_argument("--out", type=Path, help="also write the report here")
    p.add_argument(
        "--source",
        type=Path,
        help="a src/ directory to profile instead of the installed package "
        "(e.g. the snapshot run.py measured: $TMPDIR/allocpolicy-bench/snapshot/src)",
    )
    args = p.parse_args()
    global ENV
    if args.source:
        ENV = dict(os.environ, PYTHONPATH=str(args.source.resolve()))
    report: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        report.append(text)

    sizes = [int(s) for s in args.sizes.split(",")]
    where = run_child(
        args.python, "import allocpolicy, os; print(os.path.dirname(allocpolicy.__file__))"
    )
    say(f"profiling allocpolicy from {where.strip()}")
    for n in sizes:
        repo = synth.generate(args.workdir / f"mixed-{n}", n, "mixed")
        needle = sum(
            1
            for s in repo.services
            if b"global_allocator" in (repo.root / s / "src/main.rs").read_bytes()
        )
        say(
            f"=== {n} services ({repo.files} files; {needle} of {n} main.rs contain 'global_allocator') ==="
        )
        cases = [("whole scan", ["scan", "."])]
        if n == max(sizes):
            cases += [
                ("one-service scan", ["scan", repo.services[1]]),
                ("pre-commit, 1 Dockerfile", ["scan", "--files", f"{repo.services[1]}/Dockerfile"]),
                ("pre-commit, 1 Cargo.toml", ["scan", "--files", f"{repo.services[2]}/Cargo.toml"]),
            ]
        for label, scan_args in cases:
            say(f"--- {label}: allocpolicy {' '.join(scan_args)} ---")
            say(
                "[checks] "
                + run_child(
                    args.python, CHILD_CHECKS, str(repo.root), json.dumps(scan_args)
                ).strip()
            )
            say("[importtime]")
            say(importtime(args.python, repo.root, scan_args, min(args.top, 15)))
            if label == "whole scan":
                say("[cProfile]")
                say(
                    run_child(
                        args.python,
                        CHILD_PROFILE,
                        str(repo.root),
                        json.dumps(scan_args),
                        str(args.top),
                    )
                )
            say()
    if args.out:
        args.out.write_text("\n".join(report) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
