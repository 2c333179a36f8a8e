from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import allocpolicy.parsing.rust as rust_mod
from allocpolicy.parsing.cfg import parse_cfg
from allocpolicy.parsing.rust import (
    GlobalAllocator,
    ModDecl,
    RustSource,
    file_suppressions,
    insertion_line,
    might_declare_allocator,
    scan_module_items,
    scan_rust_source,
)


def scan(src: str) -> RustSource:
    return scan_rust_source(textwrap.dedent(src).lstrip("\n").encode())


def only(src: str) -> GlobalAllocator:
    result = scan(src)
    assert len(result.allocators) == 1, result
    return result.allocators[0]


# -- fast path / laziness ---------------------------------------------------------


def test_fast_path_without_needle() -> None:
    assert not might_declare_allocator(b"fn main() {}")
    assert scan_rust_source(b"fn main() {}") == RustSource([], None)


def test_import_and_fast_path_do_not_load_tree_sitter() -> None:
    code = (
        "import sys\n"
        "import allocpolicy.parsing.rust as r\n"
        "assert 'tree_sitter' not in sys.modules\n"
        "assert r.scan_rust_source(b'fn main() {}').allocators == []\n"
        "assert r.file_suppressions(b'fn main() {}') == []\n"
        "assert 'tree_sitter' not in sys.modules\n"
        "r.scan_rust_source(b'// add a #[global_allocator] here\\n  //! global_allocator\\nfn main() {}')\n"
        "assert 'tree_sitter' not in sys.modules\n"
        "r.scan_rust_source(b'#[global_allocator] static A: B = B;')\n"
        "assert 'tree_sitter' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- paths and resolution ---------------------------------------------------------


def test_fully_qualified_path() -> None:
    a = only(
        """
        #[global_allocator]
        static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
        """
    )
    assert a.static_name == "GLOBAL"
    assert a.type_text == "mimalloc::MiMalloc"
    assert a.resolved == "mimalloc::MiMalloc"
    assert a.crate == "mimalloc"
    assert a.cfg is None
    assert (a.line, a.column, a.end_line, a.attr_line) == (1, 1, 2, 1)
    assert a.suppressed == frozenset() and a.suppression_lines == ()


@pytest.mark.parametrize(
    ("header", "type_text", "resolved"),
    [
        ("use mimalloc::MiMalloc;", "MiMalloc", "mimalloc::MiMalloc"),
        ("use mimalloc::MiMalloc as Alloc;", "Alloc", "mimalloc::MiMalloc"),
        ("use mimalloc as mi;", "mi::MiMalloc", "mimalloc::MiMalloc"),
        ("use ::mimalloc::MiMalloc;", "MiMalloc", "mimalloc::MiMalloc"),
        ("use mimalloc::{MiMalloc, Other};", "MiMalloc", "mimalloc::MiMalloc"),
        ("use mimalloc::{self as m};", "m::MiMalloc", "mimalloc::MiMalloc"),
        ("use mimalloc::{self};", "mimalloc::MiMalloc", "mimalloc::MiMalloc"),
        ("use a::{b::{MiMalloc as X}, c};", "X", "a::b::MiMalloc"),
        ("extern crate mimalloc as mi;", "mi::MiMalloc", "mimalloc::MiMalloc"),
        ("extern crate mimalloc;", "mimalloc::MiMalloc", "mimalloc::MiMalloc"),
        ("use tikv_jemallocator::Jemalloc;", "Jemalloc", "tikv_jemallocator::Jemalloc"),
        ("use tikv_jemallocator;", "tikv_jemallocator::Jemalloc", "tikv_jemallocator::Jemalloc"),
        ("use std::alloc::System;", "System", "std::alloc::System"),
        ("", "::mimalloc::MiMalloc", "mimalloc::MiMalloc"),
        ("", "crate::alloc::Counting", "crate::alloc::Counting"),
        ("use crate::alloc::Counting;", "Counting", "crate::alloc::Counting"),
        ("pub(crate) use mimalloc::MiMalloc;", "MiMalloc", "mimalloc::MiMalloc"),
        ("use mimalloc as mi;\nuse mi::MiMalloc;", "MiMalloc", "mimalloc::MiMalloc"),
        ("use jemallocator::*;", "Jemalloc", "jemallocator::Jemalloc"),
        ("struct Counting;", "Counting", "self::Counting"),
        ("", "Unknown", "Unknown"),
        ("use mimalloc::MiMalloc;", "MiMalloc<u8>", "mimalloc::MiMalloc"),
    ],
)
def test_resolution(header: str, type_text: str, resolved: str) -> None:
    a = only(f"{header}\n#[global_allocator]\nstatic A: {type_text} = {type_text};\n")
    assert a.type_text == type_text
    assert a.resolved == resolved
    assert a.crate == resolved.split("::")[0]


def test_crate_for_local_paths() -> None:
    assert only("#[global_allocator] static A: crate::a::X = X;").crate == "crate"
    assert only("#[global_allocator] static A: self::X = X;").crate == "self"
    assert only("#[global_allocator] static A: super::X = X;").crate == "super"


def test_two_globs_are_not_guessed() -> None:
    a = only("use a::*;\nuse b::*;\n#[global_allocator]\nstatic A: X = X;\n")
    assert a.resolved == "X"


def test_pub_static_and_other_attributes() -> None:
    a = only(
        """
        /// The allocator.
        #[doc(hidden)]
        #[global_allocator]
        #[allow(non_upper_case_globals)]
        pub static global: mimalloc::MiMalloc = mimalloc::MiMalloc;
        """
    )
    assert a.static_name == "global"
    assert (a.line, a.attr_line, a.end_line) == (2, 3, 5)


def test_multiline_static() -> None:
    a = only(
        """
        #[global_allocator]
        static GLOBAL:
            tikv_jemallocator::Jemalloc =
            tikv_jemallocator::Jemalloc;
        fn main() {}
        """
    )
    assert (a.line, a.end_line) == (1, 4)
    assert a.type_text == "tikv_jemallocator::Jemalloc"


def test_needle_in_comments_and_strings_is_ignored() -> None:
    result = scan(
        """
        // #[global_allocator]
        // static A: mimalloc::MiMalloc = mimalloc::MiMalloc;
        /* #[global_allocator] static B: X = X; */
        fn main() {
            let s = "#[global_allocator] static C: X = X;";
            let r = r#"#[global_allocator] static D: X = X;"#;
        }
        #[cfg(doc = "global_allocator")]
        static E: u8 = 0;
        """
    )
    assert result == RustSource([], None)


@pytest.mark.parametrize(
    "src",
    [
        "// add a #[global_allocator] here\nfn main() {}\n",
        "    /// #[global_allocator]\n#[global_allocator]\nstatic A: X = X;\n",
        "/* x\n// #[global_allocator]\n*/ #[global_allocator] static A: X = X;\n",
        'fn f() { let s = "a\n// #[global_allocator]\n"; }\n',
        "x(); // #[global_allocator]\n",
        "fn broken( {\n   // global_allocator\n",
        "/*\n// */ #[global_allocator]\nstatic GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\n",
        'const S: &str = "\n// ";\n// "; #[global_allocator] static A: X = X;\n',
    ],
)
def test_comment_line_shortcut_agrees_with_tree_sitter(src: str) -> None:
    """Needles only on `//` lines skip the parser; the answer must be the parser's."""
    data = src.encode()
    assert scan_rust_source(data).allocators == rust_mod._scan(data).allocators


def test_static_without_the_attribute_is_ignored() -> None:
    assert scan("#[allow(dead_code)]\nstatic global_allocator: u8 = 1;\n").allocators == []


def test_attribute_on_non_static_is_ignored() -> None:
    assert scan("#[global_allocator]\nfn main() {}\n").allocators == []


def test_multiple_allocators_are_all_reported() -> None:
    result = scan(
        """
        #[cfg(target_env = "musl")]
        #[global_allocator]
        static A: mimalloc::MiMalloc = mimalloc::MiMalloc;

        #[cfg(not(target_env = "musl"))]
        #[global_allocator]
        static B: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
        """
    )
    assert [a.static_name for a in result.allocators] == ["A", "B"]
    assert [str(a.cfg) for a in result.allocators] == [
        'target_env = "musl"',
        'not(target_env = "musl")',
    ]


def test_inside_function_body() -> None:
    a = only("fn main() {\n    #[global_allocator]\n    static A: X = X;\n}\n")
    assert (a.line, a.column) == (2, 5)


# -- cfg gating ------------------------------------------------------------------------


def test_cfg_on_item() -> None:
    a = only(
        """
        #[cfg(all(unix, not(target_env = "musl")))]
        #[global_allocator]
        static A: mimalloc::MiMalloc = mimalloc::MiMalloc;
        """
    )
    assert a.cfg == parse_cfg('all(unix, not(target_env = "musl"))')
    assert (a.line, a.attr_line) == (1, 2)


def test_several_cfgs_are_conjoined() -> None:
    a = only(
        """
        #[cfg(unix)]
        #[global_allocator]
        #[cfg(not(target_env = "msvc"))]
        static A: X = X;
        """
    )
    assert str(a.cfg) == 'all(unix, not(target_env = "msvc"))'


def test_cfg_attr_global_allocator() -> None:
    a = only(
        """
        #[cfg_attr(not(target_env = "msvc"), global_allocator)]
        static A: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
        """
    )
    assert a.cfg == parse_cfg('not(target_env = "msvc")')
    assert a.attr_line == 1


def test_nested_cfg_attr_and_multiple_attrs() -> None:
    a = only(
        """
        #[cfg_attr(unix, cfg_attr(feature = "jemalloc", global_allocator, allow(unused)))]
        static A: X = X;
        """
    )
    assert str(a.cfg) == 'all(unix, feature = "jemalloc")'


def test_cfg_attr_with_inner_cfg() -> None:
    a = only(
        """
        #[cfg_attr(unix, cfg(feature = "a"))]
        #[global_allocator]
        static A: X = X;
        """
    )
    assert str(a.cfg) == 'any(not(unix), feature = "a")'


def test_cfg_attr_without_global_allocator_is_not_an_allocator() -> None:
    assert scan("#[cfg_attr(unix, allow(x))]\nstatic A: X = X; // global_allocator\n") == (
        RustSource([], None)
    )


def test_inline_module_cfgs() -> None:
    a = only(
        """
        use mimalloc::MiMalloc;

        #[cfg(target_os = "linux")]
        mod alloc {
            #[cfg(target_env = "musl")]
            mod inner {
                use super::*;
                #[global_allocator]
                static GLOBAL: MiMalloc = MiMalloc;
            }
        }
        """
    )
    assert str(a.cfg) == 'all(target_os = "linux", target_env = "musl")'
    assert a.resolved == "mimalloc::MiMalloc"
    assert (a.line, a.column) == (8, 9)


def test_module_uses_shadow_outer_ones() -> None:
    a = only(
        """
        use tikv_jemallocator::Jemalloc as A;
        mod m {
            use mimalloc::MiMalloc as A;
            #[global_allocator]
            static G: A = A;
        }
        """
    )
    assert a.resolved == "mimalloc::MiMalloc"


def test_inner_cfg_attributes_gate_too() -> None:
    a = only(
        """
        #![cfg(unix)]
        mod m {
            #![cfg(feature = "mimalloc")]
            #[global_allocator]
            static G: mimalloc::MiMalloc = mimalloc::MiMalloc;
        }
        """
    )
    assert str(a.cfg) == 'all(unix, feature = "mimalloc")'


def test_cfg_on_enclosing_function() -> None:
    a = only("#[cfg(unix)]\nfn f() {\n    #[global_allocator]\n    static A: X = X;\n}\n")
    assert str(a.cfg) == "unix"


def test_invalid_cfg_is_reported_not_raised() -> None:
    result = scan("#[cfg(all(unix)]\n#[global_allocator]\nstatic A: X = X;\n")
    # The item is still found; the broken cfg (or syntax) is surfaced.
    assert result.parse_error is not None

    result = scan("#[cfg(frob(unix))]\n#[global_allocator]\nstatic A: X = X;\n")
    assert [a.static_name for a in result.allocators] == ["A"]
    assert result.parse_error is not None
    assert result.parse_error[0] == 1
    assert "cfg" in result.parse_error[1]


# -- suppressions -----------------------------------------------------------------------


def test_suppression_comment_above() -> None:
    a = only(
        """
        fn x() {}
        // allocpolicy: ignore[AP009]
        #[global_allocator]
        static A: X = X;
        """
    )
    assert a.suppressed == frozenset({"AP009"})
    assert a.suppression_lines == (2,)


def test_suppression_block_of_comments_above_and_trailing() -> None:
    a = only(
        """
        // allocpolicy: ignore[AP001, AP002 ]
        // Why: the sidecar uses the system allocator.
        /* allocpolicy: ignore[AP003] */
        #[global_allocator] // allocpolicy: ignore[AP004]
        static A: X = X; // allocpolicy: ignore[AP005]
        """
    )
    assert a.suppressed == frozenset({"AP001", "AP002", "AP003", "AP004", "AP005"})
    assert a.suppression_lines == (1, 3, 4, 5)


def test_suppression_not_attached_across_blank_line_or_code() -> None:
    result = scan(
        """
        // allocpolicy: ignore[AP001]

        #[global_allocator]
        static A: X = X;
        use foo; // allocpolicy: ignore[AP002]
        #[global_allocator]
        static B: X = X;
        // allocpolicy: ignore-file[AP003]
        #[global_allocator]
        static C: X = X;
        """
    )
    assert [a.suppressed for a in result.allocators] == [frozenset()] * 3


def test_file_suppressions() -> None:
    src = textwrap.dedent(
        """\
        // allocpolicy: ignore-file[AP001,AP002]
        fn main() {
            let s = "allocpolicy: ignore[NOPE]";
        }
        /* multi
           allocpolicy: ignore[AP003] */
        static X: u8 = 0; // allocpolicy:ignore[AP004]
        """
    ).encode()
    assert file_suppressions(src) == [
        (1, "ignore-file", frozenset({"AP001", "AP002"})),
        (6, "ignore", frozenset({"AP003"})),
        (7, "ignore", frozenset({"AP004"})),
    ]
    assert file_suppressions(b"fn main() {}") == []


# -- encodings and broken input ----------------------------------------------------------


SIMPLE = (
    "use mimalloc::MiMalloc;\n"
    "// allocpolicy: ignore[AP1]\n"
    "#[global_allocator]\n"
    "static A: MiMalloc = MiMalloc;\n"
)


def test_crlf_line_numbers() -> None:
    result = scan_rust_source(SIMPLE.replace("\n", "\r\n").encode())
    [a] = result.allocators
    assert (a.line, a.attr_line, a.end_line) == (3, 3, 4)
    assert a.suppressed == frozenset({"AP1"}) and a.suppression_lines == (2,)
    assert a.resolved == "mimalloc::MiMalloc"
    assert result.parse_error is None


def test_bom_keeps_lines_and_columns() -> None:
    data = b"\xef\xbb\xbf#[global_allocator] static A: X = X; // allocpolicy: ignore[AP1]\n"
    [a] = scan_rust_source(data).allocators
    assert (a.line, a.column, a.suppression_lines) == (1, 1, (1,))
    assert file_suppressions(data) == [(1, "ignore", frozenset({"AP1"}))]
    assert insertion_line(b"\xef\xbb\xbfuse a;\nfn main() {}\n") == 2


def test_non_utf8_bytes() -> None:
    data = b'// caf\xe9\nconst S: &str = "\xff\xfe";\n#[global_allocator]\nstatic \xe9A: X = X;\n'
    result = scan_rust_source(data)
    assert [a.line for a in result.allocators] == [3]


def test_columns_count_characters() -> None:
    a = only("const É: u8 = 0; #[global_allocator] static A: X = X;\n")
    assert a.column == 18


def test_missing_semicolon_reports_parse_error() -> None:
    result = scan("#[global_allocator]\nstatic A: MiMalloc = MiMalloc\nfn main() {}\n")
    assert [a.static_name for a in result.allocators] == ["A"]
    assert result.parse_error is not None and result.parse_error[0] == 2


@pytest.mark.parametrize(
    "src",
    [
        "fn x() {}\n#[global_allocator\nstatic A: MiMalloc = MiMalloc;\n",
        "fn x() {}\n#[global_allocator]\nstatic A: = MiMalloc;\n",
        "fn x() {}\n#[global_allocator]\nstatic A: MiMalloc = MiMalloc::new(;\n",
    ],
)
def test_error_node_around_allocator(src: str) -> None:
    result = scan(src)
    assert result.parse_error is not None
    assert result.parse_error[0] in (2, 3)


def test_intact_allocator_after_broken_code_is_still_found() -> None:
    result = scan("fn x( {\n#[global_allocator]\nstatic A: MiMalloc = MiMalloc;\n")
    assert [(a.static_name, a.line) for a in result.allocators] == [("A", 2)]


def test_unrelated_syntax_error_is_not_reported() -> None:
    result = scan("#[global_allocator]\nstatic A: X = X;\n\nfn broken( {\n// global_allocator\n")
    assert [a.static_name for a in result.allocators] == ["A"]
    assert result.parse_error is None


@pytest.mark.parametrize(
    "data",
    [
        b"#[global_allocator]",
        b"#[global_allocator",
        b"#[cfg_attr(global_allocator)] static A: X = X;",
        b"#[cfg_attr()] #[global_allocator] static A = ;",
        b"static global_allocator",
        b"\x00\xff#[global_allocator]\xfe static",
        b"mod m { #[global_allocator] static A: X = X;",
        b"use {global_allocator as x};",
        b"{" * 3000 + b"#[global_allocator] static A: X = X;",
        b"",
    ],
)
def test_broken_code_never_raises(data: bytes) -> None:
    result = scan_rust_source(data)
    assert isinstance(result, RustSource)
    insertion_line(data)
    file_suppressions(data + b"// allocpolicy: ignore[X]")


@given(
    st.lists(
        st.sampled_from(
            [
                "#[global_allocator]",
                "static",
                "A",
                ":",
                "=",
                ";",
                "mod m",
                "{",
                "}",
                "use",
                "mimalloc::MiMalloc",
                "#[cfg(",
                "unix",
                ")]",
                "cfg_attr(",
                ",",
                "\n",
                "\r\n",
                "// allocpolicy: ignore[X]",
                "/*",
                "*/",
                '"',
                "#![cfg(x)]",
                "\xe9",
                "as",
                'r#"',
            ]
        ),
        max_size=40,
    )
)
@settings(max_examples=200, deadline=None)
def test_fuzz_never_raises(parts: list[str]) -> None:
    data = " ".join(parts).encode("utf-8")
    result = scan_rust_source(data)
    for a in result.allocators:
        assert 1 <= a.line <= a.attr_line <= a.end_line
    assert insertion_line(data) >= 1


# -- insertion line ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "line"),
    [
        ("", 1),
        ("fn main() {}\n", 1),
        ("use a;\nfn main() {}\n", 2),
        (
            "//! Crate docs.\n//! More.\n#![deny(warnings)]\n\nuse a::b;\n// between\n"
            "use c::{\n    d,\n    e,\n};\nextern crate f;\nmod g;\n#[cfg(test)]\nmod tests;\n\n"
            "fn main() {}\n",
            15,
        ),
        ("use a;\n\n// About main.\nfn main() {}\n", 2),
        ("use a;\n#[derive(Debug)]\nstruct S;\n", 2),
        ("use a;\nmod inline { }\nuse b;\n", 2),
        ("// Copyright ACME\n// SPDX: MIT\n\nfn main() {}\n", 3),
        ("// About main.\nfn main() {}\n", 1),
        ("#[macro_use]\nextern crate log;\nfn main() {}\n", 3),
        ("use a;", 2),
        ("use a;\r\nuse b;\r\n\r\nfn main() {}\r\n", 3),
        ("/*! inner block doc */\nfn main() {}\n", 2),
    ],
)
def test_insertion_line(src: str, line: int) -> None:
    assert insertion_line(src.encode()) == line


# -- cfg_if! ------------------------------------------------------------------------------


def test_cfg_if_branches() -> None:
    result = scan(
        """
        use tikv_jemallocator::Jemalloc;
        cfg_if::cfg_if! {
            if #[cfg(target_env = "musl")] {
                use mimalloc::MiMalloc;
                // allocpolicy: ignore[AP009]
                #[global_allocator]
                static GLOBAL: MiMalloc = MiMalloc;
            } else if #[cfg(windows)] {
                fn nothing() {}
            } else {
                #[global_allocator]
                static GLOBAL: Jemalloc = Jemalloc;
            }
        }
        """
    )
    first, second = result.allocators
    assert (first.resolved, str(first.cfg), first.line, first.column) == (
        "mimalloc::MiMalloc",
        'target_env = "musl"',
        6,
        9,
    )
    assert first.suppressed == frozenset({"AP009"}) and first.suppression_lines == (5,)
    assert second.resolved == "tikv_jemallocator::Jemalloc"
    assert str(second.cfg) == 'all(not(target_env = "musl"), not(windows))'
    assert second.line == 11
    assert result.parse_error is None


def test_cfg_if_inside_cfg_module_and_function() -> None:
    a = only(
        """
        #[cfg(unix)]
        mod m {
            fn f() {
                cfg_if! {
                    if #[cfg(feature = "jem")] {
                        #[global_allocator]
                        static G: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
                    }
                }
            }
        }
        """
    )
    assert str(a.cfg) == 'all(unix, feature = "jem")'
    assert (a.line, a.column) == (6, 17)


def test_other_macros_are_not_expanded() -> None:
    assert scan("my_macro! { #[global_allocator] static A: X = X; }\n").allocators == []


# -- the prefix shortcut: parsing up to the last static gives the whole file's answer ----

_HEADER = st.sampled_from(
    [
        "use mimalloc::MiMalloc;",
        "use mimalloc::MiMalloc as Fast;",
        "use mimalloc as mi;",
        "use std::collections::{HashMap, HashSet};",
        "use mimalloc::{MiMalloc as M, self};",
        "extern crate mimalloc as mi;",
        "extern crate tikv_jemallocator;",
        "mod alloc;",
        "pub mod mi;",
        "use tikv_jemallocator::Jemalloc;",
        "use crate::alloc::A;",
        "use super::*;",
        "// a comment",
        "//! crate docs",
        "",
        "use std::{\n    io,\n    fmt,\n};",
        "/* block */",
        "#![cfg(unix)]",
        "use ::mimalloc::MiMalloc;",
        "pub(crate) use mimalloc::MiMalloc;",
        "struct Local;",
    ]
)
_ATTRS = st.lists(
    st.sampled_from(
        [
            "#[global_allocator]",
            '#[cfg(target_env = "musl")]',
            '#[cfg(all(unix, not(feature = "sys")))]',
            "#[allow(dead_code)]",
            "// allocpolicy: ignore[AP009]",
            "#[cfg(",
            "  #[global_allocator]",
            "// add a #[global_allocator] here",
            "    //#[global_allocator]",
        ]
    ),
    min_size=1,
    max_size=3,
)
_TYPES = st.sampled_from(
    [
        "mimalloc::MiMalloc",
        "MiMalloc",
        "Fast",
        "mi::MiMalloc",
        "M",
        "Jemalloc",
        "tikv_jemallocator::Jemalloc",
        "::mimalloc::MiMalloc",
        "alloc::A",
        "A",
        "Local",
        "std::alloc::System",
        "self::Local",
    ]
)


def _source(header: list[str], attrs: list[str], typ: str, vis: str, tail: str) -> bytes:
    static = f"{vis}static GLOBAL: {typ} = {typ};"
    return ("\n".join(header + attrs + [static]) + "\n" + tail).encode()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_HEADER, max_size=5),
    _ATTRS,
    _TYPES,
    st.sampled_from(["", "pub "]),
    st.sampled_from(["", "fn main() {}\n", 'fn main() { let s = "#[global_allocator]"; }\n']),
)
def test_prefix_shortcut_agrees_with_a_whole_file_parse(header, attrs, typ, vis, tail):
    data = _source(header, attrs, typ, vis, tail)
    assert scan_rust_source(data).allocators == rust_mod._scan(data).allocators


def test_canonical_shapes_read_from_the_prefix_equal_the_whole_file():
    for data in [
        b"#[global_allocator]\nstatic GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\n",
        b'use mimalloc::MiMalloc;\n\n#[cfg(target_env = "musl")]\n#[global_allocator]\nstatic A: MiMalloc = MiMalloc;\n',
        b"extern crate mimalloc as mi;\n#[global_allocator]\nstatic A: mi::MiMalloc = mi::MiMalloc;\n",
    ]:
        whole = data + b"fn main() {}\n" * 100
        assert rust_mod._prefix(whole) == data
        assert scan_rust_source(whole) == rust_mod._scan(whole)
        assert len(scan_rust_source(whole).allocators) == 1


CACHED_SOURCES = [
    b"use mimalloc::MiMalloc;\n#[global_allocator]\nstatic GLOBAL: MiMalloc = MiMalloc;\nfn main() {}\n",
    b'#[cfg(all(target_env = "musl", not(feature = "sys")))]\n#[global_allocator]\n'
    b"static A: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;\n",
    b"// allocpolicy: ignore[AP009]\n#[global_allocator]\nstatic A: std::alloc::System = std::alloc::System;\n",
    b"#[global_allocator]\nstatic GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc\nfn main( {\n",
    b"struct W { a: tikv_jemallocator::Jemalloc }\n#[global_allocator]\nstatic A: W = W::new();\n"
    b"#[macro_export]\nmacro_rules! m { () => { #[cfg(unix)] #[global_allocator]\n"
    b"static B: mimalloc::MiMalloc = mimalloc::MiMalloc; }; }\n",
]


@pytest.mark.parametrize("source", CACHED_SOURCES)
def test_a_cached_scan_reads_back_what_the_scan_found(
    source: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from allocpolicy.parsing import rust

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = rust.scan_rust_source_cached(source)
    assert first == rust.scan_rust_source(source)

    def no_parse(data: bytes) -> rust.RustSource:
        raise AssertionError("parsed again although the file did not change")

    monkeypatch.setattr(rust, "scan_rust_source", no_parse)
    assert rust.scan_rust_source_cached(source) == first


def test_a_damaged_or_foreign_cache_entry_means_a_fresh_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from allocpolicy.parsing import rust

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    source = CACHED_SOURCES[1]
    expected = rust.scan_rust_source(source)
    assert not (tmp_path / "allocpolicy" / "rust").exists()  # the plain scan keeps nothing
    rust.scan_rust_source_cached(source)
    [entry] = (tmp_path / "allocpolicy" / "rust").glob("*.marshal")
    for junk in (b"", b"\x00garbage", __import__("marshal").dumps((99, (), None))):
        entry.write_bytes(junk)
        assert rust.scan_rust_source_cached(source) == expected
    # an edited file is a different entry: never the old file's answer
    edited = source.replace(b"musl", b"gnu")
    assert rust.scan_rust_source_cached(edited) == rust.scan_rust_source(edited) != expected


# -- what a static wraps, local modules, macros, module items ----------------------


@pytest.mark.parametrize(
    ("src", "wrapped"),
    [
        # a generic argument, through a `use`
        (
            "use tikv_jemallocator::Jemalloc;\nmod track;\n#[global_allocator]\n"
            "static A: track::Counting<Jemalloc> = track::Counting::new(Jemalloc);\n",
            ("tikv_jemallocator::Jemalloc",),
        ),
        # the field of a local struct, a tuple struct's too; nested one level
        (
            "struct Outer { i: Inner }\nstruct Inner(mimalloc::MiMalloc);\n"
            "#[global_allocator]\nstatic A: Outer = Outer::new();\n",
            ("mimalloc::MiMalloc",),
        ),
        # the initializer, when the type names only a local wrapper
        (
            "#[global_allocator]\nstatic A: self::x::Alloc = self::x::wrap(std::alloc::System);\n",
            ("std::alloc::System",),
        ),
        # the plain case names nothing else
        ("#[global_allocator]\nstatic A: mimalloc::MiMalloc = mimalloc::MiMalloc;\n", ()),
    ],
)
def test_paths_the_static_wraps(src: str, wrapped: tuple[str, ...]) -> None:
    assert only(src).wrapped == wrapped


def test_a_path_through_a_local_module_is_this_crates() -> None:
    a = only("mod track;\n#[global_allocator]\nstatic A: track::Counting = track::Counting;\n")
    assert (a.crate, a.resolved) == ("self", "self::track::Counting")
    nested = only(
        "mod track;\nmod inner {\n    #[global_allocator]\n"
        "    static A: track::Counting = track::Counting;\n}\n"
    )
    assert nested.resolved == "super::track::Counting"


def test_a_macro_body_static_belongs_to_the_macro_not_the_file() -> None:
    result = scan(
        """
        #[macro_export]
        macro_rules! with_alloc {
            () => {
                #[cfg(unix)]
                #[global_allocator]
                static GLOBAL: $crate::Heap = $crate::Heap;
            };
            ($t:ty) => {
                #[global_allocator]
                static GLOBAL: $t = <$t>::new();
            };
        }
        """
    )
    assert result.allocators == [] and result.parse_error is None
    [m] = result.macros
    assert (m.name, m.exported) == ("with_alloc", True)
    assert [(a.crate, str(a.cfg)) for a in m.allocators] == [("$crate", "unix"), ("$t", "None")]


def test_module_items_of_a_file() -> None:
    items = scan_module_items(
        textwrap.dedent(
            """
            #![cfg(unix)]
            use base::install;
            #[cfg(feature = "jem")]
            pub mod heap;
            mod rt {
                #[path = "../sys/imp.rs"]
                mod imp;
            }
            #[cfg(test)]
            install!();
            fn main() { mod hidden; ignored!(); }
            macro_rules! boot {
                () => {
                    #[cfg(feature = "x")]
                    $crate::setup!();
                    fn main() { inner!(); }
                };
            }
            """
        )
        .lstrip("\n")
        .encode()
    )
    assert items.mods == [
        ModDecl("heap", (), None, parse_cfg('all(unix, feature = "jem")'), 4),
        ModDecl("imp", ("rt",), "../sys/imp.rs", parse_cfg("unix"), 7),
    ]
    [call] = items.calls
    assert (call.path, call.resolved, str(call.cfg)) == (
        "install",
        "base::install",
        "all(unix, test)",
    )
    [boot] = items.macros
    assert [(c.path, str(c.cfg)) for c in boot.calls] == [("$crate::setup", 'feature = "x"')]


def test_module_items_never_raise_on_broken_code() -> None:
    for junk in (b"", b"mod", b"mod x", b"#[path = ]\nmod y;", b"macro_rules! { (", b"\xff\xfe"):
        scan_module_items(junk)


def test_cached_module_items_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from allocpolicy.parsing import rust

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    source = b'#[cfg(feature = "a")]\nmod x;\nbase::go!();\nmacro_rules! m { () => { y!(); } }\n'
    first = rust.scan_module_items_cached(source)
    assert first == rust.scan_module_items(source) and first.mods and first.calls

    def no_parse(data: bytes) -> rust.ModuleItems:
        raise AssertionError("parsed again although the file did not change")

    monkeypatch.setattr(rust, "scan_module_items", no_parse)
    assert rust.scan_module_items_cached(source) == first
