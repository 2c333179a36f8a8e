"""The pre-commit front door: check what a handful of changed files affect.

A changed Cargo.toml or main.rs can break an image whose Containerfile did not
change, and the other way round. So the scope is: the changed files, the crates
they belong to (with their workspace root), and the Containerfiles that build
those crates; or, for a changed Containerfile, the crates it builds. Only that
scope is read and analysed, so a commit touching one service in a monorepo costs
about as much as scanning that service.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import field, record
from allocpolicy.config import Config, load_config
from allocpolicy.discovery import (
    SKIP_DIRS,
    FileSet,
    discover,
    is_containerfile,
    kind_of,
    walk_ignore,
)
from allocpolicy.parsing.text import ReadError, read_bytes

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from allocpolicy.engine import ScanResult
    from allocpolicy.model import Finding

# Rules whose finding sits in one file but is caused by another of the same crate
# (a static deleted from main.rs makes the Cargo.toml dependency unwired).
CROSS_FILE_RULES = frozenset({"AP005", "AP006", "AP009", "AP010"})
_NAME = lazy_re(rb'^\s*name\s*=\s*"([^"]+)"', re.M)
_MENTION = lazy_re(r"(?:-p|--package|--bin)[ =]+([\w.-]+)|/release/([\w.-]+)")


@record
class Scope:
    changed: set[str]
    crate_dirs: set[str] = field(default_factory=set)
    containerfiles: set[str] = field(default_factory=set)
    files: FileSet = field(default_factory=FileSet)


class Files:
    """The repository's files, as the scope asks about them.

    Questions about a file's neighbourhood (is there a Cargo.toml in this directory?)
    are a stat each. Only questions about the whole repository (which Containerfiles
    name this crate?) list files, from git's index: `--others` would make git walk
    the working tree, and a commit's files are in the index anyway. Without git, the
    tree is walked once.
    """

    def __init__(self, root: Path, config: Config, started: Running | None = None) -> None:
        self.root = root
        self.config = config
        self._ignore: Any = (
            None  # what a full scan's walk skips (.gitignore, exclude), built on first use
        )
        self._present: dict[str, bool] = {}
        self._manifests: list[str] | None = None
        self._walked: FileSet | None = None
        self._started = started  # the Containerfile listing, when begun before this object existed
        self._listing: str | None = None
        self._listed = False

    def has(self, rel: str) -> bool:
        """A file a full scan would read: present, not in a skipped directory, not ignored or excluded."""
        found = self._present.get(rel)
        if found is None:
            found = self._present[rel] = os.path.isfile(self.root / rel) and self.walked(rel)
        return found

    def walked(self, rel: str) -> bool:
        """Whether a full scan's walk would list this path: not in a skipped directory, not ignored or excluded."""
        if any(part in SKIP_DIRS for part in rel.split("/")[:-1]):
            return False
        if self._ignore is None:
            self._ignore = walk_ignore(self.root, self.config.exclude)
        return not self._ignore.ignored(rel)

    @property
    def settings(self) -> list[str]:
        """What decides which listed files count: the exclude setting and the .gitignore files.

        The root's text, even untracked. The deeper ones git lists with the Containerfiles,
        so their blobs (and a tag when the work tree's differs) are in the listing, which
        the word cache's key holds already: a monorepo may have thousands of them, and
        reading each on every commit would cost more than the check saves.
        """
        from allocpolicy.ignore import read_ignore_file

        data, _ = read_ignore_file(os.path.join(self.root, ".gitignore"))
        return [
            *self.config.exclude,
            f".gitignore\0{'' if data is None else data.decode('latin-1')}",
        ]

    def containerfile_listing(self) -> str | None:
        """git's stage listing of the Containerfiles, modified ones tagged, as text; None without git."""
        if not self._listed:
            running, self._started = (
                self._started or start_containerfile_listing(self.root),
                None,
            )
            out = running.output()
            self._listing = None if out is None else out.decode("utf-8", "surrogateescape")
            self._listed = True
        return self._listing

    def accepts(self, rel: str, kind: str) -> bool:
        """A listed path the engine reads as `kind`, owned by the repository, not excluded."""
        return _is_kind(rel, kind) and self.walked(rel)

    def walked_containerfiles(self) -> list[str]:
        return self._walk().containerfiles

    def walked_rust_sources(self) -> list[str]:
        return self._walk().rust_sources

    def manifests(self) -> list[str]:
        """Every Cargo.toml in git's index (the tree's, without git)."""
        if self._manifests is None:
            listed = _staged(_start_listing(self.root, ("*Cargo.toml",)).output())
            self._manifests = (
                self._walk().manifests
                if listed is None
                else sorted(r for r in listed if self.accepts(r, "manifests"))
            )
        return self._manifests

    def close(self) -> None:
        """Reap a listing started for a question the scope never asked."""
        if self._started is not None:
            self._started.output()
            self._started = None

    def _walk(self) -> FileSet:
        if self._walked is None:
            self._walked = discover(self.root, self.config.exclude)
        return self._walked


def _start_listing(root: Path, pathspecs: tuple[str, ...], *, modified: bool = False) -> Running:
    """`git ls-files` of the index: `<tag> <mode> <blob> <stage>\t<path>\0` per entry.

    With `modified`, a path whose work tree differs from its staged blob is listed a
    second time, tagged C: its words are not its blob's.
    """
    return Running(
        ["git", "-C", str(root), "ls-files", "-z", "-t", "--cached", "--stage"]
        + (["--modified"] if modified else [])
        + ["--", *pathspecs]
    )


def start_containerfile_listing(root: Path) -> Running:
    return _start_listing(root, _CONTAINERFILE_SPECS, modified=True)


class Running:
    """A program (git) started now and read later, so it runs while the check imports the engine."""

    def __init__(self, argv: list[str]) -> None:
        import subprocess

        try:
            self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
        except OSError:  # not installed, not executable
            self._proc = None
            return
        _widen(self._proc.stdout)

    def output(self, timeout: float = 30.0) -> bytes | None:
        """stdout if the program exits 0 within `timeout` seconds, else None; reaps it either way."""
        import subprocess

        proc, self._proc = self._proc, None
        if proc is None:
            return None
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return None
        return out if proc.returncode == 0 else None


def _widen(pipe: Any) -> None:
    """Let a started program write all of its output before anyone reads it.

    A pipe holds 64 KiB; a listing of thousands of files would stall git until
    `output()` reads, which is the waiting that starting it early avoids. Linux
    lets a pipe grow to 1 MiB (the unprivileged default limit). Elsewhere, or
    under a lower limit, git just waits for the reader.
    """
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
    except (ImportError, AttributeError, OSError):
        pass


def _staged(raw: bytes | None) -> dict[str, str] | None:
    """`git ls-files --stage -z` output as path -> blob id; None without git."""
    return None if raw is None else _entries(raw.decode("utf-8", "surrogateescape"))[0]


def _entries(listing: str) -> tuple[dict[str, str], set[str]]:
    """The listing as path -> staged blob, and the paths whose work tree is not that blob.

    Split at NULs, then at each entry's first tab: a path may hold tabs, spaces and
    text that looks like an entry, and stays one path. A conflicted path's first stage
    wins. Symbolic links and submodules count as not their blob: their blob is no file's
    content.
    """
    staged: dict[str, str] = {}
    differs: set[str] = set()
    for entry in listing.split("\0"):
        head, tab, path = entry.partition("\t")
        fields = head.split(" ")
        if not tab or len(fields) != 4:
            continue  # the empty string after the last NUL
        tag, mode, blob, _stage = fields
        if tag == "C" or mode not in _REGULAR:
            differs.add(path)
        if tag != "C":
            staged.setdefault(path, blob)
    return staged, differs


def _is_kind(rel: str, kind: str) -> bool:
    if kind == "containerfiles" and (rel.endswith("/Dockerfile") or rel == "Dockerfile"):
        return True  # thousands of them: skip kind_of's other tests
    return _kind_of(rel) == kind  # (its order matters: src/dockerfile.rs is Rust)


def _kind_of(rel: str) -> str | None:
    """Which of the engine's inputs `rel` is, if any."""
    parent, _, name = rel.rpartition("/")
    return kind_of(name, parent)


# plain wildcards (`*` crosses `/`): git matches them much faster than `:(glob)`; the
# .gitignore files decide which Containerfiles count, so the word cache's key has them
_CONTAINERFILE_SPECS = ("*ockerfile*", "*ontainerfile*", ".gitignore", "*/.gitignore")
_TOKEN = lazy_re(rb"[A-Za-z0-9_.+-]+")
_REGULAR = ("100644", "100755")  # file modes whose blob is the file's bytes
_DIFFERS = ("\0C ", " 120000 ", " 160000 ")  # what marks an entry whose file is not its blob


# The word caches' limits: one file per repository, ~1 MB for 3000 Containerfiles.
MENTION_ENTRIES = 64
MENTION_BYTES = 64 << 20


class MentionCache:
    """Words each Containerfile mentions, by git blob id, kept between runs.

    Finding the images that build a changed crate means asking every Containerfile
    whether it names the crate; reading thousands of them on every commit is the
    largest cost of the check, and their blobs rarely change. The cache is a plain
    ASCII file: a header line, then a line per blob (`<blob> word word ... \\n`). It
    is memory-mapped and searched in place, a `find` per crate name, so a check
    neither reads nor decodes the whole of it.

    A file is read from the work tree, which need not hold its staged blob (a check
    run by hand, or `pre-commit run --files`, sees unstaged edits; only a commit's
    hook runs on a stashed tree). So words are kept under the id git would give the
    bytes read, never under the listed id: a hit on a staged blob is a hit on those
    very bytes. A file git lists as modified is read on every run, and its words
    there decide for it.
    """

    MAGIC = b"allocpolicy-mentions-1 "

    def __init__(self, root: Path) -> None:
        import zlib  # a checksum names the cache file; hashlib costs more to import than it saves

        from allocpolicy.usercache import cache_dir

        where = os.path.abspath(root)
        self.path = (
            cache_dir() / f"mentions-{zlib.crc32(where.encode()):08x}-{os.path.basename(where)}.txt"
        )
        self.data, self.covered = self._load()
        self.fresh: dict[str, str] = {}  # blob (of the bytes read) -> words, read during this run
        self.current: dict[str, str] = {}  # path -> words, of the paths read during this run
        self._known: set[str] | None = None

    def _load(self) -> tuple[Any, str]:
        import mmap

        try:
            with open(self.path, "rb") as fh:
                data: Any = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # missing, unreadable or empty
            return b"", ""
        end = data.find(b"\n")
        if data[: len(self.MAGIC)] != self.MAGIC or end < 0:
            return b"", ""  # not ours: start again
        from allocpolicy.usercache import touch

        touch(self.path)  # used: evicted after the caches of repositories checked less recently
        return data, data[len(self.MAGIC) : end].decode("ascii", "replace")

    @property
    def known(self) -> set[str]:
        """Blobs the cache has words for (only needed when a listing is new to it)."""
        if self._known is None:
            self._known = {line[: line.find(" ")] for line in self._lines()}
        return self._known

    def covers(self, listing: str, settings: list[str]) -> bool:
        """Whether every blob of this exact listing was read, under these exclude settings, before."""
        return self.covered == _fingerprint(listing, settings)

    def learn(self, root: Path, listing: str, tree: Files, settings: list[str]) -> None:
        """Read the words of every listed Containerfile whose staged blob the cache does not know.

        Paths whose work tree is not their blob are `read_current`'s, on every run.
        """
        entries, differs = _entries(listing)
        complete = True
        for rel, blob in entries.items():
            if (
                blob not in self.known
                and blob not in self.fresh
                and rel not in differs
                and tree.accepts(rel, "containerfiles")
            ):
                # unreadable, or changed since git listed it: tried again next time
                complete = self.read(root, rel, len(blob)) == blob and complete
        if complete:
            self.covered = _fingerprint(listing, settings)
        self.save(set(entries.values()) | set(self.fresh))

    def read_current(self, root: Path, listing: str, tree: Files) -> None:
        """Read the listed Containerfiles whose work tree is not their staged blob."""
        if not any(mark in listing for mark in _DIFFERS) and not listing.startswith("C "):
            return  # the usual case, and always in a commit's hook: parsing is not needed
        entries, differs = _entries(listing)
        for rel in differs:
            if tree.accepts(rel, "containerfiles"):
                self.read(root, rel, len(entries.get(rel, "")))

    def mentioning(self, names: set[str]) -> set[str]:
        """Cached blobs whose words include one of `names`."""
        found: set[str] = set()
        data = self.data
        for name in names:
            needle = f" {name} "  # words are split at `/` too: services/NAME, release/NAME
            raw = needle.encode("utf-8", "surrogateescape")
            at = data.find(raw)
            while at >= 0:
                start = data.rfind(b"\n", 0, at) + 1
                found.add(data[start : data.find(b" ", start)].decode("ascii", "replace"))
                at = data.find(raw, data.find(b"\n", at))
            found |= {blob for blob, words in self.fresh.items() if needle in words}
        return found

    def read(self, root: Path, rel: str, width: int = 40) -> str | None:
        """Read a file's words now, kept for this run by path and for the next by content.

        Returns the git blob id of the bytes read (`width` hex digits: SHA-1 or SHA-256
        repositories), or None when it cannot be read (the engine's read reports why).
        """
        data = _read(root, rel)
        if data is None:
            return None
        blob = _blob_id(data, width)
        self.current[rel] = self.fresh[blob] = _words(data)
        return blob

    def save(self, live: set[str]) -> None:
        """Keep the live blobs' words (forgetting blobs no longer in the index)."""
        from allocpolicy.usercache import store

        lines = [line for line in self._lines() if line[: line.find(" ")] in live]
        lines += [f"{blob}{words}" for blob, words in self.fresh.items() if blob in live]
        text = self.MAGIC.decode() + self.covered + "\n" + "".join(f"{line}\n" for line in lines)
        store(self.path, text.encode("ascii", "replace"), MENTION_ENTRIES, MENTION_BYTES)

    def _lines(self) -> list[str]:
        """The cached `<blob> words` lines, read whole (only when a listing is new to the cache)."""
        return [
            line for line in bytes(self.data).decode("ascii", "replace").split("\n")[1:] if line
        ]


def _parent(path: str) -> str:
    """posixpath.dirname for the repository's relative paths, at a third of the cost."""
    return path.rpartition("/")[0]


def _crate_dir(rel: str, files: Files) -> str | None:
    """The nearest directory above `rel` with a Cargo.toml."""
    d = _parent(rel)
    while True:
        if files.has(_join(d, "Cargo.toml")):
            return d
        if not d:
            return None
        d = _parent(d)


def _ancestors(d: str) -> list[str]:
    out = []
    while d:
        d = _parent(d)
        out.append(d)
    return out


def narrow(root: Path, config: Config, files: list[str], started: Running | None = None) -> Scope:
    tree = Files(root, config, started)
    try:
        return _narrow(root, tree, _changed(root, files))
    finally:
        tree.close()


def _changed(root: Path, files: list[str]) -> set[str]:
    return {r for r in (_rel(root, f) for f in files) if _kind_of(r) is not None}


def _narrow(root: Path, tree: Files, changed: set[str]) -> Scope:
    scope = Scope(changed)
    for rel in changed:
        if is_containerfile(posixpath.basename(rel)):
            scope.containerfiles.add(rel)
        else:
            d = _crate_dir(rel, tree) if not rel.endswith("Cargo.toml") else _parent(rel)
            if d is not None:
                scope.crate_dirs.add(d)
    _expand_workspace_roots(root, scope, tree)
    names = _crate_names(root, scope.crate_dirs)
    scope.containerfiles |= _images_building(root, tree, scope.crate_dirs, names)
    _add_crates_of_images(root, scope, tree)
    scope.files = _restrict(root, tree, scope)
    return scope


def _rel(root: Path, f: str) -> str:
    """A changed file as a path in the repository (relative ones are relative to its root).

    A file outside it is a usage error: the scope would walk and read outside the tree.
    """
    p = Path(f)
    if p.is_absolute():
        try:
            p = p.resolve().relative_to(root.resolve())
        except ValueError:
            p = Path(os.path.relpath(p, os.path.abspath(root)))
    rel = posixpath.normpath(p.as_posix())
    if rel == ".." or rel.startswith("../"):
        from allocpolicy.commands import UsageError

        raise UsageError(f"{f}: not inside the repository ({root})")
    return rel


def _expand_workspace_roots(root: Path, scope: Scope, tree: Files) -> None:
    """A changed workspace root (or lock, or cargo config) affects every member below it."""
    for d in list(scope.crate_dirs):
        data = _read(root, _join(d, "Cargo.toml"))
        if data is None:
            continue
        if b"[workspace" in data and any(
            c in scope.changed for c in (_join(d, "Cargo.toml"), _join(d, "Cargo.lock"))
        ):
            scope.crate_dirs |= _manifest_dirs_below(tree, d)
    for rel in scope.changed:
        if rel.endswith((".cargo/config.toml", ".cargo/config")):
            base = _parent(_parent(rel)) if "/.cargo/" in "/" + rel else _parent(rel)
            scope.crate_dirs |= _manifest_dirs_below(tree, base)


def _manifest_dirs_below(tree: Files, base: str) -> set[str]:
    prefix = base + "/" if base else ""
    return {_parent(m) for m in tree.manifests() if m.startswith(prefix)}


def _join(d: str, name: str) -> str:
    return f"{d}/{name}" if d else name


def _crate_names(root: Path, dirs: set[str]) -> set[str]:
    names: set[str] = set()
    for d in dirs:
        data = _read(root, _join(d, "Cargo.toml"))
        if data is None:
            continue
        names |= {m.decode("utf-8", "replace") for m in _NAME.findall(data)}
        names.add(posixpath.basename(d))
    return {n for n in names if n}


def _images_building(root: Path, tree: Files, dirs: set[str], names: set[str]) -> set[str]:
    """Containerfiles beside or above the crates, inside them, or naming them anywhere."""
    if not dirs:
        return set()
    near = set(dirs) | {a for d in dirs for a in _ancestors(d)}
    listing = tree.containerfile_listing()
    needles = [f" {n} " for n in names]
    if listing is None:  # no git: read every Containerfile of the tree
        return {
            cf
            for cf in tree.walked_containerfiles()
            if _parent(cf) in near
            or _inside(cf, dirs)
            or any(needle in _words(_read(root, cf) or b"") for needle in needles)
        }
    cache = MentionCache(root)
    cache.read_current(root, listing, tree)  # modified files: their work tree decides
    settings = tree.settings
    if not cache.covers(
        listing, settings
    ):  # a Containerfile changed or appeared since the last run
        cache.learn(root, listing, tree, settings)
    # In a monorepo the listing has thousands of entries: it is searched as text, not parsed.
    found = {p for blob in cache.mentioning(names) for p in _paths_with_blob(listing, blob)}
    found -= cache.current.keys()  # a file read this run counts with the words it holds now
    found |= {p for p, words in cache.current.items() if any(n in words for n in needles)}
    found |= set(_children(listing, near))
    found |= {
        p for d in dirs if d for p in _paths_below(listing, d)
    }  # a root crate is not "inside" every file
    return {p for p in found if tree.accepts(p, "containerfiles")}


def _inside(path: str, dirs: set[str]) -> bool:
    return any(d in dirs for d in _ancestors(path) if d)  # a root crate is not "inside" every file


def _fingerprint(listing: str, settings: list[str]) -> str:
    import zlib

    raw = (listing + "\0".join(["", *settings])).encode("utf-8", "surrogateescape")
    return f"{zlib.crc32(raw):08x}{zlib.adler32(raw):08x}{len(raw)}"


# The listing's searches below find text, then check that it is where they meant: in an
# entry's head (before its first tab), or at the start of its path (that first tab). A
# path may hold tabs, spaces and blob ids; a NUL always ends an entry.


def _in_head(listing: str, at: int) -> bool:
    """Whether `at` is before the first tab of its entry."""
    return listing.find("\t", listing.rfind("\0", 0, at) + 1, at) < 0


def _paths_with_blob(listing: str, blob: str) -> list[str]:
    """Paths of `<tag> <mode> <blob> <stage>\t<path>\0` entries carrying `blob`."""
    out, needle = [], f" {blob} "
    at = listing.find(needle)
    while at >= 0:
        tab = listing.find("\t", at)
        end = listing.find("\0", tab)
        if _in_head(listing, at):
            out.append(listing[tab + 1 : end])
        at = listing.find(needle, end)
    return out


def _children(listing: str, dirs: set[str]) -> list[str]:
    """Listed paths directly in one of `dirs` (one pass over the listing)."""
    prefixes = "|".join(
        re.escape(f"{d}/" if d else "") for d in sorted(dirs, key=len, reverse=True)
    )
    found = re.finditer(f"\t((?:{prefixes})[^/\0]*)\0", listing)
    return [m.group(1) for m in found if _in_head(listing, m.start())]


def _paths_below(listing: str, d: str) -> list[str]:
    """Listed paths under directory `d`, at any depth."""
    out, needle = [], f"\t{d}/"
    at = listing.find(needle)
    while at >= 0:
        end = listing.find("\0", at)
        if _in_head(listing, at):
            out.append(listing[at + 1 : end])
        at = listing.find(needle, end)
    return out


def _read(root: Path, rel: str) -> bytes | None:
    """A repository file's bytes, read as the engine reads them, or None.

    Regular files only, opened without blocking, no further than the engine's limit,
    never through a link out of the tree: a FIFO, or a link to /dev/zero or to a file
    outside the tree, is not learned from (the engine's own read reports it).
    """
    try:
        return read_bytes(root / rel, root=root)
    except ReadError:
        return None


def _words(data: bytes) -> str:
    """A file's words, as ` a b c `: what `MentionCache.mentioning` searches."""
    return " " + " ".join(sorted({w.decode("ascii") for w in _TOKEN.findall(data)})) + " "


def _blob_id(data: bytes, width: int) -> str:
    """The id git gives a blob of these bytes: SHA-1, or SHA-256 in a 64-digit repository."""
    import hashlib  # only when a file is read: most checks answer from the cache

    algorithm = hashlib.sha256 if width == 64 else hashlib.sha1
    return algorithm(b"blob %d\0" % len(data) + data).hexdigest()


def _add_crates_of_images(root: Path, scope: Scope, tree: Files) -> None:
    """The crates a Containerfile builds: its own directory's, and those it names."""
    wanted: set[str] = set()
    for cf in scope.containerfiles:
        own = _crate_dir(cf, tree)
        if own is not None and _is_package(root, own):  # a virtual workspace root is no crate
            scope.crate_dirs.add(own)
        data = _read(root, cf)
        if data is None:
            continue
        wanted |= {a or b for a, b in _MENTION.findall(data.decode("utf-8", "replace"))}
    wanted -= _crate_names(root, scope.crate_dirs)
    if wanted:
        scope.crate_dirs |= _dirs_named(root, tree.manifests(), wanted)


def _is_package(root: Path, d: str) -> bool:
    return b"[package]" in (_read(root, _join(d, "Cargo.toml")) or b"")


def _dirs_named(root: Path, manifests: list[str], names: set[str]) -> set[str]:
    """Find crates by name: first where the directory says so, then by reading manifests."""
    found: set[str] = set()
    remaining = set(names)
    by_base: dict[str, list[str]] = {}
    for m in manifests:
        by_base.setdefault(posixpath.basename(_parent(m)), []).append(m)
    for by_dir_name in (True, False):
        for name in sorted(remaining):
            for m in by_base.get(name, []) if by_dir_name else manifests:
                data = _read(root, m)
                if data is None:
                    continue
                # [[bin]] names share the `name = "..."` pattern, so one search finds both
                if name.encode() in data and name in {
                    x.decode("utf-8", "replace") for x in _NAME.findall(data)
                }:
                    found.add(_parent(m))
                    remaining.discard(name)
                    break
        if not remaining:
            break
    return found


def _sources(root: Path, tree: Files, dirs: set[str]) -> list[str]:
    """Rust sources of the crates in scope, wherever their targets live (`[[bin]] path`...).

    A crate directory is small: walking it costs less than another git process. The
    repository root, when it is a crate, would mean the whole tree: git lists it instead.
    """
    out: list[str] = []
    for d in sorted(dirs):
        if not d:
            return _git_sources(root, tree)
        for top, subdirs, files in os.walk(root / d):
            subdirs[:] = [x for x in subdirs if x not in SKIP_DIRS]
            rel_top = Path(top).relative_to(root).as_posix()
            out += [
                f"{rel_top}/{f}"
                for f in files
                if f.endswith(".rs") and tree.walked(f"{rel_top}/{f}")
            ]
    return sorted(out)


def _git_sources(root: Path, tree: Files) -> list[str]:
    listed = _staged(_start_listing(root, ("*.rs",)).output())
    if listed is None:
        return tree.walked_rust_sources()
    return sorted(r for r in listed if tree.walked(r))  # what the walk would list of them


def _restrict(root: Path, tree: Files, scope: Scope) -> FileSet:
    """The scope as a file set: its Containerfiles, and the Cargo files its crates see.

    Cargo reads manifests, locks and `.cargo/config` from a crate's
    directory upward, so those are looked up there, not listed.
    """
    dirs = scope.crate_dirs
    roots = {a for d in dirs for a in _ancestors(d)} | dirs
    builds = {a for c in scope.containerfiles for a in [_parent(c), *_ancestors(_parent(c))]}
    inv = FileSet()
    inv.containerfiles = sorted(c for c in scope.containerfiles if tree.has(c))
    # in path order, as a full scan lists them (it decides which of two same-named crates wins)
    inv.manifests = sorted(m for m in (_join(r, "Cargo.toml") for r in roots) if tree.has(m))
    inv.locks = sorted(m for m in (_join(r, "Cargo.lock") for r in roots) if tree.has(m))
    configs = (_join(r, f".cargo/{n}") for r in roots | builds for n in ("config", "config.toml"))
    inv.cargo_configs = sorted(c for c in configs if tree.has(c))
    inv.rust_sources = _sources(root, tree, dirs)
    return inv


def scan_changed(
    root: Path, files: list[str], config_path: Path | None = None, with_fixes: bool = True
) -> ScanResult:
    started = None
    if any(not is_containerfile(posixpath.basename(r)) for r in _changed(root, files)):
        # A changed crate means asking every Containerfile whether it names the crate:
        # git lists them while the engine is imported.
        started = start_containerfile_listing(root)
    try:
        from allocpolicy.engine import scan
        from allocpolicy.facts import gather  # noqa: F401 - the scan's analysers, imported while git runs
        from allocpolicy.fixes.actions import attach_fixes

        config = load_config(root, config_path)
    except BaseException:
        if started is not None:
            started.output()
        raise
    scope = narrow(root, config, files, started)
    result = scan(root, config=config, files=scope.files if scope.changed else FileSet())
    if scope.changed:
        caused = reach(root, scope, result.inventory)
        result.findings = [f for f in result.findings if caused(f)]
        kept = {id(f) for f in result.findings}
        result.pending = [p for p in result.pending if id(p.finding) in kept]
    # Fixes only for what the hook reports: the rest of the scope's findings cost nothing.
    attach_fixes(result, with_fixes)
    return result


def reach(root: Path, scope: Scope, inventory: list[dict[str, Any]]) -> Callable[[Finding], bool]:
    """Whether a finding is one the scope's changes answer for: in a changed file, in an
    image that builds a crate in scope (by the scan's inventory), or a cross-file rule's
    finding in such a crate. The GitHub front door asks this of a full scan's findings."""
    crate_names = _crate_names(root, scope.crate_dirs)
    images = {row["file"] for row in inventory if row.get("crate") in crate_names}
    return lambda f: _reports(f, scope, images)


def _reports(f: Finding, scope: Scope, images: set[str]) -> bool:
    path = f.location.path
    if path in scope.changed:
        return True
    if path in images:
        return True
    return f.rule in CROSS_FILE_RULES and _in_crates(path, scope.crate_dirs)


def _in_crates(path: str, dirs: set[str]) -> bool:
    return any(d in dirs for d in _ancestors(path))
