from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from allocpolicy.facts.images import (
    IMAGE_TABLE,
    alpine_apk_rust_target,
    classify_image,
    normalize_ref,
)
from allocpolicy.facts.triples import links_statically

X86_GNU = "x86_64-unknown-linux-gnu"
X86_MUSL = "x86_64-unknown-linux-musl"

# ref -> (libc, distro, builder_target, target_is_forced, package_manager)
CASES: dict[str, tuple[str, str | None, str | None, bool, str | None]] = {
    # official rust, Debian
    "rust": ("glibc", "debian-trixie", X86_GNU, False, "apt"),
    "rust:1": ("glibc", "debian-trixie", X86_GNU, False, "apt"),
    "rust:latest": ("glibc", "debian-trixie", X86_GNU, False, "apt"),
    "rust:slim": ("glibc", "debian-trixie", X86_GNU, False, "apt"),
    "rust:1-slim": ("glibc", "debian-trixie", X86_GNU, False, "apt"),
    "rust:1.94": ("glibc", "debian-trixie", X86_GNU, False, "apt"),
    "rust:1.94.1-slim": ("glibc", "debian-trixie", X86_GNU, False, "apt"),
    "rust:1.75": ("glibc", None, X86_GNU, False, "apt"),  # release depends on build date
    "rust:1-bookworm": ("glibc", "debian-bookworm", X86_GNU, False, "apt"),
    "rust:1.80-slim-bookworm": ("glibc", "debian-bookworm", X86_GNU, False, "apt"),
    "rust:bullseye": ("glibc", "debian-bullseye", X86_GNU, False, "apt"),
    "rust:slim-trixie": ("glibc", "debian-trixie", X86_GNU, False, "apt"),
    "docker.io/library/rust:1-trixie": ("glibc", "debian-trixie", X86_GNU, False, "apt"),
    "rustlang/rust:nightly-bookworm": ("glibc", "debian-bookworm", X86_GNU, False, "apt"),
    # official rust, Alpine
    "rust:alpine": ("musl", "alpine", X86_MUSL, False, "apk"),
    "rust:1-alpine": ("musl", "alpine", X86_MUSL, False, "apk"),
    "rust:1.93.1-alpine3.23": ("musl", "alpine", X86_MUSL, False, "apk"),
    "rust:alpine3.22": ("musl", "alpine", X86_MUSL, False, "apk"),
    "index.docker.io/library/rust:1-alpine@sha256:0123abcd": (
        "musl",
        "alpine",
        X86_MUSL,
        False,
        "apk",
    ),
    "rustlang/rust:nightly-alpine": ("musl", "alpine", X86_MUSL, False, "apk"),
    "ghcr.io/tweag/rust-alpine-mimalloc:1.85": ("musl", "alpine", X86_MUSL, False, "apk"),
    # Alpine-based others
    "alpine": ("musl", "alpine", None, False, "apk"),
    "alpine:3.20": ("musl", "alpine", None, False, "apk"),
    "mirror.gcr.io/library/alpine:3.23": ("musl", "alpine", None, False, "apk"),
    "public.ecr.aws/docker/library/node:20-alpine3.19": ("musl", "alpine", None, False, "apk"),
    "python:alpine": ("musl", "alpine", None, False, "apk"),
    # Debian / Ubuntu
    "debian": ("glibc", "debian-trixie", None, False, "apt"),
    "debian:bookworm-slim": ("glibc", "debian-bookworm", None, False, "apt"),
    "debian:12": ("glibc", "debian-bookworm", None, False, "apt"),
    "debian:13-slim": ("glibc", "debian-trixie", None, False, "apt"),
    "debian:stable-slim": ("glibc", "debian-trixie", None, False, "apt"),
    "debian:bullseye-20240110": ("glibc", "debian-bullseye", None, False, "apt"),
    "debian:sid": ("glibc", "debian-sid", None, False, "apt"),
    "ubuntu:22.04": ("glibc", "ubuntu-jammy", None, False, "apt"),
    "ubuntu:noble": ("glibc", "ubuntu-noble", None, False, "apt"),
    "ubuntu:noble-20240429": ("glibc", "ubuntu-noble", None, False, "apt"),
    "ubuntu:latest": ("glibc", None, None, False, "apt"),
    "buildpack-deps:bookworm": ("glibc", "debian-bookworm", None, False, "apt"),
    "buildpack-deps:jammy-curl": ("glibc", "ubuntu-jammy", None, False, "apt"),
    # Red Hat family, Amazon
    "registry.access.redhat.com/ubi9/ubi": ("glibc", "rhel", None, False, "dnf"),
    "registry.access.redhat.com/ubi9": ("glibc", "rhel", None, False, "dnf"),
    "registry.access.redhat.com/ubi8/ubi-init:8.10": ("glibc", "rhel", None, False, "dnf"),
    "registry.access.redhat.com/ubi10/ubi-minimal": ("glibc", "rhel", None, False, "microdnf"),
    "redhat/ubi9-minimal:9.4": ("glibc", "rhel", None, False, "microdnf"),
    "registry.access.redhat.com/ubi9/ubi-micro": ("glibc", "rhel", None, False, None),
    "fedora:42": ("glibc", "fedora", None, False, "dnf"),
    "centos:7": ("glibc", "rhel", None, False, "yum"),
    "centos:centos7.9.2009": ("glibc", "rhel", None, False, "yum"),
    "quay.io/centos/centos:stream9": ("glibc", "rhel", None, False, "dnf"),
    "rockylinux:9": ("glibc", "rhel", None, False, "dnf"),
    "almalinux:9-minimal": ("glibc", "rhel", None, False, "dnf"),
    "oraclelinux:8-slim": ("glibc", "rhel", None, False, "dnf"),
    "quay.io/fedora/fedora:43": ("glibc", "fedora", None, False, "dnf"),
    "amazonlinux:2": ("glibc", "amazonlinux", None, False, "yum"),
    "amazonlinux:2023": ("glibc", "amazonlinux", None, False, "dnf"),
    "public.ecr.aws/amazonlinux/amazonlinux:latest": ("glibc", "amazonlinux", None, False, "dnf"),
    # distroless
    "gcr.io/distroless/static": ("static", None, None, False, None),
    "gcr.io/distroless/static-debian12:nonroot": ("static", "debian-bookworm", None, False, None),
    "gcr.io/distroless/static-debian13:debug": ("static", "debian-trixie", None, False, None),
    "gcr.io/distroless/base-debian12": ("glibc", "debian-bookworm", None, False, None),
    "gcr.io/distroless/base-nossl-debian13": ("glibc", "debian-trixie", None, False, None),
    "gcr.io/distroless/cc-debian12:latest": ("glibc", "debian-bookworm", None, False, None),
    "gcr.io/distroless/cc": ("glibc", None, None, False, None),
    "gcr.io/distroless/java17-debian12": ("glibc", "debian-bookworm", None, False, None),
    # static-only and busybox
    "scratch": ("static", None, None, False, None),
    "busybox": ("glibc", None, None, False, None),
    "busybox:1.37": ("glibc", None, None, False, None),
    "busybox:glibc": ("glibc", None, None, False, None),
    "busybox:1.36-musl": ("static", None, None, False, None),
    "busybox:uclibc": ("static", None, None, False, None),
    # Chainguard / Wolfi / DHI
    "cgr.dev/chainguard/static": ("static", None, None, False, None),
    "cgr.dev/chainguard/static:latest-glibc": ("static", None, None, False, None),
    "cgr.dev/chainguard/glibc-dynamic": ("glibc", "wolfi", None, False, None),
    "cgr.dev/chainguard/wolfi-base": ("glibc", "wolfi", None, False, "apk"),
    "cgr.dev/chainguard/rust": ("glibc", "wolfi", X86_GNU, False, None),
    "cgr.dev/chainguard/rust:latest-dev": ("glibc", "wolfi", X86_GNU, False, "apk"),
    "cgr.dev/chainguard/python:latest-dev": ("glibc", "wolfi", None, False, "apk"),
    "cgr.dev/myorg/nginx": ("glibc", "wolfi", None, False, None),
    "dhi.io/rust:1-alpine3.21": ("musl", "alpine", "x86_64-alpine-linux-musl", False, "apk"),
    "dhi.io/static:20250419-glibc": ("static", None, None, False, None),
    # Void
    "ghcr.io/void-linux/void-musl": ("musl", "void", None, False, "xbps"),
    "ghcr.io/void-linux/void-musl-busybox:latest": ("musl", "void", None, False, "xbps"),
    "voidlinux/voidlinux-musl": ("musl", "void", None, False, "xbps"),
    "ghcr.io/void-linux/void-glibc-full": ("glibc", "void", None, False, "xbps"),
    # musl builders with a forced target
    "clux/muslrust": ("glibc", "ubuntu-noble", X86_MUSL, True, "apt"),
    "docker.io/clux/muslrust:nightly-2025-01-01": ("glibc", "ubuntu-noble", X86_MUSL, True, "apt"),
    "messense/rust-musl-cross:x86_64-musl": ("glibc", "ubuntu-jammy", X86_MUSL, True, "apt"),
    "ghcr.io/rust-cross/rust-musl-cross:aarch64-musl": (
        "glibc",
        "ubuntu-jammy",
        "aarch64-unknown-linux-musl",
        True,
        "apt",
    ),
    "messense/rust-musl-cross:armv7-musleabihf": (
        "glibc",
        "ubuntu-jammy",
        "armv7-unknown-linux-musleabihf",
        True,
        "apt",
    ),
    "messense/rust-musl-cross:amd64-musl": ("glibc", "ubuntu-jammy", X86_MUSL, True, "apt"),
    "ghcr.io/rust-cross/rust-musl-cross:arm64-musl": (
        "glibc",
        "ubuntu-jammy",
        "aarch64-unknown-linux-musl",
        True,
        "apt",
    ),
    "messense/rust-musl-cross:riscv64gc-musl": (
        "glibc",
        "ubuntu-jammy",
        "riscv64gc-unknown-linux-musl",
        True,
        "apt",
    ),
    "ekidd/rust-musl-builder:1.57.0": ("glibc", "ubuntu-bionic", X86_MUSL, True, "apt"),
    "blackdex/rust-musl:x86_64-musl": ("glibc", "ubuntu-resolute", X86_MUSL, True, "apt"),
    "ghcr.io/blackdex/rust-musl:aarch64-musl-stable": (
        "glibc",
        "ubuntu-resolute",
        "aarch64-unknown-linux-musl",
        True,
        "apt",
    ),
    "quay.io/blackdex/rust-musl:armv7-musleabihf-nightly-2025-06-01": (
        "glibc",
        "ubuntu-resolute",
        "armv7-unknown-linux-musleabihf",
        True,
        "apt",
    ),
    # other cross builders
    "ghcr.io/rust-cross/cargo-zigbuild:0.20": ("glibc", None, X86_GNU, False, "apt"),
    "messense/cargo-zigbuild": ("glibc", None, X86_GNU, False, "apt"),
    "ghcr.io/rust-cross/manylinux2014-cross:aarch64": (
        "glibc",
        None,
        "aarch64-unknown-linux-gnu",
        True,
        None,
    ),
    "messense/manylinux_2_28-cross:x86_64": ("glibc", None, X86_GNU, True, None),
    "ghcr.io/cross-rs/aarch64-unknown-linux-musl:edge": (
        "glibc",
        None,
        "aarch64-unknown-linux-musl",
        False,
        None,
    ),
    "ghcr.io/cross-rs/x86_64-unknown-linux-gnu:0.2.5": ("glibc", None, X86_GNU, False, None),
    # cargo-chef classified like the embedded official rust image
    "lukemathwalker/cargo-chef:0.1.68-rust-1.80-alpine": ("musl", "alpine", X86_MUSL, False, "apk"),
    "lukemathwalker/cargo-chef:latest-rust-1-alpine": ("musl", "alpine", X86_MUSL, False, "apk"),
    "lukemathwalker/cargo-chef:latest-rust-alpine3.23": ("musl", "alpine", X86_MUSL, False, "apk"),
    "lukemathwalker/cargo-chef:latest-rust-1": ("glibc", "debian-trixie", X86_GNU, False, "apt"),
    "lukemathwalker/cargo-chef:0.1.71-rust-1-slim-bookworm": (
        "glibc",
        "debian-bookworm",
        X86_GNU,
        False,
        "apt",
    ),
    "lukemathwalker/cargo-chef:latest-rust-trixie": (
        "glibc",
        "debian-trixie",
        X86_GNU,
        False,
        "apt",
    ),
    "lukemathwalker/cargo-chef": ("glibc", "debian-trixie", X86_GNU, False, "apt"),
    # dev-container and CI rust images (Debian / Ubuntu, gnu hosts)
    "mcr.microsoft.com/devcontainers/rust:1-bookworm": (
        "glibc",
        "debian-bookworm",
        X86_GNU,
        False,
        "apt",
    ),
    "mcr.microsoft.com/devcontainers/rust:latest": ("glibc", None, X86_GNU, False, "apt"),
    "cimg/rust:1.81.0": ("glibc", None, X86_GNU, False, "apt"),
    "cimg/base:2024.01": ("glibc", None, None, False, "apt"),
    # Wolfi and Chainguard are glibc, whatever the package manager
    "chainguard/wolfi-base:latest": ("glibc", "wolfi", None, False, "apk"),
    "registry.example.com/mirror/wolfi-base:1": ("glibc", "wolfi", None, False, "apk"),
    "ghcr.io/wolfi-dev/sdk:latest": ("glibc", "wolfi", None, False, "apk"),
    "chainguard/rust:latest-dev": ("glibc", "wolfi", X86_GNU, False, "apk"),
    "cgr.dev/chainguard/rust:latest": ("glibc", "wolfi", X86_GNU, False, None),
    "chainguard/static": ("static", None, None, False, None),
    "cgr.dev/chainguard/cc-dynamic": ("glibc", "wolfi", None, False, None),
    # openSUSE / SLE
    "opensuse/tumbleweed": ("glibc", "suse", None, False, "zypper"),
    "opensuse/leap:15.6": ("glibc", "suse", None, False, "zypper"),
    "registry.opensuse.org/opensuse/tumbleweed:latest": ("glibc", "suse", None, False, "zypper"),
    "registry.suse.com/bci/bci-base:15.6": ("glibc", "suse", None, False, "zypper"),
    "registry.suse.com/bci/bci-micro:15.6": ("glibc", "suse", None, False, None),
    "registry.suse.com/bci/rust:1.80": ("glibc", "suse", X86_GNU, False, "zypper"),
    "opensuse:leap": ("glibc", "suse", None, False, "zypper"),
    # unknown: no guesses
    "mycorp/rust-builder:1": ("unknown", None, None, False, None),
    "localhost:5000/rust:1": ("unknown", None, None, False, None),
    "lukemathwalker/cargo-chef:0.1.68": ("unknown", None, None, False, None),
    "lukemathwalker/cargo-chef:latest-rust-mystery": ("unknown", None, None, False, None),
    "ghcr.io/someone/rust:1": ("unknown", None, None, False, None),
    "rust:${RUST_VERSION}": ("unknown", None, None, False, None),  # the tag is all variable
    "alpine:${ALPINE_VERSION}": ("unknown", None, None, False, None),
    "${REGISTRY}/rust:1-alpine": ("unknown", None, None, False, None),  # any image at all
    "ghcr.io/acme/builder:${TAG}-x": ("unknown", None, None, False, None),
    "$BASE_IMAGE": ("unknown", None, None, False, None),
    # a build argument in the version only: the variant word decides, whatever it is
    "rust:${RUST_VERSION}-alpine": ("musl", "alpine", "x86_64-unknown-linux-musl", False, "apk"),
    "rust:$RUST_VERSION-slim-bookworm": (
        "glibc",
        "debian-bookworm",
        X86_GNU,
        False,
        "apt",
    ),
    "node:${NODE}-alpine3.20": ("musl", "alpine", None, False, "apk"),
    "debian:${RELEASE}-slim": ("glibc", None, None, False, "apt"),
    # an <image>:<tag>-<Debian release> variant
    "python:3.12-slim-bookworm": ("glibc", "debian-bookworm", None, False, "apt"),
    "silkeh/clang:21-trixie": ("glibc", "debian-trixie", None, False, "apt"),
    "@sha256:0123abcd": ("unknown", None, None, False, None),
    "": ("unknown", None, None, False, None),
}


@pytest.mark.parametrize("ref", list(CASES))
def test_classify_image_table(ref):
    libc, distro, target, forced, pm = CASES[ref]
    info = classify_image(ref)
    assert (
        info.libc,
        info.distro,
        info.builder_target,
        info.target_is_forced,
        info.package_manager,
    ) == (libc, distro, target, forced, pm), info.reason
    assert info.ref == ref
    assert info.reason  # always explains itself


def test_every_table_row_is_reachable_and_documented():
    """No row is shadowed by an earlier one: each is the first match for some case."""
    compiled = [re.compile(row.pattern) for row in IMAGE_TABLE]
    hit: set[int] = set()
    for ref in CASES:
        normalized = normalize_ref(ref)
        if normalized is None or "$" in ref:
            continue
        for index, pattern in enumerate(compiled):
            if pattern.fullmatch(normalized):
                hit.add(index)
                break
    unreached = [IMAGE_TABLE[i].pattern for i in range(len(IMAGE_TABLE)) if i not in hit]
    assert unreached == []
    for row in IMAGE_TABLE:
        assert row.notes and row.source
        assert row.libc in {"glibc", "musl", "static", "unknown"}


def test_platform_hint_selects_arch():
    assert classify_image("rust:1-alpine", platform="linux/arm64").builder_target == (
        "aarch64-unknown-linux-musl"
    )
    assert classify_image("rust:1", platform="linux/arm/v7").builder_target == (
        "armv7-unknown-linux-gnueabihf"
    )
    assert classify_image("clux/muslrust:stable", platform="linux/arm64/v8").builder_target == (
        "aarch64-unknown-linux-musl"
    )
    # an unresolved platform ARG falls back to x86_64
    assert classify_image("rust:1", platform="$BUILDPLATFORM").builder_target == X86_GNU
    # a tag that names the target wins over the platform
    assert (
        classify_image(
            "messense/rust-musl-cross:x86_64-musl", platform="linux/arm64"
        ).builder_target
        == X86_MUSL
    )


def test_malloc_patched_images():
    info = classify_image("ghcr.io/tweag/rust-alpine-mimalloc:1.85")
    assert info.malloc_patched == "mimalloc"
    assert classify_image("rust:alpine").malloc_patched is None


def test_static_versus_dynamic_musl_builders():
    # rust:alpine (rustup musl host) links statically, Alpine-packaged rust does not
    official = classify_image("rust:alpine")
    assert links_statically(official.builder_target, official.rustflags)
    dhi = classify_image("dhi.io/rust:1-alpine")
    assert not links_statically(dhi.builder_target, dhi.rustflags)
    assert alpine_apk_rust_target() == "x86_64-alpine-linux-musl"
    assert alpine_apk_rust_target("linux/arm64") == "aarch64-alpine-linux-musl"
    assert not links_statically(alpine_apk_rust_target())
    # blackdex forces +crt-static even for targets that are dynamic by default
    bd = classify_image("blackdex/rust-musl:riscv64gc-musl")
    assert links_statically(bd.builder_target, bd.rustflags)
    cross = classify_image("messense/rust-musl-cross:riscv64gc-musl")
    assert not links_statically(cross.builder_target, cross.rustflags)


@pytest.mark.parametrize(
    ("ref", "normalized"),
    [
        ("rust", "rust:latest"),
        ("docker.io/library/rust:1", "rust:1"),
        ("index.docker.io/library/rust:1", "rust:1"),
        ("docker.io/clux/muslrust:stable", "clux/muslrust:stable"),
        ("public.ecr.aws/docker/library/alpine:3.20", "alpine:3.20"),
        ("mirror.gcr.io/library/debian", "debian:latest"),
        ("library/debian:12", "debian:12"),
        ("Rust:1@sha256:abc", "rust:1"),
        ("alpine@sha256:abc", "alpine:latest"),
        ("localhost:5000/app", "localhost:5000/app:latest"),
        ("gcr.io/distroless/cc-debian12:nonroot", "gcr.io/distroless/cc-debian12:nonroot"),
        ("@sha256:abc", None),
        ("", None),
    ],
)
def test_normalize_ref(ref, normalized):
    assert normalize_ref(ref) == normalized


def test_reason_names_the_row_and_source():
    info = classify_image("lukemathwalker/cargo-chef:latest-rust-1-alpine")
    assert "rust:1-alpine" in info.reason
    assert "cargo-chef" in info.reason
    assert "not in the image table" in classify_image("mycorp/x").reason
    assert "unresolved" in classify_image("rust:$V").reason


# -- the image-row memo: which row an image name matched, kept between runs ---------
# A warm run must classify every image exactly as a cold one, compile only the rows
# it uses, and shrug off a damaged or stale cache file.

PROGRAM = """
import json, sys
from allocpolicy.facts import images
refs = json.loads(sys.argv[1])
out = [repr(images.classify_image(r)) for r in refs]
print(json.dumps({"out": out, "compiled": sum(p is not None for p in images._COMPILED)}))
"""
REFS = [*CASES, "example.com/not/in/the/table:1", "debian:bookworm-slim"]


def _run(cache: Path, refs: list[str] = REFS) -> dict:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    proc = subprocess.run(
        [sys.executable, "-c", PROGRAM, json.dumps(refs)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(proc.stdout)


def test_a_warm_run_classifies_as_a_cold_one_and_compiles_only_the_rows_it_uses(tmp_path):
    cold = _run(tmp_path)
    assert _run(tmp_path)["out"] == cold["out"]
    # one image: cold, every row above its match is compiled; warm, only its own
    debian = ["debian:bookworm-slim"]
    other = tmp_path / "other"
    assert _run(other, debian)["compiled"] > 30
    assert _run(other, debian)["compiled"] == 1
    assert _run(other, debian)["out"] == _run(tmp_path, debian)["out"]


def test_a_damaged_memo_costs_speed_not_answers(tmp_path):
    cold = _run(tmp_path)
    (memo,) = (tmp_path / "allocpolicy" / "image-rows").glob("*.marshal")
    for junk in (b"not marshal", b"\xe9\x00\x00\x00\x00", memo.read_bytes()[:7]):
        memo.write_bytes(junk)
        assert _run(tmp_path)["out"] == cold["out"]


def test_a_hint_whose_row_does_not_match_is_searched_again(tmp_path):
    import marshal

    cold = _run(tmp_path)
    (memo,) = (tmp_path / "allocpolicy" / "image-rows").glob("*.marshal")
    rows = marshal.loads(memo.read_bytes())
    # every hint names a row that does not match (or no row at all)
    rows = {name: (999 if i % 2 else 33) for i, name in enumerate(rows)}
    memo.write_bytes(marshal.dumps(rows))
    assert _run(tmp_path)["out"] == cold["out"]


def test_an_alpine_builder_whose_version_is_a_build_argument_is_still_musl(scan_tree):
    # one stage builds and runs the service; the version comes from CI, the variant does not
    files = {
        "Cargo.toml": '[package]\nname = "svc"\nversion = "0.1.0"\nedition = "2021"\n',
        "src/main.rs": "fn main() {}\n",
        "Dockerfile": "ARG RUST_VERSION\nFROM rust:${RUST_VERSION}-alpine\nWORKDIR /w\nCOPY . .\n"
        'RUN cargo build --release\nCMD ["/w/target/release/svc"]\n',
    }
    result = scan_tree(files)
    (row,) = [r for r in result.inventory if r["binary"] == "svc"]
    assert row["libc"] == "musl" and "whatever its build argument is" in " ".join(row["reasons"])
    assert [f.rule for f in result.findings] == ["AP001"]
