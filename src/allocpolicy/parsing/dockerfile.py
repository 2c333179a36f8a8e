"""Dockerfile / Containerfile parser with exact physical line numbers.

Approach: a small hand-written tokenizer that follows BuildKit's frontend parser
(moby/buildkit ``frontend/dockerfile/parser``), not an adapter around
``dockerfile-parse``.  ``dockerfile-parse``'s ``structure`` does not know about
heredocs (their bodies come back as bogus instructions), ends a continuation at
a blank line (BuildKit skips blank lines inside continuations) and ignores the
BOM; folding heredoc bodies back would mean re-scanning every line anyway, so a
direct single pass is both simpler and more exact.  It is also much cheaper to
import and run.  Two differential tests hold it to that:
``tests/parsing/test_dockerfile_buildkit.py`` against BuildKit's own Go parser
(the ``dockerfile`` package: instruction split, lines, flags, JSON form,
heredocs, the errors the parser raises) and ``tests/parsing/test_dockerfile.py``
against ``dockerfile-parse`` on heredoc-free files.

Handled: parser directives (``# escape=``, ``# syntax=``, ``# check=``) at the
top of the file, comments and blank lines inside continuations, the escape
character for continuations (joined as BuildKit joins them: no space added),
heredocs on RUN/COPY/ADD (``<<EOT``, ``<<-EOT``, quoted names, several per
line, ``COPY <<EOF /path``), CRLF endings, a UTF-8 BOM, lower-case keywords,
builder flags as BuildKit splits them, the ENV/LABEL and JSON-array errors
BuildKit's parser reports, global ARGs expanded into FROM (with build-arg
overrides; :mod:`allocpolicy.parsing.expand` does the expansion) and stage
aliases.
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Mapping, Sequence, Set
from types import MappingProxyType

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import field, record
from allocpolicy.parsing.expand import Expander, ExpansionError

__all__ = [
    "Dockerfile",
    "DockerfileError",
    "Heredoc",
    "Instruction",
    "Stage",
    "parse_dockerfile",
    "substitute",
]


class DockerfileError(Exception):
    """A Dockerfile that BuildKit would reject; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@record
class Heredoc:
    name: str
    body: str  # content as BuildKit passes it: every line with its ending, tabs chomped for <<-
    start_line: int  # first body line; for an empty body start_line == end_line + 1
    end_line: int  # last body line (the terminator line is not part of the body)
    chomp: bool = False  # <<-NAME: leading tabs stripped
    quoted: bool = False  # <<"NAME" / <<'NAME': body is not variable-expanded


@record
class Instruction:
    keyword: str
    value: str
    start_line: int
    end_line: int
    flags: Mapping[str, str] = field(default_factory=dict)
    args: str = ""
    heredocs: Sequence[Heredoc] = ()
    # Every leading flag in order: RUN may repeat --mount, which the dict collapses.
    flag_items: Sequence[tuple[str, str]] = ()

    def exec_form(self) -> list[str] | None:
        """The JSON-array form of ``args`` (``CMD ["a", "b"]``), else None."""
        text = self.args.strip()
        if not text.startswith("["):
            return None
        import json

        try:
            parsed = json.loads(text)
        except ValueError:
            return None  # BuildKit falls back to shell form on bad JSON
        if isinstance(parsed, list) and all(isinstance(x, str) for x in parsed):
            return parsed
        return None

    def words(self) -> list[str]:
        """Shell-like split of ``args``; never raises on bad quoting."""
        return _split_words(self.args)


@record
class Stage:
    index: int
    base: str
    base_resolved: str
    name: str | None
    platform: str | None
    from_line: int
    instructions: list[Instruction] = field(default_factory=list)
    parent: int | None = None


@record
class Dockerfile:
    escape: str
    global_args: dict[str, str]  # global ARGs that have a value (default or build arg)
    stages: list[Stage]
    instructions: list[Instruction]
    comments: list[tuple[int, str]]
    unresolved_args: set[str]  # names FROM lines use that are unset or unknown here
    text: str = field(default="", repr=False)  # as read; `lines` is derived from it on demand
    build_args: dict[str, str] = field(default_factory=dict)  # the caller's --build-arg values
    # Shared by every expansion in this file, so its work budget bounds the file.
    expander: Expander = field(default_factory=Expander, repr=False)

    @property
    def lines(self) -> list[str]:
        """The physical lines without their endings.

        Split again on each use rather than kept: only fixes read them, and a scan of
        3000 Containerfiles kept every file twice (4 MiB of a 157 MiB peak).
        """
        return _physical_lines(self.text)[0]

    def word(
        self, raw: str, env: Mapping[str, str], line: int, unset: Set[str] = frozenset()
    ) -> str:
        """A word of a stage's instruction expanded as BuildKit would (quotes removed).

        Names not in ``env`` may come from the base image's ENV, so they stay as
        written (unknown), except those in ``unset``.  A word BuildKit refuses
        raises DockerfileError at ``line``.
        """
        try:
            return self.expander.word(raw, env, unset=unset)
        except ExpansionError as exc:
            raise DockerfileError(line, exc.message) from None

    def shell(self, text: str, env: Mapping[str, str]) -> str:
        """Shell-time expansion of RUN or command text (see ``substitute``)."""
        return self.expander.shell(text, env) if "$" in text else text

    def words(self, ins: Instruction) -> list[str]:
        """The raw words of an ARG, ENV or LABEL (quotes kept, for ``word``)."""
        return _parse_words(ins.args, self.escape)


# --- small helpers -----------------------------------------------------------

_DIRECTIVE_RE = lazy_re(r"^\s*#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_KNOWN_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_HEREDOC_KEYWORDS = frozenset({"RUN", "COPY", "ADD"})
_HEREDOC_WORD_RE = lazy_re(r"^(\d*)<<(-?)([^<-][^<]*)$")
_RAW_WORD_RE = lazy_re(r"""(?:[^\s"'\\]|\\.|\\$|"(?:[^"\\]|\\.|\\$)*"?|'[^']*'?)+""", re.S)
_NEEDS_SHLEX_RE = lazy_re(r"[\"'\\]")
_KEYWORD_RE = lazy_re(r"(\S*)(\s*)(.*)", re.S)
# Platform ARGs BuildKit defines by itself; an unset one in --platform is normal.
_AUTOMATIC_ARGS = frozenset(
    {
        "TARGETPLATFORM",
        "TARGETOS",
        "TARGETOSVERSION",
        "TARGETARCH",
        "TARGETVARIANT",
        "TARGETSTAGE",
        "BUILDPLATFORM",
        "BUILDOS",
        "BUILDOSVERSION",
        "BUILDARCH",
        "BUILDVARIANT",
    }
)


def _split_words(text: str) -> list[str]:
    if not _NEEDS_SHLEX_RE.search(text):
        return text.split()  # nothing to unquote: skip the slow shlex lexer
    try:
        return shlex.split(text, posix=True)
    except ValueError:
        pass
    # Unbalanced quotes: close them the way a forgiving reader would.
    for closer in ('"', "'"):
        try:
            return shlex.split(text + closer, posix=True)
        except ValueError:
            continue
    return text.split()


def _raw_words(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of whitespace-separated words, quotes kept together.

    Quotes are kept raw (like BuildKit's lexer with RawQuotes) so a quoted
    ``"<<EOT"`` is not mistaken for a heredoc.  An unclosed quote runs to the end.
    """
    return [m.span() for m in _RAW_WORD_RE.finditer(text)]


_NO_FLAGS: Mapping[str, str] = MappingProxyType({})

_PLAIN_WORD_RE = lazy_re(r"[^\s\"'\\`]+")


def _split_flags(value: str, escape: str = "\\") -> tuple[list[tuple[str, str]], str]:
    """Leading ``--flag[=value]`` words and the rest of the text, as BuildKit's
    extractBuilderFlags reads them: quotes removed, the escape character
    protecting the next character (inside quotes too), ``--`` ending the flags."""
    if not value.startswith("--"):
        return [], value  # the common case, no need to tokenize
    items: list[tuple[str, str]] = []
    i, n = 0, len(value)
    while i < n:
        if value[i].isspace():
            i += 1
            continue
        if not value.startswith("--", i):
            break
        plain = _PLAIN_WORD_RE.match(value, i)
        if plain is not None and plain.end() < n and not value[plain.end()].isspace():
            plain = None  # a quote or an escape follows: the slow, exact reader
        if plain is not None:
            word, i = plain.group(), plain.end()
        else:
            word, i = _flag_word(value, i, escape)
        if word == "--":
            break
        name, _, raw = word[2:].partition("=")
        items.append((name, raw))
    return items, value[i:].strip()


def _flag_word(text: str, i: int, escape: str) -> tuple[str, int]:
    """One flag word from ``i``, unquoted; and where it ended."""
    out: list[str] = []
    quote = ""
    n = len(text)
    while i < n:
        ch = text[i]
        if not quote and ch.isspace():
            break
        if ch == escape:
            if i + 1 < n:
                out.append(text[i + 1])
            i += 2
            continue
        if quote and ch == quote:
            quote = ""
        elif not quote and ch in "'\"":
            quote = ch
        else:
            out.append(ch)
        i += 1
    return "".join(out), i


_JSON_KEYWORDS = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"})
_WHITESPACE_RE = lazy_re(r"[\t\v\f\r ]+")


def _check_arguments(keyword: str, args: str, escape: str, line: int) -> None:
    """The argument errors BuildKit's parser itself reports (it rejects the file)."""
    if keyword in ("ENV", "LABEL"):
        words = _parse_words(args, escape)
        if not words:
            return
        if "=" not in words[0]:  # the legacy `ENV KEY value` form
            if len(_WHITESPACE_RE.split(args, 1)) < 2:
                raise DockerfileError(line, f"{keyword} must have two arguments")
            return
        for word in words:
            if "=" not in word:
                shown = '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
                raise DockerfileError(
                    line, f"Syntax error - can't find = in {shown}. Must be of the form: name=value"
                )
    elif keyword in _JSON_KEYWORDS and args.startswith("["):
        import json

        try:
            parsed = json.loads(args, parse_constant=_no_constant)
        except ValueError:
            return  # not JSON: BuildKit reads it as shell form
        if isinstance(parsed, list) and not all(isinstance(x, str) for x in parsed):
            raise DockerfileError(
                line, "when using JSON array syntax, arrays must be comprised of strings only"
            )


def _no_constant(name: str) -> object:
    raise ValueError(name)  # NaN and Infinity are not JSON to Go either


def _heredoc_specs(value: str) -> list[tuple[str, bool, bool]]:
    """(name, chomp, quoted) for every heredoc word in an instruction's text."""
    specs: list[tuple[str, bool, bool]] = []
    for start, end in _raw_words(value):
        m = _HEREDOC_WORD_RE.match(value[start:end])
        if not m:
            continue
        raw = m.group(3)
        name = raw.replace('"', "").replace("'", "")
        if not name or any(c.isspace() for c in name):
            continue
        specs.append((name, m.group(2) == "-", name != raw))
    return specs


# --- variable substitution -----------------------------------------------------


def substitute(text: str, env: Mapping[str, str]) -> str:
    """Shell-time expansion of ``$VAR``, ``${VAR}`` and the ``${VAR...}`` operator forms.

    For already unquoted text (a RUN word, a container command): names not in
    ``env`` are left as written so a caller can still see what was unresolved;
    ``\\$`` is an escaped dollar and kept as is.  Bounded like every expansion
    (see :mod:`allocpolicy.parsing.expand`).
    """
    if "$" not in text:
        return text
    return Expander().shell(text, env)


def _parse_words(text: str, escape: str) -> list[str]:
    """Words of an ARG/ENV/LABEL line as BuildKit's parseWords splits them.

    Whitespace outside quotes separates words; quotes and escapes stay in the
    word (the expansion removes them later).  The escape character protects
    the next character, also inside double quotes, never inside single quotes.
    """
    if "'" not in text and '"' not in text and escape not in text:
        return text.split()  # the common line: nothing quoted
    if not text.endswith(escape):  # (a trailing escape is dropped: the loop below)
        return _words_re(escape).findall(text)
    return _parse_words_slowly(text, escape)


_words_cache: dict[str, re.Pattern[str]] = {}


def _words_re(escape: str) -> re.Pattern[str]:
    found = _words_cache.get(escape)
    if found is None:
        e = re.escape(escape)
        found = _words_cache[escape] = re.compile(
            rf"""(?:[^\s"'{e}]|{e}.|"(?:[^"{e}]|{e}.)*"?|'[^']*'?)+""", re.S
        )
    return found


def _parse_words_slowly(text: str, escape: str) -> list[str]:
    words: list[str] = []
    buf: list[str] = []
    blank_ok = False  # a quoted empty word ("") is still a word
    quote = ""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == escape and quote != "'":
                if i + 1 == n:
                    break  # a trailing escape is dropped
                buf.append(ch)
                i += 1
                ch = text[i]
            buf.append(ch)
        elif ch.isspace():
            if buf or blank_ok:
                words.append("".join(buf))
            buf, blank_ok = [], False
        else:
            if ch in "'\"":
                quote, blank_ok = ch, True
            elif ch == escape:
                if i + 1 == n:
                    break
                buf.append(ch)
                i += 1
                ch = text[i]
            buf.append(ch)
        i += 1
    if buf or blank_ok:
        words.append("".join(buf))
    return words


# --- the tokenizer ----------------------------------------------------------------


def _physical_lines(text: str) -> tuple[list[str], frozenset[int]]:
    """The lines without their endings, and the indices of those that ended in CRLF."""
    if text.startswith("\ufeff"):
        text = text[1:]
    # Split on "\n" only: str.splitlines() also splits on form feeds and
    # other separators, which would shift line numbers against every editor.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if "\r" not in text:
        return lines, frozenset()
    crlf = frozenset(i for i, line in enumerate(lines) if line.endswith("\r"))
    return [line[:-1] if i in crlf else line for i, line in enumerate(lines)], crlf


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _comment_text(line: str) -> str:
    return line.strip()[1:].strip()


def _continuation_re(escape: str) -> re.Pattern[str]:
    """BuildKit's line continuation: the escape character at the end of a line
    (trailing blanks allowed), unless the character before it is another escape."""
    e = re.escape(escape)
    return re.compile(rf"(?:(?<=[^{e}])|^){e}[ \t]*$")


class _Tokenizer:
    def __init__(self, lines: list[str], crlf: frozenset[int] = frozenset()) -> None:
        self.lines = lines
        self.crlf = crlf  # heredoc bodies keep their CRLF endings, as BuildKit passes them
        self.escape = "\\"
        self.comments: list[tuple[int, str]] = []
        self.instructions: list[Instruction] = []
        self._cont_re = _continuation_re("\\")

    def run(self) -> None:
        i = self._directives()
        lines, n = self.lines, len(self.lines)
        while i < n:
            line = lines[i]
            stripped = line.strip()
            if not stripped:
                i += 1
            elif stripped.startswith("#"):
                self.comments.append((i + 1, _comment_text(line)))
                i += 1
            else:
                i = self._instruction(i)

    def _directives(self) -> int:
        """Consume parser directives at the top; return the first other line."""
        seen: set[str] = set()
        for i, line in enumerate(self.lines):
            m = _DIRECTIVE_RE.match(line)
            if not m or m.group(1).lower() not in _KNOWN_DIRECTIVES:
                return i
            key = m.group(1).lower()
            if key == "escape" and key not in seen:
                if m.group(2) not in ("\\", "`"):
                    raise DockerfileError(i + 1, f"invalid escape token {m.group(2)!r}")
                self.escape = m.group(2)
                self._cont_re = _continuation_re(self.escape)
            seen.add(key)
        return len(self.lines)

    def _continues(self, line: str) -> tuple[str, bool]:
        m = self._cont_re.search(line)
        if m:
            return line[: m.start()], True
        return line, False

    def _instruction(self, i: int) -> int:
        lines, n = self.lines, len(self.lines)
        start = i
        first, more = self._continues(lines[i].lstrip())
        parts = [first]
        end = i
        i += 1
        while more and i < n:
            line = lines[i]
            if _is_comment(line):
                self.comments.append((i + 1, _comment_text(line)))
                i += 1
                continue
            if not line.strip():
                i += 1  # BuildKit skips blank lines inside a continuation
                continue
            piece, more = self._continues(line)
            parts.append(piece)  # as BuildKit joins them: no space added, none taken away
            end = i
            i += 1
        if more:
            end = n - 1  # still continued at the end of the file: BuildKit's last line read
        text = "".join(parts).strip()
        keyword, _, value = _KEYWORD_RE.match(text).groups()  # type: ignore[union-attr]
        keyword = sys.intern(keyword.upper())  # a few distinct words, thousands of times
        heredocs: list[Heredoc] = []
        if keyword in _HEREDOC_KEYWORDS and "<<" in value:
            i, end = self._heredocs(value, start, i, heredocs, end)
        items, args = _split_flags(value, self.escape)
        _check_arguments(keyword, args, self.escape, start + 1)
        self.instructions.append(
            Instruction(
                keyword=keyword,
                value=value,
                start_line=start + 1,
                end_line=end + 1,
                # Most instructions have neither: share one empty value (read-only types),
                # not two empty containers each (a third of a 3000-file parse's objects).
                flags=dict(items) if items else _NO_FLAGS,
                args=args,
                heredocs=heredocs or (),
                flag_items=items or (),
            )
        )
        return i

    def _heredocs(
        self, value: str, start: int, i: int, out: list[Heredoc], end: int
    ) -> tuple[int, int]:
        lines, n, crlf = self.lines, len(self.lines), self.crlf
        for name, chomp, quoted in _heredoc_specs(value):
            body: list[str] = []
            body_start = i
            while True:
                if i >= n:
                    raise DockerfileError(start + 1, f"unterminated heredoc {name!r}")
                line = lines[i]
                candidate = line.rstrip("\r")  # BuildKit trims every CR and LF at the end
                if chomp:
                    candidate = candidate.lstrip("\t")
                if candidate == name:
                    i += 1
                    break
                body.append(
                    (line.lstrip("\t") if chomp else line) + ("\r\n" if i in crlf else "\n")
                )
                i += 1
            out.append(
                Heredoc(
                    name=name,
                    body="".join(body),
                    start_line=body_start + 1,
                    end_line=body_start + len(body),
                    chomp=chomp,
                    quoted=quoted,
                )
            )
            end = i - 1
        return i, end


# --- stages ---------------------------------------------------------------------------


def _parse_from(ins: Instruction) -> tuple[str, str | None]:
    words = ins.args.split()  # BuildKit splits FROM on whitespace only; quotes go later
    if len(words) == 1:
        return words[0], None
    if len(words) == 3 and words[1].lower() == "as":
        return words[0], words[2].lower()
    raise DockerfileError(ins.start_line, "FROM requires either one or three arguments")


def parse_dockerfile(text: str, build_args: Mapping[str, str] | None = None) -> Dockerfile:
    """Parse Dockerfile text; raises only DockerfileError (fuzzed in the tests)."""
    return _parse(text, build_args or {})


class _GlobalScope:
    """BuildKit's global scope: the ARGs before the first FROM, seen by FROM lines.

    Every name that can have a value here is known, so a name in neither
    ``env`` nor ``unknown`` is unset and expands to nothing, as in BuildKit.
    ``unknown`` holds ARGs declared without a value (``--build-arg`` may set
    them at build time) and the platform ARGs BuildKit fills in itself.
    """

    def __init__(self, build_args: Mapping[str, str], expander: Expander) -> None:
        self.build_args, self.expander = build_args, expander
        # BuildKit defines the platform ARGs itself; a caller may pass them in.
        self.automatic = {k: v for k, v in build_args.items() if k in _AUTOMATIC_ARGS}
        self.env: dict[str, str] = {}
        self.declared: set[str] = set()  # declared without a value, no build arg

    def expand(self, raw: str, line: int, missing: set[str] | None = None) -> str:
        env = {**self.automatic, **self.env}
        unknown = self.declared | (_AUTOMATIC_ARGS - self.automatic.keys())
        try:
            return self.expander.word(raw, env, closed=True, unknown=unknown, missing=missing)
        except ExpansionError as exc:
            raise DockerfileError(line, exc.message) from None

    def arg(self, ins: Instruction, escape: str) -> None:
        for word in _parse_words(ins.args, escape):
            name, eq, default = word.partition("=")
            if not name:
                continue
            if name in self.build_args:
                self.env[name] = self.build_args[name]
            elif eq:
                # Defaults may use earlier ARGs (ARG IMAGE=rust:${RUST_VERSION}); a
                # name without a value yet is unset in its own default: ARG V=$V is "".
                saved = self.declared
                self.declared = saved - {name}
                try:
                    self.env[name] = self.expand(default, ins.start_line)
                finally:
                    self.declared = saved
            elif name not in self.env:
                self.declared.add(name)  # a bare ARG keeps an earlier value, as in BuildKit
                continue
            self.declared.discard(name)


def _parse(text: str, build_args: Mapping[str, str]) -> Dockerfile:
    lines, crlf = _physical_lines(text)
    tok = _Tokenizer(lines, crlf)
    tok.run()
    expander = Expander(tok.escape)
    scope = _GlobalScope(build_args, expander)
    stages: list[Stage] = []
    unresolved: set[str] = set()
    for ins in tok.instructions:
        if ins.keyword == "FROM":
            stages.append(_stage(ins, len(stages), stages, scope, unresolved))
        elif stages:
            stages[-1].instructions.append(ins)
        elif ins.keyword == "ARG":
            scope.arg(ins, tok.escape)
        else:
            raise DockerfileError(
                ins.start_line, f"{ins.keyword} before the first FROM (only ARG is allowed)"
            )
    return Dockerfile(
        escape=tok.escape,
        global_args=scope.env,
        stages=stages,
        instructions=tok.instructions,
        comments=tok.comments,
        text=text,
        unresolved_args=unresolved,
        build_args=dict(build_args),
        expander=expander,
    )


def _stage(
    ins: Instruction,
    index: int,
    stages: list[Stage],
    scope: _GlobalScope,
    unresolved: set[str],
) -> Stage:
    base, name = _parse_from(ins)
    resolved = scope.expand(base, ins.start_line, unresolved)
    if not resolved:
        raise DockerfileError(ins.start_line, f"base name ({base}) should not be blank")
    platform = ins.flags.get("platform")
    if platform is not None:
        missing: set[str] = set()
        platform = scope.expand(platform, ins.start_line, missing)
        unresolved |= missing - _AUTOMATIC_ARGS
    parent = None
    lowered = resolved.lower()
    for earlier in reversed(stages):
        if earlier.name is not None and earlier.name == lowered:
            parent = earlier.index
            break
    return Stage(
        index=index,
        base=base,
        base_resolved=resolved,
        name=name,
        platform=platform,
        from_line=ins.start_line,
        parent=parent,
    )
