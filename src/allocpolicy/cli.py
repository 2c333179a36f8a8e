"""`allocpolicy` command line: scan, fix, inventory, inspect, rules, explain, pre-commit, github-review."""

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
                    "help": "only fix these rules (repeat it, or AP004,AP005)",
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
    "inspect": (
        "check a built artifact: an ELF file or a directory of them (a rootfs)",
        [
            (("path",), {"help": "an ELF file or a directory (an extracted rootfs)"}),
            (("--config",), {"type": Path, "help": "config file (default: ./allocpolicy.toml)"}),
            _DEBUG,
            (("--format",), {"choices": ("text", "json", "sarif"), "default": "text"}),
            (
                ("--repo",),
                {
                    "type": Path,
                    "help": "the repository the artifact was built from: pair its binaries (AP012)",
                },
            ),
            _FAIL_ON,
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


# The pre-commit hooks' subcommand: scan's options (fix's, with --fix) for the current
# directory, then the file names. pre-commit runs `entry args... FILE...`, so options a
# user adds with `args:` come after the entry and before the files.
_HOOK_FIX = (
    ("--fix",),
    {"action": "store_true", "help": "apply fixes, with fix's options (the allocpolicy-fix hook)"},
)
_HOOK_CONFIG = (("--config",), {"type": Path, "help": "config file (default: ./allocpolicy.toml)"})
_HOOK_FILES = (
    ("files",),
    {"nargs": "*", "metavar": "FILE", "help": "the changed files, after every option"},
)


def _hook_options(fix: bool) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """`pre-commit`'s options: scan's or fix's, without PATH (it is `.`) and --files."""
    own = [o for o in _OPTIONS["fix" if fix else "scan"][1] if o[0][0] not in ("path", "--files")]
    return [_HOOK_FIX, *(_HOOK_CONFIG if o is _CONFIG else o for o in own), _HOOK_FILES]


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


def _parser(only: str | None = None, hook_fix: bool = False) -> argparse.ArgumentParser:
    """The parser; with `only`, just that subcommand's options (each costs start-up time).

    `hook_fix`: `pre-commit` takes fix's options rather than scan's (it was given --fix).
    """
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
    hook = sub.add_parser(
        "pre-commit",
        help="check (--fix: fix) what a commit's files affect; the pre-commit hooks' entry",
        description="Options first, then the changed files; with --fix, fix's options.",
        formatter_class=_Formatter,
        allow_abbrev=False,  # _hook_words must know every option word exactly
    )
    for flags, kw in _hook_options(hook_fix) if only in (None, "pre-commit") else ():
        hook.add_argument(*flags, **kw)
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
    at = next((i for i, a in enumerate(args_list) if not a.startswith("-")), len(args_list))
    first = args_list[at] if at < len(args_list) else None
    try:
        if first == "pre-commit":
            parser, args = _parse_hook(args_list[:at], args_list[at + 1 :])
        else:
            parser = _parser(first if first in _OPTIONS else None)
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


def _parse_hook(
    before: list[str], words: list[str]
) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """`[global options] pre-commit [options] FILE...`, parsed; the files are never options."""
    fix = "--fix" in _hook_words(words, fix=False)[0]
    options, files = _hook_words(words, fix)
    parser = _parser("pre-commit", hook_fix=fix)
    args = parser.parse_args([*before, "pre-commit", *options])
    args.files, args.path = files, "."
    return parser, args


def _hook_words(words: list[str], fix: bool) -> tuple[list[str], list[str]]:
    """Split `[options] FILE...` into options and file names, as pre-commit passes them.

    The options end at `--` or at the first word that is neither one of ours nor an
    option's value. A file name may begin with `-`: an unknown word naming a file is the
    first file. Any other unknown word stays with the options for argparse to refuse,
    so a mistyped option is an error, not a file name that matches nothing.
    """
    import os

    takes_value: dict[str, bool] = {"-h": False, "--help": False}
    for flags, kw in _hook_options(fix):
        takes_value |= {f: kw.get("action") not in ("store_true",) for f in flags if f[0] == "-"}
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            return words[:i], words[i + 1 :]
        name, joined, _ = word.partition("=") if word.startswith("--") else (word, "", "")
        if name in takes_value:
            i += 2 if takes_value[name] and not joined else 1
        elif word.startswith("-") and not os.path.lexists(word):
            return words[: i + 1], words[i + 1 :]
        else:
            return words[:i], words[i:]
    return words, []


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


def cmd_inspect(args: argparse.Namespace) -> int:
    from allocpolicy.commands import inspect

    return inspect.run(args)


def cmd_rules(args: argparse.Namespace) -> int:
    from allocpolicy.commands import rules

    return rules.run_rules(args)


def cmd_explain(args: argparse.Namespace) -> int:
    from allocpolicy.commands import rules

    return rules.run_explain(args)


def cmd_pre_commit(args: argparse.Namespace) -> int:
    return cmd_fix(args) if args.fix else cmd_scan(args)


def cmd_github(args: argparse.Namespace) -> int:
    from allocpolicy.frontdoors.github import main as github_main

    return github_main(list(getattr(args, "rest", [])))


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "scan": cmd_scan,
    "fix": cmd_fix,
    "inventory": cmd_inventory,
    "inspect": cmd_inspect,
    "rules": cmd_rules,
    "explain": cmd_explain,
    "pre-commit": cmd_pre_commit,
    "github-review": cmd_github,
}
