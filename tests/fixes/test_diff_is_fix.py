"""`fix --diff` shows exactly what `fix` writes: the same rounds to the same fixed point.

Each tree is copied twice; `git apply` of the `--diff` output on one copy must give the
tree `fix` leaves in the other, byte for byte, and each fix is announced once.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from fixkit import GOLDEN, cli, snapshot
from helpers import cargo, write_tree

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# A fix that makes another: the rename leaves the static's feature without its
# dependency, which a second round re-gates. The preview must show both rounds.
TWO_ROUNDS = {
    "Cargo.toml": cargo("svc", 'jemallocator = { version = "0.5", optional = true }')
    + '\n[features]\ndefault = ["alloc"]\nalloc = ["jemallocator"]\n',
    "src/main.rs": '#[cfg(feature = "alloc")]\n#[global_allocator]\n'
    "static GLOBAL: jemallocator::Jemalloc = jemallocator::Jemalloc;\nfn main() {}\n",
}


def _trees() -> list[tuple[str, Path | dict[str, str]]]:
    out: list[tuple[str, Path | dict[str, str]]] = [
        (p.name, p) for p in sorted(EXAMPLES.iterdir()) if p.is_dir()
    ]
    out += [(p.name, p / "before") for p in sorted(GOLDEN.iterdir()) if (p / "before").is_dir()]
    return [*out, ("two-rounds", TWO_ROUNDS)]


def _copy(tree: Path | dict[str, str], dest: Path) -> Path:
    if isinstance(tree, Path):
        shutil.copytree(tree, dest)
    else:
        write_tree(dest, tree)
    return dest


@pytest.mark.parametrize(("name", "tree"), _trees(), ids=[n for n, _ in _trees()])
def test_diff_applied_gives_what_fix_writes(tmp_path: Path, name: str, tree) -> None:
    previewed = _copy(tree, tmp_path / "a")
    fixed = _copy(tree, tmp_path / "b")
    before = snapshot(previewed)
    preview = cli("fix", previewed, "--diff", "--unsafe-fixes")
    assert snapshot(previewed) == before, "--diff wrote a file"
    run = cli("fix", fixed, "--unsafe-fixes")
    if preview.out:
        patch = tmp_path / "fix.patch"
        patch.write_text(preview.out, encoding="utf-8")
        subprocess.run(
            ["git", "apply", "--unsafe-paths", "--directory", "", str(patch)],
            cwd=previewed,
            check=True,
            capture_output=True,
        )
    assert snapshot(previewed) == snapshot(fixed)
    announced = [line for line in preview.err.splitlines() if line.startswith("Would fix AP")]
    assert len(announced) == len(set(announced)), preview.err
    assert [a.replace("Would fix", "Fixed", 1) for a in announced] == [
        line for line in run.err.splitlines() if line.startswith("Fixed AP")
    ]
