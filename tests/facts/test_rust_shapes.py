"""Rust-source shapes that decide which allocator a build links (issue 12, "Rust sources").

Each test is a small hand-written repository: the module a static sits in, the type
that wraps the allocator, the macro that declares it, a feature that installs
jemalloc without one, and where AP009 applies.
"""

from __future__ import annotations

import subprocess

import pytest
from helpers import cargo, rules_of

from allocpolicy.frontdoors.precommit import scan_changed

MAIN = "fn main() {}\n"
JEMALLOC = "tikv_jemallocator::Jemalloc"
JEM_STATIC = f"#[global_allocator]\nstatic ALLOC: {JEMALLOC} = {JEMALLOC};\n"
OPTIONAL_JEM = 'tikv-jemallocator = { version = "0.6", optional = true }'
JEM_FEATURE = '\n[features]\nbundled-jemalloc = ["dep:tikv-jemallocator"]\n'


def bookworm(binary: str, build: str = "cargo build --release") -> str:
    return (
        f"FROM rust:1.82-bookworm AS b\nWORKDIR /w\nCOPY . .\nRUN {build}\n"
        f"FROM debian:bookworm-slim\nCOPY --from=b /w/target/release/{binary} /usr/local/bin/{binary}\n"
    )


def row(result, binary: str) -> dict:
    [found] = [r for r in result.inventory if r["binary"] == binary]
    return found


# ---------------------------------------------------------------- module path cfg

LAYOUTS = {
    "file": {
        "src/lib.rs": '#[cfg(feature = "bundled-jemalloc")]\npub mod heap;\n',
        "src/heap.rs": JEM_STATIC,
    },
    "mod.rs": {
        "src/lib.rs": '#[cfg(feature = "bundled-jemalloc")]\npub mod heap;\n',
        "src/heap/mod.rs": "mod select;\n",
        "src/heap/select.rs": JEM_STATIC,
    },
    "path attribute": {
        "src/lib.rs": '#[cfg(feature = "bundled-jemalloc")]\n#[path = "platform/jem.rs"]\nmod heap;\n',
        "src/platform/jem.rs": JEM_STATIC,
    },
    "inline module": {
        "src/lib.rs": 'mod rt {\n    #[cfg(feature = "bundled-jemalloc")]\n    pub mod heap;\n}\n',
        "src/rt/heap.rs": JEM_STATIC,
    },
    "inner attribute": {
        "src/lib.rs": "pub mod heap;\n",
        "src/heap.rs": '#![cfg(feature = "bundled-jemalloc")]\n' + JEM_STATIC,
    },
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_a_static_is_gated_by_the_cfg_of_its_module(scan_tree, layout):
    files = {
        "Cargo.toml": cargo("relay", OPTIONAL_JEM) + JEM_FEATURE,
        "src/main.rs": "use relay as _;\n" + MAIN,
        **LAYOUTS[layout],
        "Dockerfile": bookworm("relay", "cargo build --release --features bundled-jemalloc"),
    }
    result = scan_tree(files)
    # no AP006 "a default build fails to compile", no AP009 (the feature is opt-in)
    assert rules_of(result) == []
    assert row(result, "relay")["allocator"] == "jemalloc"
    files["Dockerfile"] = bookworm("relay")
    result = scan_tree(files)
    assert row(result, "relay")["allocator"] == "system"  # default features: no module, no static


def test_a_pre_commit_check_of_the_module_file_sees_its_gate(tmp_path, scan_tree):
    files = {
        "Cargo.toml": cargo("relay", OPTIONAL_JEM) + JEM_FEATURE,
        "src/main.rs": "use relay as _;\n" + MAIN,
        **LAYOUTS["mod.rs"],
    }
    assert rules_of(scan_tree(files)) == []
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    assert scan_changed(tmp_path, ["src/heap/select.rs"]).findings == []


def test_the_module_walk_stays_in_the_tree_and_ends(scan_tree):
    files = {
        "Cargo.toml": cargo("relay", OPTIONAL_JEM) + JEM_FEATURE,
        "src/main.rs": '#[path = "../../../../outside.rs"]\nmod outside;\n'
        '#[path = "main.rs"]\nmod again;\nmod missing;\n'
        '#[cfg(feature = "bundled-jemalloc")]\nmod heap;\n' + MAIN,
        "src/heap.rs": "mod heap_again;\n" + JEM_STATIC,
        "src/heap/heap_again.rs": '#[path = "../heap.rs"]\nmod up;\n',
    }
    assert rules_of(scan_tree(files)) == []


def test_a_bin_module_gate_counts_for_that_bin_only(scan_tree):
    files = {
        "Cargo.toml": cargo("relay", OPTIONAL_JEM) + JEM_FEATURE,
        "src/main.rs": '#[cfg(feature = "bundled-jemalloc")]\nmod heap;\n' + MAIN,
        "src/heap.rs": JEM_STATIC,
        "src/bin/admin.rs": MAIN,
        "Dockerfile": bookworm("relay", "cargo build --release --features bundled-jemalloc")
        + "COPY --from=b /w/target/release/admin /usr/local/bin/admin\n",
    }
    result = scan_tree(files)
    assert "AP006" not in rules_of(result)
    assert row(result, "relay")["allocator"] == "jemalloc"
    assert row(result, "admin")["allocator"] == "system"


def test_an_ungated_module_still_breaks_the_default_build(scan_tree):
    files = {
        "Cargo.toml": cargo("relay", OPTIONAL_JEM) + JEM_FEATURE,
        "src/main.rs": "mod heap;\n" + MAIN,
        "src/heap.rs": JEM_STATIC,
    }
    [finding] = scan_tree(files).findings
    assert finding.rule == "AP006" and "default features has the static but not" in finding.message


# ---------------------------------------------------------------- test-only statics


def test_test_only_statics_with_dev_dependencies_are_no_shipped_build(scan_tree):
    files = {
        "Cargo.toml": cargo("ledger")
        + '\n[dev-dependencies]\nmimalloc = { version = "0.1", default-features = false }\n',
        "src/lib.rs": "#[cfg(all(unix, test))]\n#[global_allocator]\n"
        "static A: mimalloc::MiMalloc = mimalloc::MiMalloc;\n\n#[cfg(test)]\nmod checks;\n",
        "src/checks.rs": "#[global_allocator]\nstatic B: mimalloc::MiMalloc = mimalloc::MiMalloc;\n",
    }
    assert rules_of(scan_tree(files)) == []  # neither AP006 (no such dependency) nor AP009


# ---------------------------------------------------------------- wrapping types


WRAPPERS = {
    "local struct field": (
        "struct Metered {\n    inner: tikv_jemallocator::Jemalloc,\n    count: usize,\n}\n"
        "impl Metered {\n    const fn new() -> Self {\n"
        "        Self { inner: tikv_jemallocator::Jemalloc, count: 0 }\n    }\n}\n"
        "#[global_allocator]\nstatic ALLOC: Metered = Metered::new();\n"
    ),
    "generic argument of a local module's type": (
        "mod metering;\nuse tikv_jemallocator::Jemalloc;\n"
        "#[global_allocator]\nstatic ALLOC: metering::Counted<Jemalloc> = metering::Counted::wrap(Jemalloc);\n"
    ),
    "self path with an initializer argument": (
        "mod metering;\n#[global_allocator]\n"
        "static ALLOC: self::metering::Counted<tikv_jemallocator::Jemalloc> =\n"
        "    self::metering::count(tikv_jemallocator::Jemalloc);\n"
    ),
}


@pytest.mark.parametrize("shape", sorted(WRAPPERS))
def test_a_type_wrapping_the_allocator_wires_it(scan_tree, shape):
    files = {
        "Cargo.toml": cargo("meter", 'tikv-jemallocator = "0.6"'),
        "src/main.rs": WRAPPERS[shape] + MAIN,
        "src/metering.rs": "pub struct Counted<A>(pub A);\n",
        "Dockerfile": bookworm("meter"),
    }
    result = scan_tree(files)
    assert rules_of(result) == []  # no AP005 "not wired", no AP006 "no dependency provides"
    assert row(result, "meter")["allocator"] == "jemalloc"


def test_a_wrapped_optional_allocator_without_its_feature_is_still_a_mismatch(scan_tree):
    files = {
        "Cargo.toml": cargo("meter", OPTIONAL_JEM) + JEM_FEATURE,
        "src/main.rs": "mod metering;\n#[global_allocator]\n"
        f"static ALLOC: metering::Counted<{JEMALLOC}> = metering::Counted({JEMALLOC});\n" + MAIN,
        "src/metering.rs": "pub struct Counted<A>(pub A);\n",
    }
    [finding] = scan_tree(files).findings
    assert finding.rule == "AP006" and "tikv_jemallocator" in finding.message


def test_a_custom_allocator_of_unknown_make_is_unknown_not_an_error(scan_tree):
    files = {
        "Cargo.toml": cargo("meter"),
        "src/main.rs": "struct Bump;\nunsafe impl std::alloc::GlobalAlloc for Bump { }\n"
        "#[global_allocator]\nstatic ALLOC: Bump = Bump;\n" + MAIN,
        "Dockerfile": bookworm("meter"),
    }
    result = scan_tree(files)
    assert rules_of(result) == []
    assert row(result, "meter")["allocator"] == "unknown"


# ---------------------------------------------------------------- macros

ALLOC_MACRO = (
    "#[macro_export]\nmacro_rules! install_jemalloc {\n    () => {\n"
    "        #[cfg(unix)]\n        #[global_allocator]\n"
    f"        static ALLOC: {JEMALLOC} = {JEMALLOC};\n    }};\n}}\n"
)


def macro_workspace(**extra: str) -> dict[str, str]:
    return {
        "Cargo.toml": '[workspace]\nmembers = ["base", "launcher", "api", "worker"]\n',
        "base/Cargo.toml": cargo("base", 'tikv-jemallocator = "0.6"'),
        "base/src/lib.rs": "pub mod heap;\n",
        "base/src/heap.rs": ALLOC_MACRO,
        "launcher/Cargo.toml": cargo("launcher", 'base = { path = "../base" }'),
        "launcher/src/lib.rs": "#[macro_export]\nmacro_rules! launch {\n    ($run:ident) => {\n"
        "        base::install_jemalloc!();\n        fn main() { $run() }\n    };\n}\n",
        "api/Cargo.toml": cargo("api", 'base = { path = "../base" }\ntikv-jemallocator = "0.6"'),
        "api/src/main.rs": "base::install_jemalloc!();\n" + MAIN,
        "worker/Cargo.toml": cargo(
            "worker",
            'launcher = { path = "../launcher" }\nbase = { path = "../base" }\ntikv-jemallocator = "0.6"',
        ),
        "worker/src/main.rs": "fn run() {}\nlauncher::launch!(run);\n",
        **extra,
    }


def test_a_workspace_macro_that_declares_the_static_wires_the_caller(scan_tree):
    files = macro_workspace(
        Dockerfile=bookworm("api", "cargo build --release -p api -p worker")
        + "COPY --from=b /w/target/release/worker /usr/local/bin/worker\n"
    )
    result = scan_tree(files)
    assert rules_of(result) == []  # AP005 on neither api nor worker; no fix adds a second static
    assert row(result, "api")["allocator"] == "jemalloc"
    assert (
        row(result, "worker")["allocator"] == "jemalloc"
    )  # through launch!, then install_jemalloc!


def test_a_macro_of_a_crate_this_scan_cannot_read_makes_wiring_unknown(scan_tree):
    files = {
        "Cargo.toml": cargo(
            "api", 'platform = { path = "../platform" }\ntikv-jemallocator = "0.6"'
        ),
        "src/main.rs": "platform::setup!();\n" + MAIN,
        "Dockerfile": bookworm("api"),
    }
    result = scan_tree(files)
    assert "AP005" not in rules_of(result)
    reasons = " ".join(row(result, "api")["reasons"])
    assert row(result, "api")["allocator"] == "unknown" and "platform::setup!" in reasons
    files["src/main.rs"] = MAIN  # without the call, the dependency is plainly unwired
    assert "AP005" in rules_of(scan_tree(files))


# ---------------------------------------------------------------- jemalloc without a static


UNPREFIXED = '"unprefixed_malloc_on_supported_platforms"'


def test_unprefixed_jemalloc_installs_itself_like_mimallocs_override(scan_tree):
    files = {
        "Cargo.toml": cargo(
            "svc", f'tikv-jemallocator = {{ version = "0.6", features = [{UNPREFIXED}] }}'
        ),
        "src/main.rs": MAIN,
        "Dockerfile": bookworm("svc"),
    }
    result = scan_tree(files)
    assert rules_of(result) == []  # no AP005, no AP003: jemalloc replaces malloc
    assert row(result, "svc")["allocator"] == "jemalloc"


def test_unprefixed_jemalloc_through_a_workspace_hack_crate(scan_tree):
    files = {
        "Cargo.toml": '[workspace]\nmembers = ["svc", "tools", "hack", "metrics"]\n',
        "hack/Cargo.toml": cargo(
            "workspace-hack",
            f'tikv-jemalloc-sys = {{ version = "0.6", features = [{UNPREFIXED}] }}',
        ),
        "hack/src/lib.rs": "",
        "metrics/Cargo.toml": cargo("metrics", 'tikv-jemalloc-ctl = "0.6"'),
        "metrics/src/lib.rs": "",
        "svc/Cargo.toml": cargo(
            "svc", 'tikv-jemallocator = "0.6"\nworkspace-hack = { path = "../hack" }'
        ),
        "svc/src/main.rs": MAIN,
        "tools/Cargo.toml": cargo(
            "tools", 'metrics = { path = "../metrics" }\nworkspace-hack = { path = "../hack" }'
        ),
        "tools/src/main.rs": MAIN,
        "Dockerfile": bookworm("svc", "cargo build --release -p svc -p tools")
        + "COPY --from=b /w/target/release/tools /usr/local/bin/tools\n",
    }
    result = scan_tree(files)
    assert "AP005" not in rules_of(result)  # cargo unifies the -sys crate's features
    assert row(result, "svc")["allocator"] == "jemalloc"
    # tools links jemalloc only through metrics: whether it replaces malloc is the linker's call
    tools = row(result, "tools")
    assert tools["allocator"] == "unknown"
    assert any("unprefixed" in r for r in tools["reasons"])


# ---------------------------------------------------------------- AP009


def test_ap009_skips_a_library_static_behind_an_opt_in_feature(scan_tree):
    files = {
        "Cargo.toml": cargo("proxy", OPTIONAL_JEM) + JEM_FEATURE,
        "src/lib.rs": "pub mod alloc_select;\n",
        "src/alloc_select.rs": '#[cfg(feature = "bundled-jemalloc")]\n' + JEM_STATIC,
        "src/main.rs": "use proxy as _;\n" + MAIN,
    }
    assert "AP009" not in rules_of(scan_tree(files))
    files["Cargo.toml"] = files["Cargo.toml"].replace(
        "[features]\n", '[features]\ndefault = ["bundled-jemalloc"]\n'
    )
    [finding] = [f for f in scan_tree(files).findings if f.rule == "AP009"]
    assert "(jemalloc)" in finding.message  # the allocator, not the type's first segment


def test_ap009_names_the_system_allocator_and_skips_a_cdylib(scan_tree):
    lib = (
        "use std::alloc::System;\n#[global_allocator]\nstatic GLOBAL: System = System;\n\n"
        "pub fn bridge_version() -> u32 {\n    1\n}\n"
    )
    files = {"Cargo.toml": cargo("bridge"), "src/lib.rs": lib}
    [finding] = scan_tree(files).findings
    assert finding.rule == "AP009" and "(system)" in finding.message
    files["Cargo.toml"] = cargo("bridge", extra='[lib]\ncrate-type = ["cdylib"]\n')
    assert rules_of(scan_tree(files)) == []  # the library is the final artifact, like a binary


def test_ap009_skips_a_dylib_plugin_that_no_crate_links(scan_tree):
    # a plugin the host process loads at run time: its allocator is its own choice
    lib = (
        "use std::alloc::System;\n#[global_allocator]\nstatic HOST: System = System;\n\n"
        'pub fn plugin_name() -> &\'static str {\n    "example"\n}\n'
    )
    plugin = cargo("plugin", extra='[lib]\ncrate-type = ["dylib"]\n')
    files = {"Cargo.toml": plugin, "src/lib.rs": lib}
    assert "AP009" not in rules_of(scan_tree(files))
    # a dylib that a crate of the repository links hands the allocator on: reported
    files = {
        "Cargo.toml": '[workspace]\nmembers = ["plugin", "host"]\n',
        "plugin/Cargo.toml": plugin,
        "plugin/src/lib.rs": lib,
        "host/Cargo.toml": cargo("host", 'plugin = { path = "../plugin" }'),
        "host/src/lib.rs": "pub use plugin::plugin_name;\n",
    }
    assert "AP009" in rules_of(scan_tree(files))


ALLOC_ONLY = (
    "//! The binary's allocator, chosen by depending on this crate.\n"
    '#[cfg(not(target_os = "windows"))]\n#[global_allocator]\n'
    "static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;\n"
)


def _alloc_workspace(lib_rs: str, dependent: str) -> dict[str, str]:
    return {
        "Cargo.toml": '[workspace]\nmembers = ["heap", "app", "core"]\n',
        "heap/Cargo.toml": cargo("heap", 'tikv-jemallocator = "0.6"'),
        "heap/src/lib.rs": lib_rs,
        "app/Cargo.toml": cargo("app", 'heap = { path = "../heap" }' if dependent == "app" else ""),
        "app/src/main.rs": MAIN,
        "core/Cargo.toml": cargo(
            "core", 'heap = { path = "../heap" }' if dependent == "core" else ""
        ),
        "core/src/lib.rs": "pub fn answer() -> u32 {\n    42\n}\n",
    }


def test_ap009_leaves_a_crate_that_is_only_the_binarys_allocator_alone(scan_tree):
    # uv's pattern: `heap` holds nothing but the static; the binary depends on it to choose it
    assert "AP009" not in rules_of(scan_tree(_alloc_workspace(ALLOC_ONLY, "app")))


@pytest.mark.parametrize(
    ("lib_rs", "dependent"),
    [
        (ALLOC_ONLY + "\npub fn stats() -> usize {\n    0\n}\n", "app"),  # a library too
        (ALLOC_ONLY, "core"),  # a library hands it on to binaries that never asked
    ],
)
def test_ap009_still_reports_an_allocator_crate_that_is_more(scan_tree, lib_rs, dependent):
    [finding] = [
        f for f in scan_tree(_alloc_workspace(lib_rs, dependent)).findings if f.rule == "AP009"
    ]
    assert finding.location.path == "heap/src/lib.rs"


def test_bins_of_a_cdylib_crate_do_not_get_its_static(scan_tree):
    files = {
        "Cargo.toml": cargo(
            "bridge", 'tikv-jemallocator = "0.6"', extra='[lib]\ncrate-type = ["cdylib"]\n'
        ).replace("[dependencies]", "[dependencies]"),
        "src/lib.rs": JEM_STATIC,
        "src/bin/gen.rs": MAIN,
        "Dockerfile": bookworm("gen"),
    }
    result = scan_tree(files)
    assert row(result, "gen")["allocator"] == "system"


# ---------------------------------------------------------------- required-features


def test_a_bin_that_requires_the_allocators_feature_is_not_built_without_it(scan_tree):
    # the bin's static uses an optional crate that its own `required-features` turn on:
    # a build without them skips the bin, it does not fail to compile it
    manifest = (
        cargo("node", 'mimalloc = { version = "0.1", default-features = false, optional = true }')
        + '\n[features]\ndefault = ["cli"]\ncli = ["cmd"]\ncmd = ["dep:mimalloc"]\n'
        + '\n[[bin]]\nname = "node"\npath = "bin/main.rs"\nrequired-features = ["cli"]\n'
    )
    files = {
        "Cargo.toml": manifest,
        "src/lib.rs": "pub fn serve() {}\n",
        "bin/main.rs": "#[global_allocator]\nstatic GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\n"
        + MAIN,
    }
    assert "AP006" not in rules_of(scan_tree(files))
    # without required-features the no-default build does compile it, and fails
    files["Cargo.toml"] = manifest.replace('required-features = ["cli"]\n', "")
    [finding] = [f for f in scan_tree(files).findings if f.rule == "AP006"]
    assert "no default features" in finding.message
