"""`RUN --mount=target=.` reads the build context in place, with nothing copied.

The context is then the Rust project the Containerfile sits in, and a `make` there
reads that project's Makefile; the mount lasts for its own RUN only.
"""

from __future__ import annotations

from helpers import cargo

FILES = {
    "Cargo.toml": cargo("svc"),
    "src/main.rs": "fn main() {}\n",
    "Makefile": "build:\n\tcargo build --release --target-dir $(TARGET_DIR)\n",
}


def _dockerfile(mount: str) -> str:
    return (
        "FROM centos:7 AS build\nWORKDIR /src\n"
        "RUN curl --proto '=https' -sSf https://sh.rustup.rs | sh -s -- -y\n"
        f"RUN {mount} make build TARGET_DIR=/out/target\n"
        "FROM centos:7\nCOPY --from=build /out/target/release/svc /usr/local/bin/\n"
        'CMD ["svc"]\n'
    )


def test_a_bind_mounted_context_is_read_where_it_is_mounted(scan_tree):
    files = {**FILES, "docker/centos/Dockerfile": _dockerfile("--mount=target=.,rw")}
    result = scan_tree(files)
    (row,) = [r for r in result.inventory if r["binary"]]
    assert (row["target"], row["binary_libc"], row["allocator"]) == (
        "x86_64-unknown-linux-gnu",
        "glibc",
        "system",
    )
    assert [f.rule for f in result.findings] == ["AP003"]


def test_a_cache_mount_is_not_the_context(scan_tree):
    files = {**FILES, "docker/centos/Dockerfile": _dockerfile("--mount=type=cache,target=.")}
    (row,) = [r for r in scan_tree(files).inventory if r["binary"]]
    assert row["target"] is None
    assert "`make build" in " ".join(row["reasons"])
