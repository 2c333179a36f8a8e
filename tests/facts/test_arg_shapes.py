"""ARGs that decide an image: pattern expansions feeding FROM, [build-args] in stage ARGs."""

from __future__ import annotations

from helpers import cargo

MAIN = "fn main() {}\n"
CRATE = {"Cargo.toml": cargo("svc"), "src/main.rs": MAIN}
RUNTIME = 'COPY --from=build /w/target/release/svc /usr/bin/svc\nCMD ["svc"]\n'


def _found(result):
    return [(f.rule, f.location.path, f.location.line) for f in result.findings]


def test_pattern_expansions_in_args_that_feed_from(scan_tree):
    files = {
        **CRATE,
        # ${VAR/pattern/replacement}: pin a known tag to a digest, leave others alone
        "pinned.Dockerfile": (
            "ARG DISTRO=bookworm\nARG FLAVOR=${DISTRO}-slim\nARG BASE=debian:${FLAVOR}\n"
            "ARG BASE=${BASE/debian:bookworm-slim/debian@sha256:0123abcd}\n"
            "FROM rust:1.82-${DISTRO} AS build\nWORKDIR /w\nCOPY . .\nRUN cargo build --release\n"
            "FROM $BASE\n" + RUNTIME
        ),
        # ${VAR%suffix} and ${VAR#prefix} turn an Alpine tag into the Debian one
        "trimmed.Dockerfile": (
            "ARG RUST=docker.io/library/rust:1.82-alpine\n"
            "FROM ${RUST%-alpine}-bookworm AS build\nWORKDIR /w\nCOPY . .\nRUN cargo build --release\n"
            "FROM debian:${RUST#*:1.82-}\n" + RUNTIME
        ),
    }
    result = scan_tree(files)
    assert _found(result) == [("AP003", "pinned.Dockerfile", 5), ("AP003", "trimmed.Dockerfile", 2)]
    rows = {r["file"]: r for r in result.inventory}
    assert rows["pinned.Dockerfile"]["base"] == "debian@sha256:0123abcd"
    assert rows["pinned.Dockerfile"]["libc"] == "glibc"
    # `debian:alpine` is not an Alpine image: the table does not guess from a word in a tag
    assert rows["trimmed.Dockerfile"]["base"] == "debian:alpine"


def test_config_build_args_reach_a_stage_local_arg(scan_tree, tmp_path):
    (tmp_path / "allocpolicy.toml").write_text(
        '[build-args]\nRUST_TARGET = "x86_64-unknown-linux-musl"\n'
    )
    files = {
        **CRATE,
        "Dockerfile": (
            "FROM rust:1.82-bookworm AS build\nARG RUST_TARGET=x86_64-unknown-linux-gnu\n"
            "WORKDIR /w\nCOPY . .\nRUN cargo build --release --target ${RUST_TARGET}\n"
            "FROM scratch\nCOPY --from=build /w/target/${RUST_TARGET}/release/svc /svc\n"
        ),
    }
    result = scan_tree(files)
    assert _found(result) == [("AP001", "Dockerfile", 5)]
    assert result.inventory[0]["target"] == "x86_64-unknown-linux-musl"
