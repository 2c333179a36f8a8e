"""Allocator shared libraries: what LD_PRELOAD names and which package ships it.

Ground truth: allocator-facts-research.md section 5.2 (packages.debian.org and
packages.ubuntu.com file lists, Alpine aports, Fedora packages, wolfi-dev/os)
and allocator-facts.md (paths read from the bookworm .deb files).

The table below lists, per distro release, every package that installs an
allocator library and the files it installs.  ``preload`` marks the stable
LD_PRELOAD target (the SONAME symlink) that ``expected_paths`` recommends;
the other files (real versioned files, ``-dev`` symlinks, secure builds) are
only used to answer "which package provides this path".  ``{triplet}`` is the
Debian multiarch directory of the architecture.
"""

from __future__ import annotations

import posixpath
import re
from functools import lru_cache

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import record

__all__ = [
    "LIBRARY_TABLE",
    "LibraryRow",
    "allocator_of_library",
    "debian_triplet",
    "expected_paths",
    "package_allocator",
    "packages_providing",
    "split_ld_preload",
]


@record(frozen=True)
class LibraryRow:
    distros: tuple[str, ...]
    package: str
    allocator: str
    preload: tuple[str, ...]  # stable LD_PRELOAD targets, best first
    other: tuple[str, ...] = ()  # further files the package installs
    note: str = ""


_D = "/usr/lib/{triplet}"
_BOOKWORM_LIKE = ("debian-bookworm", "ubuntu-jammy", "ubuntu-noble")
_TRIXIE_LIKE = ("debian-trixie", "debian-forky", "debian-sid", "ubuntu-questing", "ubuntu-resolute")
_DEBIAN_ALL = ("debian-bullseye", *_BOOKWORM_LIKE, *_TRIXIE_LIKE)
_RPM = ("fedora", "rhel")

LIBRARY_TABLE: tuple[LibraryRow, ...] = (
    # --- Debian / Ubuntu ---------------------------------------------------
    LibraryRow(
        _BOOKWORM_LIKE,
        "libmimalloc2.0",
        "mimalloc",
        (f"{_D}/libmimalloc.so.2",),
        (f"{_D}/libmimalloc.so.2.0", f"{_D}/libmimalloc.so.2.1"),
        "bookworm 2.0.9, jammy 2.0.x, noble 2.1.2 (universe); not in bullseye or trixie",
    ),
    LibraryRow(
        _TRIXIE_LIKE,
        "libmimalloc3",
        "mimalloc",
        (f"{_D}/libmimalloc.so.3",),
        (f"{_D}/libmimalloc.so.3.0", f"{_D}/libmimalloc.so.3.1", f"{_D}/libmimalloc.so.3.2"),
        "trixie renamed the package; there is no libmimalloc2.0 any more",
    ),
    LibraryRow(
        (*_BOOKWORM_LIKE, *_TRIXIE_LIKE),
        "libmimalloc-dev",
        "mimalloc",
        (),
        (f"{_D}/libmimalloc.so",),
        "development symlink; pulls in the runtime package",
    ),
    LibraryRow(_DEBIAN_ALL, "libjemalloc2", "jemalloc", (f"{_D}/libjemalloc.so.2",)),
    LibraryRow(_DEBIAN_ALL, "libjemalloc-dev", "jemalloc", (), (f"{_D}/libjemalloc.so",)),
    LibraryRow(
        ("debian-bullseye", "debian-bookworm", "ubuntu-jammy"),
        "libtcmalloc-minimal4",
        "tcmalloc",
        (f"{_D}/libtcmalloc_minimal.so.4",),
        (f"{_D}/libtcmalloc_minimal_debug.so.4", f"{_D}/libtcmalloc_minimal.so.4.5.10"),
    ),
    LibraryRow(
        ("debian-bullseye", "debian-bookworm", "ubuntu-jammy"),
        "libgoogle-perftools4",
        "tcmalloc",
        (f"{_D}/libtcmalloc.so.4",),
        (f"{_D}/libtcmalloc_and_profiler.so.4", f"{_D}/libtcmalloc_debug.so.4"),
    ),
    LibraryRow(
        ("ubuntu-noble", *_TRIXIE_LIKE),
        "libtcmalloc-minimal4t64",
        "tcmalloc",
        (f"{_D}/libtcmalloc_minimal.so.4",),
        (f"{_D}/libtcmalloc_minimal_debug.so.4",),
        "64-bit time_t transition renamed the package",
    ),
    LibraryRow(
        ("ubuntu-noble", *_TRIXIE_LIKE),
        "libgoogle-perftools4t64",
        "tcmalloc",
        (f"{_D}/libtcmalloc.so.4",),
        (f"{_D}/libtcmalloc_and_profiler.so.4", f"{_D}/libtcmalloc_debug.so.4"),
    ),
    LibraryRow(
        _DEBIAN_ALL,
        "libgoogle-perftools-dev",
        "tcmalloc",
        (),
        (f"{_D}/libtcmalloc.so", f"{_D}/libtcmalloc_minimal.so"),
    ),
    # --- Alpine (community since 3.17; gperftools only in testing) -----------
    LibraryRow(
        ("alpine",),
        "mimalloc2",
        "mimalloc",
        ("/usr/lib/libmimalloc.so.2",),
        ("/usr/lib/libmimalloc-secure.so.2",),
        "secure-mode build: libmimalloc.so.2 is a symlink to libmimalloc-secure.so.2",
    ),
    LibraryRow(
        ("alpine",),
        "mimalloc2-insecure",
        "mimalloc",
        ("/usr/lib/libmimalloc-insecure.so.2",),
    ),
    LibraryRow(("alpine",), "mimalloc2-dev", "mimalloc", (), ("/usr/lib/libmimalloc.so",)),
    LibraryRow(("alpine",), "jemalloc", "jemalloc", ("/usr/lib/libjemalloc.so.2",)),
    LibraryRow(
        ("alpine",),
        "tcmalloc-minimal",
        "tcmalloc",
        ("/usr/lib/libtcmalloc_minimal.so.4",),
        (),
        "Alpine testing (edge) only, x86_64/aarch64",
    ),
    LibraryRow(
        ("alpine",),
        "tcmalloc",
        "tcmalloc",
        ("/usr/lib/libtcmalloc.so.4",),
        (),
        "Alpine testing (edge) only, x86_64/aarch64",
    ),
    # --- Fedora, and RHEL/UBI through EPEL ---------------------------------------
    LibraryRow(
        _RPM,
        "mimalloc",
        "mimalloc",
        ("/usr/{libdir}/libmimalloc.so.2",),
        ("/usr/{libdir}/libmimalloc.so.2.1", "/usr/{libdir}/libmimalloc.so.2.2"),
        "RHEL/UBI need EPEL",
    ),
    LibraryRow(_RPM, "mimalloc-devel", "mimalloc", (), ("/usr/{libdir}/libmimalloc.so",)),
    LibraryRow(
        _RPM,
        "jemalloc",
        "jemalloc",
        ("/usr/{libdir}/libjemalloc.so.2",),
        (),
        "path Medium confidence; RHEL/UBI need EPEL",
    ),
    LibraryRow(
        _RPM,
        "gperftools-libs",
        "tcmalloc",
        ("/usr/{libdir}/libtcmalloc_minimal.so.4", "/usr/{libdir}/libtcmalloc.so.4"),
        (),
        "path Medium confidence",
    ),
    # --- Wolfi / Chainguard ----------------------------------------------------------
    LibraryRow(
        ("wolfi",),
        "mimalloc2",
        "mimalloc",
        ("/usr/lib/libmimalloc-secure.so.2",),
        ("/usr/lib/libmimalloc-secure.so",),
        "2.x built with MI_SECURE=ON",
    ),
    LibraryRow(
        ("wolfi",),
        "mimalloc3",
        "mimalloc",
        ("/usr/lib/libmimalloc-secure.so.3",),
        ("/usr/lib/libmimalloc-secure.so",),
        "3.x built secure",
    ),
    LibraryRow(
        ("wolfi",),
        "mimalloc",
        "mimalloc",
        ("/usr/lib/libmimalloc.so.1",),
        (),
        "Wolfi's plain 'mimalloc' package is the old v1 series",
    ),
    LibraryRow(("wolfi",), "libjemalloc2", "jemalloc", ("/usr/lib/libjemalloc.so.2",)),
    LibraryRow(("wolfi",), "jemalloc", "jemalloc", ("/usr/lib/libjemalloc.so.2",)),
    LibraryRow(("wolfi",), "tcmalloc-minimal", "tcmalloc", ("/usr/lib/libtcmalloc_minimal.so.4",)),
    LibraryRow(("wolfi",), "tcmalloc", "tcmalloc", ("/usr/lib/libtcmalloc.so.4",)),
)

# Debian multiarch directory per Rust/Docker architecture name.
_TRIPLETS = {
    "x86_64": "x86_64-linux-gnu",
    "amd64": "x86_64-linux-gnu",
    "aarch64": "aarch64-linux-gnu",
    "arm64": "aarch64-linux-gnu",
    "armv7": "arm-linux-gnueabihf",
    "arm": "arm-linux-gnueabihf",
    "armhf": "arm-linux-gnueabihf",
    "i686": "i386-linux-gnu",
    "i586": "i386-linux-gnu",
    "i386": "i386-linux-gnu",
    "powerpc64le": "powerpc64le-linux-gnu",
    "ppc64le": "powerpc64le-linux-gnu",
    "s390x": "s390x-linux-gnu",
    "riscv64gc": "riscv64-linux-gnu",
    "riscv64": "riscv64-linux-gnu",
}
_32_BIT = frozenset({"armv7", "arm", "armhf", "i686", "i586", "i386"})
_MERGED_USR = ("debian-", "ubuntu-", "fedora", "rhel", "amazonlinux")

_LIB_RE = lazy_re(r"^lib(mimalloc|jemalloc|tcmalloc)(?:[-_][a-z_]+)?\.so(?:\.\d+)*$")
_PACKAGE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(lib)?mimalloc"), "mimalloc"),
    (re.compile(r"^(lib)?jemalloc"), "jemalloc"),
    (
        re.compile(r"^(libtcmalloc|tcmalloc|libgoogle-perftools|google-perftools|gperftools)"),
        "tcmalloc",
    ),
)
# apt "pkg=1.2", apk "pkg~2.2"/"pkg>=2", dnf "pkg-2.1.2", "pkg:amd64"
_PIN_RE = lazy_re(r"[=<>~:].*$")


def debian_triplet(arch: str = "x86_64") -> str:
    return _TRIPLETS.get(arch, f"{arch}-linux-gnu")


def _expand(path: str, arch: str) -> str:
    libdir = "lib" if arch in _32_BIT else "lib64"
    return path.format(triplet=debian_triplet(arch), libdir=libdir)


def expected_paths(
    distro: str | None, allocator: str, arch: str = "x86_64"
) -> list[tuple[str, str]]:
    """[(package, LD_PRELOAD path)] for an allocator on a distro, best first.

    Unknown distros (None, "debian" without a release, amazonlinux, void...)
    give an empty list rather than a guess.
    """
    if distro is None:
        return []
    return [
        (row.package, _expand(path, arch))
        for row in LIBRARY_TABLE
        if distro in row.distros and row.allocator == allocator
        for path in row.preload
    ]


def _normalize_path(path: str, distro: str | None) -> str:
    path = posixpath.normpath(path.strip())
    # Merged /usr: /lib/x86_64-linux-gnu/x is the same file as /usr/lib/...
    merged = distro is None or distro.startswith(_MERGED_USR)
    if merged and (path.startswith("/lib/") or path.startswith("/lib64/")):
        path = "/usr" + path
    return path


def packages_providing(path: str, distro: str | None) -> list[str]:
    """Package names that install ``path`` on ``distro`` (any distro if None)."""
    return list(_packages_providing(path, distro))


@lru_cache(maxsize=512)  # monorepos preload the same few paths in every image
def _packages_providing(path: str, distro: str | None) -> tuple[str, ...]:
    wanted = _normalize_path(path, distro)
    found: list[str] = []
    for row in LIBRARY_TABLE:
        if distro is not None and distro not in row.distros:
            continue
        if row.package in found:
            continue
        for template in (*row.preload, *row.other):
            if any(_expand(template, arch) == wanted for arch in _TRIPLETS):
                found.append(row.package)
                break
    return tuple(found)


def allocator_of_library(path: str) -> str | None:
    """``/usr/lib/x86_64-linux-gnu/libmimalloc.so.2`` -> ``mimalloc``."""
    name = posixpath.basename(path.strip())
    m = _LIB_RE.match(name)
    return m.group(1) if m else None


def package_allocator(package: str) -> str | None:
    """``libmimalloc3`` -> ``mimalloc``; version pins and arch qualifiers are ignored."""
    name = _PIN_RE.sub("", package.strip().lower())
    for pattern, allocator in _PACKAGE_RULES:
        if pattern.match(name):
            return allocator
    return None


def split_ld_preload(value: str) -> list[str]:
    """The entries of an LD_PRELOAD value (glibc accepts spaces and colons)."""
    return [p for p in re.split(r"[\s:]+", value.strip()) if p]
