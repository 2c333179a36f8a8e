"""Differential test of the Dockerfile tokenizer against BuildKit's own parser.

The ``dockerfile`` package (asottile) wraps BuildKit's Go parser
(``frontend/dockerfile/parser``): instruction split, continuation lines, flags,
JSON versus shell form, heredocs, and the errors the parser itself raises.  It
does no variable expansion; ``test_expand.py`` covers that with tables.

Its vendored BuildKit predates two changes this tokenizer follows, so the
generator stays clear of them (and ``test_known_divergences`` pins both):
JSON followed by more text is shell form since dockerfile frontend 1.10 (the
old parser read the first JSON value and ignored the rest), and flags use the
file's escape character since 1.15 (the old parser always used a backslash).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocpolicy.parsing.dockerfile import DockerfileError, _parse_words, parse_dockerfile

dockerfile = pytest.importorskip("dockerfile")

_JSON_FORMS = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"})
_ONE_STRING = frozenset(
    {"RUN", "CMD", "ENTRYPOINT", "SHELL", "MAINTAINER", "USER", "WORKDIR", "STOPSIGNAL"}
)
_WORD_LIST = frozenset({"FROM", "EXPOSE", "COPY", "ADD", "VOLUME"})
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")  # BuildKit's reWhitespace

Row = tuple[
    str, int, int, tuple[str, ...], bool, "tuple[str, ...] | None", tuple[tuple[str, str], ...]
]


def _value(
    keyword: str, args: str, escape: str, exec_form: list[str] | None
) -> tuple[str, ...] | None:
    """The node values BuildKit's parser gives, rebuilt from our instruction."""
    if exec_form is not None:
        return tuple(exec_form)
    if keyword in _ONE_STRING:
        return (args,) if args else ()
    if keyword in _WORD_LIST:
        return tuple(w for w in _WHITESPACE.split(args) if w)
    if keyword in ("ENV", "LABEL"):
        words = _parse_words(args, escape)
        if words and "=" not in words[0]:  # legacy `ENV KEY value`
            key, *rest = _WHITESPACE.split(args, maxsplit=1)
            return (key, rest[0] if rest else "")
        return tuple(part for w in words for part in w.split("=", 1))
    if keyword == "ARG":
        return tuple(_parse_words(args, escape))
    return None


def _ours(text: str) -> list[Row]:
    df = parse_dockerfile(text)
    rows: list[Row] = []
    for ins in df.instructions:
        exec_form = ins.exec_form() if ins.keyword in _JSON_FORMS else None
        rows.append(
            (
                ins.keyword,
                ins.start_line,
                ins.end_line,
                # BuildKit keeps `--link` and `--link=` apart; the dict form cannot
                tuple(f"--{name}={value}".rstrip("=") for name, value in ins.flag_items),
                exec_form is not None,
                _value(ins.keyword, ins.args, df.escape, exec_form),
                tuple((h.name, h.body) for h in ins.heredocs),
            )
        )
    return rows


def _chomp(content: str) -> str:
    return "".join(line.lstrip("\t") for line in content.splitlines(keepends=True))


def _reference(text: str) -> list[Row]:
    rows: list[Row] = []
    for c in dockerfile.parse_string(text):
        keyword = c.cmd.upper()
        known = keyword in _ONE_STRING | _WORD_LIST | {"ENV", "LABEL", "ARG"}
        # The parser leaves <<- chomping to the build; our bodies are chomped already.
        chomped = [w.startswith("<<-") or "<<-" in w for w in c.value if "<<" in w]
        docs = tuple(
            (h.name, _chomp(h.content) if i < len(chomped) and chomped[i] else h.content)
            for i, h in enumerate(c.heredocs)
        )
        rows.append(
            (
                keyword,
                c.start_line,
                c.end_line,
                tuple(f.rstrip("=") for f in c.flags),
                c.json,
                tuple(c.value) if known else None,
                docs,
            )
        )
    return rows


def _outcome(parse, text: str) -> object:  # type: ignore[no-untyped-def]
    try:
        return parse(text)
    except (DockerfileError, dockerfile.GoParseError):
        return "rejected"


_CORPUS = [
    "FROM rust:1.82-alpine AS build\nRUN apk add --no-cache musl-dev \\\n    # the C toolchain\n"
    '    gcc\n\nCOPY --from=build --chmod=755 /app /app\nCMD ["app"]\n',
    "from alpine\r\nrun apk add mimalloc2 \\\r\n  jemalloc\r\nenv LD_PRELOAD=/usr/lib/libmimalloc.so.2\r\n",
    "# escape=`\nFROM mcr.microsoft.com/windows/servercore\nRUN dir C:\\ `\n    && echo done\n",
    'FROM a\nRUN apk add mimalloc\\\n2\nVOLUME \\\\\nENV A=1 \\\n\n  B="x y"\nENV C d  e\n',
    "FROM a\nRUN <<EOT bash -ex\napt-get update\nEOT\nCOPY <<-'EOF' /etc/x\n\tkey=$V\n\tEOF\n",
    "FROM a\nRUN <<EOT\r\necho hi\r\nEOT\r\n",
    "FROM a\nCMD -- --x\nCOPY --link -- --a /b\nRUN --mount=type=cache,target='/a b' x\n",
    "FROM a\nENV A=1 B\n",
    "FROM a\nLABEL only\n",
    "FROM a\nCMD [1, 2]\n",
    "FROM a\nRUN y \\\n# trailing comment\n\n",
]


@pytest.mark.parametrize("text", _CORPUS)
def test_agrees_with_buildkit_on_corpus(text: str) -> None:
    assert _outcome(_ours, text) == _outcome(_reference, text)


def test_known_divergences() -> None:
    # JSON with text after it: shell form in BuildKit >= 1.10, JSON in the oracle
    ours = parse_dockerfile('FROM a\nRUN ["a"] x\n').instructions[1]
    assert ours.exec_form() is None and ours.args == '["a"] x'
    assert dockerfile.parse_string('FROM a\nRUN ["a"] x\n')[1].json
    # flags honour `# escape=` since BuildKit 1.15; the oracle always unescapes a backslash
    text = "# escape=`\nFROM a\nRUN --mount=a`=b\\c x\n"
    assert parse_dockerfile(text).instructions[1].flag_items == [("mount", "a=b\\c")]
    assert dockerfile.parse_string(text)[1].flags == ("--mount=a`=bc",)


# --- generated Dockerfiles -------------------------------------------------------------

_TEXT = st.text(alphabet="abcxyz019-_./:$@{}\\`=", min_size=1, max_size=6)
_ARG_WORD = st.one_of(_TEXT, _TEXT.map(lambda w: f'"{w} {w}"'), _TEXT.map(lambda w: f"'{w}'"))
_FLAG_VALUE = st.text(alphabet="abcxyz019-_./:$@{}=", min_size=1, max_size=6)  # no escapes
_FLAG = st.builds(
    "--{}={}".format,
    st.sampled_from(["from", "chmod", "mount", "link", "platform"]),
    st.one_of(_FLAG_VALUE, _FLAG_VALUE.map(lambda v: f'"{v} {v}"'), _FLAG_VALUE.map(repr)),
)
_KEYWORDS = [
    "RUN", "run", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME", "EXPOSE", "USER",
    "WORKDIR", "STOPSIGNAL", "ENV", "LABEL", "ARG", "MAINTAINER",
]  # fmt: skip
_NAME = st.text("ABCxyz_", min_size=1, max_size=4)


@st.composite
def _heredoc(draw: st.DrawFn) -> list[str]:
    name = draw(st.sampled_from(["EOT", "EOF", "X1"]))
    chomp = draw(st.booleans())
    quote = draw(st.sampled_from(["", '"', "'"]))
    head = draw(
        st.sampled_from(["RUN <<{}", "RUN <<{} bash -ex", "COPY <<{} /etc/x", "RUN cat <<{} > /x"])
    )
    marker = ("-" if chomp else "") + quote + name + quote
    body = draw(
        st.lists(st.one_of(_TEXT, st.just(""), _TEXT.map("\t{}".format), st.just("FROM x")))
    )
    end = ("\t" if chomp and draw(st.booleans()) else "") + name
    return [head.format(marker), *body[:3], end]


@st.composite
def _body(draw: st.DrawFn, keyword: str) -> str:
    if keyword in ("ENV", "LABEL"):
        if draw(st.booleans()):
            pairs = draw(
                st.lists(
                    st.tuples(_NAME, st.one_of(st.just(""), _ARG_WORD)), min_size=1, max_size=3
                )
            )
            return " ".join(f"{k}={v}" for k, v in pairs)
        return draw(_NAME) + " " + " ".join(draw(st.lists(_ARG_WORD, min_size=1, max_size=3)))
    if keyword == "ARG":
        word = st.one_of(_NAME, st.tuples(_NAME, _ARG_WORD).map("=".join))
        return " ".join(draw(st.lists(word, min_size=1, max_size=3)))
    if keyword in _JSON_FORMS and draw(st.booleans()):
        items = [w.replace("\\", "\\\\") for w in draw(st.lists(_TEXT, min_size=1, max_size=3))]
        sep = draw(st.sampled_from([", ", ",", " ,  "]))
        # now and then an element that is not a string: BuildKit rejects the file
        quoted = [f'"{w}"' if draw(st.integers(0, 6)) else "1" for w in items]
        return "[" + sep.join(quoted) + "]" + draw(st.sampled_from(["", " "]))
    return " ".join(draw(st.lists(_ARG_WORD, min_size=1, max_size=4)))


@st.composite
def _instruction(draw: st.DrawFn, escape: str) -> list[str]:
    if draw(st.integers(0, 5)) == 0:
        return draw(_heredoc())
    keyword = draw(st.sampled_from(_KEYWORDS))
    flags = draw(st.lists(_FLAG, max_size=2)) if keyword.upper() in ("RUN", "COPY", "ADD") else []
    if flags and draw(st.booleans()):
        flags.append("--")
    body = draw(_body(keyword.upper()))
    sep = draw(st.sampled_from([" ", "\t", "  "]))
    head = keyword if draw(st.integers(0, 10)) == 0 else sep.join([keyword, *flags, body])
    if body.startswith("[") or draw(st.integers(0, 3)):
        return [head]  # (no text after JSON: see the module docstring)
    # a continuation, with comments and blank lines inside, maybe joined mid-word
    inner = draw(st.sampled_from([[], ["  # inside"], [""], ["", "# c", "   "]]))
    tail = " ".join(draw(st.lists(_TEXT, min_size=1, max_size=3)))
    glue = draw(st.sampled_from(["", " ", "\t"]))
    return [head + glue + escape + draw(st.sampled_from(["", " ", "\t"])), *inner, tail]


@st.composite
def _dockerfile(draw: st.DrawFn) -> str:
    escape = draw(st.sampled_from(["\\", "\\", "`"]))
    lines = ["# escape=`"] if escape == "`" else []
    if draw(st.booleans()):
        lines.append("# syntax=docker/dockerfile:1")
    image = "img" + draw(st.text(alphabet="abc019.:", max_size=6))
    lines.append(
        draw(st.sampled_from(["FROM ", "from "]))
        + image
        + draw(st.sampled_from(["", " AS b", " as B"]))
    )
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["ins", "ins", "ins", "comment", "blank"]))
        if kind == "comment":
            lines.append(draw(st.sampled_from(["", "  ", "\t"])) + "# " + draw(_TEXT))
        elif kind == "blank":
            lines.append(draw(st.sampled_from(["", "  "])))
        else:
            first, *rest = draw(_instruction(escape))
            lines += [draw(st.sampled_from(["", "  ", "\t"])) + first, *rest]
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    return (
        draw(st.sampled_from(["", "", "\ufeff"]))
        + eol.join(lines)
        + draw(st.sampled_from([eol, ""]))
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_dockerfile())
def test_agrees_with_buildkit_generated(text: str) -> None:
    assert _outcome(_ours, text) == _outcome(_reference, text)
