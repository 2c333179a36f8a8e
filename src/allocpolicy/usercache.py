"""Where allocpolicy keeps what it learns between runs, and how it writes there.

Everything in it can be deleted at any time: an entry that is missing, damaged or
cannot be written only costs speed, never a finding.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/allocpolicy`, or `~/.cache/allocpolicy`."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "allocpolicy"


def store(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step (a reader sees the old or the new entry); never raises."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
