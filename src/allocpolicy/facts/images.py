"""Base images -> libc, distro, package manager and Rust builder target.

Ground truth: allocator-facts-research.md section 1 (docker-rust ``x.py``,
distroless READMEs, busybox build template, Chainguard docs, builder image
Dockerfiles) and allocator-facts.md.  Anything the table does not know, an
unresolved ``$ARG`` or a digest-only reference is classified ``unknown``: the
linter must not guess a libc.

``IMAGE_TABLE`` is read top to bottom and the first row whose ``pattern``
matches wins, so specific rows (``rust:*-alpine``) come before generic ones
(``*:*-alpine``).  A pattern is a regular expression matched against the whole
normalised reference ``repository:tag`` (registry prefixes of Docker Hub and
its mirrors and ``@sha256:`` digests removed, tag defaulting to ``latest``).
Named groups feed the row's templates:

* ``rel``: a Debian/Ubuntu codename, version or moving tag, mapped by
  ``_RELEASES`` to ``debian-<codename>`` / ``ubuntu-<codename>`` where the row
  says ``distro="{release}"`` (no mapping: distro None);
* ``tarch``/``tenv``: a rust-musl-cross style tag (``aarch64-musl``) or the
  manylinux arch tag, giving ``target="tag"``;
* ``triple``: a full triple in the image name (cross-rs);
* ``rusttag``: the official ``rust`` tag embedded in a cargo-chef tag
  (``delegate="rust:{rusttag}"`` classifies it like that rust image).

``target`` kinds: ``gnu``/``musl`` (``<arch>-unknown-linux-<env>``, arch from
the platform hint), ``alpine`` (``<arch>-alpine-linux-musl``), ``tag``,
``triple``, or None when the image is not a Rust builder.
"""

from __future__ import annotations

import re
from functools import lru_cache

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import record, replace
from allocpolicy.facts.triples import arch_from_platform, triple_for

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "IMAGE_TABLE",
    "ImageInfo",
    "ImageRow",
    "alpine_apk_rust_target",
    "classify_image",
    "normalize_ref",
]

GLIBC, MUSL, STATIC, UNKNOWN = "glibc", "musl", "static", "unknown"


@record(frozen=True)
class ImageInfo:
    ref: str  # as given by the caller
    libc: str  # "glibc" | "musl" | "static" (no libc at all) | "unknown"
    distro: str | None
    builder_target: str | None
    target_is_forced: bool
    malloc_patched: str | None
    package_manager: str | None
    reason: str
    normalized: str = ""  # repository:tag the table was matched against
    # RUSTFLAGS the image itself injects (e.g. blackdex forces +crt-static);
    # pass to triples.links_statically together with builder_target.
    rustflags: str = ""


@record(frozen=True)
class ImageRow:
    pattern: str
    libc: str
    notes: str
    source: str
    distro: str | None = None
    target: str | None = None
    forced: bool = False
    rustflags: str = ""
    malloc_patched: str | None = None
    package_manager: str | None = None
    delegate: str | None = None


_CRT_STATIC = "-C target-feature=+crt-static"
_DOCKER_RUST = "rust-lang/docker-rust x.py (latest_debian_release = trixie), stable/*/Dockerfile"
_UBUNTU_CODENAMES = ("focal", "jammy", "noble", "oracular", "plucky", "questing", "resolute")
_RELEASE = r"(?P<rel>bullseye|bookworm|trixie|forky|buster)"
_DEVCONTAINERS = "devcontainers/images src/rust/.devcontainer/Dockerfile (FROM rust:1-${VARIANT})"
# Chainguard's registry, and its mirror on Docker Hub (chainguard/<image>)
_CGR = r"(?:cgr\.dev/[^/]+|chainguard)"
_WOLFI_APK_RUST = "allocator-facts.md (Wolfi: apk, glibc; `apk add rust` is a gnu toolchain)"
_SUSE = (
    "openSUSE/SUSE BCI container docs (glibc distributions, zypper); distribution rustc "
    "packages keep the upstream <arch>-unknown-linux-gnu host (Medium, not source-checked)"
)
_UBI = r"(?:registry\.access\.redhat\.com/|registry\.redhat\.io/|redhat/)?ubi(?:8|9|10)"

IMAGE_TABLE: tuple[ImageRow, ...] = (
    # --- images whose musl malloc is replaced by mimalloc ---------------------
    ImageRow(
        r"[^:]*rust-alpine-mimalloc[^:]*:.*",
        MUSL,
        "rust:alpine derivative whose musl libc.a malloc is patched with mimalloc; static "
        "binaries get mimalloc without #[global_allocator]",
        "tweag/rust-alpine-mimalloc README; research 5.1",
        distro="alpine",
        target="musl",
        malloc_patched="mimalloc",
        package_manager="apk",
    ),
    # --- official rust image and cargo-chef -------------------------------------
    ImageRow(
        r"rust:(?:.*-)?alpine.*",
        MUSL,
        "official rust Alpine image: rustup default host <arch>-unknown-linux-musl, static by "
        "default (musl-dev only since 2025-12)",
        "rust-lang/docker-rust stable/alpine3.23/Dockerfile (--default-host ${rustArch})",
        distro="alpine",
        target="musl",
        package_manager="apk",
    ),
    ImageRow(
        rf"rust:(?:.*-)?{_RELEASE}(?:-.*)?",
        GLIBC,
        "official rust Debian image of a named release: host <arch>-unknown-linux-gnu",
        _DOCKER_RUST,
        distro="{release}",
        target="gnu",
        package_manager="apt",
    ),
    ImageRow(
        r"rust:(?:latest|1|slim|1-slim|1\.(?:9\d|\d{3,})(?:\.\d+)?(?:-slim)?)",
        GLIBC,
        "official rust image without a release suffix: Debian trixie "
        "(latest_debian_release), host <arch>-unknown-linux-gnu",
        _DOCKER_RUST,
        distro="debian-trixie",
        target="gnu",
        package_manager="apt",
    ),
    ImageRow(
        r"rust:1\.\d+(?:\.\d+)?(?:-slim)?",
        GLIBC,
        "older official rust version tag: Debian-based (glibc) but the release depends on "
        "when the tag was last built",
        _DOCKER_RUST,
        target="gnu",
        package_manager="apt",
    ),
    ImageRow(
        r"rustlang/rust:(?:.*-)?alpine.*",
        MUSL,
        "rust nightly Alpine image (same generator as the official image)",
        "rust-lang/docker-rust nightly/ (Medium)",
        distro="alpine",
        target="musl",
        package_manager="apk",
    ),
    ImageRow(
        rf"rustlang/rust:(?:.*-)?{_RELEASE}(?:-.*)?",
        GLIBC,
        "rust nightly Debian image of a named release",
        "rust-lang/docker-rust nightly/ (Medium)",
        distro="{release}",
        target="gnu",
        package_manager="apt",
    ),
    ImageRow(
        rf"mcr\.microsoft\.com/(?:vscode/)?devcontainers/rust:(?:.*-)?{_RELEASE}(?:-.*)?",
        GLIBC,
        "dev container rust image built FROM rust:1-<release>: host <arch>-unknown-linux-gnu",
        _DEVCONTAINERS,
        distro="{release}",
        target="gnu",
        package_manager="apt",
    ),
    ImageRow(
        r"mcr\.microsoft\.com/(?:vscode/)?devcontainers/rust:.*",
        GLIBC,
        "dev container rust image built FROM the official Debian rust image (release not in "
        "the tag): host <arch>-unknown-linux-gnu",
        _DEVCONTAINERS,
        target="gnu",
        package_manager="apt",
    ),
    ImageRow(
        r"cimg/rust:.*",
        GLIBC,
        "CircleCI rust image: cimg/base (Ubuntu) plus rustup-init for <arch>-unknown-linux-gnu",
        "CircleCI-Public/cimg-rust <version>/Dockerfile (FROM cimg/base, rustup-init)",
        target="gnu",
        package_manager="apt",
    ),
    ImageRow(
        r"lukemathwalker/cargo-chef:(?:.+-)?rust-(?P<rusttag>.+)",
        UNKNOWN,
        "cargo-chef image built FROM the official rust:<rust tag> image",
        "LukeMathWalker/cargo-chef docker/Dockerfile, .github/workflows/docker.yml",
        delegate="rust:{rusttag}",
    ),
    ImageRow(
        r"lukemathwalker/cargo-chef:latest",
        UNKNOWN,
        "cargo-chef latest is built FROM the official rust image",
        "LukeMathWalker/cargo-chef .github/workflows/docker.yml",
        delegate="rust:latest",
    ),
    # --- musl builder images that force the target -------------------------------
    ImageRow(
        r"clux/muslrust:.*",
        GLIBC,
        "Ubuntu noble builder with ENV CARGO_BUILD_TARGET=<arch>-unknown-linux-musl: a plain "
        "cargo build is a static musl build under target/<triple>/release",
        "clux/muslrust Dockerfile (BASE_IMAGE=ubuntu:noble)",
        distro="ubuntu-noble",
        target="musl",
        forced=True,
        package_manager="apt",
    ),
    ImageRow(
        r"(?:messense|rust-cross)/rust-musl-cross:"
        r"(?P<tarch>[a-z0-9_]+)-(?P<tenv>musl[a-z0-9]*)(?:-.*)?",
        GLIBC,
        "Ubuntu 22.04 cross builder with ENV CARGO_BUILD_TARGET from the tag; +crt-static "
        "forced only for MIPS",
        "rust-cross/rust-musl-cross Dockerfile, README",
        distro="ubuntu-jammy",
        target="tag",
        forced=True,
        package_manager="apt",
    ),
    ImageRow(
        r"ekidd/rust-musl-builder:.*",
        GLIBC,
        "deprecated Ubuntu 18.04 builder; cargo config [build] target = x86_64-unknown-linux-musl",
        "emk/rust-musl-builder cargo-config.toml, README",
        distro="ubuntu-bionic",
        target="musl",
        forced=True,
        package_manager="apt",
    ),
    ImageRow(
        r"blackdex/rust-musl:(?P<tarch>[a-z0-9_]+)-(?P<tenv>musl[a-z0-9]*)(?:-.*)?",
        GLIBC,
        "Ubuntu 26.04 builder; $CARGO_HOME/config.toml sets [build] target and "
        "rustflags +crt-static, plus ENV CARGO_BUILD_TARGET",
        "BlackDex/rust-musl Dockerfile.musl-base, README",
        distro="ubuntu-resolute",
        target="tag",
        forced=True,
        rustflags=_CRT_STATIC,
        package_manager="apt",
    ),
    ImageRow(
        r"(?:messense|rust-cross)/cargo-zigbuild:.*",
        GLIBC,
        "Debian rust image with cargo-zigbuild: host gnu; the target comes from "
        "`cargo zigbuild --target`",
        "rust-cross/cargo-zigbuild Dockerfile (FROM rust:$RUST_VERSION)",
        target="gnu",
        package_manager="apt",
    ),
    ImageRow(
        r"(?:messense|rust-cross)/manylinux[^:]*-cross:(?P<tarch>[a-z0-9_]+)(?:-.*)?",
        GLIBC,
        "manylinux cross builder: CARGO_BUILD_TARGET set to the gnu triple of the tag",
        "rust-cross/manylinux-cross README",
        target="tag",
        forced=True,
    ),
    ImageRow(
        r"cross-rs/(?P<triple>[a-z0-9_]+-[a-z0-9_]+-[a-z0-9_]+(?:-[a-z0-9_]+)?):.*",
        GLIBC,
        "cross-rs image named after its target triple (the toolchain comes from cross)",
        "cross-rs images (Medium, not source-checked)",
        target="triple",
    ),
    # --- Docker Hardened Images ------------------------------------------------------
    ImageRow(
        r"dhi\.io/rust:(?:.*-)?alpine.*",
        MUSL,
        "Docker Hardened rust Alpine image: binaries come out dynamically linked against "
        "ld-musl and libgcc_s, like Alpine's own rust",
        "docker-hardened-images/catalog #433 (Medium)",
        distro="alpine",
        target="alpine",
        package_manager="apk",
    ),
    ImageRow(
        r"dhi\.io/static:.*",
        STATIC,
        "Docker Hardened static image: for static binaries only",
        "docker-hardened-images/catalog #61, #433 (Low)",
    ),
    # --- Chainguard / Wolfi ------------------------------------------------------------
    ImageRow(
        rf"{_CGR}/static:.*",
        STATIC,
        "Chainguard static: no libc in the image despite the tag names",
        "edu.chainguard.dev static image reference",
    ),
    ImageRow(
        rf"{_CGR}/glibc-dynamic:.*",
        GLIBC,
        "Chainguard glibc-dynamic (Wolfi); libgcc_s historically missing",
        "Chainguard directory; chainguard-images/images #165",
        distro="wolfi",
    ),
    ImageRow(
        r"(?:[^:]+/)?wolfi-base:.*",
        GLIBC,
        "Wolfi base image (glibc) with apk; Wolfi's `apk add rust` is a "
        "<arch>-unknown-linux-gnu toolchain",
        f"Chainguard docs; wolfi-dev/os; {_WOLFI_APK_RUST}",
        distro="wolfi",
        package_manager="apk",
    ),
    ImageRow(
        r"wolfi-dev/[^:]+:.*",
        GLIBC,
        "Wolfi SDK image (glibc, apk)",
        f"wolfi-dev/os; {_WOLFI_APK_RUST}",
        distro="wolfi",
        package_manager="apk",
    ),
    ImageRow(
        rf"{_CGR}/rust:.*-dev.*",
        GLIBC,
        "Chainguard rust -dev image (Wolfi): host <arch>-unknown-linux-gnu, apk available",
        "Chainguard compiled-programs guide",
        distro="wolfi",
        target="gnu",
        package_manager="apk",
    ),
    ImageRow(
        rf"{_CGR}/rust:.*",
        GLIBC,
        "Chainguard rust image (Wolfi): host <arch>-unknown-linux-gnu",
        "Chainguard compiled-programs guide",
        distro="wolfi",
        target="gnu",
    ),
    ImageRow(
        rf"{_CGR}/[^:]+:.*-dev.*",
        GLIBC,
        "Chainguard -dev image (Wolfi, glibc) with apk",
        f"Chainguard docs; {_WOLFI_APK_RUST}",
        distro="wolfi",
        package_manager="apk",
    ),
    ImageRow(
        rf"{_CGR}/[^:]+:.*",
        GLIBC,
        "Chainguard image (Wolfi, glibc), no package manager",
        "Chainguard docs",
        distro="wolfi",
    ),
    # --- distroless ---------------------------------------------------------------------
    ImageRow(
        r"gcr\.io/distroless/static(?:-debian(?P<rel>\d+))?:.*",
        STATIC,
        "distroless static: ca-certs, passwd, tzdata and no libc",
        "GoogleContainerTools/distroless base/README.md",
        distro="{release}",
    ),
    ImageRow(
        r"gcr\.io/distroless/base(?:-nossl)?(?:-debian(?P<rel>\d+))?:.*",
        GLIBC,
        "distroless base: glibc without libgcc_s (Rust gnu binaries fail here)",
        "GoogleContainerTools/distroless base/README.md",
        distro="{release}",
    ),
    ImageRow(
        r"gcr\.io/distroless/cc(?:-debian(?P<rel>\d+))?:.*",
        GLIBC,
        "distroless cc: glibc + libgcc_s + libstdc++, the runtime for Rust gnu binaries",
        "GoogleContainerTools/distroless cc/README.md",
        distro="{release}",
    ),
    ImageRow(
        r"gcr\.io/distroless/(?:java|python|nodejs)[^:]*?(?:-debian(?P<rel>\d+))?:.*",
        GLIBC,
        "distroless language runtime (built on base/cc, glibc)",
        "GoogleContainerTools/distroless README.md",
        distro="{release}",
    ),
    # --- static-only images ---------------------------------------------------------------
    ImageRow(r"scratch:.*", STATIC, "empty image: only static binaries run", "Docker docs"),
    ImageRow(
        r"busybox:(?:.*-)?(?:musl|uclibc)",
        STATIC,
        "busybox musl/uclibc variants are CONFIG_STATIC builds with no dynamic loader",
        "docker-library/busybox Dockerfile-builder.template",
    ),
    ImageRow(
        r"busybox:.*",
        GLIBC,
        "busybox latest/version/glibc tags are the glibc variant (no libgcc_s)",
        "docker-library/docs busybox README; Dockerfile-builder.template",
    ),
    # --- Alpine-based ---------------------------------------------------------------------
    ImageRow(
        r"alpine:.*",
        MUSL,
        "Alpine: musl; `apk add rust cargo` gives host <arch>-alpine-linux-musl (dynamic)",
        "docker-rust template FROM alpine; alpinelinux/aports main/rust/APKBUILD",
        distro="alpine",
        package_manager="apk",
    ),
    ImageRow(
        r"[^:]+:(?:.*-)?alpine.*",
        MUSL,
        "an <image>:<tag>-alpine variant is built on Alpine (musl)",
        "Docker official images convention (node, python, golang ...)",
        distro="alpine",
        package_manager="apk",
    ),
    # --- Debian / Ubuntu ------------------------------------------------------------------
    ImageRow(
        r"(?:debian|buildpack-deps):(?P<rel>[a-z]+|\d+)(?:[-.].*)?",
        GLIBC,
        "Debian (latest/stable = trixie; buildpack-deps also has Ubuntu codenames)",
        "Debian release history; docker-library/debian, buildpack-deps",
        distro="{release}",
        package_manager="apt",
    ),
    ImageRow(
        rf"ubuntu:(?P<rel>{'|'.join(_UBUNTU_CODENAMES)}|\d\d\.\d\d)(?:-.*)?",
        GLIBC,
        "Ubuntu",
        "Ubuntu release history",
        distro="{release}",
        package_manager="apt",
    ),
    ImageRow(
        r"(?:debian|ubuntu|buildpack-deps):.*",
        GLIBC,
        "Debian/Ubuntu image whose release is not named in the tag",
        "docker-library",
        package_manager="apt",
    ),
    ImageRow(
        rf"[^:]+:(?:.*-)?{_RELEASE}(?:-.*)?",
        GLIBC,
        "an <image>:<tag>-<Debian release> variant is built on that Debian release",
        "Docker official images convention (python, node, golang ...)",
        distro="{release}",
        package_manager="apt",
    ),
    ImageRow(
        r"cimg/base:.*",
        GLIBC,
        "CircleCI base image (Ubuntu)",
        "CircleCI-Public/cimg-base Dockerfile (FROM ubuntu)",
        package_manager="apt",
    ),
    # --- Red Hat family -------------------------------------------------------------------
    ImageRow(
        rf"{_UBI}(?:/ubi-minimal|-minimal):.*",
        GLIBC,
        "UBI minimal (RHEL, glibc) with microdnf; allocators need EPEL",
        "Red Hat UBI docs",
        distro="rhel",
        package_manager="microdnf",
    ),
    ImageRow(
        rf"{_UBI}(?:/ubi-micro|-micro):.*",
        GLIBC,
        "UBI micro (RHEL, glibc) without a package manager",
        "Red Hat UBI docs",
        distro="rhel",
    ),
    ImageRow(
        rf"{_UBI}(?:/ubi|/ubi-init|-init)?:.*",
        GLIBC,
        "UBI (RHEL, glibc) with dnf; allocators need EPEL",
        "Red Hat UBI docs",
        distro="rhel",
        package_manager="dnf",
    ),
    ImageRow(
        r"(?:quay\.io/centos/)?centos:(?:[5-7](?:\..*)?|centos[5-7].*)",
        GLIBC,
        "CentOS Linux 5-7 (a RHEL rebuild, glibc) with yum",
        "Docker Hub centos official image (RHEL rebuild)",
        distro="rhel",
        package_manager="yum",
    ),
    ImageRow(
        r"(?:quay\.io/centos/)?centos:.*|(?:library/)?(?:rockylinux|almalinux)(?:/\w+)?:.*"
        r"|(?:library/)?oraclelinux:.*|rockylinux/rockylinux:.*",
        GLIBC,
        "CentOS Stream, Rocky Linux, AlmaLinux, Oracle Linux (RHEL rebuilds, glibc) with dnf",
        "Docker Hub official images (RHEL rebuilds)",
        distro="rhel",
        package_manager="dnf",
    ),
    ImageRow(
        r"(?:quay\.io/fedora/|registry\.fedoraproject\.org/)?fedora:.*",
        GLIBC,
        "Fedora",
        "Fedora",
        distro="fedora",
        package_manager="dnf",
    ),
    ImageRow(
        r"(?:public\.ecr\.aws/amazonlinux/)?amazonlinux:(?:1|2|2\.\d.*|2018.*)",
        GLIBC,
        "Amazon Linux 1/2 (yum)",
        "general knowledge (not source-checked)",
        distro="amazonlinux",
        package_manager="yum",
    ),
    ImageRow(
        r"(?:public\.ecr\.aws/amazonlinux/)?amazonlinux:.*",
        GLIBC,
        "Amazon Linux 2023 (dnf)",
        "general knowledge (not source-checked)",
        distro="amazonlinux",
        package_manager="dnf",
    ),
    # --- openSUSE / SUSE Linux Enterprise ----------------------------------------------------
    ImageRow(
        r"(?:registry\.suse\.com|registry\.opensuse\.org/opensuse)/bci/rust:.*",
        GLIBC,
        "SUSE BCI rust image: SLE/openSUSE (glibc) with the distribution's rust and cargo, "
        "host <arch>-unknown-linux-gnu; zypper",
        _SUSE,
        distro="suse",
        target="gnu",
        package_manager="zypper",
    ),
    ImageRow(
        r"(?:registry\.suse\.com|registry\.opensuse\.org/opensuse)/bci/bci-(?:micro|minimal)"
        r":.*",
        GLIBC,
        "SUSE BCI micro/minimal (glibc) without zypper",
        _SUSE,
        distro="suse",
    ),
    ImageRow(
        r"(?:registry\.suse\.com/(?:bci|suse)|registry\.opensuse\.org/opensuse(?:/bci)?"
        r"|opensuse)/[^:]+:.*",
        GLIBC,
        "openSUSE (Tumbleweed, Leap) or SLE/BCI image: glibc, zypper; `zypper install cargo` "
        "is a <arch>-unknown-linux-gnu toolchain",
        _SUSE,
        distro="suse",
        package_manager="zypper",
    ),
    ImageRow(
        r"opensuse:.*",
        GLIBC,
        "the old official openSUSE image (glibc, zypper)",
        _SUSE,
        distro="suse",
        package_manager="zypper",
    ),
    # --- Void -------------------------------------------------------------------------------
    ImageRow(
        r"(?:void-linux/void-musl|voidlinux/voidlinux-musl)[^:]*:.*",
        MUSL,
        "Void Linux musl image",
        "void-linux/void-containers README",
        distro="void",
        package_manager="xbps",
    ),
    ImageRow(
        r"(?:void-linux/void-glibc|voidlinux/voidlinux)[^:]*:.*",
        GLIBC,
        "Void Linux glibc image",
        "void-linux/void-containers README",
        distro="void",
        package_manager="xbps",
    ),
)

# Compiled on first use, row by row: compiling the whole table cost more than the rest of
# a one-service scan, and a scan sees the same few images.
_COMPILED: list[re.Pattern[str] | None] = [None] * len(IMAGE_TABLE)


def _pattern(i: int) -> re.Pattern[str]:
    p = _COMPILED[i]
    if p is None:
        p = _COMPILED[i] = re.compile(IMAGE_TABLE[i].pattern)
    return p


_DEBIAN_CODENAMES = ("buster", "bullseye", "bookworm", "trixie", "forky", "sid")
# Tag word -> distro release.  Words not listed (ubuntu:latest, debian:rc-buggy,
# a bare distroless name) give no release rather than a guess.
_RELEASES: dict[str, str] = {
    **{name: f"debian-{name}" for name in _DEBIAN_CODENAMES},
    **{name: f"ubuntu-{name}" for name in _UBUNTU_CODENAMES},
    "10": "debian-buster",
    "11": "debian-bullseye",
    "12": "debian-bookworm",
    "13": "debian-trixie",
    "14": "debian-forky",
    # Debian's (and buildpack-deps') moving tags point at trixie, the current stable
    "latest": "debian-trixie",
    "stable": "debian-trixie",
    "slim": "debian-trixie",
    "curl": "debian-trixie",
    "scm": "debian-trixie",
    "testing": "debian-forky",
    "unstable": "debian-sid",
    "20.04": "ubuntu-focal",
    "22.04": "ubuntu-jammy",
    "24.04": "ubuntu-noble",
    "24.10": "ubuntu-oracular",
    "25.04": "ubuntu-plucky",
    "25.10": "ubuntu-questing",
    "26.04": "ubuntu-resolute",
}
_REGISTRY_PREFIXES = (
    "docker.io/library/",
    "index.docker.io/library/",
    "registry-1.docker.io/library/",
    "mirror.gcr.io/library/",
    "public.ecr.aws/docker/library/",
    "docker.io/",
    "index.docker.io/",
    "registry-1.docker.io/",
    "mirror.gcr.io/",
    "ghcr.io/",
    "quay.io/blackdex/",
    "library/",
)
# rust-musl-cross tag aliases (Docker arch names)
_TAG_ARCH_ALIASES = {"amd64": "x86_64", "arm64": "aarch64", "armhf": "armv7", "i386": "i686"}
_MANYLINUX_ARCH = {"ppc64le": "powerpc64le", "armv7l": "armv7", "armv7": "armv7"}


def normalize_ref(ref: str) -> str | None:
    """``docker.io/library/rust@sha256:..`` -> ``rust:latest``; None if nothing is left."""
    text = ref.strip()
    text = text.split("@", 1)[0]
    if not text:
        return None
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        repo, tag = text[:colon], text[colon + 1 :]
    else:
        repo, tag = text, "latest"
    repo = repo.lower()
    for prefix in _REGISTRY_PREFIXES:
        if repo.startswith(prefix):
            repo = repo[len(prefix) :]
            if prefix == "quay.io/blackdex/":
                repo = "blackdex/" + repo
            break
    if not repo or not tag:
        return None
    return f"{repo}:{tag}"


def _distro(row: ImageRow, m: re.Match[str]) -> str | None:
    if row.distro != "{release}":
        return row.distro
    rel = m.groupdict().get("rel")
    return _RELEASES.get(rel) if rel else None


def _target(row: ImageRow, m: re.Match[str], arch: str) -> str | None:
    groups = m.groupdict()
    if row.target in ("gnu", "musl"):
        return triple_for(arch, row.target)
    if row.target == "alpine":
        return triple_for(arch, "musl", vendor="alpine")
    if row.target == "triple":
        return groups["triple"]
    if row.target == "tag":
        tarch = groups["tarch"]
        if groups.get("tenv") is None:  # manylinux: the tag is only an arch
            tarch = _MANYLINUX_ARCH.get(tarch, tarch)
            return triple_for(tarch, "gnu")
        tarch = _TAG_ARCH_ALIASES.get(tarch, tarch)
        return f"{tarch}-unknown-linux-{groups['tenv']}"
    return None


def _unknown(ref: str, why: str, normalized: str = "") -> ImageInfo:
    return ImageInfo(
        ref=ref,
        libc=UNKNOWN,
        distro=None,
        builder_target=None,
        target_is_forced=False,
        malloc_patched=None,
        package_manager=None,
        reason=why,
        normalized=normalized,
    )


def classify_image(ref: str, platform: str | None = None) -> ImageInfo:
    """Classify a base image reference; never guesses (libc "unknown" instead)."""
    return _classify(ref, platform)


@lru_cache(maxsize=4096)  # a scan of thousands of files sees the same few images
def _classify(ref: str, platform: str | None) -> ImageInfo:
    if "$" in ref:
        return _variable_tag(ref, platform)
    normalized = normalize_ref(ref)
    if normalized is None:
        return _unknown(ref, f"{ref!r} names only a digest, not an image")
    arch = arch_from_platform(platform)
    found = _row_of(normalized)
    if found is not None:
        i, m = found
        row = IMAGE_TABLE[i]
        if row.delegate is not None:
            return _delegated(ref, normalized, row, m, platform)
        return ImageInfo(
            ref=ref,
            libc=row.libc,
            distro=_distro(row, m),
            builder_target=_target(row, m, arch),
            target_is_forced=row.forced,
            malloc_patched=row.malloc_patched,
            package_manager=row.package_manager,
            reason=f"{normalized}: {row.notes} [{row.source}]",
            normalized=normalized,
            rustflags=row.rustflags,
        )
    return _unknown(ref, f"{normalized} is not in the image table", normalized)


_VARIABLE = lazy_re(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*")


def _variable_tag(ref: str, platform: str | None) -> ImageInfo:
    """`rust:${RUST_VERSION}-alpine`: a build argument only in the tag's version leaves
    the variant word standing, and the variant decides the libc whatever the version is.
    Only a variant row may decide it: the same image with a stand-in version must land
    on a row that holds for every version, else it stays unknown."""
    unresolved = _unknown(ref, f"{ref!r} contains an unresolved build argument")
    name, sep, tag = ref.split("@", 1)[0].rpartition(":")
    if not sep or "/" in tag or "$" in name or not _VARIABLE.sub("", tag).strip("-._"):
        return unresolved  # the image's name, or all of its tag, is the variable
    results = {_classify(name + ":" + _VARIABLE.sub(v, tag), platform) for v in ("0", "99.9")}
    libcs = {(i.libc, i.builder_target, i.normalized.split(":")[0]) for i in results}
    if len(libcs) != 1 or next(iter(results)).libc == UNKNOWN:
        return unresolved
    info = min(results, key=lambda i: i.reason)
    return replace(
        info,
        ref=ref,
        reason=f"{ref}, whatever its build argument is: {info.reason.split(': ', 1)[-1]}",
        distro=info.distro if all(i.distro == info.distro for i in results) else None,
    )


def _row_of(normalized: str) -> tuple[int, re.Match[str]] | None:
    """The first row matching `normalized`, and its match.

    Which row an image name matched is kept between runs (by the table's patterns):
    trying the rows in order compiles every pattern above the match, ~40 of them
    (~5 ms) for `debian:*`, in every short run such as a pre-commit check.
    """
    known = _ROW_MEMO.rows()
    hint = known.get(normalized)
    if hint is not None:
        m = _pattern(hint).fullmatch(normalized) if 0 <= hint < len(IMAGE_TABLE) else None
        if m is not None or hint == -1:
            return None if m is None else (hint, m)
    for i in range(len(IMAGE_TABLE)):
        m = _pattern(i).fullmatch(normalized)
        if m is not None:
            _ROW_MEMO.learn(normalized, i)
            return i, m
    _ROW_MEMO.learn(normalized, -1)
    return None


class _RowMemo:
    """Image name -> first matching row (-1: none), in the user cache, for this table."""

    # A repository names a few dozen images; a hostile one's thousands are not all kept,
    # and one run rewrites the file at most MAX_WRITES times.
    MAX_NAMES = 1024
    MAX_WRITES = 16

    def __init__(self) -> None:
        self._rows: dict[str, int] | None = None
        self._writes = 0

    def rows(self) -> dict[str, int]:
        if self._rows is None:
            from allocpolicy.usercache import load

            value = load(self._path())
            ok = isinstance(value, dict) and all(type(v) is int for v in value.values())
            self._rows = value if ok else {}
        return self._rows

    def learn(self, name: str, row: int) -> None:
        from allocpolicy.usercache import save

        rows = self.rows()
        if len(rows) < self.MAX_NAMES and self._writes < self.MAX_WRITES:
            rows[name] = row
            self._writes += 1
            save(self._path(), rows)

    @staticmethod
    def _path() -> Path:
        from allocpolicy.usercache import entry

        patterns = "\0".join(row.pattern for row in IMAGE_TABLE)
        return entry("image-rows", patterns.encode(), "rows")


_ROW_MEMO = _RowMemo()


def _delegated(
    ref: str, normalized: str, row: ImageRow, m: re.Match[str], platform: str | None
) -> ImageInfo:
    inner_ref = row.delegate.format(**m.groupdict())  # type: ignore[union-attr]
    inner = _classify(inner_ref, platform)
    return ImageInfo(
        ref=ref,
        libc=inner.libc,
        distro=inner.distro,
        builder_target=inner.builder_target,
        target_is_forced=inner.target_is_forced,
        malloc_patched=inner.malloc_patched,
        package_manager=inner.package_manager,
        reason=f"{normalized}: {row.notes}, so classified as {inner.reason} [{row.source}]",
        normalized=normalized,
        rustflags=inner.rustflags,
    )


def alpine_apk_rust_target(platform: str | None = None) -> str:
    """Host triple of Alpine's own ``apk add rust cargo`` toolchain (links dynamically)."""
    return triple_for(arch_from_platform(platform), "musl", vendor="alpine")
