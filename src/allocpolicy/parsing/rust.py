"""Find `#[global_allocator]` statics in Rust source with tree-sitter.

Scans run over thousands of files, so:

* `scan_rust_source` returns immediately unless the bytes contain
  ``global_allocator`` (`might_declare_allocator` is that check);
* tree_sitter is imported, and the Language/Parser built, only on first use;
* the walk only descends into nodes whose byte range holds an occurrence of
  the needle.

Nothing here raises on odd input: CRLF, a UTF-8 BOM, invalid UTF-8 and
broken code all produce a (possibly empty) result.
"""

from __future__ import annotations

import _thread
import bisect
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import field, record
from allocpolicy.parsing.cfg import CfgError, CfgExpr, conj, disj, negate, parse_cfg
from allocpolicy.parsing.rust_needle import NEEDLE as _NEEDLE
from allocpolicy.parsing.rust_needle import might_declare_allocator

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

if TYPE_CHECKING:  # only for annotations; importing tree_sitter is not free
    from tree_sitter import Node, Parser

__all__ = [
    "GlobalAllocator",
    "MacroCall",
    "MacroDef",
    "ModDecl",
    "ModuleItems",
    "RustSource",
    "file_suppressions",
    "insertion_line",
    "might_declare_allocator",
    "scan_module_items",
    "scan_rust_source",
]

_BOM = b"\xef\xbb\xbf"
_DIRECTIVE_RE = lazy_re(rb"allocpolicy\s*:\s*(ignore-file|ignore)\s*\[([^\]\n]*)\]")
_COMMENTS = frozenset({"line_comment", "block_comment"})
# Leaves in which a needle is just text, never code.
_TEXTUAL = frozenset(
    {
        "line_comment",
        "block_comment",
        "doc_comment",
        "string_content",
        "string_literal",
        "raw_string_literal",
        "char_literal",
    }
)
_CONTAINERS = frozenset({"source_file", "declaration_list", "block", "ERROR"})
_TYPE_ITEMS = frozenset({"struct_item", "enum_item", "union_item", "type_item"})
_PATH_ROOTS = frozenset({"crate", "self", "super", "$crate"})


@record(frozen=True)
class GlobalAllocator:
    static_name: str
    type_text: str  # as written, e.g. "MiMalloc"
    resolved: str  # through use/extern-crate aliases, e.g. "mimalloc::MiMalloc"
    crate: str  # first segment of `resolved`; "crate"/"self"/"super" for local types
    cfg: CfgExpr | None  # gating predicate, None if unconditional
    line: int  # 1-based span of the whole item including its attributes
    column: int
    end_line: int
    attr_line: int  # line of the #[global_allocator] (or cfg_attr) attribute
    suppressed: frozenset[str] = frozenset()
    suppression_lines: tuple[int, ...] = ()
    # Other paths the static names, resolved like `resolved`: the type's generic
    # arguments, its initializer, the fields of a local struct it is (same file).
    # `Counting<tikv_jemallocator::Jemalloc>` wraps the allocator of another crate.
    wrapped: tuple[str, ...] = ()


@record(frozen=True)
class MacroCall:
    """An item-level `path!(...)` invocation: it may expand to items, a static among them."""

    path: str  # as written, e.g. "common::enable_jemalloc"
    resolved: str  # through `use` aliases, e.g. "common::enable_jemalloc" for a bare name
    cfg: CfgExpr | None
    line: int


@record(frozen=True)
class MacroDef:
    """A `macro_rules!` definition, with what its bodies declare or invoke at item level."""

    name: str
    exported: bool  # #[macro_export]: callable as `krate::name!` from other crates
    line: int
    allocators: tuple[GlobalAllocator, ...] = ()
    calls: tuple[MacroCall, ...] = ()


@record(frozen=True)
class ModDecl:
    """An out-of-line `mod name;`, with the inline modules around it and its gates."""

    name: str
    inline: tuple[str, ...]  # enclosing inline `mod a { mod b { ... } }` names
    path: str | None  # #[path = "..."], if any
    cfg: CfgExpr | None  # the file's, enclosing modules' and its own cfg
    line: int


@record
class ModuleItems:
    """The item-level structure of a file: module declarations and macros."""

    mods: list[ModDecl] = field(default_factory=list)
    calls: list[MacroCall] = field(default_factory=list)
    macros: list[MacroDef] = field(default_factory=list)
    # top-level items other than `#[global_allocator]` statics, `use` and `extern crate`:
    # 0 for a crate that is only an allocator choice (AP009 leaves it alone)
    others: int = 0


@record
class RustSource:
    allocators: list[GlobalAllocator] = field(default_factory=list)
    parse_error: tuple[int, str] | None = None
    macros: list[MacroDef] = field(default_factory=list)  # those whose body declares a static


# -- tree-sitter plumbing ----------------------------------------------------

# `_thread` is what `threading` builds on; importing threading itself costs start-up
# time that a scan without tree-sitter work would pay for nothing.
_LANG_LOCK = _thread.allocate_lock()
_LANGUAGE: Any = None
_COMMENT_QUERY: Any = None
# tree-sitter Parsers are not safe to share between threads; one per thread.
_LOCAL: Any = None


def _language() -> Any:
    global _LANGUAGE, _COMMENT_QUERY
    if _LANGUAGE is None:
        with _LANG_LOCK:
            if _LANGUAGE is None:
                import tree_sitter
                import tree_sitter_rust

                lang = tree_sitter.Language(tree_sitter_rust.language())
                _COMMENT_QUERY = tree_sitter.Query(lang, "[(line_comment) (block_comment)] @c")
                _LANGUAGE = lang
    return _LANGUAGE


def _parser() -> Parser:
    global _LOCAL
    if _LOCAL is None:
        import threading

        with _LANG_LOCK:
            _LOCAL = _LOCAL or threading.local()
    parser = getattr(_LOCAL, "parser", None)
    if parser is None:
        import tree_sitter

        parser = _LOCAL.parser = tree_sitter.Parser(_language())
    return parser


def _parse(data: bytes) -> Node:
    return _parser().parse(data).root_node


def _comment_nodes(root: Node) -> list[Node]:
    import tree_sitter

    _language()
    captures = tree_sitter.QueryCursor(_COMMENT_QUERY).captures(root)
    return sorted(captures.get("c", []), key=lambda n: n.start_byte)


def _strip_bom(data: bytes) -> bytes:
    # A BOM sits on line 1, so dropping it keeps every line number (and makes
    # line-1 columns match what an editor shows).
    return data[len(_BOM) :] if data.startswith(_BOM) else data


def _text(data: bytes, node: Node) -> str:
    return data[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _last_row(node: Node) -> int:
    """0-based row of the node's last byte (line comments end after their newline)."""
    row, col = node.end_point
    return row - 1 if col == 0 and row > node.start_point[0] else row


def _column(data: bytes, byte: int) -> int:
    """1-based character column of a byte offset."""
    line_start = data.rfind(b"\n", 0, byte) + 1
    return len(data[line_start:byte].decode("utf-8", "replace")) + 1


# -- suppression comments ------------------------------------------------------


@record(frozen=True)
class _Directive:
    line: int  # 1-based line of the directive text itself
    kind: str  # "ignore" | "ignore-file"
    ids: frozenset[str]


@record(frozen=True)
class _Comment:
    first: int  # 1-based first and last line
    last: int
    own_line: bool  # nothing but whitespace before it on its first line
    directives: tuple[_Directive, ...]


def _directives_in(data: bytes, node: Node) -> tuple[_Directive, ...]:
    raw = data[node.start_byte : node.end_byte]
    out = []
    for m in _DIRECTIVE_RE.finditer(raw):
        ids = frozenset(
            p.strip() for p in m.group(2).decode("utf-8", "replace").split(",") if p.strip()
        )
        line = node.start_point[0] + raw.count(b"\n", 0, m.start()) + 1
        out.append(_Directive(line, m.group(1).decode(), ids))
    return tuple(out)


def _comments(data: bytes, root: Node) -> list[_Comment]:
    if b"allocpolicy" not in data:
        return []  # no directives possible; skip the query
    out = []
    for node in _comment_nodes(root):
        line_start = data.rfind(b"\n", 0, node.start_byte) + 1
        own_line = not data[line_start : node.start_byte].strip()
        first = node.start_point[0] + 1
        out.append(_Comment(first, _last_row(node) + 1, own_line, _directives_in(data, node)))
    return out


def file_suppressions(data: bytes) -> list[tuple[int, str, frozenset[str]]]:
    """Every ``allocpolicy: ignore[...]`` / ``ignore-file[...]`` comment in the file.

    Only real comments count: the same text inside a string literal does not.
    """
    if b"allocpolicy" not in data:
        return []
    data = _strip_bom(data)
    try:
        root = _parse(data)
    except Exception:  # tree-sitter is tolerant; this is belt and braces
        return []
    return [(d.line, d.kind, d.ids) for c in _comments(data, root) for d in c.directives]


def _attached(comments: list[_Comment], first: int, last: int) -> list[_Directive]:
    """`ignore` directives on the item's own lines or in the comment block right above."""
    found = [d for c in comments if first <= c.first <= last for d in c.directives]
    above = {c.last: c for c in comments if c.own_line}
    row = first - 1
    while row in above:
        comment = above[row]
        found.extend(comment.directives)
        row = comment.first - 1
    return [d for d in found if d.kind == "ignore"]


# -- use / extern crate resolution ---------------------------------------------


def _segments(text: str) -> tuple[str, ...]:
    compact = re.sub(r"\s+", "", text)
    return tuple(s for s in compact.split("::") if s)


@record
class _Scope:
    is_module: bool
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    globs: list[tuple[str, ...]] = field(default_factory=list)
    local_types: set[str] = field(default_factory=set)
    # `mod tracking;` makes `tracking::Counting` a path into this crate, not a crate's
    local_mods: set[str] = field(default_factory=set)


def _use_bindings(node: Node, data: bytes, prefix: tuple[str, ...], scope: _Scope) -> None:
    kind = node.type
    if kind == "use_as_clause":
        path = node.child_by_field_name("path")
        alias = node.child_by_field_name("alias")
        if path is not None and alias is not None:
            segs = _segments(_text(data, path))
            target = prefix if segs == ("self",) else prefix + segs
            if target:
                scope.aliases[_text(data, alias)] = target
    elif kind == "scoped_use_list":
        path = node.child_by_field_name("path")
        inner = prefix + (_segments(_text(data, path)) if path is not None else ())
        lst = node.child_by_field_name("list")
        if lst is not None:
            _use_bindings(lst, data, inner, scope)
    elif kind == "use_list":
        for child in node.named_children:
            _use_bindings(child, data, prefix, scope)
    elif kind == "use_wildcard":
        scope.globs.append(prefix + _segments(_text(data, node).rstrip("*")))
    elif kind in ("identifier", "scoped_identifier", "self", "crate", "super"):
        segs = _segments(_text(data, node))
        target = prefix if segs == ("self",) else prefix + segs
        if target and target[-1] not in ("self", "crate", "super"):
            scope.aliases[target[-1]] = target


def _build_scope(container: Node, data: bytes) -> _Scope:
    scope = _Scope(is_module=container.type != "block")
    for child in container.named_children:
        kind = child.type
        if kind == "use_declaration":
            arg = child.child_by_field_name("argument")
            if arg is not None:
                _use_bindings(arg, data, (), scope)
        elif kind == "extern_crate_declaration":
            name = child.child_by_field_name("name")
            alias = child.child_by_field_name("alias")
            if name is not None and alias is not None:
                crate = _text(data, name)
                scope.aliases[_text(data, alias)] = ("crate",) if crate == "self" else (crate,)
        elif kind in _TYPE_ITEMS:
            name = child.child_by_field_name("name")
            if name is not None:
                scope.local_types.add(_text(data, name))
        elif kind == "mod_item":
            name = child.child_by_field_name("name")
            if name is not None:
                scope.local_mods.add(_text(data, name))
    return scope


def _lookup(name: str, scopes: tuple[_Scope, ...]) -> tuple[str, ...] | None:
    # Innermost first. Strictly Rust does not see a parent module's imports,
    # but `use super::*;` is so common in inline modules that falling back is
    # the better guess (unresolvable code would not compile anyway).
    for scope in reversed(scopes):
        if name in scope.aliases:
            return scope.aliases[name]
    return None


def _local_prefix(
    name: str, scopes: tuple[_Scope, ...], modules: bool = False
) -> tuple[str, ...] | None:
    hops = 0
    for scope in reversed(scopes):
        if name in (scope.local_mods if modules else scope.local_types):
            return ("self",) if hops == 0 else ("super",) * hops
        hops += scope.is_module
    return None


def _glob_for(scopes: tuple[_Scope, ...]) -> tuple[str, ...] | None:
    for scope in reversed(scopes):
        external = [g for g in scope.globs if g and g[0] not in _PATH_ROOTS]
        if external:
            # Only a lone external glob is a safe guess for where a name came from.
            return external[0] if len(external) == 1 else None
    return None


def _resolve(type_text: str, scopes: tuple[_Scope, ...]) -> tuple[str, ...]:
    path = type_text.split("<", 1)[0]
    segs = _segments(path)
    if not segs or re.sub(r"\s+", "", path).startswith("::"):
        return segs  # `::krate::X` names an extern crate directly
    for _ in range(8):  # alias chains are short; the bound stops cycles
        first = segs[0]
        if first == "self" and len(segs) > 1 and _lookup(segs[1], scopes[-1:]):
            segs = segs[1:]
            continue
        if first in _PATH_ROOTS:
            return segs
        target = _lookup(first, scopes)
        if target is None or target == (first,):
            break
        segs = target + segs[1:]
    if len(segs) == 1:
        local = _local_prefix(segs[0], scopes)
        if local is not None:
            return local + segs
        glob = _glob_for(scopes)
        if glob is not None:
            return glob + segs
    elif segs and segs[0] not in _PATH_ROOTS:
        local = _local_prefix(segs[0], scopes, modules=True)
        if local is not None:
            return local + segs
    return segs


# -- attributes -------------------------------------------------------------------


@record(frozen=True)
class _Meta:
    conds: tuple[CfgExpr, ...]  # enclosing cfg_attr predicates
    name: str
    args: Node | None  # token_tree, if any


def _split_top(tree: Node) -> list[list[Node]]:
    """Children of a token tree split at its top-level commas (brackets excluded)."""
    parts: list[list[Node]] = [[]]
    for child in tree.children[1:-1]:
        if child.type == ",":
            parts.append([])
        else:
            parts[-1].append(child)
    return [p for p in parts if p]


def _metas(
    nodes: list[Node], data: bytes, conds: tuple[CfgExpr, ...], errors: list[tuple[int, str]]
) -> Iterator[_Meta]:
    name_parts: list[str] = []
    args = None
    for node in nodes:
        if node.type == "token_tree":
            args = node
            break
        if node.type == "=":
            break
        name_parts.append(_text(data, node))
    name = "".join(name_parts).replace(" ", "")
    if name != "cfg_attr" or args is None:
        yield _Meta(conds, name, args)
        return
    parts = _split_top(args)
    if not parts:
        return
    pred_text = data[parts[0][0].start_byte : parts[0][-1].end_byte].decode("utf-8", "replace")
    try:
        pred = parse_cfg(pred_text)
    except CfgError as err:
        errors.append((parts[0][0].start_point[0] + 1, f"invalid cfg_attr predicate: {err}"))
        return
    for part in parts[1:]:
        yield from _metas(part, data, conds + (pred,), errors)


def _attr_metas(attr_item: Node, data: bytes, errors: list[tuple[int, str]]) -> list[_Meta]:
    attr = next((c for c in attr_item.named_children if c.type == "attribute"), None)
    if attr is None:
        return []
    return list(_metas(list(attr.children), data, (), errors))


def _is_global_allocator(name: str) -> bool:
    return name == "global_allocator" or name.endswith("::global_allocator")


def _cfg_gates(metas: Iterable[_Meta], data: bytes, errors: list[tuple[int, str]]) -> list[CfgExpr]:
    gates = []
    for meta in metas:
        if meta.name != "cfg" or meta.args is None:
            continue
        try:
            pred = parse_cfg("cfg" + _text(data, meta.args))
        except CfgError as err:
            errors.append((meta.args.start_point[0] + 1, f"invalid cfg predicate: {err}"))
            continue
        if meta.conds:
            # cfg_attr(c, cfg(p)) removes the item only when c holds and p does not.
            cond = CfgExpr("all", meta.conds) if len(meta.conds) > 1 else meta.conds[0]
            pred = CfgExpr.any_(negate(cond), pred)
        gates.append(pred)
    return gates


# -- the walk ---------------------------------------------------------------------


@record(frozen=True)
class _Ctx:
    gates: tuple[CfgExpr, ...]
    scopes: tuple[_Scope, ...]
    mods: tuple[str, ...] = ()  # inline modules entered in this file

    def gated(self, gates: Iterable[CfgExpr]) -> _Ctx:
        return _Ctx(self.gates + tuple(gates), self.scopes, self.mods)


class _Scanner:
    def __init__(self, data: bytes, root: Node) -> None:
        self.data = data
        self.root = root
        self.hits = [m.start() for m in re.finditer(re.escape(_NEEDLE), data)]
        self.errors: list[tuple[int, str]] = []
        # Each allocator with the nodes it was read from (attributes + static).
        self.found: list[tuple[GlobalAllocator, list[Node]]] = []
        self.macros: list[MacroDef] = []
        self._comments: list[_Comment] | None = None
        self._structs: dict[str, Node] | None = None
        self._macro_depth = 0

    def near_needle(self, start: int, end: int) -> bool:
        i = bisect.bisect_left(self.hits, start)
        return i < len(self.hits) and self.hits[i] < end

    def relevant(self, start: int, end: int) -> bool:
        return self.near_needle(start, end)

    def comments(self) -> list[_Comment]:
        if self._comments is None:
            self._comments = _comments(self.data, self.root)
        return self._comments

    def container(self, node: Node, ctx: _Ctx) -> None:
        inner = [c for c in node.children if c.type == "inner_attribute_item"]
        metas = [m for c in inner for m in _attr_metas(c, self.data, self.errors)]
        ctx = _Ctx(
            ctx.gates + tuple(_cfg_gates(metas, self.data, self.errors)),
            ctx.scopes + (_build_scope(node, self.data),),
            ctx.mods,
        )
        pending: list[Node] = []
        for child in node.children:
            if child.type == "attribute_item":
                pending.append(child)
            elif child.type in _COMMENTS or child.type == "inner_attribute_item":
                continue
            else:
                start = pending[0].start_byte if pending else child.start_byte
                if self.relevant(start, child.end_byte):
                    self.item(child, pending, ctx)
                pending = []

    def item(self, node: Node, attrs: list[Node], ctx: _Ctx) -> None:
        metas = [m for a in attrs for m in _attr_metas(a, self.data, self.errors)]
        if node.type == "static_item":
            self.static(node, attrs, metas, ctx)
            return
        if node.type == "macro_definition":
            self.macro_definition(node, metas, ctx)
            return
        self.descend(node, ctx.gated(_cfg_gates(metas, self.data, self.errors)))

    def descend(self, node: Node, ctx: _Ctx) -> None:
        if node.type in _CONTAINERS:
            self.container(node, ctx)
            return
        if node.type == "macro_invocation" and _macro_name(self.data, node) in _CFG_IF:
            self.cfg_if(node, ctx)
            return
        if node.type == "macro_definition":
            self.macro_definition(node, [], ctx)
            return
        for child in node.children:
            if self.relevant(child.start_byte, child.end_byte):
                self.descend(child, ctx)

    def cfg_if(self, node: Node, ctx: _Ctx) -> None:
        """`cfg_if! { if #[cfg(p)] { items } else if ... else { items } }`.

        tree-sitter leaves macro bodies as token trees, so each relevant branch
        is re-parsed on its own: everything outside it is blanked (newlines
        kept) so byte offsets, lines and columns stay those of the file.
        """
        body = node.children[-1] if node.children else None
        if body is None or body.type != "token_tree":
            return
        kids = body.children[1:-1]
        earlier: list[CfgExpr] = []  # conditions of previous branches in this chain
        cond: CfgExpr | None = None
        for i, kid in enumerate(kids):
            if kid.type == "if" and not (i and _text(self.data, kids[i - 1]) == "else"):
                earlier = []  # a new if-chain starts
            if kid.type == "token_tree" and _text(self.data, kid).startswith("["):
                if i and kids[i - 1].type == "#":
                    cond = self._cfg_if_condition(kid)
                continue
            if kid.type != "token_tree" or not _text(self.data, kid).startswith("{"):
                continue
            gate = conj([negate(e) for e in earlier] + ([cond] if cond is not None else []))
            if cond is not None:
                earlier.append(cond)
            cond = None
            if self.relevant(kid.start_byte + 1, kid.end_byte - 1):
                branch = ctx.gated((gate,) if gate is not None else ())
                self.container(_parse(_blank_outside(self.data, kid)), branch)

    def _cfg_if_condition(self, bracket: Node) -> CfgExpr | None:
        text = _text(self.data, bracket)[1:-1]  # "[cfg(...)]" -> "cfg(...)"
        try:
            return parse_cfg(text)
        except CfgError as err:
            self.errors.append((bracket.start_point[0] + 1, f"invalid cfg_if predicate: {err}"))
            return None

    def macro_definition(self, node: Node, metas: list[_Meta], ctx: _Ctx) -> None:
        """`macro_rules! name { (...) => { items }; ... }`: what its bodies declare or invoke.

        A static in a body belongs to whoever invokes the macro, not to this file, so
        it is kept apart. A body is re-parsed on its own (as a cfg_if branch is), and
        only when the needle is in it.
        """
        name_node = node.child_by_field_name("name")
        if name_node is None or self._macro_depth >= _MAX_MACRO_DEPTH:
            return
        outer, self.found = self.found, []
        calls: list[MacroCall] = []
        self._macro_depth += 1
        try:
            for rule in node.children:
                body = rule.child_by_field_name("right") if rule.type == "macro_rule" else None
                if body is None or body.type != "token_tree":
                    continue
                calls += _body_calls(self.data, body, self.errors)
                if self.near_needle(body.start_byte + 1, body.end_byte - 1):
                    self.container(_parse(_blank_outside(self.data, body)), _Ctx((), ()))
        finally:
            self._macro_depth -= 1
            inner, self.found = self.found, outer
        self.macros.append(
            MacroDef(
                name=_text(self.data, name_node),
                exported=any(m.name == "macro_export" for m in metas),
                line=node.start_point[0] + 1,
                allocators=tuple(g for g, _ in inner),
                calls=tuple(calls),
            )
        )

    def structs(self) -> dict[str, Node]:
        """The file's struct items by name (top level and inline modules), built on first use."""
        if self._structs is None:
            self._structs = {}
            todo = [self.root]
            while todo and len(self._structs) < _MAX_STRUCTS:
                container = todo.pop()
                for child in container.named_children:
                    if child.type == "struct_item":
                        name = child.child_by_field_name("name")
                        if name is not None:
                            self._structs.setdefault(_text(self.data, name), child)
                    elif child.type == "mod_item":
                        body = child.child_by_field_name("body")
                        todo += [body] if body is not None else []
        return self._structs

    def wrapped(
        self, typ: Node | None, value: Node | None, resolved: tuple[str, ...], scopes: Any
    ) -> tuple[str, ...]:
        """External paths in the static's generic arguments, initializer and local struct fields."""
        todo: list[tuple[Node, int]] = []
        if typ is not None and typ.type == "generic_type":
            args = typ.child_by_field_name("type_arguments")
            todo += [(args, 0)] if args is not None else []
        if value is not None:
            todo.append((value, 0))
        seen: set[str] = set()
        out: list[str] = []

        def expand(segs: tuple[str, ...], depth: int) -> None:
            names = [x for x in segs if x not in _PATH_ROOTS]
            for name in (names[:1] + names[-1:]) if depth < _MAX_WRAP_DEPTH else []:
                struct = self.structs().get(name)
                body = struct.child_by_field_name("body") if struct is not None else None
                if body is not None and name not in seen:
                    seen.add(name)
                    todo.append((body, depth + 1))

        if resolved[:1] in (("self",), ("super",), ("crate",)):
            expand(resolved, 0)
        while todo and len(out) < _MAX_WRAPPED:
            node, depth = todo.pop()
            for path in _paths_in(self.data, node):
                segs = _resolve(path, scopes)
                if not segs:
                    continue
                local = segs[0] in ("self", "super", "crate") or segs[0] in self.structs()
                if len(segs) >= 2 and not local:
                    out.append("::".join(segs))
                else:
                    expand(segs, depth)
        primary = "::".join(resolved)
        return tuple(p for p in dict.fromkeys(out) if p != primary)[:_MAX_WRAPPED]

    def static(self, node: Node, attrs: list[Node], metas: list[_Meta], ctx: _Ctx) -> None:
        ga_attrs = [
            a
            for a in attrs
            if any(_is_global_allocator(m.name) for m in _attr_metas(a, self.data, []))
        ]
        ga_metas = [m for m in metas if _is_global_allocator(m.name)]
        if not ga_metas:
            return
        name = node.child_by_field_name("name")
        typ = node.child_by_field_name("type")
        type_text = _text(self.data, typ) if typ is not None else ""
        resolved = _resolve(type_text, ctx.scopes)
        wrapped = self.wrapped(typ, node.child_by_field_name("value"), resolved, ctx.scopes)
        # Several global_allocator attributes are odd but legal-looking;
        # any unconditional one makes the whole thing unconditional.
        ga_gate = None
        if all(m.conds for m in ga_metas):
            ga_gate = disj([conj(m.conds) or CfgExpr("all") for m in ga_metas])
        gates = ctx.gates + tuple(_cfg_gates(metas, self.data, self.errors))
        first = attrs[0] if attrs else node
        line, end_line = first.start_point[0] + 1, _last_row(node) + 1
        directives = _attached(self.comments(), line, end_line)
        ids = frozenset(i for d in directives for i in d.ids)
        self.found.append(
            (
                GlobalAllocator(
                    static_name=_text(self.data, name) if name is not None else "",
                    type_text=type_text,
                    resolved="::".join(resolved) or type_text,
                    crate=resolved[0] if resolved else "",
                    cfg=conj(list(gates) + ([ga_gate] if ga_gate is not None else [])),
                    line=line,
                    column=_column(self.data, first.start_byte),
                    end_line=end_line,
                    attr_line=ga_attrs[0].start_point[0] + 1 if ga_attrs else line,
                    suppressed=ids,
                    suppression_lines=tuple(sorted({d.line for d in directives})),
                    wrapped=wrapped,
                ),
                attrs + [node],
            )
        )

    def parse_error(self) -> tuple[int, str] | None:
        problems = list(self.errors)
        if self.root.has_error:
            problems.extend(self._syntax_problems())
        return min(problems) if problems else None

    def _syntax_problems(self) -> Iterator[tuple[int, str]]:
        spans = []
        for _, nodes in self.found:
            spans.append((nodes[0].start_byte, nodes[-1].end_byte))
            for node in nodes:
                bad = _first_error(node) if node.has_error else None
                if bad is not None:
                    yield _describe(bad)
        # A needle outside every allocator we read, inside an ERROR node, is an
        # attribute or static tree-sitter could not make sense of.
        for hit in self.hits:
            if any(start <= hit < end for start, end in spans):
                continue
            leaf = self.root.descendant_for_byte_range(hit, hit + len(_NEEDLE))
            if leaf is None or leaf.type in _TEXTUAL:
                continue
            parent: Node | None = leaf
            while parent is not None:
                if parent.is_error:
                    yield (leaf.start_point[0] + 1, "syntax error around #[global_allocator]")
                    break
                parent = parent.parent


class _ItemScanner(_Scanner):
    """Every item-level module declaration, macro call and macro definition of a file.

    Unlike the allocator walk it visits items far from any needle, but it never
    enters function bodies, impls or other non-module items.
    """

    def __init__(self, data: bytes, root: Node) -> None:
        super().__init__(data, root)
        self.mods: list[ModDecl] = []
        self.calls: list[MacroCall] = []
        self.others = 0

    def relevant(self, start: int, end: int) -> bool:
        return True

    def item(self, node: Node, attrs: list[Node], ctx: _Ctx) -> None:
        metas = [m for a in attrs for m in _attr_metas(a, self.data, self.errors)]
        if not ctx.mods and not self._plain(node, metas):
            self.others += 1
        if node.type == "static_item":  # one in a macro body
            self.static(node, attrs, metas, ctx)
            return
        if node.type == "macro_definition":
            self.macro_definition(node, metas, ctx)
            return
        gated = ctx.gated(_cfg_gates(metas, self.data, self.errors))
        if node.type == "mod_item":
            self.module(node, attrs, gated)
            return
        call = _item_call(node)
        if call is None:
            return
        name = _macro_name(self.data, call)
        if name in _CFG_IF:
            self.cfg_if(call, gated)
        elif name != "macro_rules" and name:
            resolved = "::".join(_resolve(name, gated.scopes)) or name
            self.calls.append(MacroCall(name, resolved, conj(list(gated.gates)), _line(call)))

    @staticmethod
    def _plain(node: Node, metas: list[_Meta]) -> bool:
        """An item an allocator-only file is made of."""
        if node.type == "static_item":
            return any(_is_global_allocator(m.name) for m in metas)
        return node.type in ("use_declaration", "extern_crate_declaration", "empty_statement")

    def module(self, node: Node, attrs: list[Node], ctx: _Ctx) -> None:
        name_node = node.child_by_field_name("name")
        if name_node is None:
            return
        name = _text(self.data, name_node)
        body = node.child_by_field_name("body")
        if body is not None:
            self.container(body, _Ctx(ctx.gates, ctx.scopes, ctx.mods + (name,)))
            return
        path = _path_attr(self.data, attrs)
        self.mods.append(ModDecl(name, ctx.mods, path, conj(list(ctx.gates)), _line(node)))


def _line(node: Node) -> int:
    return node.start_point[0] + 1


def _item_call(node: Node) -> Node | None:
    """The macro invocation an item-level `name!(...);` or `name! { ... }` is."""
    if node.type == "macro_invocation":
        return node
    if node.type == "expression_statement" and node.named_child_count == 1:
        inner = node.named_children[0]
        return inner if inner.type == "macro_invocation" else None
    return None


def _path_attr(data: bytes, attrs: list[Node]) -> str | None:
    """The value of a plain `#[path = "..."]` (a cfg_attr'd one is not followed)."""
    for item in attrs:
        attr = next((c for c in item.named_children if c.type == "attribute"), None)
        if attr is None or not attr.children or _text(data, attr.children[0]) != "path":
            continue
        lit = next((c for c in attr.children if c.type == "string_literal"), None)
        content = (
            next((c for c in lit.named_children if c.type == "string_content"), None)
            if lit is not None
            else None
        )
        if content is not None:
            return _text(data, content)
    return None


_CFG_IF = frozenset({"cfg_if", "cfg_if::cfg_if", "::cfg_if::cfg_if"})
# Maps every byte except LF to a space: blanks code but keeps line structure.
_BLANK = bytes(10 if b == 10 else 32 for b in range(256))


def _macro_name(data: bytes, node: Node) -> str:
    name = node.child_by_field_name("macro")
    return re.sub(r"\s+", "", _text(data, name)) if name is not None else ""


_MAX_MACRO_DEPTH = 4  # macro_rules! inside a macro body inside ...: deeper is not followed
_MAX_STRUCTS = 2000
_MAX_WRAP_DEPTH = 3  # struct in a struct in a struct
_MAX_WRAPPED = 16
_MAX_PATH_NODES = 2000  # nodes visited per expression or struct body
_PATH_NODES = frozenset(
    {"scoped_type_identifier", "scoped_identifier", "type_identifier", "identifier"}
)


def _paths_in(data: bytes, node: Node) -> list[str]:
    """The outermost path expressions and types under `node`, in source order."""
    out: list[str] = []
    todo, visited = [node], 0
    while todo and visited < _MAX_PATH_NODES:
        n = todo.pop()
        visited += 1
        if n.type in _PATH_NODES:
            out.append(_text(data, n))
        elif n.type not in _TEXTUAL:
            todo.extend(reversed(n.named_children))
    return out


def _body_calls(data: bytes, body: Node, errors: list[tuple[int, str]]) -> list[MacroCall]:
    """Item-level `path!(...)` calls in a macro body, read from its tokens.

    Only the body's own level counts: a call inside `fn main() { ... }` is a
    statement, not an item. A `#[cfg(...)]` right before a call gates it.
    """
    out: list[MacroCall] = []
    path: list[Node] = []
    gates: list[CfgExpr] = []
    kids = body.children[1:-1]
    for i, kid in enumerate(kids):
        text = _text(data, kid)
        if kid.type in ("identifier", "metavariable", "::", "self", "crate", "super"):
            joined = kid.type == "::" or (path and path[-1].type == "::")
            path = path + [kid] if joined else [kid]  # `a b` is two words, not one path
            continue
        if kid.type == "token_tree" and text.startswith("[") and i and kids[i - 1].type == "#":
            gates += _bracket_cfg(text[1:-1], kid, errors)
            continue
        if text == "!" and path and i + 1 < len(kids) and kids[i + 1].type == "token_tree":
            name = "".join(_text(data, p) for p in path)
            if name != "macro_rules":
                out.append(MacroCall(name, name, conj(gates), path[0].start_point[0] + 1))
            gates = []
        elif text in (";", "}") or (kid.type == "token_tree" and text.startswith("{")):
            gates = []
        path = []
    return out


def _bracket_cfg(text: str, node: Node, errors: list[tuple[int, str]]) -> list[CfgExpr]:
    if not text.startswith("cfg") or text.startswith("cfg_attr"):
        return []
    try:
        return [parse_cfg(text)]
    except CfgError as err:
        errors.append((node.start_point[0] + 1, f"invalid cfg predicate: {err}"))
        return []


def _blank_outside(data: bytes, tree: Node) -> bytes:
    start, end = tree.start_byte + 1, tree.end_byte - 1  # inside the braces
    return data[:start].translate(_BLANK) + data[start:end] + data[end:].translate(_BLANK)


def _first_error(node: Node) -> Node | None:
    if node.is_error or node.is_missing:
        return node
    for child in node.children:
        if child.has_error or child.is_missing:
            found = _first_error(child)
            if found is not None:
                return found
    return None


def _describe(node: Node) -> tuple[int, str]:
    line = node.start_point[0] + 1
    if node.is_missing:
        return (line, f"syntax error: missing {node.type!r}")
    return (line, "syntax error")


def scan_rust_source_cached(data: bytes) -> RustSource:
    """scan_rust_source, kept by content in the user cache.

    A hook run reads the crates of a commit, and their sources rarely change: an
    unchanged file then costs a small read instead of importing tree-sitter and
    parsing (~25 ms of a one-file pre-commit check; benchmarks/README.md). The key is
    the file's bytes and this scanner's own source, so a new version never reads an
    old entry. Anything odd about an entry means a fresh scan.
    """
    path = _cache_path("rust", data)
    cached: RustSource | None = _from_cache(path, _source_from)
    if cached is not None:
        return cached
    info = scan_rust_source(data)
    _to_cache(path, info, _source_rows)
    return info


def scan_module_items_cached(data: bytes) -> ModuleItems:
    """scan_module_items, kept by content like scan_rust_source_cached."""
    path = _cache_path("rustmod", data)
    cached: ModuleItems | None = _from_cache(path, _items_from)
    if cached is not None:
        return cached
    items = scan_module_items(data)
    _to_cache(path, items, _items_rows)
    return items


def _cache_path(kind: str, data: bytes) -> Any:
    from allocpolicy.usercache import entry

    return entry(kind, data, _scanner_key())


@lru_cache(maxsize=1)
def _scanner_key() -> str:
    """This scanner's own source (rust.py, cfg.py), so a new version never reads an old entry."""
    import os
    import zlib

    from allocpolicy.parsing import cfg

    code = 0
    for module in (__file__, cfg.__file__ or ""):
        st = os.stat(module)
        code = zlib.crc32(f"{st.st_size}:{st.st_mtime_ns}".encode(), code)
    return f"{code:08x}"


_CACHE_FORMAT = 2


class _Unkeepable(Exception):
    """A value whose cfg text does not read back the same: it is not kept."""


def _cfg_row(cfg: CfgExpr | None) -> str | None:
    if cfg is None:
        return None
    text = str(cfg)
    if parse_cfg(text) != cfg:
        raise _Unkeepable
    return text


def _cfg_from(text: str | None) -> CfgExpr | None:
    return parse_cfg(text) if text is not None else None


def _alloc_row(a: GlobalAllocator) -> tuple[Any, ...]:
    return (
        a.static_name,
        a.type_text,
        a.resolved,
        a.crate,
        _cfg_row(a.cfg),
        a.line,
        a.column,
        a.end_line,
        a.attr_line,
        a.suppressed,
        a.suppression_lines,
        a.wrapped,
    )


def _alloc_from(row: Any) -> GlobalAllocator:
    name, text, resolved, crate, cfg, line, column, end_line, attr_line, sup, lines, wrapped = row
    return GlobalAllocator(
        name,
        text,
        resolved,
        crate,
        _cfg_from(cfg),
        line,
        column,
        end_line,
        attr_line,
        frozenset(sup),
        tuple(lines),
        tuple(wrapped),
    )


def _call_row(c: MacroCall) -> tuple[Any, ...]:
    return (c.path, c.resolved, _cfg_row(c.cfg), c.line)


def _call_from(row: Any) -> MacroCall:
    path, resolved, cfg, line = row
    return MacroCall(path, resolved, _cfg_from(cfg), line)


def _macro_row(m: MacroDef) -> tuple[Any, ...]:
    return (
        m.name,
        m.exported,
        m.line,
        tuple(_alloc_row(a) for a in m.allocators),
        tuple(_call_row(c) for c in m.calls),
    )


def _macro_from(row: Any) -> MacroDef:
    name, exported, line, allocs, calls = row
    return MacroDef(
        name,
        bool(exported),
        line,
        tuple(_alloc_from(a) for a in allocs),
        tuple(_call_from(c) for c in calls),
    )


def _source_rows(info: RustSource) -> tuple[Any, ...]:
    return (
        tuple(_alloc_row(a) for a in info.allocators),
        info.parse_error,
        tuple(_macro_row(m) for m in info.macros),
    )


def _source_from(rows: Any) -> RustSource:
    allocs, error, macros = rows
    return RustSource(
        [_alloc_from(a) for a in allocs],
        tuple(error) if error is not None else None,
        [_macro_from(m) for m in macros],
    )


def _items_rows(items: ModuleItems) -> tuple[Any, ...]:
    return (
        tuple((d.name, d.inline, d.path, _cfg_row(d.cfg), d.line) for d in items.mods),
        tuple(_call_row(c) for c in items.calls),
        tuple(_macro_row(m) for m in items.macros),
        items.others,
    )


def _items_from(rows: Any) -> ModuleItems:
    mods, calls, macros, others = rows
    return ModuleItems(
        [ModDecl(n, tuple(i), p, _cfg_from(c), line) for n, i, p, c, line in mods],
        [_call_from(c) for c in calls],
        [_macro_from(m) for m in macros],
        int(others),
    )


def _to_cache(path: Any, value: Any, rows: Callable[[Any], tuple[Any, ...]]) -> None:
    from allocpolicy.usercache import save

    try:
        save(path, (_CACHE_FORMAT, rows(value)))
    except _Unkeepable:
        return


def _from_cache(path: Any, build: Callable[[Any], Any]) -> Any:
    from allocpolicy.usercache import load

    cached = load(path)
    if cached is None:
        return None
    try:
        version, rows = cached
        if version != _CACHE_FORMAT:
            return None
        return build(rows)
    except (ValueError, TypeError, CfgError):
        return None


def scan_rust_source(data: bytes) -> RustSource:
    """All `#[global_allocator]` statics in one Rust file; never raises."""
    if not might_declare_allocator(data):
        return RustSource([], None)
    data = _strip_bom(data)
    prefix = _prefix(data)
    if prefix is not None:
        quick = _scan(prefix)
        if _trustworthy(quick):
            return quick
    return _scan(data)


def scan_module_items(data: bytes) -> ModuleItems:
    """Item-level `mod` declarations, macro calls and macro definitions; never raises."""
    data = _strip_bom(data)
    try:
        root = _parse(data)
        scanner = _ItemScanner(data, root)
        scanner.container(root, _Ctx((), ()))
        return ModuleItems(scanner.mods, scanner.calls, scanner.macros, scanner.others)
    except RecursionError:
        return ModuleItems()


def _prefix(data: bytes) -> bytes | None:
    """The file up to the end of the line of the last static's `;`.

    Parsing is the cost of a scan, and statics sit near the top, after the `use`
    block; the rest of a main.rs is function bodies that cannot change the answer.
    """
    last = data.rfind(_NEEDLE)
    semi = data.find(b";", last)
    end = data.find(b"\n", semi) if semi >= 0 else -1
    if end < 0 or end > len(data) * 0.7 or b"cfg_if" in data or b"macro_rules" in data:
        return None
    return data[: end + 1]


def _trustworthy(result: RustSource) -> bool:
    """A prefix result stands unless something might lie beyond it (a `use` after the static)."""
    if result.parse_error is not None or not result.allocators:
        return False
    return all("::" in a.type_text or a.resolved != a.type_text for a in result.allocators)


def _scan(data: bytes) -> RustSource:
    try:
        root = _parse(data)
        scanner = _Scanner(data, root)
        scanner.descend(root, _Ctx((), ()))
        return RustSource([g for g, _ in scanner.found], scanner.parse_error(), scanner.macros)
    except RecursionError:
        # Pathologically deep nesting: say so instead of crashing the scan.
        return RustSource([], (1, "source nested too deeply to analyse"))


# -- where a fix should insert a new item ----------------------------------------

_HEADER_KINDS = frozenset({"inner_attribute_item", "use_declaration", "extern_crate_declaration"})


def _is_inner_doc(node: Node) -> bool:
    return any(c.type == "inner_doc_comment_marker" for c in node.children)


def _is_header(node: Node) -> bool:
    if node.type in _HEADER_KINDS:
        return True
    # `mod x;` (out-of-line) belongs to the header; `mod x { ... }` does not.
    return node.type == "mod_item" and node.child_by_field_name("body") is None


def insertion_line(data: bytes) -> int:
    """1-based line before which a new top-level item should be inserted.

    That is after leading inner attributes, inner doc comments and the run of
    `use` / `extern crate` / `mod x;` items at the start of the file.  A
    licence header comment separated from the code by a blank line is kept
    above the insertion too.  May be one past the last line (append).

    Kept by content like the scans: every scan that shows an "add the static" fix
    asks again, and the parse was a fifth of a 3000-service scan's fix time.
    """
    path = _cache_path("insertion", data)
    cached = _from_cache(path, _line_number)
    if cached is not None:
        return int(cached)
    line = _insertion_line(data)
    _to_cache(path, line, lambda n: n)
    return line


def _line_number(row: Any) -> int:
    if type(row) is not int or row < 1:
        raise TypeError("not a line number")
    return row


def _insertion_line(data: bytes) -> int:
    data = _strip_bom(data)
    try:
        root = _parse(data)
    except Exception:
        return 1
    last_row = -1  # 0-based row of the last header element
    seen_code = False
    for child in root.children:
        if child.type in _COMMENTS:
            if _is_inner_doc(child):
                last_row = _last_row(child)
            elif not seen_code and _blank_line_follows(data, child):
                last_row = _last_row(child)  # licence/header block
            continue
        seen_code = True
        if child.type == "attribute_item":
            continue  # belongs to the next item: included only if that is a header
        if not _is_header(child):
            break
        last_row = _last_row(child)
    return last_row + 2


def _blank_line_follows(data: bytes, node: Node) -> bool:
    end = node.end_byte
    nl = data.find(b"\n", end - 1 if data[end - 1 : end] == b"\n" else end)
    if nl < 0:
        return False
    nxt = data.find(b"\n", nl + 1)
    following = data[nl + 1 : nxt if nxt >= 0 else len(data)]
    return not following.strip()
