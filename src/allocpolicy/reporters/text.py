"""Human output: `path:line:col: AP001 [error] message`, excerpt, fix."""

from __future__ import annotations

from allocpolicy.engine import ScanResult
from allocpolicy.model import Finding, Severity

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import TextIO

_COLOURS = {Severity.ERROR: "\033[31m", Severity.WARNING: "\033[33m", Severity.INFO: "\033[36m"}
_RESET, _BOLD, _DIM = "\033[0m", "\033[1m", "\033[2m"


def render(result: ScanResult, out: TextIO, colour: bool = False, excerpts: bool = True) -> None:
    for f in result.findings:
        out.write(_line(f, colour) + "\n")
        if excerpts and f.snippet.strip():
            out.write(f"    {f.location.line:>4} | {f.snippet.rstrip()}\n")
        if excerpts and f.fix is not None:
            tag = "" if f.fix.safety.value == "safe" else " (unsafe: --unsafe-fixes)"
            out.write(f"    fix: {f.fix.title}{tag}\n")
    out.write(summary(result) + "\n")


def _line(f: Finding, colour: bool) -> str:
    loc = f"{f.location.path}:{f.location.line}:{f.location.column}:"
    sev = f"[{f.severity.value}]"
    if colour:
        loc = f"{_BOLD}{loc}{_RESET}"
        sev = f"{_COLOURS[f.severity]}{sev}{_RESET}"
    return f"{loc} {f.rule} {sev} {f.message}"


def summary(result: ScanResult) -> str:
    counts = {s: result.count(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)}
    if not result.findings:
        return f"No findings ({result.files_scanned} files checked)."
    parts = [f"{n} {s.value}{'s' if n != 1 else ''}" for s, n in counts.items() if n]
    fixable = sum(1 for f in result.findings if f.fix is not None)
    tail = f"; {fixable} fixable (`allocpolicy fix --diff` shows the edits)" if fixable else ""
    return f"Found {', '.join(parts)} ({result.files_scanned} files checked){tail}."


def one_line(f: Finding) -> str:
    return _line(f, False)
