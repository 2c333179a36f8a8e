"""ELF reading and the facts of real binaries (fetched by tests/real_binaries.py).

The expected values were read off the binaries with readelf -h/-l/-d/-S, nm and
strings, not from this tool's output.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import real_binaries as rb

from allocpolicy.facts.binaries import BinaryFacts, describe
from allocpolicy.parsing import elf as elf_mod
from allocpolicy.parsing.elf import ElfError, read_elf


def facts(path: Path) -> BinaryFacts:
    with path.open("rb") as f:
        return describe(path.name, read_elf(f, path.stat().st_size))


def test_ruff_musl_wheel_is_a_stripped_static_pie_musl_rust_binary_with_jemalloc(
    ruff_musl: Path,
) -> None:
    # readelf: Type DYN, FLAGS_1 "NOW PIE", no INTERP, no NEEDED, no .symtab;
    # strings: musl's strerror table, /rustc/<commit>/library/, <jemalloc>: messages
    with ruff_musl.open("rb") as f:
        h = read_elf(f, ruff_musl.stat().st_size).header
    assert (h.elf_class, h.machine, h.elf_type) == ("ELF64", "x86_64", "ET_DYN")
    assert h.pie and h.interpreter is None and h.needed == () and not h.has_symtab
    b = facts(ruff_musl)
    assert (b.linkage, b.libc, b.rust, b.allocator) == ("static-pie", "musl", True, "jemalloc")
    assert b.elf_type == "executable" and b.stripped and not b.preload_target
    assert b.allocator_confidence == "medium"  # strings, no symbols
    assert any("<jemalloc>: " in e for e in b.evidence)
    assert any("/rustc/" in e for e in b.evidence)
    assert any("No error information" in e for e in b.evidence)


def test_ruff_manylinux_wheel_is_a_dynamic_glibc_rust_binary_with_jemalloc(
    ruff_gnu: Path,
) -> None:
    # readelf -l: "Requesting program interpreter: /lib64/ld-linux-x86-64.so.2"; -d: six NEEDED
    b = facts(ruff_gnu)
    assert b.linkage == "dynamic" and b.libc == "glibc"
    assert b.interpreter == "/lib64/ld-linux-x86-64.so.2"
    assert b.needed == [
        "libgcc_s.so.1",
        "librt.so.1",
        "libpthread.so.0",
        "libm.so.6",
        "libdl.so.2",
        "libc.so.6",
    ]
    assert (b.rust, b.allocator) == (True, "jemalloc")


def test_cargo_hello_world_is_dynamic_glibc_on_the_system_allocator() -> None:
    b = facts(rb.hello(static=False))
    assert (b.linkage, b.libc, b.rust, b.allocator) == ("dynamic", "glibc", True, "system")
    assert "libc.so.6" in b.needed and not b.stripped
    assert b.allocator_confidence == "high"  # every symbol was looked at


def test_crt_static_hello_world_is_static_pie_glibc() -> None:
    # rustc links +crt-static on gnu as static-pie: DYN, FLAGS_1 PIE, no INTERP or NEEDED;
    # nm: _dl_relocate_static_pie, _IO_2_1_stdout_ (glibc's)
    b = facts(rb.hello(static=True))
    assert (b.linkage, b.libc, b.rust, b.allocator) == ("static-pie", "glibc", True, "system")
    assert b.interpreter is None and b.needed == []
    assert any("_dl_relocate_static_pie" in e for e in b.evidence)


def test_biome_musl_npm_binary_is_a_stripped_static_pie_musl_rust_binary_with_jemalloc() -> None:
    # readelf: Type DYN, FLAGS_1 "NOW PIE", no INTERP, no NEEDED, no .symtab, no .dynsym
    # symbols; strings: "No error information" (musl), /rustc/<commit>/library/,
    # "<jemalloc>: " messages and _RJEM_MALLOC_CONF (tikv-jemalloc-sys's prefix)
    b = facts(rb.npm(*rb.BIOME_MUSL))
    assert (b.linkage, b.libc, b.rust, b.allocator) == ("static-pie", "musl", True, "jemalloc")
    assert b.elf_type == "executable" and b.interpreter is None and b.needed == []
    assert b.stripped and b.allocator_confidence == "medium"  # strings, no symbols
    assert any("_RJEM_MALLOC_CONF" in e for e in b.evidence)


def test_biome_gnu_npm_binary_is_a_dynamic_glibc_rust_binary_with_jemalloc() -> None:
    # readelf -l: interpreter /lib64/ld-linux-x86-64.so.2; -d: five NEEDED ending in
    # libc.so.6; nm -D: malloc only imported (malloc@GLIBC_2.2.5), no je_/_rjem_ symbols
    # exported, so the evidence is jemalloc's strings, as in the stripped musl build
    b = facts(rb.npm(*rb.BIOME_GNU))
    assert (b.linkage, b.libc, b.rust, b.allocator) == ("dynamic", "glibc", True, "jemalloc")
    assert b.interpreter == "/lib64/ld-linux-x86-64.so.2"
    assert b.needed == [
        "libgcc_s.so.1",
        "libpthread.so.0",
        "libm.so.6",
        "libdl.so.2",
        "libc.so.6",
    ]
    assert b.elf_type == "executable" and not b.preload_target


@pytest.mark.parametrize(
    ("package", "family", "soname", "needed"),
    [
        (rb.LIBJEMALLOC, "jemalloc", "libjemalloc.so.2", "libstdc++.so.6"),
        (rb.LIBMIMALLOC, "mimalloc", "libmimalloc.so.2", "libc.so.6"),
    ],
)
def test_debian_allocator_libraries_are_preload_targets(
    package: tuple[str, str, str], family: str, soname: str, needed: str
) -> None:
    b = facts(rb.deb(*package))
    assert b.elf_type == "shared-object" and b.preload_target
    assert (b.soname, b.allocator, b.rust, b.libc) == (soname, family, False, "glibc")
    assert needed in b.needed and b.linkage == "dynamic"


@pytest.mark.parametrize(
    ("package", "libc", "libc_needed"),
    [(rb.OXLINT_GNU, "glibc", "libc.so.6"), (rb.OXLINT_MUSL, "musl", "libc.so")],
)
def test_oxlint_node_addons_are_rust_shared_objects_linking_mimalloc(
    package: tuple[str, str, str], libc: str, libc_needed: str
) -> None:
    # readelf: Type DYN, no INTERP, FLAGS_1 without PIE, no .symtab; .comment "rustc
    # version 1.93.0"; strings: "mimalloc: ", "mimalloc_%s"; nm -D: malloc only imported
    b = facts(rb.npm(*package))
    assert b.elf_type == "shared-object" and b.linkage == "dynamic" and b.stripped
    assert (b.libc, b.rust, b.allocator) == (libc, True, "mimalloc")
    assert libc_needed in b.needed and b.interpreter is None
    # mimalloc is its Rust global allocator, not a malloc others could be bound to
    assert not b.preload_target


@pytest.mark.parametrize(
    "data",
    [
        b"\x7fELF",
        b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\xff" * 48,
        b"\x7fELF\x09\x09\x09" + b"\x00" * 100,
    ],
)
def test_a_malformed_elf_is_an_elf_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bad"
    path.write_bytes(data)
    with pytest.raises(ElfError, match="not a valid ELF file"), path.open("rb") as f:
        describe("bad", read_elf(f, len(data)))


def test_a_truncated_real_binary_is_an_elf_error_not_a_crash(tmp_path: Path) -> None:
    whole = rb.hello(static=False).read_bytes()
    path = tmp_path / "cut"
    path.write_bytes(whole[:4096])  # the headers, none of the sections they describe
    with pytest.raises(ElfError), path.open("rb") as f:
        describe("cut", read_elf(f, 4096))


def test_string_reads_stop_at_the_cap(ruff_musl: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(elf_mod, "MAX_STRINGS_BYTES", 3 * elf_mod.CHUNK)
    with ruff_musl.open("rb") as f:
        elf = read_elf(f, ruff_musl.stat().st_size)
        read = sum(len(chunk) for _, chunk in elf.strings())
        assert elf.strings_truncated
    # at most the cap plus each chunk's overlap with the one before
    assert read <= 3 * elf_mod.CHUNK + 3 * elf_mod.OVERLAP


def test_corrupted_headers_give_facts_or_an_elf_error_never_a_crash(tmp_path: Path) -> None:
    import random

    whole = bytearray(rb.hello(static=False).read_bytes())
    shoff = int.from_bytes(whole[0x28:0x30], "little")  # e_shoff of an ELF64 LE file
    regions = [(0, 0x40), (0x40, 0x300), (shoff, len(whole))]  # ELF, program, section headers
    for seed in range(150):
        rnd = random.Random(seed)
        data = bytearray(whole)
        start, end = regions[seed % len(regions)]
        for _ in range(rnd.randint(1, 8)):
            data[rnd.randrange(start, end)] = rnd.randrange(256)
        path = tmp_path / "mutant"
        path.write_bytes(data)
        with path.open("rb") as f:
            try:
                describe("mutant", read_elf(f, len(data)))
            except ElfError:
                pass


def _dynsym_lookups(path: Path, names: tuple[str, ...]) -> list[tuple[str, bool, bool]]:
    """(name, our hashed lookup, pyelftools' full name map) for each name."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    out = []
    with path.open("rb") as f:
        elf = ELFFile(f)
        raw = list(elf.iter_sections())
        for sec in raw:
            if isinstance(sec, SymbolTableSection) and sec["sh_type"] == "SHT_DYNSYM":
                for name in names:
                    full = any(
                        s["st_shndx"] != "SHN_UNDEF" for s in sec.get_symbol_by_name(name) or []
                    )
                    gnu_hash = [s for s in raw if s["sh_type"] == "SHT_GNU_HASH"]
                    out.append((name, elf_mod._defines(gnu_hash, elf, sec, name), full))
    return out


NAMES = ("malloc", "free", "mi_malloc", "je_malloc", "mallocx", "no_such_symbol_xyz")


@pytest.mark.parametrize(
    "get",
    [
        lambda: rb.deb(*rb.LIBJEMALLOC),
        lambda: rb.deb(*rb.LIBMIMALLOC),
        lambda: rb.hello(static=False),
        lambda: rb.npm(*rb.BIOME_GNU),
        lambda: rb.npm(*rb.OXLINT_GNU),
    ],
    ids=["libjemalloc", "libmimalloc", "hello", "biome-gnu", "oxlint-gnu"],
)
def test_the_hashed_malloc_lookup_agrees_with_the_full_symbol_map(get: Callable[[], Path]) -> None:
    # the GNU hash lookup replaced pyelftools' map of every symbol (29 of 32 s on a
    # 1 GB image); it must answer as the map does, defined and imported names alike
    lookups = _dynsym_lookups(get(), NAMES)
    assert lookups and all(ours == full for _, ours, full in lookups), lookups


def test_a_gnu_hash_chain_without_an_end_bit_ends_at_the_symbol_count(tmp_path: Path) -> None:
    # a hostile .gnu.hash: every chain word even (no end bit) and not matching, so a
    # lookup that trusts the table walks to the end of the file; ours stops at nsyms
    import struct

    from elftools.elf.elffile import ELFFile
    from elftools.elf.hash import GNUHashSection

    data = bytearray(rb.deb(*rb.LIBJEMALLOC).read_bytes())
    with (tmp_path / "orig").open("wb") as f:
        f.write(data)
    with (tmp_path / "orig").open("rb") as f:
        elf = ELFFile(f)
        (table,) = [s for s in elf.iter_sections() if isinstance(s, GNUHashSection)]
        p = table.params
        chain = table["sh_offset"] + 16 + p["bloom_size"] * 8 + 4 * p["nbuckets"]
        end = table["sh_offset"] + table["sh_size"]
    for off in range(chain, end, 4):
        struct.pack_into("<I", data, off, 2)  # even: never the last; never a name's hash
    bad = tmp_path / "libbad.so"
    bad.write_bytes(bytes(data))
    b = facts(bad)
    assert not b.preload_target  # malloc is not found through the broken table


@pytest.mark.parametrize("nbuckets", [100_000, 4_000_000])
def test_a_gnu_hash_claiming_more_buckets_than_it_holds_is_refused(
    tmp_path: Path, nbuckets: int
) -> None:
    # pyelftools parses every bucket when it builds the section: 4 M buckets over a
    # padded file took 10 s (512 MiB, the member cap, would take minutes); the header
    # is checked against its section before anything is parsed
    import struct

    from elftools.elf.elffile import ELFFile

    src = rb.deb(*rb.LIBJEMALLOC).read_bytes()
    with (tmp_path / "orig").open("wb") as f:
        f.write(src)
    with (tmp_path / "orig").open("rb") as f:
        offset = ELFFile(f).get_section_by_name(".gnu.hash")["sh_offset"]
    data = bytearray(src) + bytes(4 * nbuckets)  # room for the array: only its size is wrong
    struct.pack_into("<I", data, offset, nbuckets)
    bad = tmp_path / "libbad.so"
    bad.write_bytes(bytes(data))
    with bad.open("rb") as f, pytest.raises(ElfError, match=r"\.gnu\.hash claims"):
        read_elf(f, len(data))
