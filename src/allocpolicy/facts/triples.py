"""Rust target triples: musl or not, static or dynamic by default, cfg() facts.

Ground truth: allocator-facts-research.md section 2 (rustc target specs and
``tests/run-make/musl-default-linking/rmake.rs``).  The musl targets in
``LEGACY_STATIC_MUSL`` still default to ``+crt-static``; every other musl target
(riscv64gc, loongarch64, powerpc64, s390x, mips, vendor triples such as
Alpine's ``x86_64-alpine-linux-musl`` ...) now defaults to dynamic linking.
"""

from __future__ import annotations

from allocpolicy._lazyre import lazy_re

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from allocpolicy.parsing.cargo import CargoConfig

__all__ = [
    "LEGACY_STATIC_MUSL",
    "arch_from_platform",
    "candidate_triples",
    "cfg_facts",
    "config_rustflags",
    "crt_static_override",
    "is_musl",
    "links_statically",
    "normalize_triple",
    "triple_for",
    "triple_from_target_path",
]

# rustc's LEGACY_STATIC_LINKING_TARGETS ("Please do NOT add more targets").
LEGACY_STATIC_MUSL: frozenset[str] = frozenset(
    {
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "i686-unknown-linux-musl",
        "i586-unknown-linux-musl",
        "arm-unknown-linux-musleabi",
        "arm-unknown-linux-musleabihf",
        "armv5te-unknown-linux-musleabi",
        "armv7-unknown-linux-musleabi",
        "armv7-unknown-linux-musleabihf",
        "mips64el-unknown-linux-muslabi64",
        "powerpc64le-unknown-linux-musl",
    }
)

# cargo-zigbuild accepts x86_64-unknown-linux-gnu.2.17 (glibc version suffix).
_ZIG_SUFFIX_RE = lazy_re(r"^(?P<triple>.*-gnu[a-z0-9_]*)\.\d+(?:\.\d+)*$")
# Last +crt-static / -crt-static wins, as rustc applies target features in order.
_CRT_STATIC_RE = lazy_re(r"([+-])crt-static\b")

_ARCH_FAMILY: tuple[tuple[str, str], ...] = (
    # (prefix, target_arch); the first matching prefix wins
    ("x86_64", "x86_64"),
    ("i386", "x86"),
    ("i486", "x86"),
    ("i586", "x86"),
    ("i686", "x86"),
    ("aarch64", "aarch64"),
    ("arm64", "aarch64"),
    ("thumb", "arm"),
    ("arm", "arm"),
    ("mips64", "mips64"),
    ("mips", "mips"),
    ("powerpc64", "powerpc64"),
    ("powerpc", "powerpc"),
    ("riscv64", "riscv64"),
    ("riscv32", "riscv32"),
    ("s390x", "s390x"),
    ("loongarch64", "loongarch64"),
    ("sparc64", "sparc64"),
    ("sparc", "sparc"),
    ("wasm32", "wasm32"),
    ("wasm64", "wasm64"),
    ("hexagon", "hexagon"),
)
_BITS_32 = frozenset({"x86", "arm", "mips", "powerpc", "riscv32", "sparc", "wasm32", "hexagon"})
_BIG_ENDIAN_ARCHES = frozenset(
    {"mips", "mips64", "powerpc", "powerpc64", "s390x", "sparc", "sparc64"}
)
_OS_NAMES = frozenset(
    {
        "linux",
        "windows",
        "darwin",
        "macos",
        "ios",
        "android",
        "freebsd",
        "netbsd",
        "openbsd",
        "dragonfly",
        "illumos",
        "solaris",
        "wasi",
        "wasip1",
        "wasip2",
        "fuchsia",
        "redox",
        "hermit",
        "uefi",
        "none",
        "emscripten",
    }
)
_UNIX_OSES = frozenset(
    {
        "linux",
        "macos",
        "ios",
        "android",
        "freebsd",
        "netbsd",
        "openbsd",
        "dragonfly",
        "illumos",
        "solaris",
        "fuchsia",
        "redox",
    }
)
# Docker platform architecture -> Rust triple architecture.
_PLATFORM_ARCH = {
    "amd64": "x86_64",
    "x86_64": "x86_64",
    "arm64": "aarch64",
    "aarch64": "aarch64",
    "arm64/v8": "aarch64",
    "arm/v7": "armv7",
    "arm": "armv7",
    "armhf": "armv7",
    "arm/v6": "arm",
    "arm/v5": "armv5te",
    "386": "i686",
    "i386": "i686",
    "ppc64le": "powerpc64le",
    "s390x": "s390x",
    "riscv64": "riscv64gc",
    "loong64": "loongarch64",
}


def normalize_triple(t: str) -> str:
    """Lower-case, trimmed triple with cargo-zigbuild's glibc suffix removed."""
    t = t.strip().lower()
    m = _ZIG_SUFFIX_RE.match(t)
    return m.group("triple") if m else t


def _env(triple: str) -> str:
    parts = normalize_triple(triple).split("-")
    return parts[-1] if len(parts) >= 3 else ""


def is_musl(triple: str) -> bool:
    """True for any triple whose env component starts with ``musl``."""
    return _env(triple).startswith("musl")


def crt_static_override(rustflags: str) -> bool | None:
    """+crt-static -> True, -crt-static -> False (last one wins), else None."""
    found: list[str] = _CRT_STATIC_RE.findall(rustflags or "")
    if not found:
        return None
    return found[-1] == "+"


def links_statically(triple: str, rustflags: str = "") -> bool:
    """Whether rustc links the C runtime statically for this target by default."""
    override = crt_static_override(rustflags)
    if override is not None:
        return override
    return normalize_triple(triple) in LEGACY_STATIC_MUSL


def _split(triple: str) -> tuple[str, str, str, str]:
    """(arch, vendor, os, env) of a 3- or 4-component triple."""
    parts = normalize_triple(triple).split("-")
    arch = parts[0] if parts else ""
    if len(parts) >= 4:
        return arch, parts[1], parts[2], "-".join(parts[3:])
    if len(parts) == 3:
        # aarch64-apple-darwin, x86_64-linux-android, wasm32-unknown-unknown
        if parts[1] in _OS_NAMES:
            return arch, "unknown", parts[1], parts[2]
        return arch, parts[1], parts[2], ""
    if len(parts) == 2:
        return arch, "unknown", parts[1], ""
    return arch, "unknown", "unknown", ""


def _target_arch(arch: str) -> str:
    for prefix, family in _ARCH_FAMILY:
        if arch.startswith(prefix):
            return family
    return arch


def _env_and_abi(os_name: str, env: str) -> tuple[str, str]:
    if os_name == "android" or env == "android":
        return "", ""
    for base in ("musl", "gnu", "uclibc", "ohos", "msvc", "sgx", "newlib", "relibc"):
        if env.startswith(base):
            return base, env[len(base) :]
    return env, ""


def cfg_facts(triple: str, rustflags: str = "") -> dict[str, object]:
    """The built-in cfg values rustc sets for ``triple`` (for cfg() evaluation)."""
    arch, vendor, os_name, env = _split(triple)
    if os_name == "darwin":
        os_name = "macos"
    if env == "android":
        os_name = "android"
    target_arch = _target_arch(arch)
    target_env, abi = _env_and_abi(os_name, env)
    if os_name == "windows":
        family = "windows"
    elif os_name in _UNIX_OSES:
        family = "unix"
    elif target_arch.startswith("wasm"):
        family = "wasm"
    else:
        family = ""
    width = "32" if target_arch in _BITS_32 or abi.endswith("x32") else "64"
    little = target_arch not in _BIG_ENDIAN_ARCHES or arch.endswith("el") or arch.endswith("le")
    if target_arch == "powerpc64" and not abi:
        # the ELF ABI is not in the triple: only big-endian glibc Linux keeps ELFv1
        abi = "elfv1" if not little and target_env == "gnu" and os_name == "linux" else "elfv2"
    return {
        "target_arch": target_arch,
        "target_vendor": vendor,
        "target_os": os_name,
        "target_env": target_env,
        "target_abi": abi,
        "target_family": family,
        "target_pointer_width": width,
        "target_endian": "little" if little else "big",
        "unix": family == "unix",
        "windows": family == "windows",
        "target_feature": ["crt-static"] if links_statically(triple, rustflags) else [],
    }


def arch_from_platform(platform: str | None) -> str:
    """Docker ``--platform`` value -> triple architecture; x86_64 when unknown."""
    if not platform or "$" in platform:
        return "x86_64"
    text = platform.strip().lower()
    if text.startswith("linux/"):
        text = text[len("linux/") :]
    return _PLATFORM_ARCH.get(text, _PLATFORM_ARCH.get(text.split("/")[0], "x86_64"))


def triple_for(arch: str, env: str, vendor: str = "unknown") -> str:
    """``triple_for("armv7", "musl")`` -> ``armv7-unknown-linux-musleabihf``."""
    if arch in ("armv7", "arm", "thumbv7neon"):
        env = env + "eabihf"
    elif arch == "armv5te":
        env = env + "eabi"
    return f"{arch}-{vendor}-linux-{env}"


# The Linux targets of the platforms BuildKit builds for (TARGETARCH), per libc.
_PLATFORM_TARGETS: tuple[str, ...] = tuple(
    dict.fromkeys(
        triple_for(arch, env) for env in ("gnu", "musl") for arch in _PLATFORM_ARCH.values()
    )
)
# What the RUN reader and the justfile reader leave of a value they do not know.
_UNKNOWN_PART = lazy_re(r"\$\{[^{}]*\}|\$\([^()]*\)|\$[A-Za-z_]\w*")


def candidate_triples(written: str) -> tuple[str, ...]:
    """The Linux platform targets a partly unknown target can be: ``$(false)-unknown-linux-gnu``
    (an arch computed at build time, the env written out) is one of the ``-gnu`` targets of
    the platforms images are built for; () when nothing of it is known or it names none."""
    if "$" not in written:
        return ()
    parts = _UNKNOWN_PART.split(written)
    if "$" in "".join(parts) or not "".join(parts).strip("-"):
        return ()  # a `$` this cannot read, or no known part at all
    import fnmatch

    pattern = "*".join(p.replace("[", "[[]").replace("*", "[*]").replace("?", "[?]") for p in parts)
    return tuple(t for t in _PLATFORM_TARGETS if fnmatch.fnmatchcase(t, pattern.lower()))


_TRIPLE_COMPONENT_RE = lazy_re(r"^[a-z0-9_]+(?:-[a-z0-9_.]+){2,3}$")


def _looks_like_triple(component: str) -> bool:
    if not _TRIPLE_COMPONENT_RE.match(component):
        return False
    arch, _vendor, os_name, _env = _split(component)
    known_arch = any(arch.startswith(prefix) for prefix, _ in _ARCH_FAMILY)
    return known_arch and os_name in _OS_NAMES


def triple_from_target_path(path: str) -> str | None:
    """``.../target/<triple>/<profile>/bin`` -> ``<triple>``; ``target/release/x`` -> None.

    Cargo only puts artifacts under a triple directory when a target was given
    (``--target``, ``CARGO_BUILD_TARGET``, ``build.target``), so the directory
    names the target the binary was built for.
    """
    parts = [p for p in path.replace("\\", "/").split("/") if p]
    for _i, part in enumerate(parts[:-1]):
        if _looks_like_triple(part):
            return normalize_triple(part)
    return None


def triple_named_in(path: str) -> str | None:
    """A triple a directory of ``path`` names, whole or as its prefix: CI artifact
    directories such as ``x86_64-unknown-linux-musl-app-bin`` name the target built."""
    whole = triple_from_target_path(path)
    if whole is not None:
        return whole
    for part in [p for p in path.replace("\\", "/").split("/") if p][:-1]:
        pieces = part.split("-")
        for n in (4, 3):
            if len(pieces) > n and _looks_like_triple("-".join(pieces[:n])):
                return normalize_triple("-".join(pieces[:n]))
    return None


# `app-v1.2-x86_64-unknown-linux-musl.tar.gz`, `app-"$(uname -m)"-unknown-linux-gnu.tgz`:
# a release archive's name ends in the triple its binaries were built for
_ARCHIVE_TRIPLE_RE = lazy_re(
    r"(?:^|[-_.])(?P<arch>[a-z0-9_]+-)?(?P<rest>(?:unknown-|pc-)?linux-(?:musl|gnu)[a-z0-9]*)"
    r"(?=[-_.*]|$)"
)
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tar.zst", ".tar", ".zip")


def triple_in_archive_name(name: str, assumed_arch: str = "x86_64") -> tuple[str, bool] | None:
    """The Linux triple a release archive's file name ends in, and whether its arch was
    assumed: a name that leaves the arch to the shell (`"$(uname -m)"`, `*`) still names
    the libc, and the archive is the build platform's (``assumed_arch``)."""
    base = name.replace('"', "").replace("'", "").rsplit("/", 1)[-1].lower()
    if not base.endswith(ARCHIVE_SUFFIXES) and not base.endswith(ARCHIVE_SUFFIXES + ("*",)):
        return None
    for m in _ARCHIVE_TRIPLE_RE.finditer(base):
        rest = m.group("rest")
        if not rest.startswith(("unknown-", "pc-")):
            rest = "unknown-" + rest
        arch = (m.group("arch") or "").rstrip("-")
        triple = f"{arch}-{rest}"
        if arch and _looks_like_triple(triple):
            return normalize_triple(triple), False
        guess = f"{assumed_arch}-{rest}"
        if _looks_like_triple(guess):
            return normalize_triple(guess), True
    return None


def config_rustflags(config: CargoConfig, triple: str) -> str:
    """The flags cargo applies to this triple: [build] plus the matching [target.*] tables."""
    from allocpolicy.parsing.cfg import CfgError, target_key_matches

    flags = [config.rustflags]
    for key, value in config.target_rustflags.items():
        try:
            if target_key_matches(key, triple, cfg_facts(triple)):
                flags.append(value)
        except CfgError:
            continue
    return " ".join(f for f in flags if f)
