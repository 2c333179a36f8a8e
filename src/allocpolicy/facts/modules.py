"""Which crate roots compile a source file, and under which cfg.

A `#[global_allocator]` in `src/jemalloc.rs` exists only where `lib.rs` says
`#[cfg(feature = "jemalloc")] mod jemalloc;`: the static's effective cfg is the
conjunction of the gates along its module path from the crate root. The path is
found by following `mod` declarations from the roots (the lib and each bin) to the
files that declare a static, the way rustc resolves them (`x.rs`, `x/mod.rs`,
`#[path = "..."]`, inline `mod a { mod b; }`).

Only files on the way to a target are parsed: a declaration is followed when the
target lies below the directory its module's children live in. The walk is
bounded in depth and reads through the repository's bounded reader.
"""

from __future__ import annotations

import posixpath

from allocpolicy._record import record
from allocpolicy.parsing.cfg import conj

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Callable

    from allocpolicy.facts.workspace import Crate
    from allocpolicy.parsing.cfg import CfgExpr
    from allocpolicy.parsing.rust import ModDecl

MAX_DEPTH = 16  # module nesting followed from a root; real crates stay well below


@record(frozen=True)
class Reach:
    """One way a crate root compiles a file."""

    kind: str  # "lib" | "bin"
    bin: str | None  # the bin's name, for kind "bin"
    cfg: CfgExpr | None  # conjunction of the gates from the root to the file (None: none)


def module_reach(
    crate: Crate, targets: set[str], read: Callable[[str], bytes | None], files: set[str]
) -> dict[str, list[Reach]]:
    """For each target file the crate's roots reach, how they reach it."""
    roots: list[tuple[str, str | None, str]] = [("lib", None, crate.lib)] if crate.lib else []
    roots += [("bin", name, path) for name, path in crate.bins.items()]
    out: dict[str, list[Reach]] = {}
    for kind, name, root in roots:
        for file, cfg in _walk(root, targets, read, files):
            out.setdefault(file, []).append(Reach(kind, name, cfg))
    return out


def _walk(
    root: str, targets: set[str], read: Callable[[str], bytes | None], files: set[str]
) -> list[tuple[str, CfgExpr | None]]:
    from allocpolicy.parsing.rust import scan_module_items_cached

    found: list[tuple[str, CfgExpr | None]] = [(root, None)] if root in targets else []
    stack: list[tuple[str, bool, CfgExpr | None, int]] = [(root, True, None, 0)]
    seen = {root}
    while stack:
        file, mod_rs, cfg, depth = stack.pop()
        if depth >= MAX_DEPTH or not _leads_to(_child_dir(file, mod_rs), targets):
            continue
        data = read(file)
        if data is None:
            continue
        for decl in scan_module_items_cached(data).mods:
            for cand in _candidates(file, mod_rs, decl):
                if cand in seen or not (cand in files or (decl.path and read(cand) is not None)):
                    continue
                seen.add(cand)
                gate = conj([cfg, decl.cfg])
                if cand in targets:
                    found.append((cand, gate))
                stack.append((cand, posixpath.basename(cand) == "mod.rs", gate, depth + 1))
                break  # `x.rs` and `x/mod.rs` both existing is an error; the first one wins
    return found


def _child_dir(file: str, mod_rs: bool) -> str:
    """Where the modules a file declares live: its directory, or `dir/stem` for `a.rs`."""
    head = posixpath.dirname(file)
    if mod_rs:
        return head
    stem = posixpath.basename(file).removesuffix(".rs")
    return posixpath.join(head, stem) if head else stem


def _leads_to(directory: str, targets: set[str]) -> bool:
    prefix = directory + "/" if directory else ""
    return any(t.startswith(prefix) for t in targets)


def _candidates(file: str, mod_rs: bool, decl: ModDecl) -> list[str]:
    base = posixpath.join(_child_dir(file, mod_rs), *decl.inline)
    if decl.path:
        # A #[path] outside inline modules is relative to the declaring file's directory.
        start = base if decl.inline else posixpath.dirname(file)
        joined = posixpath.normpath(posixpath.join(start, decl.path))
        inside = not (joined.startswith("../") or joined == ".." or joined.startswith("/"))
        return [joined] if inside else []
    return [posixpath.join(base, f"{decl.name}.rs"), posixpath.join(base, decl.name, "mod.rs")]
