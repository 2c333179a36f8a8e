"""Write fixes to disk: atomic, verified, and never over a file that changed meanwhile."""

from __future__ import annotations

import difflib
import os
import stat
import tempfile
from pathlib import Path

from allocpolicy._record import field, record
from allocpolicy.fixes.edits import apply_edits
from allocpolicy.model import Edit
from allocpolicy.parsing.text import ReadError, decode, inside, read_bytes


@record
class FileChange:
    path: str
    before: str
    after: str
    original_bytes: bytes
    bom: bool
    problem: str | None = None

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                fromfile=f"a/{self.path}",
                tofile=f"b/{self.path}",
            )
        )


@record
class WritePlan:
    """What a set of edits would write, file by file, and the files left alone with why."""

    changes: list[FileChange] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # path, why


def plan_writes(root: Path, edits: list[Edit]) -> WritePlan:
    by_path: dict[str, list[Edit]] = {}
    for e in edits:
        by_path.setdefault(e.path, []).append(e)
    result = WritePlan()
    for path, file_edits in sorted(by_path.items()):
        try:
            raw = read_bytes(root / path, root=root)
            src = decode(raw)
        except ReadError as exc:
            result.skipped.append((path, exc.message))
            continue
        after = apply_edits(src.text, file_edits, src.newline)
        problem = _verify(path, after) if _verify(path, src.text) is None else None
        if problem:
            result.skipped.append(
                (path, f"the edited file would not parse ({problem}); left unchanged")
            )
            continue
        if after != src.text:
            result.changes.append(FileChange(path, src.text, after, raw, src.bom))
    return result


def _verify(path: str, text: str) -> str | None:
    name = path.rsplit("/", 1)[-1]
    try:
        if name.endswith(".toml") or name == "config":
            from allocpolicy.parsing.cargo import load_toml

            load_toml(text)
        elif name.endswith(".rs"):
            from allocpolicy.parsing.rust import _parse  # the scanner's own tree-sitter parser

            if _parse(text.encode()).has_error:
                return "Rust syntax error"
        else:
            from allocpolicy.parsing.dockerfile import parse_dockerfile

            parse_dockerfile(text)
    except Exception as exc:  # any parse failure means: do not write
        return str(exc)
    return None


def write(root: Path, change: FileChange) -> str | None:
    """Atomically replace the file; returns why it was not written, or None."""
    target = root / change.path
    if target.is_symlink():
        if not inside(target, root):
            return "a link to a file outside the scanned tree; not written"
        target = target.resolve()  # replace the file the link points to, not the link
    try:
        if target.read_bytes() != change.original_bytes:
            return "changed on disk since it was read; not overwritten"
        mode = stat.S_IMODE(target.stat().st_mode)
    except OSError as exc:
        return f"cannot read: {exc.strerror}"
    data = (b"\xef\xbb\xbf" if change.bom else b"") + change.after.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".allocpolicy", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return f"cannot write: {exc.strerror}"
    return None
