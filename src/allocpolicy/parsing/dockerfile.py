"""Dockerfile / Containerfile parser with exact physical line numbers.

Approach: a small hand-written tokenizer that follows BuildKit's frontend parser
(moby/buildkit ``frontend/dockerfile/parser``), not an adapter around
``dockerfile-parse``.  ``dockerfile-parse``'s ``structure`` does not know about
heredocs (their bodies come back as bogus instructions), ends a continuation at
a blank line (BuildKit skips blank lines inside continuations) and ignores the
BOM; folding heredoc bodies back would mean re-scanning every line anyway, so a
direct single pass is both simpler and more exact.  It is also much cheaper to
import and run.  ``tests/parsing/test_dockerfile.py`` holds a differential test
that checks this parser agrees with ``dockerfile-parse`` (instruction, start and
end line, value) on heredoc-free Dockerfiles without blank lines in
continuations.

Handled: parser directives (``# escape=``, ``# syntax=``, ``# check=``) at the
top of the file, comments and blank lines inside continuations, the escape
character for continuations, heredocs on RUN/COPY/ADD (``<<EOT``, ``<<-EOT``,
quoted names, several per line, ``COPY <<EOF /path``), CRLF endings, a UTF-8
BOM, lower-case keywords, global ARGs substituted into FROM (with build-arg
overrides) and stage aliases.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from allocpolicy._record import field, record

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
    body: str  # content as BuildKit passes it: every body line + "\n", tabs chomped for <<-
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
    flags: dict[str, str] = field(default_factory=dict)
    args: str = ""
    heredocs: list[Heredoc] = field(default_factory=list)
    # Every leading flag in order: RUN may repeat --mount, which the dict collapses.
    flag_items: list[tuple[str, str]] = field(default_factory=list)

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
    lines: list[str]
    unresolved_args: set[str]


# --- small helpers -----------------------------------------------------------

_DIRECTIVE_RE = re.compile(r"^\s*#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_KNOWN_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_HEREDOC_KEYWORDS = frozenset({"RUN", "COPY", "ADD"})
_HEREDOC_WORD_RE = re.compile(r"^(\d*)<<(-?)([^<-][^<]*)$")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RAW_WORD_RE = re.compile(r"""(?:[^\s"'\\]|\\.|\\$|"(?:[^"\\]|\\.|\\$)*"?|'[^']*'?)+""", re.S)
_NEEDS_SHLEX_RE = re.compile(r"[\"'\\]")
_KEYWORD_RE = re.compile(r"(\S*)(\s*)(.*)", re.S)
# Platform ARGs BuildKit defines by itself; an unset one in --platform is normal.
_AUTOMATIC_ARGS = frozenset(
    {
        "TARGETPLATFORM",
        "TARGETOS",
        "TARGETARCH",
        "TARGETVARIANT",
        "BUILDPLATFORM",
        "BUILDOS",
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


def _split_flags(value: str) -> tuple[list[tuple[str, str]], str]:
    """Leading ``--flag[=value]`` words and the rest of the text."""
    if not value.startswith("--"):
        return [], value  # the common case, no need to tokenize
    items: list[tuple[str, str]] = []
    rest_at = len(value)
    for start, end in _raw_words(value):
        word = value[start:end]
        if not word.startswith("--") or word == "--":
            rest_at = start
            break
        name, eq, raw = word[2:].partition("=")
        if not name:
            rest_at = start
            break
        if eq and ("'" in raw or '"' in raw or "\\" in raw):
            raw = "".join(_split_words(raw))
        items.append((name, raw))
    return items, value[rest_at:].strip()


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
    """Expand ``$VAR``, ``${VAR}``, ``${VAR:-x}``, ``${VAR-x}``, ``${VAR:+x}``, ``${VAR+x}``.

    Unknown variables in the plain forms are left as written so a caller can
    still see what was unresolved; ``\\$`` is an escaped dollar and kept as is.
    """
    if "$" not in text:
        return text
    return _expand(text, env, None)


def _find_close(text: str, i: int) -> int:
    """Index of the ``}`` closing the ``${`` whose body starts at i, or -1."""
    depth = 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "$" and i + 1 < n and text[i + 1] == "{":
            depth += 1
            i += 2
            continue
        if ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _expand(text: str, env: Mapping[str, str], unresolved: set[str] | None) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] == "$":
            out.append(text[i : i + 2])
            i += 2
            continue
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        if text[i + 1] == "{":
            close = _find_close(text, i + 2)
            if close < 0:
                out.append(text[i:])
                break
            out.append(_expand_braced(text[i + 2 : close], text[i : close + 1], env, unresolved))
            i = close + 1
            continue
        m = _NAME_RE.match(text, i + 1)
        if not m:
            out.append(ch)
            i += 1
            continue
        name = m.group(0)
        if name in env:
            out.append(env[name])
        else:
            out.append(text[i : m.end()])
            if unresolved is not None:
                unresolved.add(name)
        i = m.end()
    return "".join(out)


def _expand_braced(
    inner: str, original: str, env: Mapping[str, str], unresolved: set[str] | None
) -> str:
    m = _NAME_RE.match(inner)
    if not m:
        return original
    name = m.group(0)
    op_text = inner[m.end() :]
    value = env.get(name)
    if not op_text:
        if value is None:
            if unresolved is not None:
                unresolved.add(name)
            return original
        return value
    colon = op_text.startswith(":")
    op = op_text[1:2] if colon else op_text[:1]
    word = op_text[2:] if colon else op_text[1:]
    # With ':' an empty value counts as unset, as in POSIX sh and BuildKit.
    is_set = value is not None and (value != "" or not colon)
    if op == "-":
        return value if is_set else _expand(word, env, unresolved)  # type: ignore[return-value]
    if op == "+":
        return _expand(word, env, unresolved) if is_set else ""
    if op == "?" and is_set:
        return value  # type: ignore[return-value]
    # ${VAR?msg} unset, or pattern operators we do not model: leave as written.
    if value is None and unresolved is not None:
        unresolved.add(name)
    return original


# --- the tokenizer ----------------------------------------------------------------


def _physical_lines(text: str) -> list[str]:
    if text.startswith("\ufeff"):
        text = text[1:]
    # Split on "\n" only: str.splitlines() also splits on form feeds and
    # other separators, which would shift line numbers against every editor.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _comment_text(line: str) -> str:
    return line.strip()[1:].strip()


class _Tokenizer:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.escape = "\\"
        self.comments: list[tuple[int, str]] = []
        self.instructions: list[Instruction] = []
        self._cont_re = re.compile(r"\\[ \t]*$")

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
                self._cont_re = re.compile(re.escape(self.escape) + r"[ \t]*$")
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
        parts = [first.strip()]
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
            parts.append(piece.strip())
            end = i
            i += 1
        text = " ".join(p for p in parts if p)
        keyword, _, value = _KEYWORD_RE.match(text).groups()  # type: ignore[union-attr]
        keyword = keyword.upper()
        heredocs: list[Heredoc] = []
        if keyword in _HEREDOC_KEYWORDS and "<<" in value:
            i, end = self._heredocs(value, start, i, heredocs, end)
        items, args = _split_flags(value)
        self.instructions.append(
            Instruction(
                keyword=keyword,
                value=value,
                start_line=start + 1,
                end_line=end + 1,
                flags=dict(items),
                args=args,
                heredocs=heredocs,
                flag_items=items,
            )
        )
        return i

    def _heredocs(
        self, value: str, start: int, i: int, out: list[Heredoc], end: int
    ) -> tuple[int, int]:
        lines, n = self.lines, len(self.lines)
        for name, chomp, quoted in _heredoc_specs(value):
            body: list[str] = []
            body_start = i
            while True:
                if i >= n:
                    raise DockerfileError(start + 1, f"unterminated heredoc {name!r}")
                line = lines[i]
                candidate = line.lstrip("\t") if chomp else line
                i += 1
                if candidate == name:
                    break
                body.append(line.lstrip("\t") if chomp else line)
            out.append(
                Heredoc(
                    name=name,
                    body="".join(b + "\n" for b in body),
                    start_line=body_start + 1,
                    end_line=body_start + len(body),
                    chomp=chomp,
                    quoted=quoted,
                )
            )
            end = i - 1
        return i, end


# --- stages ---------------------------------------------------------------------------


def _arg_pairs(ins: Instruction) -> list[tuple[str, str | None]]:
    """``ARG A=1 B`` -> [("A", "1"), ("B", None)]."""
    pairs: list[tuple[str, str | None]] = []
    for word in ins.words():
        name, eq, default = word.partition("=")
        if name:
            pairs.append((name, default if eq else None))
    return pairs


def _parse_from(ins: Instruction) -> tuple[str, str | None]:
    words = ins.words()
    if len(words) == 1:
        return words[0], None
    if len(words) == 3 and words[1].lower() == "as":
        return words[0], words[2].lower()
    raise DockerfileError(ins.start_line, "FROM requires either one or three arguments")


def parse_dockerfile(text: str, build_args: Mapping[str, str] | None = None) -> Dockerfile:
    """Parse Dockerfile text; raises only DockerfileError (fuzzed in the tests)."""
    return _parse(text, build_args or {})


def _parse(text: str, build_args: Mapping[str, str]) -> Dockerfile:
    lines = _physical_lines(text)
    tok = _Tokenizer(lines)
    tok.run()
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    unresolved: set[str] = set()
    # BuildKit defines the platform ARGs itself; a caller may pass them in.
    automatic = {k: v for k, v in build_args.items() if k in _AUTOMATIC_ARGS}
    for ins in tok.instructions:
        if ins.keyword == "FROM":
            env = {**automatic, **global_args}
            stages.append(_stage(ins, len(stages), stages, env, unresolved))
        elif stages:
            stages[-1].instructions.append(ins)
        elif ins.keyword == "ARG":
            _global_arg(ins, global_args, build_args)
        else:
            raise DockerfileError(
                ins.start_line, f"{ins.keyword} before the first FROM (only ARG is allowed)"
            )
    return Dockerfile(
        escape=tok.escape,
        global_args=global_args,
        stages=stages,
        instructions=tok.instructions,
        comments=tok.comments,
        lines=lines,
        unresolved_args=unresolved,
    )


def _global_arg(ins: Instruction, env: dict[str, str], build_args: Mapping[str, str]) -> None:
    for name, default in _arg_pairs(ins):
        if name in build_args:
            env[name] = build_args[name]
        elif default is not None:
            # Defaults may use earlier ARGs: ARG IMAGE=rust:${RUST_VERSION}
            env[name] = substitute(default, env)
        else:
            env.pop(name, None)


def _stage(
    ins: Instruction,
    index: int,
    stages: list[Stage],
    env: Mapping[str, str],
    unresolved: set[str],
) -> Stage:
    base, name = _parse_from(ins)
    missing: set[str] = set()
    resolved = _expand(base, env, missing)
    unresolved |= missing
    platform = ins.flags.get("platform")
    if platform is not None:
        missing = set()
        platform = _expand(platform, env, missing)
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
