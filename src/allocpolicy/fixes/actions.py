"""Fix actions named by policy files. Each turns a subject into a Fix, or None.

An action is registered once, with `@action(...)`: its name (what policies say),
the subject kind it works on, a generic title, and its precondition, read off the
subject alone (checked before any tomlkit or tree-sitter work). Every output — text,
JSON, SARIF, `fix`, the pull-request review — shows the same computed fix. An action
returns None when it cannot produce an edit it is sure of; the finding then carries
no fix rather than a guess.
"""

from __future__ import annotations

import re

from allocpolicy._lazyre import lazy_re
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
from allocpolicy.fixes.lockfile import lock_note
from allocpolicy.fixes.toml_edit import (
    AddKey,
    add_keys_on_lines,
    edit_toml,
    inline_table,
    put_key,
    table_at,
    toml_after,
)
from allocpolicy.model import Edit, Fix, Safety
from allocpolicy.parsing.cargo import load_toml
from allocpolicy.policy.rule import FixSpec

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
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
    # The action's name for people (rule pages); each computed Fix carries its own
    # title, naming the crates it edits. A function of the subject where that differs.
    title: str | Callable[[Any], str]
    build: Builder
    applies: Callable[[Any], bool]  # the precondition, from the subject's facts alone


ACTIONS: dict[str, FixAction] = {}


def action(
    name: str,
    subject: type[Subject],
    title: str | Callable[[Any], str],
    applies: Callable[[Any], bool] | None = None,
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


def attach_fixes(result: ScanResult, with_edits: bool) -> None:
    """Compute every pending fix's edits, or (an output that shows no fixes) drop them."""
    if with_edits:
        resolve_fixes(result)
    else:
        result.pending = []


def resolve_fixes(result: ScanResult) -> None:
    """Compute the edits of every pending fix (tomlkit, tree-sitter)."""
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
    title += lock_note(p.repo, list(edits))
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
    full: tuple[tuple[str, str | bool], ...] = (
        ("version", MIMALLOC_VERSION),
        ("default_features", False),
    )
    member = full
    if isinstance(ws, dict):  # the workspace centralises versions: follow its convention
        if "mimalloc" not in root.workspace_dependencies:
            changes[root.path] = [AddKey(("workspace", "dependencies"), "mimalloc", full)]
        member = (("workspace", True),)
    # Same path as the root when the root is also the package: one edit, not two clashing ones.
    changes.setdefault(crate.manifest.path, []).append(AddKey(table, "mimalloc", member))
    return changes


def _toml_edits(repo: Any, changes: Changes) -> list[Edit] | None:
    """One whole-line edit per manifest; None when a manifest cannot be read."""
    edits = []
    for path, fns in changes.items():
        text = _text(repo, path)
        if text is None:
            return None
        edit = _added_on_lines(path, text, fns)
        if edit is False:

            def apply_all(doc: Any, fns: list[TomlChange] = fns) -> bool:
                return any(
                    [fn(doc) for fn in fns]
                )  # a list: every change runs, none short-circuits

            edit = edit_toml(path, text, apply_all)
        edits += [edit] if edit else []
    return edits


def _added_on_lines(path: str, text: str, fns: list[TomlChange]) -> Edit | Literal[False] | None:
    """The edit of keys added without tomlkit; False when that path does not apply."""
    adds = [f for f in fns if isinstance(f, AddKey)]
    if len(adds) != len(fns):
        return False
    try:
        data = load_toml(text, cache=True)
    except Exception:
        return False
    new = add_keys_on_lines(text, data, adds)
    if new is None:
        return False
    return line_diff(path, text.splitlines(), new.splitlines())


def _set(table: Any, key: str, value: Any) -> bool:
    if key in table:
        return False
    put_key(table, key, value)
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


_USE = lazy_re(r"^\s*(?:pub(?:\([^)]*\))?\s+)?use\s+(?:::)?(\w+)(.*?);\s*(?://.*)?$")
_EXTERN = lazy_re(r"^\s*extern\s+crate\s+(\w+)(?:\s+as\s+(\w+))?\s*;\s*(?://.*)?$")


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
            put_key(value, "default-features", False)
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
    from allocpolicy.parsing.cfg import conj, opt_outs

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
    # a user's switch to leave the allocator out (`not(feature = "disable-mimalloc")`)
    # stays: the exact condition alone would make `--features disable-mimalloc` link it
    named = want.features() if want is not None else frozenset()
    kept = [o for o in opt_outs(old) if o.args[0].value not in named]
    return conj([want, *kept]) if kept else want


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
_DEP_TABLES = (
    "dependencies",
    "build-dependencies",
    "build_dependencies",
    "dev-dependencies",
    "dev_dependencies",
)


def _rename_title(subject: DependencySubject) -> str:
    return f"Use {_RENAMES[subject.crate]} instead of {subject.crate}"


@action(
    "rename-jemallocator",
    DependencySubject,
    _rename_title,
    applies=lambda s: s.crate in _RENAMES,
)
def rename_jemallocator(
    spec: FixSpec, subject: DependencySubject, repo: Any
) -> tuple[str, list[Edit]] | None:
    """Rename every jemalloc crate of the subject's workspace to its tikv twin, at once.

    At once, because cargo resolves one graph per workspace and both `jemalloc-sys` and
    `tikv-jemalloc-sys` link the native `jemalloc` library: `jemallocator` beside
    `tikv-jemalloc-ctl` does not build. So every AP008 finding of a workspace computes
    this same set of edits (`fix` applies it once), and the edited manifests are read
    back the way cargo reads them before the fix is offered.
    """
    root, crates = _workspace_scope(repo, subject)
    key = (id(repo), root if root is not None else crates[0].manifest.path)
    kept = _WORKSPACE_RENAMES.get(key)
    if kept is None or kept[0] is not repo:
        if len(_WORKSPACE_RENAMES) >= _MAX_KEPT_RENAMES:
            _WORKSPACE_RENAMES.clear()
        kept = _WORKSPACE_RENAMES[key] = (repo, _workspace_rename(repo, root, crates))
    edits = kept[1]
    return (_rename_title(subject), list(edits)) if edits else None


# A workspace's rename is one computation, whichever of its AP008 findings asks: 60
# findings in a 300-member workspace re-read every manifest 60 times (30 s, not 0.5 s).
# Keyed by the scan's repository object, which the value holds so an id reused by a
# later scan never answers for it.
_WORKSPACE_RENAMES: dict[tuple[int, str], tuple[Any, list[Edit] | None]] = {}
_MAX_KEPT_RENAMES = 256


def _workspace_rename(repo: Any, root: str | None, crates: list[Any]) -> list[Edit] | None:
    from allocpolicy.fixes.manifest_check import check_manifest_text

    paths = list(dict.fromkeys(([root] if root else []) + [c.manifest.path for c in crates]))
    old: dict[str, str] = {}
    for p in paths:
        text = _text(repo, p)
        if text is None:
            return None
        old[p] = text
    ws = _ws_deps(old[root]) if root else {}
    new: dict[str, str] = {}
    keys: dict[str, dict[str, str]] = {}  # manifest -> old key -> new key, as code names them
    for p in paths:
        done = _renamed_manifest(old[p], ws) if ws is not None else None
        if done is None:
            return None
        new[p], keys[p] = done
    for p in paths:
        if new[p] != old[p] and check_manifest_text(
            new[p], new[root] if root and p != root else None
        ):
            return None  # cargo would reject the result: no fix rather than a broken build
    edits = [e for p in paths if (e := line_diff(p, old[p].splitlines(), new[p].splitlines()))]
    for crate in crates:
        for key, new_key in keys[crate.manifest.path].items():
            found = _rename_in_sources(
                repo, crate, key.replace("-", "_"), new_key.replace("-", "_")
            )
            if found is None:
                return None
            edits += found
    return edits or None


def _workspace_scope(repo: Any, subject: DependencySubject) -> tuple[str | None, list[Any]]:
    """The workspace root's manifest path (None for a lone package) and its packages."""
    crate = subject.declaring_crate
    if crate is None:
        root = subject.manifest  # [workspace.dependencies]
    elif crate.root is None:
        return None, [crate]
    else:
        root = crate.root.path
    return root, [c for c in repo.crates if c.root is not None and c.root.path == root]


def _ws_deps(text: str | None) -> dict[str, Any] | None:

    if text is None:
        return None
    try:
        ws = load_toml(text).get("workspace", {})
    except Exception:
        return None
    deps = ws.get("dependencies") if isinstance(ws, dict) else None
    return dict(deps) if isinstance(deps, dict) else {}


@record(frozen=True)
class _Family:
    """One jemalloc-family dependency where a manifest writes it."""

    table: tuple[str, ...]
    key: str
    new_key: str  # the tikv name, or the same key when `package = ...` names the crate
    package: str  # the tikv package
    value: Any  # as tomllib reads it
    inherited: bool  # `workspace = true`: version and package are the root's


def _family(data: dict[str, Any], ws: dict[str, Any]) -> list[_Family] | None:
    """The manifest's jemalloc-family dependencies; None when one is not a plain
    registry dependency (a path, a git source, a [patch]) and a human should decide."""
    tables: list[tuple[tuple[str, ...], Any]] = [((t,), data.get(t)) for t in _DEP_TABLES]
    targets = data.get("target")
    for cfg, table in targets.items() if isinstance(targets, dict) else ():
        if isinstance(table, dict):
            tables += [(("target", cfg, t), table.get(t)) for t in _DEP_TABLES]
    workspace = data.get("workspace")
    if isinstance(workspace, dict):
        tables.append((("workspace", "dependencies"), workspace.get("dependencies")))
    out = []
    for path, table in tables:
        for key, value in table.items() if isinstance(table, dict) else ():
            spec = value if isinstance(value, dict) else {}
            inherited = spec.get("workspace") is True and path[0] != "workspace"
            base = ws.get(key) if inherited else value
            if inherited and base is None:
                return None  # inherits from a root this scan cannot see
            base = base if isinstance(base, dict) else {}
            package = str(base.get("package", key))
            if package not in _RENAMES:
                continue
            if "path" in base or "git" in base:
                return None
            new_key = _RENAMES[package] if key == package else key
            out.append(_Family(path, key, new_key, _RENAMES[package], value, inherited))
    patch = data.get("patch")
    patches = [data.get("replace"), *(patch.values() if isinstance(patch, dict) else ())]
    if any(
        isinstance(t, dict) and any(_pkg_of(k, v) in _RENAMES for k, v in t.items())
        for t in patches
    ):
        return None  # a patched jemalloc crate: renaming would drop the patch silently
    return out


def _pkg_of(key: str, value: Any) -> str:
    pkg = value.get("package", key) if isinstance(value, dict) else key
    return str(pkg).split("@", 1)[0].split(":", 1)[0]


def _renamed_manifest(text: str, ws: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
    """The manifest with its jemalloc-family dependencies renamed and every feature that
    names them rewritten; with the keys Rust code knows them by, old -> new."""
    from allocpolicy.parsing.toml_lines import index_toml

    if "jemalloc" not in text:
        return text, {}  # most members of a large workspace: no parse at all
    try:
        data = load_toml(text)
    except Exception:
        return None
    family = _family(data, ws)
    if not family:
        return None if family is None else (text, {})
    keys = {f.key: f.new_key for f in family if f.key != f.new_key and f.table[0] != "workspace"}
    renamed_features = _renamed_features(data, family, keys)
    if renamed_features is None:
        return None
    features, shadowed = renamed_features
    index = index_toml(text.splitlines())
    renamed: str | None = text
    for f in family:
        if f.key != f.new_key and renamed is not None:
            line = index.line_of(f.table + (f.key,)) or 0
            renamed = _rename_key_text(renamed, line, f.key, f.new_key)
    if renamed is None:
        return None

    def change(doc: Any) -> bool:
        changed = [_retarget(table_at(doc, f.table, create=False), f) for f in family]
        return _write_features(doc, features, keys, shadowed) or any(changed)

    final = toml_after(renamed, change) or renamed
    return (final, keys) if _as_expected(final, data, family, features) else None


# An optional dependency gives its package an implicit feature of its name, unless a
# `dep:` names it anywhere. `--features jemallocator`, `cfg(feature = "jemallocator")`
# and other crates' `features = ["jemallocator"]` all use that name; the renamed
# dependency's implicit feature would be `tikv-jemallocator`. So the old name is kept
# as an explicit feature, `jemallocator = ["dep:tikv-jemallocator"]`: what users pass
# on the command line keeps working, and every bare "jemallocator" in [features]
# (now that feature) means what it meant. A non-weak `jemallocator/profiling` also
# switched on the feature named `jemallocator` (implicit or explicit; cargo enables
# the same-named feature with the optional dependency), which `tikv-jemallocator/...`
# no longer does: it becomes "tikv-jemallocator/profiling", "jemallocator".


def _renamed_features(
    data: dict[str, Any], family: list[_Family], keys: dict[str, str]
) -> tuple[dict[str, list[str]], set[str]] | None:
    """Every feature whose list changes, with its new list (bridge features added), and
    the old names a feature of the same name is switched on with."""
    feats = data.get("features", {})
    if not isinstance(feats, dict) or not keys:
        return {}, set()
    if not all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in feats.values()):
        return None
    optional = {f.key for f in family if _optional(f) and f.table[0] != "workspace"}
    named = {v[4:] for vals in feats.values() for v in vals if v.startswith("dep:")}
    implicit = {k for k in keys if k in optional and k not in named and k not in feats}
    shadowed = {k for k in keys if k in optional and (k in feats or k in implicit)}
    out: dict[str, list[str]] = {}
    for name, vals in feats.items():
        new = _renamed_values(vals, keys, shadowed)
        if new != vals:
            out[name] = new
    for k in sorted(implicit):
        out[k] = [f"dep:{keys[k]}"]
    return out, shadowed


def _optional(f: _Family) -> bool:
    dev = f.table[-1].startswith("dev")
    return not dev and isinstance(f.value, dict) and f.value.get("optional") is True


def _renamed_values(vals: list[str], keys: dict[str, str], shadowed: set[str]) -> list[str]:
    return [v for plan in _value_plan(vals, keys, shadowed) for v in plan]


def _value_plan(vals: list[str], keys: dict[str, str], shadowed: set[str]) -> list[list[str]]:
    """What each value of a feature list becomes (one value, or two; see above)."""
    out: list[list[str]] = []
    added: set[str] = set(vals)
    for v in vals:
        dep, slash, sub = v.removeprefix("dep:").partition("/")
        name = dep.removesuffix("?")
        if name not in keys or not (slash or v.startswith("dep:")):
            out.append([v])  # another feature, or the old name's feature (kept, see above)
        elif v.startswith("dep:"):
            out.append([f"dep:{keys[name]}"])
        elif dep.endswith("?"):
            out.append([f"{keys[name]}?/{sub}"])
        else:
            also = [name] if name in shadowed and name not in added else []
            added |= set(also)
            out.append([f"{keys[name]}/{sub}", *also])
    return out


def _write_features(
    doc: Any, features: dict[str, list[str]], keys: dict[str, str], shadowed: set[str]
) -> bool:
    """Write the new lists into the document value by value, so comments and layout stay."""
    if not features:
        return False
    table = table_at(doc, ("features",))
    for name, vals in features.items():
        if name not in table:
            put_key(table, name, vals)
            continue
        arr = table[name]
        plan = _value_plan([str(v) for v in arr], keys, shadowed)
        for i in range(len(plan) - 1, -1, -1):
            if plan[i] != [arr[i]]:
                arr[i] = plan[i][0]
                for extra in reversed(plan[i][1:]):
                    arr.insert(i + 1, extra)
    return True


def _retarget(table: Any, f: _Family) -> bool:
    if table is None or f.new_key not in table or f.inherited:
        return False
    value = table[f.new_key]
    if isinstance(value, str):
        table[f.new_key] = TIKV_VERSION
        return True
    if f.key == f.new_key:
        value["package"] = f.package
    if "version" in value:
        value["version"] = TIKV_VERSION
    return True


def _rename_key_text(text: str, line: int, old_key: str, new: str) -> str | None:
    """Rename a dependency's key where it is written: `key = ...`, `key.x = ...` or `[...key]`."""
    lines = text.splitlines(keepends=True)
    old = re.escape(old_key)
    header = re.compile(rf"^(\s*\[[^\[\]]*\.\s*)([\"']?){old}\2(\s*\])")
    key = re.compile(rf"^(\s*)([\"']?){old}\2(?=\s*[=.])")
    start = line - 1
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


def _as_expected(
    final: str, data: dict[str, Any], family: list[_Family], features: dict[str, list[str]]
) -> bool:
    """The edited text reads back as exactly the intended value: keys renamed, version
    and package set, the features rewritten, nothing else touched."""
    import copy

    want = copy.deepcopy(data)
    for f in family:
        table = _dig(want, f.table)
        value = table.pop(f.key)
        if isinstance(value, str):
            value = TIKV_VERSION
        elif not f.inherited:
            if f.key == f.new_key:
                value["package"] = f.package
            if "version" in value:
                value["version"] = TIKV_VERSION
        table[f.new_key] = value
    if features:
        want.setdefault("features", {}).update(features)
    try:
        return bool(load_toml(final) == want)
    except Exception:
        return False


def _dig(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = doc
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _rename_in_sources(repo: Any, crate: Any, old: str, new: str) -> list[Edit] | None:
    """`old::...`, `use old`, `extern crate old` -> `new`, in the crate's own sources.
    Only paths that start at a crate name: not `crate::old`, `x.old`, a string or a
    comment (`cfg(feature = "old")` keeps naming the feature). None when a file
    cannot be read or its lines cannot be told apart."""
    edits = []
    for rel in _crate_sources(repo, crate):
        text = _text(repo, rel)
        if text is None:
            return None
        if old not in text:
            continue
        spans = _crate_name_spans(text, old)
        if spans is None:
            return None
        rows = text.encode().split(b"\n")
        for row in sorted(spans):
            line = rows[row].removesuffix(b"\r")
            for start in sorted(spans[row], reverse=True):
                line = line[:start] + new.encode() + line[start + len(old) :]
            edits.append(replace_lines(rel, row + 1, row + 1, [line.decode()]))
    return edits


_PATH_ROOTS = (">", "crate", "self", "super", "Self", "$")
_DECLARATIONS = frozenset(
    [
        "mod_item",
        "function_item",
        "function_signature_item",
        "struct_item",
        "enum_item",
        "union_item",
        "trait_item",
        "type_item",
        "const_item",
        "static_item",
        "macro_definition",
    ]
)


def _crate_name_spans(text: str, name: str) -> dict[int, list[int]] | None:
    """0-based row -> byte columns where `name` is used as the first segment of a path."""
    from allocpolicy.parsing.rust import _parse

    if re.search(r"[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]", text.replace("\r\n", "\n")):
        return None  # rows here would not be the lines of an edit
    out: dict[int, list[int]] = {}
    want = name.encode()
    data = text.encode()
    stack = [_parse(data)]
    while stack:
        node = stack.pop()
        if node.type == "identifier":
            if data[node.start_byte : node.end_byte] == want and _starts_path(node):
                row, col = node.start_point
                out.setdefault(row, []).append(col)
            continue
        stack.extend(node.children)
    return out


def _starts_path(node: Any) -> bool:
    parent = node.parent
    if parent is not None and parent.type in _DECLARATIONS:
        named = parent.child_by_field_name("name")
        if named is not None and named.start_byte == node.start_byte:
            return False  # `mod jemallocator`, `fn jemallocator`: that name, not the crate
    prev = node.prev_sibling
    if prev is None:
        return True
    if prev.type in (".", "$"):
        return False  # a field or method, a macro's metavariable
    if prev.type != "::":
        return True
    before = prev.prev_sibling
    return before is None or not (before.is_named or before.type in _PATH_ROOTS)


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
