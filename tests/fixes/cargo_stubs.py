"""The real cargo as the judge of a fixed tree, offline, with stub crates.

A fix that the tool's own re-scan accepts can still leave a crate cargo rejects
(a `[features]` entry naming a renamed dependency) or that no longer compiles for
some feature set (a static gated on a feature its dependency is not). So these
helpers copy a tree to a temp dir and run `cargo metadata` and `cargo check` on it,
for the feature sets that matter.

There is no crates.io here. The stubs below (same names, versions and features as
the real crates, an allocator that delegates to `std::alloc::System`) are served as
a *directory source* that replaces crates-io in a CARGO_HOME of the test session.
Why not `[patch.crates-io]`: it would have to be written into the root manifest of
each copy, i.e. into the very file being judged, and patches of a workspace member
are ignored; the source replacement leaves the tree byte for byte as the fix wrote
it and resolves version requirements as crates.io would.

cargo only builds for the host (no other target's std is installed). A static or
dependency gated on `target_env = "musl"` is also checked with that cfg forced on
(`--cfg target_env="musl"`, allowed with `-A explicit_builtin_cfgs_in_flags`): rustc
compiles the musl-gated items and cargo, which asks rustc for the cfg with the same
flags, activates the `[target.'cfg(target_env = "musl")']` tables. It is a proxy for
a musl build (`target_env = "gnu"` stays true), enough to show the static and its
dependency come and go together.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

_ALLOCATOR = """\
use std::alloc::{{GlobalAlloc, Layout, System}};

/// A stand-in for the real allocator: the system allocator under the real name.
pub struct {name};

unsafe impl GlobalAlloc for {name} {{
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {{
        unsafe {{ System.alloc(layout) }}
    }}
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {{
        unsafe {{ System.dealloc(ptr, layout) }}
    }}
}}
"""

_CTL = """\
#[derive(Debug)]
pub struct Error;

#[allow(non_camel_case_types)]
pub struct epoch;
impl epoch {
    pub fn advance() -> Result<u64, Error> {
        Ok(0)
    }
}

pub mod stats {
    #[allow(non_camel_case_types)]
    pub struct allocated;
    impl allocated {
        pub fn read() -> Result<usize, super::Error> {
            Ok(0)
        }
    }
}
"""

_JEMALLOC_FEATURES = (
    "profiling",
    "stats",
    "background_threads",
    "unprefixed_malloc_on_supported_platforms",
    "disable_initial_exec_tls",
    "debug",
)


@dataclass(frozen=True)
class Stub:
    name: str
    version: str
    features: tuple[str, ...] = ()
    default: tuple[str, ...] = ()
    lib: str = ""


STUBS: tuple[Stub, ...] = (
    Stub(
        "mimalloc",
        "0.1.99",
        ("override", "secure", "local_dynamic_tls", "debug", "extended", "no_thp", "v3"),
        lib=_ALLOCATOR.format(name="MiMalloc"),
    ),
    Stub(
        "tikv-jemallocator",
        "0.6.99",
        _JEMALLOC_FEATURES,
        ("background_threads_runtime_support",),
        _ALLOCATOR.format(name="Jemalloc"),
    ),
    Stub(
        "jemallocator",
        "0.5.99",
        _JEMALLOC_FEATURES,
        ("background_threads_runtime_support",),
        _ALLOCATOR.format(name="Jemalloc"),
    ),
    Stub("tikv-jemalloc-ctl", "0.6.99", ("stats", "profiling", "use_std"), lib=_CTL),
    Stub("jemalloc-ctl", "0.5.99", ("stats", "profiling", "use_std"), lib=_CTL),
    # the -sys crates: what AP008 renames alongside (no code of theirs is called here)
    Stub("tikv-jemalloc-sys", "0.6.99", _JEMALLOC_FEATURES),
    Stub("jemalloc-sys", "0.5.99", _JEMALLOC_FEATURES),
    Stub(
        "snmalloc-rs",
        "0.3.99",
        ("1mib", "16mib", "native-cpu"),
        lib=_ALLOCATOR.format(name="SnMalloc"),
    ),
    Stub("tcmalloc", "0.3.99", ("bundled",), lib=_ALLOCATOR.format(name="TCMalloc")),
    # Crates the cases depend on for other reasons: empty, with the features they name.
    Stub("serde", "1.0.999", ("std", "derive", "alloc"), ("std",)),
    Stub("tokio", "1.99.0", ("full", "rt", "rt-multi-thread", "macros", "net", "time", "sync")),
    Stub("anyhow", "1.0.999", ("std",), ("std",)),
    Stub("proptest", "1.99.0", ("std",), ("std",)),
    Stub("libc", "0.2.999", ("std",), ("std",)),
    Stub("zstd", "0.13.99"),
)


def write_registry(root: Path) -> Path:
    """Write every stub as a crate of a cargo directory source under root."""
    for stub in STUBS:
        crate = root / f"{stub.name}-{stub.version}"
        (crate / "src").mkdir(parents=True, exist_ok=True)
        feats = [f"default = {json.dumps(list(stub.default))}"]
        feats += [f"{f} = []" for f in (*stub.features, *stub.default)]
        (crate / "Cargo.toml").write_text(
            f'[package]\nname = "{stub.name}"\nversion = "{stub.version}"\nedition = "2021"\n\n'
            "[features]\n" + "\n".join(dict.fromkeys(feats)) + "\n"
        )
        (crate / "src" / "lib.rs").write_text(stub.lib)
        # A directory source checks the files listed here; none are: the stubs are ours.
        (crate / ".cargo-checksum.json").write_text('{"files":{}}')
    return root


@dataclass(frozen=True)
class Outcome:
    label: str  # "default", "no default features", "all features", "feature x", "... (musl cfg)"
    ok: bool
    output: str


@dataclass
class Cargo:
    """cargo with its own CARGO_HOME (the stub source), offline, a target dir per tree.

    Not one target dir for all trees: cargo keys a workspace member's build by package
    name, version and path *within* its workspace, so every case's `app 0.1.0` would
    share one fingerprint, and a copied tree (older mtimes) would be taken as fresh,
    its errors never shown. The stubs are tiny; a dir per tree costs seconds.
    """

    home: Path
    target: Path
    _done: dict[tuple[str, tuple[str, ...], str], Outcome] = field(default_factory=dict)

    @classmethod
    def create(cls, root: Path) -> Cargo:
        registry = write_registry(root / "registry")
        home = root / "cargo-home"
        home.mkdir(parents=True, exist_ok=True)
        (home / "config.toml").write_text(
            '[source.crates-io]\nreplace-with = "stubs"\n\n'
            f'[source.stubs]\ndirectory = "{registry.as_posix()}"\n\n'
            "[net]\noffline = true\n"
        )
        return cls(home, root / "target")

    def run(self, cwd: Path, *args: str, rustflags: str = "") -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CARGO", "RUST"))}
        env.update(
            CARGO_HOME=str(self.home),
            CARGO_TERM_COLOR="never",
            # and one per flag set: a RUSTFLAGS change would rebuild everything each time
            CARGO_TARGET_DIR=str(
                self.target / _dir_key(cwd) / ("musl-cfg" if rustflags else "host")
            ),
            RUSTFLAGS=rustflags,
        )
        if "PATH" in os.environ:
            env["PATH"] = os.environ["PATH"]
        for name in ("RUSTUP_HOME", "RUSTUP_TOOLCHAIN"):
            if name in os.environ:
                env[name] = os.environ[name]
        return subprocess.run(
            ["cargo", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
        )

    def metadata(self, tree: Path) -> dict:
        run = self.run(tree, "metadata", "--offline", "--no-deps", "--format-version", "1")
        assert run.returncode == 0, f"cargo metadata rejects {tree}:\n{run.stderr}"
        return json.loads(run.stdout)

    def judge(self, tree: Path) -> list[Outcome]:
        """`cargo check` for every feature set that matters (see feature_sets)."""
        meta = self.metadata(tree)
        key = _tree_key(tree)
        outcomes = []
        musl = _mentions_musl(tree)
        for label, args in feature_sets(meta, tree):
            for flags in ("", MUSL_CFG) if musl else ("",):
                done = self._done.get((key, args, flags))
                if done is None:
                    run = self.run(
                        tree, "check", "--offline", "--workspace", *args, rustflags=flags
                    )
                    name = label + (" (musl cfg)" if flags else "")
                    done = Outcome(name, run.returncode == 0, run.stderr)
                    self._done[(key, args, flags)] = done
                outcomes.append(done)
        return outcomes


MUSL_CFG = '--cfg target_env="musl" -A explicit_builtin_cfgs_in_flags'
_FEATURE_IN_CFG = re.compile(r'\bfeature\s*=\s*"([^"]+)"')


def feature_sets(meta: dict, tree: Path) -> list[tuple[str, tuple[str, ...]]]:
    """default, none, all, and each declared feature a `cfg(feature = ...)` names, per package;
    a workspace without features has just the one build."""
    packages = meta["packages"]
    if not any(set(p["features"]) - {"default"} or p["features"].get("default") for p in packages):
        return [("default", ())]
    sets: list[tuple[str, tuple[str, ...]]] = [
        ("default", ()),
        ("no default features", ("--no-default-features",)),
        ("all features", ("--all-features",)),
    ]
    for p in packages:
        src = Path(p["manifest_path"]).parent
        named = {
            m
            for rs in sorted(src.rglob("*.rs"))
            if "target" not in rs.relative_to(src).parts
            for m in _FEATURE_IN_CFG.findall(rs.read_text(encoding="utf-8", errors="replace"))
        }
        for feature in sorted(named & set(p["features"]) - {"default"}):
            sets.append((f"feature {feature}", ("--features", f"{p['name']}/{feature}")))
            sets.append(
                (
                    f"only feature {feature}",
                    ("--no-default-features", "--features", f"{p['name']}/{feature}"),
                )
            )
    return sets


def _sources(tree: Path) -> list[Path]:
    return [
        p
        for p in sorted(tree.rglob("*"))
        if p.is_file()
        and (p.suffix == ".rs" or p.name == "Cargo.toml")
        and "target" not in p.relative_to(tree).parts
    ]


def _mentions_musl(tree: Path) -> bool:
    return any(b'"musl"' in p.read_bytes() for p in _sources(tree))


def _dir_key(tree: Path) -> str:
    return hashlib.sha256(str(tree.resolve()).encode()).hexdigest()[:16]


def _tree_key(tree: Path) -> str:
    digest = hashlib.sha256(str(tree).encode())
    for p in _sources(tree):
        digest.update(p.relative_to(tree).as_posix().encode() + b"\0" + p.read_bytes())
    return digest.hexdigest()


def place(src: Path, base: Path) -> Path:
    """Copy a tree under base at a path named by its content: identical trees (many golden
    cases share one) are checked once and share the build cache."""
    digest = hashlib.sha256()
    files = [p for p in sorted(src.rglob("*")) if p.is_file()]
    for p in files:
        digest.update(p.relative_to(src).as_posix().encode() + b"\0" + p.read_bytes())
    dst = base / digest.hexdigest()[:16]
    if not dst.exists():
        shutil.copytree(src, dst)
    return dst


def failures(outcomes: list[Outcome]) -> str:
    return "\n\n".join(f"--- {o.label}\n{_errors(o.output)}" for o in outcomes if not o.ok)


def _errors(stderr: str) -> str:
    lines = [
        ln
        for ln in stderr.splitlines()
        if not ln.lstrip().startswith(("Compiling", "Checking", "Locking", "Adding"))
    ]
    return "\n".join(lines[:40])


# ------------------------------------------------------------------ per-target activity

ALLOCATOR_CRATES = {"mimalloc", "tikv_jemallocator", "jemallocator", "snmalloc_rs", "tcmalloc"}
# Targets a gate may pick between: the host, musl, another arch, and two non-Linux ones
# (a target table for macOS or Windows is where a gate copied from one table goes wrong).
TRIPLES = (
    "x86_64-unknown-linux-gnu",
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-gnu",
    "aarch64-apple-darwin",
    "x86_64-pc-windows-msvc",
)


def rustc_cfg(triple: str) -> dict[str, object]:
    """`rustc --print cfg --target triple` as cfg facts (works without that target's std)."""
    out = subprocess.run(
        ["rustc", "--print", "cfg", "--target", triple], capture_output=True, text=True, check=True
    ).stdout
    facts: dict[str, object] = {"target_family": [], "target_feature": []}
    for line in out.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            facts[key] = True
        elif key in ("target_family", "target_feature"):
            facts[key].append(value.strip('"'))  # type: ignore[attr-defined]
        else:
            facts[key] = value.strip('"')
    return facts


@dataclass(frozen=True)
class Build:
    """One package of a tree as cargo resolves it for a target and feature set."""

    package: str
    features: frozenset[str]
    deps: frozenset[str]  # Rust names of the normal dependencies cargo links


def resolve(cargo: Cargo, tree: Path, triple: str, args: tuple[str, ...]) -> list[Build]:
    """The workspace packages, their enabled features and linked dependencies for `triple`."""
    run = cargo.run(
        tree,
        "metadata",
        "--offline",
        "--format-version",
        "1",
        "--filter-platform",
        triple,
        *args,
    )
    assert run.returncode == 0, f"cargo metadata --filter-platform {triple} {args}:\n{run.stderr}"
    meta = json.loads(run.stdout)
    members = set(meta["workspace_members"])
    names = {p["id"]: p["name"] for p in meta["packages"]}
    builds = []
    for node in meta["resolve"]["nodes"]:
        if node["id"] not in members:
            continue
        linked = {
            d["name"]
            for d in node["deps"]
            if any(k["kind"] is None for k in d["dep_kinds"])  # normal, not dev/build
        }
        builds.append(Build(names[node["id"]], frozenset(node["features"]), frozenset(linked)))
    return builds
