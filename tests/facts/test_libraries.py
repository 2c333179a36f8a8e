from __future__ import annotations

import pytest

from allocpolicy.facts.libraries import (
    LIBRARY_TABLE,
    allocator_of_library,
    expected_paths,
    package_allocator,
    packages_providing,
    split_ld_preload,
)


@pytest.mark.parametrize(
    ("path", "allocator"),
    [
        ("/usr/lib/x86_64-linux-gnu/libmimalloc.so.2", "mimalloc"),
        ("/usr/lib/x86_64-linux-gnu/libmimalloc.so.3", "mimalloc"),
        ("/usr/lib/libmimalloc.so", "mimalloc"),
        ("/usr/lib/libmimalloc-secure.so.2", "mimalloc"),
        ("/usr/lib/libmimalloc-insecure.so.2", "mimalloc"),
        ("/usr/lib/x86_64-linux-gnu/libmimalloc.so.2.0", "mimalloc"),
        ("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "jemalloc"),
        ("libjemalloc.so", "jemalloc"),
        ("/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4", "tcmalloc"),
        ("/usr/lib64/libtcmalloc.so.4", "tcmalloc"),
        ("/usr/lib/x86_64-linux-gnu/libtcmalloc_and_profiler.so.4", "tcmalloc"),
        ("/usr/lib/x86_64-linux-gnu/libc.so.6", None),
        ("/usr/lib/libmimalloc.a", None),
        ("/opt/mimalloc/libfoo.so", None),
        ("", None),
    ],
)
def test_allocator_of_library(path, allocator):
    assert allocator_of_library(path) == allocator


@pytest.mark.parametrize(
    ("distro", "allocator", "arch", "expected"),
    [
        (
            "debian-trixie",
            "mimalloc",
            "x86_64",
            [("libmimalloc3", "/usr/lib/x86_64-linux-gnu/libmimalloc.so.3")],
        ),
        (
            "debian-bookworm",
            "mimalloc",
            "x86_64",
            [("libmimalloc2.0", "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2")],
        ),
        (
            "debian-bookworm",
            "mimalloc",
            "aarch64",
            [("libmimalloc2.0", "/usr/lib/aarch64-linux-gnu/libmimalloc.so.2")],
        ),
        ("debian-bullseye", "mimalloc", "x86_64", []),  # not packaged before bookworm
        (
            "ubuntu-jammy",
            "mimalloc",
            "x86_64",
            [("libmimalloc2.0", "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2")],
        ),
        (
            "ubuntu-noble",
            "mimalloc",
            "x86_64",
            [("libmimalloc2.0", "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2")],
        ),
        (
            "ubuntu-resolute",
            "mimalloc",
            "x86_64",
            [("libmimalloc3", "/usr/lib/x86_64-linux-gnu/libmimalloc.so.3")],
        ),
        (
            "debian-trixie",
            "jemalloc",
            "armv7",
            [("libjemalloc2", "/usr/lib/arm-linux-gnueabihf/libjemalloc.so.2")],
        ),
        (
            "debian-bookworm",
            "tcmalloc",
            "x86_64",
            [
                ("libtcmalloc-minimal4", "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"),
                ("libgoogle-perftools4", "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4"),
            ],
        ),
        (
            "debian-trixie",
            "tcmalloc",
            "x86_64",
            [
                ("libtcmalloc-minimal4t64", "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"),
                ("libgoogle-perftools4t64", "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4"),
            ],
        ),
        (
            "alpine",
            "mimalloc",
            "x86_64",
            [
                ("mimalloc2", "/usr/lib/libmimalloc.so.2"),
                ("mimalloc2-insecure", "/usr/lib/libmimalloc-insecure.so.2"),
            ],
        ),
        ("alpine", "jemalloc", "aarch64", [("jemalloc", "/usr/lib/libjemalloc.so.2")]),
        ("fedora", "mimalloc", "x86_64", [("mimalloc", "/usr/lib64/libmimalloc.so.2")]),
        ("rhel", "jemalloc", "aarch64", [("jemalloc", "/usr/lib64/libjemalloc.so.2")]),
        (
            "wolfi",
            "mimalloc",
            "x86_64",
            [
                ("mimalloc2", "/usr/lib/libmimalloc-secure.so.2"),
                ("mimalloc3", "/usr/lib/libmimalloc-secure.so.3"),
                ("mimalloc", "/usr/lib/libmimalloc.so.1"),
            ],
        ),
        (None, "mimalloc", "x86_64", []),
        ("amazonlinux", "mimalloc", "x86_64", []),
        ("debian-trixie", "snmalloc", "x86_64", []),
    ],
)
def test_expected_paths(distro, allocator, arch, expected):
    assert expected_paths(distro, allocator, arch) == expected


def test_bookworm_preload_path_is_not_provided_on_trixie():
    # the classic breakage: libmimalloc2.0 + libmimalloc.so.2 on a rust:1 (trixie) image
    path = "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"
    assert packages_providing(path, "debian-bookworm") == ["libmimalloc2.0"]
    assert packages_providing(path, "debian-trixie") == []
    assert packages_providing("/usr/lib/x86_64-linux-gnu/libmimalloc.so.3", "debian-trixie") == [
        "libmimalloc3"
    ]


@pytest.mark.parametrize(
    ("path", "distro", "packages"),
    [
        ("/usr/lib/aarch64-linux-gnu/libjemalloc.so.2", "debian-bookworm", ["libjemalloc2"]),
        (
            "/lib/x86_64-linux-gnu/libjemalloc.so.2",
            "debian-trixie",
            ["libjemalloc2"],
        ),  # merged /usr
        ("/usr/lib/x86_64-linux-gnu//libmimalloc.so", "debian-trixie", ["libmimalloc-dev"]),
        ("/usr/lib/x86_64-linux-gnu/libmimalloc.so.2.0", "debian-bookworm", ["libmimalloc2.0"]),
        ("/usr/lib/libmimalloc.so.2", "alpine", ["mimalloc2"]),
        ("/usr/lib/libmimalloc-secure.so.2", "alpine", ["mimalloc2"]),
        ("/usr/lib/libmimalloc.so", "alpine", ["mimalloc2-dev"]),
        ("/lib/libmimalloc.so.2", "alpine", []),  # Alpine has no merged /usr
        ("/usr/lib/libmimalloc.so", "debian-trixie", []),  # mimalloc's make-install layout
        ("/usr/lib64/libmimalloc.so.2", "fedora", ["mimalloc"]),
        ("/usr/lib/libjemalloc.so.2", "wolfi", ["libjemalloc2", "jemalloc"]),
        (
            "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
            "ubuntu-noble",
            ["libtcmalloc-minimal4t64"],
        ),
        (
            "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
            "ubuntu-jammy",
            ["libtcmalloc-minimal4"],
        ),
        ("/usr/lib/x86_64-linux-gnu/libmimalloc.so.2", None, ["libmimalloc2.0"]),
        ("/usr/lib/libjemalloc.so.2", None, ["jemalloc", "libjemalloc2"]),
        ("/usr/lib/x86_64-linux-gnu/libc.so.6", "debian-trixie", []),
    ],
)
def test_packages_providing(path, distro, packages):
    assert packages_providing(path, distro) == packages


@pytest.mark.parametrize(
    ("package", "allocator"),
    [
        ("libmimalloc2.0", "mimalloc"),
        ("libmimalloc3", "mimalloc"),
        ("mimalloc2", "mimalloc"),
        ("mimalloc2-insecure", "mimalloc"),
        ("mimalloc", "mimalloc"),
        ("libmimalloc-dev", "mimalloc"),
        ("mimalloc-devel", "mimalloc"),
        ("libmimalloc2.0=2.0.9+ds-2", "mimalloc"),
        ("mimalloc2~2.2", "mimalloc"),
        ("libjemalloc2", "jemalloc"),
        ("jemalloc", "jemalloc"),
        ("libjemalloc2:amd64", "jemalloc"),
        ("libtcmalloc-minimal4", "tcmalloc"),
        ("libtcmalloc-minimal4t64", "tcmalloc"),
        ("libgoogle-perftools4t64", "tcmalloc"),
        ("gperftools-libs", "tcmalloc"),
        ("tcmalloc-minimal", "tcmalloc"),
        ("curl", None),
        ("libc6", None),
        ("musl-dev", None),
        ("", None),
    ],
)
def test_package_allocator(package, allocator):
    assert package_allocator(package) == allocator


def test_table_is_consistent():
    for row in LIBRARY_TABLE:
        assert package_allocator(row.package) == row.allocator, row.package
        for path in (*row.preload, *row.other):
            assert allocator_of_library(path) == row.allocator, path


def test_split_ld_preload():
    assert split_ld_preload("/a/libjemalloc.so.2 /b/x.so:/c/y.so") == [
        "/a/libjemalloc.so.2",
        "/b/x.so",
        "/c/y.so",
    ]
    assert split_ld_preload("  ") == []
