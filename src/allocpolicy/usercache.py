"""Where allocpolicy keeps what it learns between runs, and how it writes there.

Everything in it can be deleted at any time: an entry that is missing, damaged or
cannot be written only costs speed, never a finding.

Each cache directory is bounded. Writing an entry that takes a directory past its
entry or byte limit evicts the least recently used entries (oldest modification
time first; a reader marks an entry used with `touch`) down to nine tenths of the
limits; the entry just written stays. So that a write need not list the directory,
its usage is kept beside the entries in `.usage`, and counted again only when that
is missing, damaged or over a limit.
"""

from __future__ import annotations

import os
from pathlib import Path

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

# The TOML value cache's limits, the default for `store`: a few KB per manifest, so a
# 3000-service monorepo fills about a third of the entries.
MAX_ENTRIES = 10_000
MAX_BYTES = 128 << 20
_USAGE = ".usage"  # "<entries> <bytes>\n"; names starting with "." are never entries


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/allocpolicy`, or `~/.cache/allocpolicy`."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "allocpolicy"


def store(
    path: Path, data: bytes, max_entries: int | None = None, max_bytes: int | None = None
) -> None:
    """Replace `path` with `data` in one step (a reader sees the old or the new entry); never raises.

    The directory then holds at most `max_entries` entries of at most `max_bytes`
    bytes in all (MAX_ENTRIES and MAX_BYTES unless given).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        old = os.stat(path).st_size
        added = 0
    except OSError:
        old, added = 0, 1
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        return
    _account(
        path,
        added,
        len(data) - old,
        MAX_ENTRIES if max_entries is None else max_entries,
        MAX_BYTES if max_bytes is None else max_bytes,
    )


def entry(kind: str, data: bytes, tag: str) -> Path:
    """Where a value derived from `data` is kept: by content, and by Python version
    (marshal's format): `<cache>/<kind>/<crc32>-<adler32>-<length>-<tag>-py<version>.marshal`."""
    import sys
    import zlib

    version = f"{sys.version_info[0]}{sys.version_info[1]}"
    name = f"{zlib.crc32(data):08x}-{zlib.adler32(data):08x}-{len(data)}-{tag}-py{version}"
    return cache_dir() / kind / f"{name}.marshal"


def load(path: Path) -> Any:
    """The value kept at `path`, or None when it is missing or unreadable; never raises."""
    import marshal

    try:
        return marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None


def save(path: Path, value: Any) -> None:
    """Keep `value` at `path` (bounded like `store`); a value marshal cannot write is not kept."""
    import marshal

    try:
        encoded = marshal.dumps(value)
    except ValueError:
        return
    store(path, encoded)


def touch(path: Path) -> None:
    """Mark an entry as just used, so that eviction takes it last; never raises."""
    try:
        os.utime(path)
    except OSError:
        pass


def _account(written: Path, added: int, grown: int, max_entries: int, max_bytes: int) -> None:
    folder = written.parent
    usage = folder / _USAGE
    try:
        entries, total = (int(n) for n in usage.read_bytes().split())
    except (OSError, ValueError):  # missing or damaged: count again
        entries, total = max_entries + 1, max_bytes + 1
    entries, total = entries + added, total + grown
    if entries > max_entries or total > max_bytes or entries < 0 or total < 0:
        entries, total = _evict(folder, written.name, max_entries * 9 // 10, max_bytes * 9 // 10)
    tmp = folder / f"{_USAGE}.{os.getpid()}.tmp"
    try:
        tmp.write_bytes(f"{entries} {total}\n".encode())
        os.replace(tmp, usage)
    except OSError:
        pass


def _evict(folder: Path, written: str, keep_entries: int, keep_bytes: int) -> tuple[int, int]:
    """Delete the least recently used entries, but not the one just written, until both
    limits hold; what is left.

    Modification times are as coarse as the kernel's clock tick, so several entries
    written in a row can tie; the one just written is the newest all the same.
    """
    found: list[tuple[int, str, int]] = []
    try:
        with os.scandir(folder) as listing:
            for entry in listing:
                if entry.name.startswith(".") or entry.name == written:
                    continue  # usage, files being written, the newest entry
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                found.append((st.st_mtime_ns, entry.name, st.st_size))
    except OSError:
        return 0, 0
    found.sort()
    entries, total = len(found), sum(size for _, _, size in found)
    try:
        entries, total = entries + 1, total + os.stat(folder / written).st_size
    except OSError:
        pass
    for _, name, size in found:
        if entries <= keep_entries and total <= keep_bytes:
            break
        try:
            os.unlink(folder / name)
        except FileNotFoundError:
            pass  # another process evicted it first
        except OSError:
            continue
        entries, total = entries - 1, total - size
    return entries, total
