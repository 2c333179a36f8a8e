"""Differential: `cfg_facts(triple)` against the real `rustc --print cfg --target <triple>`,
for every triple the tool itself produces or lists. rustc prints a target's cfg without
that target's std installed, so this runs on a host-only toolchain.

A triple rustc does not know (the distro-vendor musl triples `triple_for` builds for
Alpine images) is compared with its `unknown`-vendor twin, save the vendor and the
crt-static default (listed below, with why); a disagreement rustc settles differently
than the tool's ground truth is an xfail with its reason, never a silent skip.
"""

from __future__ import annotations

import functools
import shutil
import subprocess

import pytest

from allocpolicy.facts import subjects, triples
from allocpolicy.facts.triples import cfg_facts, triple_for

pytestmark = pytest.mark.skipif(shutil.which("rustc") is None, reason="rustc is not installed")

_ARCHES = sorted(set(triples._PLATFORM_ARCH.values()))
KNOWN = sorted(
    set(triples.LEGACY_STATIC_MUSL)
    | set(subjects.BASELINE_TRIPLES)
    | {t for group in subjects._LINUX_TARGETS.values() for t in group}
    | {triple_for(a, env) for a in _ARCHES for env in ("gnu", "musl")}
    | {triple_for(a, "musl", vendor="alpine") for a in _ARCHES}
    # the 3-component shapes triples._split documents
    | {"aarch64-apple-darwin", "x86_64-linux-android", "wasm32-unknown-unknown"}
)

# Where rustc 1.95 and the tool's ground truth (allocator-facts-research.md §2) disagree.
DISAGREE = {
    "mips64el-unknown-linux-muslabi64": (
        "rustc 1.95 prints no crt-static for it; the research notes (PR #146588) keep it "
        "the one tier-3 musl target still static by default. A tier-3 target: left to a "
        "maintainer to decide which source wins"
    ),
}


@functools.cache
def _target_list() -> frozenset[str]:
    out = subprocess.run(["rustc", "--print", "target-list"], capture_output=True, text=True)
    return frozenset(out.stdout.split())


def _rustc_cfg(triple: str) -> dict[str, object]:
    out = subprocess.run(
        ["rustc", "--print", "cfg", "--target", triple], capture_output=True, text=True, check=True
    ).stdout
    facts: dict[str, object] = {"target_feature": set(), "target_family": set()}
    for line in out.splitlines():
        key, sep, value = line.partition("=")
        value = value.strip('"')
        if not sep:
            facts[key] = True
        elif key in ("target_feature", "target_family"):
            facts[key].add(value)  # type: ignore[attr-defined]
        else:
            facts[key] = value
    return facts


def _comparable(facts: dict[str, object], rustc: bool) -> dict[str, object]:
    """The facts the tool models, in one shape: rustc may print several families (wasm
    targets are also "unix"-less "wasm"), the tool keeps one, or none."""
    keys = ("target_os", "target_env", "target_arch", "target_vendor", "target_abi")
    keys += ("target_pointer_width", "target_endian")
    out = {k: facts.get(k, "") for k in keys}
    out["unix"] = bool(facts.get("unix"))
    out["windows"] = bool(facts.get("windows"))
    out["crt-static"] = "crt-static" in facts["target_feature"]  # type: ignore[operator]
    family = facts["target_family"]
    if rustc:
        out["target_family"] = family
    else:
        out["target_family"] = {family} if family else set()
    return out


def _params() -> list[object]:
    return [
        pytest.param(t, marks=pytest.mark.xfail(reason=DISAGREE[t], strict=True))
        if t in DISAGREE
        else t
        for t in KNOWN
    ]


@pytest.mark.parametrize("triple", _params())
def test_cfg_facts_match_rustc(triple: str) -> None:
    if triple not in _target_list():
        pytest.skip(f"rustc 1.95 does not know {triple}: see the vendor-triple test")
    assert _comparable(cfg_facts(triple), False) == _comparable(_rustc_cfg(triple), True)


UNKNOWN_TO_RUSTC = [t for t in KNOWN if t not in _target_list()] if shutil.which("rustc") else []


@pytest.mark.parametrize("triple", UNKNOWN_TO_RUSTC)
def test_a_vendor_triple_rustc_does_not_know_is_its_unknown_twin_but_dynamic(triple: str) -> None:
    # `x86_64-alpine-linux-musl` is the triple of Alpine's own rustc package, not a target
    # of upstream rustc. Its cfg is the upstream twin's, with its vendor, and like every
    # distro-vendor musl triple it links musl dynamically by default.
    arch, vendor, rest = triple.split("-", 2)
    twin = f"{arch}-unknown-{rest}"
    assert twin in _target_list(), f"neither {triple} nor {twin} is a rustc target"
    want = _comparable(_rustc_cfg(twin), True) | {"target_vendor": vendor, "crt-static": False}
    assert _comparable(cfg_facts(triple), False) == want


def test_the_triples_rustc_does_not_know_are_the_vendor_musl_ones() -> None:
    # Said out loud, so a new unknown triple cannot hide among the skips above.
    assert all("-alpine-linux-musl" in t for t in UNKNOWN_TO_RUSTC), UNKNOWN_TO_RUSTC
