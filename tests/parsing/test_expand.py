"""Variable expansion as BuildKit does it, and its bounds.

No Python package expands Dockerfile variables (the ``dockerfile`` package wraps
BuildKit's parser only), so these are table tests written from BuildKit's
documented semantics and from the cases in moby/buildkit
``frontend/dockerfile/shell/envVarTest`` and ``lex_test.go`` (re-stated here as
tables, environment PWD=/home SHELL=bash NULL="" as there).  The pattern
matcher is checked against Python's backtracking ``re``, whose leftmost-first
semantics are the ones BuildKit's Go ``regexp`` gives the translated pattern.
"""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocpolicy.parsing.expand import (
    MAX_DEPTH,
    MAX_VALUE,
    Expander,
    ExpansionError,
    _Pattern,
    _replace_all,
    _tokens,
)

ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}
ERROR = object()


def word(text: str, env: dict[str, str] | None = None, **kw: object) -> object:
    kw.setdefault("closed", True)
    try:
        return Expander().word(text, ENV if env is None else env, **kw)  # type: ignore[arg-type]
    except ExpansionError:
        return ERROR


# --- quotes and escapes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", "hello"),
        ("he'll'o", "hello"),
        ("he'llo", ERROR),
        ("he\\'llo", "he'llo"),
        ("abc\\tdef", "abctdef"),  # outside quotes the escape makes the next character plain
        ('"abc\\tdef"', "abc\\tdef"),  # inside double quotes only " $ and \ are escapable
        ('"abc\\\\tdef"', "abc\\tdef"),
        ("'abc\\tdef'", "abc\\tdef"),
        ("hello\\", "hello"),  # a trailing escape is dropped
        ("hello\\\\", "hello\\"),
        ('"hello', ERROR),
        ('"hello\\"', ERROR),
        ('"hel\'lo"', "hel'lo"),
        ("'hello\\'", "hello\\"),  # nothing escapes inside single quotes
        ("'$PWD'", "$PWD"),  # single quotes suppress expansion
        ("'he${XX}'", "he${XX}"),
        ('"$PWD"', "/home"),  # double quotes do not
        ("\"he'$PWD'\"", "he'/home'"),
        ("he\\$PWD", "he$PWD"),
        ('"he\\$PWD"', "he$PWD"),
        ("he\\\\$PWD", "he\\/home"),
        ("\\${}", "${}"),
        ("\"''\"", "''"),
        ("안'녕'하세요", "안녕하세요"),
    ],
)
def test_quotes_and_escapes(text: str, expected: object) -> None:
    assert word(text) == expected


def test_the_backtick_escape_directive_is_the_escape_character() -> None:
    exp = Expander("`")
    assert exp.word("a`$PWD", ENV) == "a$PWD"
    assert exp.word("C:\\dir\\$PWD", ENV) == "C:\\dir\\/home"  # a backslash is plain
    assert exp.word('"x`"y"', ENV) == 'x"y'


# --- the ${...} forms ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$.", "$."),
        ("he$.x", "he$.x"),
        ("he$1x", "hex"),  # positional parameters are never set in a Dockerfile
        ("he$pwd.", "he."),  # names are case sensitive
        ("he$PWD", "he/home"),
        ("he${hi}xx", "hexx"),
        ("${}", ERROR),
        ("he${.}", ERROR),
        ("${{aaa}", ERROR),
        ("${:}", ERROR),
        ("${:-bbb}", ERROR),
        ("${aaa", ERROR),
        ("${aaa}}", "}"),
        ("he${XXX:-000}xx", "he000xx"),
        ("he${PWD:-000}xx", "he/homexx"),
        ("he${XXX:-$PWD}xx", "he/homexx"),
        ("he${XXX:-${YYY:-yyy}}xx", "heyyyxx"),
        ("${aaa:-bbb {foo}", "bbb {foo"),
        ("${aaa:-bbb ${foo}", ERROR),
        ("he${XXX:YYY}", ERROR),
        ("he${PWD:=000}xx", ERROR),  # := is not supported
        ("he${XXX?}", ERROR),
        ("he${XXX:?}", ERROR),
        ("he${PWD?}", "he/home"),
        ("he${NULL?}", "he"),
        ("he${NULL:?}", ERROR),
        ("he${XXX:+${PWD}}xx", "hexx"),
        ("he${PWD:+${SHELL}}xx", "hebashxx"),
        ("he${PWD:+${PWD}:}xx", "he/home:xx"),
        ("he${XXX:-\\$PWD:}xx", "he$PWD:xx"),
        ("he${XXX:-\\${PWD}z}xx", "he${PWDz}xx"),
        ("${NULL-a}|${NULL:-a}|${NULL+b}|${NULL:+b}", "|a|b|"),
        ("$@@@", "@@"),
        ("${#}${$:-d}", "d"),
        ("${#PWD}", ERROR),  # the length form is not BuildKit's
        ("$001aaa", "aaa"),
        ("$KOREAN", "한국어"),
    ],
)
def test_dollar_forms(text: str, expected: object) -> None:
    assert word(text) == expected


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${FOO#*x*y}", {"FOO": "xxyy"}, "y"),
        ("${FOO#*}", {"FOO": "xxyy"}, "xxyy"),  # the shortest prefix * matches is empty
        ("${FOO##*x}", {"FOO": "xxyy"}, "yy"),
        ("${FOO#$BAR}", {"FOO": "xxyy", "BAR": "x"}, "xyy"),
        ("${FOO#?\\?}", {"FOO": "???y"}, "?y"),
        ("${FOO#()[]{\\}^$.\\*\\?|\\\\}", {"FOO": "()[]{}^$.*?|\\x"}, "x"),
        ("${FOO%%\\**}", {"FOO": "xx**"}, "xx"),
        ("${FOO%%\\**\\*}", {"FOO": "a***yy*"}, "a"),
        ("${ABC:-.}${FOO%x}${ABC:-.}", {"FOO": "xxyy"}, ".xxyy."),
        ("${FOO%y}|${FOO%%y*}|${FOO%x*}", {"FOO": "xxyy"}, "xxy|xx|x"),
        ("${FOO:#}", {}, ERROR),
        ("${FOO:%%}", {}, ERROR),
        ("${FOO#\\x}", {"FOO": "x"}, ERROR),  # an escape BuildKit's patterns do not know
        (
            "${FOO/$N/.} - ${FOO//$N/.}",
            {"FOO": "/foo*/*/*.txt", "N": "\\*/"},
            "/foo.*/*.txt - /foo..*.txt",
        ),
        (
            "${FOO/$N/} - ${FOO//$N/}",
            {"FOO": "/tmp/tmp/bar.txt", "N": "/tmp"},
            "/tmp/bar.txt - /bar.txt",
        ),
        ("${FOO//\\//\\/}", {"FOO": "/tmp/foo.txt"}, "\\/tmp\\/foo.txt"),
        ("${FOO/$BAR/ww}", {"FOO": "xxyy", "BAR": ""}, "wwxxyy"),
        ("${FOO//ww}", {"FOO": "xxyy"}, ERROR),
        ("${FOO///}", {"FOO": "xxyy"}, "xxyy"),
        ("${FOO///}", {}, ""),
        ("${FOO//x/$R}", {"FOO": "axbx", "R": "<$$>"}, "a<$>b<$>"),  # Go's template: $$ is $
        ("${FOO//x/[\\$0]}", {"FOO": "axb"}, "a[\\x]b"),  # and $0 the match
        ("${FOO/x/[\\$0]}", {"FOO": "axb"}, "a[\\$0]b"),  # the first-match form inserts as is
        ("${FOO//*/X}", {"FOO": "abc"}, "X"),  # no second, empty match at the end
        ("${VAR:?message here$ARG}", {"VAR": "", "ARG": "x"}, ERROR),
        ("${VAR?message here$ARG}", {"VAR": "", "ARG": "x"}, ""),
        ("${TAG/-alpine/}", {"TAG": "1.82-alpine3.20"}, "1.823.20"),
    ],
)
def test_pattern_forms(text: str, env: dict[str, str], expected: object) -> None:
    assert word(text, env) == expected


def test_an_error_names_the_variable_and_its_message() -> None:
    with pytest.raises(ExpansionError, match="VAR: message herex"):
        Expander().word("${VAR:?message here$ARG}", {"ARG": "x"}, closed=True)


# --- what an unset or unknown name means where ----------------------------------------


def test_global_scope_unset_is_empty_and_declared_without_value_is_unknown() -> None:
    exp = Expander()
    missing: set[str] = set()
    got = exp.word(
        "rust:$V-${D}-${D:-dflt}-$NOPE", {"V": "1"}, closed=True, unknown={"D"}, missing=missing
    )
    assert got == "rust:1-${D}-dflt-"
    assert missing == {"D", "NOPE"}  # the default decided ${D:-dflt}: not missing


def test_stage_scope_keeps_names_the_base_image_may_define() -> None:
    exp = Expander()
    assert exp.word("$CARGO_HOME/bin:${X:-d}:$1", {}) == "$CARGO_HOME/bin:d:"
    assert exp.word("${CARGO_HOME#/usr}", {}) == "${CARGO_HOME#/usr}"
    assert exp.word("${V:?}", {}) == "${V:?}"  # might be set by the image: not an error
    assert exp.word("[$V]", {}, unset={"V"}) == "[]"


def test_shell_text_leaves_every_unknown_name_and_failure_as_written() -> None:
    exp = Expander()
    assert exp.shell("$HOME/${X:-d}/\\$A/'$A'", {"A": "1"}) == "$HOME/d/\\$A/'1'"
    assert exp.shell("${A", {"A": "1"}) == "${A"
    assert exp.shell("$1 $@", {}) == "$1 $@"
    assert exp.shell("${A%%.*}", {"A": "1.2.3"}) == "1"


# --- bounds ---------------------------------------------------------------------------


def test_a_value_past_the_cap_is_unknown_and_stays_as_written() -> None:
    env = {"A": "x" * (MAX_VALUE // 2 + 1)}
    assert Expander().word("$A$A", env) == "$A$A"
    assert Expander().word("${A//x/yy}", env) == "${A//x/yy}"
    assert Expander().word("$A", env) == env["A"]


def test_doubling_values_stay_bounded() -> None:
    exp = Expander()
    env = {"A0": "x"}
    for i in range(1, 60):
        env[f"A{i}"] = exp.word(f"$A{i - 1}$A{i - 1}", env, closed=True)
    assert max(len(v) for v in env.values()) <= MAX_VALUE
    assert "$" in env["A59"]  # unknown, not truncated


def test_the_work_budget_is_shared_by_one_file() -> None:
    exp = Expander(budget=1000)
    env = {"A": "x" * 300}
    assert [exp.word("$A", env) == env["A"] for _ in range(5)] == [True] * 3 + [False] * 2
    assert exp.word("plain", env) == "plain"  # words without $ cost nothing


def test_nesting_past_the_cap_is_unknown_not_a_recursion_error() -> None:
    deep = "${X:-" * 5000 + "x" + "}" * 5000
    assert Expander().word(deep, {}) == deep
    ok = "${X:-" * (MAX_DEPTH - 1) + "x" + "}" * (MAX_DEPTH - 1)
    assert Expander().word(ok, {}) == "x"
    assert Expander().shell(deep, {}) == deep


def test_a_hostile_pattern_is_linear_or_unknown() -> None:
    env = {"A": "a" * MAX_VALUE}
    start = time.perf_counter()
    for text in ("${A##*a*a*a*a*b}", "${A//a*b/x}", "${A%%*b}"):
        assert Expander().word(text, env) in (env["A"], text)
    assert time.perf_counter() - start < 10


# --- the pattern matcher against a backtracking regex engine -------------------------

_PATTERN = st.text(alphabet="ab*?\\\n", max_size=5)
_VALUE = st.text(alphabet="ab\n*?", max_size=8)


def _regex(tokens: list[int | str], greedy: bool) -> re.Pattern[str]:
    star = ".*" if greedy else ".*?"
    parts = [star if t == 0 else "." if t == 1 else re.escape(str(t)) for t in tokens]
    return re.compile("".join(parts))


def _go_replace_all(rx: re.Pattern[str], value: str, repl: str) -> str:
    """Go's ReplaceAllString loop, matching with Python's re."""
    out, last, search = [], 0, 0
    while search <= len(value):
        m = rx.search(value, search)
        if m is None:
            break
        a, b = m.span()
        out.append(value[last:a])
        if b > last or a == 0:
            out.append(repl)
        last = b
        search = b if b > search else search + 1
    return "".join(out) + value[last:]


@settings(max_examples=400, deadline=None)
@given(_PATTERN, _VALUE)
def test_pattern_matches_what_a_backtracking_engine_matches(pattern: str, value: str) -> None:
    try:
        tokens = _tokens(pattern)
    except Exception:
        return  # an invalid escape: covered by the table
    for greedy in (True, False):
        m = _regex(tokens, greedy).match(value)
        expected = m.end() if m else -1
        assert _Pattern(tokens).match_end(value, 0, greedy, Expander()) == expected
    rx = _regex(tokens, True)
    assert _replace_all(_Pattern(tokens), value, "X", Expander()) == _go_replace_all(rx, value, "X")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.dictionaries(st.sampled_from("ABC"), st.text(max_size=6)))
def test_fuzz_expansion_only_raises_expansion_error(text: str, env: dict[str, str]) -> None:
    for closed in (True, False):
        try:
            assert isinstance(Expander().word(text, env, closed=closed), str)
        except ExpansionError:
            pass
    assert isinstance(Expander().shell(text, env), str)
