"""The bounded reader's containment check, which resolves each directory once per scan."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from allocpolicy.parsing.text import ReadError, forget_directories, read_bytes


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "lib.rs").write_text("outside\n")
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "lib.rs").write_text("inside\n")
    return root


def test_a_directory_link_out_of_the_tree_is_refused(tree: Path) -> None:
    (tree / "vendored").symlink_to(tree.parent / "outside")
    with pytest.raises(ReadError, match="outside the scanned tree"):
        read_bytes(tree / "vendored" / "lib.rs", root=tree)


def test_a_relative_path_from_the_tree_root(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    forget_directories()
    assert read_bytes(Path("src/lib.rs"), root=Path(".")) == b"inside\n"
    os.symlink("../../outside/lib.rs", "src/escape.rs")
    with pytest.raises(ReadError, match="outside the scanned tree"):
        read_bytes(Path("src/escape.rs"), root=Path("."))


def test_a_directory_swapped_for_a_link_between_scans_is_seen(tree: Path) -> None:
    forget_directories()
    assert read_bytes(tree / "src" / "lib.rs", root=tree) == b"inside\n"
    (tree / "src" / "lib.rs").unlink()
    (tree / "src").rmdir()
    (tree / "src").symlink_to(tree.parent / "outside")
    forget_directories()  # what each scan does first
    with pytest.raises(ReadError, match="outside the scanned tree"):
        read_bytes(tree / "src" / "lib.rs", root=tree)
