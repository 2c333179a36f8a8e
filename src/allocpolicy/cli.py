"""`allocpolicy` command line: scan, fix, inventory, rules, explain, github-review."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from allocpolicy import __version__
from allocpolicy.commands import EXIT_ERROR, EXIT_OK, UsageError

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    from allocpolicy.commands import Scanner


# Every subcommand option, as (flags, add_argument keywords): argparse is built from
# this table, one subcommand at a time.
_PATH = (("path",), {"nargs": "?", "default": ".", "help": "repository to check (default: .)"})
_CONFIG = (("--config",), {"type": Path, "help": "config file (default: allocpolicy.toml at PATH)"})
_DEBUG = (("--debug",), {"action": "store_true", "default": argparse.SUPPRESS})
_FAIL_ON = (
    ("--fail-on",),
    {"choices": ("error", "warning", "info"), "help": "exit 1 at or above (default: error)"},
)
_OPTIONS: dict[str, tuple[str, list[tuple[tuple[str, ...], dict[str, Any]]]]] = {
    "scan": (
        "report findings",
        [
            _PATH,
            _CONFIG,
            _DEBUG,
            (("--format",), {"choices": ("text", "json", "sarif"), "default": "text"}),
            (("--output", "-o"), {"type": Path, "help": "write the report to a file"}),
            _FAIL_ON,
            (("--color",), {"choices": ("auto", "always", "never"), "default": "auto"}),
            (
                ("--files",),
                {
                    "nargs": "*",
                    "default": None,
                    "metavar": "FILE",
                    "help": "only report what these changed files cause or carry (pre-commit)",
                },
            ),
            (
                ("--quiet", "-q"),
                {"action": "store_true", "help": "one line per finding, no excerpts"},
            ),
        ],
    ),
    "fix": (
        "apply fixes",
        [
            _PATH,
            _CONFIG,
            _DEBUG,
            (
                ("--unsafe-fixes",),
                {"action": "store_true", "help": "also apply fixes marked unsafe"},
            ),
            (("--diff",), {"action": "store_true", "help": "print a unified diff; write nothing"}),
            (
                ("--rule",),
                {
                    "action": "append",
                    "default": [],
                    "metavar": "ID",
                    "help": "only fix these rules",
                },
            ),
            (("--fail-on",), {"choices": ("error", "warning", "info")}),
            (
                ("--exit-non-zero-on-fix",),
                {"action": "store_true", "help": "exit 1 when files changed"},
            ),
            (("--files",), {"nargs": "*", "default": None, "metavar": "FILE"}),
        ],
    ),
    "inventory": (
        "show what each image ships, and why",
        [
            _PATH,
            _CONFIG,
            _DEBUG,
            (("--format",), {"choices": ("text", "json"), "default": "text"}),
        ],
    ),
    "rules": (
        "list the rules",
        [(("--config",), {"type": Path}), (("path",), {"nargs": "?", "default": "."})],
    ),
    "explain": (
        "show a rule's documentation",
        [
            (("rule",), {}),
            (("--config",), {"type": Path}),
            (("path",), {"nargs": "?", "default": "."}),
        ],
    ),
}


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, told the terminal width so it does not import shutil.

    argparse builds a formatter for every option it adds, and the default one imports
    shutil (with bz2 and lzma) for the width: ~9 ms of every pre-commit check.
    """

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24) -> None:
        super().__init__(prog, indent_increment, max_help_position, _columns() - 2)


def _columns() -> int:
    """shutil.get_terminal_size().columns: $COLUMNS, else the terminal's, else 80."""
    import os

    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def _parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only`, just that subcommand's options (each costs start-up time)."""
    p = argparse.ArgumentParser(
        prog="allocpolicy",
        description="Keep Rust container images on the right memory allocator.",
        formatter_class=_Formatter,
    )
    p.add_argument("--version", action="version", version=f"allocpolicy {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on internal errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, options) in _OPTIONS.items():
        sp = sub.add_parser(name, help=help_text, formatter_class=_Formatter)
        for flags, kw in options if only in (None, name) else ():
            sp.add_argument(*flags, **kw)
    g = sub.add_parser(
        "github-review",
        help="post findings to a GitHub pull request (Action)",
        add_help=False,
        formatter_class=_Formatter,
    )
    g.add_argument("rest", nargs=argparse.REMAINDER)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["github-review"]:  # its own argparse owns every option after the word
        from allocpolicy.frontdoors.github import main as github_main

        try:
            return github_main(args_list[1:])
        except SystemExit as exc:  # argparse's --help and usage errors
            return EXIT_OK if exc.code in (0, None) else EXIT_ERROR
    first = next((a for a in args_list if not a.startswith("-")), None)
    parser = _parser(first if first in _OPTIONS else None)
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:
        return EXIT_ERROR if exc.code not in (0, None) else EXIT_OK
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # every error becomes a message, never a traceback
        return _report_error(exc, getattr(args, "debug", False))


def run() -> None:
    """The `allocpolicy` executable: `main`, then exit without tearing the interpreter down.

    Freeing every object of a run at exit costs ~5% of a pre-commit check. Our
    output is flushed here, our files are closed by then (caches are written with
    os.replace), and nothing of ours relies on atexit.
    """
    import gc
    import os

    # A scan keeps tens of thousands of objects alive and makes little cyclic garbage;
    # the collector's repeated passes over them were a third of a 3000-service scan
    # (peak memory unchanged without them). Collect far less often, as mypy does.
    gc.set_threshold(200_000, 50, 100)
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # a reader that went away (`| head`)
        code = code or EXIT_ERROR
    os._exit(code)


def _report_error(exc: Exception, debug: bool) -> int:
    from allocpolicy.config import ConfigError
    from allocpolicy.policy.loader import PolicyError

    if debug:
        import traceback

        traceback.print_exc()
    if isinstance(exc, (ConfigError, PolicyError, UsageError)):
        print(f"allocpolicy: error: {exc}", file=sys.stderr)
    else:
        print(
            f"allocpolicy: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
            file=sys.stderr,
        )
    return EXIT_ERROR


def _root(args: argparse.Namespace) -> Path:
    root = Path(args.path)
    if not root.is_dir():
        raise UsageError(f"{args.path}: not a directory")
    return root


def _scanner(args: argparse.Namespace, root: Path) -> Scanner:
    """The whole tree, or with --files (the pre-commit hook) what those files cause or carry."""
    if getattr(args, "files", None) is not None:
        from allocpolicy.frontdoors.precommit import scan_changed

        return lambda with_fixes: scan_changed(root, args.files, args.config, with_fixes=with_fixes)
    from allocpolicy.commands.scan import scan

    return lambda with_fixes: scan(root, args.config, with_fixes=with_fixes)


def cmd_scan(args: argparse.Namespace) -> int:
    from allocpolicy.commands import scan

    return scan.run(args, _scanner(args, _root(args)))


def cmd_fix(args: argparse.Namespace) -> int:
    from allocpolicy.commands import fix

    root = _root(args)
    return fix.run(args, root, _scanner(args, root))


def cmd_inventory(args: argparse.Namespace) -> int:
    from allocpolicy.commands import inventory

    return inventory.run(args, _root(args))


def cmd_rules(args: argparse.Namespace) -> int:
    from allocpolicy.commands import rules

    return rules.run_rules(args)


def cmd_explain(args: argparse.Namespace) -> int:
    from allocpolicy.commands import rules

    return rules.run_explain(args)


def cmd_github(args: argparse.Namespace) -> int:
    from allocpolicy.frontdoors.github import main as github_main

    return github_main(list(getattr(args, "rest", [])))


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "scan": cmd_scan,
    "fix": cmd_fix,
    "inventory": cmd_inventory,
    "rules": cmd_rules,
    "explain": cmd_explain,
    "github-review": cmd_github,
}
