"""Property tests: random but valid Cargo.toml layouts through `allocpolicy fix`.

Whatever the layout (comments, ordering, inline vs standard tables, spacing, CRLF,
BOM, final newline or not), the fixed file parses, only the intended keys changed
(compared as parsed documents), the file's own conventions survive, and a second
`fix` is a no-op.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

from fixkit import cli, snapshot, toml_of, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MUSL = 'cfg(target_env = "musl")'
DOCKERFILE = (
    "FROM rust:1.82-bookworm AS build\nWORKDIR /app\nCOPY . .\nRUN cargo build --release\n\n"
    'FROM debian:bookworm-slim\nCOPY --from=build /app/target/release/app /usr/local/bin/app\nCMD ["app"]\n'
)
SETTINGS = settings(
    max_examples=int(__import__("os").environ.get("FIX_EXAMPLES", 40)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

spaces = st.sampled_from(["", " ", "  "])
comments = st.sampled_from(["", " # note", "   # keep in sync"])
header_comments = st.sampled_from([[], ["# dependencies below"], ["# a", "#b"]])
others = st.lists(
    st.tuples(
        st.sampled_from(["serde", "tokio", "anyhow", "log", "zstd"]),
        st.sampled_from(
            ['"1"', "'1.0'", '{ version = "1", features = ["derive"] }', '{version="1"}']
        ),
    ),
    max_size=3,
    unique_by=lambda t: t[0],
)


@st.composite
def mimalloc_spec(draw: st.DrawFn) -> tuple[str, list[str]]:
    """(form, lines): `string`/`inline` give one `mimalloc = ...` line, `table` the table body."""
    form = draw(st.sampled_from(["string", "inline", "table"]))
    version = draw(st.sampled_from(['"0.1"', "'0.1.43'", '"=0.1.39"']))
    sp = draw(spaces)
    if form == "string":
        return form, [f"mimalloc{sp}={sp}{version}{draw(comments)}"]
    items = [f"version{sp}={sp}{version}"]
    items += draw(st.sampled_from([[], ['features = ["local_dynamic_tls"]'], ["optional = false"]]))
    items += draw(st.sampled_from([[], ["default_features = true"], ["default-features = true"]]))
    items = draw(st.permutations(items))
    if form == "table":
        return form, list(items)
    inner = draw(st.sampled_from([",", ", ", " , "])).join(items)
    return form, [f"mimalloc{sp}={sp}{{{draw(spaces)}{inner}{draw(spaces)}}}{draw(comments)}"]


@st.composite
def layouts(draw: st.DrawFn, with_mimalloc: bool = True) -> dict[str, Any]:
    placement = draw(st.sampled_from(["dependencies", "musl"])) if with_mimalloc else "dependencies"
    deps_header = (
        "[dependencies]" if placement == "dependencies" else f"[target.'{MUSL}'.dependencies]"
    )
    form, mi_lines = draw(mimalloc_spec()) if with_mimalloc else ("none", [])
    dep_lines = [f"{k}{draw(spaces)}={draw(spaces)}{v}{draw(comments)}" for k, v in draw(others)]
    if form in ("string", "inline"):
        dep_lines.insert(draw(st.integers(0, len(dep_lines))), mi_lines[0])
    sections = [draw(header_comments) + [deps_header] + dep_lines]
    if not with_mimalloc and not dep_lines and draw(st.booleans()):
        sections = []  # no [dependencies] table at all: the fix creates it
    if form == "table":
        sections.append(draw(header_comments) + [deps_header[:-1] + ".mimalloc]"] + mi_lines)
    if draw(st.booleans()):
        sections.append(["[dev-dependencies]", 'proptest = "1"'])
    if placement == "musl" and draw(st.booleans()):
        sections.append(["[dependencies]", 'libc = "0.2"'])
    sections = draw(st.permutations(sections))
    package = ["[package]", 'name = "app"', 'version = "0.1.0"', 'edition = "2021"']
    gap = draw(st.sampled_from(["\n", "\n\n", "\n\n\n"]))
    text = gap.join("\n".join(s) for s in [package, *sections])
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    final = draw(st.booleans())
    bom = draw(st.booleans())
    raw = ("\ufeff" if bom else "") + (text + ("\n" if final else "")).replace("\n", newline)
    table = ("dependencies",) if placement == "dependencies" else ("target", MUSL, "dependencies")
    return {
        "raw": raw,
        "table": table,
        "newline": newline,
        "final": final,
        "bom": bom,
        "placement": placement,
    }


def _repo(root: Path, layout: dict[str, Any], wired: bool) -> Path:
    cfg = '#[cfg(target_env = "musl")]\n' if layout["placement"] == "musl" else ""
    main = (
        cfg + "#[global_allocator]\nstatic GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\n\n"
        if wired
        else ""
    )
    return write(
        root,
        {
            "Cargo.toml": layout["raw"],
            "Dockerfile": DOCKERFILE,
            "src/main.rs": main + "fn main() {}\n",
        },
    )


def _dig(doc: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    for key in path:
        doc = doc[key]
    return doc


def _conventions_kept(layout: dict[str, Any], data: bytes) -> None:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff") == layout["bom"]
    assert text.endswith("\n") == layout["final"]
    if layout["newline"] == "\r\n":
        assert text.count("\n") == text.count("\r\n")
    else:
        assert "\r" not in text


def _fix_twice(root: Path, *args: str) -> tuple[bytes, bytes]:
    cli("fix", root, *args)
    once = snapshot(root)
    cli("fix", root, *args)
    assert snapshot(root) == once, "a second fix changed something"
    return once["Cargo.toml"], once["src/main.rs"]


@SETTINGS
@given(layouts())
def test_default_features_fix_changes_only_that_key(layout: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = _repo(Path(tmp), layout, wired=True)
        before = toml_of(layout["raw"].encode())
        cargo, _ = _fix_twice(root, "--rule", "AP004")
        after = toml_of(cargo)
        expected = copy.deepcopy(before)
        deps = _dig(expected, layout["table"])
        spec = deps["mimalloc"]
        spec = {"version": spec} if isinstance(spec, str) else spec
        spec.pop("default_features", None)
        spec["default-features"] = False
        deps["mimalloc"] = spec
        assert after == expected
        _conventions_kept(layout, cargo)


@SETTINGS
@given(layouts(with_mimalloc=False))
def test_adding_mimalloc_adds_exactly_the_dependency(layout: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = _repo(Path(tmp), layout, wired=False)
        before = toml_of(layout["raw"].encode())
        cargo, main = _fix_twice(root, "--rule", "AP003")
        after = toml_of(cargo)
        expected = copy.deepcopy(before)
        expected.setdefault("dependencies", {})["mimalloc"] = {
            "version": "0.1",
            "default-features": False,
        }
        assert after == expected
        assert "static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;" in main.decode()
        _conventions_kept(layout, cargo)
