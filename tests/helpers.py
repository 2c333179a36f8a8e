"""Shared test helpers: real files in temp dirs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from allocpolicy.engine import ScanResult

MIMALLOC_DEP = 'mimalloc = { version = "0.1", default-features = false }'
STATIC = "#[global_allocator]\nstatic GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\n"


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return root


def cargo(name: str, deps: str = "", extra: str = "") -> str:
    return f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n{extra}\n[dependencies]\n{deps}\n'


def rules_of(result: ScanResult) -> list[str]:
    return [f.rule for f in result.findings]


def run_allocpolicy(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m allocpolicy ARGS` in a subprocess with a deadline, so a hang fails the
    test instead of stalling the suite (hostile-input tests: FIFOs, alias bombs...)."""
    return subprocess.run(
        [sys.executable, "-m", "allocpolicy", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def main_without_importing(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`allocpolicy ARGS` in a fresh interpreter that exits 3 if it imported `module`
    (start-up cost: what a short run must not load); otherwise main's exit code."""
    code = (
        "import sys\nfrom allocpolicy.cli import main\n"
        f"code = main({list(args)!r})\n"
        f"if {module!r} in sys.modules:\n"
        f"    print({module!r} + ' imported', file=sys.stderr)\n"
        "    sys.exit(3)\n"
        "sys.exit(code)"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
