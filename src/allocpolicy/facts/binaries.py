"""What an ELF binary is, from its headers, names and strings: linkage, libc, Rust, allocator.

Every conclusion carries its evidence (the interpreter, a DT_NEEDED entry, a symbol, a
string and the section it is in), so a reader can check it with readelf or strings.
Symbols decide when the binary has them; a stripped binary is judged by the strings
its libraries leave in .rodata (jemalloc's `<jemalloc>:` messages, mimalloc's
`mimalloc: ` ones, the `/rustc/<commit>/library/` paths of Rust's panic locations).
"""

from __future__ import annotations

import re

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import field, record

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

    from allocpolicy.parsing.elf import ElfFile

FAMILIES = ("mimalloc", "jemalloc", "tcmalloc", "snmalloc")

# Whole symbol names (NUL-delimited in the string tables). Group name = what it proves.
_NAMES = lazy_re(
    rb"\x00(?:"
    rb"(?P<rust>[^\x00]*(?:rust_begin_unwind|__rust_alloc|__rg_alloc|__rust_start_panic)[^\x00]*"
    rb"|_ZN[^\x00]*17h[0-9a-f]{16}E|_RN[vtCs][^\x00]*)"
    rb"|(?P<mimalloc>mi_malloc|mi_free|mi_heap_[a-z_]+|_mi_[a-z_]+|mi_option_[a-z_]+)"
    rb"|(?P<jemalloc>_rjem_[A-Za-z_]+|je_[a-z_]+|mallocx|rallocx|sallocx|nallocx|malloc_conf)"
    rb"|(?P<tcmalloc>tc_malloc|tc_free|_ZN8tcmalloc[^\x00]*)"
    rb"|(?P<snmalloc>sn_rust_alloc|[^\x00]*8snmalloc[^\x00]*)"
    rb"|(?P<glibc>_IO_2_1_stdout_|__libc_setup_tls|_dl_relocate_static_pie)"
    rb"|(?P<musl>__init_libc|__libc_start_init|__stdio_write|__simple_malloc|__malloc_donate)"
    rb")(?=\x00)"
)
# Constant strings the libraries print or parse: (group, literal, the whole marker when
# the literal is only its start). Literals are found with bytes.find (memchr), which on
# a few MiB of .rodata is ten times faster than one regex alternation.
_STRINGS: tuple[tuple[str, bytes, re.Pattern[bytes] | None], ...] = (
    ("rust", b"/rustc/", re.compile(rb"/rustc/[0-9a-f]{40}/library/")),
    ("rust", b"rustc version ", re.compile(rb"rustc version [0-9][0-9.]*")),
    ("mimalloc", b"mimalloc: ", None),
    ("mimalloc", b"mimalloc_%s", None),
    ("jemalloc", b"<jemalloc>: ", None),
    ("jemalloc", b"_RJEM_MALLOC_CONF", None),
    ("tcmalloc", b"TCMALLOC_", re.compile(rb"TCMALLOC_[A-Z_]+")),
    ("tcmalloc", b"tcmalloc: ", None),
    ("snmalloc", b"snmalloc", None),
    ("glibc", b"GLIBC_TUNABLES", None),
    ("glibc", b"Fatal glibc error", None),
    # musl's strerror table: glibc words these "Success"/"Numerical result out of range"
    ("musl", b"No error information\x00Illegal byte sequence", None),
)
_MAX_TRIES = 64  # occurrences of a literal checked against its whole marker, per chunk
_PRELOADABLE = lazy_re(r"lib(mimalloc|jemalloc|tcmalloc(?:_minimal)?|snmallocshim\w*)[.-]")
_MAX_EVIDENCE = 3  # per kind of marker: enough to check, short enough to read


@record
class BinaryFacts:
    """One ELF binary of an artifact, as the JSON contract reports it."""

    path: str
    elf_class: str
    machine: str
    elf_type: str  # executable | shared-object
    linkage: str  # static | static-pie | dynamic
    libc: str  # musl | glibc | none | unknown
    interpreter: str | None
    needed: list[str]
    soname: str | None
    rust: bool | None
    allocator: str  # mimalloc | jemalloc | tcmalloc | snmalloc | system | unknown
    allocator_confidence: str  # high | medium | low
    stripped: bool
    preload_target: bool  # a shared object that is an allocator: what LD_PRELOAD names
    evidence: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "type": self.elf_type,
            "class": self.elf_class,
            "machine": self.machine,
            "linkage": self.linkage,
            "libc": self.libc,
            "interpreter": self.interpreter,
            "needed": self.needed,
            "soname": self.soname,
            "rust": self.rust,
            "allocator": self.allocator,
            "allocator_confidence": self.allocator_confidence,
            "stripped": self.stripped,
            "preload_target": self.preload_target,
            "evidence": self.evidence,
            "preload": None,
        }


@record
class _Markers:
    """Markers found, per group, each with the evidence lines that show it."""

    found: dict[str, list[str]] = field(default_factory=dict)

    def add(self, group: str, line: str) -> None:
        lines = self.found.setdefault(group, [])
        if line not in lines and len(lines) < _MAX_EVIDENCE:
            lines.append(line)

    def has(self, group: str) -> bool:
        return group in self.found


def is_binary(elf: ElfFile) -> bool:
    """Executables and shared objects; object files and core dumps are not what ships."""
    return elf.header.elf_type in ("ET_EXEC", "ET_DYN")


def describe(path: str, elf: ElfFile) -> BinaryFacts:
    """The facts of one ELF binary (the caller turns an ElfError into AP900)."""
    h = elf.header
    markers = _scan(elf)
    linkage = _linkage(elf)
    shared = h.elf_type == "ET_DYN" and not h.pie and (h.soname is not None or not h.interpreter)
    evidence: list[str] = []
    libc = _libc(elf, linkage, markers, evidence)
    rust = _rust(elf, markers, evidence)
    allocator, confidence = _allocator(elf, markers, evidence)
    return BinaryFacts(
        path=path,
        elf_class=h.elf_class,
        machine=h.machine,
        elf_type="shared-object" if shared else "executable",
        linkage=linkage,
        libc=libc,
        interpreter=h.interpreter,
        needed=list(h.needed),
        soname=h.soname,
        rust=rust,
        allocator=allocator,
        allocator_confidence=confidence,
        stripped=not h.has_symtab,
        # an allocator library that defines malloc: what LD_PRELOAD names. A Rust cdylib
        # that links mimalloc as its global allocator (oxlint's .node) defines none
        preload_target=shared and allocator in FAMILIES and h.exports_malloc,
        evidence=evidence,
    )


def _scan(elf: ElfFile) -> _Markers:
    markers = _Markers()
    for chunk in elf.names():
        for m in _NAMES.finditer(b"\x00" + chunk + b"\x00"):
            group = m.lastgroup or ""
            markers.add(group, f"symbol {_show(m.group(group))}")
    for section, chunk in elf.strings():
        for group, literal, whole in _STRINGS:
            found = _find(chunk, literal, whole)
            if found is not None:
                markers.add(group, f"string {_show(found)!r} in {section}")
    if ".rustc" in elf.header.sections:
        markers.add("rust", "section .rustc")
    return markers


def _find(chunk: bytes, literal: bytes, whole: re.Pattern[bytes] | None) -> bytes | None:
    """The first occurrence of the marker in the chunk, or None."""
    at = chunk.find(literal)
    for _ in range(_MAX_TRIES):
        if at < 0:
            return None
        if whole is None:
            return literal
        m = whole.match(chunk, at)
        if m:
            return m.group(0)
        at = chunk.find(literal, at + 1)
    return None


def _show(raw: bytes) -> str:
    text = raw.replace(b"\x00", b" ").decode("ascii", "replace")
    return text if len(text) <= 80 else text[:77] + "..."


def _linkage(elf: ElfFile) -> str:
    h = elf.header
    if h.interpreter:
        return "dynamic"
    if h.elf_type == "ET_EXEC":
        return "static"
    # ET_DYN without a loader: a static-pie executable, or a shared object (its
    # DT_NEEDED or SONAME says so) that the loader of the program using it maps
    if h.pie or (not h.needed and h.soname is None):
        return "static-pie"
    return "dynamic"


def _libc(elf: ElfFile, linkage: str, markers: _Markers, evidence: list[str]) -> str:
    h = elf.header
    interp = (h.interpreter or "").rsplit("/", 1)[-1]
    if interp.startswith("ld-musl-"):
        evidence.append(f"interpreter {h.interpreter} (musl's loader)")
        return "musl"
    if interp.startswith(("ld-linux", "ld64.so", "ld.so")):
        evidence.append(f"interpreter {h.interpreter} (glibc's loader)")
        return "glibc"
    for name in h.needed:
        if name.startswith("libc.musl-") or name == "libc.so":
            evidence.append(f"DT_NEEDED {name} (musl)")
            return "musl"
        if name == "libc.so.6":
            evidence.append(f"DT_NEEDED {name} (glibc)")
            return "glibc"
    if linkage == "dynamic":
        return "none" if not h.interpreter else "unknown"
    for libc in ("musl", "glibc"):
        if markers.has(libc):
            evidence += [f"{line} ({libc})" for line in markers.found[libc]]
            return libc
    if any(s in h.sections for s in (".go.buildinfo", ".note.go.buildid")):
        evidence.append("a Go binary (.go.buildinfo): no libc")
        return "none"
    return "unknown"


def _rust(elf: ElfFile, markers: _Markers, evidence: list[str]) -> bool | None:
    if markers.has("rust"):
        evidence += [f"Rust: {line}" for line in markers.found["rust"]]
        return True
    if elf.header.has_symtab or not elf.strings_truncated:
        return False  # every symbol, or every string, was looked at: none is Rust's
    return None


def _allocator(elf: ElfFile, markers: _Markers, evidence: list[str]) -> tuple[str, str]:
    linked = [f for f in FAMILIES if markers.has(f)]
    loaded = []
    for name in elf.header.needed:
        m = _PRELOADABLE.match(name)
        if m:
            loaded.append(_family(m.group(1)))
            evidence.append(f"allocator: DT_NEEDED {name}")
    for family in linked:
        evidence += [f"allocator {family}: {line}" for line in markers.found[family]]
    families = sorted(set(linked) | set(loaded), key=FAMILIES.index)
    if len(families) == 1:
        by_symbol = any(line.startswith("symbol") for line in markers.found.get(families[0], []))
        return families[0], "high" if by_symbol or loaded else "medium"
    if families:
        evidence.append(f"allocator: several allocators linked ({', '.join(families)})")
        return "unknown", "low"
    if elf.header.has_symtab:
        return "system", "high"
    if not elf.strings_truncated:
        return "system", "medium"  # stripped: no allocator's strings in what was read
    return "unknown", "low"


def _family(name: str) -> str:
    return next(f for f in FAMILIES if name.startswith(f))
