from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

# The fix tests share fixkit.py; tests/ is on the path, this folder is not.
sys.path.insert(0, str(Path(__file__).parent))
from cargo_stubs import Cargo  # after the path is set


@pytest.fixture(scope="session")
def cargo(tmp_path_factory: pytest.TempPathFactory) -> Cargo:
    """One CARGO_HOME for the session: the stub source, nothing of the user's ~/.cargo
    (cargo_stubs.py says why each tree still gets its own target dir)."""
    if shutil.which("cargo") is None:
        pytest.skip("cargo is not installed")
    return Cargo.create(tmp_path_factory.mktemp("cargo"))


@pytest.fixture(scope="session")
def trees(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("trees")
