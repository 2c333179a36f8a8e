"""Find the files the engine reads, skipping what a repository does not own."""

from __future__ import annotations

import os
from pathlib import Path

from allocpolicy._record import field, record

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    Ignore = Callable[[str, bool], bool]  # (path, is_dir) -> skipped

SKIP_DIRS = frozenset({".git", "target", "node_modules", ".hg", ".svn", ".venv", "__pycache__"})


def is_containerfile(name: str) -> bool:
    low = name.lower()
    if low.endswith(".dockerignore") or low.endswith(".containerignore"):
        return False
    for stem in ("dockerfile", "containerfile"):
        if low == stem or low.endswith("." + stem) or low.startswith(stem + "."):
            return True
    return False


@record
class FileSet:
    """Relative posix paths of every file of interest, by kind."""

    containerfiles: list[str] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)
    locks: list[str] = field(default_factory=list)
    cargo_configs: list[str] = field(default_factory=list)
    rust_sources: list[str] = field(default_factory=list)
    unreadable_dirs: list[str] = field(default_factory=list)

    def add(self, rel: str, name: str, parent: str) -> None:
        kind = kind_of(name, parent)
        if kind is not None:
            getattr(self, kind).append(rel)


def kind_of(name: str, parent: str) -> str | None:
    """Which FileSet list a file named `name` in directory `parent` belongs to, if any."""
    if name == "Cargo.toml":
        return "manifests"
    if name == "Cargo.lock":
        return "locks"
    if name.endswith(".rs"):
        return "rust_sources"
    if name in ("config.toml", "config") and parent.endswith(".cargo"):
        return "cargo_configs"
    if is_containerfile(name):
        return "containerfiles"
    return None


def discover(root: Path, excludes: Iterable[str] = ()) -> FileSet:
    inv = FileSet()
    ignore = walk_ignore(root, list(excludes))
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            entries = list(os.scandir(root / rel_dir if rel_dir else root))
        except OSError:
            inv.unreadable_dirs.append(rel_dir or ".")
            continue
        for entry in sorted(entries, key=lambda e: e.name):
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if entry.name not in SKIP_DIRS and not ignore(rel, True):
                    stack.append(rel)
            elif not ignore(rel, False):
                inv.add(rel, entry.name, rel_dir)
    for kind in (
        "containerfiles",
        "manifests",
        "locks",
        "cargo_configs",
        "rust_sources",
    ):
        getattr(inv, kind).sort()
    return inv


_MAX_IGNORE_BYTES = 1 << 20
_MAX_IGNORE_LINE = 4096  # longer than any path git itself would match


def walk_ignore(root: Path, excludes: list[str]) -> Ignore:
    """What `discover` skips: the root .gitignore and the exclude setting, for (path, is_dir)."""
    lines = list(excludes)
    gitignore = root / ".gitignore"
    try:
        if gitignore.is_file():  # a FIFO named .gitignore would block the read forever
            with gitignore.open("rb") as fh:  # bounded: a 9 MiB .gitignore is not one
                text = fh.read(_MAX_IGNORE_BYTES).decode("utf-8", "replace")
            lines += [ln for ln in text.splitlines() if len(ln) <= _MAX_IGNORE_LINE]
    except OSError:
        pass
    if not lines:
        return lambda rel, is_dir: False
    from allocpolicy.ignore import ignore_matcher

    matches = ignore_matcher(lines)

    def ignore(rel: str, is_dir: bool) -> bool:
        return matches(rel + "/" if is_dir else rel)

    return ignore
