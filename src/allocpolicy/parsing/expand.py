"""Variable expansion in Dockerfile words, as BuildKit's lexer does it, with bounds.

The semantics follow moby/buildkit ``frontend/dockerfile/shell/lex.go``
(``ProcessWord``): ``$V`` and ``${V}``; ``${V:-w}``, ``${V-w}``, ``${V:+w}``,
``${V+w}``, ``${V:?m}``, ``${V?m}``; the pattern forms ``${V#p}``, ``${V##p}``,
``${V%p}``, ``${V%%p}``, ``${V/p/r}`` and ``${V//p/r}`` (``*`` and ``?``
wildcards, no bracket expressions); single quotes that suppress expansion,
double quotes that do not, and the Dockerfile's escape character.  Anything
BuildKit rejects (``${}``, ``${V:x}``, a missing ``}``, ``${V?}`` on an unset V,
an unterminated quote) raises :class:`ExpansionError`.

Two things BuildKit does not have to care about are bounded here, because a
linter reads hostile files: no expanded value may grow past :data:`MAX_VALUE`
characters, one file's expansions may not do more than :data:`WORK_BUDGET`
units of work, and ``${...}`` may not nest deeper than :data:`MAX_DEPTH`.  Past
any bound the word's value is *unknown*: the word comes back as written, with
its ``$`` in it, which is how every consumer already recognises an unresolved
variable (an unknown base image, an unknown target), never as a finding.

What a name means depends on where the word is:

* ``word(closed=True)`` -- BuildKit's global scope (FROM lines, ARGs before the
  first FROM).  Every variable that can have a value there is known to the
  caller, so a name that is neither in ``env`` nor in ``unknown`` is unset and
  expands to the empty string, as BuildKit expands it.  ``unknown`` names (an
  ARG declared without a value, which ``--build-arg`` may still set) keep their
  reference as written.
* ``word(closed=False)`` -- inside a stage.  The base image's ENV is visible
  there and not known to us, so a name not in ``env`` is unknown, except
  positional and special parameters (never set by a Dockerfile) and names in
  ``unset``.
* ``shell()`` -- text of a RUN command or a container command, expanded the way
  the shell would at run time: quotes are already gone, backslashes are
  literal, and every name not in ``env`` is unknown.

In the operator forms an unknown variable is taken as unset (``${V:-word}`` is
``word``): an undeclared value is what the default exists for.
"""

from __future__ import annotations

import re

from allocpolicy._lazyre import lazy_re

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Container, Mapping

__all__ = ["MAX_DEPTH", "MAX_VALUE", "WORK_BUDGET", "Expander", "ExpansionError"]

# 64 KiB: Linux refuses a single argument or environment string longer than
# MAX_ARG_STRLEN (128 KiB), and no image reference, path, target triple or flag
# allocpolicy derives facts from comes anywhere near half of that.  Capping each
# value keeps a chain of doubling ARGs (ARG B=$A$A, ARG C=$B$B, ...) at a few
# MiB in all instead of 2^40 bytes.
MAX_VALUE = 64 * 1024
# Work for one Dockerfile: characters produced by expansions plus pattern
# matching steps.  A real Dockerfile uses a few thousand; this bounds a hostile
# one (thousands of lines each expanding a 64 KiB value) to well under a second.
WORK_BUDGET = 8 * 1024 * 1024
# Real Dockerfiles nest ${A:-${B:-x}} two or three deep; the cap keeps the
# recursive descent far from Python's recursion limit.
MAX_DEPTH = 64


class ExpansionError(Exception):
    """A word BuildKit refuses to expand; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Unknown(Exception):
    """The word's value cannot be known here (a bound was hit)."""


class _Malformed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# A name after `$`, as BuildKit reads it: digits (positional), one special
# parameter character, or a letter/underscore followed by letters, digits, `_`.
_NAME = lazy_re(r"\d+|[@*#?$!-]|[^\W\d]\w*")
_SET, _UNSET, _UNKNOWN = 0, 1, 2
_STAR, _ANY = 0, 1  # pattern tokens; literal characters are str

_specials_cache: dict[tuple[str | None, bool, str], re.Pattern[str]] = {}


def _specials(stop: str | None, quotes: bool, esc: str) -> re.Pattern[str]:
    """The characters a scan has to stop at; everything between is copied at C speed."""
    key = (stop, quotes, esc)
    found = _specials_cache.get(key)
    if found is None:
        chars = "$" + esc + ("'\"" if quotes else "") + (stop or "")
        found = _specials_cache[key] = re.compile("[" + re.escape(chars) + "]")
    return found


class Expander:
    """Expands words of one Dockerfile; the work budget is shared by all its words."""

    __slots__ = ("escape", "left")

    def __init__(self, escape: str = "\\", budget: int = WORK_BUDGET) -> None:
        self.escape = escape
        self.left = budget

    def charge(self, units: int) -> None:
        self.left -= units
        if self.left < 0:
            raise _Unknown

    def word(
        self,
        raw: str,
        env: Mapping[str, str],
        *,
        closed: bool = False,
        unknown: Container[str] = (),
        unset: Container[str] = (),
        missing: set[str] | None = None,
    ) -> str:
        """One Dockerfile word expanded as BuildKit would (quotes removed).

        ``missing`` collects names whose value was unset or unknown where it
        decided the result.  Raises ExpansionError where BuildKit would fail.
        """
        if "$" not in raw and "'" not in raw and '"' not in raw and self.escape not in raw:
            return raw  # the common word: nothing to do
        walk = _Walk(self, raw, env, self.escape, quotes=True, shell=False)
        walk.closed, walk.unknown, walk.unset, walk.missing = closed, unknown, unset, missing
        try:
            return walk.run(None, False)
        except _Unknown:
            return raw
        except _Malformed as exc:
            shown = raw if len(raw) <= 80 else raw[:77] + "..."
            raise ExpansionError(f"failed to process {shown!r}: {exc.message}") from None

    def shell(self, text: str, env: Mapping[str, str]) -> str:
        """Shell-time expansion of already unquoted text; unknown names stay as written."""
        if "$" not in text:
            return text
        walk = _Walk(self, text, env, "\\", quotes=False, shell=True)
        try:
            return walk.run(None, True)
        except (_Unknown, _Malformed):
            return text  # the shell would fail or we cannot tell: unknown


class _Walk:
    """One left-to-right pass over a word; ``pos`` is the next character to read."""

    __slots__ = (
        "closed",
        "depth",
        "env",
        "esc",
        "exp",
        "missing",
        "pos",
        "quotes",
        "shell",
        "text",
        "unknown",
        "unset",
    )

    def __init__(
        self,
        exp: Expander,
        text: str,
        env: Mapping[str, str],
        esc: str,
        *,
        quotes: bool,
        shell: bool,
    ) -> None:
        self.exp, self.text, self.env, self.esc = exp, text, env, esc
        self.quotes, self.shell = quotes, shell
        self.pos = self.depth = 0
        self.closed = False
        self.unknown: Container[str] = ()
        self.unset: Container[str] = ()
        self.missing: set[str] | None = None

    # --- scanning -------------------------------------------------------------

    def run(self, stop: str | None, raw_escapes: bool) -> str:
        """Text up to ``stop`` (consumed), or to the end when stop is None."""
        text, esc, n = self.text, self.esc, len(self.text)
        raw_escapes = raw_escapes or self.shell
        find = _specials(stop, self.quotes, esc).search
        out: list[str] = []
        size = 0
        while True:
            m = find(text, self.pos)
            if m is None:
                if stop is not None:
                    raise _Malformed(
                        f"unexpected end of statement while looking for matching {stop}"
                    )
                out.append(text[self.pos :])
                self.pos = n
                return "".join(out)
            at = m.start()
            if at > self.pos:
                out.append(text[self.pos : at])
                size += at - self.pos
            ch = text[at]
            if ch == stop:
                self.pos = at + 1
                return "".join(out)
            if ch == "$":
                piece = self.dollar(at)
            elif ch == esc:
                piece = self.escaped(at, raw_escapes)
            elif ch == "'":
                piece = self.single(at)
            else:
                piece = self.double(at, raw_escapes)
            out.append(piece)
            size += len(piece)
            if size > MAX_VALUE:
                raise _Unknown

    def escaped(self, at: int, raw_escapes: bool) -> str:
        """The escape character outside quotes: the next character is literal."""
        nxt = at + 1
        if nxt >= len(self.text):  # a trailing escape is dropped (kept when raw)
            self.pos = nxt
            return self.esc if raw_escapes else ""
        self.pos = nxt + 1
        return self.text[at : nxt + 1] if raw_escapes else self.text[nxt]

    def single(self, at: int) -> str:
        end = self.text.find("'", at + 1)
        if end < 0:
            raise _Malformed("unexpected end of statement while looking for matching single-quote")
        self.pos = end + 1
        return self.text[at + 1 : end]

    def double(self, at: int, raw_escapes: bool) -> str:
        text, esc, n = self.text, self.esc, len(self.text)
        find = _specials('"', False, esc).search
        out: list[str] = []
        size = 0
        p = at + 1
        while True:
            m = find(text, p)
            if m is None:
                raise _Malformed(
                    "unexpected end of statement while looking for matching double-quote"
                )
            j = m.start()
            out.append(text[p:j])
            size += j - p
            ch = text[j]
            if ch == '"':
                self.pos = j + 1
                return "".join(out)
            if ch == "$":
                piece = self.dollar(j)
                p = self.pos
            else:  # the escape character: only " $ and itself can be escaped in quotes
                if raw_escapes:
                    out.append(esc)
                k = j + 1
                if k >= n:
                    p = k
                    continue
                if text[k] in ('"', "$", esc):
                    piece, p = text[k], k + 1
                else:
                    piece, p = esc, k
            out.append(piece)
            size += len(piece)
            if size > MAX_VALUE:
                raise _Unknown

    # --- variables ------------------------------------------------------------

    def lookup(self, name: str) -> tuple[int, str]:
        value = self.env.get(name)
        if value is not None:
            return _SET, value
        if self.shell:
            return _UNKNOWN, ""
        if name in self.unset or not (name[:1].isalpha() or name[:1] == "_"):
            return _UNSET, ""  # positional and special parameters: never set by a Dockerfile
        if not self.closed or name in self.unknown:
            return _UNKNOWN, ""
        return _UNSET, ""

    def note_missing(self, name: str) -> None:
        if self.missing is not None:
            self.missing.add(name)

    def dollar(self, at: int) -> str:
        text, n = self.text, len(self.text)
        p = at + 1
        if p >= n or text[p] != "{":
            m = _NAME.match(text, p)
            if m is None:
                self.pos = p
                return "$"
            self.pos = m.end()
            state, value = self.lookup(m.group())
            if state == _SET:
                self.exp.charge(len(value))
                return value
            self.note_missing(m.group())
            return text[at : self.pos] if state == _UNKNOWN else ""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Unknown
        try:
            return self.braced(at, p + 1)
        finally:
            self.depth -= 1

    def braced(self, at: int, p: int) -> str:
        text, n = self.text, len(self.text)
        if p >= n:
            raise _Malformed("syntax error: missing '}'")
        if text[p] in "{}:":
            raise _Malformed("syntax error: bad substitution")
        m = _NAME.match(text, p)
        name = m.group() if m else ""
        p = m.end() if m else p
        if p >= n:
            raise _Malformed("syntax error: missing '}'")
        op = text[p]
        p += 1
        if op == "}":
            self.pos = p
            state, value = self.lookup(name)
            if state == _SET:
                self.exp.charge(len(value))
                return value
            self.note_missing(name)
            return text[at:p] if state == _UNKNOWN else ""
        if op == "/":
            return self.replace(at, p, name)
        colon = op == ":"
        if colon:
            if p >= n:
                raise _Malformed("syntax error: missing '}'")
            op = text[p]
            p += 1
            if op not in "-+?":
                raise _Malformed(f"unsupported modifier (:{op}) in substitution")
        elif op not in "-+?#%":
            raise _Malformed(f"unsupported modifier ({op}) in substitution")
        self.pos = p
        # BuildKit expands the word before it looks at the variable, so an error in
        # an unused default is still an error.
        word = self.closing("}", op in "#%")
        state, value = self.lookup(name)
        is_set = state == _SET and not (colon and value == "")
        if op == "-":
            result = value if is_set else word
        elif op == "+":
            result = word if is_set else ""
        elif op == "?":
            result = self.required(at, name, state, value, colon, word)
        else:
            result = self.trim(at, name, state, value, op, word)
        self.exp.charge(len(result))
        return result

    def closing(self, stop: str, raw_escapes: bool) -> str:
        """The text of a ${...} part up to ``stop``; BuildKit's message when it is missing."""
        try:
            return self.run(stop, raw_escapes)
        except _Malformed as exc:
            if not exc.message.startswith("unexpected end"):
                raise  # not a part that ran off the end: a bad substitution inside it
            where = "" if stop == "}" else " in ${}"
            raise _Malformed(f"syntax error: missing '{stop}'{where}") from None

    def required(self, at: int, name: str, state: int, value: str, colon: bool, word: str) -> str:
        if state == _SET and not (colon and value == ""):
            return value
        if state == _UNKNOWN:
            self.note_missing(name)
            return self.text[at : self.pos]
        if word:
            raise _Malformed(f"{name}: {word}")
        empty = state == _SET
        raise _Malformed(f"{name}: is not allowed to be {'empty' if empty else 'unset'}")

    def trim(self, at: int, name: str, state: int, value: str, op: str, word: str) -> str:
        greedy = word[:1] == op
        tokens = _tokens(word[1:] if greedy else word)
        if state == _UNKNOWN:
            self.note_missing(name)
            return self.text[at : self.pos]
        if state == _UNSET:
            self.note_missing(name)
        if op == "#":
            end = _Pattern(tokens).match_end(value, 0, greedy, self.exp)
            return value if end < 0 else value[end:]
        tokens.reverse()  # the shortest/longest suffix is a prefix of the reversed value
        end = _Pattern(tokens).match_end(value[::-1], 0, greedy, self.exp)
        return value if end < 0 else value[: len(value) - end]

    def replace(self, at: int, p: int, name: str) -> str:
        every = p < len(self.text) and self.text[p] == "/"
        self.pos = p + 1 if every else p
        pattern = self.closing("/", True)
        replacement = self.closing("}", True)
        tokens = _tokens(pattern)
        state, value = self.lookup(name)
        if state == _UNKNOWN:
            self.note_missing(name)
            return self.text[at : self.pos]
        if state == _UNSET:
            self.note_missing(name)
        pat = _Pattern(tokens)
        result = (
            _replace_all(pat, value, replacement, self.exp)
            if every
            else _replace_first(pat, value, replacement, self.exp)
        )
        self.exp.charge(len(result))
        return result


# --- patterns --------------------------------------------------------------------


def _tokens(pattern: str) -> list[int | str]:
    """A shell pattern as tokens: _STAR, _ANY or a literal character.

    Escapes as BuildKit reads them: ``\\*``, ``\\?`` and ``\\\\`` are literal,
    ``\\}`` and ``\\/`` are the plain character, any other escape is an error.
    """
    out: list[int | str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if not out or out[-1] != _STAR:  # ** matches what * matches
                out.append(_STAR)
        elif c == "?":
            out.append(_ANY)
        elif c == "\\":
            nxt = pattern[i + 1 : i + 2]
            if nxt in ("}", "/"):
                i += 1
                continue  # the escape only kept it from ending the ${...}
            if nxt not in ("*", "?", "\\"):
                raise _Malformed(f"invalid pattern ({pattern}) in substitution: invalid escape")
            out.append(nxt)
            i += 1
        else:
            out.append(c)
        i += 1
    return out


class _Pattern:
    """A wildcard pattern run as a bit-parallel NFA: linear time, no backtracking.

    Bit i of a state set means "the first i tokens matched".  With every ``*``
    equally greedy (or equally lazy), the match a backtracking regex engine such
    as BuildKit's Go regexp picks is the one ending furthest (or soonest), so the
    set of ends is all that is needed.  ``*`` and ``?`` do not match a newline,
    like the ``.`` BuildKit translates them to.
    """

    __slots__ = ("accept", "any", "first", "lit", "star", "width")

    def __init__(self, tokens: list[int | str]) -> None:
        self.star = self.any = 0
        self.lit: dict[str, int] = {}
        for i, t in enumerate(tokens):
            if isinstance(t, str):
                self.lit[t] = self.lit.get(t, 0) | 1 << i
            elif t == _STAR:
                self.star |= 1 << i
            else:
                self.any |= 1 << i
        self.accept = 1 << len(tokens)
        self.width = len(tokens) + 1
        first = tokens[0] if tokens else None
        self.first = first if isinstance(first, str) else None

    def match_end(self, text: str, start: int, longest: bool, exp: Expander) -> int:
        """End of the match anchored at ``start`` (longest or shortest), or -1."""
        star, wild, lit, accept = self.star, self.any, self.lit, self.accept
        s = 1 | (1 & star) << 1
        best = start if s & accept else -1
        if best >= 0 and not longest:
            return best
        k = start
        for k in range(start, len(text)):
            c = text[k]
            if c == "\n":
                s = (s & lit.get(c, 0)) << 1
            else:
                s = (s & star) | (s & (wild | lit.get(c, 0))) << 1
            s |= (s & star) << 1
            if not s:
                break
            if s & accept:
                best = k + 1
                if not longest:
                    break
        exp.charge((k - start + 1) * self.width)
        return best

    def search(self, text: str, start: int, exp: Expander) -> tuple[int, int] | None:
        """The leftmost match at or after ``start``, longest from there."""
        n = len(text)
        s = start
        while s <= n:
            if self.first is not None:
                s = text.find(self.first, s)
                if s < 0:
                    return None
            end = self.match_end(text, s, True, exp)
            if end >= 0:
                return s, end
            s += 1
        return None


def _replace_first(pat: _Pattern, value: str, replacement: str, exp: Expander) -> str:
    found = pat.search(value, 0, exp)
    if found is None:
        return value
    return value[: found[0]] + replacement + value[found[1] :]


_GROUP = lazy_re(r"\{(\w+)\}|(\w+)")


def _template(replacement: str) -> list[str | None]:
    """Go's regexp template syntax, which ReplaceAllString applies to the replacement.

    ``$$`` is a dollar, ``$0``/``${0}`` the whole match, any other group name is
    empty (the pattern has no groups), a malformed reference is a literal ``$``.
    None stands for the match.
    """
    parts: list[str | None] = []
    i = 0
    while True:
        j = replacement.find("$", i)
        if j < 0:
            parts.append(replacement[i:])
            return parts
        parts.append(replacement[i:j])
        if replacement[j + 1 : j + 2] == "$":
            parts.append("$")
            i = j + 2
            continue
        m = _GROUP.match(replacement, j + 1)
        if m is None:
            parts.append("$")
            i = j + 1
            continue
        parts.append(None if (m.group(1) or m.group(2)) == "0" else "")
        i = m.end()


def _replace_all(pat: _Pattern, value: str, replacement: str, exp: Expander) -> str:
    """Go's ReplaceAllString: non-overlapping leftmost matches; an empty match
    right after a previous match is not replaced; always advance one character."""
    parts = _template(replacement)
    out: list[str] = []
    size = 0
    last = search = 0
    n = len(value)
    while search <= n:
        found = pat.search(value, search, exp)
        if found is None:
            break
        a, b = found
        out.append(value[last:a])
        size += a - last
        if b > last or a == 0:
            for part in parts:
                piece = value[a:b] if part is None else part
                out.append(piece)
                size += len(piece)
            if size > MAX_VALUE:
                raise _Unknown
        last = b
        search = b if b > search else search + 1
    out.append(value[last:])
    return "".join(out)
