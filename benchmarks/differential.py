"""Behaviour-unchanged check: compare allocpolicy's output at two source trees.

A refactor must not change what users see. This runs the same commands on every
bundled example and every golden ``before/`` tree with the current sources and
with the sources of a base commit (checked out into a temporary git worktree),
and reports each output that differs byte for byte.

    python benchmarks/differential.py            # base: HEAD
    python benchmarks/differential.py --base 1354530

Exit status: 0 when every output is identical, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Each command runs on each tree; {tree} is replaced by the tree's path.
COMMANDS: tuple[tuple[str, ...], ...] = (
    ("scan", "--format", "json", "{tree}"),
    ("scan", "--format", "sarif", "{tree}"),
    ("scan", "--color", "never", "{tree}"),
    ("inventory", "--format", "json", "{tree}"),
    ("fix", "--diff", "{tree}"),
    ("fix", "--diff", "--unsafe-fixes", "{tree}"),
)


def trees() -> list[Path]:
    examples = sorted(p for p in (ROOT / "examples").iterdir() if p.is_dir())
    golden = sorted((ROOT / "tests" / "fixes" / "golden").glob("*/before"))
    return examples + golden


def run(src: Path, args: tuple[str, ...], tree: Path, cache: Path) -> bytes:
    argv = [a.replace("{tree}", str(tree)) for a in args]
    env = dict(os.environ, PYTHONPATH=str(src), NO_COLOR="1")
    # A private cache dir per side: the caches must not carry one side's work to the other.
    env["XDG_CACHE_HOME"] = str(cache)
    done = subprocess.run(
        [sys.executable, "-m", "allocpolicy", *argv],
        cwd=tree,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    out = done.stdout + b"\n--stderr--\n" + done.stderr + f"\n--exit {done.returncode}\n".encode()
    # Paths differ between the two source trees only where they name the tree itself.
    return out.replace(str(src).encode(), b"<src>")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD", help="commit to compare with (default: HEAD)")
    opts = parser.parse_args()
    differ = 0
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), opts.base],
            check=True,
            capture_output=True,
        )
        try:
            for tree in trees():
                for args in COMMANDS:
                    before = run(base / "src", args, tree, Path(tmp) / "cache-base")
                    after = run(ROOT / "src", args, tree, Path(tmp) / "cache-head")
                    if before != after:
                        differ += 1
                        name = tree.relative_to(ROOT)
                        print(f"DIFFERS: allocpolicy {' '.join(args)} on {name}")
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                check=False,
                capture_output=True,
            )
    count = len(trees()) * len(COMMANDS)
    print(f"{count - differ} identical, {differ} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
