"""What a RUN script executes: each command with its words, environment and directory.

A small interpreter over parsing/bash.py's tree. It runs nothing; it follows the
state a build depends on: variables (``A=b; cmd $A``, ``export``, ``VAR=x cmd``,
``env A=b cmd``), the current directory (``cd``, ``cd -``, ``pushd``/``popd``)
and functions defined in the script, and reads ``sh -c '...'`` scripts too.

* Both sides of ``&&``/``||`` run; a subshell ``( )`` or a ``&`` job keeps its
  changes to itself.
* Every branch of an ``if``/``case`` runs. Where branches leave different
  variables or directories behind, the rest of the script runs once per
  outcome (at most :data:`MAX_PATHS`; past that they merge and what differs is
  unknown). Each outcome's commands carry its ``path`` number, so a consumer can
  tell one command seen with two values from two commands.
* A ``for`` over a literal list runs its body per item (at most
  :data:`MAX_ITEMS`); other loops run their body once.
* A value nothing here can know (``$(...)``, a name with no value) stays in
  the word as written: it keeps its ``$``, which is how every consumer already
  recognises an unresolved value, and the command's ``unknown`` says why.
* A command substitution of one simple command is asked of the caller's
  ``output`` (the task runner's `$(just --evaluate X)`, facts/recipes.py): what it
  says the command prints is the value; anything else stays unknown.

Bounded: :data:`MAX_STEPS` steps per script, :data:`MAX_CALLS` nested function
calls, ``sh -c`` levels or command substitutions. Past the step budget the rest reads as one unknown
command.
"""

from __future__ import annotations

import posixpath

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import field, record
from allocpolicy.parsing.bash import (
    LIT,
    SUBST,
    Case,
    Function,
    Group,
    If,
    Loop,
    Pipe,
    Seq,
    Simple,
    Subshell,
    Unknown,
    parse,
)
from allocpolicy.parsing.expand import Expander

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from allocpolicy.parsing.bash import Node, Word

__all__ = ["Command", "commands", "installed_packages", "run_script"]

MAX_STEPS = 20_000
# A step costs about as much as expanding 200 characters: a file's expansion budget
# (expand.WORK_BUDGET) then allows some 40k steps, ~1 s, however many RUNs it has.
STEP_COST = 200
MAX_PATHS = 8
MAX_ITEMS = 16
MAX_CALLS = 8


@record
class Command:
    argv: list[str]
    # run_script: the environment it runs with; commands(): what the script itself set
    env: dict[str, str] = field(default_factory=dict)
    cwd: str = ""
    unknown: str = ""  # why part of it cannot be known; "" when all of it is read
    path: int = 0  # which outcome of the script's branches it runs in
    site: int = 0  # which command of the script it is (the same for each run of it)


def run_script(
    script: str,
    env: Mapping[str, str],
    workdir: str,
    expander: Expander | None = None,
    output: Callable[[Command], str | None] | None = None,
) -> list[Command]:
    """The commands the script runs, started with `env` exported in `workdir`.

    `expander` is the Containerfile's: its work budget is shared by all of the
    file's words, and the steps here are charged to it too, so a file of many
    hostile RUNs is bounded as a whole, not per RUN. `output`: what a command run in
    a `$(...)` prints (its trailing newlines kept), or None when that is not known.
    """
    expander = expander or Expander()
    steps = min(MAX_STEPS, max(0, expander.left) // STEP_COST)
    run = _Run(expander.shell, steps, output)
    start = _State(dict(env), set(env), workdir or "/")
    start.vars.setdefault("PWD", start.cwd)
    try:
        run.seq(parse(script), [start], 0)
    except _OutOfSteps:
        why = (
            f"the script takes over {steps} steps to read"
            if steps == MAX_STEPS
            else "the Containerfile's reading budget is spent"
        )
        run.out.append(Command([], unknown=why))
    expander.left -= run.steps * STEP_COST
    return run.out


def commands(script: str) -> list[Command]:
    """The commands of a script read on its own (no environment, in `/`)."""
    return run_script(script, {}, "/")


class _OutOfSteps(Exception):
    pass


class _State:
    __slots__ = ("cwd", "dirs", "exported", "funcs", "oldpwd", "path", "vars")

    def __init__(self, vars: dict[str, str], exported: set[str], cwd: str) -> None:
        self.vars, self.exported, self.cwd = vars, exported, cwd
        self.oldpwd = cwd
        self.dirs: list[str] = []
        self.funcs: dict[str, Node] = {}
        self.path = 0

    def copy(self) -> _State:
        st = _State(dict(self.vars), set(self.exported), self.cwd)
        st.oldpwd, st.dirs, st.funcs, st.path = (
            self.oldpwd,
            list(self.dirs),
            dict(self.funcs),
            self.path,
        )
        return st

    def key(self) -> tuple[object, ...]:
        return (sorted(self.vars.items()), sorted(self.exported), self.cwd, self.dirs)

    def environ(self, prefix: dict[str, str]) -> dict[str, str]:
        env = {k: self.vars[k] for k in self.exported if k in self.vars}
        env.update(prefix)
        return env


_WRAPPERS = frozenset({"exec", "sudo", "time", "nice", "nohup", "command"})
_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh"})
_DECLARE = frozenset({"export", "declare", "typeset", "local", "readonly"})
_NAME = lazy_re(r"[A-Za-z_]\w*\Z")
_IFS = lazy_re(r"[ \t\n]+")


class _Run:
    __slots__ = ("expand", "limit", "nested", "next_path", "out", "output", "steps", "trees")

    def __init__(
        self,
        expand: Callable[[str, Mapping[str, str]], str],
        limit: int,
        output: Callable[[Command], str | None] | None = None,
    ) -> None:
        self.expand, self.limit, self.output = expand, limit, output
        self.out: list[Command] = []
        self.steps = 0
        self.next_path = 1
        self.trees: list[Seq] = []
        self.nested = 0  # command substitutions being read, one inside the other

    def step(self) -> None:
        self.steps += 1
        if self.steps > self.limit:
            raise _OutOfSteps

    # -- statements: each takes the live states and returns them afterwards ----

    def seq(self, seq: Seq, states: list[_State], calls: int) -> list[_State]:
        for item, op in zip(seq.items, seq.ops, strict=True):
            if op == "&":  # a background job runs in a subshell
                self.isolated(item, states, calls)
            else:
                states = self.node(item, states, calls)
        return states

    def isolated(self, node: Node, states: list[_State], calls: int) -> None:
        self.node(node, [s.copy() for s in states], calls)

    def node(self, node: Node, states: list[_State], calls: int) -> list[_State]:
        self.step()
        if isinstance(node, Simple):
            return [after for st in states for after in self.simple(node, st, calls)]
        if isinstance(node, Seq):
            return self.seq(node, states, calls)
        if isinstance(node, (Group,)):
            return self.seq(node.body, states, calls)
        if isinstance(node, Pipe):
            # tree-sitter-bash reads `a && b 2>x | c` as a pipeline holding the list, so
            # its parts share the state rather than each getting a subshell
            for part in node.items:
                states = self.node(part, states, calls)
            return states
        if isinstance(node, Subshell):
            self.isolated(node.body, states, calls)
            return states
        if isinstance(node, If):
            return self.branches(node, states, calls)
        if isinstance(node, Case):
            return self.case(node, states, calls)
        if isinstance(node, Loop):
            return self.loop(node, states, calls)
        if isinstance(node, Function):
            for st in states:
                st.funcs[node.name] = node.body
            return states
        if isinstance(node, Unknown):
            for st in states:
                self.out.append(Command([], {}, st.cwd, node.reason, st.path, id(node)))
        return states

    def branches(self, node: If, states: list[_State], calls: int) -> list[_State]:
        outcomes: list[_State] = []
        for cond, body in node.branches:
            states = self.seq(cond, states, calls)
            outcomes += self.seq(body, [s.copy() for s in states], calls)
        if node.orelse is not None:
            outcomes += self.seq(node.orelse, [s.copy() for s in states], calls)
        else:
            outcomes += states  # no branch taken
        return self.fork(outcomes)

    def case(self, node: Case, states: list[_State], calls: int) -> list[_State]:
        # A `case` with no `*)` arm is read as if one of its arms matches: a script lists
        # the platforms it builds for, and on any other its `--target $T` fails anyway.
        outcomes: list[_State] = []
        for _patterns, body in node.arms:
            outcomes += self.seq(body, [s.copy() for s in states], calls)
        return self.fork(outcomes or states)

    def fork(self, outcomes: list[_State]) -> list[_State]:
        """One state per distinct outcome, each with its own path number; merged past the cap."""
        distinct: dict[object, _State] = {}
        for st in outcomes:
            distinct.setdefault(repr(st.key()), st)
        states = list(distinct.values())
        if len(states) == 1:
            return states
        if len(states) > MAX_PATHS:
            return [_merge(states)]
        taken: set[int] = set()
        for st in states:  # an outcome keeps its path unless another one has it already
            if st.path in taken:
                st.path, self.next_path = self.next_path, self.next_path + 1
            taken.add(st.path)
        return states

    def loop(self, node: Loop, states: list[_State], calls: int) -> list[_State]:
        if node.cond is not None:
            states = self.seq(node.cond, states, calls)
        out: list[_State] = []
        for st in states:
            items = self.items(node, st)
            if not node.var:
                out += self.seq(node.body, [st], calls)
                continue
            if items is None:
                st.vars[node.var] = "${" + node.var + "}"  # unknown in the body
                out += self.seq(node.body, [st], calls)
                continue
            runs = [st]
            for item in items:
                for s in runs:
                    s.vars[node.var] = item
                runs = self.seq(node.body, runs, calls)
            out += runs
        return out

    def items(self, node: Loop, st: _State) -> list[str] | None:
        if not node.values:
            return None  # `for x; do` (the positional parameters) or not a `for`
        items: list[str] = []
        for word in node.values:
            fields, unknown = self.fields(word, st)
            if unknown:
                return None
            items += fields
        return items if len(items) <= MAX_ITEMS else None

    # -- simple commands -------------------------------------------------------

    def simple(self, node: Simple, st: _State, calls: int) -> list[_State]:
        prefix, reasons = self.prefix(node, st)
        if not node.words:
            st.vars.update(prefix)  # plain assignments
            return [st]
        argv, why = self.argv(node, st)
        reasons += why
        argv = _unwrap(argv, prefix)
        unknown = "; ".join(dict.fromkeys(reasons))
        return self.execute(node, argv, prefix, unknown, st, calls)

    def prefix(self, node: Simple, st: _State) -> tuple[dict[str, str], list[str]]:
        """The `NAME=value` assignments before the command, and why any is unknown."""
        reasons: list[str] = []
        prefix: dict[str, str] = {}
        for name, word in node.assigns:
            value, why = self.value(word, st)
            reasons += why
            prefix[name] = value
        return prefix, reasons

    def argv(self, node: Simple, st: _State) -> tuple[list[str], list[str]]:
        """The command's words expanded, and why any part is unknown."""
        first, why = self.fields(node.words[0], st)
        declare = first[:1] and first[0] in _DECLARE
        argv = list(first)
        for word in node.words[1:]:
            if declare:  # `export A=$B`: an assignment argument is not split
                value, w = self.value(word, st)
                argv.append(value)
            else:
                fields, w = self.fields(word, st)
                argv += fields
            why += w
        return argv, why

    def substitution(self, text: str, st: _State) -> str | None:
        """What `$(cmd …)` (or a backtick) prints, when the caller's `output` knows; the
        command runs in a subshell, so nothing it does changes `st`."""
        if self.output is None or self.nested >= MAX_CALLS:
            return None
        body = _substitution_body(text)
        if body is None:
            return None
        tree = parse(body)
        if len(tree.items) != 1 or not isinstance(tree.items[0], Simple):
            return None  # a pipeline, a list, a compound: not one command's output
        node = tree.items[0]
        if not node.words:
            return None
        self.step()
        self.nested += 1
        try:
            prefix, reasons = self.prefix(node, st)
            argv, why = self.argv(node, st)
        finally:
            self.nested -= 1
        argv = _unwrap(argv, prefix)
        unknown = "; ".join(dict.fromkeys(reasons + why))
        return self.output(Command(argv, st.environ(prefix), st.cwd, unknown, st.path))

    def substituted(self, text: str, st: _State, why: list[str]) -> str | None:
        """A substitution's value as the shell splices it in (trailing newlines cut)."""
        printed = self.substitution(text, st)
        if printed is None:
            return None
        value = printed.rstrip("\n")
        if "$" in value:
            shown = text if len(text) <= 60 else text[:57] + "..."
            why.append(f"`{shown}` gives a value not all known here")
        return value

    def execute(
        self,
        node: Simple,
        argv: list[str],
        prefix: dict[str, str],
        unknown: str,
        st: _State,
        calls: int,
    ) -> list[_State]:
        tool = argv[0].rsplit("/", 1)[-1] if argv else ""
        if tool in _DECLARE:
            _declare(argv, st)
        elif tool == "unset":
            for name in argv[1:]:
                st.vars[name] = ""  # unset: empty, where a missing name would be unknown
                st.exported.discard(name)
        elif tool in ("cd", "pushd", "popd"):
            _chdir(tool, argv[1:], st)
        elif tool in st.funcs and calls < MAX_CALLS:
            saved = {k: st.vars.get(k) for k in ("1", "2", "3", "4", "5", "6", "7", "8", "9")}
            for i, arg in enumerate(argv[1:10], 1):
                st.vars[str(i)] = arg
            states = self.node(st.funcs[tool], [st], calls + 1)
            for s in states:
                for k, v in saved.items():
                    if v is None:
                        s.vars.pop(k, None)
                    else:
                        s.vars[k] = v
            return states
        elif tool in _SHELLS and _inline_script(argv) is not None:
            if calls < MAX_CALLS:
                child = _State(st.environ(prefix), set(st.exported) | set(prefix), st.cwd)
                child.vars["PWD"], child.path = st.cwd, st.path
                tree = parse(_inline_script(argv) or "")
                self.trees.append(tree)  # alive to the end: `site` is the id of a node
                self.seq(tree, [child], calls + 1)
        elif argv:
            env = st.environ(prefix)
            self.out.append(Command(argv, env, st.cwd, unknown, st.path, id(node)))
        return [st]

    # -- words -------------------------------------------------------------------

    def value(self, word: Word, st: _State) -> tuple[str, list[str]]:
        """A word expanded without splitting (an assignment's value)."""
        out: list[str] = []
        why: list[str] = []
        for p in word:
            if p.kind == LIT:
                out.append(p.text)
            elif p.kind == SUBST:
                printed = self.substituted(p.text, st, why)
                out.append(_opaque(p.text) if printed is None else printed)
                if printed is None:
                    why.append(_computed(p.text))
            else:
                v = self.expand(p.text, st.vars)
                if v == p.text:
                    why.append(f"`{p.text}` has no value here")
                out.append(v)
        return "".join(out), why

    def fields(self, word: Word, st: _State) -> tuple[list[str], list[str]]:
        """A word expanded and split into fields the way the shell splits `$VAR`."""
        fields: list[str] = []
        cur = ""
        have = False  # the current field exists (even if empty: "")
        why: list[str] = []
        for p in word:
            if p.kind == LIT:
                cur += p.text
                have = have or p.quoted or bool(p.text)
                continue
            known = True
            if p.kind == SUBST:
                printed = self.substituted(p.text, st, why)
                if printed is None:
                    cur, have = cur + _opaque(p.text), True
                    why.append(_computed(p.text))
                    continue
                v = printed
            else:
                v = self.expand(p.text, st.vars)
                known = v != p.text
                if not known:
                    why.append(f"`{p.text}` has no value here")
            if p.quoted or not known:
                cur, have = cur + v, True
                continue
            parts = _IFS.split(v)
            cur += parts[0]
            have = have or bool(parts[0])
            for part in parts[1:]:
                if have:
                    fields.append(cur)
                cur, have = part, bool(part)
        if have:
            fields.append(cur)
        return fields, why


def _opaque(text: str) -> str:
    """`$(cat /t)` as `$(cat…)`: a word with no blank or `/` in it, as consumers split
    values on blanks and match paths by their `/` segments."""
    parts = text.split()
    if len(parts) == 1 and "/" not in text:
        return text
    opener = "`" if text.startswith("`") else "$("
    name = parts[0].removeprefix(opener).rsplit("/", 1)[-1] if parts else ""
    return opener + name + "…" + (opener[0] if opener == "`" else ")")


def _substitution_body(text: str) -> str | None:
    """The command of `$(…)` or `…` in backticks; None for `$((…))`, `<(…)` and the like."""
    if text.startswith("$(") and not text.startswith("$((") and text.endswith(")"):
        return text[2:-1]
    if len(text) > 1 and text.startswith("`") and text.endswith("`"):
        return text[1:-1]
    return None


def _computed(text: str) -> str:
    shown = text if len(text) <= 60 else text[:57] + "..."
    return f"`{shown}` is computed when the RUN runs"


def _merge(states: list[_State]) -> _State:
    """One state for many: what they agree on is kept, the rest is unknown."""
    first = states[0].copy()
    for st in states[1:]:
        for k in set(first.vars) | set(st.vars):
            if first.vars.get(k) != st.vars.get(k):
                first.vars[k] = "${" + k + "}"
        first.exported |= st.exported
        if first.cwd != st.cwd:
            first.cwd = "${PWD}"
        for name, body in st.funcs.items():
            first.funcs.setdefault(name, body)
    return first


def _unwrap(argv: list[str], prefix: dict[str, str]) -> list[str]:
    """`env A=b sudo cargo build` runs cargo with A=b: drop the wrappers, keep the assignments."""
    i = 0
    while i < len(argv):
        tool = argv[i].rsplit("/", 1)[-1]
        if tool in _WRAPPERS:
            i += 1
        elif tool == "env":
            i += 1
            while i < len(argv):
                a = argv[i]
                if a in ("-u", "--unset", "-C", "--chdir"):
                    i += 2
                elif a.startswith("-"):
                    i += 1
                elif "=" in a and _NAME.match(a.split("=", 1)[0]):
                    k, _, v = a.partition("=")
                    prefix[k] = v
                    i += 1
                else:
                    break
        else:
            break
    return argv[i:]


def _declare(argv: list[str], st: _State) -> None:
    exports = argv[0].rsplit("/", 1)[-1] == "export" or any(
        a.startswith("-") and "x" in a for a in argv[1:]
    )
    for arg in argv[1:]:
        if arg.startswith("-"):
            continue
        name, eq, value = arg.partition("=")
        if not _NAME.match(name):
            continue
        if eq:
            st.vars[name] = value
        if exports:
            st.exported.add(name)


def _chdir(tool: str, args: list[str], st: _State) -> None:
    args = [a for a in args if a not in ("-P", "-L", "-e", "-@", "--")]
    if tool == "popd":
        if st.dirs:
            st.oldpwd, st.cwd = st.cwd, st.dirs.pop()
    else:
        if tool == "pushd":
            st.dirs.append(st.cwd)
        if not args:
            target = st.vars.get("HOME", "/root")
        elif args[0] == "-" and tool == "cd":
            target = st.oldpwd
        else:
            target = args[0]
        st.oldpwd, st.cwd = st.cwd, _abs(st.cwd, target)
    st.vars["PWD"] = st.cwd


def _abs(cwd: str, path: str) -> str:
    return "/" + posixpath.normpath(posixpath.join(cwd or "/", path)).lstrip("/")


def _inline_script(argv: list[str]) -> str | None:
    """The script of `sh -c '...'` (also `bash -ec`, `sh -e -c`), or None."""
    for i, a in enumerate(argv[1:], 1):
        if a == "--" or not a.startswith("-"):
            return None
        if "c" in a[1:] and not a.startswith("--"):
            return argv[i + 1] if i + 1 < len(argv) else None
    return None


_INSTALLERS = {
    ("apt-get", "install"): "apt",
    ("apt", "install"): "apt",
    ("apk", "add"): "apk",
    ("dnf", "install"): "dnf",
    ("microdnf", "install"): "dnf",
    ("yum", "install"): "dnf",
    ("tdnf", "install"): "dnf",
    ("zypper", "install"): "zypper",
    ("zypper", "in"): "zypper",
}


def installed_packages(cmd: Command) -> list[str]:
    argv = cmd.argv
    if not argv:
        return []
    tool = argv[0].rsplit("/", 1)[-1]
    subs = [a for a in argv[1:] if not a.startswith("-")]
    if not subs or (tool, subs[0]) not in _INSTALLERS:
        return []
    pkgs = []
    skip_next = False
    for a in argv[argv.index(subs[0]) + 1 :]:
        if skip_next:
            skip_next = False
        elif a in ("-t", "--target-release", "--repository", "-X", "--virtual", "-t"):
            skip_next = True
        elif not a.startswith("-"):
            pkgs.append(a.split("=")[0].split("@")[0])
    return pkgs
