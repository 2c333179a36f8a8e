"""Crates of a repository: targets, dependencies, allocator statics, features."""

from __future__ import annotations

import fnmatch
import re

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import field, record
from allocpolicy.parsing.cargo import Dependency, Manifest
from allocpolicy.parsing.cfg import conj

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Callable

    from allocpolicy.parsing.cfg import CfgExpr
    from allocpolicy.parsing.rust import GlobalAllocator


@record
class AllocatorStatic:
    file: str  # repo-relative path
    item: GlobalAllocator
    bin_only: str | None  # the bin whose root (or src/bin/<name>/) holds it, else None (shared)
    in_library: bool
    module_cfg: CfgExpr | None = None  # the gates of the module path from the crate root
    links_into_bins: bool = True  # False for a cdylib/staticlib-only library: no bin links it
    via_macro: str | None = None  # the macro call that expands to it (`common::enable_jemalloc`)
    macro_crate: str | None = None  # the package defining that macro (what `$crate` names)

    @property
    def cfg(self) -> CfgExpr | None:
        """The effective gate: the module path's and the static's own."""
        if self.module_cfg is None:
            return self.item.cfg
        return conj([self.module_cfg, self.item.cfg])

    def serves(self, bin_name: str) -> bool:
        """Whether the binary `bin_name` of its crate compiles this static (cfg aside)."""
        return self.links_into_bins and self.bin_only in (None, bin_name)


@record
class Crate:
    manifest: Manifest
    name: str
    dir: str
    bins: dict[str, str] = field(default_factory=dict)  # bin name -> repo-relative root file
    # bin name -> its `required-features` (a build without them skips the bin)
    bin_required: dict[str, tuple[str, ...]] = field(default_factory=dict)
    lib: str | None = None
    deps: list[Dependency] = field(default_factory=list)  # workspace = true resolved
    statics: list[AllocatorStatic] = field(default_factory=list)
    root: Manifest | None = None  # the workspace root manifest, if any
    locked: dict[str, list[str]] = field(default_factory=dict)
    # Item-level macro calls that may declare the allocator but could not be read
    # through: (file, line, why). They make the allocator unknown, never wrong.
    unread_macros: list[tuple[str, int, str]] = field(default_factory=list)
    # jemalloc -sys packages the crates it links build unprefixed (facts/subjects.py, memo)
    graph_unprefixed: frozenset[str] | None = field(default=None, repr=False)

    @property
    def has_binary(self) -> bool:
        return bool(self.bins)

    @property
    def lib_is_artifact(self) -> bool:
        """A `crate-type = ["cdylib"]` (or staticlib) library is a final artifact, like a binary:
        no Rust crate links it, and what it declares is its own choice."""
        types = set(self.manifest.lib_crate_types)
        return bool(types) and types <= {"cdylib", "staticlib"}

    def rel(self, path: str) -> str:
        return f"{self.dir}/{path}" if self.dir else path

    def dep_by_rust_name(self, rust_name: str) -> Dependency | None:
        for dep in self.deps:
            if dep.rust_name == rust_name:
                return dep
        return None


def bin_sources(files: list[str]) -> dict[str, list[str]]:
    """Files under any `src/bin/`, keyed by the crate directory above it (one pass, not per crate)."""
    out: dict[str, list[str]] = {}
    for f in files:
        head, sep, _ = f.rpartition("src/bin/")
        if sep and (not head or head.endswith("/")):
            out.setdefault(head.rstrip("/"), []).append(f)
    return out


def resolve_targets(crate: Crate, files: set[str], bin_files: list[str] = ()) -> None:  # type: ignore[assignment]
    """Cargo's target auto-discovery, limited to what allocpolicy needs."""
    m = crate.manifest
    if m.lib is not None:
        crate.lib = crate.rel(m.lib)
    elif crate.rel("src/lib.rs") in files:
        crate.lib = crate.rel("src/lib.rs")
    for b in m.bins:
        crate.bins[b.name] = crate.rel(b.path)
        if b.required_features:
            crate.bin_required[b.name] = b.required_features
    if not m.autobins:
        return
    main = crate.rel("src/main.rs")
    if main in files and crate.name not in crate.bins and main not in crate.bins.values():
        crate.bins[crate.name] = main
    prefix = crate.rel("src/bin/")
    for f in bin_files:
        if not f.startswith(prefix):
            continue
        rest = f[len(prefix) :]
        if rest.count("/") == 0 and rest.endswith(".rs"):
            crate.bins.setdefault(rest[:-3], f)
        elif rest.count("/") == 1 and rest.endswith("/main.rs"):
            crate.bins.setdefault(rest.split("/")[0], f)


def resolve_workspace_deps(crate: Crate) -> None:
    ws = crate.root.workspace_dependencies if crate.root else {}
    out = []
    for dep in crate.manifest.dependencies:
        base = ws.get(dep.key) if dep.workspace else None
        if base is not None:
            df = base.default_features
            dep = Dependency(
                key=dep.key,
                package=base.package,
                table=dep.table,
                target=dep.target,
                version=base.version,
                optional=dep.optional,
                default_features=df,
                features=tuple(dict.fromkeys(base.features + dep.features)),
                workspace=True,
                inline=dep.inline,
                line=dep.line,
                path=base.path,
            )
        out.append(dep)
    crate.deps = out


def workspace_members(root: Manifest, manifests: dict[str, Manifest]) -> list[str]:
    """Paths of member manifests of a workspace root, globs and excludes applied."""
    base = root.dir
    members = _matcher(root.workspace_members or [])
    excluded = _matcher(root.workspace_exclude)
    out = []
    for path, m in manifests.items():
        if path == root.path:
            continue
        d = m.dir
        rel = d[len(base) + 1 :] if base and d.startswith(base + "/") else (d if not base else None)
        if rel is not None and members(rel) and not excluded(rel):
            out.append(path)
    return out


def _matcher(patterns: list[str]) -> Callable[[str], bool]:
    """One set lookup for literal members, one compiled regex for the globs.

    A 3000-member workspace lists every member literally; testing each manifest
    against each pattern with fnmatch was quadratic.
    """
    pats = [p.rstrip("/") for p in patterns]
    literal = {p for p in pats if "*" not in p and "?" not in p and "[" not in p}
    globs = [p for p in pats if p not in literal]
    rx = re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs)) if globs else None
    return lambda rel: rel in literal or (rx is not None and rx.match(rel) is not None)


_MOD_DECL = lazy_re(rb"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", re.M)


def classify_static(crate: Crate, file: str, lib_mods: frozenset[str]) -> tuple[str | None, bool]:
    """Which bin a static belongs to (None: all), and whether a library compiles it."""
    for name, root in crate.bins.items():
        if file == root:
            return name, False
        bin_dir = root.rsplit("/", 1)[0]
        if (
            root.endswith("/main.rs")
            and bin_dir != crate.rel("src")
            and file.startswith(bin_dir + "/")
        ):
            return name, False
    if crate.lib is not None and (file == crate.lib or _module_stem(crate, file) in lib_mods):
        return None, True
    return None, False


def library_modules(lib_source: bytes) -> frozenset[str]:
    return frozenset(m.decode() for m in _MOD_DECL.findall(lib_source))


def _module_stem(crate: Crate, file: str) -> str:
    src = crate.rel("src") + "/"
    rest = file[len(src) :] if file.startswith(src) else file
    return rest.split("/")[0].removesuffix(".rs")


def enabled_features(
    crate: Crate, requested: tuple[str, ...], default: bool, all_features: bool
) -> tuple[frozenset[str], frozenset[str]]:
    """Features switched on, and optional dependencies they activate (by key)."""
    feats = crate.manifest.features
    optional = {d.key for d in crate.deps if d.optional}
    todo = list(feats) if all_features else list(requested) + (["default"] if default else [])
    on: set[str] = set()
    deps: set[str] = set()
    while todo:
        item = todo.pop()
        if item.startswith("dep:"):
            deps.add(item[4:])
            continue
        if "/" in item:
            dep, _, _ = item.partition("/")
            if not dep.endswith("?"):
                deps.add(dep)
                if dep in feats:
                    todo.append(dep)
            continue
        if item in on:
            continue
        on.add(item)
        if item in optional and not any(f"dep:{item}" in v for v in feats.values()):
            deps.add(item)
        todo.extend(feats.get(item, []))
    return frozenset(on), frozenset(deps & optional)
