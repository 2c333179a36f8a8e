"""Helpers for the fix tests: run the real CLI on real files in temp dirs."""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from allocpolicy.cli import main
from allocpolicy.commands.scan import scan

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
EXAMPLES = HERE.parents[1] / "examples"

MIMALLOC_DEP = 'mimalloc = { version = "0.1", default-features = false }'


@dataclass
class Run:
    rc: int
    out: str
    err: str


def cli(*argv: str | Path) -> Run:
    """`allocpolicy ARGV` in-process, with stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return Run(rc, out.getvalue(), err.getvalue())


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write files verbatim (no dedent: line endings and whitespace are the test)."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        path.write_bytes(data)
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "golden.toml"
    }


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, dirs_exist_ok=True)
    return dst


def findings(root: Path) -> list[tuple[str, str, int]]:
    return [(f.rule, f.location.path, f.location.line) for f in scan(root).findings]


def rules(root: Path) -> list[str]:
    return [f.rule for f in scan(root).findings]


def toml_of(data: bytes) -> dict:
    text = data.decode("utf-8").removeprefix("\ufeff")
    return tomllib.loads(text)


def instructions(data: bytes) -> list[tuple[str, str]]:
    """A Dockerfile as (keyword, args) pairs: what BuildKit would run."""
    from allocpolicy.parsing.dockerfile import parse_dockerfile
    from allocpolicy.parsing.text import decode

    doc = parse_dockerfile(decode(data).text)
    return [(i.keyword, i.value) for i in doc.instructions]
