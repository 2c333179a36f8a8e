"""Deterministic synthetic Rust monorepos for the allocpolicy benchmarks.

A repository of N services looks like a real Rust monorepo:

    Cargo.toml                      workspace root: explicit members + [workspace.dependencies]
    .gitignore                      /target, logs (so discovery pays for gitignore matching)
    services/svc0000/Dockerfile     one image per service (Alpine/musl, Debian, distroless, scratch)
    services/svc0000/Cargo.toml     a binary crate, with or without an allocator dependency
    services/svc0000/src/main.rs    ~200 lines; some declare #[global_allocator]
    target/ node_modules/           noise that discovery must never walk into (gitignored)
    .git/                           a real repository with one commit (pre-commit runs in one)

Everything is derived from (N, kind) only, so two runs on two machines scan the
same bytes.  ``kind="mixed"`` cycles through ten service shapes (clean and
broken ones, see VARIANTS); ``kind="broken"`` only uses shapes that
``allocpolicy fix`` can repair.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

GENERATOR_VERSION = 3

# name -> (description, expected rule); the order is the cycle used for "mixed".
VARIANTS = {
    "alpine-mimalloc": ("rust:alpine builder, alpine final, mimalloc wired", None),
    "alpine-system": ("rust:alpine builder, alpine final, no mimalloc", "AP001"),
    "debian-system": ("rust:slim-bookworm builder, debian-slim final, system allocator", "AP003"),
    "distroless-mimalloc-ws": ("distroless/cc, mimalloc from [workspace.dependencies]", None),
    "distroless-mimalloc-defaults": ("distroless/cc, mimalloc with default features", "AP004"),
    "debian-preload-jemalloc": ("debian-slim, libjemalloc2 via LD_PRELOAD", "AP011"),
    "scratch-musl-preload": ("scratch, musl target, LD_PRELOAD (cannot work)", "AP002"),
    "muslrust-distroless-static": ("clux/muslrust, distroless/static, cfg(musl) mimalloc", None),
    "debian-mimalloc-unwired": (
        "debian-slim, mimalloc dependency, no #[global_allocator]",
        "AP005",
    ),
    "distroless-simple-profile": ("distroless/cc, system allocator, profile = simple", None),
}
BROKEN_VARIANTS = [
    "alpine-system",  # AP001: add-mimalloc
    "distroless-mimalloc-defaults",  # AP004: set-default-features-false
    "debian-mimalloc-unwired",  # AP005: add-global-allocator
    "debian-jemallocator",  # AP008: rename-jemallocator
    "debian-system",  # AP003: add-mimalloc
]
EXTRA_VARIANTS = {
    "debian-jemallocator": ("debian-slim, deprecated jemallocator crate", "AP008"),
}


@dataclass
class SynthRepo:
    root: Path
    n: int
    kind: str
    services: list[str] = field(default_factory=list)  # "services/svc0000"
    dockerfiles: list[str] = field(default_factory=list)  # relative paths, services only
    variants: dict[str, int] = field(default_factory=dict)
    files: int = 0
    bytes: int = 0
    git: bool = False  # a real git repository (one commit); target/ and node_modules/ are ignored

    def as_json(self) -> dict:
        return {
            "path": str(self.root),
            "n": self.n,
            "kind": self.kind,
            "dockerfiles": len(self.dockerfiles),
            "files": self.files,
            "bytes": self.bytes,
            "git": self.git,
            "variants": self.variants,
        }


def service_name(i: int) -> str:
    return f"svc{i:04d}"


def variant_for(kind: str, i: int) -> str:
    if kind == "broken":
        return BROKEN_VARIANTS[i % len(BROKEN_VARIANTS)]
    names = list(VARIANTS)
    return names[i % len(names)]


# -- Dockerfiles ---------------------------------------------------------------

_RUST_VERSIONS = ["1.80", "1.81", "1.82", "1.83"]
_ALPINE = ["3.19", "3.20", "3.21"]


def dockerfile(variant: str, name: str, rng: random.Random) -> str:
    rv = rng.choice(_RUST_VERSIONS)
    port = 8000 + rng.randrange(1000)
    header = [
        "# syntax=docker/dockerfile:1",
        f"# {name}: built by the platform team's template (variant {variant})",
    ]
    cache = "--mount=type=cache,target=/usr/local/cargo/registry"
    if variant in ("alpine-mimalloc", "alpine-system"):
        body = f"""\
ARG RUST_VERSION={rv}
FROM rust:${{RUST_VERSION}}-alpine AS builder
RUN apk add --no-cache musl-dev pkgconfig openssl-dev
WORKDIR /src
COPY Cargo.toml ./
COPY src ./src
RUN {cache} \\
    cargo build --release --bin {name}

FROM alpine:{rng.choice(_ALPINE)}
RUN apk add --no-cache ca-certificates tzdata \\
 && addgroup -S app && adduser -S app -G app
COPY --from=builder /src/target/release/{name} /usr/local/bin/{name}
USER app
EXPOSE {port}
ENV RUST_LOG=info
ENTRYPOINT ["/usr/local/bin/{name}"]
"""
    elif variant in ("debian-system", "debian-mimalloc-unwired", "debian-jemallocator"):
        body = f"""\
FROM rust:{rv}-slim-bookworm AS build
RUN apt-get update \\
 && apt-get install -y --no-install-recommends pkg-config libssl-dev \\
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY Cargo.toml ./
COPY src ./src
RUN {cache} \\
    cargo build --release --bin {name}

FROM debian:bookworm-slim
RUN apt-get update \\
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \\
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /app/target/release/{name} /usr/local/bin/{name}
EXPOSE {port}
CMD ["{name}"]
"""
    elif variant == "debian-preload-jemalloc":
        body = f"""\
FROM rust:{rv}-bookworm AS build
WORKDIR /app
COPY Cargo.toml ./
COPY src ./src
RUN cargo build --release --bin {name}

FROM debian:bookworm-slim
RUN apt-get update \\
 && apt-get install -y --no-install-recommends ca-certificates libjemalloc2 \\
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /app/target/release/{name} /usr/local/bin/{name}
ENV LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
EXPOSE {port}
ENTRYPOINT ["/usr/local/bin/{name}"]
"""
    elif variant == "scratch-musl-preload":
        body = f"""\
FROM rust:{rv} AS build
RUN rustup target add x86_64-unknown-linux-musl
WORKDIR /build
COPY Cargo.toml ./
COPY src ./src
RUN cargo build --release --target x86_64-unknown-linux-musl --bin {name}

FROM scratch
COPY --from=build /build/target/x86_64-unknown-linux-musl/release/{name} /{name}
ENV LD_PRELOAD=/usr/lib/libmimalloc.so.2
EXPOSE {port}
ENTRYPOINT ["/{name}"]
"""
    elif variant == "muslrust-distroless-static":
        body = f"""\
FROM clux/muslrust:stable AS build
WORKDIR /volume
COPY Cargo.toml ./
COPY src ./src
RUN cargo build --release --bin {name}

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /volume/target/x86_64-unknown-linux-musl/release/{name} /{name}
EXPOSE {port}
ENTRYPOINT ["/{name}"]
"""
    else:  # distroless/cc variants
        body = f"""\
FROM rust:{rv}-slim-bookworm AS build
WORKDIR /app
COPY Cargo.toml ./
COPY src ./src
RUN {cache} \\
    cargo build --release --bin {name}

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /app/target/release/{name} /{name}
EXPOSE {port}
ENTRYPOINT ["/{name}"]
"""
    return "\n".join(header) + "\n" + body


# -- Cargo.toml ----------------------------------------------------------------


def cargo_toml(variant: str, name: str, rng: random.Random) -> str:
    deps = [
        'serde = { version = "1", features = ["derive"] }',
        'serde_json = "1"',
        f'tokio = {{ version = "1.{rng.randrange(30, 42)}", features = ["rt-multi-thread", "macros", "net"] }}',
        'tracing = "0.1"',
        'anyhow = "1"',
    ]
    target = ""
    meta = ""
    if variant == "alpine-mimalloc":
        deps.append('mimalloc = { version = "0.1.43", default-features = false }')
    elif variant == "distroless-mimalloc-ws":
        deps.append("mimalloc = { workspace = true }")
    elif variant == "distroless-mimalloc-defaults":
        deps.append('mimalloc = "0.1"')
    elif variant == "debian-mimalloc-unwired":
        deps.append('mimalloc = { version = "0.1", default-features = false }')
    elif variant == "debian-jemallocator":
        deps.append('jemallocator = "0.5"')
    elif variant == "muslrust-distroless-static":
        target = (
            "\n[target.'cfg(target_env = \"musl\")'.dependencies]\n"
            'mimalloc = { version = "0.1", default-features = false }\n'
        )
    elif variant == "distroless-simple-profile":
        meta = '\n[package.metadata.allocpolicy]\nprofile = "simple"\n'
    return (
        f"""[package]
name = "{name}"
version = "0.{rng.randrange(1, 9)}.{rng.randrange(0, 20)}"
edition = "2021"
publish = false
description = "synthetic service {name}"

[dependencies]
"""
        + "\n".join(deps)
        + "\n"
        + target
        + """
[dev-dependencies]
tokio-test = "0.4"

[features]
default = []
metrics = []
"""
        + meta
    )


# -- main.rs -------------------------------------------------------------------

_ALLOC_HEADERS = {
    "alpine-mimalloc": "use mimalloc::MiMalloc;\n\n#[global_allocator]\nstatic GLOBAL: MiMalloc = MiMalloc;\n",
    "distroless-mimalloc-ws": "#[global_allocator]\nstatic GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\n",
    "distroless-mimalloc-defaults": (
        "use mimalloc::MiMalloc as Alloc;\n\n#[global_allocator]\nstatic ALLOC: Alloc = Alloc;\n"
    ),
    "muslrust-distroless-static": (
        '#[cfg(target_env = "musl")]\n#[global_allocator]\n'
        "static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\n"
    ),
    "debian-jemallocator": (
        "#[global_allocator]\nstatic GLOBAL: jemallocator::Jemalloc = jemallocator::Jemalloc;\n"
    ),
    # Only mentions the needle in a comment: passes the byte pre-check, has no static.
    "debian-system": "// The platform team may add a #[global_allocator] here later.\n",
}

_BODY = """\
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{{AtomicU64, Ordering}};
use std::sync::{{Arc, Mutex}};
use std::time::{{Duration, Instant}};

/// Configuration for {name}, read from the environment.
#[derive(Debug, Clone)]
pub struct Config {{
    pub listen: String,
    pub workers: usize,
    pub max_body: usize,
    pub timeout: Duration,
    pub upstream: Option<String>,
}}

impl Config {{
    pub fn from_env() -> Self {{
        let listen = std::env::var("LISTEN").unwrap_or_else(|_| "0.0.0.0:{port}".to_string());
        let workers = std::env::var("WORKERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or({workers});
        let max_body = std::env::var("MAX_BODY")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1 << 20);
        let timeout = Duration::from_millis(
            std::env::var("TIMEOUT_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or({timeout}),
        );
        let upstream = std::env::var("UPSTREAM").ok();
        Config {{ listen, workers, max_body, timeout, upstream }}
    }}
}}

/// Errors the handlers of {name} can return.
#[derive(Debug)]
pub enum ServiceError {{
    NotFound(String),
    TooLarge(usize),
    Timeout(Duration),
    Upstream(String),
}}

impl fmt::Display for ServiceError {{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {{
        match self {{
            ServiceError::NotFound(k) => write!(f, "not found: {{}}", k),
            ServiceError::TooLarge(n) => write!(f, "body too large: {{}} bytes", n),
            ServiceError::Timeout(d) => write!(f, "timed out after {{:?}}", d),
            ServiceError::Upstream(m) => write!(f, "upstream failed: {{}}", m),
        }}
    }}
}}

impl std::error::Error for ServiceError {{}}

/// A tiny in-memory store with hit/miss counters.
pub struct Store {{
    items: Mutex<HashMap<String, Vec<u8>>>,
    hits: AtomicU64,
    misses: AtomicU64,
}}

impl Store {{
    pub fn new() -> Self {{
        Store {{
            items: Mutex::new(HashMap::with_capacity({capacity})),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }}
    }}

    pub fn get(&self, key: &str) -> Result<Vec<u8>, ServiceError> {{
        let items = self.items.lock().expect("store lock poisoned");
        match items.get(key) {{
            Some(v) => {{
                self.hits.fetch_add(1, Ordering::Relaxed);
                Ok(v.clone())
            }}
            None => {{
                self.misses.fetch_add(1, Ordering::Relaxed);
                Err(ServiceError::NotFound(key.to_string()))
            }}
        }}
    }}

    pub fn put(&self, key: &str, value: Vec<u8>, limit: usize) -> Result<(), ServiceError> {{
        if value.len() > limit {{
            return Err(ServiceError::TooLarge(value.len()));
        }}
        let mut items = self.items.lock().expect("store lock poisoned");
        items.insert(key.to_string(), value);
        Ok(())
    }}

    pub fn stats(&self) -> (u64, u64) {{
        (self.hits.load(Ordering::Relaxed), self.misses.load(Ordering::Relaxed))
    }}
}}

impl Default for Store {{
    fn default() -> Self {{
        Self::new()
    }}
}}

/// One parsed request line: `GET key` or `PUT key value`.
#[derive(Debug, PartialEq)]
pub enum Request<'a> {{
    Get(&'a str),
    Put(&'a str, &'a str),
    Stats,
}}

pub fn parse_request(line: &str) -> Option<Request<'_>> {{
    let mut parts = line.trim().splitn(3, ' ');
    match (parts.next()?, parts.next(), parts.next()) {{
        ("GET", Some(k), None) => Some(Request::Get(k)),
        ("PUT", Some(k), Some(v)) => Some(Request::Put(k, v)),
        ("STATS", None, None) => Some(Request::Stats),
        _ => None,
    }}
}}

pub fn handle(store: &Store, cfg: &Config, line: &str) -> String {{
    let started = Instant::now();
    let reply = match parse_request(line) {{
        Some(Request::Get(k)) => match store.get(k) {{
            Ok(v) => String::from_utf8_lossy(&v).into_owned(),
            Err(e) => format!("ERR {{}}", e),
        }},
        Some(Request::Put(k, v)) => match store.put(k, v.as_bytes().to_vec(), cfg.max_body) {{
            Ok(()) => "OK".to_string(),
            Err(e) => format!("ERR {{}}", e),
        }},
        Some(Request::Stats) => {{
            let (h, m) = store.stats();
            format!("hits={{}} misses={{}}", h, m)
        }}
        None => "ERR bad request".to_string(),
    }};
    if started.elapsed() > cfg.timeout {{
        return format!("ERR {{}}", ServiceError::Timeout(cfg.timeout));
    }}
    reply
}}

fn run_workers(cfg: &Config, store: Arc<Store>, input: Vec<String>) -> Vec<String> {{
    let chunk = (input.len() / cfg.workers.max(1)).max(1);
    let mut handles = Vec::new();
    for part in input.chunks(chunk).map(|c| c.to_vec()) {{
        let store = Arc::clone(&store);
        let cfg = cfg.clone();
        handles.push(std::thread::spawn(move || {{
            part.iter().map(|l| handle(&store, &cfg, l)).collect::<Vec<_>>()
        }}));
    }}
    handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
}}

fn main() {{
    let cfg = Config::from_env();
    eprintln!("{name} listening on {{}} with {{}} workers", cfg.listen, cfg.workers);
    let store = Arc::new(Store::new());
    let input: Vec<String> = (0..{requests})
        .map(|i| if i % 3 == 0 {{ format!("PUT k{{}} v{{}}", i, i) }} else {{ format!("GET k{{}}", i - 1) }})
        .collect();
    for reply in run_workers(&cfg, store, input) {{
        println!("{{}}", reply);
    }}
}}

#[cfg(test)]
mod tests {{
    use super::*;

    #[test]
    fn parses_requests() {{
        assert_eq!(parse_request("GET a"), Some(Request::Get("a")));
        assert_eq!(parse_request("PUT a b"), Some(Request::Put("a", "b")));
        assert_eq!(parse_request("STATS"), Some(Request::Stats));
        assert_eq!(parse_request("DELETE a"), None);
    }}

    #[test]
    fn store_round_trip() {{
        let s = Store::new();
        s.put("k", b"v".to_vec(), 10).unwrap();
        assert_eq!(s.get("k").unwrap(), b"v".to_vec());
        assert!(s.get("missing").is_err());
        assert_eq!(s.stats(), (1, 1));
    }}
}}
"""


def main_rs(variant: str, name: str, rng: random.Random) -> str:
    head = f"//! {name}: synthetic service for the allocpolicy benchmark.\n\n"
    alloc = _ALLOC_HEADERS.get(variant, "")
    body = _BODY.format(
        name=name,
        port=8000 + rng.randrange(1000),
        workers=rng.randrange(2, 17),
        timeout=rng.randrange(100, 5000),
        capacity=rng.choice([64, 128, 1024]),
        requests=rng.randrange(100, 10000),
    )
    return head + alloc + ("\n" if alloc else "") + body


# -- the repository ------------------------------------------------------------


def _noise(root: Path, n: int, rng: random.Random) -> int:
    """target/, .git/ and node_modules/ content that discovery must skip."""
    count = 0
    per = max(10, n // 3)
    for i in range(per):
        d = (
            root
            / "target"
            / "release"
            / "build"
            / f"dep-{i % 40:02d}{rng.randrange(16**6):06x}"
            / "out"
        )
        d.mkdir(parents=True, exist_ok=True)
        (d / f"generated_{i}.rs").write_text(
            f"// generated\n#[global_allocator]\nstatic G{i}: std::alloc::System = std::alloc::System;\n"
        )
        count += 1
        m = root / "node_modules" / f"pkg{i % 50}"
        m.mkdir(parents=True, exist_ok=True)
        (m / f"f{i}.js").write_text("module.exports = {};\n")
        count += 1
    (root / "target" / "Dockerfile").write_text("FROM alpine\nCOPY app /app\n")
    (root / "node_modules" / "pkg0" / "Dockerfile").write_text("FROM alpine:3.20\n")
    return count + 2


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        {
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@example.invalid",
            "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
            "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
        }
    )
    return env


def _git_commit(root: Path) -> bool:
    """Make the repo a real git repository (pre-commit always runs in one); False without git."""
    git = shutil.which("git")
    if git is None:
        return False
    env = _git_env()
    try:
        for argv in (
            ["init", "-q", "-b", "main"],
            ["add", "-A"],
            ["commit", "-q", "--no-verify", "--no-gpg-sign", "-m", "synthetic monorepo"],
        ):
            subprocess.run(
                [git, *argv], cwd=root, env=env, check=True, capture_output=True, timeout=600
            )
    except (OSError, subprocess.SubprocessError):
        shutil.rmtree(root / ".git", ignore_errors=True)
        return False
    return True


def _stamp(n: int, kind: str, git: bool) -> str:
    return json.dumps(
        {"generator": GENERATOR_VERSION, "n": n, "kind": kind, "git": git}, sort_keys=True
    )


def generate(
    root: Path, n: int, kind: str = "mixed", *, force: bool = False, git: bool = True
) -> SynthRepo:
    """Create (or reuse, when the stamp matches) the synthetic repository at root."""
    if kind not in ("mixed", "broken"):
        raise ValueError(f"unknown kind {kind!r}")
    stamp_file = root / ".bench-stamp.json"
    repo = SynthRepo(root=root, n=n, kind=kind)
    names = [service_name(i) for i in range(n)]
    repo.services = [f"services/{s}" for s in names]
    repo.dockerfiles = [f"services/{s}/Dockerfile" for s in names]
    for i in range(n):
        v = variant_for(kind, i)
        repo.variants[v] = repo.variants.get(v, 0) + 1
    if not force and stamp_file.exists():
        try:
            saved = json.loads(stamp_file.read_text())
            if saved.get("stamp") == _stamp(n, kind, git):
                repo.files, repo.bytes, repo.git = saved["files"], saved["bytes"], saved["git"]
                return repo
        except (OSError, ValueError, KeyError):
            pass
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    files = 0
    size = 0

    def write(rel: str, text: str) -> None:
        nonlocal files, size
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        files += 1
        size += len(text.encode())

    members = ",\n".join(f'    "{s}"' for s in repo.services)
    write(
        "Cargo.toml",
        f"""[workspace]
resolver = "2"
members = [
{members}
]

[workspace.package]
edition = "2021"
license = "MIT"

[workspace.dependencies]
mimalloc = {{ version = "0.1.43", default-features = false }}
serde = {{ version = "1", features = ["derive"] }}

[profile.release]
lto = "thin"
codegen-units = 1
""",
    )
    write(".gitignore", "/target\n/node_modules\n**/*.log\n/dist/\n.env\n.bench-stamp.json\n")
    write("README.md", f"# synthetic monorepo ({n} services, {kind})\n")
    for i, name in enumerate(names):
        v = variant_for(kind, i)
        rng = random.Random(f"{GENERATOR_VERSION}-{kind}-{i}")
        base = f"services/{name}"
        write(f"{base}/Dockerfile", dockerfile(v, name, rng))
        write(f"{base}/Cargo.toml", cargo_toml(v, name, rng))
        write(f"{base}/src/main.rs", main_rs(v, name, rng))
    repo.git = _git_commit(root) if git else False
    files += _noise(root, n, random.Random(f"noise-{n}-{kind}"))  # ignored by .gitignore
    repo.files, repo.bytes = files, size
    stamp_file.write_text(
        json.dumps({"stamp": _stamp(n, kind, git), "files": files, "bytes": size, "git": repo.git})
    )
    return repo


if __name__ == "__main__":  # python benchmarks/synth.py DIR N [mixed|broken]
    import sys

    r = generate(
        Path(sys.argv[1]),
        int(sys.argv[2]),
        sys.argv[3] if len(sys.argv) > 3 else "mixed",
        force=True,
    )
    print(json.dumps(r.as_json(), indent=2))
