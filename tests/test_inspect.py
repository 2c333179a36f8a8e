"""`allocpolicy inspect` end to end, on real binaries (tests/real_binaries.py).

The facts each binary must give were read off it with readelf, nm and strings (see
tests/parsing/test_elf.py); here the command line, the findings, the config, the
directory walk and the JSON contract.
"""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest
import real_binaries as rb
from helpers import run_allocpolicy


def inspect_json(path: Path, cwd: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = run_allocpolicy("inspect", str(path), "--format", "json", *args, cwd=cwd)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def rules(report: dict[str, Any]) -> list[str]:
    return [f["rule"] for f in report["findings"]]


def test_musl_ruff_is_ap001_and_fails_the_run(ruff_musl: Path, tmp_path: Path) -> None:
    code, report = inspect_json(ruff_musl, tmp_path)
    assert code == 1
    (art,) = report["artifacts"]
    assert (art["kind"], art["path"], art["platform"]) == ("elf", str(ruff_musl), "linux/x86_64")
    (b,) = art["binaries"]
    assert (b["path"], b["linkage"], b["libc"], b["rust"], b["allocator"]) == (
        "ruff",
        "static-pie",
        "musl",
        True,
        "jemalloc",
    )
    assert b["interpreter"] is None and b["needed"] == [] and b["preload"] is None
    assert rules(report) == ["AP001"]
    finding = report["findings"][0]
    assert finding["severity"] == "error" and finding["path"] == "ruff"
    assert "jemalloc" in finding["message"] and "mimalloc" in finding["message"]
    assert report["summary"] == {"errors": 1, "warnings": 0, "infos": 0, "binaries": 1}


def test_glibc_ruff_with_jemalloc_has_no_finding(ruff_gnu: Path, tmp_path: Path) -> None:
    code, report = inspect_json(ruff_gnu, tmp_path)
    (b,) = report["artifacts"][0]["binaries"]
    assert (b["linkage"], b["libc"], b["allocator"]) == ("dynamic", "glibc", "jemalloc")
    assert b["interpreter"] == "/lib64/ld-linux-x86-64.so.2"
    assert code == 0 and report["findings"] == []


def test_biome_from_npm_musl_fails_and_glibc_passes_in_one_folder(tmp_path: Path) -> None:
    # a folder of release binaries, as a CI job unpacks them: biome's npm builds for
    # x86_64, both jemalloc; only the musl (static-pie) one breaks AP001
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "biome-musl").write_bytes(rb.npm(*rb.BIOME_MUSL).read_bytes())
    (dist / "biome-gnu").write_bytes(rb.npm(*rb.BIOME_GNU).read_bytes())
    code, report = inspect_json(dist, tmp_path)
    facts = {
        b["path"]: (b["linkage"], b["libc"], b["allocator"])
        for b in report["artifacts"][0]["binaries"]
    }
    assert facts == {
        "biome-gnu": ("dynamic", "glibc", "jemalloc"),
        "biome-musl": ("static-pie", "musl", "jemalloc"),
    }
    assert [(f["rule"], f["path"]) for f in report["findings"]] == [("AP001", "biome-musl")]
    assert code == 1


def test_dynamic_glibc_hello_world_on_the_system_allocator_is_ap003(tmp_path: Path) -> None:
    code, report = inspect_json(rb.hello(static=False), tmp_path)
    assert rules(report) == ["AP003"]
    assert report["findings"][0]["severity"] == "warning"
    assert code == 0  # a warning is under the default --fail-on error
    code, _ = inspect_json(rb.hello(static=False), tmp_path, "--fail-on", "warning")
    assert code == 1


def test_static_glibc_hello_world_is_ap001_like_the_source_rules(tmp_path: Path) -> None:
    # the source side reports a static glibc build on the system allocator twice too:
    # AP001 (static) and AP003 (glibc, system allocator)
    code, report = inspect_json(rb.hello(static=True), tmp_path)
    assert sorted(rules(report)) == ["AP001", "AP003"] and code == 1


def test_a_rust_shared_object_is_not_reported_as_a_binary(tmp_path: Path) -> None:
    # oxlint's musl addon: Rust, musl, mimalloc; but AP001 and AP003 are about executables
    code, report = inspect_json(rb.npm(*rb.OXLINT_MUSL), tmp_path)
    (b,) = report["artifacts"][0]["binaries"]
    assert (b["type"], b["libc"], b["allocator"]) == ("shared-object", "musl", "mimalloc")
    assert code == 0 and report["findings"] == []


def test_simple_default_profile_silences_ap003(tmp_path: Path) -> None:
    (tmp_path / "allocpolicy.toml").write_text('default-profile = "simple"\n')
    _, report = inspect_json(rb.hello(static=False), tmp_path)
    assert report["findings"] == []


def test_config_disables_and_reweights_rules(ruff_musl: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "org.toml"
    cfg.write_text('[rules]\nseverity = { AP001 = "warning" }\n')
    code, report = inspect_json(ruff_musl, tmp_path, "--config", str(cfg))
    assert code == 0 and [f["severity"] for f in report["findings"]] == ["warning"]
    cfg.write_text('[rules]\ndisable = ["AP001"]\n')
    code, report = inspect_json(ruff_musl, tmp_path, "--config", str(cfg))
    assert code == 0 and report["findings"] == []


def test_a_user_policy_can_target_artifact_binaries(ruff_gnu: Path, tmp_path: Path) -> None:
    (tmp_path / "no-jemalloc.yaml").write_text(
        "version: 1\n"
        "rules:\n"
        "  - id: ORG001\n"
        "    name: no-jemalloc-in-images\n"
        "    severity: error\n"
        "    subject: artifact_binary\n"
        "    summary: The images ship no jemalloc.\n"
        "    when: {fact: allocator, eq: jemalloc}\n"
        '    message: "`{path}` links jemalloc ({allocator_confidence} confidence)"\n'
    )
    (tmp_path / "allocpolicy.toml").write_text('policies = ["no-jemalloc.yaml"]\n')
    code, report = inspect_json(ruff_gnu, tmp_path)
    assert rules(report) == ["ORG001"] and code == 1
    assert report["findings"][0]["message"] == "`ruff` links jemalloc (medium confidence)"


def rootfs(root: Path, ruff_musl: Path) -> Path:
    """An extracted root filesystem: binaries, links, a malformed ELF, text files."""
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/lib/x86_64-linux-gnu").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "usr/bin/ruff").write_bytes(ruff_musl.read_bytes())
    (root / "usr/bin/hello").write_bytes(rb.hello(static=False).read_bytes())
    lib = root / "usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
    lib.write_bytes(rb.deb(*rb.LIBJEMALLOC).read_bytes())
    (root / "usr/bin/broken").write_bytes(b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\xff" * 48)
    (root / "etc/os-release").write_text("ID=debian\n")
    (root / "usr/bin/script.sh").write_text("#!/bin/sh\necho hi\n")
    # links are never followed: one to the machine's own binaries, one inside the tree
    (root / "usr/bin/ls").symlink_to("/bin/ls")
    (root / "usr/bin/ruff-link").symlink_to("ruff")
    (root / "usr/lib/escape").symlink_to("/usr/lib", target_is_directory=True)
    os.mkfifo(root / "etc/fifo")  # never opened
    return root


def test_a_rootfs_directory_is_walked_within_bounds(ruff_musl: Path, tmp_path: Path) -> None:
    root = rootfs(tmp_path / "rootfs", ruff_musl)
    code, report = inspect_json(root, tmp_path)
    (art,) = report["artifacts"]
    assert art["kind"] == "directory" and art["platform"] == "linux/x86_64"
    found = {b["path"]: b for b in art["binaries"]}
    assert sorted(found) == [
        "usr/bin/hello",
        "usr/bin/ruff",
        "usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
    ]
    lib = found["usr/lib/x86_64-linux-gnu/libjemalloc.so.2"]
    assert lib["type"] == "shared-object" and lib["preload_target"] is True
    assert lib["allocator"] == "jemalloc"
    by_rule = {(f["rule"], f["path"]) for f in report["findings"]}
    assert by_rule == {
        ("AP001", "usr/bin/ruff"),
        ("AP003", "usr/bin/hello"),
        ("AP900", "usr/bin/broken"),
    }
    assert code == 1


def test_per_path_ignores_apply_to_paths_inside_the_artifact(
    ruff_musl: Path, tmp_path: Path
) -> None:
    root = rootfs(tmp_path / "rootfs", ruff_musl)
    (tmp_path / "allocpolicy.toml").write_text(
        '[per-path-ignores]\n"usr/bin/ruff" = ["AP001"]\n"usr/bin/broken" = ["AP900"]\n'
    )
    _, report = inspect_json(root, tmp_path)
    assert rules(report) == ["AP003"]


def test_a_config_inside_the_rootfs_is_data_not_configuration(
    ruff_musl: Path, tmp_path: Path
) -> None:
    root = rootfs(tmp_path / "rootfs", ruff_musl)
    (root / "allocpolicy.toml").write_text('[rules]\ndisable = ["AP001"]\n')
    _, report = inspect_json(root, tmp_path)
    assert "AP001" in rules(report)


def test_text_output_lists_the_facts_and_their_evidence(ruff_musl: Path, tmp_path: Path) -> None:
    done = run_allocpolicy("inspect", str(ruff_musl), cwd=tmp_path)
    assert done.returncode == 1
    out = done.stdout
    assert "ruff: executable, static-pie, libc musl, Rust, allocator jemalloc" in out
    assert "<jemalloc>: " in out and "ruff:1:1: AP001 [error]" in out
    assert out.rstrip().endswith("Found 1 error (1 binary inspected).")


def test_a_tarball_that_is_not_an_image_is_exit_2(ruff_musl: Path, tmp_path: Path) -> None:
    tar = tmp_path / "image.tar"
    with tarfile.open(tar, "w") as tf:
        tf.add(ruff_musl, arcname="ruff")
    done = run_allocpolicy("inspect", str(tar), cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert "neither a docker save archive nor an OCI image layout" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("marker", "bad"), [("oci-layout", "index.json"), ("manifest.json", "manifest.json")]
)
def test_an_image_layout_directory_without_a_valid_manifest_is_ap900(
    tmp_path: Path, marker: str, bad: str
) -> None:
    layout = tmp_path / "layout"
    (layout / "blobs/sha256").mkdir(parents=True)
    (layout / marker).write_text("{}\n")
    code, report = inspect_json(layout, tmp_path)
    assert code == 1 and rules(report) == ["AP900"]
    assert report["findings"][0]["path"] == bad


@pytest.mark.parametrize("name", ["missing", "notes.txt"])
def test_what_is_neither_an_elf_file_nor_a_directory_is_a_usage_error(
    tmp_path: Path, name: str
) -> None:
    (tmp_path / "notes.txt").write_text("hello\n")
    done = run_allocpolicy("inspect", name, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"allocpolicy: error: {name}:")


def test_an_empty_directory_has_no_binaries_and_no_findings(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, report = inspect_json(tmp_path / "empty", tmp_path)
    assert code == 0 and report["artifacts"][0]["binaries"] == [] and report["findings"] == []
    assert report["artifacts"][0]["platform"] is None


def test_a_link_named_on_the_command_line_is_followed(ruff_gnu: Path, tmp_path: Path) -> None:
    (tmp_path / "ruff").symlink_to(ruff_gnu)
    code, report = inspect_json(tmp_path / "ruff", tmp_path)
    (b,) = report["artifacts"][0]["binaries"]
    assert b["allocator"] == "jemalloc" and code == 0


def test_a_binary_over_the_size_cap_is_an_ap903_note(
    ruff_musl: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from allocpolicy.engine import inspect
    from allocpolicy.parsing import artifact

    root = tmp_path / "dist"
    root.mkdir()
    (root / "small").write_bytes(rb.hello(static=False).read_bytes())
    (root / "ruff").write_bytes(ruff_musl.read_bytes())
    monkeypatch.setattr(artifact, "MAX_MEMBER_BYTES", 8 * 1024 * 1024)
    monkeypatch.chdir(tmp_path)
    result = inspect(str(root))
    assert [b.path for b in result.artifacts[0].binaries] == ["small"]
    notes = [(f.rule, f.severity.value, f.location.path) for f in result.findings]
    assert ("AP903", "info", "ruff") in notes
    assert (
        "over the 8388608-byte limit"
        in next(f for f in result.findings if f.rule == "AP903").message
    )


def test_a_tree_deeper_than_the_walk_goes_is_noted_not_a_crash(tmp_path: Path) -> None:
    from allocpolicy.parsing.artifact import MAX_DEPTH

    root = tmp_path / "deep"
    deep = root.joinpath(*["d"] * (MAX_DEPTH + 5))
    deep.mkdir(parents=True)
    (root / "app").write_bytes(rb.hello(static=False).read_bytes())
    (deep / "app").write_bytes(rb.hello(static=False).read_bytes())
    code, report = inspect_json(root, tmp_path)
    (art,) = report["artifacts"]
    assert [b["path"] for b in art["binaries"]] == ["app"]
    (skip,) = art["skipped"]
    assert code == 0  # the note is info, the hello-world's AP003 a warning
    assert skip["reason"] == f"deeper than {MAX_DEPTH} directories; skipped"
    assert ("AP903", skip["path"]) in {(f["rule"], f["path"]) for f in report["findings"]}
