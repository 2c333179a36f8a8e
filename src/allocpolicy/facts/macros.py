"""`#[global_allocator]` statics that a macro call declares.

A workspace crate may wrap the static in a macro (`common::enable_jemalloc!();` at a
bin root, or inside another macro such as `cmd::main!(server)`). The static then
belongs to the crate that calls the macro, and its paths (`tikv_jemallocator::...`)
resolve there, as macro_rules expansion does; `$crate::...` names the defining crate.

Only macros whose body plainly holds the static are followed: those found by the
allocator scan (their file has the needle), and macros of the repository whose body
calls one of those at item level. A call that may declare the allocator but cannot
be read through (its crate is not in this scan, or it comes from a registry and is
named like an allocator) makes the allocator unknown, with a reason.

All of this runs only when the repository defines such a macro, or for a binary
crate whose allocator dependency no static uses (AP005's candidates), and then reads
only files that mention a macro's name.
"""

from __future__ import annotations

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import record, replace
from allocpolicy.facts import allocators
from allocpolicy.parsing.cfg import conj
from allocpolicy.parsing.rust_needle import might_declare_allocator
from allocpolicy.parsing.text import ReadError

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from allocpolicy.facts.repo import Repo
    from allocpolicy.facts.workspace import Crate
    from allocpolicy.parsing.cfg import CfgExpr
    from allocpolicy.parsing.rust import GlobalAllocator, MacroCall, MacroDef

MAX_ROUNDS = 4  # macro calling macro calling macro ...: deeper is not followed
# A call of a macro named like an allocator: `enable_jemalloc!()`, `use_mimalloc! {}`
_ALLOC_CALL = lazy_re(rb"alloc\w*\s*!\s*[({\[]")


@record(frozen=True)
class Expansion:
    """A static a macro call declares, as the calling crate sees it."""

    file: str  # the file of the call
    item: GlobalAllocator  # lines are the call's; cfg is the call's gates and the static's
    via: str  # the macro path as called
    defined_in: str  # package that defines the macro holding the static (for `$crate`)


@record(frozen=True)
class _Found:
    item: GlobalAllocator
    defined_in: str


def expand_allocator_macros(
    repo: Repo,
    defs: list[tuple[Crate, MacroDef]],
    owners: dict[str, Crate],
    macro_files: list[str],
) -> list[tuple[Crate, Expansion]]:
    """The statics macro calls declare, with the calling crate; notes unreadable calls on crates.

    `defs` are the macros the allocator scan found (with a static in their body);
    `owners` maps each shipped source file to its crate; `macro_files` are those that
    define some macro.
    """
    index: dict[tuple[str, str], list[_Found]] = {}
    for crate, m in defs:
        index.setdefault((crate.name, m.name), []).extend(
            _Found(a, crate.name) for a in m.allocators
        )
    out: list[tuple[Crate, Expansion]] = []
    if index:
        _close_over_callers(repo, index, owners, macro_files)
        for rel, crate, call in _calls(repo, index, owners):
            found = _resolve(repo, crate, call, crate.name, index)
            if isinstance(found, str):
                crate.unread_macros.append((rel, call.line, found))
            elif found:
                out += [(crate, _expand(rel, call, f)) for f in found]
    _note_unreadable(repo, out)
    return out


def _read(repo: Repo, rel: str) -> bytes | None:
    try:
        return repo.read(rel)
    except ReadError:
        return None


def _mentions(data: bytes, names: set[bytes]) -> bool:
    return any(n + b"!" in data for n in names)


def _close_over_callers(
    repo: Repo,
    index: dict[tuple[str, str], list[_Found]],
    owners: dict[str, Crate],
    macro_files: list[str],
) -> None:
    """Add macros whose body calls an indexed one (`main!` calling `enable_jemalloc!`)."""
    from allocpolicy.parsing.rust import scan_module_items_cached

    sources = {rel: _read(repo, rel) for rel in macro_files if rel in owners}
    parsed: dict[str, list[MacroDef]] = {}
    todo = {name.encode() for _, name in index}
    for _ in range(MAX_ROUNDS):
        for rel, data in sources.items():
            if rel not in parsed and data is not None and _mentions(data, todo):
                parsed[rel] = scan_module_items_cached(data).macros
        added = set()
        for rel, macros in parsed.items():
            crate = owners[rel]
            for m in macros:
                if (crate.name, m.name) in index:
                    continue
                found = [
                    _Found(_gated(f.item, call.cfg), f.defined_in)
                    for call in m.calls
                    for f in _listed(_resolve(repo, crate, call, crate.name, index))
                ]
                if found:
                    index[(crate.name, m.name)] = found
                    added.add(m.name.encode())
        if not added:
            return
        todo = added


def _calls(
    repo: Repo, index: dict[tuple[str, str], list[_Found]], owners: dict[str, Crate]
) -> list[tuple[str, Crate, MacroCall]]:
    """Item-level calls of the indexed macros, in the files that mention one of their names."""
    from allocpolicy.parsing.rust import scan_module_items_cached

    names = {name.encode() for _, name in index}
    out = []
    for rel, crate in owners.items():
        data = _read(repo, rel)
        if data is None or not _mentions(data, names):
            continue
        for call in scan_module_items_cached(data).calls:
            if call.resolved.rsplit("::", 1)[-1].encode() in names:
                out.append((rel, crate, call))
    return out


def _listed(found: list[_Found] | str | None) -> list[_Found]:
    return found if isinstance(found, list) else []


def _resolve(
    repo: Repo,
    crate: Crate,
    call: MacroCall,
    dollar_crate: str,
    index: dict[tuple[str, str], list[_Found]],
) -> list[_Found] | str | None:
    """What a call declares: the statics, None (nothing we know of), or why it is unreadable."""
    segs = call.resolved.split("::")
    name = segs[-1]
    if len(segs) == 1:
        if (crate.name, name) in index:  # textual scope: a macro of the same crate
            return index[(crate.name, name)]
        owners = [
            key for key in index if key[1] == name and _depends_on(repo, crate, key[0])
        ]  # #[macro_use] extern crate, or a prelude
        return index[owners[0]] if len(owners) == 1 else None
    head = segs[0]
    if head == "$crate":
        target: str | None = dollar_crate
    elif head in ("crate", "self", "super") or head == crate.name.replace("-", "_"):
        target = crate.name
    else:
        dep = crate.dep_by_rust_name(head)
        if dep is None:
            return None
        target = dep.package
        if repo.crate_by_name(target) is None:
            return _unreadable(dep.package, dep.path is not None or dep.workspace, call)
    return index.get((target, name)) if target is not None else None


def _unreadable(package: str, local: bool, call: MacroCall) -> str | None:
    if local:
        return f"macro `{call.path}!` comes from crate {package}, which this scan did not read"
    if "alloc" in call.path.lower():
        return f"macro `{call.path}!` (package {package}) may declare the #[global_allocator]"
    return None


def _depends_on(repo: Repo, crate: Crate, package: str) -> bool:
    return any(d.package == package for d in crate.deps)


def _gated(item: GlobalAllocator, gate: CfgExpr | None) -> GlobalAllocator:
    return replace(item, cfg=conj([gate, item.cfg])) if gate is not None else item


def _expand(rel: str, call: MacroCall, found: _Found) -> Expansion:
    item = replace(
        _gated(found.item, call.cfg),
        line=call.line,
        column=1,
        end_line=call.line,
        attr_line=call.line,
        suppressed=frozenset(),
        suppression_lines=(),
    )
    return Expansion(rel, item, call.path, found.defined_in)


def _note_unreadable(repo: Repo, out: list[tuple[Crate, Expansion]]) -> None:
    """Binary crates with an allocator dependency no static uses: is a macro call hiding one?

    Only their crate roots are read, and parsed only when they mention a dependency
    this scan did not load or a name like an allocator's.
    """
    for crate in repo.crates:
        if not crate.bins or not _unwired(crate, [e for c, e in out if c is crate]):
            continue
        unloaded = [
            d.rust_name.encode()
            for d in crate.deps
            if repo.crate_by_name(d.package) is None and (d.path is not None or d.workspace)
        ]
        roots = list(dict.fromkeys([*crate.bins.values(), *([crate.lib] if crate.lib else [])]))
        for rel in roots:
            data = _read(repo, rel)
            if data is None or might_declare_allocator(data):
                continue  # a file with a static was read by the allocator scan
            used = _macro_use_crates(data)
            if not (_ALLOC_CALL.search(data) or used or any(n + b"::" in data for n in unloaded)):
                continue
            from allocpolicy.parsing.rust import scan_module_items_cached

            for call in scan_module_items_cached(data).calls:
                why = _resolve(repo, crate, call, crate.name, {})
                if why is None and "::" not in call.resolved:
                    why = _bare_call_source(repo, crate, call, used)
                if isinstance(why, str) and (rel, call.line, why) not in crate.unread_macros:
                    crate.unread_macros.append((rel, call.line, why))


_MACRO_USE = lazy_re(rb"#\[\s*macro_use\s*\]\s*(?:pub\s+)?extern\s+crate\s+(\w+)")


def _macro_use_crates(data: bytes) -> list[str]:
    """`#[macro_use] extern crate common;`: crates whose macros a bare `name!()` may be."""
    return [m.decode() for m in _MACRO_USE.findall(data)]


def _bare_call_source(repo: Repo, crate: Crate, call: MacroCall, used: list[str]) -> str | None:
    """Why a bare `enable_jemalloc!();` is unreadable: a `#[macro_use]` crate of this scan's
    blind spot may define it (as `common::enable_jemalloc!()` would be)."""
    for name in used:
        dep = crate.dep_by_rust_name(name)
        if dep is not None and repo.crate_by_name(dep.package) is None:
            why = _unreadable(dep.package, dep.path is not None or dep.workspace, call)
            if why is not None:
                return why
    return None


def _unwired(crate: Crate, expansions: list[Expansion]) -> bool:
    """Some allocator dependency that no static (or expansion) names."""
    named = {s.item.crate for s in crate.statics} | {e.item.crate for e in expansions}
    named |= {w.split("::", 1)[0] for s in crate.statics for w in s.item.wrapped}
    return any(
        allocators.family(d.package) is not None and d.rust_name not in named for d in crate.deps
    )
