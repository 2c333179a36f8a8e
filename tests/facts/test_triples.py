from __future__ import annotations

import pytest

from allocpolicy.facts.triples import (
    LEGACY_STATIC_MUSL,
    arch_from_platform,
    candidate_triples,
    cfg_facts,
    crt_static_override,
    is_musl,
    links_statically,
    normalize_triple,
    triple_for,
    triple_from_target_path,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("x86_64-unknown-linux-gnu.2.17", "x86_64-unknown-linux-gnu"),
        ("aarch64-unknown-linux-gnu.2.28", "aarch64-unknown-linux-gnu"),
        ("armv7-unknown-linux-gnueabihf.2.17", "armv7-unknown-linux-gnueabihf"),
        (" X86_64-Unknown-Linux-Musl ", "x86_64-unknown-linux-musl"),
        ("x86_64-unknown-linux-musl", "x86_64-unknown-linux-musl"),
    ],
)
def test_normalize_triple(raw, expected):
    assert normalize_triple(raw) == expected


@pytest.mark.parametrize(
    ("triple", "musl"),
    [
        ("x86_64-unknown-linux-musl", True),
        ("armv7-unknown-linux-musleabihf", True),
        ("arm-unknown-linux-musleabi", True),
        ("mips64el-unknown-linux-muslabi64", True),
        ("powerpc-unknown-linux-muslspe", True),
        ("x86_64-alpine-linux-musl", True),
        ("aarch64-gentoo-linux-musl", True),
        ("x86_64-unknown-linux-gnu", False),
        ("x86_64-unknown-linux-gnu.2.17", False),
        ("aarch64-unknown-linux-ohos", False),  # musl-based but target_env = "ohos"
        ("x86_64-pc-windows-msvc", False),
        ("aarch64-apple-darwin", False),
        ("musl", False),
    ],
)
def test_is_musl(triple, musl):
    assert is_musl(triple) is musl


@pytest.mark.parametrize("triple", sorted(LEGACY_STATIC_MUSL))
def test_legacy_musl_targets_link_statically(triple):
    assert links_statically(triple)
    assert not links_statically(triple, "-C target-feature=-crt-static")


@pytest.mark.parametrize(
    "triple",
    [
        "riscv64gc-unknown-linux-musl",
        "loongarch64-unknown-linux-musl",
        "powerpc64-unknown-linux-musl",
        "s390x-unknown-linux-musl",
        "mips64-unknown-linux-muslabi64",
        "mips-unknown-linux-musl",
        "thumbv7neon-unknown-linux-musleabihf",
        "x86_64-alpine-linux-musl",
        "aarch64-alpine-linux-musl",
        "x86_64-unknown-linux-gnu",
        "x86_64-unknown-linux-gnu.2.17",
    ],
)
def test_dynamic_by_default_and_crt_static_override(triple):
    assert not links_statically(triple)
    assert links_statically(triple, "-C target-feature=+crt-static")
    assert links_statically(triple, "-Ctarget-feature=+avx2,+crt-static")


def test_last_crt_static_flag_wins():
    flags = "-C target-feature=+crt-static -C target-feature=-crt-static"
    assert crt_static_override(flags) is False
    assert crt_static_override("-C target-feature=-crt-static,+crt-static") is True
    assert crt_static_override("-C opt-level=3") is None
    assert crt_static_override("") is None
    assert links_statically("x86_64-unknown-linux-musl", flags) is False


def test_cfg_facts_musl_x86_64():
    facts = cfg_facts("x86_64-unknown-linux-musl")
    assert facts["target_env"] == "musl"
    assert facts["target_os"] == "linux"
    assert facts["target_arch"] == "x86_64"
    assert facts["target_family"] == "unix"
    assert facts["target_vendor"] == "unknown"
    assert facts["unix"] is True
    assert facts["windows"] is False
    assert facts["target_pointer_width"] == "64"
    assert facts["target_endian"] == "little"
    assert facts["target_feature"] == ["crt-static"]


@pytest.mark.parametrize(
    ("triple", "expected"),
    [
        ("x86_64-unknown-linux-gnu", {"target_env": "gnu", "target_feature": []}),
        ("x86_64-unknown-linux-gnu.2.17", {"target_env": "gnu", "target_arch": "x86_64"}),
        (
            "armv7-unknown-linux-musleabihf",
            {
                "target_env": "musl",
                "target_abi": "eabihf",
                "target_arch": "arm",
                "target_pointer_width": "32",
            },
        ),
        ("i686-unknown-linux-gnu", {"target_arch": "x86", "target_pointer_width": "32"}),
        ("aarch64-unknown-linux-musl", {"target_arch": "aarch64", "target_env": "musl"}),
        ("riscv64gc-unknown-linux-musl", {"target_arch": "riscv64", "target_feature": []}),
        ("powerpc64le-unknown-linux-musl", {"target_arch": "powerpc64", "target_endian": "little"}),
        ("s390x-unknown-linux-gnu", {"target_endian": "big"}),
        (
            "mips64el-unknown-linux-muslabi64",
            {"target_arch": "mips64", "target_endian": "little", "target_abi": "abi64"},
        ),
        ("x86_64-alpine-linux-musl", {"target_vendor": "alpine", "target_env": "musl"}),
        (
            "aarch64-apple-darwin",
            {
                "target_os": "macos",
                "target_vendor": "apple",
                "target_env": "",
                "target_family": "unix",
            },
        ),
        (
            "x86_64-pc-windows-msvc",
            {
                "target_os": "windows",
                "target_family": "windows",
                "unix": False,
                "windows": True,
                "target_env": "msvc",
            },
        ),
        ("aarch64-linux-android", {"target_os": "android", "target_env": "", "unix": True}),
        (
            "wasm32-unknown-unknown",
            {
                "target_family": "wasm",
                "target_os": "unknown",
                "target_pointer_width": "32",
                "unix": False,
            },
        ),
        ("x86_64-unknown-linux-gnux32", {"target_pointer_width": "32", "target_abi": "x32"}),
    ],
)
def test_cfg_facts_table(triple, expected):
    facts = cfg_facts(triple)
    assert {k: facts[k] for k in expected} == expected


def test_cfg_facts_honours_rustflags():
    assert cfg_facts("x86_64-unknown-linux-gnu", "-C target-feature=+crt-static")[
        "target_feature"
    ] == ["crt-static"]


@pytest.mark.parametrize(
    ("path", "triple"),
    [
        ("/app/target/x86_64-unknown-linux-musl/release/app", "x86_64-unknown-linux-musl"),
        ("target/aarch64-unknown-linux-musl/debug/app", "aarch64-unknown-linux-musl"),
        ("/build/out/armv7-unknown-linux-musleabihf/release/app", "armv7-unknown-linux-musleabihf"),
        ("target/x86_64-unknown-linux-gnu/release/", "x86_64-unknown-linux-gnu"),
        ("C:\\src\\target\\x86_64-pc-windows-msvc\\release\\app.exe", "x86_64-pc-windows-msvc"),
        ("target/release/app", None),
        ("/app/target/release/x86_64-unknown-linux-musl", None),  # a binary name, not a directory
        ("/usr/local/bin/my-cool-app/release", None),
        ("/app/target/*/release/app", None),
        ("", None),
    ],
)
def test_triple_from_target_path(path, triple):
    assert triple_from_target_path(path) == triple


@pytest.mark.parametrize(
    ("platform", "arch"),
    [
        (None, "x86_64"),
        ("linux/amd64", "x86_64"),
        ("linux/arm64", "aarch64"),
        ("linux/arm64/v8", "aarch64"),
        ("linux/arm/v7", "armv7"),
        ("linux/386", "i686"),
        ("linux/ppc64le", "powerpc64le"),
        ("linux/s390x", "s390x"),
        ("linux/riscv64", "riscv64gc"),
        ("$TARGETPLATFORM", "x86_64"),
        ("linux/unknownarch", "x86_64"),
    ],
)
def test_arch_from_platform(platform, arch):
    assert arch_from_platform(platform) == arch


def test_triple_for():
    assert triple_for("x86_64", "musl") == "x86_64-unknown-linux-musl"
    assert triple_for("armv7", "gnu") == "armv7-unknown-linux-gnueabihf"
    assert triple_for("aarch64", "musl", vendor="alpine") == "aarch64-alpine-linux-musl"


def test_a_target_with_an_unknown_arch_is_one_of_the_platform_targets_of_its_env():
    gnu = candidate_triples("$(false)-unknown-linux-gnu")
    assert "x86_64-unknown-linux-gnu" in gnu and "aarch64-unknown-linux-gnu" in gnu
    assert all(t.endswith("-unknown-linux-gnu") for t in gnu)
    assert not any(links_statically(t) for t in gnu)  # every one: glibc, dynamic
    musl = candidate_triples("${ARCH}-unknown-linux-musl")
    assert {links_statically(t) for t in musl} == {True, False}  # riscv64gc, s390x: dynamic
    assert set(candidate_triples("x86_64-unknown-linux-$(false)")) == {
        "x86_64-unknown-linux-gnu",
        "x86_64-unknown-linux-musl",
    }
    # nothing known, a marker that is not a value, or a plain triple: no candidates
    for written in (
        "$(false)",
        "$(one of a-musl, b-gnu)",
        "x86_64-unknown-linux-gnu",
        "$X-apple-darwin",
    ):
        assert candidate_triples(written) == ()
