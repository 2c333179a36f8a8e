from __future__ import annotations

import pytest
from helpers import write_tree

from allocpolicy.discovery import discover, is_containerfile


@pytest.mark.parametrize(
    "name",
    [
        "Dockerfile",
        "Containerfile",
        "api.Dockerfile",
        "api.Containerfile",
        "Dockerfile.prod",
        "Containerfile.musl",
        "dockerfile",
    ],
)
def test_containerfile_name_forms(name):
    assert is_containerfile(name)


@pytest.mark.parametrize(
    "name", ["Dockerfile.dockerignore", "README.md", "docker-compose.yml", "Cargo.toml"]
)
def test_not_containerfiles(name):
    assert not is_containerfile(name)


def test_discovery_skips_vendored_and_ignored_trees(tmp_path):
    write_tree(
        tmp_path,
        {
            ".gitignore": "generated/\n*.bak.rs\n",
            "Cargo.toml": "",
            "src/main.rs": "",
            "src/old.bak.rs": "",
            ".cargo/config.toml": "",
            ".cargo/config": "",
            "rust-toolchain.toml": "",
            "deploy/api.Dockerfile": "",
            "target/Dockerfile": "",
            "node_modules/x/Cargo.toml": "",
            ".git/Dockerfile": "",
            "generated/Cargo.toml": "",
        },
    )
    inv = discover(tmp_path, ["deploy/"])
    assert inv.manifests == ["Cargo.toml"]
    assert inv.rust_sources == ["src/main.rs"]
    assert inv.cargo_configs == [".cargo/config", ".cargo/config.toml"]
    assert not any("rust-toolchain.toml" in paths for paths in vars(inv).values())  # never read
    assert inv.containerfiles == []


def test_a_common_gitignore_is_honoured_without_importing_pathspec(tmp_path):
    import subprocess
    import sys

    (tmp_path / ".gitignore").write_text("/target\n**/*.log\nbuild/\n")
    for rel in ("target/Dockerfile", "svc/build/Dockerfile", "svc/Dockerfile", "x.log/Dockerfile"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("FROM scratch\n")
    code = (
        "import sys\nfrom pathlib import Path\nfrom allocpolicy.discovery import discover\n"
        f"print(discover(Path({str(tmp_path)!r})).containerfiles)\n"
        "assert 'pathspec' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['svc/Dockerfile']"


def test_a_fifo_or_huge_gitignore_neither_hangs_nor_floods(tmp_path):
    import os

    write_tree(tmp_path, {"Cargo.toml": '[package]\nname = "a"\n', "src/main.rs": ""})
    os.mkfifo(tmp_path / ".gitignore")
    assert discover(tmp_path, []).manifests == ["Cargo.toml"]
    (tmp_path / ".gitignore").unlink()
    with open(tmp_path / ".gitignore", "wb") as fh:
        fh.write(b"src/\n")
        fh.truncate(9 << 20)  # one 9 MiB line of NULs after the real pattern
    found = discover(tmp_path, [])
    assert found.manifests == ["Cargo.toml"] and found.rust_sources == []
