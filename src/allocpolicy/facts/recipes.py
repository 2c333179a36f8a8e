"""`RUN make TARGET` / `RUN just RECIPE`: the shell lines the task runner would run.

The Makefile or justfile is a file of the repository, found where the build context
puts it (`COPY . /src` then `cd /src && make`); it is read, never run. Each line
comes back as shell text for the RUN reader. Where the file is not in the context,
the target does not exist or the line cannot be read, the build facts are unknown
with the reason given — never a guess.

A RUN may also ask the task runner for a value: `mv target/$(just print-target)/release/app
.` or `$(just --evaluate _target_bin)`. :func:`command_output` is what such a `just` prints,
when the justfile says: a variable's value, or a recipe that only `echo`es.
"""

from __future__ import annotations

import functools
import posixpath

from allocpolicy._record import field, record

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Callable

    from allocpolicy.parsing.justfile import Justfile

_MAKEFILES = ("GNUmakefile", "makefile", "Makefile")
_JUSTFILES = ("justfile", "Justfile", ".justfile")
# make's options that take a value as the next word (or glued: -j4, -Cdir)
_MAKE_VALUE = {"-C", "-f", "-o", "-W", "-I", "--directory", "--file", "--makefile"}
_MAKE_OPTIONAL = {"-j", "-l", "--jobs", "--load-average"}  # `-j 4`, `-j $(nproc)`, bare `-j`


@record
class TaskRun:
    runner: str  # make | just
    lines: list[str] | None  # None: unknown, see `why`
    why: str
    # Each make recipe line runs in a shell of its own; a just recipe's lines too.
    separate_shells: bool = True
    directory: str = field(default="/")  # where the lines run (the file's directory)


def task_run(
    argv: list[str],
    cwd: str,
    env: dict[str, str],
    repo_dir: Callable[[str], str | None],
    read: Callable[[str], str | None],
    host: str | None = None,
) -> TaskRun | None:
    """What `argv` runs, if it is `make`/`just`; None for any other command.

    `repo_dir` maps a container path to the repository path the build context put
    there; `read` returns a repository file's text (bounded) or None; `host` is the
    host triple of the stage's toolchain, when known (a justfile may ask rustc for it).
    """
    tool = argv[0].rsplit("/", 1)[-1] if argv else ""
    if tool in ("make", "gmake"):
        return _make(argv[1:], cwd, env, repo_dir, read)
    if tool == "just":
        return _just(argv[1:], cwd, env, repo_dir, read, host)
    return None


def command_output(
    argv: list[str],
    cwd: str,
    env: dict[str, str],
    repo_dir: Callable[[str], str | None],
    read: Callable[[str], str | None],
    host: str | None,
    budget: int,
) -> tuple[str | None, int]:
    """What `$(just …)` prints, and the evaluation work it cost (at most `budget`).

    `just --evaluate NAME` (after `NAME=value` / `--set NAME VALUE` overrides) prints the
    variable's value; `just RECIPE` a recipe whose every line is an `echo`. Anything else
    is None: its output is not known here. Unknown parts of the value are `$(false)`.
    """
    from allocpolicy.parsing import justfile

    if not argv or argv[0].rsplit("/", 1)[-1] != "just" or budget <= 0:
        return None, 0
    args = _just_args(argv[1:], cwd)
    if args is None:
        return None, 0
    directory, file, rest, evaluating = args
    found = _find(file, _JUSTFILES, directory, repo_dir, read, upward=True)
    if isinstance(found, str):
        return None, 0
    path, _, text = found
    here = posixpath.dirname(path)
    jf = _parsed(text)
    left = [min(budget, justfile.MAX_CHARS)]
    start = left[0]
    if evaluating:
        value = justfile.evaluate_argv(jf, rest, env, here, host, left)
        return value, start - left[0]
    lines = justfile.recipe(jf, rest, env, here, host, left)
    spent = start - left[0]
    if lines is None:
        return None, spent
    return _echoed(lines, env, here), spent + sum(len(ln) for ln in lines)


def _echoed(lines: list[str], env: dict[str, str], where: str) -> str | None:
    """What recipe lines that only `echo` print, one line each; None for any other command
    (it may print too) and for more than a few short lines."""
    from allocpolicy.facts.shell import run_script
    from allocpolicy.parsing.expand import Expander

    exports = [ln for ln in lines if ln.startswith("export ")]
    body = [ln for ln in lines if not ln.startswith("export ")]
    if len(body) > _MAX_ECHOES or sum(len(ln) for ln in lines) > _MAX_ECHO_CHARS:
        return None
    printed: list[str] = []
    for line in body:
        script = "\n".join([*exports, line])
        for cmd in run_script(script, env, where, Expander(budget=16 * _MAX_ECHO_CHARS)):
            words = cmd.argv[1:]
            if cmd.argv[:1] != ["echo"] or any(w.startswith("-") for w in words[:1]):
                return None  # `echo -n`/`-e` are not read; any other command may print too
            printed.append(" ".join(words))
    return "\n".join(printed)


_MAX_ECHOES = 16
_MAX_ECHO_CHARS = 16 * 1024


@functools.lru_cache(maxsize=8)
def _parsed(text: str) -> Justfile:
    """A justfile read once for the many `$(just …)` of one Containerfile."""
    from allocpolicy.parsing.justfile import parse_justfile

    return parse_justfile(text)


def _make(
    args: list[str],
    cwd: str,
    env: dict[str, str],
    repo_dir: Callable[[str], str | None],
    read: Callable[[str], str | None],
) -> TaskRun:
    from allocpolicy.parsing.makefile import parse_makefile, recipe

    directory, file = cwd, None
    goals: list[str] = []
    overrides: dict[str, str] = {}
    i = 0
    while i < len(args):
        a = args[i]
        name, eq, value = a.partition("=")
        if a in _MAKE_VALUE and i + 1 < len(args):
            directory, file = _make_option(a, args[i + 1], directory, file)
            i += 1
        elif a in _MAKE_OPTIONAL and i + 1 < len(args) and _count(args[i + 1]):
            i += 1
        elif a.startswith("--") and eq and name in _MAKE_VALUE:
            directory, file = _make_option(name, value, directory, file)
        elif a[:2] in ("-C", "-f") and len(a) > 2:
            directory, file = _make_option(a[:2], a[2:], directory, file)
        elif a.startswith("-"):
            pass  # -s, -j4, -k, --no-print-directory ...
        elif eq and name and " " not in name:
            overrides[name] = value
        else:
            goals.append(a)
        i += 1
    found = _find(file, _MAKEFILES, directory, repo_dir, read, upward=False)
    if isinstance(found, str):
        return TaskRun("make", None, found)
    _, where, text = found
    lines = recipe(parse_makefile(text), goals, overrides, env)
    shown = " ".join(goals) or "the default goal"
    if lines is None:
        return TaskRun("make", None, f"`make {shown}`: no such rule in {where}")
    return TaskRun("make", lines, f"`make {shown}` runs the recipe in {where}", True, directory)


def _count(word: str) -> bool:
    return word.isdigit() or word.startswith("$")


def _make_option(flag: str, value: str, directory: str, file: str | None) -> tuple[str, str | None]:
    if flag in ("-C", "--directory"):
        return posixpath.normpath(posixpath.join(directory, value)), file
    if flag in ("-f", "--file", "--makefile"):
        return directory, value
    return directory, file


def _just(
    args: list[str],
    cwd: str,
    env: dict[str, str],
    repo_dir: Callable[[str], str | None],
    read: Callable[[str], str | None],
    host: str | None,
) -> TaskRun | None:
    from allocpolicy.parsing import justfile

    parsed = _just_args(args, cwd)
    if parsed is None or parsed[3]:
        return None  # prints, builds nothing
    directory, file, rest, _ = parsed
    found = _find(file, _JUSTFILES, directory, repo_dir, read, upward=True)
    if isinstance(found, str):
        return TaskRun("just", None, found)
    path, where, text = found
    here = posixpath.dirname(path)  # recipes run where the justfile is
    lines = justfile.recipe(_parsed(text), rest, env, here, host)
    shown = " ".join(rest) or "the default recipe"
    if lines is None:
        return TaskRun("just", None, f"`just {shown}`: no such recipe in {where}")
    return TaskRun("just", lines, f"`just {shown}` runs the recipe in {where}", True, here)


_PRINTS = frozenset({"--list", "-l", "--summary", "--show", "-s", "--dump", "--choose"})


def _just_args(args: list[str], cwd: str) -> tuple[str, str | None, list[str], bool] | None:
    """(directory, justfile, overrides and recipes, --evaluate) of `just ARGS`; None
    when it only lists or shows recipes."""
    directory, file = cwd, None
    rest: list[str] = []
    evaluating = False
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-f", "--justfile") and i + 1 < len(args):
            file, i = args[i + 1], i + 1
        elif a in ("-d", "--working-directory") and i + 1 < len(args):
            directory, i = posixpath.normpath(posixpath.join(cwd, args[i + 1])), i + 1
        elif a == "--set" and i + 2 < len(args):
            rest += args[i : i + 3]  # an override, as `NAME=VALUE` is
            i += 2
        elif a == "--evaluate":
            evaluating = True
        elif a in _PRINTS:
            return None
        elif a.startswith("-") and not rest:
            pass  # --unstable, --quiet, --yes ...
        else:
            rest.append(a)
        i += 1
    return directory, file, rest, evaluating


def _find(
    file: str | None,
    names: tuple[str, ...],
    directory: str,
    repo_dir: Callable[[str], str | None],
    read: Callable[[str], str | None],
    upward: bool,
) -> tuple[str, str, str] | str:
    """(container path, repository path, text) of the task file, or why it cannot be read."""
    if file is not None:
        candidates = [posixpath.normpath(posixpath.join(directory, file))]
    else:
        dirs = [directory]
        while upward and dirs[-1] != "/":
            dirs.append(posixpath.dirname(dirs[-1]))
        candidates = [posixpath.join(d, n) for d in dirs for n in names]
    for path in candidates:
        rel = repo_dir(path)
        if rel is None:
            continue
        text = read(rel)
        if text is not None:
            return path, rel or path, text
    kind = "Makefile" if names is _MAKEFILES else "justfile"
    return f"no {kind} from the build context at {directory} (the recipe is not visible)"
