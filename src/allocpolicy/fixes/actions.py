"""Fix actions named by policy files. Each turns a subject into a Fix, or None.

An action is registered once, with `@action(...)`: its name (what policies say),
the subject kind it works on, the title a text scan shows, and its precondition,
read off the subject alone. A text scan offers a fix when the precondition holds
(no tomlkit, no tree-sitter); computing edits checks the same precondition first,
so nothing is computed that was not offered. An action returns None when it
cannot produce an edit it is sure of; the finding then carries no fix rather
than a guess.
"""

from __future__ import annotations

import re

from allocpolicy._record import record
from allocpolicy.engine import PendingFix, ScanResult
from allocpolicy.facts.catalog import (
    BinarySubject,
    DependencySubject,
    GlobalAllocatorSubject,
    LdPreloadSubject,
    Subject,
    SuppressionSubject,
)
from allocpolicy.fixes.edits import insert_before, line_diff, replace_lines
from allocpolicy.fixes.toml_edit import edit_toml, inline_table, table_at, toml_after
from allocpolicy.model import Edit, Fix, Safety
from allocpolicy.policy.rule import FixSpec

TYPE_CHECKING = False  # typing is not imported at run time: a text scan offers fixes from here
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Literal

    from allocpolicy.facts.workspace import Crate
    from allocpolicy.parsing.cargo import Dependency
    from allocpolicy.parsing.cfg import CfgExpr

    Builder = Callable[[FixSpec, Any, Any], Any]
    TomlChange = Callable[[Any], bool]
    Changes = dict[str, list[TomlChange]]  # manifest path -> tomlkit changes, one edit per file

MIMALLOC_VERSION = "0.1"
MUSL_TABLE = 'cfg(target_env = "musl")'
ALLOCATOR_TYPES = {
    "mimalloc": "MiMalloc",
    "tikv_jemallocator": "Jemalloc",
    "jemallocator": "Jemalloc",
    "tcmalloc": "TCMalloc",
    "snmalloc_rs": "SnMalloc",
    "rpmalloc": "RpMalloc",
    "mimalloc_rust": "GlobalMiMalloc",
}
TIKV_VERSION = "0.6"


@record(frozen=True)
class FixAction:
    name: str
    subject: type[Subject]  # the subject kind it edits; any other kind gets no fix
    title: str  # what a text scan shows before edits are computed
    build: Builder
    applies: Callable[[Any], bool]  # the precondition, from the subject's facts alone


ACTIONS: dict[str, FixAction] = {}


def action(
    name: str, subject: type[Subject], title: str, applies: Callable[[Any], bool] | None = None
) -> Callable[[Builder], Builder]:
    """Register a fix action under the name policy files use."""

    def register(build: Builder) -> Builder:
        ACTIONS[name] = FixAction(name, subject, title, build, applies or (lambda _s: True))
        return build

    return register


def _usable(spec: FixSpec, subject: Subject) -> FixAction | None:
    act = ACTIONS.get(spec.action)
    if act is None or not isinstance(subject, act.subject) or not act.applies(subject):
        return None
    return act


def offer_fixes(result: ScanResult) -> None:
    """Mark each finding with the fix its action would make (title, safety), edits uncomputed."""
    for p in result.pending:
        act = _usable(p.spec, p.subject)
        p.finding.offered = (act.title, Safety(p.spec.safety)) if act else None


def attach_fixes(result: ScanResult, with_edits: bool) -> None:
    """Offer every pending fix, and with `with_edits` compute its edits too."""
    offer_fixes(result)
    if with_edits:
        resolve_fixes(result)


def resolve_fixes(result: ScanResult) -> None:
    """Compute the edits of every offered fix (tomlkit, tree-sitter): only outputs that show them pay."""
    for p in result.pending:
        p.finding.fix = build_fix(p)
    result.pending = []


def build_fix(p: PendingFix) -> Fix | None:
    act = _usable(p.spec, p.subject)
    if act is None:
        return None
    spec = p.spec
    try:
        result = act.build(spec, p.subject, p.repo)
    except Exception:  # a fix we cannot compute is no fix, never a crash of the scan
        return None
    if not result:
        return None
    title, edits, *rest = result
    # An action may only make a fix less safe than the policy says (e.g. replacing
    # a wired allocator changes runtime behaviour), never safer.
    unsafe = Safety(spec.safety) == Safety.UNSAFE or bool(rest and rest[0] == Safety.UNSAFE)
    return Fix(title, Safety.UNSAFE if unsafe else Safety.SAFE, tuple(edits))


# ------------------------------------------------------------------ helpers


def _text(repo: Any, path: str) -> str | None:
    src = repo.text(path)
    return src.text if src is not None else None


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _static_lines(rust_name: str, type_name: str, cfg: str | None, indent: str = "") -> list[str]:
    lines = [f"{indent}#[cfg({cfg})]"] if cfg else []
    return lines + [
        f"{indent}#[global_allocator]",
        f"{indent}static GLOBAL: {rust_name}::{type_name} = {rust_name}::{type_name};",
    ]


def _insert_static(repo: Any, path: str, lines: list[str]) -> Edit | None:
    from allocpolicy.parsing.rust import insertion_line, scan_rust_source

    text = _text(repo, path)
    if text is None or scan_rust_source(text.encode()).allocators:
        return None  # a second #[global_allocator] never compiles; a human must choose
    at = insertion_line(text.encode())
    src = text.splitlines()
    block = list(lines)
    if at > 1 and at - 2 < len(src) and src[at - 2].strip():
        block.insert(0, "")
    if at - 1 < len(src) and src[at - 1].strip():
        block.append("")
    return insert_before(path, at, block)


def _dep_cfg(dep: Dependency, crate: Crate) -> str | Literal[False] | None:
    """The cfg under which a dependency exists, for a static to match; False when none can say it.

    A crate may declare one dependency in several target tables (one per target, with
    different features: `cfg(target_os = "linux")` and `cfg(not(target_os = "linux"))`),
    so it is the any() of every table's key; an optional one is there only when a
    feature enables it.
    """
    expr = _dep_expr(dep, crate)
    if expr is False:
        return False
    return str(expr) if expr is not None else None


def _dep_expr(dep: Dependency, crate: Crate) -> CfgExpr | Literal[False] | None:
    from allocpolicy.parsing.cfg import CfgError, conj, disj, parse_cfg

    tables = [d for d in crate.deps if d.rust_name == dep.rust_name and _normal(d)] or [dep]
    feature = _enabling_features(crate, dep.key) if any(d.optional for d in tables) else None
    if feature is False:
        return False
    targets: list[CfgExpr | None] = []
    for d in tables:
        if d.target and not d.target.startswith("cfg("):
            return False  # a bare-triple table has no cfg spelling
        try:
            targets.append(parse_cfg(d.target) if d.target else None)
        except CfgError:
            return False
    if all(d.optional for d in tables):  # one feature gate for all: all(any(targets), feature)
        where = None if None in targets else disj([t for t in targets if t is not None])
        return conj([where, feature if feature else None])
    gates = [
        conj([t, feature if d.optional and feature else None])
        for d, t in zip(tables, targets, strict=True)
    ]
    if None in gates:
        return None  # one table has it unconditionally: it is always there
    return disj([g for g in gates if g is not None])


def _normal(dep: Dependency) -> bool:
    """A dependency the crate's code links (not a dev- or build-dependency)."""
    return dep.table[-1:] == ("dependencies",)


def _enabling_features(crate: Any, key: str) -> CfgExpr | Literal[False]:
    """The cfg that holds exactly when the optional dependency `key` is enabled."""
    from allocpolicy.parsing.cfg import CfgExpr, disj

    feats: dict[str, list[str]] = crate.manifest.features
    if not any(f"dep:{key}" in vals for vals in feats.values()):
        # The implicit feature named like the dependency: whatever enables the
        # dependency (`key`, `key/x`) turns it on too.
        return CfgExpr.eq("feature", key)
    names = sorted(
        f
        for f, vals in feats.items()
        if any(v == f"dep:{key}" or v.startswith(f"{key}/") for v in vals)
    )
    # `jemalloc-profiled = ["jemalloc", "tikv-jemallocator/profiling"]`: whenever it is on,
    # so is `jemalloc`, which already says it.
    names = [f for f in names if not any(g != f and g in _implied(feats, f) for g in names)]
    found = disj([CfgExpr.eq("feature", f) for f in names])
    return found if found is not None else False


def _implied(feats: dict[str, list[str]], feature: str) -> set[str]:
    """The features `feature` turns on, transitively (itself excluded)."""
    seen: set[str] = set()
    todo = [feature]
    while todo:
        for v in feats.get(todo.pop(), []):
            if v in feats and v not in seen and v != feature:
                seen.add(v)
                todo.append(v)
    return seen


# ------------------------------------------------------------------ add-mimalloc (AP001, AP003)


def _add_mimalloc_applies(subject: BinarySubject) -> bool:
    sb = subject.shipped
    crate = sb.crate
    if not (crate and sb.name in crate.bins and "mimalloc" in subject.recommended):
        return False  # no crate to edit, or the profile asks for another allocator
    # mimalloc already wired but gated off for this build: the gate is the problem, not a missing static
    mimalloc = {d.rust_name for d in crate.deps if d.package == "mimalloc"}
    return not any(s.item.crate in mimalloc for s in crate.statics if s.serves(sb.name))


@action(
    "add-mimalloc",
    BinarySubject,
    "Link mimalloc as the #[global_allocator]",
    applies=_add_mimalloc_applies,
)
def add_mimalloc(spec: FixSpec, subject: BinarySubject, repo: Any) -> tuple[Any, ...] | None:
    sb = subject.shipped
    crate = sb.crate
    if crate is None:
        return None
    existing = next((d for d in crate.deps if d.package == "mimalloc"), None)
    changes: Changes = {}
    cfg: str | Literal[False] | None
    if existing is None:
        musl_only = spec.params.get("placement") == "musl-only" or (
            spec.params.get("placement") == "auto" and _has_musl_table(crate)
        )
        changes = _mimalloc_dep_changes(crate, musl_only)
        rust_name, cfg = "mimalloc", ('target_env = "musl"' if musl_only else None)
    else:
        rust_name, cfg = existing.rust_name, _dep_cfg(existing, crate)
        if cfg is False:
            return None
    wired = [s for s in crate.statics if s.serves(sb.name)]
    if wired:
        return _replace_allocator(repo, crate, wired[0], rust_name, cfg, changes)
    static = _insert_static(
        repo, crate.bins[sb.name], _static_lines(rust_name, "MiMalloc", cfg or None)
    )
    toml = _toml_edits(repo, changes)
    if static is None or toml is None:
        return None
    return "Link mimalloc as the #[global_allocator]", toml + [static]


def _has_musl_table(crate: Any) -> bool:
    targets = crate.manifest.data.get("target", {})
    return any(k.replace(" ", "") == MUSL_TABLE.replace(" ", "") for k in targets)


def _mimalloc_dep_changes(crate: Any, musl_only: bool) -> Changes:
    table = ("target", MUSL_TABLE, "dependencies") if musl_only else ("dependencies",)
    root = crate.root
    ws = root.data.get("workspace", {}).get("dependencies") if root is not None else None
    changes: Changes = {}

    def full() -> Any:
        return inline_table(version=MIMALLOC_VERSION, default_features=False)

    def inherit() -> Any:
        return inline_table(workspace=True)

    member = full
    if isinstance(ws, dict):  # the workspace centralises versions: follow its convention
        if "mimalloc" not in root.workspace_dependencies:
            ws_path = ("workspace", "dependencies")
            changes[root.path] = [lambda doc: _set(table_at(doc, ws_path), "mimalloc", full())]
        member = inherit
    # Same path as the root when the root is also the package: one edit, not two clashing ones.
    changes.setdefault(crate.manifest.path, []).append(
        lambda doc: _set(table_at(doc, table), "mimalloc", member())
    )
    return changes


def _toml_edits(repo: Any, changes: Changes) -> list[Edit] | None:
    """One whole-line edit per manifest; None when a manifest cannot be read."""
    edits = []
    for path, fns in changes.items():
        text = _text(repo, path)
        if text is None:
            return None

        def apply_all(doc: Any, fns: list[TomlChange] = fns) -> bool:
            return any([fn(doc) for fn in fns])  # a list: every change runs, none short-circuits

        edit = edit_toml(path, text, apply_all)
        edits += [edit] if edit else []
    return edits


def _set(table: Any, key: str, value: Any) -> bool:
    if key in table:
        return False
    table[key] = value
    return True


def _remove_key(dep: Any) -> TomlChange:
    def change(doc: Any) -> bool:
        table = table_at(doc, dep.table, create=False)
        if table is None or dep.key not in table:
            return False
        del table[dep.key]
        return True

    return change


_SYSTEM_CRATES = ("std", "alloc", "core")


def _replace_allocator(
    repo: Any, crate: Any, static: Any, rust_name: str, cfg: Any, changes: Changes
) -> tuple[Any, ...] | None:
    """Swap the wired allocator for mimalloc; unsafe: the service's allocator changes."""
    old = static.item.crate
    if old == rust_name or static.via_macro or static.module_cfg or static.item.wrapped:
        # already mimalloc, or a static a macro declares, a module gates or that wraps
        # another allocator: a human edits those
        return None  # already mimalloc: the finding is about something a fix cannot see
    text = _text(repo, static.file)
    if text is None:
        return None
    lines = text.splitlines()
    first, last = static.item.line, static.item.end_line
    indent = _indent(lines[first - 1])
    keep = (
        [ln for ln in lines[first - 1 : last] if ln.strip().startswith("#[cfg(")] if not cfg else []
    )
    new = keep + _static_lines(rust_name, "MiMalloc", cfg or None, indent)
    uses = _use_lines(lines, old, first, last)
    if uses is None:
        return None
    rows, names = uses
    skip = {static.file: set(range(first, last + 1)) | set(rows)}
    watch = names if old in _SYSTEM_CRATES else names | {old}
    if _referenced(repo, crate, watch, skip):
        return None  # the old crate is used for more than the static: a human decides
    taken = set(range(first, last + 1)) | set(rows)
    edits = [replace_lines(static.file, first, last, new)] + _delete_rows(
        static.file, lines, rows, taken
    )
    dep = crate.dep_by_rust_name(old)
    if dep is not None and _in_features(crate, dep.key):
        return None  # [features] name the old crate: removing it would break the manifest
    if dep is not None and not any(s is not static and s.item.crate == old for s in crate.statics):
        # An unwired allocator dependency would make AP005 wire it right back.
        changes.setdefault(crate.manifest.path, []).append(_remove_key(dep))
    toml = _toml_edits(repo, changes)
    if toml is None:
        return None
    return "Replace the global allocator with mimalloc", toml + edits, Safety.UNSAFE


def _in_features(crate: Any, key: str) -> bool:
    refs = (f"dep:{key}", key, f"{key}/", f"{key}?/")
    return any(
        v == r or v.startswith(r)
        for vals in crate.manifest.features.values()
        for v in vals
        for r in refs
        if r.endswith("/") or v == r
    )


_USE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?use\s+(?:::)?(\w+)(.*?);\s*(?://.*)?$")
_EXTERN = re.compile(r"^\s*extern\s+crate\s+(\w+)(?:\s+as\s+(\w+))?\s*;\s*(?://.*)?$")


def _use_lines(
    lines: list[str], crate: str, first: int, last: int
) -> tuple[list[int], set[str]] | None:
    """Single-line `use crate::...;` / `extern crate crate;` rows and the names they bring in."""
    rows, names = [], set()
    for n, line in enumerate(lines, start=1):
        if first <= n <= last:
            continue
        m = _USE.match(line)
        if m and m.group(1) == crate:
            bound = _bound_names(crate, m.group(2))
            if bound is None:
                return None  # a glob import: cannot tell what else relies on it
            rows.append(n)
            names |= bound
            continue
        m = _EXTERN.match(line)
        if m and m.group(1) == crate:
            rows.append(n)
            names.add(m.group(2) or crate)
    return rows, names


def _bound_names(crate: str, rest: str) -> set[str] | None:
    if "*" in rest:
        return None
    alias = re.search(r"\bas\s+(\w+)\s*$", rest)
    if alias:
        return {alias.group(1)}
    if "{" in rest:
        inner = rest[rest.index("{") + 1 : rest.rindex("}")] if "}" in rest else ""
        return {re.split(r"\s+as\s+|::", p.strip())[-1] for p in inner.split(",") if p.strip()}
    last = rest.rsplit("::", 1)[-1].strip()
    return {last or crate}


def _referenced(repo: Any, crate: Any, names: set[str], skip: dict[str, set[int]]) -> bool:
    if not names:
        return False
    pattern = re.compile(r"(?<![\w])(?:" + "|".join(re.escape(n) for n in sorted(names)) + r")\b")
    for rel in _crate_sources(repo, crate):
        text = _text(repo, rel)
        if text is None:
            return True  # unreadable: assume the worst
        for n, line in enumerate(text.splitlines(), start=1):
            if n not in skip.get(rel, ()) and pattern.search(line.split("//", 1)[0]):
                return True
    return False


def _delete_rows(path: str, lines: list[str], rows: list[int], taken: set[int]) -> list[Edit]:
    """Delete rows; a blank line that would be left doubled (or at the top) goes too."""
    edits = []
    for n in rows:
        last = n
        top = n == 1 or not lines[n - 2].strip()
        if top and n < len(lines) and not lines[n].strip() and n + 1 not in taken:
            last = n + 1
        edits.append(replace_lines(path, n, last, []))
    return edits


def _crate_sources(repo: Any, crate: Any) -> list[str]:
    """The crate's own .rs files: under its dir, but not under a nested crate's dir."""
    prefix = f"{crate.dir}/" if crate.dir else ""
    nested = [
        f"{c.dir}/"
        for c in repo.crates
        if c is not crate and c.dir and (c.dir + "/").startswith(prefix)
    ]
    return [
        rel
        for rel in repo.files.rust_sources
        if rel.startswith(prefix) and not any(rel.startswith(n) for n in nested)
    ]


# ------------------------------------------------------------------ AP005: add-global-allocator


def _add_static_applies(subject: DependencySubject) -> bool:
    crate = subject.declaring_crate
    # another allocator already wired: adding this one would make two
    return bool(crate and crate.bins and not crate.statics and not crate.unread_macros) and (
        subject.dependency.package.replace("-", "_") in ALLOCATOR_TYPES
    )


@action(
    "add-global-allocator",
    DependencySubject,
    "Add the #[global_allocator] static",
    applies=_add_static_applies,
)
def add_global_allocator(
    spec: FixSpec, subject: DependencySubject, repo: Any
) -> tuple[str, list[Edit]] | None:
    dep, crate = subject.dependency, subject.declaring_crate
    if crate is None:
        return None
    type_name = ALLOCATOR_TYPES.get(dep.package.replace("-", "_"))
    if type_name is None:
        return None
    cfg = _dep_cfg(dep, crate)
    if cfg is False:
        return None
    edits = []
    for root in sorted(set(crate.bins.values())):
        e = _insert_static(repo, root, _static_lines(dep.rust_name, type_name, cfg or None))
        if e is None:
            return None
        edits.append(e)
    return f"Add #[global_allocator] using {dep.key}", edits


# ------------------------------------------------------------------ AP004


@action("set-default-features-false", DependencySubject, "Set default-features = false on mimalloc")
def set_default_features_false(
    spec: FixSpec, subject: DependencySubject, repo: Any
) -> tuple[str, list[Edit]] | None:
    dep = subject.dependency
    path = subject.manifest

    def change(doc: Any) -> bool:
        table = table_at(doc, dep.table, create=False)
        if table is None or dep.key not in table:
            return False
        value = table[dep.key]
        if isinstance(value, str):
            table[dep.key] = inline_table(version=value, default_features=False)
            return True
        if _default_features_off(value):
            return False
        if isinstance(value, _inline_table_type()):
            table[dep.key] = _inline_with_default_features_off(value)
            return True
        if hasattr(value, "get"):  # a [dependencies.mimalloc] table: one more line
            value.pop("default_features", None)
            value["default-features"] = False
            return True
        return False

    edit = edit_toml(path, _text(repo, path) or "", change)
    return ("Set default-features = false on mimalloc", [edit]) if edit else None


def _inline_table_type() -> type:
    import tomlkit.items

    return tomlkit.items.InlineTable


def _default_features_off(value: Any) -> bool:
    return (
        hasattr(value, "get")
        and value.get("default-features") is False
        and "default_features" not in value
    )


def _inline_with_default_features_off(value: Any) -> Any:
    """The same inline table, Cargo-docs spacing, `default-features = false` in place of any
    `default_features` spelling (rejected by the 2024 edition), else appended."""
    import tomlkit

    parts, done = [], False
    for key, item in value.value.body:
        if key is None:
            continue  # whitespace and commas: re-spelled below
        if key.key in ("default-features", "default_features"):
            parts += [] if done else ["default-features = false"]
            done = True
        else:
            parts.append(f"{key.as_string().strip()} = {item.as_string().strip()}")
    if not done:
        parts.append("default-features = false")
    return tomlkit.parse(f"x = {{ {', '.join(parts)} }}")["x"]


# ------------------------------------------------------------------ AP006


def _align_applies(subject: GlobalAllocatorSubject) -> bool:
    dep, static = subject.dependency, subject.static
    if static.via_macro is not None or static.module_cfg is not None:
        return False  # the gate is not (only) on the static's own lines
    return dep is not None and (dep.target is None or dep.target.startswith("cfg("))


@action(
    "align-allocator-cfg",
    GlobalAllocatorSubject,
    "Gate the #[global_allocator] like its dependency",
    applies=_align_applies,
)
def align_allocator_cfg(
    spec: FixSpec, subject: GlobalAllocatorSubject, repo: Any
) -> tuple[str, list[Edit]] | None:
    static, crate, dep = subject.static, subject.declaring_crate, subject.dependency
    if dep is None:
        return None
    text = _text(repo, static.file)
    if text is None:
        return None
    lines = text.splitlines()
    first, attr = static.item.line, static.item.attr_line
    header = lines[first - 1 : attr - 1]
    cfg_rows = [i for i, ln in enumerate(header) if re.match(r"\s*#\[cfg\(", ln)]
    if len(cfg_rows) > 1 or any(")]" not in header[i] for i in cfg_rows):
        return None  # several or multi-line cfg attributes: leave it to a human
    old = _cfg_of(header[cfg_rows[0]]) if cfg_rows else None
    if old is False:
        return None
    new = _aligned_cfg(static, crate, dep, old)
    if new is False or (new is not None and old is not None and str(new) == str(old)):
        return None
    cfg = str(new) if new is not None else None
    uses = _gate_uses(static.file, lines, dep.rust_name, old, cfg, (first, static.item.end_line))
    if uses is None:
        return None
    indent = _indent(lines[attr - 1])
    new_attr = [f"{indent}#[cfg({cfg})]"] if cfg else []
    if cfg_rows:
        row = first + cfg_rows[0]
        edit = replace_lines(static.file, row, row, new_attr)
    elif cfg:
        edit = insert_before(static.file, attr, new_attr)
    else:
        return None
    return "Gate the #[global_allocator] like its dependency", [edit, *uses]


def _cfg_of(line: str) -> CfgExpr | Literal[False]:
    """The predicate of a one-line `#[cfg(...)]` (a trailing comment allowed)."""
    from allocpolicy.parsing.cfg import CfgError, parse_cfg

    m = re.match(r"\s*#\[(cfg\(.*\))\]\s*(?://.*)?$", line)
    if m is None:
        return False
    try:
        return parse_cfg(m.group(1))
    except CfgError:
        return False


def _aligned_cfg(
    static: Any, crate: Any, dep: Dependency, old: CfgExpr | None
) -> CfgExpr | Literal[False] | None:
    """The static's new gate: exactly when its dependency exists; but where another static
    may serve the same binaries, never wider than the old gate, which is what keeps the
    two apart (`not(feature = "jemalloc-profiled")`): then all(dependency, old).

    Widening a gate that excludes another `#[global_allocator]` would make two active
    together (E0428, "cannot define multiple global allocators")."""
    from allocpolicy.facts.subjects import never_shipped
    from allocpolicy.parsing.cfg import conj

    want = _dep_expr(dep, crate)
    if want is False:
        return False
    others = [
        o
        for o in crate.statics
        if o is not static
        and not never_shipped(o)
        and (o.bin_only is None or static.bin_only is None or o.bin_only == static.bin_only)
    ]
    if any(o.cfg is None for o in others):
        return False  # another static is always there: one of them must go, a human decides
    if old is not None and others:
        return conj([want, old])
    return want


def _gate_uses(
    path: str,
    lines: list[str],
    crate: str,
    old: CfgExpr | None,
    cfg: str | None,
    static_rows: tuple[int, int],
) -> list[Edit] | None:
    """The `use mimalloc::MiMalloc;` rows move with the static: an ungated one, or one under
    the static's old cfg, gets its new cfg, or the build where they differ fails (E0432,
    E0412). None when a use is gated otherwise, or the names it brings in are used
    elsewhere in the file: a human decides."""
    pattern = re.compile(
        rf"^(\s*)(?:pub(?:\([^)]*\))?\s+)?(?:use\s+(?:::)?{re.escape(crate)}\b(.*);"
        rf"|extern\s+crate\s+{re.escape(crate)}\b(.*);)\s*(?://.*)?$"
    )
    first, last = static_rows
    edits: list[Edit] = []
    rows: set[int] = set()
    names: set[str] = set()
    for n, line in enumerate(lines, start=1):
        m = pattern.match(line)
        if first <= n <= last or m is None:
            continue
        bound = _bound_names(crate, m.group(2)) if m.group(2) is not None else {crate}
        if bound is None:
            return None  # a glob import: cannot tell what else relies on it
        alias = re.search(r"\bas\s+(\w+)\s*$", m.group(3) or "")
        names |= {alias.group(1)} if alias else bound
        rows.add(n)
        above = _cfg_of(lines[n - 2]) if n > 1 and lines[n - 2].lstrip().startswith("#[") else None
        if above is False:
            return None  # another attribute, or a cfg we cannot read
        if above is not None:
            if old is None or str(above) != str(old):
                return None  # gated otherwise than the static: it serves something else
            rows.add(n - 1)
            if str(above) != (cfg or ""):
                edits.append(
                    replace_lines(path, n - 1, n - 1, [f"{m.group(1)}#[cfg({cfg})]"] if cfg else [])
                )
        elif cfg:
            edits.append(insert_before(path, n, [f"{m.group(1)}#[cfg({cfg})]"]))
    if _named_elsewhere(lines, names - {crate}, rows | set(range(first, last + 1))):
        return None
    return edits


def _named_elsewhere(lines: list[str], names: set[str], skip: set[int]) -> bool:
    if not names:
        return False
    pattern = re.compile(r"(?<![\w])(?:" + "|".join(re.escape(n) for n in sorted(names)) + r")\b")
    return any(
        n not in skip and pattern.search(line.split("//", 1)[0])
        for n, line in enumerate(lines, start=1)
    )


# ------------------------------------------------------------------ AP008


_RENAMES = {
    "jemallocator": "tikv-jemallocator",
    "jemalloc-ctl": "tikv-jemalloc-ctl",
    "jemalloc-sys": "tikv-jemalloc-sys",
}


@action(
    "rename-jemallocator",
    DependencySubject,
    "Use the tikv-jemallocator crate",
    applies=lambda s: s.crate in _RENAMES,
)
def rename_jemallocator(
    spec: FixSpec, subject: DependencySubject, repo: Any
) -> tuple[str, list[Edit]] | None:
    dep, crate = subject.dependency, subject.declaring_crate
    new_pkg = _RENAMES.get(dep.package)
    path = subject.manifest
    text = _text(repo, path)
    if new_pkg is None or text is None:
        return None
    renamed_key = dep.key != dep.package  # `jem = { package = "jemallocator" }`: code says `jem`
    new_key = dep.key if renamed_key else new_pkg
    # tomlkit cannot rename a key in place, so the key is renamed on its own line(s) first.
    renamed = text if renamed_key else _rename_key_text(text, dep, new_pkg)
    final = (
        toml_after(
            renamed,
            lambda doc: _retarget(
                table_at(doc, dep.table, create=False), new_key, new_pkg, renamed_key
            ),
        )
        if renamed
        else None
    )
    if final is None or not _only_renamed(text, final, dep, new_key):
        return None
    edits = [e for e in [line_diff(path, text.splitlines(), final.splitlines())] if e]
    if not renamed_key and crate is not None:
        edits += _rename_in_sources(repo, crate, dep.rust_name, new_pkg.replace("-", "_"))
    return (f"Use {new_pkg} instead of {dep.package}", edits) if edits else None


def _retarget(table: Any, key: str, new_pkg: str, set_package: bool) -> bool:
    if table is None or key not in table:
        return False
    value = table[key]
    if isinstance(value, str):
        table[key] = TIKV_VERSION
        return True
    if set_package:
        value["package"] = new_pkg
    if "version" in value:
        value["version"] = TIKV_VERSION
    return True


def _rename_key_text(text: str, dep: Any, new: str) -> str | None:
    """Rename the dependency's key where it is written: `key = ...`, `key.x = ...` or `[...key]`."""
    lines = text.splitlines(keepends=True)
    old = re.escape(dep.key)
    header = re.compile(rf"^(\s*\[[^\[\]]*\.\s*)([\"']?){old}\2(\s*\])")
    key = re.compile(rf"^(\s*)([\"']?){old}\2(?=\s*[=.])")
    start = dep.line - 1
    if not 0 <= start < len(lines):
        return None
    if header.match(lines[start]):
        lines[start] = header.sub(lambda m: f"{m[1]}{m[2]}{new}{m[2]}{m[3]}", lines[start], count=1)
        return "".join(lines)
    for i in range(start, len(lines)):
        if i > start and lines[i].lstrip().startswith("["):
            break  # the next table: the key cannot be there
        lines[i] = key.sub(lambda m: f"{m[1]}{m[2]}{new}{m[2]}", lines[i], count=1)
    return "".join(lines)


def _only_renamed(before: str, after: str, dep: Any, new_key: str) -> bool:
    """The parsed documents differ only in this dependency's key, package and version."""
    from allocpolicy.parsing.cargo import load_toml

    try:
        old_doc, new_doc = load_toml(before), load_toml(after)
    except Exception:
        return False
    old_t, new_t = _dig(old_doc, dep.table), _dig(new_doc, dep.table)
    if not isinstance(old_t, dict) or not isinstance(new_t, dict):
        return False
    old_v, new_v = old_t.pop(dep.key, None), new_t.pop(new_key, None)
    if old_v is None or new_v is None or old_doc != new_doc:
        return False
    if isinstance(old_v, dict) and isinstance(new_v, dict):
        ignore = ("version", "package")
        return {k: v for k, v in old_v.items() if k not in ignore} == {
            k: v for k, v in new_v.items() if k not in ignore
        }
    return isinstance(old_v, str) and isinstance(new_v, str)


def _dig(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = doc
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _rename_in_sources(repo: Any, crate: Any, old: str, new: str) -> list[Edit]:
    pattern = re.compile(rf"(?<![\w:]){re.escape(old)}\b")
    edits = []
    for rel in _crate_sources(repo, crate):
        text = _text(repo, rel)
        if text is None or old not in text:
            continue
        for n, line in enumerate(text.splitlines(), start=1):
            code = line.split("//", 1)[0]
            if pattern.search(code):
                edits.append(replace_lines(rel, n, n, [pattern.sub(new, code) + line[len(code) :]]))
    return edits


# ------------------------------------------------------------------ remove-dependency


@action("remove-dependency", DependencySubject, "Remove the dependency")
def remove_dependency(
    spec: FixSpec, subject: DependencySubject, repo: Any
) -> tuple[str, list[Edit]] | None:
    """For users' rules (the schema offers it): drop the dependency's entry from its manifest."""
    dep = subject.dependency
    path = subject.manifest
    text = _text(repo, path)
    edit = edit_toml(path, text, _remove_key(dep)) if text is not None else None
    return (f"Remove the {dep.key} dependency", [edit]) if edit else None


# ------------------------------------------------------------------ Containerfile actions


@action("remove-ld-preload", LdPreloadSubject, "Remove the LD_PRELOAD setting")
def remove_ld_preload(
    spec: FixSpec, subject: LdPreloadSubject, repo: Any
) -> tuple[str, list[Edit]] | None:
    from allocpolicy.fixes.dockerfile_edit import remove_preload

    edits = remove_preload(subject.containerfile, subject.preload, repo)
    return ("Remove the LD_PRELOAD setting", edits) if edits else None


@action(
    "fix-ld-preload-path",
    LdPreloadSubject,
    "Install the library and point LD_PRELOAD at it",
    applies=lambda s: bool(s.expected_path and s.expected_package),
)
def fix_ld_preload_path(
    spec: FixSpec, subject: LdPreloadSubject, repo: Any
) -> tuple[str, list[Edit]] | None:
    from allocpolicy.fixes.dockerfile_edit import correct_preload

    return correct_preload(subject, repo)


@action("remove-suppression", SuppressionSubject, "Remove the unused suppression")
def remove_suppression(
    spec: FixSpec, subject: SuppressionSubject, repo: Any
) -> tuple[str, list[Edit]] | None:
    s = subject.suppression
    text = _text(repo, s.path)
    if text is None:
        return None
    line = text.splitlines()[s.line - 1]
    m = re.search(r"\s*(#|//)\s*allocpolicy:\s*ignore(-file)?\[[^\]]*\]\s*$", line)
    if m is None:
        return None
    rest = line[: m.start()]
    new = [] if not rest.strip() else [rest.rstrip()]
    return "Remove the unused suppression", [replace_lines(s.path, s.line, s.line, new)]
