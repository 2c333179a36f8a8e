"""`allocpolicy inspect PATH`: the rules, on what a built artifact really holds."""

from __future__ import annotations

import sys
from pathlib import Path

from allocpolicy.commands import EXIT_FINDINGS, EXIT_OK, UsageError
from allocpolicy.commands.scan import fail_on

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    import argparse


def run(args: argparse.Namespace) -> int:
    from allocpolicy.engine import inspect
    from allocpolicy.parsing.artifact import ArtifactError
    from allocpolicy.reporters import inspect as reporter

    try:
        result = inspect(args.path, args.config, _repo(args))
    except ArtifactError as exc:
        raise UsageError(str(exc)) from None
    if args.format == "json":
        sys.stdout.write(reporter.render_json(result))
    elif args.format == "sarif":
        from allocpolicy.reporters import sarif

        sys.stdout.write(sarif.render_inspect(result, args.path))
    else:
        sys.stdout.write(reporter.render_text(result))
    return EXIT_FINDINGS if result.failed(fail_on(args, result.config.fail_on)) else EXIT_OK


def _repo(args: argparse.Namespace) -> Path | None:
    repo = getattr(args, "repo", None)
    if repo is not None and not repo.is_dir():
        raise UsageError(f"--repo {repo}: not a directory")
    return repo
