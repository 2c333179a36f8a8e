"""`allocpolicy scan`: findings, with their computed fixes, rendered."""

from __future__ import annotations

import sys
from pathlib import Path

from allocpolicy.commands import EXIT_FINDINGS, EXIT_OK
from allocpolicy.model import Severity

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    import argparse
    from typing import TextIO

    from allocpolicy.commands import Scanner
    from allocpolicy.config import Config
    from allocpolicy.discovery import FileSet
    from allocpolicy.engine import ScanResult


def scan(
    root: Path,
    config_path: Path | None = None,
    *,
    config: Config | None = None,
    files: FileSet | None = None,
    with_fixes: bool = True,
) -> ScanResult:
    """The engine's findings with their fixes: computed edits, or (cheaper) only offered titles."""
    # Imported here, not above: the pre-commit front door starts git before the engine is
    # imported so the two overlap, and `scan --files` must not import it first.
    from allocpolicy.engine import scan as scan_findings
    from allocpolicy.fixes.actions import attach_fixes

    result = scan_findings(root, config_path, config=config, files=files)
    attach_fixes(result, with_fixes)
    return result


def fail_on(args: argparse.Namespace, config_fail_on: Severity) -> Severity:
    """`--fail-on` when given, else the config's."""
    return Severity(args.fail_on) if getattr(args, "fail_on", None) else config_fail_on


def run(args: argparse.Namespace, scanner: Scanner) -> int:
    # Every format computes the edits: a fix the text names is one `fix` can make, and
    # text's "N fixable" counts what JSON and SARIF count (one computation for all).
    result = scanner(True)
    out_text = render(result, args)
    if args.output:
        args.output.write_text(out_text, encoding="utf-8")
    else:
        sys.stdout.write(out_text)
    return EXIT_FINDINGS if result.failed(fail_on(args, result.config.fail_on)) else EXIT_OK


def render(result: ScanResult, args: argparse.Namespace) -> str:
    if args.format == "json":
        from allocpolicy.reporters import json as json_reporter

        return json_reporter.render(result)
    if args.format == "sarif":
        from allocpolicy.reporters import sarif

        return sarif.render(result)
    import io

    from allocpolicy.reporters import text

    buf = io.StringIO()
    colour = args.color == "always" or (
        args.color == "auto" and not args.output and _tty(sys.stdout)
    )
    text.render(result, buf, colour=colour, excerpts=not args.quiet)
    return buf.getvalue()


def _tty(stream: TextIO) -> bool:
    import os

    return stream.isatty() and "NO_COLOR" not in os.environ
