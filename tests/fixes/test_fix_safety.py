"""Fixes never stack allocators, never break manifests, and the fix loop stops."""

from __future__ import annotations

from helpers import MIMALLOC_DEP, STATIC, cargo, write_tree

from allocpolicy.cli import main


def test_unwired_dependency_next_to_a_wired_allocator_gets_no_second_static(tmp_path, capsys):
    write_tree(
        tmp_path,
        {
            "Cargo.toml": cargo("svc", MIMALLOC_DEP + '\ntikv-jemallocator = "0.6"'),
            "src/main.rs": '#[cfg_attr(not(target_env = "msvc"), global_allocator)]\n'
            "static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\nfn main() {}\n",
        },
    )
    before = (tmp_path / "src/main.rs").read_text()
    main(["fix", str(tmp_path), "--unsafe-fixes"])
    assert (tmp_path / "src/main.rs").read_text() == before


def test_replacing_an_allocator_named_by_features_is_not_offered(tmp_path, capsys):
    manifest = cargo(
        "svc",
        'tikv-jemallocator = { version = "0.6", optional = true }',
        extra='[features]\ndefault = ["jemalloc"]\njemalloc = ["dep:tikv-jemallocator"]\n',
    )
    write_tree(
        tmp_path,
        {
            "Cargo.toml": manifest,
            "src/main.rs": '#[cfg(feature = "jemalloc")]\n#[global_allocator]\n'
            "static G: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;\nfn main() {}\n",
            "Dockerfile": "FROM rust:1.82-alpine AS b\nWORKDIR /w\nCOPY . .\nRUN cargo build --release\n"
            "FROM scratch\nCOPY --from=b /w/target/release/svc /svc\n",
        },
    )
    main(["fix", str(tmp_path), "--unsafe-fixes"])
    assert (tmp_path / "Cargo.toml").read_text() == manifest


def test_fix_reports_each_change_and_terminates(tmp_path, capsys):
    write_tree(
        tmp_path,
        {"Cargo.toml": cargo("svc", 'mimalloc = "0.1"'), "src/main.rs": STATIC + "fn main() {}\n"},
    )
    assert main(["fix", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "Fixed AP004 at Cargo.toml:7" in err
    assert main(["fix", str(tmp_path)]) == 0
    assert "Fixed" not in capsys.readouterr().err


def test_cfg_alignment_also_gates_the_use_line(tmp_path, capsys):
    write_tree(
        tmp_path,
        {
            "Cargo.toml": cargo("svc")
            + "\n[target.'cfg(target_env = \"musl\")'.dependencies]\n"
            + MIMALLOC_DEP
            + "\n",
            "src/main.rs": "use mimalloc::MiMalloc;\n\n#[global_allocator]\nstatic GLOBAL: MiMalloc = MiMalloc;\nfn main() {}\n",
        },
    )
    main(["fix", str(tmp_path)])
    assert (tmp_path / "src/main.rs").read_text() == (
        '#[cfg(target_env = "musl")]\nuse mimalloc::MiMalloc;\n\n#[cfg(target_env = "musl")]\n'
        "#[global_allocator]\nstatic GLOBAL: MiMalloc = MiMalloc;\nfn main() {}\n"
    )
    assert main(["scan", str(tmp_path)]) == 0


def test_trixie_preload_fix_swaps_the_package_too(tmp_path, capsys):
    write_tree(
        tmp_path,
        {
            "Cargo.toml": cargo("svc"),
            "src/main.rs": "fn main() {}\n",
            "Dockerfile": "FROM rust:1.90-trixie AS b\nWORKDIR /w\nCOPY . .\nRUN cargo build --release\n"
            "FROM debian:trixie-slim\nRUN apt-get update && apt-get install -y libmimalloc2.0\n"
            "COPY --from=b /w/target/release/svc /svc\n"
            "ENV LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2\n",
        },
    )
    main(["fix", str(tmp_path), "--unsafe-fixes", "--rule", "AP007"])
    text = (tmp_path / "Dockerfile").read_text()
    assert "apt-get install -y libmimalloc3\n" in text and "libmimalloc.so.3" in text
    main(["scan", str(tmp_path), "--format", "json"])
    assert '"AP007"' not in capsys.readouterr().out
