"""ELF headers, dynamic section and bounded byte ranges, read with pyelftools.

Nothing is executed and nothing is read whole: the headers, the program interpreter,
the dynamic section, and chunks of the sections that carry names (the symbol string
tables) and constant strings (.rodata, .comment), each capped. What the names and
strings mean is decided in allocpolicy.facts.binaries.
"""

from __future__ import annotations

from allocpolicy._record import record

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, BinaryIO

    from elftools.elf.elffile import ELFFile

CHUNK = 1024 * 1024
OVERLAP = 256  # longer than any needle: a match across two chunks is seen in one
MAX_STRINGS_BYTES = 64 * 1024 * 1024  # .rodata and friends scanned per binary
MAX_NAMES_BYTES = 64 * 1024 * 1024  # symbol string tables scanned per binary
DF_1_PIE = 0x08000000
MAX_DYNAMIC_SYMBOLS = 500_000  # pyelftools indexes them all to look one up
# pyelftools parses a .gnu.hash table's bloom words and buckets when it builds the section
# (about 0.4 M words a second): a hostile count would take minutes. Linkers size the
# buckets to the symbol count (a few thousand for libc), so 2^18 leaves ample room.
MAX_GNU_HASH_WORDS = 1 << 18

# e_machine -> the names platforms use (OCI's GOARCH spelling comes with image support)
_MACHINES = {
    "EM_X86_64": "x86_64",
    "EM_386": "i386",
    "EM_AARCH64": "aarch64",
    "EM_ARM": "arm",
    "EM_RISCV": "riscv",
    "EM_PPC64": "ppc64",
    "EM_S390": "s390x",
    "EM_LOONGARCH": "loongarch",
    "EM_MIPS": "mips",
}
_STRING_SECTIONS = (".rodata", ".comment", ".data.rel.ro")


class ElfError(Exception):
    """The file starts like an ELF file but is not a well-formed one (AP900)."""


@record(frozen=True)
class ElfHeader:
    elf_class: str  # ELF32 | ELF64
    machine: str  # x86_64, aarch64, ... or pyelftools' EM_* name
    elf_type: str  # ET_EXEC | ET_DYN | ET_REL | ET_CORE
    interpreter: str | None
    needed: tuple[str, ...]
    soname: str | None
    pie: bool  # DT_FLAGS_1 has DF_1_PIE
    sections: tuple[str, ...]
    has_symtab: bool  # .symtab present (not stripped)
    exports_malloc: bool  # .dynsym defines malloc: the loader can bind others' calls to it


@record(frozen=True)
class Section:
    name: str
    kind: str  # SHT_*
    offset: int
    size: int
    link: int


class ElfFile:
    """An open ELF file: its header facts, and bounded reads of its names and strings.

    The section table is parsed once, when opened; the reads below only seek and read
    the stream, so a malformed table is an ElfError at open, not in the middle of a scan.
    """

    def __init__(self, header: ElfHeader, sections: list[Section], stream: BinaryIO, size: int):
        self.header, self.sections, self.stream, self.size = header, sections, stream, size

    def names(self) -> Iterator[bytes]:
        """Chunks of the symbol string tables (.strtab, .dynstr): NUL-separated names."""
        budget = MAX_NAMES_BYTES
        links = sorted({s.link for s in self.sections if s.kind in ("SHT_SYMTAB", "SHT_DYNSYM")})
        for index in links:
            if not 0 < index < len(self.sections) or self.sections[index].kind != "SHT_STRTAB":
                continue
            sec = self.sections[index]
            for chunk in self._read(sec.offset, min(sec.size, budget)):
                budget -= len(chunk)
                yield chunk

    def strings(self) -> Iterator[tuple[str, bytes]]:
        """(section, chunk) of the constant-string sections, at most MAX_STRINGS_BYTES in
        all; the file's start when it has no section headers (sstrip'ed)."""
        budget = MAX_STRINGS_BYTES
        if not self.sections:
            yield from (("(file)", c) for c in self._read(0, min(self.size, budget)))
            return
        for sec in self._string_sections():
            if budget <= 0:
                return
            for chunk in self._read(sec.offset, min(sec.size, budget)):
                budget -= len(chunk)
                yield sec.name, chunk

    @property
    def strings_truncated(self) -> bool:
        """Whether the string sections are longer than what strings() reads."""
        total = sum(s.size for s in self._string_sections()) if self.sections else self.size
        return total > MAX_STRINGS_BYTES

    def _string_sections(self) -> list[Section]:
        return [s for s in self.sections if _is_string_section(s.name, s.kind)]

    def _read(self, offset: int, length: int) -> Iterator[bytes]:
        """Chunks of [offset, offset+length) within the file, each starting OVERLAP bytes
        before the previous one's end."""
        end = min(offset + max(length, 0), self.size)
        pos = offset
        while pos < end:
            start = max(pos - OVERLAP, offset)
            self.stream.seek(start)
            data = self.stream.read(min(pos + CHUNK, end) - start)
            if not data:
                return
            yield data
            pos += CHUNK


def _is_string_section(name: str, kind: str) -> bool:
    if kind == "SHT_NOBITS":
        return False
    return any(name == n or name.startswith(n + ".") for n in _STRING_SECTIONS)


def read_elf(stream: BinaryIO, size: int) -> ElfFile:
    """The ELF file in `stream` (seekable, `size` bytes); ElfError when malformed."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(stream)
        headers = _section_headers(elf)
        sections = [
            Section(
                str(elf._get_section_name(sh)),
                str(sh["sh_type"]),
                int(sh["sh_offset"]),
                int(sh["sh_size"]),
                int(sh["sh_link"]),
            )
            for sh in headers
        ]
        return ElfFile(_header(elf, headers, sections), sections, stream, size)
    except ElfError:
        raise
    except ELFError as exc:
        raise ElfError(f"not a valid ELF file: {exc}") from None
    except (ValueError, KeyError, IndexError, AssertionError, UnicodeDecodeError) as exc:
        raise ElfError(f"not a valid ELF file: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # construct's StreamError and friends: any parse failure
        if is_io_error(exc):
            raise
        raise ElfError(f"not a valid ELF file: {type(exc).__name__}: {exc}") from None


def is_io_error(exc: BaseException) -> bool:
    """A failure of the file, not of its content: a seek to an offset no file has (EINVAL,
    from a corrupted table) is the content's."""
    import errno

    return isinstance(exc, OSError) and exc.errno != errno.EINVAL


def _header(elf: ELFFile, headers: list[Any], sections: list[Section]) -> ElfHeader:
    from elftools.elf.segments import InterpSegment

    interpreter = None
    for seg in elf.iter_segments():
        if isinstance(seg, InterpSegment):
            interpreter = seg.get_interp_name()
    needed: list[str] = []
    soname = None
    flags_1 = 0
    exports = False
    built = _built(elf, headers)
    for sec in built.get("SHT_DYNSYM", []):
        exports = exports or _defines(built.get("SHT_GNU_HASH", []), elf, sec, "malloc")
    for sec in built.get("SHT_DYNAMIC", []):
        for tag in sec.iter_tags():
            kind = tag.entry.d_tag
            if kind == "DT_NEEDED":
                needed.append(str(getattr(tag, "needed", "")))  # set by pyelftools per tag
            elif kind == "DT_SONAME":
                soname = str(getattr(tag, "soname", ""))
            elif kind == "DT_FLAGS_1":
                flags_1 = int(tag.entry.d_val)
    names = tuple(s.name for s in sections)
    machine = str(elf["e_machine"])
    return ElfHeader(
        elf_class=f"ELF{elf.elfclass}",
        machine=_MACHINES.get(machine, machine),
        elf_type=str(elf["e_type"]),
        interpreter=interpreter,
        needed=tuple(needed),
        soname=soname,
        pie=bool(flags_1 & DF_1_PIE),
        sections=names,
        has_symtab=".symtab" in names,
        exports_malloc=exports,
    )


def _defines(gnu_hash: list[Any], elf: ELFFile, dynsym: Any, name: str) -> bool:
    """Whether the dynamic symbol table defines `name` (not only imports it).

    Through the GNU hash table when there is one, as the loader looks it up: a few reads,
    where pyelftools' name map parses every symbol (29 of 32 s of a 1 GB image with 61
    system binaries). Else the map, capped."""
    if gnu_hash:
        return _gnu_defines(elf, gnu_hash[0], dynsym, name)
    if dynsym.num_symbols() > MAX_DYNAMIC_SYMBOLS:
        return False
    found = dynsym.get_symbol_by_name(name) or []
    return any(sym["st_shndx"] != "SHN_UNDEF" for sym in found)


def _gnu_defines(elf: ELFFile, table: Any, dynsym: Any, name: str) -> bool:
    """The GNU hash lookup (bucket, then the chain until its end bit), bounded by the
    symbol count: pyelftools' own lookup follows a chain without an end bit to EOF.
    Only defined symbols are hashed (imports sit below `symoffset`)."""
    import struct

    p = table.params
    h = table.gnu_hash(name)
    if not p["nbuckets"]:
        return False
    index = int(p["buckets"][h % p["nbuckets"]])
    offset = int(p["symoffset"])
    if index < offset:
        return False
    # the chain follows the 4-word header, the bloom words and the buckets
    chain = table["sh_offset"] + 16 + p["bloom_size"] * (elf.elfclass // 8) + 4 * p["nbuckets"]
    fmt = "<I" if elf.little_endian else ">I"
    stream = elf.stream
    for i in range(index, dynsym.num_symbols()):
        stream.seek(chain + 4 * (i - offset))
        word = stream.read(4)
        if len(word) < 4:
            return False
        value = struct.unpack(fmt, word)[0]
        if value | 1 == h | 1:
            sym = dynsym.get_symbol(i)
            if sym.name == name:
                return bool(sym["st_shndx"] != "SHN_UNDEF")
        if value & 1:
            return False
    return False


# the sections the header facts read; pyelftools builds the others (hash tables, notes,
# relocations) by parsing them whole, which a hostile count makes slow: never built
_BUILT = ("SHT_DYNSYM", "SHT_DYNAMIC", "SHT_GNU_HASH")


def _section_headers(elf: ELFFile) -> list[Any]:
    """The raw section headers (no section object is built from them)."""
    return [elf._get_section_header(i) for i in range(elf.num_sections())]


def _built(elf: ELFFile, headers: list[Any]) -> dict[str, list[Any]]:
    """pyelftools' objects for the sections in _BUILT, by type."""
    out: dict[str, list[Any]] = {}
    for i, sh in enumerate(headers):
        kind = str(sh["sh_type"])
        if kind in _BUILT:
            if kind == "SHT_GNU_HASH":
                _check_gnu_hash(elf, sh)
            out.setdefault(kind, []).append(elf.get_section(i))
    return out


def _check_gnu_hash(elf: ELFFile, sh: Any) -> None:
    """Refuse a .gnu.hash whose header claims more words than its section holds or than
    any linker writes, before pyelftools parses them all."""
    import struct

    elf.stream.seek(int(sh["sh_offset"]))
    head = elf.stream.read(16)
    if len(head) < 16:
        raise ElfError("not a valid ELF file: .gnu.hash lies past the end of the file")
    nbuckets, _, bloom, _ = struct.unpack("<4I" if elf.little_endian else ">4I", head)
    held = 16 + bloom * (elf.elfclass // 8) + 4 * nbuckets
    if nbuckets + bloom > MAX_GNU_HASH_WORDS or held > int(sh["sh_size"]):
        raise ElfError(
            f"not a valid ELF file: .gnu.hash claims {nbuckets} buckets and {bloom} bloom "
            "words, more than its section holds or any linker writes"
        )
