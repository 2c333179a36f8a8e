"""What the crate proves when the Containerfile does not show the build.

A container runs Linux: a static gated only by `not(target_env = "msvc")` or `unix` is
linked into every binary an image can hold, whoever built it. A static behind a
feature, or one only some Linux targets get, stays unknown for a binary built
elsewhere, since nobody here can see its features or its target.
"""

from __future__ import annotations

import pytest
from helpers import cargo

JEMALLOC = 'tikv-jemallocator = { version = "0.6", optional = true }'
STATIC = "#[global_allocator]\nstatic GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;\n"
COPIED = 'FROM debian:bookworm-slim\nCOPY svc /usr/local/bin/svc\nCMD ["svc"]\n'


def _allocator(result):
    (row,) = [r for r in result.inventory if r["binary"]]
    return row["allocator"], row["reasons"]


@pytest.mark.parametrize(
    ("gate", "features", "expected"),
    [
        ('#[cfg(not(target_env = "msvc"))]\n', "", "jemalloc"),
        ("#[cfg(unix)]\n", "", "jemalloc"),
        ('#[cfg(target_os = "macos")]\n', "", "system"),
        # built elsewhere: its features are not visible, even a default one
        (
            '#[cfg(feature = "fast")]\n',
            'default = ["fast"]\nfast = ["dep:tikv-jemallocator"]',
            "unknown",
        ),
        # only 64-bit Linux targets get it; a 32-bit build would keep the system allocator
        ('#[cfg(target_pointer_width = "64")]\n', "", "unknown"),
    ],
)
def test_a_binary_built_elsewhere_keeps_what_every_linux_build_has(
    scan_tree, gate: str, features: str, expected: str
) -> None:
    dep = JEMALLOC.replace(", optional = true", "") if not features else JEMALLOC
    manifest = cargo("svc", dep, f"\n[features]\n{features}\n" if features else "")
    result = scan_tree(
        {
            "Cargo.toml": manifest,
            "src/main.rs": gate + STATIC + "fn main() {}\n",
            "Dockerfile": COPIED,
        }
    )
    allocator, reasons = _allocator(result)
    assert allocator == expected
    if expected == "jemalloc":
        assert any("every Linux target" in r for r in reasons)


WORKSPACE = {
    "Cargo.toml": '[workspace]\nmembers = ["app", "alloc"]\n',
    "alloc/Cargo.toml": cargo(
        "alloc", JEMALLOC, '\n[features]\njemalloc = ["dep:tikv-jemallocator"]\n'
    ),
    "alloc/src/lib.rs": '#[cfg(feature = "jemalloc")]\n' + STATIC,
    "app/src/main.rs": "fn main() {}\n",
}
BUILT = (
    "FROM rust:1-bookworm AS build\nWORKDIR /src\nCOPY . .\n"
    "RUN cargo build --release -p app {flags}\n"
    "FROM debian:bookworm-slim\nCOPY --from=build /src/target/release/app /usr/local/bin/\n"
    'CMD ["app"]\n'
)


def test_a_target_table_adds_features_to_the_same_dependency(scan_tree) -> None:
    app = cargo(
        "app",
        'alloc = { path = "../alloc" }',
        "\n[target.'cfg(not(windows))'.dependencies]\n"
        'alloc = { path = "../alloc", features = ["jemalloc"] }\n',
    )
    result = scan_tree({**WORKSPACE, "app/Cargo.toml": app, "Dockerfile": BUILT.format(flags="")})
    assert _allocator(result)[0] == "jemalloc"
    assert not [f for f in result.findings if f.rule == "AP003"]


def test_a_feature_forwarded_to_a_dependency_turns_its_static_on(scan_tree) -> None:
    app = cargo("app", 'alloc = { path = "../alloc" }', '\n[features]\nfast = ["alloc/jemalloc"]\n')
    files = {**WORKSPACE, "app/Cargo.toml": app}
    on = scan_tree({**files, "Dockerfile": BUILT.format(flags="--features fast")})
    assert _allocator(on)[0] == "jemalloc"
    off = scan_tree({**files, "Dockerfile": BUILT.format(flags="")})
    assert _allocator(off)[0] == "system"


def test_a_shell_form_entrypoint_that_execs_the_binary_runs_it(scan_tree) -> None:
    files = {
        "Cargo.toml": cargo("svc"),
        "src/main.rs": "fn main() {}\n",
        "Dockerfile": "FROM alpine:3.20\nCOPY --from=ghcr.io/acme/svc-build:1 /out/ /opt/\n"
        "ENTRYPOINT exec svc --listen 0.0.0.0\n",
    }
    result = scan_tree(files)
    (row,) = [r for r in result.inventory if r["binary"]]
    assert row["binary"] == "svc" and "ENTRYPOINT runs `svc`" in row["reasons"][0]
    assert [f.rule for f in result.findings if f.rule == "AP001"] == ["AP001"]  # musl, system


def test_a_directory_named_like_the_bin_that_becomes_the_workdir_is_not_the_binary(
    scan_tree,
) -> None:
    # a source tree from a named build context (no stage of this file), then built in
    files = {
        "Cargo.toml": cargo("svc"),
        "src/main.rs": "fn main() {}\n",
        "Dockerfile": "FROM debian:bookworm-slim\nCOPY --from=sources /usr/src/svc /usr/src/svc\n"
        "WORKDIR /usr/src/svc\n",
    }
    rows = [r for r in scan_tree(files).inventory if r["binary"]]
    assert rows == []


@pytest.mark.parametrize(
    ("dep", "path", "expected"),
    [
        # a CLI crate's alias that picks jemalloc, mimalloc or System by its own cfg
        ('acme-cli = "2"', "acme_cli::utils::Allocator", "unknown"),
        # a crate named like an allocator we do not know: some allocator, not the system's
        ('dlmalloc = "0.2"', "dlmalloc::GlobalDlmalloc", "other"),
    ],
)
def test_a_static_whose_type_comes_from_a_registry_crate(
    scan_tree, dep: str, path: str, expected: str
) -> None:
    files = {
        "Cargo.toml": cargo("svc", dep),
        "src/main.rs": f"#[global_allocator]\nstatic ALLOC: {path} = {path}::new();\nfn main() {{}}\n",
        "Dockerfile": "FROM rust:1-slim-bookworm AS b\nWORKDIR /w\nCOPY . .\nRUN cargo build --release\n"
        "FROM debian:bookworm-slim\nCOPY --from=b /w/target/release/svc /usr/local/bin/svc\n",
    }
    allocator, _ = _allocator(scan_tree(files))
    assert allocator == expected
