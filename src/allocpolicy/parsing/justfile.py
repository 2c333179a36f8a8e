"""Just enough of `just` to read what `just RECIPE` in a RUN line runs.

`RUN just arch=$TARGETARCH features=all build --release -p app` builds with whatever
the justfile's recipe says: its body (after its dependencies' bodies), with `{{ expr }}`
interpolations evaluated and, under `set positional-arguments`, `"$@"`/`$1` replaced by
the recipe's arguments. What just would compute at run time — backticks, `arch()`, a
function this reading does not know, an `=~` match, a comparison with such a value —
comes out as `$(false)`, a command substitution, which the RUN reader already treats
as an unknown value. Nothing in the justfile is run.

One backtick is read: the one asking rustc for its host triple (`rustc -vV | sed -n
's|host: ||p'`, `rustc --print host-tuple`, ...). It is the host of the toolchain the
caller names, or :data:`UNKNOWN_HOST` when none is known.

Bounded: the caller reads the file through the size-capped reader; lexing is linear,
expression nesting, evaluation depth, dependency chains, the characters one call may
produce and the number of lines it returns are capped here. No text makes it raise.
"""

from __future__ import annotations

import re

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import field, record

UNKNOWN = "$(false)"  # a command substitution: an unknown value for the shell reader
UNKNOWN_HOST = "$(rustc-host)"  # rustc's host triple, when the caller does not know it
MAX_DEPTH = 16  # nested ifs and parentheses in one expression; dependency chains
MAX_EVAL_DEPTH = 64  # evaluation frames: variables referring to variables, nested ifs
MAX_LINES = 256  # shell lines one `just` call yields
MAX_CHARS = 64 * 1024  # characters and references one call may evaluate: `a := b + b` doubles


# ---------------------------------------------------------------- expressions


@record(frozen=True)
class _Lit:
    text: str


@record(frozen=True)
class _Var:
    name: str


@record(frozen=True)
class _Call:
    name: str
    args: tuple[_Expr, ...]


@record(frozen=True)
class _Unknown:  # a backtick, a list, `!x`, an x-string: what just computes at run time
    pass


@record(frozen=True)
class _Host:  # a backtick asking rustc for its host triple
    pass


@record(frozen=True)
class _Chain:  # `a + b / c`: concatenation and path joins, left to right
    first: _Expr
    rest: tuple[tuple[str, _Expr], ...]


@record(frozen=True)
class _Compare:
    op: str  # == != =~ !~, or "" for a condition this reading does not decide
    left: _Expr
    right: _Expr


@record(frozen=True)
class _If:  # `if c1 { a } else if c2 { b } else { c }`, the chain kept flat
    branches: tuple[tuple[_Compare, _Expr], ...]
    otherwise: _Expr


_Expr = _Lit | _Var | _Call | _Unknown | _Host | _Chain | _Compare | _If
_UNKNOWN_EXPR = _Unknown()
_HOST_EXPR = _Host()


# ---------------------------------------------------------------- the justfile


@record
class Parameter:
    name: str
    default: _Expr | None = None
    variadic: str = ""  # "+" (one or more) or "*" (zero or more)
    exported: bool = False  # `$name`: also an environment variable of the recipe's lines


@record
class Dependency:
    name: str
    args: list[_Expr] = field(default_factory=list)


@record
class Recipe:
    name: str
    parameters: list[Parameter] = field(default_factory=list)
    before: list[Dependency] = field(default_factory=list)
    after: list[Dependency] = field(default_factory=list)  # `&& dep`: run after the body
    body: list[list[str | _Expr]] = field(default_factory=list)  # text and interpolations
    script: bool = False  # a shebang or [script] recipe: the body is one script
    positional: bool = False  # [positional-arguments] on this recipe
    quiet: bool = False
    default: bool = False  # the [default] attribute


@record
class Justfile:
    assignments: dict[str, _Expr] = field(default_factory=dict)
    exported: set[str] = field(default_factory=set)
    recipes: dict[str, Recipe] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    default: str | None = None  # what a bare `just` runs
    positional: bool = False  # set positional-arguments
    export_all: bool = False  # set export
    shell: list[str] = field(default_factory=list)  # set shell := [...], as written


# ---------------------------------------------------------------- lexing

_TOKEN = lazy_re(
    r"""(?P<ws>[ \t]+|\\\r?\n)
    |(?P<comment>\#[^\n]*)
    |(?P<nl>\r?\n)
    |(?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    |(?P<op>:=|==|!=|=~|!~|&&|\|\||\+\+|::|[:=+/(){}\[\],@*$!?])
    """,
    re.VERBOSE,
)
_DELIMS = {"'''": "'''", '"""': '"""', "```": "```", "'": "'", '"': '"', "`": "`"}
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


@record
class _Tok:
    kind: str  # name, op, str, unknown, nl, eof, error
    text: str
    end: int


class _Lexer:
    """Tokens of just's expression language from `pos`, newlines inside (), {}, [] skipped."""

    def __init__(self, text: str, pos: int, failed: dict[str, int]) -> None:
        self.text, self.pos, self.depth = text, pos, 0
        self.failed = failed  # delimiter -> a start from which it was never closed

    def next(self) -> _Tok:
        while True:
            tok = self._one()
            if tok.kind == "ws" or tok.kind == "comment" or (tok.kind == "nl" and self.depth):
                continue
            if tok.text in ("(", "{", "["):
                self.depth += 1
            elif tok.text in (")", "}", "]"):
                self.depth = max(0, self.depth - 1)
            return tok

    def _one(self) -> _Tok:
        text, pos = self.text, self.pos
        if pos >= len(text):
            return _Tok("eof", "", pos)
        prefixed = text[pos] in "xf" and text[pos + 1 : pos + 2] in ("'", '"')
        for opener in _DELIMS:
            if text.startswith(opener, pos + prefixed):
                return self._quoted(opener, pos, prefixed)
        m = _TOKEN.match(text, pos)
        if m is None or m.lastgroup is None:
            self.pos = pos + 1
            return _Tok("error", text[pos], self.pos)
        self.pos = m.end()
        return _Tok(m.lastgroup, m.group(), self.pos)

    def _quoted(self, opener: str, pos: int, prefixed: bool) -> _Tok:
        start = pos + prefixed + len(opener)
        close = self._close(opener, start)
        if close < 0:
            self.pos = len(self.text)  # never closed: the rest of the text is one bad token
            return _Tok("error", opener, self.pos)
        self.pos = close + len(opener)
        body = self.text[start:close]
        if prefixed:
            return _Tok("unknown", body, self.pos)  # run at evaluation time: not known here
        if opener.startswith("`"):
            return _Tok("backtick", _unindent(body) if len(opener) == 3 else body, self.pos)
        if len(opener) == 3:
            body = _unindent(body)
        if opener[0] == '"':
            body = _unescape(body)
        return _Tok("str", body, self.pos)

    def _close(self, opener: str, start: int) -> int:
        # once a delimiter is found unclosed, no later one closes either: this keeps a
        # file of ten thousand lone quotes linear instead of quadratic
        if self.failed.get(opener, len(self.text) + 1) <= start:
            return -1
        if opener == '"':
            m = re.compile(r'(?:[^"\\]|\\[\s\S])*"').match(self.text, start)
            close = m.end() - 1 if m else -1
        else:
            close = self.text.find(opener, start)
        if close < 0:
            self.failed[opener] = start
        return close


def _unindent(body: str) -> str:
    if body.startswith("\n"):
        body = body[1:]
    elif body.startswith("\r\n"):
        body = body[2:]
    lines = body.split("\n")
    filled = [ln for ln in lines if ln.strip()]
    common = min((len(ln) - len(ln.lstrip(" \t")) for ln in filled), default=0)
    return "\n".join(ln[common:] if ln.strip() else ln.lstrip(" \t") for ln in lines)


def _unescape(body: str) -> str:
    def one(m: re.Match[str]) -> str:
        c = m.group(1)
        if c == "\n":
            return ""  # an escaped newline joins the lines
        return _ESCAPES.get(c, "\\" + c)

    return re.sub(r"\\([\s\S])", one, body)


# ---------------------------------------------------------------- the host query

_RUSTC = r"rustc(?: \+[\w.-]+)?"
_VERBOSE = r"(?:-vV|-Vv|-V -v|-v -V|--version --verbose|--verbose --version)"
_Q = r"['\"]?"  # an optional quote
_FIELD_2 = (  # the host line's second field: `cut -d' ' -f2`, `awk '{print $2}'`
    r"(?:cut (?:-d ?['\"] ['\"] ?-f ?2|-f ?2 -d ?['\"] ['\"])"
    r"|awk ['\"]\{ ?print \$2;? ?\}['\"])"
)
_HOST_QUERY = lazy_re(
    rf"{_RUSTC} --print[ =]host-tuple"
    rf"|{_RUSTC} {_VERBOSE} \| (?:"
    rf"sed -n {_Q}s(?P<d>[|/#]|:)\^?host: ?(?P=d)(?P=d)p{_Q}"  # sed -n 's|host: ||p'
    rf"|grep {_Q}\^?host:?{_Q} \| {_FIELD_2}"  # grep host | cut -d' ' -f2
    rf"|awk {_Q}/\^?host:?/ ?\{{ ?print \$2;? ?\}}{_Q}"  # awk '/host/ {print $2}'
    r")"
)


def asks_host(command: str) -> bool:
    """Whether a backtick's command prints rustc's host triple and nothing else."""
    text = " ".join(command.split())
    return len(text) <= 200 and _HOST_QUERY.fullmatch(text) is not None


# ---------------------------------------------------------------- parsing expressions


class _Fail(Exception):
    """An item this reading cannot parse: just would reject the file, this skips the item."""


class _Parser:
    def __init__(self, lexer: _Lexer) -> None:
        self.lexer = lexer
        self.ahead: list[_Tok] = []
        self.nesting = 0
        self.last_end = lexer.pos  # where the last token taken ends

    def peek(self, k: int = 0) -> _Tok:
        while len(self.ahead) <= k:
            self.ahead.append(self.lexer.next())
        return self.ahead[k]

    def take(self) -> _Tok:
        tok = self.peek()
        self.ahead.pop(0)
        self.last_end = tok.end
        if tok.kind == "error":
            raise _Fail(tok.text)
        return tok

    def expect(self, text: str) -> None:
        if self.take().text != text:
            raise _Fail(text)

    def at(self, text: str) -> bool:
        tok = self.peek()
        return tok.kind in ("op", "name") and tok.text == text

    def expression(self) -> _Expr:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise _Fail("too deep")
        try:
            left = self._comparison()
            if self.at("||") or self.at("&&"):  # boolean operators (unstable in just)
                self.take()
                self.expression()
                return _UNKNOWN_EXPR
            return left
        finally:
            self.nesting -= 1

    def _comparison(self) -> _Expr:
        left = self._conjunct()
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("==", "!=", "=~", "!~"):
            self.take()
            return _Compare(tok.text, left, self._conjunct())
        return left

    def _conjunct(self) -> _Expr:
        rest: list[tuple[str, _Expr]] = []
        if self.at("/"):  # a leading `/`: an absolute path
            self.take()
            first: _Expr = _Lit("")
            rest.append(("/", self._operand()))
        else:
            first = self._operand()
        while self.peek().kind == "op" and self.peek().text in ("+", "/", "++"):
            op = self.take().text
            rest.append((op, self._operand()))
        return _Chain(first, tuple(rest)) if rest else first

    def _operand(self) -> _Expr:
        if self.at("if"):
            return self._conditional()
        return self.value()

    def _conditional(self) -> _Expr:
        branches: list[tuple[_Compare, _Expr]] = []
        while True:
            self.expect("if")
            cond = self.expression()
            if not isinstance(cond, _Compare):
                cond = _Compare("", cond, cond)
            self.expect("{")
            branches.append((cond, self.expression()))
            self.expect("}")
            if not self.at("else"):
                return _If(tuple(branches), _Lit(""))
            self.take()
            if not self.at("if"):
                break
        self.expect("{")
        otherwise = self.expression()
        self.expect("}")
        return _If(tuple(branches), otherwise)

    def value(self) -> _Expr:
        tok = self.take()
        if tok.kind == "str":
            return _Lit(tok.text)
        if tok.kind == "backtick":
            return _HOST_EXPR if asks_host(tok.text) else _UNKNOWN_EXPR
        if tok.kind == "unknown":
            return _UNKNOWN_EXPR
        if tok.kind == "name":
            if self.at("("):
                return _Call(tok.text, self._arguments())
            return _Var(tok.text)
        if tok.text == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if tok.text == "!":
            while self.at("!"):  # a loop, not recursion: `!!!!…` stays flat
                self.take()
            self.value()
            return _UNKNOWN_EXPR
        if tok.text == "[":
            self._skip_list()
            return _UNKNOWN_EXPR
        raise _Fail(tok.text)

    def _arguments(self) -> tuple[_Expr, ...]:
        self.expect("(")
        args: list[_Expr] = []
        while not self.at(")"):
            args.append(self.expression())
            if not self.at(","):
                break
            self.take()
        self.expect(")")
        return tuple(args)

    def _skip_list(self) -> None:
        while not self.at("]"):
            self.expression()
            if not self.at(","):
                break
            self.take()
        self.expect("]")


# ---------------------------------------------------------------- parsing items


def parse_justfile(text: str) -> Justfile:
    jf = Justfile()
    lines = text.split("\n")
    attributes: list[str] = []
    failed: dict[str, int] = {}
    offsets = _line_offsets(lines)
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#") or line[0] in " \t":
            i += 1  # blank, a comment, or an indented line with no recipe above it
            continue
        parser = _Parser(_Lexer(text, offsets[i], failed))
        current: Recipe | None = None
        try:
            current = _item(jf, parser, attributes)
        except _Fail:
            attributes = []
        i = _line_at(offsets, parser.lexer.pos, i + 1)  # past what was read, so linear
        if current is not None:
            i = _body(current, lines, i)
    return jf


def _line_offsets(lines: list[str]) -> list[int]:
    offsets, at = [], 0
    for line in lines:
        offsets.append(at)
        at += len(line) + 1
    return offsets


def _line_at(offsets: list[int], end: int, floor: int) -> int:
    """The first line starting at or after `end`, and never before `floor`."""
    i = floor
    while i < len(offsets) and offsets[i] < end:
        i += 1
    return i


def _item(jf: Justfile, p: _Parser, attributes: list[str]) -> Recipe | None:
    first, second = p.peek(), p.peek(1)
    if first.text == "[":
        attributes.extend(_attributes(p))
        if p.peek().kind in ("nl", "eof"):
            return None
        first, second = p.peek(), p.peek(1)  # `[private] name:` on one line
    if first.kind == "name" and second.text == ":=":
        _assignment(jf, p, exported=False)
    elif first.text == "export" and second.kind == "name" and p.peek(2).text == ":=":
        p.take()
        _assignment(jf, p, exported=True)
    elif first.text == "set" and second.kind == "name":
        _setting(jf, p)
    elif first.text == "alias" and second.kind == "name" and p.peek(2).text == ":=":
        p.take()
        name = p.take().text
        p.take()
        jf.aliases[name] = p.take().text
    elif first.text in ("import", "mod") or (first.kind == "name" and second.text == "("):
        _skip_item(p)  # imports, modules and user functions: what they bring is not read here
    elif first.text == "@" or first.kind == "name":
        names = list(attributes)
        attributes.clear()
        return _recipe(jf, p, names)
    attributes.clear()
    return None


def _skip_item(p: _Parser) -> None:
    while p.peek().kind not in ("nl", "eof"):
        p.take()


def _attributes(p: _Parser) -> list[str]:
    names: list[str] = []
    while p.at("["):
        p.take()
        depth = 1  # brackets and parentheses: `[arg("x", long)]` names one attribute, arg
        while depth:
            tok = p.take()
            if tok.kind == "eof":
                raise _Fail("[")
            if tok.kind == "op":
                depth += {"[": 1, "(": 1, "]": -1, ")": -1}.get(tok.text, 0)
            elif tok.kind == "name" and depth == 1:
                names.append(tok.text)
    return names


def _assignment(jf: Justfile, p: _Parser, exported: bool) -> None:
    name = p.take().text
    p.expect(":=")
    value = p.expression()
    _end(p)
    jf.assignments[name] = value
    if exported:
        jf.exported.add(name)


def _setting(jf: Justfile, p: _Parser) -> None:
    p.take()
    name = p.take().text
    value: list[str] = ["true"]
    if p.at(":="):
        p.take()
        value = _setting_value(p)
    _end(p)
    on = value == ["true"]
    if name == "positional-arguments":
        jf.positional = on
    elif name == "export":
        jf.export_all = on
    elif name == "shell":
        jf.shell = value


def _setting_value(p: _Parser) -> list[str]:
    if not p.at("["):
        tok = p.take()
        return [tok.text]
    p.take()
    out: list[str] = []
    while not p.at("]"):
        tok = p.take()
        if tok.kind == "eof":
            raise _Fail("]")
        if tok.kind in ("str", "unknown", "backtick"):
            out.append(tok.text)
    p.take()
    return out


def _end(p: _Parser) -> None:
    if p.peek().kind not in ("nl", "eof"):
        raise _Fail("end of line")


def _recipe(jf: Justfile, p: _Parser, attributes: list[str]) -> Recipe:
    quiet = p.at("@")
    if quiet:
        p.take()
    tok = p.take()
    if tok.kind != "name":
        raise _Fail(tok.text)
    r = Recipe(tok.text, quiet=quiet, default="default" in attributes)
    r.script = "script" in attributes
    r.positional = "positional-arguments" in attributes
    while not p.at(":"):
        r.parameters.append(_parameter(p))
    p.take()
    _dependencies(p, r)
    _end(p)
    jf.recipes[r.name] = r
    if jf.default is None or (r.default and not jf.recipes[jf.default].default):
        jf.default = r.name
    return r


def _parameter(p: _Parser) -> Parameter:
    variadic = p.take().text if p.at("+") or p.at("*") else ""
    exported = p.at("$")
    if exported:
        p.take()
    tok = p.take()
    if tok.kind != "name":
        raise _Fail(tok.text)
    default = None
    if p.at("="):
        p.take()
        default = p.value()
    return Parameter(tok.text, default, variadic, exported)


def _dependencies(p: _Parser, r: Recipe) -> None:
    target = r.before
    while p.peek().kind not in ("nl", "eof"):
        if p.at("&&"):
            p.take()
            target = r.after
        elif p.at("(") or (p.at("*") and p.peek(1).text == "("):
            if p.at("*"):
                p.take()
            p.take()
            dep = Dependency(_target(p))
            while not p.at(")"):
                dep.args.append(p.expression())
            p.take()
            target.append(dep)
        else:
            target.append(Dependency(_target(p)))


def _target(p: _Parser) -> str:
    tok = p.take()
    if tok.kind != "name":
        raise _Fail(tok.text)
    name = tok.text
    while p.at("::"):  # a module's recipe: kept whole, so it is not found here
        p.take()
        name += "::" + p.take().text
    return name


def _body(r: Recipe, lines: list[str], i: int) -> int:
    """Read the recipe's indented lines from line `i`; return the line after them."""
    raw: list[str] = []
    while i < len(lines):
        line = lines[i].rstrip("\r")
        if line.strip() and line[0] not in " \t":
            break
        raw.append(line)
        i += 1
    while raw and not raw[-1].strip():
        raw.pop()
    if not raw:
        return i
    first = next(ln for ln in raw if ln.strip())
    indent = first[: len(first) - len(first.lstrip(" \t"))]
    body = [ln[len(indent) :] if ln.startswith(indent) else ln.lstrip(" \t") for ln in raw]
    while body and not body[0].strip():
        body.pop(0)
    r.script = r.script or body[0].startswith("#!")
    r.body = [_fragments(ln) for ln in body]
    return i


_INTERPOLATION = lazy_re(r"\{\{\{\{|\{\{")


def _fragments(line: str) -> list[str | _Expr]:
    """A body line as text and `{{ expr }}` parts; `{{{{` is a literal `{{`."""
    out: list[str | _Expr] = []
    pos, text = 0, ""
    failed: dict[str, int] = {}
    while (m := _INTERPOLATION.search(line, pos)) is not None:
        text += line[pos : m.start()]
        if m.group() == "{{{{":
            text += "{{"
            pos = m.end()
            continue
        expr, pos = _interpolation(line, m.end(), failed)
        out += [text, expr]
        text = ""
    out.append(text + line[pos:])
    return [f for f in out if f != ""]


def _interpolation(line: str, start: int, failed: dict[str, int]) -> tuple[_Expr, int]:
    p = _Parser(_Lexer(line, start, failed))
    try:
        expr = p.expression()
        p.expect("}")
        p.expect("}")
        return expr, p.last_end
    except _Fail:
        close = line.find("}}", start)
        return _UNKNOWN_EXPR, len(line) if close < 0 else close + 2


# ---------------------------------------------------------------- evaluating


@record
class _Scope:
    jf: Justfile
    overrides: dict[str, str]
    env: dict[str, str]
    directory: str
    budget: list[int]  # characters and references evaluation may still spend, per call
    host: str | None = None  # the host triple of the toolchain that runs, when known
    values: dict[str, str] = field(default_factory=dict)  # globals evaluated so far
    active: set[str] = field(default_factory=set)  # globals being evaluated: a cycle ends


def _spend(scope: _Scope, value: str) -> str:
    scope.budget[0] -= len(value) + 1
    return value if scope.budget[0] >= 0 else UNKNOWN


def _eval(e: _Expr, scope: _Scope, local: dict[str, str], depth: int) -> str:
    if depth > MAX_EVAL_DEPTH or scope.budget[0] < 0:
        return UNKNOWN
    if isinstance(e, _Lit):
        return _spend(scope, e.text)
    if isinstance(e, _Var):
        return _spend(scope, _lookup(e.name, scope, local, depth))
    if isinstance(e, _Chain):
        out = _eval(e.first, scope, local, depth + 1)
        for op, operand in e.rest:
            value = _eval(operand, scope, local, depth + 1)
            out = out + value if op == "+" else out + "/" + value if op == "/" else UNKNOWN
        return _spend(scope, out)
    if isinstance(e, _If):
        return _conditional(e, scope, local, depth)
    if isinstance(e, _Call):
        args = [_eval(a, scope, local, depth + 1) for a in e.args]
        return _spend(scope, _call(e.name, args, scope))
    if isinstance(e, _Host):
        return _spend(scope, scope.host or UNKNOWN_HOST)
    return UNKNOWN  # backticks, comparisons outside an `if`, what this reading cannot do


def _unknown(value: str) -> bool:
    return UNKNOWN in value or UNKNOWN_HOST in value


def _lookup(name: str, scope: _Scope, local: dict[str, str], depth: int) -> str:
    if name in local:
        return local[name]
    if name in scope.overrides:
        return scope.overrides[name]
    if name in scope.values:
        return scope.values[name]
    expr = scope.jf.assignments.get(name)
    if expr is None or name in scope.active:
        return UNKNOWN  # not defined here (an import's?), or defined through itself
    scope.active.add(name)
    value = _eval(expr, scope, {}, depth + 1)  # a global sees no recipe's parameters
    scope.active.discard(name)
    scope.values[name] = value
    return value


def _conditional(e: _If, scope: _Scope, local: dict[str, str], depth: int) -> str:
    for cond, then in e.branches:
        decided = _decide(cond, scope, local, depth + 1)
        if decided is None:
            target = _unless_host(e, scope, local, depth + 1)
            if target is not None:
                return target
            return UNKNOWN  # which branch runs is not known, so neither is the value
        if decided:
            return _eval(then, scope, local, depth + 1)
    return _eval(e.otherwise, scope, local, depth + 1)


def _unless_host(e: _If, scope: _Scope, local: dict[str, str], depth: int) -> str | None:
    """`if target != host { target } else { "" }` (or `== … { "" } else { target }`), with
    `host` rustc's host triple: the value of `target`, whichever branch runs.

    The idiom feeds `--target {{ x }}` (and a path `target/{{ x }}/release`): it leaves
    `--target` out when the target is the host's, and cargo then builds the very same
    target, only in `target/<profile>/` instead of `target/<triple>/<profile>/`. Every use
    of the variable takes the same branch in the same run, so a binary found through it
    (`mv target/$(just print-target)/release/app …`) is the one built for `target`; only
    a path written out literally could differ, and then one of the two builds fails."""
    if len(e.branches) != 1:
        return None
    cond, then = e.branches[0]
    empty, chosen = (e.otherwise, then) if cond.op == "!=" else (then, e.otherwise)
    if cond.op not in ("==", "!=") or empty != _Lit(""):
        return None
    sides = (cond.left, cond.right)
    if chosen not in sides or not any(isinstance(_through(s, scope), _Host) for s in sides):
        return None
    if isinstance(_through(chosen, scope), _Host):
        return None
    value = _eval(chosen, scope, local, depth)
    return value if value and UNKNOWN_HOST not in value else None


def _through(e: _Expr, scope: _Scope) -> _Expr:
    """A variable's expression, followed through plain `a := b` aliases (bounded)."""
    for _ in range(MAX_DEPTH):
        if not isinstance(e, _Var) or e.name in scope.overrides:
            return e
        nxt = scope.jf.assignments.get(e.name)
        if nxt is None:
            return e
        e = nxt
    return e


def _decide(cond: _Compare, scope: _Scope, local: dict[str, str], depth: int) -> bool | None:
    if cond.op not in ("==", "!="):
        return None  # a regex match or a boolean operator: not decided here
    left = _eval(cond.left, scope, local, depth)
    right = _eval(cond.right, scope, local, depth)
    if _unknown(left) and _unknown(right):
        return None
    if _unknown(left) or _unknown(right):
        partial, known = (left, right) if _unknown(left) else (right, left)
        if _could_be(partial, known):
            return None
        return cond.op == "!="  # `$(false)-unknown-linux-gnu` is never ""
    return (left == right) == (cond.op == "==")


_MARKER = lazy_re(re.escape(UNKNOWN) + "|" + re.escape(UNKNOWN_HOST))


def _could_be(partial: str, known: str) -> bool:
    """Whether a value with unknown parts may equal `known`: its literal parts, in order,
    fit (`x-$(false)` may be `x-y`, never ""). Linear: each part is found once."""
    parts = _MARKER.split(partial)
    if len(parts) > 64:
        return True
    first, *middle, last = parts
    if not known.startswith(first) or len(first) + len(last) > len(known):
        return False
    at, end = len(first), len(known) - len(last)
    if not known.endswith(last):
        return False
    for part in middle:
        found = known.find(part, at, end)
        if found < 0:
            return False
        at = found + len(part)
    return True


def _call(name: str, args: list[str], scope: _Scope) -> str:
    if any(_unknown(a) for a in args):
        return UNKNOWN
    if name in ("env_var", "env") and len(args) == 1:
        return scope.env.get(args[0], UNKNOWN)  # just fails on an unset variable
    if name in ("env_var_or_default", "env") and len(args) == 2:
        return scope.env.get(args[0], args[1])
    if not args and name in _DIRECTORIES:
        return scope.directory
    if not args and name in _CONSTANTS:
        return _CONSTANTS[name]
    return UNKNOWN  # arch(), a backtick's kin, a function this reading does not know


_DIRECTORIES = frozenset(
    {"justfile_directory", "invocation_directory", "invocation_directory_native"}
)
_CONSTANTS = {"os": "linux", "os_family": "unix"}  # images are built on Linux


# ---------------------------------------------------------------- running a recipe


def recipe(
    jf: Justfile,
    argv: list[str],
    env: dict[str, str],
    directory: str,
    host: str | None = None,
    budget: list[int] | None = None,
) -> list[str] | None:
    """The shell lines `just ARGV` runs, in order; None when just would run nothing.

    `argv` are the words after `just` with its flags taken off by the caller:
    `NAME=value` overrides, then recipe names each followed by its arguments. None
    when a recipe does not exist, an override names no variable of the justfile or a
    required argument is missing (just refuses all three). `directory` is what
    `justfile_directory()` and `invocation_directory()` give. Exported variables and
    `$parameters` come first as `export NAME=value` lines. `host`: rustc's host triple
    where the caller knows it; `budget`: a one-item list of what evaluation may still
    spend (:data:`MAX_CHARS` when not given), left with what it did not."""
    scope = _Scope(jf, {}, env, directory, budget or [MAX_CHARS], host)
    words = _overrides(jf, argv, scope.overrides)
    if words is None:
        return None
    calls = _calls(jf, words)
    if calls is None:
        return None
    out = _exports(jf, [n for n in jf.assignments if jf.export_all or n in jf.exported], scope)
    done: set[tuple[str, tuple[str, ...]]] = set()
    for name, args in calls:
        if not _run(scope, jf.recipes[name], args, out, done, 0):
            return None
    return out[:MAX_LINES]


def evaluate(
    jf: Justfile,
    name: str,
    overrides: dict[str, str],
    env: dict[str, str],
    directory: str,
    host: str | None = None,
    budget: list[int] | None = None,
) -> str | None:
    """The value `just --set NAME VALUE... --evaluate NAME` prints; None when the
    justfile has no such variable. `$(false)` stands for what is not known here."""
    if name not in jf.assignments or any(n not in jf.assignments for n in overrides):
        return None
    values = {n: _shell_value(v) for n, v in overrides.items()}
    scope = _Scope(jf, values, env, directory, budget or [MAX_CHARS], host)
    return _lookup(name, scope, {}, 0)


def evaluate_argv(
    jf: Justfile,
    argv: list[str],
    env: dict[str, str],
    directory: str,
    host: str | None = None,
    budget: list[int] | None = None,
) -> str | None:
    """What `just --evaluate ARGV` prints for `ARGV` = overrides then one variable's
    name (`profile=release _target_bin`, `--set arch amd64 _arch`); None otherwise."""
    overrides: dict[str, str] = {}
    words = _overrides(jf, argv, overrides)
    if words is None or len(words) != 1:
        return None  # no name: just prints every variable
    return evaluate(jf, words[0], overrides, env, directory, host, budget)


def _overrides(jf: Justfile, argv: list[str], into: dict[str, str]) -> list[str] | None:
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--set":
            if i + 2 >= len(argv):
                return None
            name, value, i = argv[i + 1], argv[i + 2], i + 3
        elif "=" in word and _NAME.fullmatch(word.split("=", 1)[0]):
            (name, value), i = word.split("=", 1), i + 1
        else:
            break
        if name not in jf.assignments:
            return None  # just: "variable overridden on the command line but not present"
        into[name] = _shell_value(value)
    rest = argv[i:]
    return None if rest[:1] and rest[0].startswith("-") else rest


_NAME = lazy_re(r"[A-Za-z_][A-Za-z0-9_-]*")
# What the RUN reader leaves of a value it does not know: `$NAME`, `${…}`, `$(…)`, `…`
_SHELL_UNKNOWN = lazy_re(r"\$\{[^{}]*\}|\$\([^()]*\)|\$[A-Za-z_]\w*|`[^`]*`")


def _shell_value(value: str) -> str:
    """`arch=$TARGETARCH` with TARGETARCH unset: unknown to just too, not the text `$T…`
    (which would compare unequal to every arch and pick a wrong branch)."""
    return _SHELL_UNKNOWN.sub(UNKNOWN, value) if "$" in value or "`" in value else value


def _calls(jf: Justfile, words: list[str]) -> list[tuple[str, list[str]]] | None:
    """Group the words into recipes and their arguments, as just does."""
    if not words:
        return [(jf.default, [])] if jf.default is not None else None
    calls: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(words):
        name = jf.aliases.get(words[i], words[i])
        r = jf.recipes.get(name)
        if r is None:
            return None
        most = len(words) if any(p.variadic for p in r.parameters) else len(r.parameters)
        args = words[i + 1 : i + 1 + most]
        calls.append((name, args))
        i += 1 + len(args)
    return calls


def _run(
    scope: _Scope,
    r: Recipe,
    args: list[str],
    out: list[str],
    done: set[tuple[str, tuple[str, ...]]],
    depth: int,
) -> bool:
    key = (r.name, tuple(args))
    if key in done or depth > MAX_DEPTH or len(out) >= MAX_LINES:
        return True  # a dependency runs once per set of arguments; a cycle ends
    done.add(key)
    scope.budget[0] -= 1 + len(r.before) + len(r.after)  # fanning dependencies spend too
    if scope.budget[0] < 0:
        return True
    bound = _bind(r, args, scope)
    if bound is None:
        return False
    local, positional = bound
    for dep in r.before:
        _dependency(scope, dep, local, out, done, depth)
    exported = [p.name for p in r.parameters if p.exported or scope.jf.export_all]
    out += _exports_of({n: local[n] for n in exported})
    _lines(scope, r, local, positional, out)
    for dep in r.after:
        _dependency(scope, dep, local, out, done, depth)
    return True


def _dependency(
    scope: _Scope,
    dep: Dependency,
    local: dict[str, str],
    out: list[str],
    done: set[tuple[str, tuple[str, ...]]],
    depth: int,
) -> None:
    target = scope.jf.recipes.get(scope.jf.aliases.get(dep.name, dep.name))
    if target is None:
        return  # from an import or a module: not read here
    args = [_eval(a, scope, local, 0) for a in dep.args]
    _run(scope, target, args, out, done, depth + 1)


def _bind(r: Recipe, args: list[str], scope: _Scope) -> tuple[dict[str, str], list[str]] | None:
    """The parameters' values, and the positional arguments `$1`... the lines see."""
    local: dict[str, str] = {}
    positional: list[str] = []
    for i, p in enumerate(r.parameters):
        given = args[i:] if p.variadic else args[i : i + 1]
        if given:
            local[p.name] = " ".join(given)
            positional += given
            continue
        if p.default is not None:
            value = _eval(p.default, scope, local, 0)
        elif p.variadic == "*":
            value = ""
        else:
            return None  # just: the recipe got too few arguments
        local[p.name] = value
        positional += [value] if value or not p.variadic else []
    return local, positional


def _exports(jf: Justfile, names: list[str], scope: _Scope) -> list[str]:
    return _exports_of({n: _lookup(n, scope, {}, 0) for n in names})


def _exports_of(values: dict[str, str]) -> list[str]:
    return [f"export {name}={quote(value)}" for name, value in values.items() if _is_env(name)]


def _is_env(name: str) -> bool:
    return name.replace("_", "a").isalnum() and not name[0].isdigit()


def _lines(
    scope: _Scope, r: Recipe, local: dict[str, str], positional: list[str], out: list[str]
) -> None:
    shift = r.positional or scope.jf.positional
    texts: list[str] = []
    pending = ""
    for fragments in r.body:
        if len(out) + len(texts) >= MAX_LINES or scope.budget[0] < 0:
            break
        # sigils (`@`, `-`, `?`) only start a line; a continued line keeps its `--flag`
        line = _evaluate_line(fragments, scope, local, not r.script and not pending)
        if shift:
            line = _positional(line, r.name, positional)
        if r.script:
            texts.append(line)
        elif line.endswith("\\"):
            pending += line[:-1] if not pending else line[:-1].lstrip()
        else:
            texts.append(pending + (line.lstrip() if pending else line))
            pending = ""
    if pending:
        texts.append(pending)
    if r.script:
        out.append("\n".join(texts))
    else:
        out += [t for t in texts if t.strip() and not t.lstrip().startswith("#")]


def _evaluate_line(
    fragments: list[str | _Expr], scope: _Scope, local: dict[str, str], sigils: bool
) -> str:
    parts: list[str] = []
    for i, f in enumerate(fragments):
        if isinstance(f, str):
            parts.append(f.lstrip("@-?") if i == 0 and sigils else f)
        else:
            parts.append(_eval(f, scope, local, 0))
    return "".join(parts)


# ---------------------------------------------------------------- positional arguments

_POSITIONAL = lazy_re(r"\"\$@\"|\"\$\{@\}\"|\$\{(\d+|[@*#])\}|\$(\d|[@*#])")


def _positional(line: str, name: str, args: list[str]) -> str:
    """`$1`, `"$@"`, `$#` in a line replaced by the arguments just passes the shell.

    Each argument is quoted as the shell would see it where the reference stands:
    bare, inside double quotes, or as the `"$@"` that expands to one word each; inside
    single quotes or after a backslash the shell does not expand it, nor does this."""
    out: list[str] = []
    pos, state = 0, ""
    for m in _POSITIONAL.finditer(line):
        state, escaped = _quoting(line[pos : m.start()], state)
        out.append(line[pos : m.start()])
        pos = m.end()
        which = m.group(1) or m.group(2)
        if state == "'" or escaped:
            out.append(m.group())
            state, _ = _quoting(m.group()[1:] if escaped else m.group(), state)
        elif which is None:  # the whole "$@": one word per argument
            words = " ".join(quote(a) for a in args)
            out.append(f'"{words}"' if state else words)  # inside "…": close, words, reopen
        elif which in "@*" and not state:
            out.append(" ".join(quote(a) for a in args))
        else:
            out.append(_fit(_argument(which, name, args), state == '"'))
    out.append(line[pos:])
    return "".join(out)


def _argument(which: str, name: str, args: list[str]) -> str:
    if which == "#":
        return str(len(args))
    if which in "@*":
        return " ".join(args)
    n = int(which)
    return name if n == 0 else args[n - 1] if n <= len(args) else ""


def _fit(value: str, quoted: bool) -> str:
    if not quoted:
        return quote(value)
    return "".join(c if c not in '"\\`' else "\\" + c for c in value)  # `$` stays live


def _quoting(text: str, state: str) -> tuple[str, bool]:
    """The shell's quoting after `text` from `state` ("", '"' or "'"), and whether
    `text` ends in a backslash that escapes what follows."""
    i = 0
    while i < len(text):
        c = text[i]
        if state == "'":
            state = "" if c == "'" else state
        elif c == "\\":
            if i + 1 == len(text):
                return state, True
            i += 1
        elif c == '"':
            state = "" if state else '"'
        elif c == "'" and not state:
            state = "'"
        i += 1
    return state, False


_SAFE = lazy_re(r"[\w@%+=:,./-]+")
_LIVE = lazy_re(r"(\$\([^()]*\)|\$\{[^{}]*\}|\$[A-Za-z_]\w*)")


def quote(word: str) -> str:
    """`word` as one shell word; `$(...)`/`${...}`/`$NAME` in it stay live, so an
    unknown value is still unknown to the shell reader rather than literal text."""
    if _SAFE.fullmatch(word):
        return word
    if not word:
        return "''"
    parts = _LIVE.split(word)
    return "".join(
        p if i % 2 else ("'" + p.replace("'", "'\\''") + "'" if p else "")
        for i, p in enumerate(parts)
    )
