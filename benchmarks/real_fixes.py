"""Apply allocpolicy's safe fixes to the real repositories and ask cargo whether the
edited manifests still load.

For each checkout of `real-repos.json` (see real_repos.py), the tree is copied with hard
links (fix replaces a file by renaming a new one over it, so the checkout is never
touched), `allocpolicy fix` runs on the copy, and `cargo metadata --offline --no-deps`
runs on every manifest it edited, before and after; a scan before and after counts
the error findings (a fix must not introduce one). `--no-deps` resolves nothing, so it
needs no registry: it checks what a fix can break in a manifest — TOML, `[features]`
entries naming dependencies (`dep:x`, `x/feature`), duplicate keys, target tables.
Edited Rust sources are only re-parsed (the fix already refuses a syntax error); their
compile check is the stub-crate tests in tests/fixes.

    python benchmarks/real_fixes.py --checkouts /tmp/real [--only owner/name] [--unsafe]

Nothing from the repositories is stored here. cargo runs with RUSTUP_TOOLCHAIN=stable
(the repositories pin toolchains this machine does not have); it runs no build script
with --no-deps.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERDICTS = HERE / "real-repos.json"
TIMEOUT_S = 300


def _metadata(manifest: Path) -> str | None:
    """None when cargo loads the manifest's workspace, else cargo's first error line."""
    env = dict(os.environ, RUSTUP_TOOLCHAIN="stable", CARGO_NET_OFFLINE="true")
    done = subprocess.run(
        ["cargo", "metadata", "--offline", "--no-deps", "--format-version", "1",
         "--manifest-path", str(manifest)],
        capture_output=True, text=True, timeout=TIMEOUT_S, check=False, env=env,
    )  # fmt: skip
    if done.returncode == 0:
        return None
    lines = [x for x in done.stderr.splitlines() if x.strip() and "Stack backtrace" not in x]
    return next((x for x in lines if x.startswith("error")), lines[0] if lines else "failed")[:200]


def _fixed(root: Path, unsafe: bool) -> tuple[list[str], list[str]]:
    """(files fix changed, the fix lines it printed)."""
    argv = [sys.executable, "-c", "from allocpolicy.cli import run; run()", "fix", str(root)]
    done = subprocess.run(
        argv + (["--unsafe-fixes"] if unsafe else []),
        capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
    )  # fmt: skip
    changed = [x.split(": ", 1)[1] for x in done.stderr.splitlines() if x.startswith("Fixed: ")]
    fixes = [x for x in done.stderr.splitlines() if x.startswith("Fixed AP")]
    return changed, fixes


def _errors(root: Path) -> list[str]:
    """`RULE path:line` of the error findings a scan of `root` reports."""
    argv = [sys.executable, "-c", "from allocpolicy.cli import run; run()", "scan", str(root)]
    done = subprocess.run(
        argv + ["--format", "json"], capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    try:
        findings = json.loads(done.stdout)["findings"]
    except (ValueError, KeyError):
        return [f"scan failed: {done.stderr[-200:]}"]
    return [f"{f['rule']} {f['path']}:{f['line']}" for f in findings if f["severity"] == "error"]


def check(checkout: Path, work: Path, unsafe: bool) -> dict:
    copy = work / checkout.name
    shutil.copytree(
        checkout, copy, symlinks=True, copy_function=os.link, ignore=shutil.ignore_patterns(".git")
    )
    try:
        errors_before = _errors(copy)
        changed, fixes = _fixed(copy, unsafe)
        errors_after = _errors(copy) if changed else errors_before
        manifests = [c for c in changed if c.endswith("Cargo.toml")]
        rows = []
        for m in manifests:
            before, after = _metadata(checkout / m), _metadata(copy / m)
            rows.append({"manifest": m, "before": before, "after": after})
        new = [e for e in errors_after if e not in errors_before]
        return {
            "fixes": fixes,
            "changed": changed,
            "manifests": rows,
            "errors": (len(errors_before), len(errors_after)),
            "new_errors": new,
        }
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkouts", type=Path, required=True)
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--unsafe", action="store_true", help="also apply unsafe fixes")
    args = ap.parse_args(argv)
    repos = json.loads(VERDICTS.read_text())["repositories"]
    broke = 0
    print(
        "| repository | fixes | files changed | manifests | cargo metadata after "
        "| errors before → after |"
    )
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="allocpolicy-fixes-") as tmp:
        for r in repos:
            if args.only and r["repo"] not in args.only:
                continue
            checkout = args.checkouts / r["repo"].replace("/", "+")
            if not checkout.is_dir():
                print(f"| {r['repo']} | – | – | – | no checkout | – |")
                continue
            out = check(checkout, Path(tmp), args.unsafe)
            bad = [m for m in out["manifests"] if m["after"] and not m["before"]]
            broke += len(bad) + len(out["new_errors"])
            verdict = "ok" if not bad else "; ".join(f"{m['manifest']}: {m['after']}" for m in bad)
            before, after = out["errors"]
            errors = f"{before} → {after}" + (
                f" (new: {', '.join(out['new_errors'])})" if out["new_errors"] else ""
            )
            print(
                f"| {r['repo']} | {len(out['fixes'])} | {len(out['changed'])} "
                f"| {len(out['manifests'])} | {verdict} | {errors} |"
            )
            for line in out["fixes"]:
                print(f"  {line}", file=sys.stderr)
    print(
        f"\nManifests a fix broke (cargo loaded them before, not after) and errors a fix "
        f"introduced: {broke}"
    )
    return 1 if broke else 0


if __name__ == "__main__":
    sys.exit(main())
