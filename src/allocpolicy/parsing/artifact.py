"""Built artifacts as sets of files: one ELF file or a directory, read within bounds.

`inspect` sees every kind of artifact through `Artifact`: its members (path, size)
and a way to open one for reading. A directory (an extracted root filesystem, a folder
of binaries) is walked without following links, with caps on the number of files
looked at and on the size of one file; only regular files that begin with the ELF
magic are members. Tarballs and OCI layouts plug in here as other `Artifact`s.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from allocpolicy._record import field, record

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, BinaryIO

ELF_MAGIC = b"\x7fELF"
# The PATH a container's program is looked up in when its image sets none (Docker's and
# BuildKit's default for Linux containers).
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# An extracted rootfs has tens of thousands of files; past these caps the rest is
# reported as skipped, never read.
MAX_FILES = 50_000  # directory entries looked at
MAX_DEPTH = 64  # a rootfs is a dozen levels deep; a hostile one is not walked forever
MAX_MEMBER_BYTES = 512 * 1024 * 1024  # one binary; pyelftools reads only what it seeks to


class ArtifactError(Exception):
    """The path cannot be inspected at all (missing, or not an artifact): exit 2."""


@record(frozen=True)
class Member:
    """One file of an artifact: its path inside it (posix) and its size."""

    path: str
    size: int


@record(frozen=True)
class Skipped:
    """A file the bounds kept out, and why (AP903)."""

    path: str
    reason: str


@record
class Artifact:
    """A set of files with paths. `kind` is the JSON contract's: elf | directory."""

    kind: str
    path: str  # as the user named it
    root: Path  # the file itself (elf), or the directory
    members: list[Member] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    # images (parsing.image): the platform, the finding path prefix when an image has
    # several, malformed files (AP900), the config and layered filesystem, the reader
    platform: str | None = None
    prefix: str = ""
    errors: list[tuple[str, str]] = field(default_factory=list)
    image: Any = None
    opener: Any = None

    def open(self, member: Member) -> BinaryIO:
        """A seekable binary stream of the member (the caller closes it)."""
        if self.opener is not None:
            return self.opener(member)  # type: ignore[no-any-return]
        full = self.root if self.kind == "elf" else self.root / member.path
        return _open_regular(full)


def open_artifacts(path: str) -> list[Artifact]:
    """The artifacts at `path`: one per platform of an image, else open_artifact's one.
    `-` is a tarball on stdin, spooled to a temporary file first."""
    from allocpolicy.parsing.image import is_image, open_image, spool_stdin

    if path == "-":
        spooled = spool_stdin()
        try:
            if not is_image(spooled):
                raise ArtifactError("-: stdin is not a docker save tarball or an OCI layout tar")
            return open_image(path, spooled)
        finally:
            os.unlink(spooled)  # the open tar keeps its data until closed
    p = Path(path)
    if os.path.exists(p) and (p.is_dir() or not _head(p).startswith(ELF_MAGIC)) and is_image(p):
        return open_image(path, p)
    return [open_artifact(path)]


def open_artifact(path: str) -> Artifact:
    """The artifact at `path`: an ELF file or a directory; anything else is ArtifactError."""
    p = Path(path)
    try:
        st = os.stat(p)
    except OSError as exc:
        raise ArtifactError(f"{path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        art = Artifact("directory", path, p)
        _walk(art)
        return art
    if not stat.S_ISREG(st.st_mode):
        raise ArtifactError(f"{path}: not a regular file or a directory")
    p = Path(os.path.realpath(p))  # the user named it: a link to a binary is that binary
    head = _head(p)
    if head.startswith(ELF_MAGIC):
        art = Artifact("elf", path, p)
        if st.st_size > MAX_MEMBER_BYTES:
            art.skipped.append(Skipped(p.name, _too_big(st.st_size)))
        else:
            art.members.append(Member(p.name, st.st_size))
        return art
    raise ArtifactError(f"{path}: {_unsupported(head)}")


def _unsupported(head: bytes) -> str:
    if (len(head) >= 262 and head[257:262] == b"ustar") or head[:2] in (b"\x1f\x8b", b"BZ"):
        return (
            "a tarball that is neither a docker save archive nor an OCI image layout "
            "(no manifest.json or index.json); extract it and inspect the directory"
        )
    return "not an ELF file or a directory"


def _head(path: Path) -> bytes:
    try:
        with _open_regular(path) as f:
            return f.read(512)
    except OSError:
        return b""


def _open_regular(path: Path) -> BinaryIO:
    """Open without blocking on a FIFO swapped in after the walk, and refuse non-files."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path}: not a regular file")
    return os.fdopen(fd, "rb")


def _too_big(size: int) -> str:
    return f"file is {size} bytes, over the {MAX_MEMBER_BYTES}-byte limit for one binary; skipped"


def _walk(art: Artifact) -> None:
    """Regular files that start with the ELF magic; links are never followed (a link in a
    rootfs points into the image, not into this machine)."""
    seen = 0
    for rel, entry in _entries(art):
        seen += 1
        if seen > MAX_FILES:
            art.skipped.append(
                Skipped(rel, f"more than {MAX_FILES} entries in the directory; the rest skipped")
            )
            return
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or st.st_size < len(ELF_MAGIC):
            continue
        if not _head(Path(entry.path)).startswith(ELF_MAGIC):
            continue
        if st.st_size > MAX_MEMBER_BYTES:
            art.skipped.append(Skipped(rel, _too_big(st.st_size)))
        else:
            art.members.append(Member(rel, st.st_size))


def _entries(art: Artifact) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(path relative to the artifact, entry) of every entry: a directory's entries in
    name order, then its subdirectories'. Directories count too, so a tree of empty
    directories also meets MAX_FILES; no recursion, so depth costs no stack."""
    stack: list[tuple[Path, str, int]] = [(art.root, "", 0)]
    while stack:
        top, prefix, depth = stack.pop()
        try:
            with os.scandir(top) as it:
                entries = sorted(it, key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        subdirs = []
        for entry in reversed(entries):
            rel = f"{prefix}{entry.name}"
            yield rel, entry
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir and depth + 1 >= MAX_DEPTH:
                art.skipped.append(Skipped(rel, f"deeper than {MAX_DEPTH} directories; skipped"))
            elif is_dir:
                subdirs.append((Path(entry.path), rel + "/", depth + 1))
        stack += reversed(subdirs)
