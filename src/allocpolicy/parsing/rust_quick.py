"""The common shape of a `#[global_allocator]`, read without tree-sitter.

Loading tree-sitter's Rust grammar costs more than the rest of a one-service scan,
and nearly every file that declares an allocator looks the same: a header of
`use`/`extern crate`/`mod x;` lines and comments, then

    #[cfg(target_env = "musl")]          (optional)
    #[global_allocator]
    static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

`quick_scan` accepts exactly that shape, line by line, and returns None for
anything else (block comments, strings, file-level `#![cfg]`, glob imports,
statics inside items, suppression comments...), which then goes to the
tree-sitter scanner. tests/parsing/test_rust_quick.py checks both agree.
"""

from __future__ import annotations

import re

from allocpolicy.parsing.cfg import CfgError, conj, parse_cfg
from allocpolicy.parsing.rust import GlobalAllocator, RustSource

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_PATH = rf"(?:::)?{_IDENT}(?:::{_IDENT})*"
_USE = re.compile(r"(?:pub(?:\([a-z ]+\))?\s+)?use\s+(?P<body>[\w:{}, \t]+?)\s*;")
_EXTERN = re.compile(rf"extern\s+crate\s+(?P<name>{_IDENT})(?:\s+as\s+(?P<alias>{_IDENT}))?\s*;")
_MOD = re.compile(rf"(?:pub(?:\([a-z ]+\))?\s+)?mod\s+(?P<name>{_IDENT})\s*;")
_ATTR = re.compile(r"#\[\s*(?P<body>[^\[\]]*)\]")
_STATIC = re.compile(
    rf"(?:pub(?:\([a-z ]+\))?\s+)?static\s+(?P<name>{_IDENT})\s*:\s*(?P<type>{_PATH})\s*=\s*{_PATH}\s*;\s*(?://[^\n]*)?"
)
_UNSAFE = ("/*", "*/", '"""', "r#", "#![", "cfg_if", "allocpolicy:", "macro_rules", "'")


def quick_scan(data: bytes) -> RustSource | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(s in text for s in _UNSAFE):
        return None
    return _Reader(text.splitlines()).read()


class _Reader:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.aliases: dict[str, tuple[str, ...]] = {}
        self.modules: set[str] = set()
        self.found: list[GlobalAllocator] = []

    def read(self) -> RustSource | None:
        i, attrs = 0, []
        while i < len(self.lines):
            line = self.lines[i].strip()
            if not line or line.startswith("//"):
                if attrs:
                    return None  # a comment inside an attribute block: leave it to tree-sitter
                i += 1
            elif line.startswith("#["):
                attrs.append(i)
                i += 1
            elif attrs:
                if not self._static(attrs, i):
                    return None
                attrs, i = [], i + 1
            else:
                i = self._header(i)
                if i < 0:
                    return None
        return RustSource(self.found, None) if self.found and not attrs else None

    def _header(self, i: int) -> int:
        """Consume one `use`/`extern crate`/`mod x;` statement; -1 for anything else."""
        j, text = i, self.lines[i].strip()
        while (
            not text.endswith(";")
            and j + 1 < len(self.lines)
            and text.startswith(("use ", "pub use "))
        ):
            j += 1
            text += " " + self.lines[j].strip()
        if m := _USE.fullmatch(text):
            return j + 1 if self._use(m.group("body")) else -1
        if m := _EXTERN.fullmatch(text):
            self.aliases[m.group("alias") or m.group("name")] = (m.group("name"),)
            return j + 1
        if m := _MOD.fullmatch(text):
            self.modules.add(m.group("name"))
            return j + 1
        return -1

    def _use(self, body: str) -> bool:
        body = re.sub(r"\s+", " ", body).strip()
        if "*" in body or body.count("{") > 1 or body.startswith(("self", "super", "crate")):
            return False
        if "{" in body:
            head, _, rest = body.partition("{")
            if not head.endswith("::") or not rest.endswith("}"):
                return False
            prefix = _segments(head)
            return all(
                self._bind(prefix, item.strip()) for item in rest[:-1].split(",") if item.strip()
            )
        return self._bind((), body)

    def _bind(self, prefix: tuple[str, ...], item: str) -> bool:
        path, _, alias = item.partition(" as ")
        segs = prefix + _segments(path)
        if not segs or "self" in segs:
            return False
        if segs[0] in self.aliases and not path.strip().startswith("::"):
            segs = self.aliases[segs[0]] + segs[1:]  # `use mimalloc as mi; use mi::MiMalloc;`
        self.aliases[alias.strip() or segs[-1]] = segs
        return True

    def _static(self, attrs: list[int], i: int) -> bool:
        m = _STATIC.fullmatch(self.lines[i].strip())
        if m is None:
            return False
        gates, ga_line = [], 0
        for a in attrs:
            body = _ATTR.fullmatch(self.lines[a].strip())
            if body is None:
                return False
            inner = body.group("body").strip()
            if inner == "global_allocator":
                ga_line = ga_line or a + 1
            elif inner.startswith("cfg(") and inner.endswith(")"):
                try:
                    gates.append(parse_cfg(inner))
                except CfgError:
                    return False
            else:
                return False
        resolved = self._resolve(m.group("type"))
        if not ga_line or resolved is None:
            return False
        first = attrs[0]
        indent = len(self.lines[first]) - len(self.lines[first].lstrip())
        self.found.append(
            GlobalAllocator(
                static_name=m.group("name"),
                type_text=m.group("type"),
                resolved="::".join(resolved),
                crate=resolved[0],
                cfg=conj(gates),
                line=first + 1,
                column=indent + 1,
                end_line=i + 1,
                attr_line=ga_line,
            )
        )
        return True

    def _resolve(self, type_text: str) -> tuple[str, ...] | None:
        segs = _segments(type_text)
        head = segs[0]
        if type_text.startswith("::"):
            return segs
        if head in self.aliases:
            return self.aliases[head] + segs[1:]
        if len(segs) == 1 or head in self.modules or head in ("self", "super", "crate", "Self"):
            return None  # local types and modules: the full scanner knows the rules
        return segs


def _segments(text: str) -> tuple[str, ...]:
    return tuple(s for s in re.sub(r"\s+", "", text).split("::") if s)
