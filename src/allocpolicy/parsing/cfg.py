"""Parse and evaluate Rust `cfg` predicates.

They show up in two places we care about: Cargo `[target.'cfg(...)'.dependencies]`
keys (which decide whether an allocator crate is even compiled in) and
`#[cfg(...)]` / `#[cfg_attr(...)]` attributes on a `#[global_allocator]` static.

The grammar is the one rustc accepts::

    pred  := 'all' '(' list ')' | 'any' '(' list ')' | 'not' '(' pred ','? ')'
           | IDENT '=' STRING | IDENT | 'true' | 'false'
    list  := (pred (',' pred)* ','?)?

Cargo additionally accepts a bare target triple as a target-table key; see
`target_key_matches`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import record

__all__ = [
    "FALSE",
    "TRUE",
    "CfgError",
    "CfgExpr",
    "conj",
    "decide",
    "disj",
    "negate",
    "parse_cfg",
    "target_key_matches",
]

_OPS = frozenset({"all", "any", "not", "name", "eq"})
# Deep enough for any real predicate, shallow enough that the recursive
# parser/evaluator can never hit Python's recursion limit on hostile input.
_MAX_DEPTH = 128


class CfgError(ValueError):
    """A predicate that rustc/cargo would reject; `offset` is a 0-based char index."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at offset {offset}")
        self.message = message
        self.offset = offset


@record(frozen=True)
class CfgExpr:
    """One node of a predicate tree.

    A single class (rather than one per node kind) keeps equality, hashing and
    pattern matching trivial for callers:

    * ``op == "all" | "any"``: ``args`` holds the operands (possibly empty);
    * ``op == "not"``: ``args`` holds exactly one operand;
    * ``op == "eq"``: ``key = "value"``;
    * ``op == "name"``: a bare name such as ``unix`` (``key`` holds it).
    """

    op: str
    args: tuple[CfgExpr, ...] = ()
    key: str = ""
    value: str | None = None

    def __post_init__(self) -> None:
        # Guard the invariants once here so evaluate()/__str__ can trust them.
        if self.op not in _OPS:
            raise ValueError(f"unknown cfg op {self.op!r}")
        if self.op == "not" and len(self.args) != 1:
            raise ValueError("not() takes exactly one predicate")
        if self.op in ("name", "eq") and (self.args or not self.key):
            raise ValueError(f"{self.op} node needs a key and no args")
        if (self.op == "eq") != (self.value is not None):
            raise ValueError("only eq nodes carry a value")

    # -- constructors -----------------------------------------------------

    @classmethod
    def all_(cls, *args: CfgExpr) -> CfgExpr:
        return cls("all", tuple(args))

    @classmethod
    def any_(cls, *args: CfgExpr) -> CfgExpr:
        return cls("any", tuple(args))

    @classmethod
    def not_(cls, arg: CfgExpr) -> CfgExpr:
        return cls("not", (arg,))

    @classmethod
    def name(cls, name: str) -> CfgExpr:
        return cls("name", key=name)

    @classmethod
    def eq(cls, key: str, value: str) -> CfgExpr:
        return cls("eq", key=key, value=value)

    # -- semantics --------------------------------------------------------

    def evaluate(
        self, facts: Mapping[str, object], features: frozenset[str] | Iterable[str] = frozenset()
    ) -> bool:
        """Truth of the predicate for a target described by `facts`.

        Unknown keys are false, as rustc treats cfgs it was not given.
        """
        if self.op == "all":
            return all(a.evaluate(facts, features) for a in self.args)
        if self.op == "any":
            return any(a.evaluate(facts, features) for a in self.args)
        if self.op == "not":
            return not self.args[0].evaluate(facts, features)
        if self.op == "eq":
            return _eq_holds(self.key, self.value or "", facts, features)
        return _name_holds(self.key, facts)

    def keys(self) -> frozenset[str]:
        """Every key or bare name the predicate looks at (e.g. to decide relevance)."""
        if self.op in ("all", "any", "not"):
            out: frozenset[str] = frozenset()
            for a in self.args:
                out |= a.keys()
            return out
        if self.op == "name" and self.key in ("true", "false"):
            return frozenset()  # literals, not configuration
        return frozenset({self.key})

    def features(self) -> frozenset[str]:
        """The feature names the predicate tests (`feature = "x"` anywhere in it)."""
        if self.op == "eq":
            return frozenset({self.value or ""}) if self.key == "feature" else frozenset()
        out: frozenset[str] = frozenset()
        for a in self.args:
            out |= a.features()
        return out

    @property
    def is_true(self) -> bool:
        """Syntactically always true (``all()`` or ``true``); no evaluation needed."""
        return (self.op == "all" and not self.args) or (self.op == "name" and self.key == "true")

    def __str__(self) -> str:
        if self.op in ("all", "any", "not"):
            return f"{self.op}({', '.join(str(a) for a in self.args)})"
        if self.op == "eq":
            return f'{self.key} = "{_escape(self.value or "")}"'
        return self.key


TRUE = CfgExpr("all")
FALSE = CfgExpr("any")


def _eq_holds(key: str, value: str, facts: Mapping[str, object], features: Iterable[str]) -> bool:
    if key == "feature" and value in features:
        return True
        # Features may also be supplied as a fact (e.g. from `cargo --features`).
    fact = facts.get(key)
    if fact is None:
        return False
    if isinstance(fact, str):
        return fact == value
    if isinstance(fact, (set, frozenset, list, tuple)):
        # Multi-valued cfgs: target_family, target_feature, feature, ...
        return value in fact
    return str(fact) == value


def _name_holds(name: str, facts: Mapping[str, object]) -> bool:
    if name == "true":
        return True
    if name == "false":
        return False
    if name in facts:
        return bool(facts[name])
    if name in ("unix", "windows"):
        # rustc derives these from target_family; don't make callers repeat it.
        family = facts.get("target_family")
        if isinstance(family, str):
            return family == name
        if isinstance(family, (set, frozenset, list, tuple)):
            return name in family
    return False


def _escape(value: str) -> str:
    out: list[str] = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\0":
            out.append("\\0")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F or 0xD800 <= ord(ch) <= 0xDFFF:
            # Keep the canonical text printable and single-line.
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    return "".join(out)


# -- lexer -----------------------------------------------------------------


@record(frozen=True)
class _Tok:
    kind: str  # "ident" | "str" | "(" | ")" | "," | "=" | "eof"
    text: str
    offset: int


_IDENT_RE = lazy_re(r"[^\W\d]\w*")
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", "0": "\0", "'": "'", '"': '"'}


def _lex(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif text.startswith("//", i):
            # Attribute token trees copied out of Rust source may carry comments.
            nl = text.find("\n", i)
            i = n if nl < 0 else nl + 1
        elif text.startswith("/*", i):
            i = _skip_block_comment(text, i)
        elif ch in "(),=":
            toks.append(_Tok(ch, ch, i))
            i += 1
        elif ch == '"':
            value, end = _lex_string(text, i)
            toks.append(_Tok("str", value, i))
            i = end
        elif ch == "r" and re.match(r'r#*"', text[i : i + 260]):
            value, end = _lex_raw_string(text, i)
            toks.append(_Tok("str", value, i))
            i = end
        else:
            m = _IDENT_RE.match(text, i)
            if not m:
                raise CfgError(f"unexpected character {ch!r}", i)
            toks.append(_Tok("ident", m.group(), i))
            i = m.end()
    toks.append(_Tok("eof", "", n))
    return toks


def _skip_block_comment(text: str, start: int) -> int:
    depth, i = 0, start
    while i < len(text):
        if text.startswith("/*", i):
            depth += 1
            i += 2
        elif text.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    raise CfgError("unterminated block comment", start)


def _lex_string(text: str, start: int) -> tuple[str, int]:
    out: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= n:
            break
        esc = text[i + 1]
        if esc in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[esc])
            i += 2
        elif esc == "x":
            m = re.match(r"[0-7][0-9a-fA-F]", text[i + 2 : i + 4])
            if not m:
                raise CfgError("invalid \\x escape", i)
            out.append(chr(int(m.group(), 16)))
            i += 4
        elif esc == "u":
            m = re.match(r"\{([0-9a-fA-F][0-9a-fA-F_]{0,7})\}", text[i + 2 : i + 14])
            code = int(m.group(1).replace("_", ""), 16) if m else -1
            if not m or code > 0x10FFFF:
                raise CfgError("invalid \\u escape", i)
            out.append(chr(code))
            i += 2 + m.end()
        elif esc == "\n" or (esc == "\r" and text[i + 2 : i + 3] == "\n"):
            # Line continuation: the newline and following whitespace vanish.
            i += 2 if esc == "\n" else 3
            while i < n and text[i] in " \t\r\n":
                i += 1
        else:
            raise CfgError(f"unknown escape \\{esc}", i)
    raise CfgError("unterminated string", start)


def _lex_raw_string(text: str, start: int) -> tuple[str, int]:
    m = re.match(r'r(#*)"', text[start : start + 260])
    assert m is not None  # guarded by the caller
    closing = '"' + m.group(1)
    body = start + m.end()
    end = text.find(closing, body)
    if end < 0:
        raise CfgError("unterminated raw string", start)
    return text[body:end], end + len(closing)


# -- parser ----------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _lex(text)
        self.pos = 0

    def peek(self, ahead: int = 0) -> _Tok:
        return self.toks[min(self.pos + ahead, len(self.toks) - 1)]

    def take(self, kind: str, what: str) -> _Tok:
        tok = self.peek()
        if tok.kind != kind:
            found = "end of input" if tok.kind == "eof" else repr(tok.text)
            raise CfgError(f"expected {what}, found {found}", tok.offset)
        self.pos += 1
        return tok

    def predicate(self, depth: int = 0) -> CfgExpr:
        if depth > _MAX_DEPTH:
            raise CfgError("predicate nested too deeply", self.peek().offset)
        ident = self.take("ident", "a cfg predicate")
        nxt = self.peek()
        if nxt.kind == "=":
            self.pos += 1
            value = self.take("str", "a string literal")
            return CfgExpr.eq(ident.text, value.text)
        if nxt.kind != "(":
            return CfgExpr.name(ident.text)
        if ident.text not in ("all", "any", "not"):
            raise CfgError(f"unknown cfg operator {ident.text!r}", ident.offset)
        args = self.arg_list(depth)
        if ident.text == "not":
            if len(args) != 1:
                raise CfgError("not() takes exactly one predicate", ident.offset)
            return CfgExpr.not_(args[0])
        return CfgExpr(ident.text, tuple(args))

    def arg_list(self, depth: int) -> list[CfgExpr]:
        self.take("(", "'('")
        args: list[CfgExpr] = []
        while self.peek().kind != ")":
            args.append(self.predicate(depth + 1))
            if self.peek().kind != ",":
                break
            self.pos += 1  # trailing commas are legal
        self.take(")", "',' or ')'")
        return args


def parse_cfg(text: str) -> CfgExpr:
    """Parse ``cfg(<pred>)`` or a bare ``<pred>``; raises `CfgError`."""
    p = _Parser(text)
    if p.peek().kind == "eof":
        raise CfgError("empty cfg predicate", p.peek().offset)
    if p.peek().kind == "ident" and p.peek().text == "cfg" and p.peek(1).kind == "(":
        # `cfg(...)` is never a predicate itself, so unwrapping is unambiguous.
        open_tok = p.peek(1)
        p.pos += 1
        args = p.arg_list(0)
        if len(args) != 1:
            raise CfgError("cfg() takes exactly one predicate", open_tok.offset)
        expr = args[0]
    else:
        expr = p.predicate()
    tail = p.peek()
    if tail.kind != "eof":
        raise CfgError(f"unexpected {tail.text!r} after predicate", tail.offset)
    return expr


def target_key_matches(
    key: str,
    triple: str,
    facts: Mapping[str, object],
    features: frozenset[str] | Iterable[str] = frozenset(),
) -> bool:
    """Does Cargo's ``[target.<key>]`` table apply when building for `triple`?

    A key is either ``cfg(...)`` or a target name compared verbatim, as cargo
    does.  Raises `CfgError` for a malformed ``cfg(...)`` key.
    """
    key = key.strip()
    if key.startswith("cfg(") or re.match(r"cfg\s*\(", key):
        return parse_cfg(key).evaluate(facts, frozenset(features))
    return key == triple.strip()


def _flatten(op: str, exprs: Iterable[CfgExpr | None]) -> list[CfgExpr]:
    out: list[CfgExpr] = []
    for e in exprs:
        if e is None:
            continue
        parts = e.args if e.op == op else (e,)
        for part in parts:
            if part not in out:  # duplicates add nothing to and/or
                out.append(part)
    return out


def conj(exprs: Iterable[CfgExpr | None]) -> CfgExpr | None:
    """``all(...)`` of the given predicates, flattened; None when nothing was given.

    None entries (meaning "unconditional") are skipped, so callers can pass
    optional gates straight through.
    """
    given = [e for e in exprs if e is not None]
    if not given:
        return None
    parts = [p for p in _flatten("all", given) if not p.is_true]
    if not parts:
        return TRUE
    return parts[0] if len(parts) == 1 else CfgExpr("all", tuple(parts))


def disj(exprs: Iterable[CfgExpr]) -> CfgExpr | None:
    """``any(...)`` of the given predicates, flattened; None when nothing was given."""
    given = list(exprs)
    if not given:
        return None
    if any(e.is_true for e in given):
        return TRUE
    parts = _flatten("any", given)
    if not parts:
        return FALSE
    return parts[0] if len(parts) == 1 else CfgExpr("any", tuple(parts))


def opt_outs(expr: CfgExpr | None) -> list[CfgExpr]:
    """The `not(feature = "x")` conjuncts of a gate: switches a user turns on to leave the
    gated item out (`#[cfg(not(feature = "disable-mimalloc"))]`)."""
    if expr is None:
        return []
    parts = expr.args if expr.op == "all" else (expr,)
    return [
        p for p in parts if p.op == "not" and p.args[0].op == "eq" and p.args[0].key == "feature"
    ]


def decide(expr: CfgExpr, names: Mapping[str, bool]) -> bool | None:
    """The predicate's truth when only the bare `names` are known, or None when the rest decides.

    `decide(all(test, feature = "x"), {"test": False})` is False: no build without
    `test` compiles what it gates, whatever its features.
    """
    if expr.op in ("all", "any"):
        vals = [decide(a, names) for a in expr.args]
        short = expr.op == "any"  # the value that decides the whole: True for any, False for all
        if short in vals:
            return short
        return None if None in vals else not short
    if expr.op == "not":
        val = decide(expr.args[0], names)
        return None if val is None else not val
    if expr.op == "name":
        if expr.key in ("true", "false"):
            return expr.key == "true"
        return names.get(expr.key)
    return None


def negate(expr: CfgExpr) -> CfgExpr:
    """``not(expr)``, cancelling a double negation."""
    if expr.op == "not":
        return expr.args[0]
    return CfgExpr.not_(expr)
