"""Re-run the hand-judged real repositories and score allocpolicy against the verdicts.

`benchmarks/real-repos.json` holds one verdict per public repository (repo, commit, and
per Containerfile: the binaries it really ships with their libc, linkage and allocator,
the findings the files prove, and the info notes that are acceptable), judged by hand
by reading the repository's files. This script runs `allocpolicy scan` and `inventory`
on local checkouts of those commits and prints, per repository, how many findings were
right, wrong and missed, and how many images got a right inventory row.

    python benchmarks/real_repos.py --checkouts /tmp/real         # OWNER+NAME dirs
    python benchmarks/real_repos.py --checkouts /tmp/real --only lldap/lldap -v

A checkout is `git clone` of the repository at the verdict's commit (the script warns when
HEAD differs). Nothing from the repositories is stored here, only our verdicts.

Scoring: a finding is right when a verdict expects it (same rule and path; the line
too when the verdict gives one) or allows it (info notes: same rule and path); every
other finding is wrong. An expected finding nothing matched is missed. An image's
inventory is right when every binary the verdict lists has a row for that Containerfile
with the same binary name, binary libc, linkage and allocator.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERDICTS = HERE / "real-repos.json"
TIMEOUT_S = 300


@dataclass
class Score:
    repo: str
    images: int = 0
    right: int = 0
    hit: int = 0  # expected findings that were made
    wrong: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    errors_wrong: int = 0  # wrong findings at error severity: a build failed for nothing
    inventory_right: int = 0
    inventory_judged: int = 0
    inventory_wrong: list[str] = field(default_factory=list)
    problem: str = ""


def _run(argv: list[str]) -> object:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(argv[1:3])} exited {done.returncode}: {done.stderr[-300:]}")
    return json.loads(done.stdout)


def _expected(verdict: dict) -> tuple[list[dict], list[dict]]:
    expected = list(verdict.get("crate_findings_expected", []))
    allowed: list[dict] = []
    for image in verdict["images"]:
        expected += image.get("expected", [])
        allowed += image.get("allowed", [])
    return expected, allowed


def _same(finding: dict, want: dict) -> bool:
    if finding["rule"] != want["rule"] or finding["path"] != want["path"]:
        return False
    return want.get("line") in (None, finding["line"])


def score_findings(s: Score, findings: list[dict], verdict: dict) -> None:
    expected, allowed = _expected(verdict)
    unmatched = list(expected)
    for f in findings:
        hit = next((w for w in unmatched if _same(f, w)), None)
        if hit is not None:
            unmatched.remove(hit)
            s.right += 1
            s.hit += 1
        elif any(_same(f, w) for w in expected) or any(
            f["rule"] == w["rule"] and f["path"] == w["path"] for w in allowed
        ):
            s.right += 1  # a second anchor of an expected finding, or an allowed note
        else:
            s.wrong.append(f"{f['rule']} {f['path']}:{f['line']} [{f['severity']}] {f['message']}")
            s.errors_wrong += f["severity"] == "error"
    s.missed = [
        f"{w['rule']} {w['path']}:{w.get('line', '?')} ({w.get('why', '')})" for w in unmatched
    ]


_COMPARED = ("binary_libc", "linkage", "allocator")


def score_inventory(s: Score, rows: list[dict], verdict: dict) -> None:
    for image in verdict["images"]:
        s.images += 1
        wanted = image.get("binaries", [])
        if not image.get("ships_rust") or not wanted:
            continue
        s.inventory_judged += 1
        mine = [r for r in rows if r["file"] == image["containerfile"]]
        bad = []
        for b in wanted:
            row = next((r for r in mine if r.get("binary") == b["binary"]), None)
            if row is None:
                bad.append(f"{b['binary']}: no row")
                continue
            diff = [
                f"{k} {row.get(k)} (expected {b[k]})" for k in _COMPARED if row.get(k) != b.get(k)
            ]
            if diff:
                bad.append(f"{b['binary']}: " + ", ".join(diff))
        if bad:
            s.inventory_wrong.append(f"{image['containerfile']}: " + "; ".join(bad))
        else:
            s.inventory_right += 1


def judge(verdict: dict, checkouts: Path, allocpolicy: str) -> Score:
    s = Score(verdict["repo"])
    root = checkouts / verdict["repo"].replace("/", "+")
    if not root.is_dir():
        s.problem = f"no checkout at {root}"
        return s
    head = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not head.startswith(verdict["commit"][:7]):
        s.problem = f"checkout is at {head[:10]}, the verdict judged {verdict['commit'][:10]}"
    try:
        report = _run([allocpolicy, "scan", "--format", "json", str(root)])
        rows = _run([allocpolicy, "inventory", "--format", "json", str(root)])
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
        s.problem = str(exc)
        return s
    assert isinstance(report, dict) and isinstance(rows, list)
    score_findings(s, report["findings"], verdict)
    score_inventory(s, rows, verdict)
    return s


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.0f} %" if b else "–"


def markdown(scores: list[Score]) -> str:
    lines = [
        "| repository | images | findings | right | wrong (errors) | missed | inventory right |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in scores:
        made = s.right + len(s.wrong)
        note = f" ({s.problem})" if s.problem else ""
        lines.append(
            f"| {s.repo}{note} | {s.images} | {made} | {s.right} | {len(s.wrong)} "
            f"({s.errors_wrong}) | {len(s.missed)} | {s.inventory_right}/{s.inventory_judged} |"
        )
    right = sum(s.right for s in scores)
    wrong = sum(len(s.wrong) for s in scores)
    missed = sum(len(s.missed) for s in scores)
    hit = sum(s.hit for s in scores)
    inv, judged = sum(s.inventory_right for s in scores), sum(s.inventory_judged for s in scores)
    lines.append(
        f"| **all {len(scores)}** | {sum(s.images for s in scores)} | {right + wrong} | {right} "
        f"| {wrong} ({sum(s.errors_wrong for s in scores)}) | {missed} | {inv}/{judged} |"
    )
    lines += [
        "",
        f"Precision {_pct(right, right + wrong)}, recall {_pct(hit, hit + missed)} "
        f"(of expected findings), inventory right for {_pct(inv, judged)} of judged images.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--checkouts", type=Path, required=True, help="directory of OWNER+NAME checkouts"
    )
    p.add_argument("--verdicts", type=Path, default=VERDICTS)
    p.add_argument("--allocpolicy", default=str(Path(sys.executable).parent / "allocpolicy"))
    p.add_argument("--only", action="append", default=[], metavar="OWNER/NAME")
    p.add_argument(
        "-v", "--verbose", action="store_true", help="list every wrong and missed finding"
    )
    args = p.parse_args(argv)
    verdicts = json.loads(args.verdicts.read_text(encoding="utf-8"))["repositories"]
    scores = [
        judge(v, args.checkouts, args.allocpolicy)
        for v in verdicts
        if not args.only or v["repo"] in args.only
    ]
    sys.stdout.write(markdown(scores))
    if args.verbose:
        for s in scores:
            for kind, items in (
                ("wrong", s.wrong),
                ("missed", s.missed),
                ("inventory", s.inventory_wrong),
            ):
                for item in items:
                    print(f"{s.repo}: {kind}: {item}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
