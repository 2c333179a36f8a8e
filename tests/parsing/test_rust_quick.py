"""The tree-sitter-free fast path must agree with the tree-sitter scanner wherever it answers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from allocpolicy.parsing.rust import _scan, scan_rust_source
from allocpolicy.parsing.rust_quick import quick_scan

HEADER = st.sampled_from(
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
ATTRS = st.lists(
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
TYPES = st.sampled_from(
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
    st.lists(HEADER, max_size=5),
    ATTRS,
    TYPES,
    st.sampled_from(["", "pub "]),
    st.sampled_from(["", "fn main() {}\n", 'fn main() { let s = "#[global_allocator]"; }\n']),
)
def test_fast_path_agrees_with_tree_sitter(header, attrs, typ, vis, tail):
    data = _source(header, attrs, typ, vis, tail)
    fast = quick_scan(data)
    if fast is not None:
        assert fast == _scan(data)
    assert scan_rust_source(data).allocators == _scan(data).allocators  # every shortcut, end to end


def test_fast_path_takes_the_canonical_shapes():
    canonical = [
        b"#[global_allocator]\nstatic GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\n",
        b'use mimalloc::MiMalloc;\n\n#[cfg(target_env = "musl")]\n#[global_allocator]\nstatic A: MiMalloc = MiMalloc;\n',
        b"extern crate mimalloc as mi;\n#[global_allocator]\nstatic A: mi::MiMalloc = mi::MiMalloc;\n",
    ]
    for data in canonical:
        fast = quick_scan(data)
        assert fast is not None and fast == _scan(data)
        assert scan_rust_source(data + b"fn main() {}\n") == fast


def test_fast_path_declines_what_it_cannot_read():
    for data in [
        b"/* #[global_allocator] */\nstatic A: X = X;\n",
        b"#![cfg(unix)]\n#[global_allocator]\nstatic A: mimalloc::MiMalloc = mimalloc::MiMalloc;\n",
        b"fn f() {}\n#[global_allocator]\nstatic A: mimalloc::MiMalloc = mimalloc::MiMalloc;\n",
        b"// allocpolicy: ignore[AP009]\n#[global_allocator]\nstatic A: mimalloc::MiMalloc = mimalloc::MiMalloc;\n",
        b"use super::*;\n#[global_allocator]\nstatic A: MiMalloc = MiMalloc;\n",
    ]:
        assert quick_scan(data) is None
