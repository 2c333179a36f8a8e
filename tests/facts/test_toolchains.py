"""Toolchains a RUN installs decide a plain `cargo build`'s target: Wolfi, openSUSE, rustup."""

from __future__ import annotations

from helpers import cargo

from allocpolicy.facts.images import classify_image
from allocpolicy.facts.toolchains import toolchain_of

MAIN = "fn main() {}\n"
CRATE = {"Cargo.toml": cargo("relay"), "src/main.rs": MAIN}


def _found(result):
    return [(f.rule, f.location.path, f.location.line) for f in result.findings]


def _row(result, binary="relay"):
    [row] = [r for r in result.inventory if r["binary"] == binary]
    return row


def test_rust_from_wolfi_apk_is_a_glibc_toolchain(scan_tree):
    files = {
        **CRATE,
        "Dockerfile": (
            "FROM cgr.dev/chainguard/wolfi-base AS build\n"
            "RUN apk add --no-cache rust cargo build-base\n"
            "WORKDIR /src\nCOPY . .\nRUN cargo build --release\n"
            "FROM cgr.dev/chainguard/wolfi-base\n"
            "COPY --from=build /src/target/release/relay /usr/bin/relay\n"
            'ENTRYPOINT ["relay"]\n'
        ),
    }
    result = scan_tree(files)
    # glibc on the system allocator is AP003, anchored at the stage whose RUN brought rust in
    assert _found(result) == [("AP003", "Dockerfile", 1)]
    assert _row(result)["target"] == "x86_64-unknown-linux-gnu"


def test_versioned_wolfi_package_on_the_docker_hub_mirror(scan_tree):
    files = {
        **CRATE,
        "Dockerfile": (
            "FROM chainguard/wolfi-base:latest AS build\n"
            "RUN apk add rust~1.80 openssl-dev\n"
            "WORKDIR /src\nCOPY . .\nRUN cargo build --release\n"
            "FROM chainguard/glibc-dynamic\nCOPY --from=build /src/target/release/relay /relay\n"
        ),
    }
    assert _row(scan_tree(files))["binary_libc"] == "glibc"


def test_zypper_cargo_on_opensuse_anchors_the_build_stage(scan_tree):
    files = {
        **CRATE,
        "Dockerfile": (
            "ARG BASE=opensuse/tumbleweed:latest\n"
            "FROM ${BASE} AS base\nRUN zypper --non-interactive refresh\n"
            "FROM base AS builder\n"
            "RUN zypper install -y --no-recommends cargo gcc\n"
            "COPY . /src\nWORKDIR /src\nRUN cargo build --release\n"
            "FROM base\nCOPY --from=builder /src/target/release/relay /usr/sbin/\n"
        ),
    }
    result = scan_tree(files)
    assert _found(result) == [("AP003", "Dockerfile", 4)]
    assert "zypper" in _row(result)["reasons"][0]


def test_rustup_on_ubuntu_has_a_gnu_host_and_default_host_overrides(scan_tree):
    rustup = "RUN curl --proto '=https' -sSf https://sh.rustup.rs | sh -s -- -y{flags}\n"
    body = (
        "FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y curl build-essential\n"
        "{rustup}ENV PATH=/root/.cargo/bin:$PATH\nCOPY . /src\n"
        "RUN cargo build --release --manifest-path /src/Cargo.toml\n"
        'CMD ["/src/target/release/relay"]\n'
    )
    files = {
        **CRATE,
        "Dockerfile": body.format(rustup=rustup.format(flags="")),
        "musl.Dockerfile": body.format(
            rustup=rustup.format(flags=" --default-host x86_64-unknown-linux-musl")
        ),
    }
    result = scan_tree(files)
    assert _found(result) == [("AP003", "Dockerfile", 1), ("AP001", "musl.Dockerfile", 1)]


def test_downloaded_rustup_init_for_the_stage_arch(scan_tree):
    files = {
        **CRATE,
        "Dockerfile": (
            "FROM --platform=linux/arm64 debian:bookworm-slim\n"
            "RUN curl -sSO https://static.rust-lang.org/rustup/dist/$(uname -m)-unknown-linux-gnu/"
            "rustup-init && chmod +x rustup-init && ./rustup-init -y && rm rustup-init\n"
            "COPY . /src\nWORKDIR /src\nRUN cargo build --release\n"
        ),
    }
    assert _row(scan_tree(files))["target"] == "aarch64-unknown-linux-gnu"


def test_toolchain_on_an_unknown_image_is_unknown_with_a_reason(scan_tree):
    files = {
        **CRATE,
        "Dockerfile": (
            "FROM mycorp/base:3 AS build\nRUN apk add rust cargo\n"
            "WORKDIR /src\nCOPY . .\nRUN cargo build --release\n"
            "FROM scratch\nCOPY --from=build /src/target/release/relay /relay\n"
        ),
        "rustup.Dockerfile": (
            "FROM mycorp/base:3\nRUN curl https://sh.rustup.rs -sSf | sh -s -- -y\n"
            "WORKDIR /src\nCOPY . .\nRUN cargo build --release\n"
        ),
    }
    result = scan_tree(files)
    # `apk add rust` used to be read as Alpine's musl toolchain whatever the image
    assert [f.rule for f in result.findings if f.rule != "AP901"] == []
    rows = {r["file"]: r for r in result.inventory}
    assert rows["Dockerfile"]["target"] is None
    assert "Alpine's package is musl, Wolfi's is gnu" in rows["Dockerfile"]["reasons"][0]
    assert "picks its host from the image's libc" in rows["rustup.Dockerfile"]["reasons"][0]


def test_alpine_apk_rust_follows_the_stage_platform():
    image = classify_image("alpine:3.20")
    tc = toolchain_of(["apk", "add", "cargo"], ["cargo"], image, "linux/arm64", 3)
    assert tc is not None and tc.host == "aarch64-alpine-linux-musl"
    # an image that brings its own toolchain keeps it: rustup's cargo is first on PATH
    rust = classify_image("rust:1-alpine")
    assert toolchain_of(["apk", "add", "cargo"], ["cargo"], rust, None, 3) is None
    # packages that merely mention rust are not a toolchain
    assert (
        toolchain_of(["apt-get", "install", "librust-foo-dev"], ["librust-foo-dev"], image, None, 1)
        is None
    )


def test_glibc_finding_sits_on_the_builder_image_not_the_final_from(scan_tree):
    dockerfile = (
        "FROM lukemathwalker/cargo-chef:latest-rust-1-slim-bookworm AS chef\nWORKDIR /app\n"
        "FROM chef AS builder\nCOPY . .\nRUN cargo build --release --bin relay\n"
        "FROM debian:bookworm-slim AS runtime\n"
        "COPY --from=builder /app/target/release/relay /usr/local/bin\n"
    )
    result = scan_tree({**CRATE, "Dockerfile": dockerfile})
    assert _found(result) == [("AP003", "Dockerfile", 1)]
    # an image-level suppression above the final FROM still applies
    suppressed = dockerfile.replace(
        "FROM debian", "# allocpolicy: ignore[AP003] low traffic\nFROM debian"
    )
    assert _found(scan_tree({**CRATE, "Dockerfile": suppressed})) == []
