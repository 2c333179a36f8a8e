"""Writing fixes: verified, atomic, mode-preserving, never over a file changed meanwhile."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from fixkit import cli, write

from allocpolicy.fixes import apply as apply_mod
from allocpolicy.fixes.apply import plan_writes as plan
from allocpolicy.fixes.edits import insert_before, replace_lines

GLIBC = (
    "FROM rust:1.82-bookworm AS build\nWORKDIR /app\nCOPY . .\nRUN cargo build --release\n\n"
    'FROM gcr.io/distroless/cc-debian12\nCOPY --from=build /app/target/release/app /app\nCMD ["/app"]\n'
)
WIRED = (
    "#[global_allocator]\nstatic GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\n\nfn main() {}\n"
)
CARGO = '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nmimalloc = "0.1"\n'


def _ap004_repo(root: Path) -> Path:
    return write(root, {"Dockerfile": GLIBC, "src/main.rs": WIRED, "Cargo.toml": CARGO})


def test_file_mode_is_preserved(tmp_path: Path) -> None:
    root = _ap004_repo(tmp_path)
    os.chmod(root / "Cargo.toml", 0o640)
    assert cli("fix", root).rc == 0
    assert "default-features = false" in (root / "Cargo.toml").read_text()
    assert stat.S_IMODE((root / "Cargo.toml").stat().st_mode) == 0o640


def test_no_temporary_file_is_left_behind(tmp_path: Path) -> None:
    root = _ap004_repo(tmp_path)
    cli("fix", root)
    assert sorted(p.name for p in root.iterdir()) == ["Cargo.toml", "Dockerfile", "src"]


def test_a_file_changed_between_read_and_write_is_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _ap004_repo(tmp_path)
    real_plan = apply_mod.plan_writes

    def plan_then_someone_edits(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = real_plan(*args, **kwargs)
        (root / "Cargo.toml").write_text(CARGO + 'serde = "1"\n')
        return result

    monkeypatch.setattr("allocpolicy.commands.fix.plan_writes", plan_then_someone_edits)
    run = cli("fix", root)
    assert "Cargo.toml: changed on disk since it was read; not overwritten" in run.err
    assert (root / "Cargo.toml").read_text() == CARGO + 'serde = "1"\n'


def test_write_refuses_a_changed_file_directly(tmp_path: Path) -> None:
    root = write(tmp_path, {"Cargo.toml": "a = 1\n"})
    change = plan(root, [replace_lines("Cargo.toml", 1, 1, ["a = 2"])]).changes[0]
    (root / "Cargo.toml").write_text("a = 3\n")
    assert apply_mod.write(root, change) == "changed on disk since it was read; not overwritten"
    assert (root / "Cargo.toml").read_text() == "a = 3\n"


def test_an_edit_that_would_break_the_toml_is_refused(tmp_path: Path) -> None:
    root = write(tmp_path, {"Cargo.toml": "a = 1\nb = 2\n"})
    p = plan(root, [replace_lines("Cargo.toml", 2, 2, ["b = "])])
    assert p.changes == [] and "would not parse" in p.skipped[0][1]


def test_a_file_that_already_failed_to_parse_is_not_the_edits_fault(tmp_path: Path) -> None:
    # a macro-heavy or nightly-syntax main.rs that tree-sitter cannot read still gets its fix
    root = write(tmp_path, {"src/main.rs": "fn main() {\n"})
    p = plan(root, [insert_before("src/main.rs", 1, ["use std::fmt;"])])
    assert p.skipped == [] and p.changes[0].after == "use std::fmt;\nfn main() {\n"


def test_an_edit_that_would_break_the_rust_is_refused(tmp_path: Path) -> None:
    root = write(tmp_path, {"src/main.rs": "fn main() {}\n"})
    p = plan(root, [replace_lines("src/main.rs", 1, 1, ["fn main() {"])])
    assert p.changes == [] and "Rust syntax error" in p.skipped[0][1]


def test_bom_and_crlf_survive_the_write(tmp_path: Path) -> None:
    root = write(tmp_path, {"Cargo.toml": b"\xef\xbb\xbfa = 1\r\nb = 2"})
    change = plan(root, [replace_lines("Cargo.toml", 2, 2, ["b = 3"])]).changes[0]
    assert apply_mod.write(root, change) is None
    assert (root / "Cargo.toml").read_bytes() == b"\xef\xbb\xbfa = 1\r\nb = 3"


def test_a_symlinked_file_is_written_through_the_link(tmp_path: Path) -> None:
    root = write(tmp_path, {"real/Cargo.toml": "a = 1\n"})
    (root / "Cargo.toml").symlink_to(root / "real" / "Cargo.toml")
    change = plan(root, [replace_lines("Cargo.toml", 1, 1, ["a = 2"])]).changes[0]
    assert apply_mod.write(root, change) is None
    assert (root / "Cargo.toml").is_symlink()
    assert (root / "real" / "Cargo.toml").read_text() == "a = 2\n"


def test_a_multi_file_fix_is_not_applied_half_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # AP003's fix edits Cargo.toml and src/main.rs; if main.rs cannot take its edit,
    # the Cargo.toml half (an unwired dependency) must not land either.
    root = write(
        tmp_path,
        {
            "Dockerfile": GLIBC,
            "src/main.rs": "fn main() {}\n",
            "Cargo.toml": CARGO.replace('mimalloc = "0.1"', 'anyhow = "1"'),
        },
    )
    before = (root / "Cargo.toml").read_bytes()
    real_verify = apply_mod._verify
    monkeypatch.setattr(
        apply_mod,
        "_verify",
        lambda path, text: (
            "refused by the test"
            if path.endswith(".rs") and "global_allocator" in text
            else real_verify(path, text)
        ),
    )
    run = cli("fix", root)
    assert (root / "Cargo.toml").read_bytes() == before
    assert "it also edits src/main.rs" in run.err


def _musl_example(tmp_path: Path) -> Path:
    from fixkit import EXAMPLES, copy_tree

    return copy_tree(EXAMPLES / "alpine-no-mimalloc", tmp_path / "repo")


def test_a_failed_write_puts_back_every_file_already_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # AP001's fix adds the dependency to Cargo.toml and the static to src/main.rs; when
    # main.rs cannot be replaced, the Cargo.toml already replaced gets its bytes back.
    root = _musl_example(tmp_path)
    before = {p: (root / p).read_bytes() for p in ("Cargo.toml", "src/main.rs")}
    real_replace = os.replace

    def disk_full_for_main_rs(src: str, dst: str | Path) -> None:
        if str(dst).endswith("main.rs"):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(apply_mod.os, "replace", disk_full_for_main_rs)
    run = cli("fix", root)
    assert {p: (root / p).read_bytes() for p in before} == before
    assert "Fixed AP001" not in run.err
    assert "src/main.rs: cannot write: No space left on device" in run.err
    assert "restored unchanged: Cargo.toml" in run.err
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) == []
    assert run.rc == 1  # AP001 still stands


def test_a_file_changed_after_planning_stops_the_whole_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _musl_example(tmp_path)
    cargo = (root / "Cargo.toml").read_bytes()
    real_plan = apply_mod.plan_writes

    def plan_then_edit_main(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = real_plan(*args, **kwargs)
        with open(root / "src/main.rs", "a") as fh:
            fh.write("// edited meanwhile\n")
        return result

    monkeypatch.setattr("allocpolicy.commands.fix.plan_writes", plan_then_edit_main)
    run = cli("fix", root)
    assert (root / "Cargo.toml").read_bytes() == cargo  # its half of the fix did not land
    assert (root / "src/main.rs").read_text().endswith("// edited meanwhile\n")
    assert "global_allocator" not in (root / "src/main.rs").read_text()
    assert "src/main.rs: changed on disk since it was read; not overwritten" in run.err
    assert "Fixed AP001" not in run.err


def test_write_all_writes_every_file_when_nothing_fails(tmp_path: Path) -> None:
    root = write(tmp_path, {"a/Cargo.toml": "a = 1\n", "b/Cargo.toml": "b = 1\n"})
    p = plan(
        root,
        [
            replace_lines("a/Cargo.toml", 1, 1, ["a = 2"]),
            replace_lines("b/Cargo.toml", 1, 1, ["b = 2"]),
        ],
    )
    out = apply_mod.write_all(root, p.changes)
    assert out.ok and out.written == ["a/Cargo.toml", "b/Cargo.toml"]
    assert (root / "a/Cargo.toml").read_text() == "a = 2\n"
    assert (root / "b/Cargo.toml").read_text() == "b = 2\n"
