"""The pre-commit front door: check what a handful of changed files affect.

A changed Cargo.toml or main.rs can break an image whose Containerfile did not
change, and the other way round. So the scope is: the changed files, the crates
they belong to (with their workspace root), and the Containerfiles that build
those crates; or, for a changed Containerfile, the crates it builds. Only that
scope is read and analysed, so a commit touching one service in a monorepo costs
about as much as scanning that service.
"""

from __future__ import annotations

import posixpath
import re
import subprocess
from pathlib import Path

from allocpolicy._record import field, record
from allocpolicy.config import Config, load_config
from allocpolicy.discovery import Inventory, discover, is_containerfile
from allocpolicy.engine import ScanResult, scan
from allocpolicy.model import Finding

# Rules whose finding sits in one file but is caused by another of the same crate
# (a static deleted from main.rs makes the Cargo.toml dependency unwired).
CROSS_FILE_RULES = frozenset({"AP005", "AP006", "AP009", "AP010"})
_NAME = re.compile(rb'^\s*name\s*=\s*"([^"]+)"', re.M)
_MENTION = re.compile(r"(?:-p|--package|--bin)[ =]+([\w.-]+)|/release/([\w.-]+)")


@record
class Scope:
    changed: set[str]
    crate_dirs: set[str] = field(default_factory=set)
    containerfiles: set[str] = field(default_factory=set)
    inventory: Inventory = field(default_factory=Inventory)


def _tracked(root: Path, config: Config) -> tuple[Inventory, dict[str, str]]:
    """Files of interest from git's index (no tree walk), with each one's blob id.

    `--others` would make git walk the working tree for untracked files, which costs
    more than the rest of the check; a commit's files are in the index anyway.
    """
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--stage", "--", *_PATHSPECS],
            cwd=root, capture_output=True, check=True, timeout=30,
        ).stdout.decode("utf-8", "surrogateescape")
    except (OSError, subprocess.SubprocessError):
        return discover(root, config.exclude), {}
    inv = Inventory()
    blobs: dict[str, str] = {}
    for entry in out.split("\0"):
        meta, _, rel = entry.partition("\t")
        if not rel or rel in blobs:
            continue
        blobs[rel] = meta[7:47]  # "<mode> <sha> <stage>"
        parent, _, name = rel.rpartition("/")
        if ("target" in parent or "node_modules" in parent) and not _owned(parent):
            continue
        inv.add(rel, name, parent)
    if config.exclude:
        import pathspec

        spec = pathspec.GitIgnoreSpec.from_lines(config.exclude)
        for kind in ("containerfiles", "manifests", "locks", "cargo_configs", "toolchains", "rust_sources"):
            setattr(inv, kind, [p for p in getattr(inv, kind) if not spec.match_file(p)])
    return inv, blobs


# Everything the engine reads but Rust sources: those are read only under the crates in
# scope, so listing the thousands of them in a monorepo would be wasted work.
_PATHSPECS = (  # plain wildcards (`*` crosses `/`): git matches them much faster than `:(glob)`
    "*ockerfile*", "*ontainerfile*", "*Cargo.toml", "*Cargo.lock", "*.cargo/config", "*.cargo/config.toml",
    "*rust-toolchain.toml",
)
_TOKEN = re.compile(rb"[A-Za-z0-9_.+-]+")


def _owned(parent: str) -> bool:
    """False for build output and vendored packages, which the repository does not own."""
    return not any(part in ("target", "node_modules") for part in parent.split("/"))


class MentionCache:
    """Words each Containerfile mentions, by git blob id, kept between runs.

    Finding the images that build a changed crate means asking every Containerfile
    whether it names the crate; reading thousands of them on every commit is the
    largest cost of the check, and their blobs rarely change.
    """

    def __init__(self, root: Path) -> None:
        import os
        import zlib  # a checksum names the cache file; hashlib costs more to import than it saves

        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "allocpolicy"
        where = str(root.resolve())
        key = f"{zlib.crc32(where.encode()):08x}-{Path(where).name}"
        self.path = base / f"mentions-v2-{key}.json"
        self.data: dict[str, str] = self._load()
        self.dirty = False

    def _load(self) -> dict[str, str]:
        import json

        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def words(self, root: Path, rel: str, blob: str) -> str:
        """The file's words as one space-separated string (cheap to load, cheap to search)."""
        if blob and blob in self.data:
            return self.data[blob]
        found = _words(root, rel)
        if blob and found.strip():
            self.data[blob] = found
            self.dirty = True
        return found

    def save(self, live: set[str]) -> None:
        if not self.dirty:
            return
        import json
        import os
        import tempfile

        data = {k: v for k, v in self.data.items() if k in live}  # forget blobs no longer in the index
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, separators=(",", ":"))
            os.replace(tmp, self.path)
        except OSError:
            pass  # a cache that cannot be written only costs speed


def _parent(path: str) -> str:
    """posixpath.dirname for the repository's relative paths, at a third of the cost."""
    return path.rpartition("/")[0]


def _crate_dir(rel: str, manifest_dirs: set[str]) -> str | None:
    d = _parent(rel)
    while True:
        if d in manifest_dirs:
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


def narrow(root: Path, config: Config, files: list[str]) -> Scope:
    full, blobs = _tracked(root, config)
    changed = {r for r in (_rel(root, f) for f in files) if _relevant(r)}
    scope = Scope(changed)
    manifest_dirs = {_parent(m) for m in full.manifests}
    for rel in changed:
        if is_containerfile(posixpath.basename(rel)):
            scope.containerfiles.add(rel)
        else:
            d = _crate_dir(rel, manifest_dirs) if not rel.endswith("Cargo.toml") else _parent(rel)
            if d is not None:
                scope.crate_dirs.add(d)
    _expand_workspace_roots(root, scope, full)
    names = _crate_names(root, scope.crate_dirs)
    scope.containerfiles |= _images_building(root, full, blobs, scope.crate_dirs, names)
    _add_crates_of_images(root, scope, full, manifest_dirs)
    scope.inventory = _restrict(root, full, scope)
    return scope


def _relevant(rel: str) -> bool:
    """Only files the engine reads can change a finding."""
    probe = Inventory()
    parent, _, name = rel.rpartition("/")
    probe.add(rel, name, parent)
    return any(getattr(probe, k) for k in ("containerfiles", "manifests", "locks", "cargo_configs", "toolchains", "rust_sources"))


def _rel(root: Path, f: str) -> str:
    p = Path(f)
    if p.is_absolute():
        try:
            p = p.resolve().relative_to(root.resolve())
        except ValueError:
            pass
    return p.as_posix().removeprefix("./")


def _expand_workspace_roots(root: Path, scope: Scope, full: Inventory) -> None:
    """A changed workspace root (or lock, or cargo config) affects every member below it."""
    for d in list(scope.crate_dirs):
        manifest = root / d / "Cargo.toml" if d else root / "Cargo.toml"
        try:
            is_root = b"[workspace" in manifest.read_bytes()
        except OSError:
            continue
        if is_root and any(c in scope.changed for c in (_join(d, "Cargo.toml"), _join(d, "Cargo.lock"))):
            prefix = d + "/" if d else ""
            scope.crate_dirs |= {_parent(m) for m in full.manifests if m.startswith(prefix)}
    for rel in scope.changed:
        if rel.endswith((".cargo/config.toml", ".cargo/config", "rust-toolchain.toml")):
            base = _parent(_parent(rel)) if "/.cargo/" in "/" + rel else _parent(rel)
            prefix = base + "/" if base else ""
            scope.crate_dirs |= {_parent(m) for m in full.manifests if m.startswith(prefix)}


def _join(d: str, name: str) -> str:
    return f"{d}/{name}" if d else name


def _crate_names(root: Path, dirs: set[str]) -> set[str]:
    names: set[str] = set()
    for d in dirs:
        try:
            data = (root / _join(d, "Cargo.toml")).read_bytes()
        except OSError:
            continue
        names |= {m.decode() for m in _NAME.findall(data)}
        names.add(posixpath.basename(d))
    return {n for n in names if n}


def _images_building(root: Path, full: Inventory, blobs: dict[str, str], dirs: set[str], names: set[str]) -> set[str]:
    if not dirs:
        return set()
    near = set(dirs) | {a for d in dirs for a in _ancestors(d)}
    cache = MentionCache(root) if blobs else None
    out = set()
    inside = tuple(x + "/" for x in dirs if x)
    for cf in full.containerfiles:
        d = _parent(cf)
        if d in near or (inside and cf.startswith(inside)):
            out.add(cf)
            continue
        words = cache.words(root, cf, blobs.get(cf, "")) if cache else _words(root, cf)
        if _names_in(words, names):
            out.add(cf)
    if cache is not None:
        cache.save({blobs[c] for c in full.containerfiles if c in blobs})
    return out


def _words(root: Path, rel: str) -> str:
    try:
        found = {w.decode("utf-8", "replace") for w in _TOKEN.findall((root / rel).read_bytes())}
    except OSError:
        return " "
    return " " + " ".join(sorted(found)) + " "


def _names_in(words: str, names: set[str]) -> bool:
    """Words are split at `/` too, so services/NAME and target/release/NAME both name NAME."""
    return any(f" {n} " in words for n in names)


def _add_crates_of_images(root: Path, scope: Scope, full: Inventory, manifest_dirs: set[str]) -> None:
    """The crates a Containerfile builds: its own directory's, and those it names."""
    wanted: set[str] = set()
    for cf in scope.containerfiles:
        d = _parent(cf)
        own = _crate_dir(_join(d, "x"), manifest_dirs)
        if own is not None and _is_package(root, own):  # a virtual workspace root is no crate
            scope.crate_dirs.add(own)
        try:
            text = (root / cf).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        wanted |= {a or b for a, b in _MENTION.findall(text)}
    wanted -= _crate_names(root, scope.crate_dirs)
    if wanted:
        scope.crate_dirs |= _dirs_named(root, full, wanted)


def _is_package(root: Path, d: str) -> bool:
    try:
        return b"[package]" in (root / _join(d, "Cargo.toml")).read_bytes()
    except OSError:
        return False


def _dirs_named(root: Path, full: Inventory, names: set[str]) -> set[str]:
    """Find crates by name: first where the directory says so, then by reading manifests."""
    found: set[str] = set()
    remaining = set(names)
    by_base = {}
    for m in full.manifests:
        by_base.setdefault(posixpath.basename(_parent(m)), []).append(m)
    for manifests in (lambda n: by_base.get(n, []), lambda n: full.manifests):
        for name in sorted(remaining):
            for m in manifests(name):
                try:
                    data = (root / m).read_bytes()
                except OSError:
                    continue
                # [[bin]] names share the `name = "..."` pattern, so one search finds both
                if name.encode() in data and name in {x.decode() for x in _NAME.findall(data)}:
                    found.add(_parent(m))
                    remaining.discard(name)
                    break
        if not remaining:
            break
    return found


def _sources(root: Path, full: Inventory, dirs: set[str]) -> list[str]:
    """Rust sources of the crates in scope, wherever their targets live (`[[bin]] path`...).

    A crate directory is small: walking it costs less than another git process. The
    repository root, when it is a crate, would mean the whole tree: git lists it instead.
    """
    if full.rust_sources:
        return [r for r in full.rust_sources if _crate_dir(r, dirs) is not None]
    import os

    from allocpolicy.discovery import SKIP_DIRS

    out: list[str] = []
    for d in sorted(dirs):
        if not d:
            return _git_sources(root)
        for top, subdirs, files in os.walk(root / d):
            subdirs[:] = [x for x in subdirs if x not in SKIP_DIRS]
            rel_top = Path(top).relative_to(root).as_posix()
            out += [f"{rel_top}/{f}" for f in files if f.endswith(".rs")]
    return sorted(out)


def _git_sources(root: Path) -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--", "*.rs"], cwd=root,
                             capture_output=True, check=True, timeout=30).stdout.decode("utf-8", "surrogateescape")
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted(r for r in set(out.split("\0")) if r and _owned(r.rpartition("/")[0]))


def _restrict(root: Path, full: Inventory, scope: Scope) -> Inventory:
    dirs = scope.crate_dirs
    roots = {a for d in dirs for a in _ancestors(d)} | dirs
    inv = Inventory()
    inv.containerfiles = sorted(scope.containerfiles | {c for c in scope.changed if c in full.containerfiles})
    inv.manifests = [m for m in full.manifests if _parent(m) in roots]
    inv.locks = [m for m in full.locks if _parent(m) in roots]
    inv.cargo_configs = list(full.cargo_configs)
    inv.toolchains = [t for t in full.toolchains if _parent(t) in roots]
    inv.rust_sources = _sources(root, full, dirs)
    return inv


def scan_changed(
    root: Path, files: list[str], config_path: Path | None = None, with_fixes: bool = True
) -> ScanResult:
    config = load_config(root, config_path)
    scope = narrow(root, config, files)
    if not scope.changed:
        return scan(root, config=config, inventory=Inventory(), with_fixes=with_fixes)
    result = scan(root, config=config, inventory=scope.inventory, with_fixes=with_fixes)
    affected = {row["crate"] for row in result.inventory if row.get("crate")}
    crate_names = _crate_names(root, scope.crate_dirs)
    images = {row["file"] for row in result.inventory if row.get("crate") in crate_names}
    result.findings = [f for f in result.findings if _reports(f, scope, images, affected)]
    kept = {id(f) for f in result.findings}
    result.pending = [p for p in result.pending if id(p[0]) in kept]
    return result


def _reports(f: Finding, scope: Scope, images: set[str], affected: set[str]) -> bool:
    path = f.location.path
    if path in scope.changed:
        return True
    if path in images:
        return True
    return f.rule in CROSS_FILE_RULES and _crate_dir(path, scope.crate_dirs) is not None
