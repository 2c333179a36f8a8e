"""Generated from policies/default.yaml by `python scripts/generate.py`; do not edit."""

POLICY = {'rules': [{'artifact': {'message': '`{path}` is a Rust binary ({libc}, {linkage}) with the '
                                    '{allocator} allocator; musl and static builds must link '
                                    'mimalloc as #[global_allocator]',
                         'subject': 'artifact_binary',
                         'when': {'all': [{'fact': 'rust', 'is': True},
                                          {'eq': 'executable', 'fact': 'elf_type'},
                                          {'any': [{'eq': 'musl', 'fact': 'libc'},
                                                   {'fact': 'linkage',
                                                    'in': ['static', 'static-pie']}]},
                                          {'fact': 'allocator',
                                           'not_in': ['mimalloc', 'unknown']}]}},
            'documentation': '## What it does\n'
                             'Finds images that ship a Rust binary built for a musl target '
                             "(Alpine's\n"
                             'rust images, `--target *-musl`, musl builder images such as\n'
                             'clux/muslrust) or linked statically, whose allocator is not '
                             'mimalloc.\n'
                             '\n'
                             'When the build is not in the Containerfile (a binary copied from '
                             'the\n'
                             'build context, a target the file leaves to a variable), the image '
                             'the\n'
                             'binary runs in still decides: on a static-only image (scratch,\n'
                             'distroless/static) only a static binary runs, and on Alpine without\n'
                             'gcompat a dynamically linked glibc binary cannot. A crate with no\n'
                             'allocator crate and no `#[global_allocator]` anywhere keeps the '
                             'system\n'
                             'allocator for every target. A stage that only carries files (no\n'
                             'ENTRYPOINT, CMD, ENV, WORKDIR, USER, EXPOSE ...) proves nothing, and '
                             'a\n'
                             'scratch image with the glibc loader or `ldd`-listed libraries copied '
                             'in\n'
                             'is glibc, not static-only.\n'
                             '\n'
                             '`allocpolicy inspect` checks the built binary itself: a Rust '
                             'executable\n'
                             "(Rust symbols, rustc's `.comment`, `/rustc/` paths) that is musl or "
                             'static\n'
                             '(static-pie too) and whose symbols or strings show another '
                             'allocator\n'
                             "than mimalloc (jemalloc's `<jemalloc>:` messages, none at all: the "
                             "libc's).\n"
                             '\n'
                             '## Where it is reported\n'
                             "On the line that decides the binary's target: the `--target` of the\n"
                             'build, the `ENV CARGO_BUILD_TARGET`, the FROM of the builder image '
                             'whose\n'
                             'default target it is, or the FROM of the build stage when a RUN '
                             'there\n'
                             "installed the toolchain (rustup-init, a distribution's rust "
                             'package).\n'
                             'When only the runtime image proves it, on the final FROM. A '
                             'suppression\n'
                             "comment may also sit above the final FROM or the build stage's "
                             'FROM.\n'
                             '\n'
                             '## Why is this bad?\n'
                             "musl's malloc serialises threads on a lock; multi-threaded Rust "
                             'services\n'
                             'spend their time waiting for it. LD_PRELOAD cannot replace the '
                             'allocator\n'
                             'of a static binary, so the allocator must be linked in.\n'
                             '\n'
                             '## Example\n'
                             '```dockerfile\n'
                             'FROM rust:1-alpine AS build\n'
                             'RUN cargo build --release\n'
                             'FROM scratch\n'
                             'COPY --from=build /app/target/release/app /app\n'
                             '```\n'
                             'with no `#[global_allocator]` in the crate.\n'
                             '\n'
                             '## Fix\n'
                             '```toml\n'
                             '[dependencies]\n'
                             'mimalloc = { version = "0.1", default-features = false }\n'
                             '```\n'
                             '```rust\n'
                             '#[global_allocator]\n'
                             'static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\n'
                             '```\n'
                             'To link it into musl builds only, put the dependency under\n'
                             '`[target.\'cfg(target_env = "musl")\'.dependencies]` and give the '
                             'static the same\n'
                             '`#[cfg(target_env = "musl")]` (else glibc builds fail to compile: '
                             'AP006).\n'
                             "Images whose builder already patches musl's malloc with mimalloc, "
                             'crates\n'
                             "using mimalloc's `override` feature, and (per the checked facts) a\n"
                             'dynamically linked musl binary with mimalloc preloaded from a '
                             'library the\n'
                             'image really has, count as mimalloc.\n',
            'fix': {'action': 'add-mimalloc', 'params': {'placement': 'auto'}, 'safety': 'safe'},
            'id': 'AP001',
            'message': '{image} ships `{binary}` built for {target_text} ({libc}, {linkage}) with '
                       'the {allocator} allocator; musl and static builds must link mimalloc as '
                       '#[global_allocator]',
            'name': 'musl-requires-mimalloc',
            'rationale': "musl's malloc serialises threads on a lock, and LD_PRELOAD cannot "
                         'replace the allocator of a static binary, so mimalloc must be linked in: '
                         "measured 7x slower than glibc's on a real benchmark (nickb.dev, "
                         '"Default musl allocator considered harmful (to performance)"), 15-17 s '
                         'against 0.19 s with mimalloc on 32 cores (bram209/leptosfmt PR 191), '
                         '49.8 s against 8.2 s with glibc (EmbarkStudios/texture-synthesis issue '
                         '8). The factor depends on the workload: from 1.11x, mostly memcpy '
                         '(astral-sh/uv issue 10610), to about 700x in a synthetic test on 48 '
                         'cores; where the time goes to the kernel mimalloc does not help '
                         '(pkgcraft issue 179). mimalloc can raise peak memory (rustic-rs/rustic '
                         'issue 1820: 137 MB to about 450 MB, OOM-killed at a 384 MB limit; '
                         '`MIMALLOC_PURGE_DELAY=0` brought it to about 300 MB): test under the '
                         "container's memory limit.",
            'severity': 'error',
            'subject': 'binary',
            'summary': 'A musl or static Rust binary must link mimalloc as its global allocator.',
            'when': {'all': [{'any': [{'eq': 'musl', 'fact': 'libc'},
                                      {'eq': 'static', 'fact': 'linkage'}]},
                             {'fact': 'allocator', 'not_in': ['mimalloc', 'unknown']}]}},
           {'artifact': {'message': "`{path}`, the image's entrypoint, is {linkage}: no loader "
                                    'reads LD_PRELOAD={preload} (set in {preload_source}), so it '
                                    'runs on its built-in {allocator} allocator',
                         'subject': 'artifact_binary',
                         'when': {'all': [{'fact': 'entrypoint', 'is': True},
                                          {'exists': True, 'fact': 'preload'},
                                          {'fact': 'linkage', 'in': ['static', 'static-pie']}]}},
            'documentation': '## What it does\n'
                             'Finds `LD_PRELOAD` (in `ENV`, or `env '
                             'LD_PRELOAD=...`/`LD_PRELOAD=... cmd`\n'
                             'in ENTRYPOINT/CMD) in an image whose Rust binaries are statically '
                             'linked\n'
                             'or whose base image has no libc (scratch, distroless/static).\n'
                             '\n'
                             '## Why is this bad?\n'
                             'The setting is silently ignored: the service runs on its built-in\n'
                             'allocator while everyone believes it runs on the preloaded one.\n'
                             '\n'
                             '## Example\n'
                             '```dockerfile\n'
                             'FROM scratch\n'
                             'COPY --from=build /app/target/x86_64-unknown-linux-musl/release/app '
                             '/app\n'
                             'ENV LD_PRELOAD=/usr/lib/libmimalloc.so.2\n'
                             '```\n'
                             '\n'
                             '## Fix\n'
                             "Remove the setting and link the allocator instead (AP001's fix).\n",
            'fix': {'action': 'remove-ld-preload', 'safety': 'unsafe'},
            'id': 'AP002',
            'message': 'LD_PRELOAD={path} has no effect here: {reason}; link the allocator with '
                       '#[global_allocator] instead (LD_PRELOAD needs a dynamically linked binary, '
                       'glibc or musl)',
            'name': 'ld-preload-requires-glibc',
            'rationale': 'LD_PRELOAD is read by the dynamic loader, so a static binary, or an '
                         'image with no loader at all (scratch, distroless/static), ignores it '
                         'without an error and runs on its built-in allocator. The guidance says '
                         'LD_PRELOAD "only works with glibc (not musl)"; the fact is that the '
                         "loader honours it for any dynamically linked binary, glibc's or musl's "
                         '(musl supports replacing malloc since 1.1.20), and for no static one.',
            'severity': 'error',
            'subject': 'ld_preload',
            'summary': 'LD_PRELOAD has no effect on a static binary or in an image without a '
                       'dynamic loader.',
            'when': {'any': [{'eq': 'static', 'fact': 'binary_linkage'},
                             {'eq': 'static', 'fact': 'runtime_libc'}]}},
           {'artifact': {'message': '`{path}` is a glibc Rust binary ({linkage}) on the system '
                                    'allocator; the guidance recommends {recommended_text} for '
                                    'profile `{profile}` (set default-profile = "simple" in '
                                    'allocpolicy.toml if it is a low-traffic app)',
                         'subject': 'artifact_binary',
                         'when': {'all': [{'fact': 'rust', 'is': True},
                                          {'eq': 'executable', 'fact': 'elf_type'},
                                          {'eq': 'glibc', 'fact': 'libc'},
                                          {'eq': 'system', 'fact': 'allocator'},
                                          {'fact': 'profile', 'ne': 'simple'}]}},
            'documentation': '## What it does\n'
                             'Finds images that ship a glibc Rust binary that keeps the system\n'
                             "allocator, neither linking one nor preloading one, when the crate's\n"
                             'profile (`[package.metadata.allocpolicy] profile`) is not `simple`.\n'
                             '`allocpolicy inspect` reports a glibc Rust executable whose symbols '
                             'and\n'
                             "strings show no allocator but the libc's, under the configured\n"
                             '`default-profile` (a binary carries no crate metadata).\n'
                             '\n'
                             '## Where it is reported\n'
                             'Like AP001, on the line that makes the build glibc: the FROM of the\n'
                             'builder image whose default target it is (`rust:1`, a cargo-chef '
                             'image),\n'
                             'the FROM of the build stage when a RUN there installed the '
                             'toolchain\n'
                             '(`zypper install cargo`, rustup-init on Debian), or the `--target` '
                             'of the\n'
                             'build; not on the final FROM, which only says where the binary runs. '
                             'A\n'
                             'suppression comment may also sit above the final FROM or the build\n'
                             "stage's FROM.\n"
                             '\n'
                             '## Why is this bad?\n'
                             'glibc malloc fragments under multi-threaded load, often doubling '
                             'RSS.\n'
                             '\n'
                             '## Example\n'
                             'A `rust:1` build copied into `gcr.io/distroless/cc-debian12` with '
                             'no\n'
                             'allocator crate.\n'
                             '\n'
                             '## Fix\n'
                             'Add mimalloc (option a of the guidance), or declare\n'
                             '`profile = "simple"` for a low-traffic app.\n',
            'fix': {'action': 'add-mimalloc',
                    'params': {'placement': 'dependencies'},
                    'safety': 'safe'},
            'id': 'AP003',
            'message': '{image} ships `{binary}` ({target}) on the system allocator; recommended '
                       'is {recommended_text} for profile `{profile}` (declare profile = "simple" '
                       'if it is a low-traffic app)',
            'name': 'mimalloc-default',
            'rationale': "glibc's malloc fragments under concurrent load and uses more memory than "
                         'the modern allocators: an HTTP load generator measured 236,837 req/s '
                         'with glibc against 250,572 with jemalloc (hatoo/oha issue 208), and '
                         "jemalloc cut a service's RSS by 60% against glibc (gean PR 432), so "
                         'mimalloc is the default and glibc is for apps declared `profile = '
                         '"simple"`. mimalloc\'s own benchmarks (microsoft/mimalloc readme, 2021) '
                         "are the vendor's; mimalloc can raise peak memory (rustic-rs/rustic issue "
                         "1820), so test under the container's memory limit.",
            'severity': 'warning',
            'subject': 'binary',
            'summary': 'A glibc Rust binary should use mimalloc unless its profile is `simple`.',
            'when': {'all': [{'eq': 'glibc', 'fact': 'libc'},
                             {'eq': 'system', 'fact': 'allocator'},
                             {'fact': 'profile', 'ne': 'simple'}]}},
           {'documentation': '## What it does\n'
                             'Finds a mimalloc dependency that leaves default features on.\n'
                             '\n'
                             '## Why is this bad?\n'
                             'On mimalloc <= 0.1.37 it builds the hardened `secure` mode, about '
                             '10%\n'
                             'slower. On 0.1.38 and later it is a no-op; the rule then reports at\n'
                             '`info` severity when Cargo.lock proves the version.\n'
                             '\n'
                             '## Example\n'
                             '```toml\n'
                             'mimalloc = "0.1"\n'
                             '```\n'
                             '\n'
                             '## Fix\n'
                             '```toml\n'
                             'mimalloc = { version = "0.1", default-features = false }\n'
                             '```\n',
            'fix': {'action': 'set-default-features-false', 'safety': 'safe'},
            'id': 'AP004',
            'message': "`{key}` keeps mimalloc's default features; add default-features = false "
                       '(it disables `secure` mode on mimalloc <= 0.1.37 and is a no-op from '
                       '0.1.38{locked_text})',
            'name': 'mimalloc-default-features',
            'rationale': 'On mimalloc 0.1.1 to 0.1.37 the default features include `secure` (guard '
                         "pages, encrypted free lists), about 10% slower by upstream's measure "
                         '(purpleprotocol/mimalloc_rust README), and `default-features = false` '
                         'turns it off. From 0.1.38 (2023-08, commit ec6b98d) `secure` is no '
                         'longer a default and the setting changes nothing, so with a Cargo.lock '
                         'at 0.1.38 or later the finding is informational.',
            'severity': 'warning',
            'severity_overrides': [{'severity': 'info',
                                    'when': {'fact': 'locked_version', 'version_ge': '0.1.38'}}],
            'subject': 'dependency',
            'summary': 'Declare mimalloc with `default-features = false`.',
            'when': {'all': [{'eq': 'mimalloc', 'fact': 'crate'},
                             {'fact': 'default_features', 'is': True},
                             {'fact': 'workspace', 'is': False}]}},
           {'documentation': '## What it does\n'
                             'Finds an allocator crate (mimalloc, tikv-jemallocator, tcmalloc, '
                             '...)\n'
                             'declared by a crate with a binary target when no '
                             '`#[global_allocator]`\n'
                             'static in that crate uses it.\n'
                             '\n'
                             '## Why is this bad?\n'
                             'The binary keeps the system allocator; the build just got slower.\n'
                             "Crates that install themselves are not reported: mimalloc's "
                             '`override`\n'
                             "feature, jemalloc's `unprefixed_malloc_on_supported_platforms` (on\n"
                             '`tikv-jemallocator` or `tikv-jemalloc-sys`, enabled by any crate of '
                             'the\n'
                             'build: cargo unifies features, so a workspace-hack crate counts), '
                             'and\n'
                             '`tikv-jemallocator-global`.\n'
                             '\n'
                             'A static counts when its type names the crate, or wraps it\n'
                             '(`Counting<tikv_jemallocator::Jemalloc>`, a local struct with a '
                             'jemalloc\n'
                             'field, an initializer that hands one in), and when a macro call '
                             'declares\n'
                             'it (`common::enable_jemalloc!();`, with `macro_rules! '
                             'enable_jemalloc`\n'
                             'in a crate of the repository). A macro call that may declare it but '
                             'that\n'
                             'this scan cannot read (its crate is not in the scan) leaves the '
                             'question\n'
                             'open: no finding.\n'
                             '\n'
                             '## Example\n'
                             '```toml\n'
                             '[dependencies]\n'
                             'mimalloc = { version = "0.1", default-features = false }\n'
                             '```\n'
                             'with `src/main.rs` declaring no `#[global_allocator]`.\n'
                             '\n'
                             '## Fix\n'
                             'Add `#[global_allocator] static GLOBAL: mimalloc::MiMalloc = '
                             'mimalloc::MiMalloc;`\n'
                             "to the binary's root source file.\n",
            'fix': {'action': 'add-global-allocator', 'safety': 'safe'},
            'id': 'AP005',
            'message': '`{key}` ({crate}) is a dependency of a binary crate but no '
                       '#[global_allocator] uses it',
            'name': 'allocator-not-wired',
            'rationale': 'Rust uses the system allocator unless a `#[global_allocator]` static '
                         'names another (stable since Rust 1.28), so a mimalloc dependency without '
                         '`#[global_allocator] static GLOBAL: mimalloc::MiMalloc = '
                         'mimalloc::MiMalloc;` compiles the allocator into the binary and uses '
                         'none of it. Crates that activate an allocator without a static '
                         "(mimalloc's `override` feature, `tikv-jemallocator-global`) are not "
                         'reported.',
            'severity': 'error',
            'subject': 'dependency',
            'summary': "An allocator crate in a binary crate's dependencies must be used by a "
                       '`#[global_allocator]`.',
            'when': {'all': [{'fact': 'allocator',
                              'in': ['mimalloc', 'jemalloc', 'tcmalloc', 'other']},
                             {'fact': 'binary_crate', 'is': True},
                             {'fact': 'wired', 'is': False},
                             {'fact': 'activates_itself', 'is': False}]}},
           {'documentation': '## What it does\n'
                             'Compares the cfg of each `#[global_allocator]` static with the '
                             'target\n'
                             'table (and optional feature) of the dependency it uses, for the '
                             'targets\n'
                             "the repository's images build plus x86_64 gnu and musl: with "
                             'default\n'
                             'features, all features, and (for a static without its crate, which '
                             'fails\n'
                             'to compile) no default features. A crate left unused because the '
                             'user\n'
                             'turned on an opt-out switch (`#[cfg(not(feature = '
                             '"disable-mimalloc"))]`)\n'
                             "is their choice, not a mismatch, and a feature set without a bin's\n"
                             '`required-features` does not build that bin (cargo skips it).\n'
                             '\n'
                             '## Example\n'
                             '```toml\n'
                             '[target.\'cfg(target_env = "musl")\'.dependencies]\n'
                             'mimalloc = { version = "0.1", default-features = false }\n'
                             '```\n'
                             '```rust\n'
                             '#[global_allocator]   // no #[cfg]: a glibc build fails with E0433\n'
                             'static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\n'
                             '```\n'
                             '\n'
                             '## Fix\n'
                             "Give the static the dependency's cfg: `#[cfg(target_env = "
                             '"musl")]`. The\n'
                             'fix writes the exact condition under which the dependency exists: '
                             'the\n'
                             '`any(...)` of every target table that declares it, and the feature '
                             'that\n'
                             'enables an optional one. `use mimalloc::MiMalloc;` lines move with '
                             'the\n'
                             'static, and an opt-out switch of the old gate stays:\n'
                             '`all(feature = "mimalloc", not(feature = "disable-mimalloc"))`. '
                             'Where\n'
                             'another `#[global_allocator]` may serve the same binary, the\n'
                             'old gate that keeps the two apart stays: `all(feature = "jemalloc",\n'
                             'not(feature = "jemalloc-profiled"))`. No fix is offered when a `use` '
                             'is\n'
                             'gated otherwise, or another static is always there.\n',
            'fix': {'action': 'align-allocator-cfg', 'safety': 'safe'},
            'id': 'AP006',
            'message': '#[global_allocator] {allocator_crate} is gated by {cfg_text} but its '
                       'dependency by {dependency_cfg_text}: {mismatch}',
            'name': 'allocator-cfg-mismatch',
            'rationale': 'The `#[global_allocator]` static and its dependency must carry the same '
                         'cfg: a static whose crate is left out fails to compile (a glibc build, '
                         "when the dependency sits under `[target.'cfg(target_env = "
                         '"musl")\'.dependencies]`), and a crate whose static is left out keeps '
                         'the system allocator without a word (on musl, measured 7x slower on '
                         "nickb.dev's benchmark). Real projects gate both the same way (ruff's "
                         '`crates/ruff/Cargo.toml` and `main.rs`).',
            'severity': 'error',
            'subject': 'global_allocator',
            'summary': 'The `#[global_allocator]` static and its dependency must be gated by the '
                       'same cfg.',
            'when': {'fact': 'cfg_mismatch', 'is': True}},
           {'artifact': {'message': 'LD_PRELOAD (set in {preload_source}) for `{path}` names '
                                    '{preload_missing_text}, not in the image after its layers: '
                                    'the loader only warns and the service runs on its {allocator} '
                                    'allocator',
                         'subject': 'artifact_binary',
                         'when': {'all': [{'fact': 'entrypoint', 'is': True},
                                          {'fact': 'preload_missing_text', 'ne': 'none'}]}},
            'documentation': '## What it does\n'
                             'Checks that the final stage installs (apt/apk/dnf) or copies the '
                             'file\n'
                             'named by LD_PRELOAD, and that the path is the one that distro uses.\n'
                             '\n'
                             '## Example\n'
                             '```dockerfile\n'
                             'FROM debian:bookworm-slim\n'
                             'ENV LD_PRELOAD=/usr/lib/libmimalloc.so\n'
                             '```\n'
                             '\n'
                             '## Fix\n'
                             'Install the package and use its path:\n'
                             '`RUN apt-get update && apt-get install -y --no-install-recommends '
                             'libmimalloc2.0`\n'
                             'and `ENV LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2`.\n',
            'fix': {'action': 'fix-ld-preload-path', 'safety': 'unsafe'},
            'id': 'AP007',
            'message': 'LD_PRELOAD={path} {status_text}',
            'name': 'ld-preload-library-missing',
            'rationale': 'A preload of a file that does not exist only makes the loader print a '
                         'warning, and the service runs on the system allocator. The path differs '
                         "per distribution and release (read from the packages): Debian bookworm's "
                         '`libmimalloc2.0` installs `/usr/lib/x86_64-linux-gnu/libmimalloc.so.2`, '
                         "trixie, today's `rust:1`, has `libmimalloc3` with `libmimalloc.so.3`, "
                         "and Alpine's `mimalloc2` installs `/usr/lib/libmimalloc.so.2`; the "
                         "guidance's `/usr/lib/libmimalloc.so` is mimalloc's own `make install` "
                         'layout, in no Debian package.',
            'severity': 'warning',
            'subject': 'ld_preload',
            'summary': 'The library LD_PRELOAD names must be installed or copied into the stage, '
                       "at that distro's path.",
            'when': {'all': [{'fact': 'library_status', 'in': ['missing', 'wrong-path']},
                             {'fact': 'runtime_libc', 'ne': 'static'}]}},
           {'documentation': '## What it does\n'
                             'Finds dependencies on `jemallocator` (and `jemalloc-ctl`, '
                             '`jemalloc-sys`).\n'
                             '\n'
                             '## Example\n'
                             '```toml\n'
                             '[dependencies]\n'
                             'jemallocator = "0.5"\n'
                             '```\n'
                             '\n'
                             '## Fix\n'
                             '```toml\n'
                             'tikv-jemallocator = "0.6"\n'
                             '```\n'
                             'and `tikv_jemallocator::Jemalloc` in the sources. `allocpolicy fix` '
                             'renames the\n'
                             "workspace's `jemalloc-ctl` and `jemalloc-sys` to their `tikv-` twins "
                             'with it (old\n'
                             'and new names side by side do not build: both link the native '
                             '`jemalloc`), and\n'
                             "every `[features]` entry that names them. An optional dependency's "
                             'implicit\n'
                             'feature keeps its name, so `--features jemallocator` still works:\n'
                             '`jemallocator = ["dep:tikv-jemallocator"]`. Where a jemalloc crate '
                             'comes from a\n'
                             'path, git or a `[patch]`, or the edited manifest would not be one '
                             'cargo accepts,\n'
                             'no fix is offered: rename it by hand.\n',
            'fix': {'action': 'rename-jemallocator', 'safety': 'safe'},
            'id': 'AP008',
            'message': '`{crate}` is unmaintained (frozen at 0.5.4); use `tikv-{crate}`',
            'name': 'deprecated-allocator-crate',
            'rationale': '`jemallocator` is frozen at 0.5.4 (2023-07), published by the TiKV '
                         'project "for historical reasons"; `tikv-jemallocator` (0.6, 0.7) is the '
                         "maintained crate and gets the fixes. The guidance's `jemallocator = "
                         '"0.5"` names the legacy crate.',
            'severity': 'warning',
            'subject': 'dependency',
            'summary': 'Use `tikv-jemallocator`, not the frozen `jemallocator` name.',
            'when': {'fact': 'crate', 'in': ['jemallocator', 'jemalloc-ctl', 'jemalloc-sys']}},
           {'documentation': '## What it does\n'
                             'Finds `#[global_allocator]` statics that a library target compiles '
                             'with\n'
                             "its default features, for the targets the repository's images build\n"
                             "plus x86_64 gnu and musl. The gates of the static's module path "
                             'count:\n'
                             '`#[cfg(feature = "jemalloc")] mod jemalloc;` in `lib.rs` gates '
                             'every\n'
                             'static in `jemalloc.rs`.\n'
                             '\n'
                             'Not reported, because no binary gets an allocator it did not ask '
                             'for:\n'
                             'a static behind a feature the library leaves off by default (the '
                             'Fix\n'
                             'below, which a binary turns on), a static only tests compile\n'
                             '(`#[cfg(test)]`), a static in a `crate-type = ["cdylib"]` or\n'
                             '`["staticlib"]` library, which is a final artifact like a binary '
                             '(so\n'
                             'is a `["dylib"]` no crate of the repository links: a plugin loaded '
                             'at\n'
                             'run time), and\n'
                             'a crate that is only an allocator choice: its `lib.rs` holds '
                             'nothing\n'
                             'but `#[global_allocator]` statics and their `use`s, and crates of '
                             'the\n'
                             'repository with binaries depend on it, no library of it (depending '
                             'on\n'
                             'it is choosing it). Without such a dependent it is a library for\n'
                             'others, and reported.\n'
                             '\n'
                             '## Example\n'
                             '```rust\n'
                             '// src/lib.rs of a library crate\n'
                             '#[global_allocator]\n'
                             'static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\n'
                             '```\n'
                             '\n'
                             '## Fix\n'
                             "Move the static to the binary's `main.rs`; if the library needs the\n"
                             'option, gate it behind a cargo feature that is off by default and '
                             'that\n'
                             'only binaries turn on.\n',
            'fix': None,
            'id': 'AP009',
            'message': 'library crate {crate} declares #[global_allocator] ({allocator_name}) with '
                       'its default features; declare it in the binary instead',
            'name': 'global-allocator-in-library',
            'rationale': 'Rust allows one global allocator per program, so a `#[global_allocator]` '
                         'in a library forces that allocator on every binary that links the '
                         'library, and a binary that declares its own fails to link. The allocator '
                         "is the application's choice, declared in its `src/main.rs`.",
            'severity': 'warning',
            'subject': 'global_allocator',
            'summary': 'Only binaries should choose the global allocator.',
            'when': {'fact': 'in_library', 'is': True}},
           {'documentation': '## What it does\n'
                             'Compares the allocator a binary crate wires with the allocators the\n'
                             'decision tree recommends for its declared\n'
                             '`[package.metadata.allocpolicy] profile`.\n'
                             '\n'
                             '## Example\n'
                             '```toml\n'
                             '[package.metadata.allocpolicy]\n'
                             'profile = "long-running"\n'
                             '```\n'
                             'in a crate whose `#[global_allocator]` is `mimalloc::MiMalloc` (the '
                             'profile\n'
                             'recommends jemalloc).\n'
                             '\n'
                             '## Fix\n'
                             'Wire the recommended allocator, or correct the profile.\n',
            'fix': None,
            'id': 'AP010',
            'message': 'crate {crate} declares profile `{profile}` (recommended: '
                       '{recommended_text}) but uses {allocator}',
            'name': 'allocator-mismatches-profile',
            'rationale': 'The profile says what the service does and the allocator should fit it: '
                         'simple, low-traffic apps keep glibc malloc; frequent large buffers (over '
                         '32 KB) and long-running services (over 7 days) favour jemalloc, which '
                         'cut RSS by 60% against glibc (gean PR 432); everything else mimalloc. '
                         "The thresholds are the guidance's decision tree, not measurements; the "
                         '`tcmalloc` crate it names for large buffers is abandoned (0.3, 2019) and '
                         'does not build for musl.',
            'severity': 'info',
            'subject': 'crate',
            'summary': "The allocator disagrees with the crate's declared profile.",
            'when': {'all': [{'fact': 'binary_crate', 'is': True},
                             {'fact': 'profile_declared', 'is': True},
                             {'fact': 'profile', 'ne': 'simple'},
                             {'not': {'fact': 'allocator', 'in_fact': 'recommended'}}]}},
           {'artifact': {'message': '`{path}` loads its allocator by LD_PRELOAD={preload} (set in '
                                    '{preload_source}); it works in this image, but linking '
                                    'mimalloc as #[global_allocator] travels with the binary',
                         'subject': 'artifact_binary',
                         'when': {'all': [{'fact': 'entrypoint', 'is': True},
                                          {'exists': True, 'fact': 'preload'},
                                          {'eq': 'dynamic', 'fact': 'linkage'},
                                          {'eq': 'none', 'fact': 'preload_missing_text'},
                                          {'eq': 'none', 'fact': 'preload_not_allocator_text'}]}},
            'documentation': '## What it does\n'
                             'Notes LD_PRELOAD of an allocator in an image whose binaries are\n'
                             'dynamically linked: it works, but option (a) is simpler to keep '
                             'right.\n'
                             '\n'
                             '## Example\n'
                             '```dockerfile\n'
                             'FROM debian:bookworm-slim\n'
                             'RUN apt-get update && apt-get install -y libmimalloc2.0\n'
                             'COPY --from=build /src/target/release/svc /svc\n'
                             'ENV LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2\n'
                             '```\n'
                             '\n'
                             '## Fix\n'
                             'Link mimalloc with `#[global_allocator]` and drop the preload.\n',
            'fix': None,
            'id': 'AP011',
            'message': 'LD_PRELOAD={path} works here, but linking mimalloc (option a) is preferred',
            'name': 'prefer-linked-allocator',
            'rationale': 'A linked allocator travels with the binary, while LD_PRELOAD needs the '
                         'library at the exact path in the image: the path changes between Debian '
                         'bookworm (`libmimalloc.so.2`) and trixie (`libmimalloc.so.3`), and a '
                         'missing file only prints a warning while the service runs on the system '
                         'allocator. LD_PRELOAD works here; linking mimalloc is the sturdier '
                         'choice.',
            'severity': 'info',
            'subject': 'ld_preload',
            'summary': 'LD_PRELOAD works in this image, but linking mimalloc is preferred.',
            'when': {'all': [{'eq': 'dynamic', 'fact': 'binary_linkage'},
                             {'fact': 'runtime_libc', 'in': ['glibc', 'musl']},
                             {'exists': True, 'fact': 'library_allocator'},
                             {'fact': 'library_status', 'in': ['provided', 'unknown']}]}},
           {'documentation': '## What it does\n'
                             'Pairs each Rust binary of the artifact with the binaries the '
                             "repository's\n"
                             'images ship, by file name (the cargo binary or target name): any '
                             'image\n'
                             'whose shipped binary has that name. It fires when the repository '
                             'links a\n'
                             'known allocator (mimalloc, jemalloc, ...; the one linked in, not an\n'
                             'LD_PRELOAD) and the binary, read with high or medium confidence, '
                             'has\n'
                             'another one, or when the repository builds for musl and the binary '
                             'is\n'
                             'glibc (or the other way round). An unknown on either side, a binary '
                             'read\n'
                             'with low confidence, or a name no image ships is shown in the output '
                             'and\n'
                             'never reported: unknown never warns.\n'
                             '\n'
                             '## Where it is reported\n'
                             "On the binary inside the artifact. The message names both sides'\n"
                             "evidence: the repository's `#[global_allocator]` (file:line) and "
                             'the\n'
                             "Containerfile line that ships the binary, and the binary's symbols "
                             'or\n'
                             'strings.\n'
                             '\n'
                             '## Example\n'
                             '```rust\n'
                             '#[global_allocator]\n'
                             'static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\n'
                             '```\n'
                             "while the image's `/app` has jemalloc's `<jemalloc>:` strings.\n"
                             '\n'
                             '## Fix\n'
                             'Rebuild the artifact from this repository, or find why the build '
                             'links\n'
                             'another allocator (a feature, a build step outside the '
                             'Containerfile)\n'
                             'and fix the source or the build.\n',
            'fix': None,
            'id': 'AP012',
            'message': '`{path}` disagrees with the repository: {disagreement}. Repository: '
                       '{source_evidence}. Binary: {binary_evidence}',
            'name': 'source-artifact-disagreement',
            'rationale': '`allocpolicy inspect --repo` reads the repository as `inventory` does '
                         'and the binary as it was built. When both are known and differ, one of '
                         'them is wrong about the image that runs: either the source analysis '
                         'missed how the binary is really built (a false negative, so its other '
                         'verdicts on this image cannot be trusted either), or the artifact is '
                         'stale or built from elsewhere (a release download, another branch, a '
                         'cache). Either way the allocator the repository promises is not the one '
                         'in production, which is what every other rule exists to prevent: an '
                         'error, not a warning.',
            'severity': 'error',
            'subject': 'artifact_source',
            'summary': "The built binary's allocator (or libc) is not the one the repository's "
                       'source says.',
            'when': {'all': [{'eq': 'disagree', 'fact': 'outcome'}]}},
           {'documentation': '## What it does\n'
                             'Reports files that are malformed in a way cargo or BuildKit would '
                             'reject\n'
                             'too: broken TOML, TOML nested deeper than cargo reads, binary '
                             'content or\n'
                             'invalid UTF-8 in a manifest or source, an unterminated heredoc, ...\n'
                             'Files allocpolicy skips because of its own bounds (size, file type, '
                             'a\n'
                             'link out of the tree) are AP903, at info severity.\n'
                             '\n'
                             '## Example\n'
                             '```toml\n'
                             '[dependencies\n'
                             'serde = "1"\n'
                             '```\n'
                             '\n'
                             '## Fix\n'
                             'Fix the syntax at the reported line, or exclude the path in\n'
                             'allocpolicy.toml.\n',
            'fix': None,
            'id': 'AP900',
            'message': '{message}',
            'name': 'parse-error',
            'rationale': 'A file allocpolicy cannot read is a file it cannot check; the scan goes '
                         'on with the rest and says which file and line stopped it.',
            'severity': 'error',
            'subject': 'parse_error',
            'summary': 'A file could not be read or parsed.',
            'when': {'exists': True, 'fact': 'message'}},
           {'documentation': '## What it does\n'
                             "Notes a final stage whose base image is not in allocpolicy's image "
                             'table\n'
                             '(a private image, an unresolved ARG, a digest-only reference).\n'
                             '\n'
                             '## Example\n'
                             '```dockerfile\n'
                             'FROM registry.example.com/base:1\n'
                             'COPY --from=build /src/target/release/app /app\n'
                             '```\n'
                             '\n'
                             '## Fix\n'
                             'Set the ARG in allocpolicy.toml `[build-args]`, or ignore the '
                             'note.\n',
            'fix': None,
            'id': 'AP901',
            'message': "base image `{base}` is not in allocpolicy's image table; its libc is "
                       'unknown',
            'name': 'unknown-base-image',
            'rationale': 'allocpolicy does not guess: an image it does not know produces no '
                         'findings about its libc, only this note.',
            'severity': 'info',
            'subject': 'unknown_image',
            'summary': 'The libc of a base image that ships a Rust binary is not known.',
            'when': {'exists': True, 'fact': 'base'}},
           {'documentation': '## What it does\n'
                             'Reports `allocpolicy: ignore[...]` comments that matched no '
                             'finding.\n'
                             '\n'
                             '## Example\n'
                             '```dockerfile\n'
                             '# allocpolicy: ignore[AP002]\n'
                             'COPY app /app\n'
                             '```\n'
                             'where line 2 has no AP002 finding.\n'
                             '\n'
                             '## Fix\n'
                             'Delete the comment.\n',
            'fix': {'action': 'remove-suppression', 'safety': 'safe'},
            'id': 'AP902',
            'message': 'suppression of {rules_text} suppresses nothing',
            'name': 'unused-suppression',
            'rationale': 'A stale `allocpolicy: ignore[...]` hides nothing today and will hide a '
                         'real finding tomorrow.',
            'severity': 'info',
            'subject': 'suppression',
            'summary': 'A suppression comment that suppresses nothing.',
            'when': {'exists': True, 'fact': 'rules'}},
           {'documentation': '## What it does\n'
                             'Notes each file allocpolicy left unread: larger than '
                             '`max-file-size`\n'
                             '(8 MiB by default), not a regular file (FIFO, socket, device), a\n'
                             'symbolic link whose target is outside the scanned tree, a directory '
                             'it\n'
                             'may not list, or a file whose analysis hit an internal error. '
                             'Nothing\n'
                             'from such a file is reported, printed or written.\n'
                             '\n'
                             '## Example\n'
                             'A generated 12 MB `src/tables.rs` gives `file is 12582912 bytes, '
                             'over the\n'
                             '8388608-byte limit (max-file-size); skipped`.\n'
                             '\n'
                             '## Fix\n'
                             'Nothing is required. To have the file read, raise `max-file-size` '
                             'in\n'
                             'allocpolicy.toml (at most 64MiB), replace the link by the file, or\n'
                             'exclude the path to silence the note.\n',
            'fix': None,
            'id': 'AP903',
            'message': '{reason}',
            'name': 'file-skipped',
            'rationale': 'A file over the size cap, a FIFO or device, or a link out of the scanned '
                         "tree is not the repository's error: allocpolicy does not read it, the "
                         'facts it would give are unknown, and unknown never fails a build.',
            'severity': 'info',
            'subject': 'skipped_file',
            'summary': "A file was not read because of allocpolicy's own bounds.",
            'when': {'exists': True, 'fact': 'reason'}}],
 'version': 1}
