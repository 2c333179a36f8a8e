from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import write_tree

from allocpolicy.commands.scan import scan
from allocpolicy.engine import ScanResult


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep the pre-commit word cache of test repositories out of the user's ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))


@pytest.fixture
def repo(tmp_path: Path) -> Callable[[dict[str, str | bytes]], Path]:
    def make(files: dict[str, str | bytes]) -> Path:
        return write_tree(tmp_path, files)

    return make


@pytest.fixture
def scan_tree(tmp_path: Path) -> Callable[..., ScanResult]:
    def run(files: dict[str, str | bytes], **kwargs: object) -> ScanResult:
        write_tree(tmp_path, files)
        return scan(tmp_path, **kwargs)  # type: ignore[arg-type]

    return run


# The real ruff binaries (tests/real_binaries.py fetches and caches them), shared by the
# ELF reader's tests and inspect's end-to-end tests.
@pytest.fixture(scope="module")
def ruff_musl() -> Path:
    import real_binaries

    return real_binaries.ruff("musllinux_1_2_x86_64")


@pytest.fixture(scope="module")
def ruff_gnu() -> Path:
    import real_binaries

    return real_binaries.ruff("manylinux_2_17_x86_64")
