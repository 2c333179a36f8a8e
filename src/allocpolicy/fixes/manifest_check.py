"""Read an edited Cargo.toml the way cargo does, before a fix that made it is offered.

A fix that renames or adds a dependency can leave `[features]` naming a dependency
that no longer exists; cargo then rejects the whole workspace ("feature `jemalloc`
includes `jemallocator` which is neither a dependency nor another feature"), and
a re-scan by this tool would not notice. These checks follow cargo's own reading
of a manifest (its feature map and the validation that follows it), so a fix whose
result fails them is not offered as safe:

- the text is TOML without duplicate keys (tomllib rejects those);
- every `[features]` value resolves: `name` to a feature or to an optional
  dependency's implicit feature, `dep:name` to an optional dependency,
  `name/feature` to a dependency, `name?/feature` to an optional one;
- no feature shadows an optional dependency's implicit feature without some
  feature enabling that dependency (`dep:name` or `name/feature`);
- a `workspace = true` dependency is in the root's `[workspace.dependencies]`;
- one package is not declared twice, under two keys, with the same requirement
  (cargo: "depends on crate ... multiple times with different names").

Only what the manifest itself says is checked: no registry, no other package's
features (whether `tikv-jemallocator/profiling` exists is the resolver's business).
"""

from __future__ import annotations

from allocpolicy._record import record

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Any

_KINDS = ("dependencies", "build-dependencies", "build_dependencies")
_DEV = ("dev-dependencies", "dev_dependencies")


@record(frozen=True)
class DepEntry:
    """One dependency as a manifest declares it, in one of its tables."""

    key: str  # the name in the table, which features use
    package: str  # what it resolves to (`package = ...` renames)
    table: tuple[str, ...]
    optional: bool
    dev: bool
    workspace: bool
    version: str | None
    local: bool  # `path` or `git`: not a registry crate


def check_manifest_text(text: str, root_text: str | None = None) -> list[str]:
    """What cargo would reject in this manifest; `root_text` is its workspace root's, if any."""
    from allocpolicy.parsing.cargo import load_toml

    try:
        data = load_toml(text)
        root = load_toml(root_text) if root_text is not None else None
    except Exception as exc:  # tomllib's error names the duplicate key and its line
        return [f"not valid TOML: {exc}"]
    return manifest_problems(data, _workspace_deps(root) if root is not None else None)


def manifest_problems(
    data: Mapping[str, Any], workspace_deps: Mapping[str, Any] | None = None
) -> list[str]:
    """Problems cargo reports when it reads this manifest. `workspace_deps` is the root's
    `[workspace.dependencies]` (the manifest's own when it is the root); None: unknown,
    and `workspace = true` entries are then not checked."""
    if workspace_deps is None and isinstance(data.get("workspace"), dict):
        workspace_deps = _workspace_deps(data)
    deps = list(dependency_entries(data, workspace_deps))
    problems = _feature_problems(data.get("features", {}), deps)
    if workspace_deps is not None:
        problems += [
            f"`dependency.{d.key}` was not found in `workspace.dependencies`"
            for d in deps
            if d.workspace and d.key not in workspace_deps
        ]
    problems += [
        f"dev-dependencies are not allowed to be optional: `{d.key}`"
        for d in deps
        if d.dev and d.optional
    ]
    return problems + _twice(deps)


def dependency_entries(
    data: Mapping[str, Any], workspace_deps: Mapping[str, Any] | None = None
) -> Iterator[DepEntry]:
    """Every dependency of the package: [dependencies], dev-, build-, and per target."""
    tables: list[tuple[tuple[str, ...], Any]] = [((k,), data.get(k)) for k in _KINDS + _DEV]
    targets = data.get("target")
    if isinstance(targets, dict):
        for cfg, table in targets.items():
            if isinstance(table, dict):
                tables += [(("target", cfg, k), table.get(k)) for k in _KINDS + _DEV]
    for path, table in tables:
        if not isinstance(table, dict):
            continue
        for key, spec in table.items():
            yield _entry(key, spec, path, path[-1] in _DEV, workspace_deps or {})


def _entry(
    key: str, spec: Any, table: tuple[str, ...], dev: bool, ws: Mapping[str, Any]
) -> DepEntry:
    spec = spec if isinstance(spec, dict) else {"version": spec}
    inherited = spec.get("workspace") is True
    base = ws.get(key, {}) if inherited else spec
    base = base if isinstance(base, dict) else {"version": base}
    return DepEntry(
        key=key,
        package=str(base.get("package", key)),
        table=table,
        optional=spec.get("optional") is True,
        dev=dev,
        workspace=inherited,
        version=str(base["version"]) if "version" in base else None,
        local="path" in base or "git" in base,
    )


def _workspace_deps(root: Mapping[str, Any]) -> dict[str, Any]:
    ws = root.get("workspace")
    table = ws.get("dependencies") if isinstance(ws, dict) else None
    return dict(table) if isinstance(table, dict) else {}


def _feature_problems(features: Any, deps: list[DepEntry]) -> list[str]:
    """cargo's feature map: explicit features, plus an implicit feature per optional
    dependency that no `dep:` names and no explicit feature shadows; then each value."""
    if not isinstance(features, dict):
        return ["`features` must be a table"]
    problems: list[str] = []
    values: dict[str, list[str]] = {}
    for name, vals in features.items():
        if not isinstance(vals, list) or not all(isinstance(v, str) for v in vals):
            problems.append(f"feature `{name}` must be a list of strings")
            continue
        if name.startswith("dep:") or "/" in name:
            problems.append(f"feature name `{name}` is not allowed")
        values[name] = vals
    named_by_dep = {v[4:] for vals in values.values() for v in vals if v.startswith("dep:")}
    optional = {d.key for d in deps if d.optional and not d.dev}
    known = {d.key for d in deps}
    implicit = {k for k in optional if k not in values and k not in named_by_dep}
    for name, vals in values.items():
        problems += [
            p for v in vals if (p := _value_problem(name, v, values, known, optional, implicit))
        ]
    enabled = implicit | {
        _dep_of(v)
        for vals in values.values()
        for v in vals
        if v.startswith("dep:") or ("/" in v and "?/" not in v)
    }
    problems += [
        f"optional dependency `{k}` is not included in any feature "
        f"(`dep:{k}` or `{k}/<feature>` in some feature enables it)"
        for k in sorted(optional - enabled)
    ]
    return problems


def _dep_of(value: str) -> str:
    return value.removeprefix("dep:").split("/", 1)[0].removesuffix("?")


def _value_problem(
    feature: str,
    value: str,
    features: Mapping[str, list[str]],
    known: set[str],
    optional: set[str],
    implicit: set[str],
) -> str | None:
    """cargo's message for one feature value that does not resolve, else None."""
    head = f"feature `{feature}` includes `{value}`"
    if "/" in value:
        dep, _, sub = value.partition("/")
        weak = dep.endswith("?")
        dep = dep.removesuffix("?")
        if "/" in sub:
            return f"{head}: more than one `/` is not allowed"
        if dep.startswith("dep:"):
            return f"{head} with both `dep:` and `/`"
        if dep not in known:
            return f"{head}, but `{dep}` is not a dependency"
        if weak and dep not in optional:
            return f"{head} with a `?`, but `{dep}` is not an optional dependency"
        return None
    if value.startswith("dep:"):
        dep = value[4:]
        if dep not in known:
            return f"{head}, but `{dep}` is not listed as a dependency"
        return None if dep in optional else f"{head}, but `{dep}` is not an optional dependency"
    if value in features or value in implicit:
        return None
    if value not in known:
        return f"{head} which is neither a dependency nor another feature"
    if value in optional:
        return f"{head}, but `{value}` is an optional dependency without an implicit feature"
    return f"{head}, but `{value}` is not an optional dependency"


def _twice(deps: list[DepEntry]) -> list[str]:
    """One registry package under two keys with the same requirement resolves to one
    crate that cargo would have to give two names."""
    keys: dict[tuple[str, str | None], list[str]] = {}
    for d in deps:
        if not d.local:
            found = keys.setdefault((d.package, d.version), [])
            found += [] if d.key in found else [d.key]
    return [
        f"`{pkg}` is declared under two names: {', '.join(f'`{k}`' for k in found)}"
        for (pkg, _), found in sorted(keys.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
        if len(found) > 1
    ]
