from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocpolicy.parsing.cfg import (
    FALSE,
    TRUE,
    CfgError,
    CfgExpr,
    conj,
    decide,
    disj,
    negate,
    parse_cfg,
    target_key_matches,
)

MUSL = {
    "target_env": "musl",
    "target_os": "linux",
    "target_arch": "x86_64",
    "target_family": "unix",
    "target_vendor": "unknown",
    "target_pointer_width": "64",
    "unix": True,
}
GNU = {**MUSL, "target_env": "gnu"}
MSVC = {
    "target_env": "msvc",
    "target_os": "windows",
    "target_family": "windows",
    "windows": True,
}


# -- parsing ---------------------------------------------------------------


def test_parses_key_value_with_cfg_wrapper() -> None:
    assert parse_cfg('cfg(target_env = "musl")') == CfgExpr.eq("target_env", "musl")


def test_bare_predicate_and_wrapper_agree() -> None:
    assert parse_cfg('all(unix, not(target_env = "musl"))') == parse_cfg(
        'cfg(all(unix, not(target_env = "musl")))'
    )


def test_nested_structure() -> None:
    expr = parse_cfg('cfg(all(unix, not(target_env = "musl")))')
    assert expr == CfgExpr.all_(
        CfgExpr.name("unix"), CfgExpr.not_(CfgExpr.eq("target_env", "musl"))
    )


@pytest.mark.parametrize(
    "text",
    [
        'cfg( all ( unix , not ( target_env="musl" ) , ) )',
        'all(unix,not(target_env = "musl"),)',
        '\n  all(\n    unix,\n    not(target_env = "musl",),\n  )\n',
        'all(unix, /* why */ not(target_env = "musl")) // trailing',
    ],
)
def test_whitespace_trailing_commas_and_comments(text: str) -> None:
    assert str(parse_cfg(text)) == 'all(unix, not(target_env = "musl"))'


def test_empty_all_and_any() -> None:
    assert parse_cfg("all()") == TRUE
    assert parse_cfg("any()") == FALSE
    assert parse_cfg("all()").evaluate({}) is True
    assert parse_cfg("any()").evaluate({}) is False


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (r'feature = "a\"b"', 'a"b'),
        (r'feature = "a\\b"', "a\\b"),
        (r'feature = "\n\t\r\0"', "\n\t\r\0"),
        (r'feature = "\x41\u{1F600}"', "A\U0001f600"),
        ('feature = "a\\\n    b"', "ab"),
        ('feature = r"raw\\n"', "raw\\n"),
        ('feature = r#"has "quotes""#', 'has "quotes"'),
        ('feature = "ünï"', "ünï"),
    ],
)
def test_string_escapes(text: str, value: str) -> None:
    expr = parse_cfg(text)
    assert expr == CfgExpr.eq("feature", value)
    assert parse_cfg(str(expr)) == expr


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("", 0),
        ("   ", 3),
        ("all(unix", 8),
        ("not()", 0),
        ("not(a, b)", 0),
        ("frob(unix)", 0),
        ("target_env = musl", 13),
        ('target_env = "musl', 13),
        ("unix windows", 5),
        ("all(unix))", 9),
        ("cfg(unix, windows)", 3),
        ("cfg()", 3),
        (r'feature = "\q"', 11),
        ("unix = ", 7),
        ("@", 0),
    ],
)
def test_errors_carry_message_and_offset(text: str, offset: int) -> None:
    with pytest.raises(CfgError) as info:
        parse_cfg(text)
    assert info.value.offset == offset
    assert info.value.message
    assert isinstance(info.value, ValueError)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    text = "not(" * 5000 + "unix" + ")" * 5000
    with pytest.raises(CfgError, match="nested too deeply"):
        parse_cfg(text)


def test_reasonable_nesting_is_fine() -> None:
    text = "not(" * 50 + "unix" + ")" * 50
    assert parse_cfg(text).evaluate(MUSL) is True


def test_bare_operator_words_are_names() -> None:
    # rustc treats `cfg(all)` as the (unset) name "all", not an operator.
    assert parse_cfg("all") == CfgExpr.name("all")
    assert parse_cfg("cfg") == CfgExpr.name("cfg")


def test_nodes_validate_invariants() -> None:
    with pytest.raises(ValueError):
        CfgExpr("xor")
    with pytest.raises(ValueError):
        CfgExpr("not", ())
    with pytest.raises(ValueError):
        CfgExpr("eq", key="k")


# -- evaluation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "facts", "expected"),
    [
        ('target_env = "musl"', MUSL, True),
        ('target_env = "musl"', GNU, False),
        ('all(unix, not(target_env = "musl"))', GNU, True),
        ('all(unix, not(target_env = "musl"))', MUSL, False),
        ('all(unix, not(target_env = "musl"))', MSVC, False),
        ('not(target_env = "msvc")', MUSL, True),
        ('not(target_env = "msvc")', MSVC, False),
        ('any(target_os = "macos", target_os = "linux")', MUSL, True),
        ("windows", MSVC, True),
        ("windows", MUSL, False),
        ("test", MUSL, False),
        ("debug_assertions", {**MUSL, "debug_assertions": True}, True),
        ('target_has_atomic = "64"', MUSL, False),  # unknown keys are false
        ("true", {}, True),
        ("false", {}, False),
        ('target_pointer_width = "64"', {"target_pointer_width": 64}, True),
    ],
)
def test_evaluate(text: str, facts: dict[str, object], expected: bool) -> None:
    assert parse_cfg(text).evaluate(facts) is expected


def test_set_valued_facts_use_membership() -> None:
    facts = {"target_family": frozenset({"unix", "wasm"}), "target_feature": {"sse2", "avx"}}
    assert parse_cfg('target_family = "wasm"').evaluate(facts)
    assert parse_cfg('target_feature = "avx"').evaluate(facts)
    assert not parse_cfg('target_feature = "neon"').evaluate(facts)


def test_unix_and_windows_fall_back_to_target_family() -> None:
    assert parse_cfg("unix").evaluate({"target_family": "unix"})
    assert not parse_cfg("windows").evaluate({"target_family": "unix"})
    assert parse_cfg("unix").evaluate({"target_family": frozenset({"unix"})})
    # An explicit fact wins over the fallback.
    assert not parse_cfg("unix").evaluate({"target_family": "unix", "unix": False})


def test_feature_checks_features_argument() -> None:
    expr = parse_cfg('feature = "mimalloc"')
    assert expr.evaluate(MUSL, frozenset({"mimalloc"}))
    assert not expr.evaluate(MUSL)
    assert not expr.evaluate(MUSL, frozenset({"jemalloc"}))
    assert expr.evaluate({"feature": {"mimalloc"}})


def test_keys() -> None:
    expr = parse_cfg('all(unix, not(target_env = "musl"), any(feature = "x", true))')
    assert expr.keys() == frozenset({"unix", "target_env", "feature"})
    assert TRUE.keys() == frozenset()


# -- canonical text --------------------------------------------------------


def test_str_is_canonical_rust() -> None:
    assert str(parse_cfg('cfg(all(unix,not(target_env="musl"),))')) == (
        'all(unix, not(target_env = "musl"))'
    )
    assert str(TRUE) == "all()"
    assert str(CfgExpr.eq("feature", 'a"b\\c\n')) == r'feature = "a\"b\\c\n"'


def test_exprs_are_hashable_and_immutable() -> None:
    a = parse_cfg('all(unix, feature = "x")')
    assert {a: 1}[parse_cfg('all(unix,feature="x")')] == 1
    with pytest.raises(AttributeError):
        a.op = "any"  # type: ignore[misc]


# -- target keys -----------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "triple", "facts", "expected"),
    [
        ("x86_64-unknown-linux-musl", "x86_64-unknown-linux-musl", MUSL, True),
        ("x86_64-unknown-linux-musl", "x86_64-unknown-linux-gnu", GNU, False),
        ('cfg(target_env = "musl")', "x86_64-unknown-linux-musl", MUSL, True),
        ('cfg(target_env = "musl")', "x86_64-unknown-linux-gnu", GNU, False),
        ('cfg(all(unix, not(target_env = "musl")))', "x86_64-unknown-linux-gnu", GNU, True),
        (" cfg(windows) ", "x86_64-pc-windows-msvc", MSVC, True),
    ],
)
def test_target_key_matches(
    key: str, triple: str, facts: dict[str, object], expected: bool
) -> None:
    assert target_key_matches(key, triple, facts) is expected


def test_target_key_with_features() -> None:
    key = 'cfg(feature = "mimalloc")'
    assert target_key_matches(key, "t", MUSL, frozenset({"mimalloc"}))
    assert not target_key_matches(key, "t", MUSL)


def test_target_key_malformed_cfg_raises() -> None:
    with pytest.raises(CfgError):
        target_key_matches("cfg(all(unix)", "x86_64-unknown-linux-gnu", GNU)


# -- combinators -----------------------------------------------------------


def test_conj() -> None:
    a, b = parse_cfg("unix"), parse_cfg('target_env = "gnu"')
    assert conj([]) is None
    assert conj([None, None]) is None
    assert conj([a]) == a
    assert conj([a, b]) == CfgExpr.all_(a, b)
    assert conj([a, None, b]) == CfgExpr.all_(a, b)
    # Nested all() flattens and duplicates collapse.
    assert conj([CfgExpr.all_(a, b), a]) == CfgExpr.all_(a, b)
    assert conj([TRUE, a]) == a
    assert conj([TRUE]) == TRUE
    assert conj(iter([a, b])) == CfgExpr.all_(a, b)


def test_disj_and_negate() -> None:
    a, b = parse_cfg("unix"), parse_cfg("windows")
    assert disj([]) is None
    assert disj([a, b]) == CfgExpr.any_(a, b)
    assert disj([a, TRUE]) == TRUE
    assert disj([FALSE]) == FALSE
    assert negate(negate(a)) == a
    assert negate(a) == CfgExpr.not_(a)


# -- properties ------------------------------------------------------------

_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True).filter(lambda s: s != "_")
_values = st.text(max_size=12)
_leaves = st.one_of(
    _names.map(CfgExpr.name),
    st.builds(CfgExpr.eq, _names, _values),
)
_exprs = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda xs: CfgExpr("all", tuple(xs))),
        st.lists(inner, max_size=4).map(lambda xs: CfgExpr("any", tuple(xs))),
        inner.map(CfgExpr.not_),
    ),
    max_leaves=20,
)


@given(_exprs)
@settings(max_examples=300)
def test_str_round_trips(expr: CfgExpr) -> None:
    assert parse_cfg(str(expr)) == expr
    assert parse_cfg(f"cfg({expr})") == expr


@given(_exprs, st.dictionaries(_names, st.one_of(st.booleans(), _values), max_size=6))
@settings(max_examples=200)
def test_round_trip_preserves_meaning(expr: CfgExpr, facts: dict[str, object]) -> None:
    assert parse_cfg(str(expr)).evaluate(facts) == expr.evaluate(facts)
    assert negate(expr).evaluate(facts) != expr.evaluate(facts)


@given(st.text(max_size=40))
@settings(max_examples=300)
def test_arbitrary_text_never_crashes(text: str) -> None:
    try:
        parse_cfg(text)
    except CfgError as err:
        assert 0 <= err.offset <= len(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("test", False),
        ("all(unix, test)", False),
        ('all(feature = "x", not(test))', None),  # the feature decides
        ("any(test, unix)", None),
        ("not(test)", True),
        ("any(not(test), windows)", True),
        ("all()", True),
        ("any()", False),
    ],
)
def test_decide_with_only_some_names_known(text: str, expected: bool | None) -> None:
    assert decide(parse_cfg(text), {"test": False}) is expected
