"""A binary of this repository the image unpacks from a release archive.

CI builds the binary, packs it as `app-v1-x86_64-unknown-linux-musl.tar.gz`, and the
Containerfile unpacks it in a stage and copies it out. The archive's name is the target
it was built for; the build itself, and so its features, are not seen here.
"""

from __future__ import annotations

import pytest
from helpers import cargo

JEMALLOC = 'tikv-jemallocator = { version = "0.6", optional = true }'
STATIC = (
    '#[cfg(feature = "fast")]\n#[global_allocator]\n'
    "static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;\n"
)


def _dockerfile(archive: str, unpack: str = "tar -xzf {a} --strip-components=1") -> str:
    return (
        "FROM alpine:3.20 AS unpack\n"
        "WORKDIR /pkg\n"
        f"COPY {archive} ./\n"
        f"RUN {unpack.format(a=archive)}\n"
        "RUN mkdir -p /var/lib/relay\n"
        "\n"
        "FROM gcr.io/distroless/static:nonroot\n"
        "COPY --from=unpack /pkg/bin/* /usr/local/bin/\n"
        "COPY --from=unpack /var/lib/relay /var/lib/relay\n"
        'ENTRYPOINT ["/usr/local/bin/relay"]\n'
    )


def _row(result):
    (row,) = [r for r in result.inventory if r["binary"] == "relay"]
    return row


@pytest.mark.parametrize(
    ("archive", "triple"),
    [
        ("relay-*-x86_64-unknown-linux-musl.tar.gz", "x86_64-unknown-linux-musl"),
        ("relay-v2.1.0-aarch64-unknown-linux-musl.tgz", "aarch64-unknown-linux-musl"),
        # the arch is the shell's (`uname -m`): the build platform's, linux/amd64 assumed
        ('relay-"$(uname -m)"-unknown-linux-musl.tar.gz', "x86_64-unknown-linux-musl"),
    ],
)
def test_the_archive_name_is_the_binarys_target(scan_tree, archive: str, triple: str) -> None:
    result = scan_tree(
        {
            "Cargo.toml": cargo("relay", "", ""),
            "src/main.rs": "fn main() {}\n",
            "Dockerfile": _dockerfile(archive),
        }
    )
    row = _row(result)
    assert (row["target"], row["binary_libc"], row["linkage"]) == (triple, "musl", "static")
    assert "release archive" in row["reasons"][0] and "line 8" in row["reasons"][0]
    # no allocator anywhere in the crate: a static musl binary on musl's malloc
    (f,) = [f for f in result.findings if f.rule == "AP001"]
    assert f.location.line == 8  # the COPY that ships it, not the directory named like it


def test_a_directory_named_like_the_bin_is_not_the_binary(scan_tree) -> None:
    result = scan_tree(
        {
            "Cargo.toml": cargo("relay", "", ""),
            "src/main.rs": "fn main() {}\n",
            "Dockerfile": _dockerfile("relay.tar.gz"),  # names no target
        }
    )
    row = _row(result)
    assert row["target"] is None
    assert "/var/lib/relay" not in row["reasons"][0]
    assert "ENTRYPOINT runs `relay`" in row["reasons"][0]


def test_a_feature_gated_allocator_stays_unknown_for_a_prebuilt_binary(scan_tree) -> None:
    # the default features would link jemalloc, none would not: CI's choice is not seen
    manifest = cargo(
        "relay", JEMALLOC, '\n[features]\ndefault = ["fast"]\nfast = ["dep:tikv-jemallocator"]\n'
    )
    result = scan_tree(
        {
            "Cargo.toml": manifest,
            "src/main.rs": STATIC + "fn main() {}\n",
            "Dockerfile": _dockerfile("relay-1.0-x86_64-unknown-linux-musl.tar.gz"),
        }
    )
    row = _row(result)
    assert row["target"] == "x86_64-unknown-linux-musl" and row["allocator"] == "unknown"
    assert [f.rule for f in result.findings if f.severity.value in ("error", "warning")] == []


def test_an_archive_the_stage_makes_is_not_one_it_unpacks(scan_tree) -> None:
    result = scan_tree(
        {
            "Cargo.toml": cargo("relay", "", ""),
            "src/main.rs": "fn main() {}\n",
            "Dockerfile": _dockerfile(
                "relay-x86_64-unknown-linux-musl.tar.gz", "tar -czf {a} /etc/hostname"
            ),
        }
    )
    assert _row(result)["target"] is None


def test_a_tools_release_archive_says_nothing_of_the_binary(scan_tree) -> None:
    # sccache's musl release unpacked beside the project's own files: not relay's target
    result = scan_tree(
        {
            "Cargo.toml": cargo("relay", "", ""),
            "src/main.rs": "fn main() {}\n",
            "Dockerfile": _dockerfile("sccache-v0.8.1-x86_64-unknown-linux-musl.tar.gz"),
        }
    )
    assert _row(result)["target"] is None
