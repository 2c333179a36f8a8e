"""Shapes from real repositories that once produced false alarms or missed findings."""

from __future__ import annotations

import subprocess

from helpers import MIMALLOC_DEP, STATIC, cargo, rules_of

from allocpolicy.frontdoors.precommit import scan_changed

MAIN = "fn main() {}\n"
ALPINE = (
    "FROM rust:1.82-alpine AS b\nWORKDIR /w\nCOPY . .\nRUN cargo build --release --bin {bin}\n"
    "FROM scratch\nCOPY --from=b /w/target/release/{bin} /{bin}\n"
)


def test_bin_with_custom_path_outside_src_in_full_scan_and_precommit(tmp_path, scan_tree):
    files = {
        "Cargo.toml": cargo("gateway", MIMALLOC_DEP)
        + '\n[[bin]]\nname = "gw"\npath = "cmd/gateway.rs"\n',
        "cmd/gateway.rs": STATIC + MAIN,
        "Dockerfile": ALPINE.format(bin="gw"),
    }
    assert rules_of(scan_tree(files)) == []
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    for changed in ("Dockerfile", "Cargo.toml", "cmd/gateway.rs"):
        assert scan_changed(tmp_path, [changed]).findings == [], changed


def test_allocator_declared_in_a_shared_workspace_library(scan_tree):
    files = {
        "Cargo.toml": '[workspace]\nmembers = ["crates/*", "services/*"]\n\n[workspace.dependencies]\n'
        + MIMALLOC_DEP
        + '\ncommon = { path = "crates/common" }\n',
        "crates/common/Cargo.toml": cargo("common", "mimalloc = { workspace = true }"),
        # a shared crate with more in it than the allocator (one that is only the
        # allocator is the binary's choice by name: test_rust_shapes)
        "crates/common/src/lib.rs": STATIC
        + '\npub fn service_name() -> &\'static str {\n    "api"\n}\n',
        "services/api/Cargo.toml": cargo("api", "common = { workspace = true }"),
        "services/api/src/main.rs": "use common as _;\n" + MAIN,
        "Dockerfile": ALPINE.format(bin="api").replace("--bin api", "-p api"),
    }
    result = scan_tree(files)
    assert rules_of(result) == ["AP009"]  # the library's static is noted, the image is fine
    [row] = [r for r in result.inventory if r["binary"] == "api"]
    assert row["allocator"] == "mimalloc"


def test_windows_only_crt_static_does_not_make_linux_builds_static(scan_tree):
    files = {
        "Cargo.toml": cargo("svc", extra='[package.metadata.allocpolicy]\nprofile = "simple"\n'),
        "src/main.rs": MAIN,
        ".cargo/config.toml": '[target.x86_64-pc-windows-msvc]\nrustflags = ["-C", "target-feature=+crt-static"]\n',
        "Dockerfile": "FROM rust:1.82-bookworm AS b\nWORKDIR /w\nCOPY . .\nRUN cargo build --release\n"
        "FROM gcr.io/distroless/cc-debian12\nCOPY --from=b /w/target/release/svc /svc\n",
    }
    result = scan_tree(files)
    assert rules_of(result) == [] and result.inventory[0]["linkage"] == "dynamic"


def test_build_args_reach_run_commands(scan_tree):
    gated = cargo(
        "svc", 'mimalloc = { version = "0.1", default-features = false, optional = true }'
    )
    files = {
        "Cargo.toml": gated,
        "src/main.rs": '#[cfg(feature = "mimalloc")]\n' + STATIC + MAIN,
        "Dockerfile": "ARG FEATURES=mimalloc\nFROM rust:1.82-alpine AS b\nARG FEATURES\nWORKDIR /w\nCOPY . .\n"
        "RUN cargo build --release --features ${FEATURES}\n"
        "FROM scratch\nCOPY --from=b /w/target/release/svc /svc\n",
    }
    assert rules_of(scan_tree(files)) == []
    missed = (
        "FROM rust:1.82-bookworm AS b\nARG TARGET=x86_64-unknown-linux-musl\nWORKDIR /w\nCOPY . .\n"
        "RUN cargo build --release --target $TARGET && cp target/$TARGET/release/svc /svc\n"
        "FROM scratch\nCOPY --from=b /svc /svc\n"
    )
    files = {"Cargo.toml": cargo("svc"), "src/main.rs": MAIN, "Dockerfile": missed}
    assert rules_of(scan_tree(files)) == ["AP001"]


def test_bench_and_example_statics_are_not_the_shipped_allocator(scan_tree):
    files = {
        "Cargo.toml": cargo("svc", 'tikv-jemallocator = "0.6"')
        + "\n[dev-dependencies]\n"
        + MIMALLOC_DEP
        + "\n",
        "src/main.rs": "#[global_allocator]\nstatic G: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;\n"
        + MAIN,
        "benches/alloc.rs": STATIC,
        "examples/demo.rs": STATIC + MAIN,
        "Dockerfile": ALPINE.format(bin="svc").replace(
            "FROM rust:1.82-alpine", "FROM rust:1.82-bookworm"
        ),
    }
    result = scan_tree(files)
    assert result.inventory[0]["allocator"] == "jemalloc"
    assert "AP006" not in rules_of(result)


def test_empty_and_comment_only_containerfiles(scan_tree):
    result = scan_tree({"Dockerfile": "", "Containerfile": "# nothing yet\n"})
    assert all("internal error" not in f.message for f in result.findings)


def test_cargo_install_root_and_cd_in_run(scan_tree):
    files = {
        "Cargo.toml": cargo("svc"),
        "src/main.rs": MAIN,
        "Dockerfile": "FROM rust:1.82-alpine AS b\nWORKDIR /w\nCOPY . .\nRUN cd /tmp && echo hi\n"
        "RUN cargo install --path . --root /out\nFROM scratch\nCOPY --from=b /out/bin/svc /svc\n",
    }
    result = scan_tree(files)
    assert rules_of(result) == ["AP001"] and result.inventory[0]["crate"] == "svc"


def test_symlinked_preload_library_counts_as_provided(scan_tree):
    files = {
        "Cargo.toml": cargo("svc"),
        "src/main.rs": MAIN,
        "Dockerfile": "FROM rust:1.82-bookworm AS b\nWORKDIR /w\nCOPY . .\nRUN cargo build --release\n"
        "FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y libjemalloc2 && "
        "ln -s /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/libjemalloc.so\n"
        "COPY --from=b /w/target/release/svc /svc\nENV LD_PRELOAD=/usr/lib/libjemalloc.so\n",
    }
    assert "AP007" not in rules_of(scan_tree(files))


RUNTIME = (
    "FROM rust:1.82-bookworm AS b\nWORKDIR /w\nCOPY . .\nRUN cargo build --release\n"
    "FROM {base}\n{extra}COPY --from=b /w/target/release/svc /svc\n{tail}"
)


def test_preload_path_computed_by_the_shell(scan_tree):
    tail = 'ENTRYPOINT ["/bin/sh", "-c", "LD_PRELOAD=/usr/lib/$(uname -m)-linux-gnu/libjemalloc.so.2 exec /svc"]\n'
    files = {
        "Cargo.toml": cargo("svc"),
        "src/main.rs": MAIN,
        "Dockerfile": RUNTIME.format(
            base="debian:bookworm-slim",
            extra="RUN apt-get update && apt-get install -y libjemalloc2\n",
            tail=tail,
        ),
    }
    result = scan_tree(files)
    assert "AP007" not in rules_of(result) and "AP003" not in rules_of(result)
    assert result.inventory[0]["allocator"] == "jemalloc"


def test_distroless_missing_preload_says_copy_not_install(scan_tree):
    tail = "ENV RUST_LOG=info LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 TZ=UTC\n"
    files = {
        "Cargo.toml": cargo("svc"),
        "src/main.rs": MAIN,
        "Dockerfile": RUNTIME.format(base="gcr.io/distroless/cc-debian12", extra="", tail=tail),
    }
    result = scan_tree(files)
    [ap007] = [f for f in result.findings if f.rule == "AP007"]
    assert "no package manager: copy" in ap007.message
    assert "AP011" not in rules_of(result)  # it does not "work here": the library is missing


def test_dynamic_musl_with_a_working_preload_is_not_ap001(scan_tree):
    files = {
        "Cargo.toml": cargo("svc"),
        "src/main.rs": MAIN,
        "Dockerfile": "FROM alpine:3.20 AS b\nRUN apk add --no-cache rust cargo\nWORKDIR /w\nCOPY . .\n"
        "RUN cargo build --release\nFROM alpine:3.20\nRUN apk add --no-cache libgcc mimalloc2\n"
        "COPY --from=b /w/target/release/svc /svc\nENV LD_PRELOAD=/usr/lib/libmimalloc.so.2\n",
    }
    assert rules_of(scan_tree(files)) == ["AP011"]


def test_workspace_dependency_uses_the_workspace_lock(scan_tree):
    files = {
        "Cargo.toml": '[workspace]\nmembers = ["svc"]\n\n[workspace.dependencies]\nmimalloc = "0.1"\n',
        "Cargo.lock": 'version = 3\n[[package]]\nname = "mimalloc"\nversion = "0.1.43"\n',
        "svc/Cargo.toml": cargo("svc", "mimalloc = { workspace = true }"),
        "svc/src/main.rs": STATIC + MAIN,
    }
    [f] = scan_tree(files).findings
    assert (f.rule, f.location.path, f.severity.value) == ("AP004", "Cargo.toml", "info")


def test_custom_target_dir(scan_tree):
    files = {
        "Cargo.toml": cargo("svc"),
        "src/main.rs": MAIN,
        "Dockerfile": "FROM rust:1.82-alpine AS b\nENV CARGO_TARGET_DIR=/cache/t\nWORKDIR /w\nCOPY . .\n"
        "RUN cargo build --release\nFROM scratch\nCOPY --from=b /cache/t/release/svc /svc\n",
        "other.Dockerfile": "FROM rust:1.82 AS b\nWORKDIR /w\nCOPY . .\n"
        "RUN cargo build --release --target x86_64-unknown-linux-musl --target-dir /out\n"
        "FROM scratch\nCOPY --from=b /out/x86_64-unknown-linux-musl/release/svc /svc\n",
    }
    result = scan_tree(files)
    assert sorted((f.rule, f.location.path) for f in result.findings) == [
        ("AP001", "Dockerfile"),
        ("AP001", "other.Dockerfile"),
    ]


def test_preload_path_of_another_architecture(scan_tree):
    tail = "ENV LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2\n"
    files = {
        "Cargo.toml": cargo("svc"),
        "src/main.rs": MAIN,
        "Dockerfile": RUNTIME.format(
            base="debian:bookworm-slim",
            extra="RUN apt-get update && apt-get install -y libjemalloc2\n",
            tail=tail,
        ).replace("FROM debian:bookworm-slim", "FROM --platform=linux/arm64 debian:bookworm-slim"),
    }
    [f] = [f for f in scan_tree(files).findings if f.rule == "AP007"]
    assert "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2" in f.message
    files["Dockerfile"] = files["Dockerfile"].replace("--platform=linux/arm64 ", "")
    assert "AP007" not in rules_of(scan_tree(files))


def test_allocator_type_reexported_by_a_local_crate(scan_tree):
    files = {
        "Cargo.toml": '[workspace]\nmembers = ["common", "svc"]\n',
        "common/Cargo.toml": cargo("common", MIMALLOC_DEP),
        "common/src/lib.rs": "pub use mimalloc::MiMalloc;\n",
        "svc/Cargo.toml": cargo("svc", 'common = { path = "../common" }'),
        "svc/src/main.rs": "use common::MiMalloc;\n#[global_allocator]\nstatic GLOBAL: MiMalloc = MiMalloc;\n"
        + MAIN,
        "Dockerfile": "FROM rust:1-alpine AS b\nWORKDIR /w\nCOPY . .\nRUN cargo build --release -p svc\n"
        "FROM alpine:3.20\nCOPY --from=b /w/target/release/svc /svc\n",
    }
    result = scan_tree(files)
    assert rules_of(result) == [] and result.inventory[0]["allocator"] == "mimalloc"


def test_bin_using_its_own_packages_lib_reexport(scan_tree):
    files = {
        "Cargo.toml": cargo("app", MIMALLOC_DEP),
        "src/lib.rs": "pub use mimalloc::MiMalloc;\n",
        "src/main.rs": "use app::MiMalloc;\n#[global_allocator]\nstatic GLOBAL: MiMalloc = MiMalloc;\n"
        + MAIN,
        "Dockerfile": "FROM rust:1-alpine AS b\nWORKDIR /w\nCOPY . .\nRUN cargo build --release\n"
        "FROM alpine:3.20\nCOPY --from=b /w/target/release/app /app\n",
    }
    assert rules_of(scan_tree(files)) == []


def test_plain_build_at_a_workspace_root_builds_default_members(scan_tree):
    files = {
        "Cargo.toml": '[workspace]\nmembers = ["crates/*"]\ndefault-members = ["crates/api"]\n',
        "crates/api/Cargo.toml": cargo("api", MIMALLOC_DEP),
        "crates/api/src/main.rs": STATIC + MAIN,
        "crates/cli/Cargo.toml": cargo("cli"),
        "crates/cli/src/main.rs": MAIN,
        "Dockerfile": "FROM rust:1-alpine AS b\nWORKDIR /w\nCOPY . .\nRUN cargo build --release\n"
        "FROM alpine:3.20\nCOPY --from=b /w/target/release/api /api\nCOPY --from=b /w/target/release/cli /cli\n",
    }
    result = scan_tree(files)
    assert rules_of(result) == []  # cli is not built by this command; api is on mimalloc
    assert {r["crate"] for r in result.inventory} == {"api", None}
