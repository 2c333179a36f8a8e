"""End to end: a repository on disk in, findings out; one case per rule and per tricky shape."""

from __future__ import annotations

from helpers import MIMALLOC_DEP, STATIC, cargo, rules_of, write_tree

ALPINE_BUILD = """
FROM rust:1.82-alpine AS build
WORKDIR /app
COPY . .
RUN cargo build --release

FROM scratch
COPY --from=build /app/target/release/svc /svc
ENTRYPOINT ["/svc"]
"""
MAIN = "fn main() {}\n"


def test_ap001_fires_on_alpine_build_without_mimalloc(scan_tree):
    result = scan_tree(
        {"Cargo.toml": cargo("svc"), "src/main.rs": MAIN, "Dockerfile": ALPINE_BUILD}
    )
    [f] = result.findings
    assert (f.rule, f.location.path, f.location.line) == ("AP001", "Dockerfile", 1)
    assert "x86_64-unknown-linux-musl" in f.message and f.fix is not None


def test_ap001_silent_when_mimalloc_is_wired(scan_tree):
    result = scan_tree(
        {
            "Cargo.toml": cargo("svc", MIMALLOC_DEP),
            "src/main.rs": STATIC + MAIN,
            "Dockerfile": ALPINE_BUILD,
        }
    )
    assert rules_of(result) == []


def test_ap001_reports_jemalloc_on_musl(scan_tree):
    result = scan_tree(
        {
            "Cargo.toml": cargo("svc", 'tikv-jemallocator = "0.6"'),
            "src/main.rs": "#[global_allocator]\nstatic A: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;\n"
            + MAIN,
            "Dockerfile": ALPINE_BUILD,
        }
    )
    assert rules_of(result) == ["AP001"]
    assert "jemalloc allocator" in result.findings[0].message


def test_allocator_only_in_a_comment_does_not_count(scan_tree):
    src = (
        "// #[global_allocator]\n// static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\n"
        + MAIN
    )
    result = scan_tree({"Cargo.toml": cargo("svc"), "src/main.rs": src, "Dockerfile": ALPINE_BUILD})
    assert rules_of(result) == ["AP001"]


def test_glibc_builder_with_musl_target_is_musl(scan_tree):
    dockerfile = """
    FROM rust:1.82-bookworm AS build
    WORKDIR /app
    COPY . .
    RUN rustup target add x86_64-unknown-linux-musl && \\
        cargo build --release --target x86_64-unknown-linux-musl
    FROM gcr.io/distroless/static-debian12
    COPY --from=build /app/target/x86_64-unknown-linux-musl/release/svc /svc
    """
    result = scan_tree({"Cargo.toml": cargo("svc"), "src/main.rs": MAIN, "Dockerfile": dockerfile})
    [f] = result.findings
    assert f.rule == "AP001" and f.location.line == 7  # the COPY naming the musl target


def test_arg_in_from_and_build_args_from_config(scan_tree, tmp_path):
    dockerfile = """
    ARG BUILDER=rust:1.82-bookworm
    FROM ${BUILDER} AS build
    WORKDIR /app
    COPY . .
    RUN cargo build --release
    FROM debian:bookworm-slim
    COPY --from=build /app/target/release/svc /svc
    """
    files = {"Cargo.toml": cargo("svc"), "src/main.rs": MAIN, "Dockerfile": dockerfile}
    assert rules_of(scan_tree(files)) == ["AP003"]  # glibc default: system allocator
    (tmp_path / "allocpolicy.toml").write_text('[build-args]\nBUILDER = "rust:1.82-alpine"\n')
    assert rules_of(scan_tree({})) == ["AP001"]


def test_heredoc_run_is_understood(scan_tree):
    dockerfile = """
    # syntax=docker/dockerfile:1
    FROM rust:1.82-bookworm AS build
    WORKDIR /app
    COPY . .
    RUN <<EOT
      set -e
      cargo build --release --target x86_64-unknown-linux-musl
    EOT
    FROM scratch
    COPY --from=build /app/target/x86_64-unknown-linux-musl/release/svc /svc
    """
    result = scan_tree({"Cargo.toml": cargo("svc"), "src/main.rs": MAIN, "Dockerfile": dockerfile})
    assert rules_of(result) == ["AP001"]


def test_cargo_chef_pipeline(scan_tree):
    dockerfile = """
    FROM lukemathwalker/cargo-chef:latest-rust-1-alpine AS chef
    WORKDIR /app
    FROM chef AS planner
    COPY . .
    RUN cargo chef prepare --recipe-path recipe.json
    FROM chef AS builder
    COPY --from=planner /app/recipe.json recipe.json
    RUN cargo chef cook --release --recipe-path recipe.json
    COPY . .
    RUN cargo build --release --bin svc
    FROM alpine:3.20 AS runtime
    COPY --from=builder /app/target/release/svc /usr/local/bin/svc
    """
    result = scan_tree({"Cargo.toml": cargo("svc"), "src/main.rs": MAIN, "Dockerfile": dockerfile})
    assert rules_of(result) == ["AP001"]
    assert result.inventory[0]["crate"] == "svc"


def test_workspace_with_two_images_one_wrong(scan_tree):
    files = {
        "Cargo.toml": '[workspace]\nmembers = ["services/*"]\n\n[workspace.dependencies]\n'
        + MIMALLOC_DEP
        + "\n",
        "services/good/Cargo.toml": cargo("good", "mimalloc = { workspace = true }"),
        "services/good/src/main.rs": STATIC + MAIN,
        "services/bad/Cargo.toml": cargo("bad"),
        "services/bad/src/main.rs": MAIN,
        "services/good/Dockerfile": ALPINE_BUILD.replace("svc", "good").replace(
            "COPY . .", "COPY . .\nWORKDIR /app/services/good"
        ),
        "services/bad/Dockerfile": ALPINE_BUILD.replace("svc", "bad").replace(
            "RUN cargo build --release", "RUN cargo build --release -p bad"
        ),
    }
    result = scan_tree(files)
    assert [(f.rule, f.location.path) for f in result.findings] == [
        ("AP001", "services/bad/Dockerfile")
    ]


def test_feature_gated_allocator_with_and_without_feature(scan_tree, tmp_path):
    manifest = cargo(
        "svc",
        'mimalloc = { version = "0.1", default-features = false, optional = true }',
        extra='[features]\nfast-alloc = ["dep:mimalloc"]\n',
    )
    src = '#[cfg(feature = "fast-alloc")]\n' + STATIC + MAIN
    without = scan_tree({"Cargo.toml": manifest, "src/main.rs": src, "Dockerfile": ALPINE_BUILD})
    assert rules_of(without) == ["AP001"]
    with_feature = ALPINE_BUILD.replace("--release", "--release --features fast-alloc")
    assert rules_of(scan_tree({"Dockerfile": with_feature})) == []


def test_renamed_crate_and_use_alias(scan_tree):
    files = {
        "Cargo.toml": cargo(
            "svc", 'mi = { package = "mimalloc", version = "0.1", default-features = false }'
        ),
        "src/main.rs": "use mi::MiMalloc as Fast;\n#[global_allocator]\nstatic G: Fast = Fast;\n"
        + MAIN,
        "Dockerfile": ALPINE_BUILD,
    }
    assert rules_of(scan_tree(files)) == []


def test_crlf_and_bom_files(scan_tree):
    files = {
        "Cargo.toml": b"\xef\xbb\xbf"
        + cargo("svc", 'mimalloc = "0.1"').replace("\n", "\r\n").encode(),
        "src/main.rs": (STATIC + MAIN).replace("\n", "\r\n").encode(),
        "Dockerfile": b"\xef\xbb\xbf" + ALPINE_BUILD.lstrip().replace("\n", "\r\n").encode(),
    }
    result = scan_tree(files)
    assert [(f.rule, f.location.line) for f in result.findings] == [("AP004", 7)]


def test_malformed_manifest_next_to_good_crate(scan_tree):
    files = {
        "good/Cargo.toml": cargo("svc"),
        "good/src/main.rs": MAIN,
        "good/Dockerfile": ALPINE_BUILD,
        "broken/Cargo.toml": '[package]\nname = "broken\n',
    }
    result = scan_tree(files)
    assert sorted((f.rule, f.location.path, f.location.line) for f in result.findings) == [
        ("AP001", "good/Dockerfile", 1),
        ("AP900", "broken/Cargo.toml", 2),
    ]


def test_non_rust_images_stay_silent(scan_tree):
    files = {
        "web/Dockerfile": 'FROM node:20-alpine\nWORKDIR /app\nCOPY . .\nRUN npm ci\nCMD ["node", "index.js"]\n',
        "py/Containerfile": "FROM python:3.12-slim\nENV LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2\n",
        "mystery/Dockerfile": "FROM registry.example.com/base:7\nRUN make\n",
    }
    assert rules_of(scan_tree(files)) == []


def test_ap002_ld_preload_on_static_binary(scan_tree):
    dockerfile = (
        ALPINE_BUILD.replace("FROM scratch", "FROM alpine:3.20\nRUN apk add --no-cache mimalloc2")
        + "ENV LD_PRELOAD=/usr/lib/libmimalloc.so.2\n"
    )
    result = scan_tree(
        {
            "Cargo.toml": cargo("svc", MIMALLOC_DEP),
            "src/main.rs": STATIC + MAIN,
            "Dockerfile": dockerfile,
        }
    )
    [f] = result.findings
    assert f.rule == "AP002" and "statically linked" in f.message


def test_ap002_silent_for_dynamic_musl_from_alpine_rust_package(scan_tree):
    dockerfile = """
    FROM alpine:3.20 AS build
    RUN apk add --no-cache rust cargo
    WORKDIR /app
    COPY . .
    RUN cargo build --release
    FROM alpine:3.20
    RUN apk add --no-cache libgcc mimalloc2
    COPY --from=build /app/target/release/svc /svc
    ENV LD_PRELOAD=/usr/lib/libmimalloc.so.2
    """
    result = scan_tree({"Cargo.toml": cargo("svc"), "src/main.rs": MAIN, "Dockerfile": dockerfile})
    assert "AP002" not in rules_of(result)
    assert result.inventory[0]["linkage"] == "dynamic"


def test_ap003_and_simple_profile(scan_tree):
    dockerfile = ALPINE_BUILD.replace("rust:1.82-alpine", "rust:1.82-bookworm").replace(
        "scratch", "gcr.io/distroless/cc-debian12"
    )
    result = scan_tree({"Cargo.toml": cargo("svc"), "src/main.rs": MAIN, "Dockerfile": dockerfile})
    assert rules_of(result) == ["AP003"]
    simple = cargo("svc", extra='[package.metadata.allocpolicy]\nprofile = "simple"\n')
    assert rules_of(scan_tree({"Cargo.toml": simple})) == []


def test_ap003_counts_ld_preload_as_an_allocator_and_ap011_notes_it(scan_tree):
    dockerfile = (
        ALPINE_BUILD.replace("rust:1.82-alpine", "rust:1.82-bookworm").replace(
            "FROM scratch",
            "FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y libmimalloc2.0",
        )
        + "ENV LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2\n"
    )
    result = scan_tree({"Cargo.toml": cargo("svc"), "src/main.rs": MAIN, "Dockerfile": dockerfile})
    assert rules_of(result) == ["AP011"]


def test_ap004_fires_and_is_info_with_new_lock(scan_tree):
    files = {"Cargo.toml": cargo("svc", 'mimalloc = "0.1"'), "src/main.rs": STATIC + MAIN}
    [f] = scan_tree(files).findings
    assert (f.rule, f.severity.value) == ("AP004", "warning")
    lock = 'version = 3\n\n[[package]]\nname = "mimalloc"\nversion = "0.1.43"\n'
    [f] = scan_tree({"Cargo.lock": lock}).findings
    assert (f.rule, f.severity.value) == ("AP004", "info") and "0.1.43" in f.message


def test_ap005_unwired_and_override_feature(scan_tree):
    files = {"Cargo.toml": cargo("svc", MIMALLOC_DEP), "src/main.rs": MAIN}
    assert rules_of(scan_tree(files)) == ["AP005"]
    over = cargo(
        "svc", 'mimalloc = { version = "0.1", default-features = false, features = ["override"] }'
    )
    assert rules_of(scan_tree({"Cargo.toml": over})) == []


def test_ap006_static_ungated_dep_musl_only(scan_tree):
    files = {
        "Cargo.toml": cargo("svc", extra="")
        + "\n[target.'cfg(target_env = \"musl\")'.dependencies]\n"
        + MIMALLOC_DEP
        + "\n",
        "src/main.rs": STATIC + MAIN,
    }
    [f] = scan_tree(files).findings
    assert (
        f.rule == "AP006" and f.location.path == "src/main.rs" and "fails to compile" in f.message
    )


def test_ap006_silent_when_gates_agree(scan_tree):
    files = {
        "Cargo.toml": cargo("svc")
        + "\n[target.'cfg(target_env = \"musl\")'.dependencies]\n"
        + MIMALLOC_DEP
        + "\n",
        "src/main.rs": '#[cfg(target_env = "musl")]\n' + STATIC + MAIN,
    }
    assert rules_of(scan_tree(files)) == []


_SWITCHED = (
    'mimalloc = { version = "0.1", default-features = false, optional = true }',
    '[features]\ndefault = ["mimalloc"]\nmimalloc = ["dep:mimalloc"]\nno-mimalloc = []\n',
)


def test_ap006_a_static_without_its_crate_when_defaults_are_off_fails_to_compile(scan_tree):
    files = {
        "Cargo.toml": cargo("svc", _SWITCHED[0], extra=_SWITCHED[1]),
        "src/main.rs": '#[cfg(not(feature = "no-mimalloc"))]\n' + STATIC + MAIN,
    }
    [f] = [f for f in scan_tree(files).findings if f.rule == "AP006"]
    assert "with no default features has the static but not the crate" in f.message


def test_ap006_an_opt_out_switch_leaving_the_crate_unused_is_the_users_choice(scan_tree):
    # all-features turns the switch on: mimalloc is compiled but not used, as asked
    files = {
        "Cargo.toml": cargo("svc", _SWITCHED[0], extra=_SWITCHED[1]),
        "src/main.rs": '#[cfg(all(feature = "mimalloc", not(feature = "no-mimalloc")))]\n'
        + STATIC
        + MAIN,
        "Dockerfile": "FROM rust:1.82-bookworm AS b\nWORKDIR /w\nCOPY . .\nRUN cargo build --release\n"
        "FROM debian:bookworm-slim\nCOPY --from=b /w/target/release/svc /svc\n",
    }
    assert "AP006" not in rules_of(scan_tree(files))


def test_ap007_missing_and_wrong_path(scan_tree):
    base = ALPINE_BUILD.replace("rust:1.82-alpine", "rust:1.82-bookworm").replace(
        "FROM scratch", "FROM debian:bookworm-slim"
    )
    files = {
        "Cargo.toml": cargo("svc"),
        "src/main.rs": MAIN,
        "Dockerfile": base + "ENV LD_PRELOAD=/usr/lib/libmimalloc.so\n",
    }
    result = scan_tree(files)
    ap007 = [f for f in result.findings if f.rule == "AP007"]
    assert len(ap007) == 1 and "libmimalloc2.0" in ap007[0].message
    wrong = base.replace(
        "FROM debian:bookworm-slim",
        "FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y libmimalloc2.0",
    )
    result = scan_tree({"Dockerfile": wrong + "ENV LD_PRELOAD=/usr/lib/libmimalloc.so.2\n"})
    [f] = [f for f in result.findings if f.rule == "AP007"]
    assert "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2" in f.message


def test_ap008_and_ap010(scan_tree):
    files = {
        "Cargo.toml": cargo(
            "svc",
            'jemallocator = "0.5"',
            extra='[package.metadata.allocpolicy]\nprofile = "long-running"\n',
        ),
        "src/main.rs": "#[global_allocator]\nstatic A: jemallocator::Jemalloc = jemallocator::Jemalloc;\n"
        + MAIN,
    }
    assert rules_of(scan_tree(files)) == ["AP008"]
    files["Cargo.toml"] = cargo(
        "svc", MIMALLOC_DEP, extra='[package.metadata.allocpolicy]\nprofile = "long-running"\n'
    )
    files["src/main.rs"] = STATIC + MAIN
    [f] = scan_tree(files).findings
    assert f.rule == "AP010" and f.location.line == 6


def test_ap009_global_allocator_in_library(scan_tree):
    files = {"Cargo.toml": cargo("lib-only", MIMALLOC_DEP), "src/lib.rs": STATIC}
    assert rules_of(scan_tree(files)) == ["AP009"]


def test_ap901_unknown_base_image_note(scan_tree):
    dockerfile = ALPINE_BUILD.replace("FROM scratch", "FROM registry.example.com/runtime:1")
    result = scan_tree({"Cargo.toml": cargo("svc"), "src/main.rs": MAIN, "Dockerfile": dockerfile})
    assert sorted(rules_of(result)) == ["AP001", "AP901"]


def test_suppressions_and_unused_ones(scan_tree):
    dockerfile = "# allocpolicy: ignore[AP001]\n" + ALPINE_BUILD.lstrip()
    files = {"Cargo.toml": cargo("svc"), "src/main.rs": MAIN, "Dockerfile": dockerfile}
    assert rules_of(scan_tree(files)) == []
    files = {
        "Cargo.toml": cargo("svc", 'mimalloc = "0.1" # allocpolicy: ignore[AP004]'),
        "src/main.rs": STATIC + MAIN,
    }
    assert rules_of(scan_tree(files)) == [
        "AP902"
    ]  # the Dockerfile's AP001 suppression is stale now
    files["Cargo.toml"] = cargo("svc", MIMALLOC_DEP + "  # allocpolicy: ignore[AP004]")
    found = [(f.rule, f.location.path, f.location.line) for f in scan_tree(files).findings]
    assert found == [("AP902", "Cargo.toml", 7), ("AP902", "Dockerfile", 1)]


def test_rust_suppression_above_item(scan_tree):
    files = {
        "Cargo.toml": cargo("lib-only", MIMALLOC_DEP),
        "src/lib.rs": "// allocpolicy: ignore[AP009]\n" + STATIC,
    }
    assert rules_of(scan_tree(files)) == []


def test_gitignored_and_target_dirs_are_skipped(scan_tree):
    files = {
        ".gitignore": "vendor/\n",
        "vendor/x/Cargo.toml": "not toml [",
        "target/Cargo.toml": "[",
        "Cargo.toml": cargo("svc"),
        "src/main.rs": MAIN,
    }
    assert rules_of(scan_tree(files)) == []


def test_invalid_cfg_target_key_is_a_parse_error_with_line(scan_tree):
    files = {
        "Cargo.toml": cargo("svc")
        + "\n[target.'cfg(all(unix'.dependencies]\n"
        + MIMALLOC_DEP
        + "\n",
        "src/main.rs": MAIN,
    }
    [f] = [f for f in scan_tree(files).findings if f.rule == "AP900"]
    assert f.location.line == 9 and "invalid cfg" in f.message


def test_ap006_static_whose_crate_is_no_dependency(scan_tree):
    files = {"Cargo.toml": cargo("svc"), "src/main.rs": STATIC + MAIN}
    [f] = scan_tree(files).findings
    assert f.rule == "AP006" and "no dependency provides crate `mimalloc`" in f.message


def test_dotted_key_dependency_is_reported_on_its_own_line(scan_tree):
    files = {
        "Cargo.toml": cargo("svc", 'serde = "1"\nmimalloc.version = "0.1"'),
        "src/main.rs": STATIC + MAIN,
    }
    [f] = scan_tree(files).findings
    assert (f.rule, f.location.line) == ("AP004", 8)


def test_image_level_suppression_above_the_final_from(scan_tree):
    dockerfile = (
        "FROM rust:1.82 AS b\nWORKDIR /w\nCOPY . .\nRUN cargo build --release --target x86_64-unknown-linux-musl\n"
        "# allocpolicy: ignore[AP001]\nFROM scratch\nCOPY --from=b /w/target/x86_64-unknown-linux-musl/release/svc /svc\n"
    )
    assert (
        rules_of(
            scan_tree({"Cargo.toml": cargo("svc"), "src/main.rs": MAIN, "Dockerfile": dockerfile})
        )
        == []
    )


def test_a_comment_mentioning_the_attribute_does_not_load_the_rust_scanner(tmp_path):
    import subprocess
    import sys

    write_tree(
        tmp_path,
        {
            "Cargo.toml": cargo("svc"),
            "src/main.rs": "// add a #[global_allocator] here later\nfn main() {}\n",
            "Dockerfile": "FROM rust:1.82-alpine\nCOPY . .\nRUN cargo build --release\n",
        },
    )
    code = (
        "import sys\nfrom allocpolicy.commands.scan import scan\n"
        f"result = scan(__import__('pathlib').Path({str(tmp_path)!r}), with_fixes=False)\n"
        "print(sorted(f.rule for f in result.findings))\n"
        "assert 'allocpolicy.parsing.rust' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "AP001" in proc.stdout
