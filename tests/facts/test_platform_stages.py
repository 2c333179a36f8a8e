"""A build stage chosen by the platform, and a target handed on through a file.

`FROM tool-${TARGETARCH}` names one of several stages (`tool-amd64`, `tool-arm64`),
each a cross builder for its platform. Where they agree on what a build there
depends on (the builder's libc, the default target's libc and linkage), the build
facts stand on that agreement; where they differ, what differs is unknown, and
the reason names the stages. `echo "export T=$CARGO_BUILD_TARGET" >> /file` in
one RUN and `. /file` in a later one carry the target from the image's
environment to `cargo build --target "$T"`.
"""

from __future__ import annotations

from helpers import cargo

CRATE = {"Cargo.toml": cargo("relay"), "src/main.rs": "fn main() {}\n"}


def _dockerfile(amd64: str, arm64: str, runtime: str = "alpine:3.20") -> str:
    return (
        f"FROM {amd64} AS tool-amd64\nFROM {arm64} AS tool-arm64\n"
        "FROM --platform=$BUILDPLATFORM tool-${TARGETARCH} AS build\n"
        "WORKDIR /src\nCOPY . .\n"
        'RUN echo "export T=${CARGO_BUILD_TARGET}" >> /opt/target.env && mkdir -p /out\n'
        'RUN . /opt/target.env && cargo build --release --target "$T" && '
        "cp target/$T/release/relay /out/\n"
        f'FROM {runtime}\nCOPY --from=build /out/relay /usr/bin/\nCMD ["relay"]\n'
    )


def _row(result, path="Dockerfile"):
    return next(r for r in result.inventory if r["file"] == path and r["binary"])


def test_platform_stages_that_agree_decide_the_build(scan_tree):
    files = {
        **CRATE,
        "Dockerfile": _dockerfile(
            "messense/rust-musl-cross:x86_64-musl", "messense/rust-musl-cross:aarch64-musl"
        ),
    }
    result = scan_tree(files)
    row = _row(result)
    assert (row["target"], row["binary_libc"], row["linkage"], row["allocator"]) == (
        "x86_64-unknown-linux-musl",
        "musl",
        "static",
        "system",
    )
    assert "one of `tool-amd64`, `tool-arm64`, which agree" in row["reasons"][0]
    assert [f.rule for f in result.findings] == ["AP001"]


def test_platform_stages_that_differ_leave_the_target_unknown(scan_tree):
    files = {
        **CRATE,
        "Dockerfile": _dockerfile(
            "messense/rust-musl-cross:x86_64-musl",
            "messense/manylinux2014-cross:aarch64",
            runtime="debian:bookworm-slim",
        ),
    }
    result = scan_tree(files)
    row = _row(result)
    assert (row["target"], row["binary_libc"], row["linkage"]) == (None, "unknown", "unknown")
    assert "which the platform decides" in row["reasons"][0]
    assert "`tool-arm64` (glibc image, gnu dynamic target)" in row["reasons"][0]
    assert [f.rule for f in result.findings if f.severity == "error"] == []


def test_a_sourced_file_holds_only_what_was_written(scan_tree):
    # `>` replaces the file; a line that is no assignment is not read back
    files = {
        **CRATE,
        "Dockerfile": (
            "FROM rust:1.82-bookworm AS build\nWORKDIR /src\nCOPY . .\n"
            'RUN echo "export T=aarch64-unknown-linux-gnu" > /env && '
            'echo "export T=x86_64-unknown-linux-musl" > /env && echo "rm -rf /" >> /env\n'
            'RUN . /env && cargo build --release --target "$T"\n'
            "FROM scratch\nCOPY --from=build /src/target/x86_64-unknown-linux-musl/release/relay /\n"
            'ENTRYPOINT ["/relay"]\n'
        ),
        "computed/Dockerfile": (
            "FROM rust:1.82-alpine AS build\nWORKDIR /src\nCOPY . .\n"
            'RUN echo "export T=$(uname -m)-unknown-linux-musl" >> /env\n'
            'RUN . /env && cargo build --release --target "$T" && cp target/$T/release/relay /\n'
            'FROM debian:bookworm-slim\nCOPY --from=build /relay /\nCMD ["/relay"]\n'
        ),
    }
    result = scan_tree(files)
    row = _row(result)
    assert (row["target"], row["linkage"]) == ("x86_64-unknown-linux-musl", "static")
    computed = _row(result, "computed/Dockerfile")
    assert computed["target"] is None
    assert "computed when the RUN runs" in computed["reasons"][0]
