"""Just enough GNU make to read what `make TARGET` in a RUN line runs.

`RUN make install-cli` builds with whatever the Makefile's rule says: the recipe of
that target (after those of its prerequisites), with the Makefile's variables
expanded. What make would compute at run time — `$(shell ...)`, `$(wildcard ...)`,
any other function, a variable set inside `ifeq`/`ifdef` or by an `include`d file —
is not known here: it comes out as `$(false)`, a command substitution, which the
RUN reader already treats as an unknown value. Nothing in the Makefile is run.

Bounded: the caller reads the file through the size-capped reader; expansion depth,
prerequisite depth and the number of recipe lines are capped here.
"""

from __future__ import annotations

import re

from allocpolicy._record import field, record

UNKNOWN = "$(false)"  # a command substitution: an unknown value for the shell reader
MAX_DEPTH = 16  # nested variable references and prerequisite chains
MAX_LINES = 256  # recipe lines one `make` call yields
MAX_CHARS = 64 * 1024  # characters and references one call may expand: `A = $(B)$(B)` doubles

_ASSIGN = re.compile(
    r"^(?:(?:export|override)\s+)*([A-Za-z_][\w.-]*)\s*(\?=|::?:?=|\+=|!=|=)\s?(.*)$"
)
_RULE = re.compile(r"^([^:=#\t][^:=#]*?)\s*::?\s*(?!=)([^;=]*?)(?:;\s*(.*))?$")
_REF = re.compile(r"\$(?:\(([^()$]*)\)|\{([^{}$]*)\}|([@<^*?%$]))")
_CONDITIONAL = re.compile(r"^\s*(ifeq|ifneq|ifdef|ifndef)\b")


@record
class Makefile:
    variables: dict[str, str] = field(default_factory=dict)  # as written (recursive form)
    unknown: set[str] = field(default_factory=set)  # set where this reading cannot follow
    rules: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    default: str | None = None  # the first target, which a bare `make` builds


def parse_makefile(text: str) -> Makefile:
    mk = Makefile()
    depth = 0  # inside ifeq/ifdef blocks
    current: str | None = None  # the rule whose recipe lines follow
    for line in _logical_lines(text):
        if line.startswith("\t") and current is not None and depth == 0:
            mk.rules[current][1].append(line[1:])
            continue
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        if _CONDITIONAL.match(stripped):
            depth += 1
        elif stripped == "endif" or stripped.startswith("endif "):
            depth = max(0, depth - 1)
        elif stripped.startswith(("else", "include", "-include", "sinclude", "define")):
            current = None
        elif (m := _ASSIGN.match(stripped)) is not None:
            current = None
            _assign(mk, m.group(1), m.group(2), m.group(3), depth > 0)
        elif (r := _RULE.match(stripped)) is not None and depth == 0:
            current = _rule(mk, r.group(1), r.group(2), r.group(3))
        else:
            current = None
    return mk


def _logical_lines(text: str) -> list[str]:
    out: list[str] = []
    pending: list[str] = []  # a list: joining a 100 000-line continuation stays linear
    for raw in text.splitlines():
        if pending and raw.startswith("\t"):
            raw = raw[1:]  # make drops a continued recipe line's leading tab
        if raw.endswith("\\"):
            pending.append(raw[:-1])
            continue
        out.append(" ".join([*pending, raw]))
        pending = []
    if pending:
        out.append(" ".join(pending))
    return out


def _assign(mk: Makefile, name: str, op: str, value: str, conditional: bool) -> None:
    if conditional or op == "!=":  # a branch we do not decide, or a shell command's output
        mk.unknown.add(name)
        mk.variables.pop(name, None)
    elif op == "?=":
        mk.variables.setdefault(name, value)
    elif op == "+=":
        mk.variables[name] = (mk.variables.get(name, "") + " " + value).strip()
    else:
        mk.variables[name] = value
        mk.unknown.discard(name)


def _rule(mk: Makefile, targets: str, prereqs: str, inline: str | None) -> str | None:
    names = targets.split()
    if not names:
        return None
    for name in names:
        mk.rules[name] = (prereqs.split(), [inline] if inline else [])
        if mk.default is None and not name.startswith("."):
            mk.default = name
    return names[0] if len(names) == 1 else None


def recipe(
    mk: Makefile,
    goals: list[str],
    overrides: dict[str, str],
    env: dict[str, str],
) -> list[str] | None:
    """The shell lines `make GOALS VAR=value` runs, in order; None when a goal has no rule.

    Command-line values win over the Makefile's; the environment fills in what the
    Makefile does not set (make's default precedence)."""
    out: list[str] = []
    done: set[str] = set()
    budget = [MAX_CHARS]
    for goal in goals or ([mk.default] if mk.default else []):
        if not _run(mk, goal, _Scope(overrides, env, budget), out, done, 0):
            return None
    return out


@record
class _Scope:
    overrides: dict[str, str]
    env: dict[str, str]
    budget: list[int]  # characters expansion may still produce, shared by the whole call


def _run(
    mk: Makefile, target: str, scope: _Scope, out: list[str], done: set[str], depth: int
) -> bool:
    if target in done:
        return True
    rule = mk.rules.get(target)
    if rule is None or depth > MAX_DEPTH:
        return False
    done.add(target)
    prereqs, lines = rule
    for p in prereqs:
        if p in mk.rules:  # a file prerequisite is not a recipe to run
            _run(mk, p, scope, out, done, depth + 1)
    for line in lines:
        if len(out) >= MAX_LINES:
            return True
        text = _expand(mk, line, scope, {"@": target, "<": (prereqs or [""])[0]}, 0)
        out.append(text.lstrip("@-+ \t"))
    return True


def _expand(mk: Makefile, text: str, scope: _Scope, auto: dict[str, str], depth: int) -> str:
    """Make's expansion of `text`: `$(VAR)`, `${VAR}`, `$$`, automatic variables."""

    def one(m: re.Match[str]) -> str:
        scope.budget[0] -= 1  # each reference costs, so empty ones cannot fan out for free
        if scope.budget[0] < 0:
            return UNKNOWN
        name = m.group(1) if m.group(1) is not None else m.group(2)
        if name is None:
            sym = m.group(3)
            return "$" if sym == "$" else auto.get(sym, UNKNOWN)
        if depth >= MAX_DEPTH or " " in name.strip() or "," in name:
            return UNKNOWN  # a function call ($(shell ...), $(subst a,b,c)) or too deep
        name = name.strip()
        if name in scope.overrides:
            value = scope.overrides[name]
        elif name in mk.unknown:
            return UNKNOWN
        elif name in mk.variables:
            value = _expand(mk, mk.variables[name], scope, auto, depth + 1)
        else:
            value = scope.env.get(name, "make" if name == "MAKE" else "")
        scope.budget[0] -= len(value)
        return value if scope.budget[0] >= 0 else UNKNOWN

    return _REF.sub(one, text)
