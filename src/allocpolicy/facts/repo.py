"""Load a repository into one model: manifests, crates, sources, Containerfiles.

Every file is read once; anything malformed becomes a ParseProblem (reported as AP900),
anything the reader's bounds keep out (size, file type, a link out of the tree) a
skipped one (AP903, info), and the rest of the repository is still analysed.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from allocpolicy._record import field, record
from allocpolicy.config import Config
from allocpolicy.discovery import FileSet, discover
from allocpolicy.facts.containers import (
    Containerfile,
    StageFacts,
    analyze,
    context_path,
    image_keys,
)
from allocpolicy.facts.modules import Reach, module_reach
from allocpolicy.facts.workspace import (
    AllocatorStatic,
    Crate,
    bin_sources,
    classify_static,
    library_modules,
    resolve_targets,
    resolve_workspace_deps,
    workspace_members,
)
from allocpolicy.parsing.cargo import (
    CargoConfig,
    Manifest,
    ManifestError,
    parse_cargo_config,
    parse_lock,
    parse_manifest,
)
from allocpolicy.parsing.cfg import disj
from allocpolicy.parsing.dockerfile import Dockerfile, DockerfileError, parse_dockerfile
from allocpolicy.parsing.rust_needle import might_declare_allocator
from allocpolicy.parsing.text import (
    ReadError,
    SourceText,
    decode,
    forget_directories,
    read_bytes,
)

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from allocpolicy.parsing.cfg import CfgExpr
    from allocpolicy.parsing.rust import GlobalAllocator, MacroDef


# A second read of a Rust file (the macro pass reads every shipped source again) costs
# a third of a warm scan of a large workspace; 64 MiB holds risingwave's 30 MB twice.
KEEP_BYTES = 64 * 1024 * 1024


@record
class ParseProblem:
    path: str
    line: int
    message: str
    column: int = 1
    skipped: bool = False  # kept out by the tool's own bounds, not malformed: facts unknown


@record
class Repo:
    root: Path
    config: Config
    files: FileSet
    manifests: dict[str, Manifest] = field(default_factory=dict)
    crates: list[Crate] = field(default_factory=list)
    cargo_configs: dict[str, CargoConfig] = field(default_factory=dict)  # by directory
    containerfiles: list[Containerfile] = field(default_factory=list)
    problems: list[ParseProblem] = field(default_factory=list)
    texts: dict[str, SourceText] = field(
        default_factory=dict
    )  # every text file read, for suppressions
    rust_suppressions: dict[str, list[tuple[int, str, frozenset[str]]]] = field(
        default_factory=dict
    )
    _by: dict[str, dict[str, list[Crate]]] | None = field(default=None, repr=False)
    _by_size: int = field(default=-1, repr=False)
    # Bytes read while loading, for the passes that read a file again (macro calls,
    # module declarations); bounded, and dropped once the tree is loaded.
    _kept: dict[str, bytes] = field(default_factory=dict, repr=False)
    _kept_size: int = field(default=0, repr=False)

    def text(self, path: str) -> SourceText | None:
        """A file's text, read once: Rust sources are read as bytes, so later readers come here."""
        if path not in self.texts:
            try:
                self.texts[path] = decode(self.read(path))
            except ReadError:
                return None
        return self.texts[path]

    def read(self, path: str) -> bytes:
        """A file's bytes through the bounded reader, with the configured size cap."""
        kept = self._kept.get(path)
        if kept is not None:
            return kept
        data = read_bytes(self.root / path, self.config.max_file_size, root=self.root)
        if self._kept_size + len(data) <= KEEP_BYTES:
            self._kept[path] = data
            self._kept_size += len(data)
        return data

    def _index(self) -> dict[str, dict[str, list[Crate]]]:
        if self._by is None or self._by_size != len(self.crates):
            by: dict[str, dict[str, list[Crate]]] = {"name": {}, "bin": {}, "dir": {}, "root": {}}
            for c in self.crates:
                by["name"].setdefault(c.name, []).append(c)
                by["dir"].setdefault(c.dir, []).append(c)
                if c.root is not None:
                    by["root"].setdefault(c.root.dir, []).append(c)
                for b in c.bins:
                    by["bin"].setdefault(b, []).append(c)
            self._by, self._by_size = by, len(self.crates)
        return self._by

    def crate_by_name(self, name: str) -> Crate | None:
        found = self._index()["name"].get(name)
        return found[0] if found else None

    def crates_with_bin(self, name: str) -> list[Crate]:
        return list(self._index()["bin"].get(name, []))

    def members_of(self, directory: str) -> list[Crate]:
        """The crates whose workspace root is the manifest in `directory`, in crate order."""
        return list(self._index()["root"].get(directory, []))

    def crate_at(self, directory: str) -> Crate | None:
        found = self._index()["dir"].get(directory)
        return found[0] if found else None

    def cargo_config_for(self, directory: str) -> CargoConfig | None:
        """cargo reads .cargo/config.toml from the working directory upward; deeper wins."""
        for d in upward(directory):
            if d in self.cargo_configs:
                return self.cargo_configs[d]
        return None


def load_repo(root: Path, config: Config, files: FileSet | None = None) -> Repo:
    """Load the whole tree, or only the files of a pre-computed (narrowed) file set."""
    forget_directories()
    inv = files if files is not None else discover(root, config.exclude)
    repo = Repo(root=root, config=config, files=inv)
    _load_manifests(repo)
    _load_cargo_configs(repo)
    _build_crates(repo)
    _load_sources(repo)
    _load_containerfiles(repo)
    for d in inv.unreadable_dirs:
        repo.problems.append(
            ParseProblem(d, 1, "cannot read directory: permission denied", skipped=True)
        )
    for rel, message in inv.ignore_problems:  # an unreadable .gitignore: what it hides is unknown
        repo.problems.append(ParseProblem(rel, 1, message, skipped=True))
    # Loading is done: the bytes go, and the budget stays spent so that later reads
    # (fixes) are kept once, as `text()`'s decoded text, not also as bytes.
    repo._kept, repo._kept_size = {}, KEEP_BYTES
    return repo


def _read(repo: Repo, rel: str) -> SourceText | None:
    try:
        text = decode(repo.read(rel))
    except ReadError as exc:
        repo.problems.append(ParseProblem(rel, exc.line, exc.message, skipped=exc.skipped))
        return None
    repo.texts[rel] = text
    return text


def _load_manifests(repo: Repo) -> None:
    for rel in repo.files.manifests:
        text = _read(repo, rel)
        if text is None:
            continue
        try:
            repo.manifests[rel] = parse_manifest(rel, text.text)
        except ManifestError as exc:
            repo.problems.append(ParseProblem(rel, exc.line, exc.message, exc.column))
            continue
        _check_target_keys(repo, repo.manifests[rel])


def _check_target_keys(repo: Repo, m: Manifest) -> None:
    from allocpolicy.parsing.cfg import CfgError, parse_cfg

    targets = m.data.get("target")
    for key in targets if isinstance(targets, dict) else ():
        if key.startswith("cfg("):
            try:
                parse_cfg(key)
            except CfgError as exc:
                line = m.line_of("target", key, "dependencies")
                repo.problems.append(
                    ParseProblem(m.path, line, f"invalid cfg in [target.'{key}']: {exc.message}")
                )


def _load_cargo_configs(repo: Repo) -> None:
    # When both exist cargo prefers the extension-less legacy file.
    for rel in sorted(repo.files.cargo_configs, key=lambda p: p.endswith(".toml")):
        text = _read(repo, rel)
        if text is None:
            continue
        owner = posixpath.dirname(posixpath.dirname(rel))
        try:
            cfg = parse_cargo_config(rel, text.text)
        except ManifestError as exc:
            repo.problems.append(ParseProblem(rel, exc.line, exc.message, exc.column))
            continue
        repo.cargo_configs.setdefault(owner, cfg)


def _build_crates(repo: Repo) -> None:
    roots = {p: m for p, m in repo.manifests.items() if m.workspace_members is not None}
    member_root: dict[str, Manifest] = {}
    for root in sorted(roots.values(), key=lambda m: len(m.path)):
        for member in workspace_members(root, repo.manifests):
            member_root[member] = root
    files = set(repo.files.rust_sources)
    bins = bin_sources(repo.files.rust_sources)
    locks = {posixpath.dirname(p): p for p in repo.files.locks}
    parsed: dict[str, dict[str, list[str]]] = {}
    for path, m in repo.manifests.items():
        if m.package is None:
            continue
        crate = Crate(
            manifest=m,
            name=m.package,
            dir=m.dir,
            root=member_root.get(path, m if path in roots else None),
        )
        resolve_targets(crate, files, bins.get(m.dir, []))
        resolve_workspace_deps(crate)
        crate.locked = _lock_for(repo, crate, locks, parsed)
        repo.crates.append(crate)


def _lock_for(
    repo: Repo, crate: Crate, locks: dict[str, str], parsed: dict[str, dict[str, list[str]]]
) -> dict[str, list[str]]:
    d = crate.root.dir if crate.root else crate.dir
    rel = locks.get(d)
    if rel is None:
        return {}
    if rel not in parsed:  # a workspace's members share one lock: read and parse it once
        parsed[rel] = _parse_lock(repo, rel)
    return parsed[rel]


def _parse_lock(repo: Repo, rel: str) -> dict[str, list[str]]:
    text = _read(repo, rel)
    if text is None:
        return {}
    try:
        return parse_lock(text.text)
    except ManifestError as exc:
        repo.problems.append(ParseProblem(rel, exc.line, exc.message, exc.column))
        return {}


def upward(directory: str) -> list[str]:
    """``a/b`` -> ["a/b", "a", ""]: a directory and its parents up to the root.

    Stops where dirname stops changing, so a path that is not repository-relative
    ("/", "//x") ends the walk instead of looping on itself.
    """
    out = [directory]
    d = directory
    while d:
        parent = posixpath.dirname(d)
        if parent == d:
            break
        out.append(parent)
        d = parent
    if out[-1]:
        out.append("")
    return out


def _owner(crates_by_dir: dict[str, Crate], rel: str) -> Crate | None:
    for d in upward(posixpath.dirname(rel)):
        if d in crates_by_dir:
            return crates_by_dir[d]
    return None


def _load_sources(repo: Repo) -> None:
    by_dir = {c.dir: c for c in repo.crates}
    found: dict[int, tuple[Crate, list[_Pending]]] = {}  # by crate (two may share a name)
    macros: list[tuple[Crate, MacroDef]] = []
    owners: dict[str, Crate] = {}  # every shipped source, for the macro pass
    macro_files: list[str] = []  # those that define a macro
    for rel in repo.files.rust_sources:
        crate = _owner(by_dir, rel)
        if crate is None:
            continue
        try:
            data = repo.read(rel)
        except ReadError as exc:
            repo.problems.append(ParseProblem(rel, exc.line, exc.message, skipped=exc.skipped))
            continue
        if b"allocpolicy:" in data:
            from allocpolicy.parsing.rust import file_suppressions

            repo.rust_suppressions[rel] = file_suppressions(data)
        if _not_shipped(crate, rel):
            continue
        owners[rel] = crate
        if b"macro_rules" in data:
            macro_files.append(rel)
        if not might_declare_allocator(data):
            continue
        from allocpolicy.parsing.rust import scan_rust_source_cached  # files that may declare one

        info = scan_rust_source_cached(data)
        if info.parse_error:
            repo.problems.append(ParseProblem(rel, info.parse_error[0], info.parse_error[1]))
        found.setdefault(id(crate), (crate, []))[1].extend(
            _Pending(rel, a) for a in info.allocators
        )
        macros += [(crate, m) for m in info.macros if m.allocators]
    files = set(repo.files.rust_sources)
    for crate, pending in found.values():
        _place_statics(repo, crate, pending, files)
    from allocpolicy.facts.macros import expand_allocator_macros

    expanded: dict[int, tuple[Crate, list[_Pending]]] = {}
    for crate, e in expand_allocator_macros(repo, macros, owners, macro_files):
        expanded.setdefault(id(crate), (crate, []))[1].append(
            _Pending(e.file, e.item, e.via, e.defined_in)
        )
    for crate, pending in expanded.values():
        _place_statics(repo, crate, pending, files)


@record(frozen=True)
class _Pending:
    file: str
    item: GlobalAllocator
    via: str | None = None  # the macro call that declares it
    macro_crate: str | None = None  # the package defining that macro


def _place_statics(repo: Repo, crate: Crate, pending: list[_Pending], files: set[str]) -> None:
    """Which root compiles each static, under which module gates (facts/modules.py)."""
    roots = {*crate.bins.values(), *([crate.lib] if crate.lib else [])}
    targets = {p.file for p in pending if p.file not in roots}
    reach = module_reach(crate, targets, lambda r: _read_or_none(repo, r), files) if targets else {}
    lib_mods: frozenset[str] | None = None
    for p in pending:
        module_cfg = None
        how = reach.get(p.file)
        if how:
            bin_only, in_lib, module_cfg = _from_reach(how)
        else:  # a root, or a file no `mod` chain we could follow reaches
            if lib_mods is None:
                lib_mods = _lib_modules(repo, crate)
            bin_only, in_lib = classify_static(crate, p.file, lib_mods)
        crate.statics.append(
            AllocatorStatic(
                p.file,
                p.item,
                bin_only,
                in_lib,
                module_cfg=module_cfg,
                links_into_bins=not (in_lib and crate.lib_is_artifact),
                via_macro=p.via,
                macro_crate=p.macro_crate,
            )
        )


def _from_reach(how: list[Reach]) -> tuple[str | None, bool, CfgExpr | None]:
    lib = [r for r in how if r.kind == "lib"]
    chosen = lib or how
    bins = {r.bin for r in chosen}
    bin_only = bins.pop() if not lib and len(bins) == 1 else None
    cfgs = [r.cfg for r in chosen]
    module_cfg = None if any(c is None for c in cfgs) else disj(c for c in cfgs if c is not None)
    return bin_only, bool(lib), module_cfg


def _read_or_none(repo: Repo, rel: str) -> bytes | None:
    try:
        return repo.read(rel)
    except ReadError:
        return None


_DEV_TARGET_DIRS = ("benches/", "examples/", "tests/")


def _not_shipped(crate: Crate, rel: str) -> bool:
    """Benches, examples and integration tests build their own binaries, never the image's."""
    inner = rel[len(crate.dir) + 1 :] if crate.dir else rel
    return inner.startswith(_DEV_TARGET_DIRS) and rel not in crate.bins.values()


def _lib_modules(repo: Repo, crate: Crate) -> frozenset[str]:
    if crate.lib is None:
        return frozenset()
    try:
        return library_modules(repo.read(crate.lib))
    except ReadError:
        return frozenset()


def _load_containerfiles(repo: Repo) -> None:
    listed = set(repo.files.containerfiles)
    for rel in repo.files.containerfiles:
        if _links_to_listed(repo.root, rel, listed):
            continue  # `Dockerfile -> docker/Dockerfile.debian` is that one image, not a second
        text = _read(repo, rel)
        if text is None:
            continue
        try:
            doc = parse_dockerfile(text.text, repo.config.build_args)
            context = _context(repo, rel, doc)
            repo.containerfiles.append(analyze(rel, doc, context, read=_reader(repo)))
        except DockerfileError as exc:  # also a word BuildKit would refuse to expand
            repo.problems.append(
                ParseProblem(rel, exc.line, f"cannot parse Containerfile: {exc.message}")
            )
        except Exception as exc:  # a shape we did not foresee costs this file, not the scan
            repo.problems.append(
                ParseProblem(
                    rel,
                    1,
                    f"internal error analysing this file: {type(exc).__name__}: {exc}",
                    skipped=True,  # our defect, not the user's: its facts are unknown
                )
            )

    _with_local_images(repo)


def _reader(repo: Repo) -> Callable[[str], str | None]:
    """A repository file's text for the RUN reader (`make` reads the Makefile), bounded."""

    def read(rel: str) -> str | None:
        try:  # a name a RUN line gives: missing is normal, so no problem is reported
            return decode(repo.read(rel)).text
        except ReadError:
            return None

    return read


def _local_names(rel: str) -> list[str]:
    """Names an image built from `rel` goes by: `build-tools/Dockerfile`, `Dockerfile.builder`."""
    d, name = posixpath.split(rel)
    low = name.lower()
    if low in ("dockerfile", "containerfile"):
        return [posixpath.basename(d).lower()] if d else []
    for kind in ("dockerfile", "containerfile"):
        if low.startswith(kind + "."):
            return _dotted(low[len(kind) + 1 :])
        if low.endswith("." + kind):
            return _dotted(low[: -len(kind) - 1])
    return []


def _dotted(name: str) -> list[str]:
    """`ci.alpine-base` goes by itself and by its last part, `alpine-base`."""
    last = name.rsplit(".", 1)[-1]
    return [name, last] if last != name else [name]


def _with_local_images(repo: Repo) -> None:
    """Read again each file whose stage is FROM an image another file here builds.

    `FROM ghcr.io/org/build-tools:pinned` next to `build-tools/Dockerfile` starts from
    that file's last stage (its toolchain, libc, environment). One level only: the
    image file itself is read as it stands, so no chain or cycle is followed.
    """
    names: dict[str, list[Containerfile]] = {}
    for cf in repo.containerfiles:
        for name in _local_names(cf.path):
            names.setdefault(name, []).append(cf)
    local: dict[str, tuple[str, StageFacts]] = {}
    for n, cfs in names.items():
        final = cfs[0].final
        if len(cfs) == 1 and final is not None:  # two files of one name: neither
            local[n] = (cfs[0].path, final)
    if not local:
        return
    for i, cf in enumerate(repo.containerfiles):
        # asked of `local` itself: a copy without this file per file was quadratic
        if any(
            s.stage.parent is None
            and s.image.libc == "unknown"
            and any(
                k in local and local[k][0] != cf.path for k in image_keys(s.stage.base_resolved)
            )
            for s in cf.stages
        ):
            theirs = {n: v for n, v in local.items() if v[0] != cf.path}
            try:
                repo.containerfiles[i] = analyze(
                    cf.path, cf.doc, cf.context, theirs, read=_reader(repo)
                )
            except Exception:
                continue


def _links_to_listed(root: Path, rel: str, listed: set[str]) -> bool:
    """Whether `rel` is a symbolic link to another Containerfile of the file set."""
    path = root / rel
    if not path.is_symlink():
        return False
    try:
        target = path.resolve(strict=True).relative_to(root.resolve()).as_posix()
    except (OSError, ValueError, RuntimeError):  # dangling, a loop, or out of the tree
        return False  # the reader reports it
    return target != rel and target in listed


def _context(repo: Repo, rel: str, doc: Dockerfile) -> str:
    """The build context: the nearest directory (Dockerfile's, then up) holding every COPY source."""
    sources = []
    for ins in doc.instructions:
        if ins.keyword in ("COPY", "ADD") and "from" not in ins.flags and not ins.heredocs:
            words = ins.exec_form() or ins.words()
            sources += [
                context_path("", w)  # `/Cargo.toml` is the context's, never the machine's
                for w in words[:-1]
                if not any(c in w for c in "*?$[") and "://" not in w
            ]
    for d in upward(posixpath.dirname(rel)):
        base = repo.root / d if d else repo.root
        if sources and all(os.path.exists(base / s) for s in sources):
            return _workspace_of(repo, d, sources)
        if not sources and os.path.exists(base / "Cargo.toml"):
            # nothing copied (`RUN --mount=target=.` reads the context in place): the
            # Rust project the file sits in is what it builds
            return d
    return posixpath.dirname(rel)


def _workspace_of(repo: Repo, d: str, sources: list[str]) -> str:
    """`COPY . app` in a member's own directory: a member that inherits from its
    workspace (`x.workspace = true`) builds only with the workspace root in the
    context (cargo looks for it upward), so the context is the root's directory."""
    crate = repo.crate_at(d)
    if crate is None or crate.root is None or not _inherits(crate.manifest.data):
        return d
    top = posixpath.dirname(crate.root.path)
    above = top != d and (not top or d.startswith(top + "/"))
    base = repo.root / top if top else repo.root
    if above and all(os.path.exists(base / s) for s in sources):
        return top
    return d


def _inherits(data: dict[str, Any]) -> bool:
    package = data.get("package")
    tables = [package] if isinstance(package, dict) else []
    for key in ("dependencies", "build-dependencies"):
        deps = data.get(key)
        if isinstance(deps, dict):
            tables.append(deps)
    for table in tables:
        for value in table.values():
            if isinstance(value, dict) and value.get("workspace") is True:
                return True
    return False
