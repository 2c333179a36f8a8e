"""Just enough GNU make to read what `make TARGET` in a RUN line runs.

`RUN make install-cli` builds with whatever the Makefile's rule says: the recipe of
that target (after those of its prerequisites), with the Makefile's variables
expanded and `ifeq`/`ifneq`/`ifdef` decided for the command line's values. What make
would compute at run time — `$(shell ...)`, `$(wildcard ...)`, any other function but
`$(strip)`, a variable set in a branch that cannot be decided or by an `include`d
file — is not known here: it comes out as `$(false)`, a command substitution, which
the RUN reader already treats as an unknown value. Nothing in the Makefile is run.

Bounded: the caller reads the file through the size-capped reader; expansion depth,
prerequisite depth and the number of recipe lines are capped here.
"""

from __future__ import annotations

import re

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import field, record

UNKNOWN = "$(false)"  # a command substitution: an unknown value for the shell reader
MAX_DEPTH = 16  # nested variable references and prerequisite chains
MAX_LINES = 256  # recipe lines one `make` call yields
MAX_CHARS = 64 * 1024  # characters and references one call may expand: `A = $(B)$(B)` doubles

_ASSIGN = lazy_re(r"^(?:(?:export|override)\s+)*([A-Za-z_][\w.-]*)\s*(\?=|::?:?=|\+=|!=|=)\s?(.*)$")
_RULE = lazy_re(r"^([^:=#\t][^:=#]*?)\s*::?\s*(?!=)([^;=]*?)(?:;\s*(.*))?$")
_REF = lazy_re(r"\$(?:\(([^()$]*)\)|\{([^{}$]*)\}|([@<^*?%$]))")
_IFS = frozenset({"ifeq", "ifneq", "ifdef", "ifndef"})
_SKIP = frozenset({"include", "-include", "sinclude", "define", "endef", "export", "unexport"})
_STRIP = lazy_re(r"^\$\(strip\s+(.*)\)$", re.S)


@record
class Makefile:
    lines: list[str]  # logical lines (continuations joined), read again per call


@record
class _Loaded:
    variables: dict[str, str] = field(default_factory=dict)  # recursive form
    unknown: set[str] = field(default_factory=set)  # set where this reading cannot follow
    rules: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    default: str | None = None  # the first target, which a bare `make` builds


@record
class _Scope:
    overrides: dict[str, str]
    env: dict[str, str]
    budget: list[int]  # characters expansion may still produce, shared by the whole call


def parse_makefile(text: str) -> Makefile:
    return Makefile(_logical_lines(text))


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


def _load(mk: Makefile, scope: _Scope) -> _Loaded:
    """Variables and rules as make reads them with these values: each conditional is
    decided when its operands are known; in one that is not, assignments leave the
    variable unknown and rules are not read."""
    ld = _Loaded()
    stack: list[list[bool | None]] = []  # per open conditional: [state, a branch taken]
    current: str | None = None  # the rule whose recipe lines follow
    for line in mk.lines:
        state = stack[-1][0] if stack else True
        if line.startswith("\t") and current is not None:
            if state is True:
                ld.rules[current][1].append(line[1:])
            continue
        stripped = line.split("#", 1)[0].strip()
        word = stripped.split(None, 1)[0] if stripped else ""
        if not word:
            continue
        current = None
        if word in _IFS:
            cond = _decide(ld, stripped, scope) if state is True else state
            stack.append([cond, cond])
        elif word == "else" and stack:
            _else(ld, stack, stripped[4:].strip(), scope)
        elif word == "endif" and stack:
            stack.pop()
        elif state is False or word in _SKIP:
            continue
        elif (m := _ASSIGN.match(stripped)) is not None:
            _assign(ld, m.group(1), m.group(2), m.group(3), scope, state is None)
        elif state is True and (r := _RULE.match(stripped)) is not None:
            current = _rule(ld, r.group(1), r.group(2), r.group(3))
    return ld


def _else(ld: _Loaded, stack: list[list[bool | None]], rest: str, scope: _Scope) -> None:
    frame = stack[-1]
    parent = stack[-2][0] if len(stack) > 1 else True
    if parent is False or frame[1] is True:
        frame[0] = False
    elif parent is None or frame[1] is None:
        frame[0] = None
    else:  # no branch taken yet: `else` or `else ifeq ...` decides
        cond = _decide(ld, rest, scope) if rest else True
        frame[0] = frame[1] = cond


def _decide(ld: _Loaded, text: str, scope: _Scope) -> bool | None:
    word, _, rest = text.partition(" ")
    rest = rest.strip()
    if word in ("ifdef", "ifndef"):
        value = _value(ld, rest, scope)
        return None if value is None else (bool(value.strip()) == (word == "ifdef"))
    pair = _operands(rest)
    if pair is None:
        return None
    a, b = (_condition_side(ld, side, scope) for side in pair)
    if a is None or b is None:
        return None
    return (a == b) == (word == "ifeq")


def _operands(rest: str) -> tuple[str, str] | None:
    """`(a,b)` with nested parentheses, or `"a" "b"` / `'a' 'b'`."""
    if rest.startswith("(") and rest.endswith(")"):
        inner, depth = rest[1:-1], 0
        for i, ch in enumerate(inner):
            depth += (ch == "(") - (ch == ")")
            if ch == "," and depth == 0:
                return inner[:i], inner[i + 1 :]
        return None
    m = re.fullmatch(r"""(["'])(.*?)\1\s+(["'])(.*?)\3""", rest)
    return (m.group(2), m.group(4)) if m else None


def _condition_side(ld: _Loaded, side: str, scope: _Scope) -> str | None:
    side = side.strip() if side.strip().startswith("$(strip") else side
    strip = _STRIP.match(side)
    text = _expand(ld, strip.group(1) if strip else side, scope, {}, 0)
    if UNKNOWN in text:
        return None
    return text.strip() if strip else text


def _value(ld: _Loaded, name: str, scope: _Scope) -> str | None:
    """A variable's value as written (ifdef does not expand it); None when unknown."""
    if name in scope.overrides:
        return scope.overrides[name]
    if name in ld.unknown:
        return None
    if name in ld.variables:
        return ld.variables[name]
    return scope.env.get(name, "")


def _assign(ld: _Loaded, name: str, op: str, value: str, scope: _Scope, unsure: bool) -> None:
    if name in scope.overrides:
        return  # the command line's value wins over the Makefile's
    if unsure or op == "!=" or (op == "+=" and name in ld.unknown):
        ld.unknown.add(name)  # a branch we do not decide, or a shell command's output
        ld.variables.pop(name, None)
        return
    if op == "?=":
        if name not in ld.variables and name not in scope.env and name not in ld.unknown:
            ld.variables[name] = value
        return
    if op.startswith(":"):  # simply expanded: its value now; `$` kept as written
        value = _expand(ld, value, scope, {}, 0).replace("$", "$$")
    if op == "+=":
        base = ld.variables.get(name, scope.env.get(name, "").replace("$", "$$"))
        value = (base + " " + value).strip()
    ld.variables[name] = value
    ld.unknown.discard(name)


def _rule(ld: _Loaded, targets: str, prereqs: str, inline: str | None) -> str | None:
    names = targets.split()
    if not names:
        return None
    for name in names:
        ld.rules[name] = (prereqs.split(), [inline] if inline else [])
        if ld.default is None and not name.startswith("."):
            ld.default = name
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
    scope = _Scope(overrides, env, [MAX_CHARS])
    ld = _load(mk, scope)
    out: list[str] = []
    done: set[str] = set()
    for goal in goals or ([ld.default] if ld.default else []):
        if not _run(ld, goal, scope, out, done, 0):
            return None
    return out


def _run(
    ld: _Loaded, target: str, scope: _Scope, out: list[str], done: set[str], depth: int
) -> bool:
    if target in done:
        return True
    rule = ld.rules.get(target)
    if rule is None or depth > MAX_DEPTH:
        return False
    done.add(target)
    prereqs, lines = rule
    for p in prereqs:
        if p in ld.rules:  # a file prerequisite is not a recipe to run
            _run(ld, p, scope, out, done, depth + 1)
    for line in lines:
        if len(out) >= MAX_LINES:
            return True
        text = _expand(ld, line, scope, {"@": target, "<": (prereqs or [""])[0]}, 0)
        out.append(text.lstrip("@-+ \t"))
    return True


def _expand(ld: _Loaded, text: str, scope: _Scope, auto: dict[str, str], depth: int) -> str:
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
        elif name in ld.unknown:
            return UNKNOWN
        elif name in ld.variables:
            value = _expand(ld, ld.variables[name], scope, auto, depth + 1)
        else:
            value = scope.env.get(name, "make" if name == "MAKE" else "")
        scope.budget[0] -= len(value)
        return value if scope.budget[0] >= 0 else UNKNOWN

    return _REF.sub(one, text)
