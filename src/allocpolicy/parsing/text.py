"""Reading scanned files: size limits, BOM, encodings, binary detection."""

from __future__ import annotations

import os
import stat
from functools import lru_cache
from pathlib import Path

from allocpolicy._record import record

# Manifests and Dockerfiles are small, but generated Rust data files of a few MiB are
# real; past this the file is skipped (an info finding), never read whole. Configurable.
MAX_BYTES = 8 * 1024 * 1024


class ReadError(Exception):
    """Why a file was not read. `skipped`: the tool's own bounds (size, file type, a
    link out of the tree, permissions) kept it out, so its facts are unknown; otherwise
    the content is malformed (binary, not UTF-8), which cargo or BuildKit reject too."""

    def __init__(self, message: str, line: int = 1, skipped: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.skipped = skipped


@record(frozen=True)
class SourceText:
    text: str  # BOM stripped, line endings kept
    bom: bool
    newline: str  # "\r\n" when the file uses CRLF, else "\n"

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


# Files `fix --diff` has edited in memory (absolute path -> bytes): its later rounds
# scan them as `fix` would after writing, so the preview is what `fix` writes.
_OVERLAY: dict[str, bytes] = {}

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def read_bytes(path: Path, limit: int = MAX_BYTES, root: Path | None = None) -> bytes:
    """A regular file's bytes, at most `limit` of them; with `root`, only from inside it.

    Hostile trees are normal input (a pull request from anyone): a FIFO must not block
    the scan, a link to /dev/zero must not fill memory, and a link out of the tree must
    not show another file's lines. So the file is opened without blocking, checked on
    the open descriptor, and read no further than the limit whatever its size claims.
    """
    if root is not None and not _within(path, root):
        raise ReadError("a link to a file outside the scanned tree; not read", skipped=True)
    if _OVERLAY:
        staged = _OVERLAY.get(os.path.abspath(path))
        if staged is not None:
            if len(staged) > limit:
                raise ReadError(
                    f"file is {len(staged)} bytes, over the {limit}-byte limit (max-file-size); "
                    "skipped",
                    skipped=True,
                )
            return staged
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except PermissionError as exc:
        raise ReadError(
            f"cannot read file: permission denied ({exc.strerror})", skipped=True
        ) from None
    except OSError as exc:
        raise ReadError(f"cannot read file: {exc.strerror or exc}", skipped=True) from None
    try:
        return _read_regular(fd, limit)
    except OSError as exc:
        raise ReadError(f"cannot read file: {exc.strerror or exc}", skipped=True) from None
    finally:
        os.close(fd)


class overlaid:
    """Within the block, reads of these files (absolute paths) give these bytes, not the
    disk's. Nothing is written; the overlay is gone when the block ends."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = {os.path.abspath(p): b for p, b in files.items()}

    def __enter__(self) -> None:
        _OVERLAY.update(self.files)

    def __exit__(self, *exc: object) -> None:
        _OVERLAY.clear()


def _read_regular(fd: int, limit: int) -> bytes:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise ReadError("not a regular file (a FIFO, socket or device); not read", skipped=True)
    if info.st_size > limit:
        raise ReadError(
            f"file is {info.st_size} bytes, over the {limit}-byte limit (max-file-size); skipped",
            skipped=True,
        )
    chunks, size = [], 0
    while size <= limit:
        chunk = os.read(fd, min(1 << 20, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:  # it grew while we read it
        raise ReadError(
            f"file is over the {limit}-byte limit (max-file-size); skipped", skipped=True
        )
    return b"".join(chunks)


@lru_cache(maxsize=8)
def _real_root(root: str) -> str:
    return os.path.realpath(root)


def inside(path: Path, root: Path) -> bool:
    """Whether `path`, its links followed, is `root` or below it."""
    # keyed by the absolute root: `.` is another directory once the process changes directory
    real, top = os.path.realpath(path), _real_root(os.path.abspath(root))
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def _within(path: Path, root: Path) -> bool:
    """`inside()` for a scan's reads, each directory resolved once per scan.

    realpath lstat()s every component of every path: a third of a warm scan of a
    5 000-file workspace. A scan reads thousands of files from a few hundred
    directories, so only the last component is looked at per file (a link there takes
    the full resolution); `forget_directories()` drops what one scan learnt.
    """
    # Relative paths are resolved against the working directory, which a scan keeps.
    full = os.fspath(path)
    head, name = os.path.split(full)
    if name in ("", ".", ".."):
        return inside(path, root)
    try:
        is_link = stat.S_ISLNK(os.lstat(full).st_mode)
    except OSError:
        is_link = False  # missing: the open that follows says so
    if is_link:
        return inside(path, root)
    real, top = os.path.join(_real_dir(head or "."), name), _real_dir(os.fspath(root))
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


@lru_cache(maxsize=4096)
def _real_dir(path: str) -> str:
    return os.path.realpath(path)


def forget_directories() -> None:
    """Start a scan with no resolved directory kept: the tree may have changed since."""
    _real_dir.cache_clear()


def decode(data: bytes) -> SourceText:
    if b"\0" in data[:8192]:
        raise ReadError("binary file (contains NUL bytes); skipped")
    bom = data.startswith(b"\xef\xbb\xbf")
    if bom:
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ReadError(f"not valid UTF-8 (byte {exc.start})", line) from None
    newline = "\r\n" if "\r\n" in text else "\n"
    return SourceText(text=text, bom=bom, newline=newline)


def read_text(path: Path, limit: int = MAX_BYTES) -> SourceText:
    return decode(read_bytes(path, limit))
