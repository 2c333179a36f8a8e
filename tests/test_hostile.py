"""Hostile trees are normal input: special files and links out of the tree cost a finding.

Each test builds its tree from the bundled musl example and runs the real command in
a subprocess with a deadline, so a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import run_allocpolicy as allocpolicy

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "alpine-no-mimalloc"
SECRET = "TOP-SECRET-LINE-7f3a"

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and symlinks")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLE, root)
    return root


def findings(done: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    assert done.returncode in (0, 1), done.stderr
    assert "internal error" not in done.stderr
    return list(json.loads(done.stdout)["findings"])


@pytest.mark.parametrize("name", ["Dockerfile", "Cargo.toml", "src/main.rs"])
def test_a_fifo_in_place_of_a_file_is_a_finding_not_a_hang(tree: Path, name: str) -> None:
    (tree / name).unlink()
    os.mkfifo(tree / name)
    found = findings(allocpolicy("scan", "--format", "json", ".", cwd=tree))
    assert any(f["path"] == name and "not a regular file" in str(f["message"]) for f in found)


def test_a_link_to_dev_zero_is_not_read(tree: Path) -> None:
    (tree / "Cargo.toml").unlink()
    (tree / "Cargo.toml").symlink_to("/dev/zero")
    found = findings(allocpolicy("scan", "--format", "json", ".", cwd=tree))
    # refused before it is opened, as a link out of the tree; a device would be refused anyway
    assert any(
        f["path"] == "Cargo.toml" and "outside the scanned tree" in str(f["message"]) for f in found
    )


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_a_link_out_of_the_tree_never_shows_the_outside_file(tree: Path, fmt: str) -> None:
    outside = tree.parent / "secret.toml"
    outside.write_text(f'[package]\nname = "{SECRET}"\nversion = "1.0.0\n')  # broken on purpose
    (tree / "Cargo.toml").unlink()
    (tree / "Cargo.toml").symlink_to(outside)
    done = allocpolicy("scan", "--format", fmt, ".", cwd=tree)
    assert done.returncode in (0, 1), done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert "outside the scanned tree" in done.stdout


def test_fix_never_writes_through_a_link_out_of_the_tree(tree: Path) -> None:
    outside = tree.parent / "Cargo.toml"
    shutil.move(tree / "Cargo.toml", outside)
    before = outside.read_bytes()
    (tree / "Cargo.toml").symlink_to(outside)
    done = allocpolicy("fix", ".", cwd=tree)
    assert "internal error" not in done.stderr
    assert outside.read_bytes() == before
    assert (tree / "Cargo.toml").is_symlink()


def test_a_link_inside_the_tree_is_still_followed(tree: Path) -> None:
    shutil.move(tree / "Cargo.toml", tree / "manifest.toml")
    (tree / "Cargo.toml").symlink_to("manifest.toml")
    found = findings(allocpolicy("scan", "--format", "json", ".", cwd=tree))
    assert [f["rule"] for f in found] == ["AP001"]


def by_rule(found: list[dict[str, object]]) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    for f in found:
        out.setdefault(str(f["rule"]), []).append(f)
    return out


def test_what_the_tool_skips_is_an_info_note_that_never_fails_the_build(tree: Path) -> None:
    # a FIFO Dockerfile: the image is unknown, so nothing fails; the note says why
    (tree / "Dockerfile").unlink()
    os.mkfifo(tree / "Dockerfile")
    done = allocpolicy("scan", "--format", "json", ".", cwd=tree)
    found = by_rule(findings(done))
    assert [f["severity"] for f in found["AP903"]] == ["info"]
    assert "AP900" not in found
    assert done.returncode == 0


def test_a_large_generated_source_within_the_cap_is_read(tree: Path) -> None:
    # a 2.5 MB generated data module beside main.rs is ordinary, not an error
    row = "    0x1234_5678_9abc_def0,\n"
    table = "pub static TABLE: [u64; N] = [\n" + row * (2_500_000 // len(row)) + "];\n"
    (tree / "src" / "tables.rs").write_text(table)
    found = by_rule(findings(allocpolicy("scan", "--format", "json", ".", cwd=tree)))
    assert sorted(found) == ["AP001"]


def test_a_file_over_the_configured_cap_is_skipped_with_the_reason(tree: Path) -> None:
    (tree / "allocpolicy.toml").write_text('max-file-size = "1KiB"\n')
    (tree / "src" / "tables.rs").write_text("// data\n" * 200)
    done = allocpolicy("scan", "--format", "json", ".", cwd=tree)
    found = by_rule(findings(done))
    (note,) = found["AP903"]
    assert note["path"] == "src/tables.rs" and note["severity"] == "info"
    assert "over the 1024-byte limit (max-file-size)" in str(note["message"])
    assert done.returncode == 1  # AP001 from the files that were read still stands


@pytest.mark.parametrize("value", ['"100MiB"', "0", '"lots"', "true"])
def test_an_unusable_size_cap_is_a_config_error_naming_the_line(tree: Path, value: str) -> None:
    (tree / "allocpolicy.toml").write_text(f"fail-on = 'error'\nmax-file-size = {value}\n")
    done = allocpolicy("scan", ".", cwd=tree)
    assert done.returncode == 2
    assert "allocpolicy.toml:2: max-file-size must be a size" in done.stderr


def test_toml_nested_deeper_than_cargo_reads_is_malformed_not_an_internal_error(
    tree: Path,
) -> None:
    with open(tree / "Cargo.toml", "a") as fh:
        fh.write("\n[package.metadata]\nx = " + "[" * 500 + "]" * 500 + "\n")
    done = allocpolicy("scan", "--format", "json", ".", cwd=tree)
    (err,) = by_rule(findings(done))["AP900"]
    assert err["line"] == 10 and "nested deeper than 80 levels" in str(err["message"])


def test_a_file_that_fails_to_parse_keeps_its_suppressions(tree: Path) -> None:
    cargo = (tree / "Cargo.toml").read_text()
    broken = "# allocpolicy: ignore[AP004]\n" + cargo + 'serde = "1\n'  # unterminated string
    (tree / "Cargo.toml").write_text(broken)
    found = by_rule(findings(allocpolicy("scan", "--format", "json", ".", cwd=tree)))
    assert "AP902" not in found and "AP900" in found
    allocpolicy("fix", ".", cwd=tree)
    assert (tree / "Cargo.toml").read_text() == broken


def test_no_fix_removes_a_suppression_while_another_file_is_unread(tree: Path) -> None:
    # with Cargo.toml broken nothing is known about the image, so its AP001
    # suppression looks unused; it is reported, but no safe fix deletes it
    dockerfile = "# allocpolicy: ignore[AP001]\n" + (tree / "Dockerfile").read_text()
    (tree / "Dockerfile").write_text(dockerfile)
    (tree / "Cargo.toml").write_text('[package\nname = "orders"\n')
    done = allocpolicy("scan", "--format", "json", ".", cwd=tree)
    (unused,) = by_rule(findings(done))["AP902"]
    assert unused["fix"] is None
    allocpolicy("fix", ".", cwd=tree)
    assert (tree / "Dockerfile").read_text() == dockerfile


# A leaked line: jsonschema's messages quote the value they refuse.
SECRET_POLICY = (
    f"version: 1\nrules:\n  - id: {SECRET}\n    name: a\n    severity: error\n"
    "    subject: binary\n    summary: s\n    when: {fact: libc, eq: musl}\n    message: m\n"
)


def refused(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    return done.stderr


@pytest.mark.parametrize("how", ["dotdot", "absolute", "link"])
def test_a_repository_config_cannot_name_a_policy_outside_the_tree(tree: Path, how: str) -> None:
    outside = tree.parent / "secret.yaml"
    outside.write_text(SECRET_POLICY)
    name = {"dotdot": "../secret.yaml", "absolute": outside.as_posix(), "link": "team.yaml"}[how]
    if how == "link":
        (tree / "team.yaml").symlink_to(outside)
    (tree / "allocpolicy.toml").write_text(f'fail-on = "error"\npolicies = [\n  "{name}",\n]\n')
    err = refused(allocpolicy("scan", ".", cwd=tree))
    assert f"allocpolicy.toml:3: policies: '{name}' is outside the scanned tree" in err


def test_a_config_outside_the_tree_may_name_a_policy_beside_it(tree: Path) -> None:
    org = tree.parent / "org"
    org.mkdir()
    (org / "team.yaml").write_text(SECRET_POLICY.replace(SECRET, "ORG001"))
    (org / "allocpolicy.toml").write_text('policies = ["team.yaml"]\n')
    found = findings(
        allocpolicy(
            "scan", "--format", "json", "--config", str(org / "allocpolicy.toml"), ".", cwd=tree
        )
    )
    assert "ORG001" in {f["rule"] for f in found}


def test_a_policy_named_into_the_tree_is_not_read_through_a_link_out(tree: Path) -> None:
    # the invoker's config is trusted, the tree it points into is not
    outside = tree.parent / "secret.yaml"
    outside.write_text(SECRET_POLICY)
    (tree / "team.yaml").symlink_to(outside)
    config = tree.parent / "allocpolicy.toml"
    config.write_text(f'policies = ["{(tree / "team.yaml").as_posix()}"]\n')
    err = refused(allocpolicy("scan", "--config", str(config), ".", cwd=tree))
    assert "allocpolicy.toml:1: policies: " in err and "is outside the scanned tree" in err


def test_a_policy_linked_within_the_tree_is_read(tree: Path) -> None:
    (tree / "policies").mkdir()
    (tree / "policies/team.yaml").write_text(SECRET_POLICY.replace(SECRET, "TEAM001"))
    (tree / "team.yaml").symlink_to("policies/team.yaml")
    (tree / "allocpolicy.toml").write_text('policies = ["team.yaml"]\n')
    found = findings(allocpolicy("scan", "--format", "json", ".", cwd=tree))
    assert "TEAM001" in {f["rule"] for f in found}


def test_a_fifo_named_allocpolicy_toml_is_an_error_not_a_hang_or_ignored(tree: Path) -> None:
    os.mkfifo(tree / "allocpolicy.toml")
    err = refused(allocpolicy("scan", ".", cwd=tree))
    assert "allocpolicy.toml:1: not a regular file" in err


def test_a_config_linked_out_of_the_tree_is_not_read(tree: Path) -> None:
    outside = tree.parent / "secret.toml"
    outside.write_text(f'fail-on = "{SECRET}"\n')
    (tree / "allocpolicy.toml").symlink_to(outside)
    err = refused(allocpolicy("scan", ".", cwd=tree))
    assert "allocpolicy.toml:1: a link to a file outside the scanned tree" in err


def test_a_relative_root_is_the_current_directory_of_each_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`allocpolicy pre-commit` scans `.`: a process that changes directory (a test run,
    a library caller) must not have every later file refused as outside the old one."""
    from allocpolicy.parsing.text import read_bytes

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Cargo.toml").write_text(name)
        monkeypatch.chdir(tmp_path / name)
        assert read_bytes(Path("Cargo.toml"), root=Path(".")) == name.encode()


@pytest.mark.parametrize("where", [".gitignore", "src/.gitignore"])
def test_a_fifo_gitignore_is_a_finding_not_a_hang(tree: Path, where: str) -> None:
    os.mkfifo(tree / where)  # git itself blocks on it
    found = findings(allocpolicy("scan", "--format", "json", ".", cwd=tree))
    assert any(f["path"] == where and "not a regular file" in str(f["message"]) for f in found)
    assert any(f["rule"] == "AP001" for f in found)  # the scan went on


def test_a_gitignore_linked_to_dev_zero_is_not_followed_as_in_git(tree: Path) -> None:
    (tree / ".gitignore").symlink_to("/dev/zero")
    found = findings(allocpolicy("scan", "--format", "json", ".", cwd=tree))
    assert [f["rule"] for f in found] == ["AP001"]


def test_an_oversized_gitignore_is_an_info_note(tree: Path) -> None:
    (tree / ".gitignore").write_text("Dockerfile\n" + "#" * (2 << 20))
    found = findings(allocpolicy("scan", "--format", "json", ".", cwd=tree))
    assert sorted((f["rule"], f["path"]) for f in found) == [
        ("AP001", "Dockerfile"),  # its patterns are not applied: the Dockerfile is read
        ("AP903", ".gitignore"),  # the tool's own bound, not the repository's error
    ]
