"""Find the files the engine reads, skipping what a repository does not own."""

from __future__ import annotations

import os
from pathlib import Path

from allocpolicy._record import field, record

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Iterable

    from allocpolicy.ignore import IgnoreTree, PatternList

    Lists = tuple[PatternList, ...]  # the .gitignore files that apply in a directory

SKIP_DIRS = frozenset({".git", "target", "node_modules", ".hg", ".svn", ".venv", "__pycache__"})


# Names that say "not a Containerfile" whatever their stem: ignore files, templates
# rendered into one (`Dockerfile.j2`: not buildable as is), and other file types.
_NOT_CONTAINERFILE = (
    ".dockerignore",
    ".containerignore",
    ".j2",
    ".jinja",
    ".jinja2",
    ".tmpl",
    ".tpl",
    ".template",
    ".in",
    ".md",
    ".txt",
    ".rst",
    ".yml",
    ".yaml",
    ".json",
    ".toml",
    ".sh",
    ".py",
    ".bak",
    ".orig",
    ".rej",
    ".swp",
    ".patch",
    ".diff",
)


def is_containerfile(name: str) -> bool:
    """`Dockerfile`, `api.Dockerfile`, `Dockerfile.prod`, `Dockerfile-20.04`, `Dockerfile_ci`."""
    low = name.lower()
    if low.endswith(_NOT_CONTAINERFILE):
        return False
    for stem in ("dockerfile", "containerfile"):
        if low == stem or low.endswith("." + stem):
            return True
        if low.startswith(stem) and low[len(stem)] in ".-_":  # Dockerfile.ci, -20.04, _builder
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
    # .gitignore files whose patterns could not be applied, and why
    ignore_problems: list[tuple[str, str]] = field(default_factory=list)

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
    skips = ignore.skips
    stack: list[tuple[str, Lists]] = [("", ())]
    while stack:
        rel_dir, lists = stack.pop()
        try:
            entries = sorted(os.scandir(root / rel_dir if rel_dir else root), key=_name)
        except OSError:
            inv.unreadable_dirs.append(rel_dir or ".")
            continue
        if any(entry.name == ".gitignore" for entry in entries):  # no open() where there is none
            lists = ignore.enter(rel_dir, lists)
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            # an ignored directory is never entered, so nothing below it is re-included (git's rule)
            if is_dir:
                if entry.name not in SKIP_DIRS and not skips(lists, rel, True):
                    stack.append((rel, lists))
            elif not skips(lists, rel, False):
                inv.add(rel, entry.name, rel_dir)
    inv.ignore_problems = ignore.problems
    for kind in (
        "containerfiles",
        "manifests",
        "locks",
        "cargo_configs",
        "rust_sources",
    ):
        getattr(inv, kind).sort()
    return inv


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


def walk_ignore(root: Path, excludes: list[str]) -> IgnoreTree:
    """What `discover` skips: what git ignores (every .gitignore from the root down) and the exclude setting."""
    from allocpolicy.ignore import IgnoreTree

    return IgnoreTree(str(root), excludes)
