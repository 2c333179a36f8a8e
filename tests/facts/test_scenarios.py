"""How the engine decides target, binary and allocator for the shapes real Containerfiles take."""

from __future__ import annotations

from helpers import MIMALLOC_DEP, STATIC, cargo, rules_of

MAIN = "fn main() {}\n"


def _row(result):
    [row] = [r for r in result.inventory if r["binary"]]
    return row


def test_cargo_config_build_target_selects_musl(scan_tree):
    files = {
        "Cargo.toml": cargo("svc"),
        "src/main.rs": MAIN,
        ".cargo/config.toml": '[build]\ntarget = "x86_64-unknown-linux-musl"\n',
        "Dockerfile": "FROM rust:1.82-bookworm AS b\nWORKDIR /w\nCOPY . .\nRUN cargo build --release\n"
        "FROM scratch\nCOPY --from=b /w/target/x86_64-unknown-linux-musl/release/svc /svc\n",
    }
    result = scan_tree(files)
    assert rules_of(result) == ["AP001"] and _row(result)["target"] == "x86_64-unknown-linux-musl"


def test_cargo_build_target_env_and_cross(scan_tree):
    files = {
        "Cargo.toml": cargo("svc"),
        "src/main.rs": MAIN,
        "Dockerfile": "FROM rust:1.82 AS b\nENV CARGO_BUILD_TARGET=aarch64-unknown-linux-musl\nWORKDIR /w\nCOPY . .\n"
        "RUN cargo build --release\nFROM scratch\nCOPY --from=b /w/target/release/svc /svc\n",
        "cross.Dockerfile": "FROM rust:1.82 AS b\nWORKDIR /w\nCOPY . .\nRUN cross build --release --target armv7-unknown-linux-musleabihf\n"
        "FROM scratch\nCOPY --from=b /w/target/armv7-unknown-linux-musleabihf/release/svc /svc\n",
    }
    result = scan_tree(files)
    assert [(f.rule, f.location.path, f.location.line) for f in result.findings] == [
        ("AP001", "Dockerfile", 2),
        ("AP001", "cross.Dockerfile", 6),
    ]


def test_muslrust_builder_is_musl_without_flags(scan_tree):
    files = {
        "Cargo.toml": cargo("svc"),
        "src/main.rs": MAIN,
        "Dockerfile": "FROM clux/muslrust:stable AS b\nCOPY . /volume\nRUN cargo build --release\n"
        "FROM scratch\nCOPY --from=b /volume/target/x86_64-unknown-linux-musl/release/svc /svc\n",
    }
    assert rules_of(scan_tree(files)) == ["AP001"]


def test_zigbuild_gnu_with_glibc_suffix_is_glibc(scan_tree):
    files = {
        "Cargo.toml": cargo("svc", MIMALLOC_DEP),
        "src/main.rs": STATIC + MAIN,
        "Dockerfile": "FROM ghcr.io/rust-cross/cargo-zigbuild AS b\nWORKDIR /w\nCOPY . .\n"
        "RUN cargo zigbuild --release --target x86_64-unknown-linux-gnu.2.17\n"
        "FROM gcr.io/distroless/cc-debian12\nCOPY --from=b /w/target/x86_64-unknown-linux-gnu/release/svc /svc\n",
    }
    result = scan_tree(files)
    assert rules_of(result) == [] and _row(result)["binary_libc"] == "glibc"


def test_manifest_path_and_bin_targets_with_their_own_statics(scan_tree):
    files = {
        "app/Cargo.toml": cargo("app", MIMALLOC_DEP),
        "app/src/bin/api.rs": STATIC + MAIN,
        "app/src/bin/worker.rs": MAIN,
        "Dockerfile": "FROM rust:1.82-alpine AS b\nWORKDIR /src\nCOPY . .\n"
        "RUN cargo build --release --manifest-path app/Cargo.toml --bin api --bin worker\n"
        "FROM alpine:3.20\nCOPY --from=b /src/app/target/release/api /api\n"
        "COPY --from=b /src/app/target/release/worker /worker\n",
    }
    result = scan_tree(files)
    assert [(f.rule, f.location.line) for f in result.findings] == [("AP001", 1)]
    assert "worker" in result.findings[0].message


def test_workspace_exclude_and_members(scan_tree):
    files = {
        "Cargo.toml": '[workspace]\nmembers = ["crates/*"]\nexclude = ["crates/old"]\n',
        "crates/new/Cargo.toml": cargo("new"),
        "crates/new/src/main.rs": MAIN,
        "crates/old/Cargo.toml": cargo("old"),
        "crates/old/src/main.rs": MAIN,
        "Dockerfile": "FROM rust:1.82-alpine AS b\nWORKDIR /w\nCOPY . .\nRUN cargo build --release --workspace\n"
        "FROM scratch\nCOPY --from=b /w/target/release/* /usr/local/bin/\n",
    }
    result = scan_tree(files)
    assert sorted(r["crate"] for r in result.inventory) == ["new"]


def test_entrypoint_forms_of_ld_preload(scan_tree):
    base = (
        "FROM rust:1.82-alpine AS b\nWORKDIR /w\nCOPY . .\nRUN cargo build --release\n"
        "FROM alpine:3.20\nRUN apk add --no-cache mimalloc2\nCOPY --from=b /w/target/release/svc /svc\n"
    )
    files = {
        "Cargo.toml": cargo("svc", MIMALLOC_DEP),
        "src/main.rs": STATIC + MAIN,
        "exec.Dockerfile": base
        + 'ENTRYPOINT ["env", "LD_PRELOAD=/usr/lib/libmimalloc.so.2", "/svc"]\n',
        "shell.Dockerfile": base + "CMD LD_PRELOAD=/usr/lib/libmimalloc.so.2 /svc --port 8080\n",
        "sh.Dockerfile": base
        + 'ENTRYPOINT ["/bin/sh", "-c", "LD_PRELOAD=/usr/lib/libmimalloc.so.2 exec /svc"]\n',
    }
    result = scan_tree(files)
    assert sorted((f.rule, f.location.path, f.location.line) for f in result.findings) == [
        ("AP002", "exec.Dockerfile", 8),
        ("AP002", "sh.Dockerfile", 8),
        ("AP002", "shell.Dockerfile", 8),
    ]


def test_single_stage_image_ships_what_it_builds(scan_tree):
    files = {
        "Cargo.toml": cargo("svc"),
        "src/main.rs": MAIN,
        "Containerfile": 'FROM rust:1.82-alpine\nWORKDIR /w\nCOPY . .\nRUN cargo install --path .\nCMD ["svc"]\n',
    }
    result = scan_tree(files)
    assert rules_of(result) == ["AP001"] and _row(result)["crate"] == "svc"


def test_prebuilt_binary_copied_from_context(scan_tree):
    files = {
        "Cargo.toml": cargo("svc"),
        "src/main.rs": MAIN,
        "Dockerfile": "FROM gcr.io/distroless/static-debian12\nCOPY target/x86_64-unknown-linux-musl/release/svc /svc\n",
    }
    result = scan_tree(files)
    assert [(f.rule, f.location.line) for f in result.findings] == [("AP001", 2)]


def test_builder_with_patched_musl_malloc_counts_as_mimalloc(scan_tree):
    files = {
        "Cargo.toml": cargo("svc"),
        "src/main.rs": MAIN,
        "Dockerfile": "FROM ghcr.io/tweag/rust-alpine-mimalloc:1.82 AS b\nWORKDIR /w\nCOPY . .\n"
        "RUN cargo build --release\nFROM scratch\nCOPY --from=b /w/target/release/svc /svc\n",
    }
    result = scan_tree(files)
    assert rules_of(result) == [] and _row(result)["allocator"] == "mimalloc"


def test_extern_crate_rename(scan_tree):
    files = {
        "Cargo.toml": cargo("svc", MIMALLOC_DEP),
        "src/main.rs": "extern crate mimalloc as mi;\n#[global_allocator]\nstatic G: mi::MiMalloc = mi::MiMalloc;\n"
        + MAIN,
        "Dockerfile": "FROM rust:1.82-alpine AS b\nWORKDIR /w\nCOPY . .\nRUN cargo build --release\n"
        "FROM scratch\nCOPY --from=b /w/target/release/svc /svc\n",
    }
    assert rules_of(scan_tree(files)) == []
