"""Rust toolchains a stage installs itself: a distribution's rust package, or rustup-init.

A plain `cargo build` compiles for the host of the toolchain that runs, so the
toolchain a RUN installs decides the target (ground truth: allocator-facts.md,
allocator-facts-research.md section 2):

* Alpine's `apk add rust cargo`: ``<arch>-alpine-linux-musl``, linked dynamically;
* the rust package of a glibc distribution (Debian/Ubuntu apt, Fedora/RHEL dnf,
  openSUSE/SLE zypper, and Wolfi, whose `apk` is glibc's): ``<arch>-unknown-linux-gnu``;
* rustup-init (``sh.rustup.rs``) picks the host from the libc it finds (rustup
  ``rustup-init.sh``: musl when ``ldd --version`` says so), unless
  ``--default-host`` names one.

When the image's libc is not known, the host is unknown and the reason says why.
"""

from __future__ import annotations

import posixpath
import re

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import record
from allocpolicy.facts.images import GLIBC, MUSL, ImageInfo
from allocpolicy.facts.triples import arch_from_platform, triple_for

__all__ = ["Toolchain", "toolchain_of"]


@record(frozen=True)
class Toolchain:
    host: str | None  # the toolchain's default target; None when it cannot be known here
    why: str
    line: int


# apk is Alpine's and Wolfi's; the others belong to glibc distributions only.
_MANAGERS = {
    "apk": "apk",
    "apt-get": "apt",
    "apt": "apt",
    "dnf": "dnf",
    "microdnf": "dnf",
    "yum": "dnf",
    "tdnf": "dnf",
    "zypper": "zypper",
}
_RUST_PACKAGE = lazy_re(r"(?:rust|rustc|cargo)(?:-(?:\d[\d.]*|web|all|toolset))?")
_VERSION_SPEC = lazy_re(r"[~=<>@]")  # apk `rust~1.80`, apt `cargo=1.2`, `rust>=1.80`
_RUSTUP_URL = lazy_re(r"sh\.rustup\.rs|/rustup-init(?:\.sh)?$")
_DIST_TRIPLE = lazy_re(r"/dist/(?P<arch>[^/]+)-unknown-linux-(?P<env>gnu|musl)[^/]*/rustup-init")
_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh"})


def toolchain_of(
    argv: list[str], packages: list[str], image: ImageInfo, platform: str | None, line: int
) -> Toolchain | None:
    """The toolchain this command installs, if it installs one."""
    if not argv:
        return None
    tool = posixpath.basename(argv[0])
    manager = _MANAGERS.get(tool)
    if manager is not None and any(_is_rust_package(p) for p in packages):
        if image.builder_target is not None:
            return None  # the image's own toolchain comes first on PATH
        return _package_toolchain(manager, image, platform, line)
    return _rustup_toolchain(tool, argv, image, platform, line)


def _is_rust_package(pkg: str) -> bool:
    return _RUST_PACKAGE.fullmatch(_VERSION_SPEC.split(pkg, 1)[0]) is not None


def _package_toolchain(
    manager: str, image: ImageInfo, platform: str | None, line: int
) -> Toolchain:
    arch = arch_from_platform(platform)
    if manager != "apk":
        why = f"the distribution's rust package ({manager}, a glibc distribution) on line {line}"
        return Toolchain(triple_for(arch, "gnu"), why, line)
    if image.libc == MUSL:
        why = f"Alpine's own rust package (`apk add` on line {line}), which links dynamically"
        return Toolchain(triple_for(arch, "musl", vendor="alpine"), why, line)
    if image.libc == GLIBC:
        why = f"Wolfi's rust package (`apk add` on line {line}; Wolfi is glibc)"
        return Toolchain(triple_for(arch, "gnu"), why, line)
    why = (
        f"`apk add` of rust on line {line}: Alpine's package is musl, Wolfi's is gnu, and "
        f"`{image.ref}` is neither known ({image.reason})"
    )
    return Toolchain(None, why, line)


def _rustup_toolchain(
    tool: str, argv: list[str], image: ImageInfo, platform: str | None, line: int
) -> Toolchain | None:
    args = argv[1:]
    host = _default_host(args)
    runs_rustup = tool.startswith("rustup-init") or (tool in _SHELLS and host is not None)
    fetches = tool in ("curl", "wget") and any(_RUSTUP_URL.search(a) for a in args)
    if not (runs_rustup or fetches):
        return None
    arch = arch_from_platform(platform)
    if host is not None:
        return _named_host(host, arch, f"`rustup-init --default-host {host}` on line {line}", line)
    built_for = next((m for m in map(_DIST_TRIPLE.search, args) if m), None)
    if built_for is not None:  # a rustup-init built for a libc defaults to that libc's host
        why = f"rustup-init for {built_for.group(0).split('/')[2]} on line {line}"
        return Toolchain(triple_for(arch, built_for.group("env")), why, line)
    if image.libc in (GLIBC, MUSL):
        env = "gnu" if image.libc == GLIBC else "musl"
        why = f"rustup-init on line {line}, which picks the {env} host on a {image.libc} image"
        return Toolchain(triple_for(arch, env), why, line)
    why = (
        f"rustup-init on line {line} picks its host from the image's libc, and `{image.ref}` "
        f"is not known ({image.reason})"
    )
    return Toolchain(None, why, line)


def _default_host(args: list[str]) -> str | None:
    for i, a in enumerate(args):
        if a == "--default-host" and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--default-host="):
            return a.split("=", 1)[1]
    return None


def _named_host(host: str, arch: str, why: str, line: int) -> Toolchain:
    """`$(uname -m)-unknown-linux-gnu` is the stage's own architecture."""
    m = re.fullmatch(r"(?P<arch>.+)-unknown-linux-(?P<env>gnu|musl)", host)
    if m is not None and "$" in m.group("arch"):
        return Toolchain(triple_for(arch, m.group("env")), why, line)
    if "$" in host:
        return Toolchain(None, f"{why}: `{host}` has no value here", line)
    return Toolchain(host.lower(), why, line)
