"""Cargo.toml, Cargo.lock and .cargo/config.toml, read with tomllib."""

from __future__ import annotations

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import field, record
from allocpolicy.parsing.toml_lines import TomlIndex, index_toml

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

_TOML_POS = lazy_re(r"\(at line (\d+), column (\d+)\)")

# cargo's TOML parser stops at 80 nested arrays/inline tables ("cannot recurse further;
# max recursion depth met", checked with cargo 1.95); tomllib recurses per level and a
# few hundred levels end in RecursionError. So deeper is malformed, for both.
MAX_TOML_DEPTH = 80
# Strings and comments, whose brackets do not nest, or one bracket.
_TOML_TOKEN = lazy_re(
    r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*|[\[\]{}]'
)


class ManifestError(Exception):
    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


# A monorepo's workspace root (3000 members) or Cargo.lock takes tens of ms to parse on
# every pre-commit run; the same value read back with marshal takes a fraction of one.
BIG_TOML = 32 * 1024


def load_toml(text: str, cache: bool = False) -> dict[str, Any]:
    """tomllib's value for `text`; with `cache`, kept by content in the user cache.

    The repository's own Cargo files are cached (`cache=True`): tomllib's import
    (typing, datetime) costs more than the rest of a one-service scan, and a
    check mostly reads manifests that did not change since the last one. Large
    files are always cached. A changed file is parsed by tomllib, as ever.
    """
    if cache or len(text) >= BIG_TOML:
        return _cached_toml(text)
    return _parse_toml(text)


def _parse_toml(text: str) -> dict[str, Any]:
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    deep = _too_deep(text)
    if deep is not None:
        raise ManifestError(
            f"invalid TOML: arrays or inline tables nested deeper than {MAX_TOML_DEPTH} levels"
            " (cargo refuses them too)",
            *deep,
        )
    try:
        data: dict[str, Any] = tomllib.loads(text)
        return data
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_POS.search(msg)
        line, col = (int(m.group(1)), int(m.group(2))) if m else (1, 1)
        raise ManifestError(f"invalid TOML: {_TOML_POS.sub('', msg).strip()}", line, col) from None


def _too_deep(text: str) -> tuple[int, int] | None:
    """Where `text` first nests past MAX_TOML_DEPTH, as (line, column); None if it does not.

    Only counted when the file has that many opening brackets at all, which no real
    manifest has, so the common file pays two `count` calls.
    """
    if text.count("[") + text.count("{") <= MAX_TOML_DEPTH:
        return None
    depth = 0
    for m in _TOML_TOKEN.finditer(text):
        tok = m.group()
        if tok in ("[", "{"):
            depth += 1
            if depth > MAX_TOML_DEPTH:
                line = text.count("\n", 0, m.start()) + 1
                return line, m.start() - text.rfind("\n", 0, m.start())
        elif tok in ("]", "}"):
            depth = max(depth - 1, 0)
    return None


def _cached_toml(text: str) -> dict[str, Any]:
    """tomllib's value for `text`, kept in the user cache, keyed by content (and checked against it)."""
    from allocpolicy.usercache import load, save

    path = _cache_path(text, "value")
    cached = load(path)
    if (
        isinstance(cached, tuple)
        and len(cached) == 2
        and cached[0] == text
        and isinstance(cached[1], dict)
    ):
        return cached[1]
    data = _parse_toml(text)  # raises ManifestError for a broken file, which is never cached
    save(path, (text, data))
    return data


def _cached_index(lines: list[str]) -> TomlIndex:
    """The line index of a large file (a 3000-member workspace root), cached like its value."""
    from allocpolicy.usercache import load, save

    path = _cache_path("\n".join(lines), "lines")
    cached = load(path)
    if isinstance(cached, tuple) and len(cached) == 3 and all(isinstance(d, dict) for d in cached):
        return TomlIndex(*cached)
    index = index_toml(lines)
    save(path, (index.tables, index.keys, index.table_ends))
    return index


def _cache_path(text: str, what: str) -> Any:
    """Where a TOML file's `what` is kept: by content (see usercache.entry)."""
    from allocpolicy.usercache import entry

    return entry("toml", text.encode("utf-8", "surrogatepass"), what)


@record
class Dependency:
    key: str  # the name in the table; how Rust code refers to it (with - -> _)
    package: str  # the crate on crates.io (`package = ...` renames)
    table: tuple[str, ...]  # TOML path of the table holding it
    target: str | None  # the [target.<key>] it sits under, if any
    version: str | None
    optional: bool
    default_features: bool | None  # None when not written
    features: tuple[str, ...]
    workspace: bool  # `workspace = true`
    inline: bool  # `name = "1"` or `name = { ... }` (vs a [dependencies.name] table)
    line: int
    path: str | None = None  # `path = "..."`: a crate of this repository, not of a registry

    @property
    def rust_name(self) -> str:
        return self.key.replace("-", "_")


@record
class BinTarget:
    name: str
    path: str  # relative to the crate directory
    # `required-features`: cargo skips the bin in a build without all of them
    required_features: tuple[str, ...] = ()


@record
class Manifest:
    path: str  # relative posix path of Cargo.toml
    data: dict[str, Any]
    text: str = field(repr=False)  # as read; `lines` is derived from it on demand
    package: str | None = None
    dependencies: list[Dependency] = field(default_factory=list)
    workspace_members: list[str] | None = None
    workspace_exclude: list[str] = field(default_factory=list)
    workspace_default_members: list[str] = field(default_factory=list)
    workspace_dependencies: dict[str, Dependency] = field(default_factory=dict)
    features: dict[str, list[str]] = field(default_factory=dict)
    bins: list[BinTarget] = field(default_factory=list)
    lib: str | None = None
    lib_crate_types: list[str] = field(default_factory=list)  # [lib] crate-type, as written
    autobins: bool = True
    profile: str | None = None
    profile_line: int | None = None
    # Built on first use: most manifests never need a line number, and indexing a
    # 3000-member workspace root cost more than the rest of a pre-commit check.
    line_index: TomlIndex | None = None

    @property
    def lines(self) -> list[str]:
        # Split on use, not kept: only the line index reads them (once per manifest).
        return self.text.splitlines()

    @property
    def index(self) -> TomlIndex:
        if self.line_index is None:
            lines = self.lines
            big = sum(map(len, lines)) >= BIG_TOML
            self.line_index = _cached_index(lines) if big else index_toml(lines)
        return self.line_index

    @property
    def dir(self) -> str:
        return self.path.rsplit("/", 1)[0] if "/" in self.path else ""

    def line_of(self, *path: str) -> int:
        return self.index.line_of(tuple(path)) or 1


def parse_manifest(path: str, text: str) -> Manifest:
    data = load_toml(text, cache=True)
    m = Manifest(path=path, data=data, text=text)
    pkg = data.get("package")
    if isinstance(pkg, dict) and isinstance(pkg.get("name"), str):
        m.package = pkg["name"]
        _read_profile(m, pkg)
        m.autobins = pkg.get("autobins", True) is not False
    _read_workspace(m, data.get("workspace"))
    m.dependencies = _read_deps(m, data.get("dependencies"), ("dependencies",), None)
    targets = data.get("target")
    if isinstance(targets, dict):
        for key, table in targets.items():
            if isinstance(table, dict):
                m.dependencies += _read_deps(
                    m, table.get("dependencies"), ("target", key, "dependencies"), key
                )
    feats = data.get("features")
    if isinstance(feats, dict):
        m.features = {k: [str(x) for x in v] for k, v in feats.items() if isinstance(v, list)}
    _read_targets(m, data)
    return m


def _read_profile(m: Manifest, pkg: dict[str, Any]) -> None:
    meta = pkg.get("metadata")
    ours = meta.get("allocpolicy") if isinstance(meta, dict) else None
    if isinstance(ours, dict) and "profile" in ours:
        m.profile = str(ours["profile"])
        m.profile_line = m.line_of("package", "metadata", "allocpolicy", "profile")


def _read_workspace(m: Manifest, ws: Any) -> None:
    if not isinstance(ws, dict):
        return
    members = ws.get("members", [])
    m.workspace_members = [str(x) for x in members] if isinstance(members, list) else []
    exclude = ws.get("exclude", [])
    m.workspace_exclude = [str(x) for x in exclude] if isinstance(exclude, list) else []
    default = ws.get("default-members", [])
    m.workspace_default_members = (
        [str(x).rstrip("/") for x in default] if isinstance(default, list) else []
    )
    deps = _read_deps(m, ws.get("dependencies"), ("workspace", "dependencies"), None)
    m.workspace_dependencies = {d.key: d for d in deps}


def _read_deps(
    m: Manifest, table: Any, where: tuple[str, ...], target: str | None
) -> list[Dependency]:
    if not isinstance(table, dict):
        return []
    out = []
    for key, spec in table.items():
        if isinstance(spec, str):
            spec = {"version": spec}
            inline = True
        elif isinstance(spec, dict):
            inline = (where + (key,)) not in m.index.tables
        else:
            continue
        df = spec.get("default-features", spec.get("default_features"))
        feats = spec.get("features", [])
        out.append(
            Dependency(
                key=key,
                package=str(spec.get("package", key)),
                table=where,
                target=target,
                version=spec.get("version") if isinstance(spec.get("version"), str) else None,
                optional=spec.get("optional") is True,
                default_features=df if isinstance(df, bool) else None,
                features=tuple(str(f) for f in feats) if isinstance(feats, list) else (),
                workspace=spec.get("workspace") is True,
                inline=inline,
                line=m.line_of(*where, key),
                path=spec["path"] if isinstance(spec.get("path"), str) else None,
            )
        )
    return out


def _read_targets(m: Manifest, data: dict[str, Any]) -> None:
    lib = data.get("lib")
    if isinstance(lib, dict):
        m.lib = str(lib.get("path", "src/lib.rs"))
        types = lib.get("crate-type", lib.get("crate_type"))
        if isinstance(types, list):
            m.lib_crate_types = [str(t) for t in types]
    bins = data.get("bin")
    if isinstance(bins, list):
        for b in bins:
            if isinstance(b, dict) and isinstance(b.get("name"), str):
                required = b.get("required-features", b.get("required_features"))
                m.bins.append(
                    BinTarget(
                        b["name"],
                        str(b.get("path", f"src/bin/{b['name']}.rs")),
                        tuple(str(f) for f in required) if isinstance(required, list) else (),
                    )
                )


def parse_lock(text: str) -> dict[str, list[str]]:
    """Package name -> versions locked in a Cargo.lock."""
    data = load_toml(text, cache=True)
    out: dict[str, list[str]] = {}
    for pkg in data.get("package", []) if isinstance(data.get("package"), list) else []:
        if isinstance(pkg, dict) and isinstance(pkg.get("name"), str):
            out.setdefault(pkg["name"], []).append(str(pkg.get("version", "")))
    return out


@record
class CargoConfig:
    path: str
    target: str | None  # [build] target (the first, when it is a list)
    rustflags: str  # [build] rustflags
    target_rustflags: dict[str, str] = field(
        default_factory=dict
    )  # [target.<triple|cfg>] rustflags


def parse_cargo_config(path: str, text: str) -> CargoConfig:
    data = load_toml(text, cache=True)
    raw_build = data.get("build")
    build: dict[str, Any] = raw_build if isinstance(raw_build, dict) else {}
    target = build.get("target")
    if isinstance(target, list):
        target = target[0] if target else None
    per_target = {}
    for key, table in (
        (data.get("target") or {}).items() if isinstance(data.get("target"), dict) else []
    ):
        if isinstance(table, dict) and table.get("rustflags"):
            per_target[key] = _flags(table.get("rustflags"))
    return CargoConfig(
        path,
        target if isinstance(target, str) else None,
        _flags(build.get("rustflags")),
        per_target,
    )


def _flags(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return value if isinstance(value, str) else ""
