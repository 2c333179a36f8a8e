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

    @property
    def data(self) -> bytes:
        """The bytes written for `after`: UTF-8, with the file's BOM kept."""
        return (b"\xef\xbb\xbf" if self.bom else b"") + self.after.encode("utf-8")

    def diff(self) -> str:
        """A unified diff `git apply` and `patch` take: of the file as it is (a BOM is
        part of its first line), and a last line without a newline marked as diff(1)
        marks it, not glued to the next line of the patch."""
        bom = "\ufeff" if self.bom else ""
        lines = difflib.unified_diff(
            (bom + self.before).splitlines(keepends=True),
            (bom + self.after).splitlines(keepends=True),
            fromfile=f"a/{self.path}",
            tofile=f"b/{self.path}",
        )
        return "".join(
            line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
            for line in lines
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
        # An edit is refused when it breaks a file that parsed; the original is parsed
        # only then (a file that already failed is not the edit's fault).
        problem = _verify(path, after)
        if problem and _verify(path, src.text) is not None:
            problem = None
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


@record
class WriteOutcome:
    """What a transaction did: every file written, or none (restored where needed)."""

    written: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # path, why
    restored: list[str] = field(default_factory=list)  # replaced, then put back after a failure

    @property
    def ok(self) -> bool:
        return not self.failed


@record
class _Staged:
    change: FileChange
    target: Path
    tmp: str


def write_all(root: Path, changes: list[FileChange]) -> WriteOutcome:
    """Write every change or none: a multi-file fix (dependency + `#[global_allocator]`)
    that lands half-way leaves a crate that does not build.

    Each new content is staged first in a temporary file beside its target; if any
    cannot be staged (a link out of the tree, a file changed since it was read, a full
    disk), nothing is replaced. Then the targets are replaced one by one, each checked
    again just before; if one fails, the ones already replaced get their old bytes back.
    """
    out = WriteOutcome()
    staged: list[_Staged] = []
    try:
        for change in changes:
            try:
                staged.append(_stage(root, change))
            except _NotWritten as exc:
                out.failed.append((change.path, exc.why))
        if out.failed:
            return out
        for i, item in enumerate(staged):
            try:
                _replace(root, item)
            except _NotWritten as exc:
                out.failed.append((item.change.path, exc.why))
                out.restored = _restore(staged[:i], out)
                out.written = []
                return out
            out.written.append(item.change.path)
        return out
    finally:
        for item in staged:
            _unlink(item.tmp)


def write(root: Path, change: FileChange) -> str | None:
    """Replace one file atomically; returns why it was not written, or None."""
    out = write_all(root, [change])
    return out.failed[0][1] if out.failed else None


class _NotWritten(Exception):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _target(root: Path, change: FileChange) -> Path:
    target = root / change.path
    if target.is_symlink():
        if not inside(target, root):
            raise _NotWritten("a link to a file outside the scanned tree; not written")
        target = target.resolve()  # replace the file the link points to, not the link
    return target


def _unchanged(root: Path, target: Path, change: FileChange) -> None:
    changed = _NotWritten("changed on disk since it was read; not overwritten")
    try:
        if target.stat().st_size != len(change.original_bytes):
            raise changed
        now = read_bytes(target, len(change.original_bytes), root=root)
    except OSError as exc:
        raise _NotWritten(f"cannot read: {exc.strerror}") from None
    except ReadError as exc:  # grew past its old size meanwhile, or became a FIFO...
        raise changed if "limit" in exc.message else _NotWritten(exc.message) from None
    if now != change.original_bytes:
        raise changed


def _stage(root: Path, change: FileChange) -> _Staged:
    target = _target(root, change)
    _unchanged(root, target, change)
    try:
        return _Staged(change, target, _beside(target, change.data))
    except OSError as exc:
        raise _NotWritten(f"cannot write: {exc.strerror}") from None


def _beside(target: Path, data: bytes) -> str:
    """A temporary file next to `target` holding `data`, synced, with target's mode."""
    mode = stat.S_IMODE(target.stat().st_mode)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".allocpolicy", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
    except OSError:
        _unlink(tmp)
        raise
    return tmp


def _replace(root: Path, item: _Staged) -> None:
    _unchanged(root, item.target, item.change)
    try:
        os.replace(item.tmp, item.target)
    except OSError as exc:
        raise _NotWritten(f"cannot write: {exc.strerror}") from None


def _restore(done: list[_Staged], out: WriteOutcome) -> list[str]:
    """Put the original bytes back into every file already replaced."""
    restored = []
    for item in done:
        try:
            _put(item.target, item.change.original_bytes)
            restored.append(item.change.path)
        except OSError as exc:
            out.failed.append((item.change.path, f"could not be restored: {exc.strerror}"))
    return restored


def _put(target: Path, data: bytes) -> None:
    tmp = _beside(target, data)
    try:
        os.replace(tmp, target)
    finally:
        _unlink(tmp)


def _unlink(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass
