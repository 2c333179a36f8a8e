"""When the build is not visible, the image a binary runs in still proves facts about it.

A crate with no allocator crate anywhere keeps the system allocator for every target;
on a static-only image only a static binary runs; on Alpine (no gcompat) a dynamically
linked glibc binary cannot. A scratch image with the glibc loader copied in is glibc.
"""

from __future__ import annotations

from helpers import MIMALLOC_DEP, cargo

MAIN = "fn main() {}\n"
WORKSPACE = {
    "Cargo.toml": '[workspace]\nmembers = ["gate"]\n',
    "gate/Cargo.toml": cargo("gate") + '\n[[bin]]\nname = "gated"\npath = "src/main.rs"\n',
    "gate/src/main.rs": MAIN,
}


def _found(result):
    return [(f.rule, f.location.path, f.location.line) for f in result.findings]


def _rows(result):
    return {(r["file"], r["binary"]): r for r in result.inventory if r["binary"]}


def test_context_binary_on_scratch_and_alpine_is_judged_by_its_runtime(scan_tree):
    files = {
        **WORKSPACE,
        "docker/scratch/Dockerfile": (
            "FROM scratch\nCOPY gated /usr/local/bin/gated\nENV HOME=/data\nWORKDIR /data\n"
        ),
        "docker/alpine/Dockerfile": (
            "FROM alpine:3.20\nRUN apk add --no-cache ca-certificates\n"
            'COPY --chmod=755 gated /opt/\nENTRYPOINT ["/opt/gated"]\n'
        ),
        "docker/debian/Dockerfile": 'FROM debian:bookworm-slim\nCOPY gated /opt/\nCMD ["/opt/gated"]\n',
    }
    result = scan_tree(files)
    # static-only and musl runtimes prove AP001; a glibc runtime runs either kind: no finding
    assert _found(result) == [
        ("AP001", "docker/alpine/Dockerfile", 1),
        ("AP001", "docker/scratch/Dockerfile", 1),
    ]
    rows = _rows(result)
    scratch = rows[("docker/scratch/Dockerfile", "gated")]
    assert (scratch["crate"], scratch["linkage"], scratch["allocator"]) == (
        "gate",
        "static",
        "system",
    )
    assert "only static binaries run" in " ".join(scratch["reasons"])
    alpine = rows[("docker/alpine/Dockerfile", "gated")]
    assert (alpine["binary_libc"], alpine["linkage"]) == ("musl", "unknown")
    debian = rows[("docker/debian/Dockerfile", "gated")]
    assert (debian["binary_libc"], debian["linkage"], debian["allocator"]) == (
        "unknown",
        "unknown",
        "system",
    )
    assert "comes from no build seen in this file" in debian["reasons"][0]
    assert (
        "built for a target set outside this file (unknown, static)" in result.findings[1].message
    )


def test_what_the_runtime_cannot_prove(scan_tree):
    files = {
        **WORKSPACE,
        # an artifact carrier (`COPY --from=this-image /gated ...` elsewhere): never run here
        "carrier/Dockerfile": "FROM scratch\nARG TARGETARCH\nCOPY ${TARGETARCH}/gated /gated\n",
        # gcompat runs glibc binaries on Alpine
        "compat/Dockerfile": 'FROM alpine:3.20\nRUN apk add gcompat\nCOPY gated /\nCMD ["/gated"]\n',
        # a committed file of the same name is not a build output
        "script/Dockerfile": 'FROM alpine:3.20\nCOPY gated /usr/bin/\nCMD ["gated"]\n',
        "script/gated": "#!/bin/sh\nexec true\n",
        # a link named like the binary is not one
        "link/Dockerfile": (
            "FROM alpine:3.20\nRUN ln -s /etc/gate/available/gated.conf /etc/gate/gated\n"
            'CMD ["sh"]\n'
        ),
        # LD_PRELOAD works if the binary is dynamic, which a musl runtime does not decide
        "preload/Dockerfile": (
            "FROM alpine:3.20\nRUN apk add mimalloc2\nCOPY gated /\n"
            'ENV LD_PRELOAD=/usr/lib/libmimalloc.so.2\nCMD ["/gated"]\n'
        ),
    }
    result = scan_tree(files)
    assert [f for f in result.findings if f.rule in ("AP001", "AP003")] == []
    rows = _rows(result)
    assert rows[("carrier/Dockerfile", "gated")]["linkage"] == "unknown"
    assert rows[("compat/Dockerfile", "gated")]["binary_libc"] == "unknown"
    assert ("script/Dockerfile", "gated") not in rows
    assert ("link/Dockerfile", "gated") not in rows
    assert rows[("preload/Dockerfile", "gated")]["allocator"] == "unknown"


def test_an_allocator_crate_anywhere_keeps_the_allocator_unknown_without_a_target(scan_tree):
    files = {
        "Cargo.toml": '[workspace]\nmembers = ["crates/*"]\n',
        "crates/app/Cargo.toml": cargo("app", 'common = { path = "../common" }'),
        "crates/app/src/main.rs": MAIN,
        # an optional allocator in a linked library may be enabled by the outside build
        "crates/common/Cargo.toml": cargo(
            "common", MIMALLOC_DEP.replace("}", ", optional = true }")
        ),
        "crates/common/src/lib.rs": "",
        "Dockerfile": 'FROM scratch\nCOPY app /app\nENTRYPOINT ["/app"]\n',
    }
    result = scan_tree(files)
    assert _found(result) == []
    row = _rows(result)[("Dockerfile", "app")]
    assert (row["linkage"], row["allocator"]) == ("static", "unknown")


def test_entrypoint_of_a_binary_from_the_base_image(scan_tree):
    files = {
        **WORKSPACE,
        "Dockerfile": (
            "FROM registry.example.com/gate:base\nRUN apk add --no-cache tini\n"
            'ENTRYPOINT ["/sbin/tini", "--", "/usr/bin/gated", "--serve"]\n'
        ),
    }
    result = scan_tree(files)
    row = _rows(result)[("Dockerfile", "gated")]
    assert row["crate"] == "gate"
    assert "ENTRYPOINT runs `gated`" in row["reasons"][0]
    assert [f.rule for f in result.findings] == ["AP901"]  # the base's libc is unknown


def test_unresolved_build_target_on_alpine_runtime(scan_tree):
    files = {
        **WORKSPACE,
        "Dockerfile": (
            "FROM rust:1.82-bookworm AS build\nARG RUST_TARGET\nWORKDIR /w\nCOPY . .\n"
            "RUN cargo build --release --target ${RUST_TARGET}\n"
            "FROM alpine:3.20\nCOPY --from=build /w/target/${RUST_TARGET}/release/gated /usr/bin/\n"
            'CMD ["gated"]\n'
        ),
    }
    result = scan_tree(files)
    assert _found(result) == [("AP001", "Dockerfile", 6)]
    row = _rows(result)[("Dockerfile", "gated")]
    # the reason quotes the variable as written
    assert "`${RUST_TARGET}`" in row["reasons"][0]


def test_scratch_with_the_glibc_loader_copied_in_is_glibc(scan_tree):
    files = {
        **WORKSPACE,
        "ldd/Dockerfile": (
            "FROM opensuse/leap:15.6 AS build\nRUN zypper install -y cargo\n"
            "COPY . /src\nWORKDIR /src\nRUN cargo build --release\n"
            "RUN mkdir -p /out/libs && ldd target/release/gated | awk '{print $3}' | "
            "xargs -I{} cp {} /out/libs/\n"
            "FROM scratch\nCOPY --from=build /src/target/release/gated /sbin/\n"
            "COPY --from=build /out/libs/ /lib/\nENV LD_LIBRARY_PATH=/lib\n"
            'CMD ["/sbin/gated"]\n'
        ),
        "loader/Dockerfile": (
            "FROM mycorp/builder AS build\nCOPY . /src\nWORKDIR /src\n"
            "RUN cargo build --release --target $TARGET\n"
            "FROM gcr.io/distroless/static-debian12\n"
            "COPY --from=build /lib64/ld-linux-x86-64.so.2 /lib64/\n"
            "COPY --from=build /src/target/$TARGET/release/gated /gated\n"
            'ENTRYPOINT ["/gated"]\n'
        ),
    }
    result = scan_tree(files)
    rows = _rows(result)
    ldd = rows[("ldd/Dockerfile", "gated")]
    assert (ldd["libc"], ldd["binary_libc"], ldd["linkage"]) == ("glibc", "glibc", "dynamic")
    assert "`ldd` listed in stage build" in ldd["reasons"][-1]
    loader = rows[("loader/Dockerfile", "gated")]
    # not "static": a dynamically linked binary runs there, so nothing proves AP001
    assert (loader["libc"], loader["linkage"]) == ("glibc", "unknown")
    assert _found(result) == [("AP003", "ldd/Dockerfile", 1)]


def test_the_projects_published_image_as_the_final_base_ships_its_binary(scan_tree):
    def extends(base: str) -> str:
        return f'FROM {base}\nCOPY gate.toml /etc/gate/\nENTRYPOINT ["/entrypoint.sh"]\n'

    files = {
        **WORKSPACE,
        "gate.toml": "",
        # the namespace names the bin, or the tag is the crate's version: the project's own
        "owner/Dockerfile": extends("gatedhq/gated:edge"),
        "version/Dockerfile": extends("registry.example.com/ops/gated:v0.1.0"),
        # an official image, or someone else's, that shares the bin's name
        "official/Dockerfile": extends("gated:0.1.0"),
        "library/Dockerfile": extends("docker.io/library/gated"),
        "stranger/Dockerfile": extends("someone/gated:2.4"),
    }
    result = scan_tree(files)
    rows = _rows(result)
    assert sorted(rows) == [("owner/Dockerfile", "gated"), ("version/Dockerfile", "gated")]
    owner = rows[("owner/Dockerfile", "gated")]
    assert (owner["crate"], owner["linkage"], owner["allocator"]) == ("gate", "unknown", "system")
    assert "namespace `gatedhq` names it too" in owner["reasons"][0]
    assert (
        "tag `v0.1.0` is crate gate's version"
        in rows[("version/Dockerfile", "gated")]["reasons"][0]
    )
