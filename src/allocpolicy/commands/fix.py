"""`allocpolicy fix`: scan, merge fixes, apply them, repeat until nothing changes."""

from __future__ import annotations

import sys
from pathlib import Path

from allocpolicy._record import replace
from allocpolicy.commands import UsageError
from allocpolicy.commands.scan import fail_on
from allocpolicy.fixes.apply import FileChange, WritePlan, plan_writes, write_all
from allocpolicy.fixes.edits import merge
from allocpolicy.model import Finding, Fix, Safety
from allocpolicy.parsing.text import overlaid

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    import argparse
    from collections.abc import Collection

    from allocpolicy.commands import Scanner
    from allocpolicy.engine import ScanResult

MAX_ROUNDS = 4  # a fix can enable another (add mimalloc, then its cfg); bounded like ruff's loop


def _wanted(f: Finding, rules: list[str], unsafe: bool) -> bool:
    if f.fix is None or (rules and f.rule not in rules):
        return False
    return unsafe or f.fix.safety == Safety.SAFE


def rule_ids(given: list[str], known: Collection[str]) -> list[str]:
    """`--rule AP004 --rule ap005,AP006`: the ids, upper-cased; an id no loaded policy
    defines is a usage error (exit 2), as ruff's `--select` refuses one, rather than a
    fix run that silently does nothing."""
    ids = [part.strip().upper() for r in given for part in r.split(",") if part.strip()]
    unknown = [i for i in dict.fromkeys(ids) if i not in known]
    if unknown:
        shown = ", ".join(unknown)
        raise UsageError(f"--rule {shown}: no such rule (`allocpolicy rules` lists them)")
    if given and not ids:
        raise UsageError("--rule: no rule id given")
    return ids


def run(args: argparse.Namespace, root: Path, scanner: Scanner) -> int:
    """Fix rounds to the fixed point. `--diff` runs the very same rounds with each round's
    files held in memory (later rounds scan them as written), so it shows what `fix`
    writes; the diff is from the files on disk to the last round's text."""
    changed: dict[str, FileChange] = {}
    notes: list[str] = []
    result = on_disk = scanner(True)
    rules = rule_ids(args.rule, result.rules)
    applied: set[str] = set()  # fingerprints of findings whose fix was written
    staged: dict[str, bytes] = {}  # --diff: the files as the rounds left them
    for _ in range(MAX_ROUNDS):
        todo = [f for f in result.findings if _wanted(f, rules, args.unsafe_fixes) and f.fix]
        if any(f.fingerprint in applied for f in todo):
            # a finding came back after its fix was written: stop rather than stack edits
            notes.append("a fixed finding was reported again; stopped so edits do not pile up")
            break
        fixes = [f.fix for f in todo if f.fix]
        with overlaid(staged):
            p = _plan_round(root, fixes, notes)
        if p.changes and not args.diff:
            p = _write_round(root, fixes, p, notes)
        if not p.changes:
            break
        for c in p.changes:
            first = changed.get(c.path)
            changed[c.path] = c if first is None else replace(first, after=c.after)
            staged[str(root / c.path)] = c.data
        _say_fixed(todo, p, "Would fix" if args.diff else "Fixed")
        applied |= {
            f.fingerprint for f in todo if f.fix and all(e.path in changed for e in f.fix.edits)
        }
        with overlaid(staged):
            result = scanner(True)
    if args.diff:
        for path in sorted(changed):
            sys.stdout.write(changed[path].diff())
    return _report(args, on_disk, result, changed, list(dict.fromkeys(notes)))


def _say_fixed(findings: list[Finding], p: WritePlan, verb: str) -> None:
    """One line per finding whose fix is in the plan: what changed, where."""
    paths = {c.path for c in p.changes}
    for f in findings:
        if f.fix and f.fix.edits and all(e.path in paths for e in f.fix.edits):
            loc = f.location
            print(f"{verb} {f.rule} at {loc.path}:{loc.line}: {f.fix.title}", file=sys.stderr)


def _write_round(root: Path, fixes: list[Fix], p: WritePlan, notes: list[str]) -> WritePlan:
    """Write the round's files all together or not at all; when some cannot be written,
    drop the fixes that touch them and write the rest, again all together. Returns the
    plan that was written (no changes: nothing was)."""
    while p.changes:
        outcome = write_all(root, p.changes)
        if outcome.ok:
            return p
        notes += [f"{path}: {why}" for path, why in outcome.failed]
        if outcome.restored:
            notes.append(f"restored unchanged: {', '.join(outcome.restored)}")
        bad = {path for path, _ in outcome.failed}
        kept = [fx for fx in fixes if not any(e.path in bad for e in fx.edits)]
        notes += [
            f"skipped fix '{fx.title}': {', '.join(sorted(bad & {e.path for e in fx.edits}))} "
            "could not be written, so none of its files were"
            for fx in fixes
            if fx not in kept
        ]
        fixes = kept
        p = _plan_round(root, fixes, notes) if fixes else WritePlan()
    return WritePlan()


def _plan_round(root: Path, fixes: list[Fix], notes: list[str]) -> WritePlan:
    """Merge and plan; a fix touching a file that cannot be edited is dropped whole,
    so a multi-file fix (dependency + #[global_allocator]) never lands half-way."""
    while True:
        merged = merge(fixes)
        notes += [f"skipped fix '{fx.title}': {why}" for fx, why in merged.dropped]
        p = plan_writes(root, merged.edits)
        bad = {path for path, _ in p.skipped}
        notes += [f"{path}: {why}" for path, why in p.skipped]
        partial = [fx for fx in merged.accepted if any(e.path in bad for e in fx.edits)]
        if not partial or not p.changes:
            return p
        notes += [
            f"skipped fix '{fx.title}': it also edits {', '.join(sorted(bad))}" for fx in partial
        ]
        fixes = [fx for fx in merged.accepted if fx not in partial]


def _report(
    args: argparse.Namespace,
    on_disk: ScanResult,
    result: ScanResult,
    changed: dict[str, FileChange],
    notes: list[str],
) -> int:
    """What changed, the notes, what remains; the exit code follows the files as they
    are on disk now (with --diff, unchanged: what a CI check of the tree would say)."""
    err = sys.stderr
    verb = "Would fix" if args.diff else "Fixed"
    for path in sorted(changed):
        print(f"{verb}: {path}", file=err)
    for note in notes:
        print(f"note: {note}", file=err)
    print(_closing_line(args, changed, result.findings), file=err)
    if not args.diff:
        from allocpolicy.reporters.text import one_line

        for f in result.findings:
            print(one_line(f), file=err)
    if changed and args.exit_non_zero_on_fix and not args.diff:
        return 1
    final = on_disk if args.diff else result
    return 1 if final.failed(fail_on(args, final.config.fail_on)) else 0


def _closing_line(
    args: argparse.Namespace, changed: dict[str, FileChange], remaining: list[Finding]
) -> str:
    unsafe_left = sum(
        1 for f in remaining if f.fix and f.fix.safety == Safety.UNSAFE and not args.unsafe_fixes
    )
    return (
        f"{len(changed)} file(s) {'would change' if args.diff else 'changed'}; "
        f"{len(remaining)} finding(s) {'would remain' if args.diff else 'remain'}"
        + (f" ({unsafe_left} with unsafe fixes: --unsafe-fixes)" if unsafe_left else "")
        + "."
    )
