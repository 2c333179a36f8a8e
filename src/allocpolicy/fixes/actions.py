"""Fix actions named by policy files. Each turns a subject into a Fix, or None.

An action returns None when it cannot produce an edit it is sure of; the
finding then carries no fix rather than a guess.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from allocpolicy.fixes.edits import insert_before, replace_lines
from allocpolicy.fixes.toml_edit import edit_toml, inline_table, table_at
from allocpolicy.model import Edit, Fix, Safety
from allocpolicy.policy.rule import FixSpec

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

Action = Callable[[FixSpec, Any, Any], "list[Edit] | None"]


def build_fix(spec: FixSpec, subject: Any, repo: Any) -> Fix | None:
    action = ACTIONS.get(spec.action)
    if action is None:
        return None
    try:
        result = action(spec, subject, repo)
    except Exception:  # a fix we cannot compute is no fix, never a crash of the scan
        return None
    if not result:
        return None
    title, edits = result
    return Fix(title, Safety(spec.safety), tuple(edits))


# ------------------------------------------------------------------ helpers


def _text(repo: Any, path: str) -> str | None:
    src = repo.texts.get(path)
    if src is not None:
        return src.text
    try:
        from allocpolicy.parsing.text import read_text

        src = read_text(repo.root / path)
    except Exception:
        return None
    repo.texts[path] = src
    return src.text


def _static_lines(rust_name: str, type_name: str, cfg: str | None, indent: str = "") -> list[str]:
    lines = [f"{indent}#[cfg({cfg})]"] if cfg else []
    return lines + [
        f"{indent}#[global_allocator]",
        f"{indent}static GLOBAL: {rust_name}::{type_name} = {rust_name}::{type_name};",
    ]


def _insert_static(repo: Any, path: str, lines: list[str]) -> Edit | None:
    from allocpolicy.parsing.rust import insertion_line

    text = _text(repo, path)
    if text is None:
        return None
    at = insertion_line(text.encode())
    src = text.splitlines()
    block = list(lines)
    if at > 1 and at - 2 < len(src) and src[at - 2].strip():
        block.insert(0, "")
    if at - 1 < len(src) and src[at - 1].strip():
        block.append("")
    return insert_before(path, at, block)


def _dep_cfg(dep: Any, crate: Any) -> str | None | bool:
    """The cfg a static needs to match a dependency; False when none can express it."""
    parts = []
    if dep.target:
        if not dep.target.startswith("cfg("):
            return False  # a bare-triple table has no cfg spelling
        parts.append(dep.target[4:-1].strip())
    if dep.optional:
        feature = _feature_enabling(crate, dep.key)
        if feature is None:
            return False
        parts.append(f'feature = "{feature}"')
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else f"all({', '.join(parts)})"


def _feature_enabling(crate: Any, key: str) -> str | None:
    feats = crate.manifest.features
    explicit = [f for f, v in feats.items() if f"dep:{key}" in v]
    if explicit:
        return explicit[0]
    return key if not any(f"dep:{key}" in v for v in feats.values()) else None


# ------------------------------------------------------------------ add-mimalloc (AP001, AP003)


def add_mimalloc(spec: FixSpec, subject: Any, repo: Any) -> tuple[str, list[Edit]] | None:
    sb = subject.context["binary"]
    crate = sb.crate
    if crate is None or sb.name not in crate.bins:
        return None
    existing = next((d for d in crate.deps if d.package == "mimalloc"), None)
    edits: list[Edit] = []
    if existing is None:
        musl_only = spec.params.get("placement") == "musl-only" or (
            spec.params.get("placement") == "auto" and _has_musl_table(crate)
        )
        edits += _add_mimalloc_dep(repo, crate, musl_only)
        rust_name, cfg = "mimalloc", ('target_env = "musl"' if musl_only else None)
    else:
        rust_name, cfg = existing.rust_name, _dep_cfg(existing, crate)
        if cfg is False:
            return None
    wired = [s for s in crate.statics if s.bin_only in (None, sb.name)]
    if wired:
        return _replace_allocator(repo, wired[0], rust_name, cfg, edits)
    static = _insert_static(repo, crate.bins[sb.name], _static_lines(rust_name, "MiMalloc", cfg or None))
    if static is None:
        return None
    return "Link mimalloc as the #[global_allocator]", edits + [static]


def _has_musl_table(crate: Any) -> bool:
    targets = crate.manifest.data.get("target", {})
    return any(k.replace(" ", "") == MUSL_TABLE.replace(" ", "") for k in targets)


def _add_mimalloc_dep(repo: Any, crate: Any, musl_only: bool) -> list[Edit]:
    spec = inline_table(version=MIMALLOC_VERSION, default_features=False)
    root = crate.root
    table = ("target", MUSL_TABLE, "dependencies") if musl_only else ("dependencies",)
    if root is not None and root.data.get("workspace", {}).get("dependencies") is not None:
        edits = []
        if "mimalloc" not in root.workspace_dependencies:
            ws_edit = edit_toml(root.path, _text(repo, root.path) or "",
                                lambda doc: _set(table_at(doc, ("workspace", "dependencies")), "mimalloc", spec))
            edits += [ws_edit] if ws_edit else []
        member = edit_toml(crate.manifest.path, _text(repo, crate.manifest.path) or "",
                           lambda doc: _set(table_at(doc, table), "mimalloc", inline_table(workspace=True)))
        return edits + ([member] if member else [])
    edit = edit_toml(crate.manifest.path, _text(repo, crate.manifest.path) or "",
                     lambda doc: _set(table_at(doc, table), "mimalloc", spec))
    return [edit] if edit else []


def _set(table: Any, key: str, value: Any) -> bool:
    if key in table:
        return False
    table[key] = value
    return True


def _replace_allocator(repo: Any, static: Any, rust_name: str, cfg: Any, edits: list[Edit]) -> tuple[str, list[Edit]] | None:
    if static.item.crate == rust_name:
        return None  # already mimalloc: the finding is about something a fix cannot see
    text = _text(repo, static.file)
    if text is None:
        return None
    lines = text.splitlines()
    first, last = static.item.line, static.item.end_line
    indent = re.match(r"\s*", lines[first - 1]).group(0)
    keep = [ln for ln in lines[first - 1 : last] if ln.strip().startswith("#[cfg(")] if not cfg else []
    new = keep + _static_lines(rust_name, "MiMalloc", cfg or None, indent)
    return "Replace the global allocator with mimalloc", edits + [replace_lines(static.file, first, last, new)]


# ------------------------------------------------------------------ AP005: add-global-allocator


def add_global_allocator(spec: FixSpec, subject: Any, repo: Any) -> tuple[str, list[Edit]] | None:
    dep, crate = subject.context["dependency"], subject.context["crate"]
    if crate is None or not crate.bins:
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


def set_default_features_false(spec: FixSpec, subject: Any, repo: Any) -> tuple[str, list[Edit]] | None:
    dep = subject.context["dependency"]
    path = subject.facts["manifest"]

    def change(doc: Any) -> bool:
        table = table_at(doc, dep.table, create=False)
        if table is None or dep.key not in table:
            return False
        value = table[dep.key]
        if isinstance(value, str):
            table[dep.key] = inline_table(version=value, default_features=False)
            return True
        if hasattr(value, "get") and value.get("default-features") is not False:
            value["default-features"] = False
            value.pop("default_features", None)
            return True
        return False

    edit = edit_toml(path, _text(repo, path) or "", change)
    return ("Set default-features = false on mimalloc", [edit]) if edit else None


# ------------------------------------------------------------------ AP006


def align_allocator_cfg(spec: FixSpec, subject: Any, repo: Any) -> tuple[str, list[Edit]] | None:
    static, crate, dep = subject.context["static"], subject.context["crate"], subject.context["dependency"]
    cfg = _dep_cfg(dep, crate)
    if cfg is False or dep is None:
        return None
    text = _text(repo, static.file)
    if text is None:
        return None
    lines = text.splitlines()
    first, attr = static.item.line, static.item.attr_line
    header = lines[first - 1 : attr - 1]
    cfg_rows = [i for i, ln in enumerate(header) if re.match(r"\s*#\[cfg\(", ln)]
    indent = re.match(r"\s*", lines[attr - 1]).group(0)
    if len(cfg_rows) > 1 or any(")]" not in header[i] for i in cfg_rows):
        return None  # several or multi-line cfg attributes: leave it to a human
    new_attr = [f"{indent}#[cfg({cfg})]"] if cfg else []
    if cfg_rows:
        row = first + cfg_rows[0]
        return "Gate the #[global_allocator] like its dependency", [replace_lines(static.file, row, row, new_attr)]
    if not cfg:
        return None
    return "Gate the #[global_allocator] like its dependency", [insert_before(static.file, attr, new_attr)]


# ------------------------------------------------------------------ AP008


_RENAMES = {"jemallocator": "tikv-jemallocator", "jemalloc-ctl": "tikv-jemalloc-ctl", "jemalloc-sys": "tikv-jemalloc-sys"}


def rename_jemallocator(spec: FixSpec, subject: Any, repo: Any) -> tuple[str, list[Edit]] | None:
    dep, crate = subject.context["dependency"], subject.context["crate"]
    new_pkg = _RENAMES.get(dep.package)
    if new_pkg is None:
        return None
    path = subject.facts["manifest"]
    renamed_key = dep.key != dep.package

    def change(doc: Any) -> bool:
        table = table_at(doc, dep.table, create=False)
        if table is None or dep.key not in table:
            return False
        value = table[dep.key]
        if renamed_key:
            value["package"] = new_pkg
            if "version" in value:
                value["version"] = TIKV_VERSION
            return True
        if isinstance(value, str):
            new_value: Any = TIKV_VERSION
        else:
            new_value = value
            if "version" in new_value:
                new_value["version"] = TIKV_VERSION
        _rename_key(table, dep.key, new_pkg, new_value)
        return True

    edits = [e for e in [edit_toml(path, _text(repo, path) or "", change)] if e]
    if not renamed_key and crate is not None:
        edits += _rename_in_sources(repo, crate, dep.rust_name, new_pkg.replace("-", "_"))
    return (f"Use {new_pkg} instead of {dep.package}", edits) if edits else None


def _rename_key(table: Any, old: str, new: str, value: Any) -> None:
    """Rename a key in place, keeping its position among its siblings."""
    items = list(table.items())
    for k, _ in items:
        del table[k]
    for k, v in items:
        table[new if k == old else k] = value if k == old else v


def _rename_in_sources(repo: Any, crate: Any, old: str, new: str) -> list[Edit]:
    pattern = re.compile(rf"(?<![\w:]){re.escape(old)}\b")
    edits = []
    prefix = f"{crate.dir}/" if crate.dir else ""
    for rel in repo.inventory.rust_sources:
        if not rel.startswith(prefix):
            continue
        text = _text(repo, rel)
        if text is None or old not in text:
            continue
        for n, line in enumerate(text.splitlines(), start=1):
            code = line.split("//", 1)[0]
            if pattern.search(code):
                edits.append(replace_lines(rel, n, n, [pattern.sub(new, code) + line[len(code):]]))
    return edits


# ------------------------------------------------------------------ Containerfile actions


def remove_ld_preload(spec: FixSpec, subject: Any, repo: Any) -> tuple[str, list[Edit]] | None:
    from allocpolicy.fixes.dockerfile_edit import remove_preload

    edits = remove_preload(subject.context["containerfile"], subject.context["preload"], repo)
    return ("Remove the LD_PRELOAD setting", edits) if edits else None


def fix_ld_preload_path(spec: FixSpec, subject: Any, repo: Any) -> tuple[str, list[Edit]] | None:
    from allocpolicy.fixes.dockerfile_edit import correct_preload

    return correct_preload(subject, repo)


def remove_suppression(spec: FixSpec, subject: Any, repo: Any) -> tuple[str, list[Edit]] | None:
    s = subject.context["suppression"]
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


ACTIONS: dict[str, Callable[[FixSpec, Any, Any], Any]] = {
    "add-mimalloc": add_mimalloc,
    "add-global-allocator": add_global_allocator,
    "set-default-features-false": set_default_features_false,
    "align-allocator-cfg": align_allocator_cfg,
    "rename-jemallocator": rename_jemallocator,
    "remove-ld-preload": remove_ld_preload,
    "fix-ld-preload-path": fix_ld_preload_path,
    "remove-suppression": remove_suppression,
}
