"""How an image's binary is built and where it travels (issue 12, "see the build").

Each test is a small hand-written repository whose Containerfile builds the binary
through a wrapper, moves it around, builds several binaries in one stage, leaves
non-binaries in target/, or installs someone else's tool; the inventory row must
carry the facts of the build that made the binary (or say why they are unknown).
"""

from __future__ import annotations

import pytest
from helpers import MIMALLOC_DEP, STATIC, cargo, rules_of, run_allocpolicy, write_tree

from allocpolicy.facts.cargo_cmd import parse_cargo
from allocpolicy.facts.shell import Command

MAIN = "fn main() {}\n"
APP = {"Cargo.toml": cargo("app"), "src/main.rs": MAIN}
MUSL = "x86_64-unknown-linux-musl"
GNU = "x86_64-unknown-linux-gnu"
TWO_BINS = {
    "Cargo.toml": cargo("app")
    + '\n[[bin]]\nname = "api"\npath = "src/main.rs"\n'
    + '\n[[bin]]\nname = "worker"\npath = "src/worker.rs"\n',
    "src/main.rs": MAIN,
    "src/worker.rs": MAIN,
}


FAST = {
    "Cargo.toml": cargo("app", MIMALLOC_DEP.replace("}", ", optional = true }"))
    + '\n[features]\nfast = ["dep:mimalloc"]\n',
    "src/main.rs": '#[cfg(feature = "fast")]\n' + STATIC + MAIN,
}


def stage(run: str, base: str = "rust:1.82-bookworm") -> str:
    return f"FROM {base} AS b\nWORKDIR /w\nCOPY . .\n{run}\n"


def rows(result) -> dict[str, dict]:
    return {r["binary"]: r for r in result.inventory if r["binary"]}


def reasons(row: dict) -> str:
    return " ".join(row["reasons"])


# ---------------------------------------------------------------- cargo wrappers

WRAPPED = [
    "mold -run cargo build --release",
    "mold --run cargo build --release",
    "rustup run stable cargo build --release",
    "nice -n 10 cargo build --release",
    "cargo auditable build --release",
    "cargo --locked build --release",
    "cargo +nightly -Z unstable-options build --release",
    "cargo zigbuild --release",
    "cargo-zigbuild build --release",
    "time mold -run cargo build --release",
    "cross build --release",
    "env CC=clang cargo build --release",
]


@pytest.mark.parametrize("build", WRAPPED)
def test_a_wrapped_cargo_build_is_the_build(scan_tree, build):
    files = {
        **APP,
        "Dockerfile": stage(f"RUN {build} --target {MUSL}")
        + f"FROM scratch\nCOPY --from=b /w/target/{MUSL}/release/app /app\n",
    }
    result = scan_tree(files)
    row = rows(result)["app"]
    assert (row["crate"], row["target"], row["linkage"]) == ("app", MUSL, "static")
    assert rules_of(result) == ["AP001"]
    # and the same wrapper without --target: the builder's host, read from the build
    files["Dockerfile"] = stage(f"RUN {build}") + (
        "FROM debian:bookworm-slim\nCOPY --from=b /w/target/release/app /usr/local/bin/app\n"
    )
    row = rows(scan_tree(files))["app"]
    assert row["target"] == GNU, row["reasons"]


def test_env_chdir_moves_where_cargo_runs():
    # `env -C sub cargo build`: the crate built is the one in sub/, whatever the shell reader
    # hands over: `env` kept as the command, or already stripped to its operands
    build = parse_cargo(Command(["env", "-C", "crates/srv", "X=1", "cargo", "build", "-r"]))
    assert build is not None
    assert (build.chdir, build.profile, build.env) == ("crates/srv", "release", {"X": "1"})
    nested = parse_cargo(Command(["cargo", "-C", "sub", "--config", f"build.target='{MUSL}'", "b"]))
    assert nested is not None and (nested.chdir, nested.config_target) == ("sub", MUSL)


def test_cargo_chdir_builds_the_crate_in_that_directory(scan_tree):
    files = {
        "Cargo.toml": '[workspace]\nmembers = ["srv", "cli"]\n',
        "srv/Cargo.toml": cargo("srv"),
        "srv/src/main.rs": MAIN,
        "cli/Cargo.toml": cargo("cli"),
        "cli/src/main.rs": MAIN,
        "Dockerfile": stage("RUN cargo -C srv build --release")
        + "FROM debian:bookworm-slim\nCOPY --from=b /w/target/release/ /usr/local/bin/\n",
    }
    assert sorted(rows(scan_tree(files))) == ["srv"]


XX = "FROM --platform=$BUILDPLATFORM tonistiigi/xx AS xx\n"


def xx_build(base: str, runtime: str) -> str:
    return XX + (
        f"FROM --platform=$BUILDPLATFORM {base} AS b\nCOPY --from=xx / /\nARG TARGETPLATFORM\n"
        "WORKDIR /w\nCOPY . .\n"
        "RUN xx-cargo build --release --bin app && "
        "cp target/$(xx-cargo --print-target-triple)/release/app /app\n"
        f"FROM {runtime}\nCOPY --from=b /app /usr/local/bin/app\n"
    )


@pytest.mark.parametrize(
    ("base", "runtime", "platform", "triple"),
    [
        ("rust:1.82-bookworm", "debian:bookworm-slim", None, GNU),
        ("rust:1.82-bookworm", "debian:bookworm-slim", "linux/arm64", "aarch64-unknown-linux-gnu"),
        ("rust:1.82-alpine", "alpine:3.20", "linux/arm64", "aarch64-unknown-linux-musl"),
    ],
)
def test_xx_cargo_builds_for_the_target_platform_with_the_base_libc(
    scan_tree, base, runtime, platform, triple
):
    files = {**APP, "Dockerfile": xx_build(base, runtime)}
    if platform:
        files["allocpolicy.toml"] = f'[build-args]\nTARGETPLATFORM = "{platform}"\n'
    row = rows(scan_tree(files))["app"]
    assert (row["crate"], row["target"]) == ("app", triple), row["reasons"]
    assert "xx-cargo" in reasons(row)


def test_xx_cargo_chef_cook_builds_no_binary(scan_tree):
    files = {
        **APP,
        "Dockerfile": XX
        + "FROM rust:1.82-bookworm AS b\nCOPY --from=xx / /\nWORKDIR /w\nCOPY . .\n"
        "RUN xx-cargo chef cook --release --recipe-path recipe.json\n"
        "RUN make dist\n"
        "FROM debian:bookworm-slim\nCOPY --from=b /w/target/release/app /usr/local/bin/app\n",
    }
    row = rows(scan_tree(files))["app"]
    assert row["target"] is None
    assert "`make dist` (line 7) runs a build whose commands are not read here" in reasons(row)


@pytest.mark.parametrize(
    "driver", ["make release", "just build", "./build.sh", "bash scripts/build-release.sh"]
)
def test_a_build_driver_after_cargo_makes_the_build_facts_unknown(scan_tree, driver):
    files = {
        **APP,
        "Dockerfile": stage(f"RUN cargo build --release --target {MUSL}\nRUN {driver}")
        + "FROM debian:bookworm-slim\nCOPY --from=b /w/target/release/app /usr/local/bin/app\n",
    }
    row = rows(scan_tree(files))["app"]
    assert row["target"] is None  # not the earlier cargo build's musl: a guess
    assert f"`{driver}` (line 5)" in reasons(row)


def test_a_script_that_is_no_build_keeps_the_cargo_build(scan_tree):
    files = {
        **APP,
        "Dockerfile": stage(
            f"RUN cargo build --release --target {MUSL}\nRUN ./docker/setup-user.sh"
        )
        + f"FROM scratch\nCOPY --from=b /w/target/{MUSL}/release/app /app\n",
    }
    assert rows(scan_tree(files))["app"]["target"] == MUSL


# ---------------------------------------------------------------- artifact moves

MOVES = {
    "mv into an existing dir": ("mv target/{t}/release/app /usr/local/bin", "/usr/local/bin/app"),
    "cp to a new name": ("cp target/{t}/release/app /srv-bin", "/srv-bin"),
    "cp into a made dir": ("mkdir -p /out && cp target/{t}/release/app /out", "/out/app"),
    "install -m -D": (
        "install -m 755 -D target/{t}/release/app /opt/app/bin/app",
        "/opt/app/bin/app",
    ),
    "install -t": ("install -Dm755 -t /opt/bin target/{t}/release/app", "/opt/bin/app"),
    "cp -r the profile dir": ("cp -r target/{t}/release /dist", "/dist/app"),
    "cp -r into an existing dir": (
        "mkdir /dist && cp -r target/{t}/release/ /dist",
        "/dist/release/app",
    ),
    "two hops and a strip": (
        "strip target/{t}/release/app && mv target/{t}/release/app /tmp/x && mv /tmp/x /final",
        "/final",
    ),
    "find -exec cp": ("find target -name app -type f -exec cp {{}} /out/ \\;", "/out/app"),
    "ln -s": ("mv target/{t}/release/app /opt/app && ln -s /opt/app /usr/bin/app", "/usr/bin/app"),
}


@pytest.mark.parametrize("shape", sorted(MOVES))
def test_a_moved_binary_keeps_its_build_facts(scan_tree, shape):
    move, where = MOVES[shape]
    files = {
        **APP,
        "Dockerfile": stage(f"RUN cargo build --release --target {MUSL} && {move.format(t=MUSL)}")
        + f"FROM scratch\nCOPY --from=b {where} /app\n",
    }
    result = scan_tree(files)
    row = rows(result)["app"]
    assert (row["crate"], row["target"], row["linkage"]) == ("app", MUSL, "static"), row["reasons"]
    assert "AP001" in rules_of(result)


COPIES = {
    "several sources into a dir": (
        "COPY --from=b /w/target/release/api /w/target/release/worker /usr/local/bin/\n"
    ),
    "each into an existing dir": (
        "COPY --from=b /w/target/release/api /usr/local/bin\n"
        "COPY --from=b /w/target/release/worker /usr/local/bin\n"
    ),
    "the profile dir whole": "COPY --from=b /w/target/release /usr/local/bin/\n",
    "a dir of moved artifacts": "COPY --from=b /out/ /usr/local/bin/\n",
    "a dir holding them, then from there": (
        "COPY --from=b /out /opt/out\nRUN cp /opt/out/api /opt/out/worker /usr/local/bin/\n"
    ),
    "a glob over moved artifacts": "COPY --from=b /out/* /usr/local/bin/\n",
    "a stage holding the dir": "COPY --from=c /pkg/ /usr/local/bin/\n",
}


@pytest.mark.parametrize("shape", sorted(COPIES))
def test_buildkit_copy_placement_keeps_each_binary(scan_tree, shape):
    files = {
        **TWO_BINS,
        "Dockerfile": stage(
            "RUN cargo build --release && mkdir /out && "
            "cp target/release/api target/release/worker /out/"
        )
        + "FROM debian:bookworm-slim AS c\nCOPY --from=b /out /pkg\n"
        + "FROM debian:bookworm-slim\n"
        + COPIES[shape]
        + 'CMD ["api"]\n',
    }
    found = rows(scan_tree(files))
    assert sorted(found) == ["api", "worker"]
    for row in found.values():
        assert (row["crate"], row["target"]) == ("app", GNU), row["reasons"]


def test_copy_of_a_directory_source_copies_its_contents(scan_tree):
    files = {
        **APP,
        "Dockerfile": stage(f"RUN cargo build --release --target {MUSL}")
        + f"FROM scratch\nCOPY --from=b /w/target/{MUSL}/release/ /bin\n",
    }
    row = rows(scan_tree(files))["app"]
    assert (row["target"], row["linkage"]) == (MUSL, "static")


# ---------------------------------------------------------------- every build counts


def test_each_binary_is_tied_to_the_build_that_made_it(scan_tree):
    files = {
        **TWO_BINS,
        "Dockerfile": stage(
            f"RUN cargo build --release --bin api --target {MUSL}\n"
            "RUN cargo build --release --bin worker"
        )
        + "FROM debian:bookworm-slim\n"
        + f"COPY --from=b /w/target/{MUSL}/release/api /usr/local/bin/api\n"
        + "COPY --from=b /w/target/release/worker /usr/local/bin/worker\n",
    }
    found = rows(scan_tree(files))
    assert (found["api"]["target"], found["worker"]["target"]) == (MUSL, GNU)


def test_the_package_of_the_binary_picks_its_build(scan_tree):
    files = {
        "Cargo.toml": '[workspace]\nmembers = ["api", "worker"]\n',
        "api/Cargo.toml": FAST["Cargo.toml"].replace('"app"', '"api"'),
        "api/src/main.rs": FAST["src/main.rs"],
        "worker/Cargo.toml": cargo("worker"),
        "worker/src/main.rs": MAIN,
        "Dockerfile": stage(
            f"RUN cargo build --release -p api --features fast --target {MUSL}\n"
            f"RUN cargo build --release -p worker --target {MUSL}"
        )
        + "FROM alpine:3.20\n"
        + f"COPY --from=b /w/target/{MUSL}/release/api /w/target/{MUSL}/release/worker /usr/bin/\n",
    }
    result = scan_tree(files)
    found = rows(result)
    assert (found["api"]["crate"], found["api"]["allocator"]) == ("api", "mimalloc")
    assert (found["worker"]["crate"], found["worker"]["allocator"]) == ("worker", "system")
    assert [(f.rule, "worker" in f.message) for f in result.findings] == [("AP001", True)]


def test_the_profile_in_the_path_picks_the_build(scan_tree):
    files = {
        **FAST,
        "Dockerfile": stage(
            f"RUN cargo build --release --features fast --target {MUSL}\n"
            f"RUN cargo build --target {MUSL}"
        )
        + f"FROM scratch\nCOPY --from=b /w/target/{MUSL}/release/app /app\n",
    }
    result = scan_tree(files)
    assert rows(result)["app"]["allocator"] == "mimalloc"  # the --release build's features
    assert rules_of(result) == []


# ---------------------------------------------------------------- not binaries


def test_libraries_and_debug_files_from_target_are_not_binaries(scan_tree):
    files = {
        **APP,
        "Dockerfile": stage(f"RUN cargo build --release --target {MUSL}")
        + "FROM scratch\n"
        + "".join(
            f"COPY --from=b /w/target/{MUSL}/release/{name} /opt/\n"
            for name in ("app", "libapp.so", "app.dwp", "app.d", "libapp.rlib", "libapp.a")
        )
        + f"COPY --from=b /w/target/{MUSL}/release/build /opt/build\n"
        + f"COPY --from=b /w/target/{MUSL}/release/deps /opt/deps\n"
        + "COPY --from=b /w/target/release/app.pdb /opt/\n",
    }
    result = scan_tree(files)
    assert sorted(rows(result)) == ["app"]
    assert rules_of(result) == ["AP001"]


# ---------------------------------------------------------------- cargo install


TOOLS = (
    "cargo install cargo-watch && cargo install sqlx-cli --version 0.7.4 && "
    "cargo install --locked cargo-deny@0.14.3 && cargo binstall -y cargo-nextest && "
    "cargo install --git https://example.invalid/tool.git && cargo auditable install diesel_cli"
)


def test_third_party_tools_installed_with_cargo_are_not_this_repository(scan_tree):
    files = {**APP, "Dockerfile": stage(f"RUN {TOOLS}", base="rust:1.82-alpine")}
    result = scan_tree(files)
    assert rows(result) == {}
    assert rules_of(result) == []


def test_a_dev_image_with_tools_still_ships_the_repository_build(scan_tree):
    files = {
        **APP,
        "Dockerfile": stage(f"RUN {TOOLS}\nRUN cargo build --release", base="rust:1.82-alpine"),
    }
    result = scan_tree(files)
    assert sorted(rows(result)) == ["app"]


@pytest.mark.parametrize("install", ["cargo install --path .", "cargo install --locked app@0.1.0"])
def test_cargo_install_of_this_repository_is_its_binary(scan_tree, install):
    files = {
        **APP,
        "Dockerfile": stage(f"RUN cargo install cargo-chef && {install} --target {MUSL}")
        + "FROM scratch\nCOPY --from=b /usr/local/cargo/bin/app /app\n",
    }
    row = rows(scan_tree(files))["app"]
    assert (row["crate"], row["target"]) == ("app", MUSL)


def test_a_workdir_named_build_is_no_intermediate_directory(scan_tree):
    files = {
        **TWO_BINS,
        "Dockerfile": "FROM rust:1.82-bookworm AS b\nWORKDIR /build\nCOPY . /build\n"
        "RUN cargo build --bin api --release\nRUN cargo build --bin worker --release\n"
        "FROM gcr.io/distroless/cc\nCOPY --from=b /build/target/release/api .\n"
        "COPY --from=b /build/target/release/worker .\n",
    }
    found = rows(scan_tree(files))
    assert {n: (r["target"], r["binary_libc"]) for n, r in found.items()} == {
        "api": (GNU, "glibc"),
        "worker": (GNU, "glibc"),
    }


def test_a_symlinked_profile_directory_is_followed(scan_tree):
    files = {
        **APP,
        "Dockerfile": stage(
            f"RUN cargo build --release --target {MUSL} && "
            f"ln -vfsr /w/target/{MUSL}/release /w/target/final"
        )
        + "FROM scratch\nCOPY --from=b /w/target/final/app /app\n",
    }
    row = rows(scan_tree(files))["app"]
    assert (row["target"], row["linkage"]) == (MUSL, "static"), row["reasons"]


def test_a_tool_install_in_the_build_stage_is_not_what_target_holds(scan_tree):
    files = {
        **APP,
        "Dockerfile": XX + "FROM rust:1.82-bookworm AS b\nCOPY --from=xx / /\nWORKDIR /w\n"
        "RUN cargo install cargo-sbom\nCOPY . .\n"
        'RUN ${LG_PAGE:+env LG_PAGE="${LG_PAGE}"} xx-cargo build --profile $PROFILE --bin app '
        "&& DIR=$(echo $PROFILE) && mv target/$(xx-cargo --print-target-triple)/$DIR/app /w/app\n"
        "FROM debian:bookworm-slim\nCOPY --from=b /w/app /usr/local/bin/app\n",
    }
    row = rows(scan_tree(files))["app"]
    assert (row["crate"], row["target"]) == ("app", GNU), row["reasons"]
    assert "xx-cargo" in reasons(row)


def test_a_build_inside_an_if_is_read(scan_tree):
    files = {
        **APP,
        "Dockerfile": stage(
            'RUN if [ "$FAST" = 1 ]; then cargo build --release --target '
            f"{MUSL} && cp target/{MUSL}/release/app /app; else echo none; fi"
        )
        + "FROM scratch\nCOPY --from=b /app /app\n",
    }
    row = rows(scan_tree(files))["app"]
    assert (row["target"], row["linkage"]) == (MUSL, "static"), row["reasons"]


def test_make_install_leaves_a_binary_with_unknown_build_facts(scan_tree):
    files = {
        **APP,
        "Dockerfile": stage("RUN make install-app")
        + "FROM debian:bookworm-slim\nCOPY --from=b /usr/local/cargo/bin/app /usr/local/bin/app\n"
        + "COPY --from=b /usr/local/lib/libpq.so.5 /usr/local/lib/\n",
    }
    found = rows(scan_tree(files))
    assert sorted(found) == ["app"]  # the library the stage also holds is no binary of this repo
    assert "`make install-app` (line 4)" in reasons(found["app"])


def test_thousands_of_builds_moves_and_directory_copies_end(tmp_path):
    # every move once looked at every artifact and build of the stage: this file took
    # minutes; run as the real command with a deadline, it must end with its finding
    lines = ["FROM rust:1.82-alpine AS b", "WORKDIR /w", "COPY . ."]
    lines += [f"RUN cargo build --release --bin a{i}" for i in range(2000)]
    lines += [
        f"RUN cp target/release/a{i} /out{i}/ && mkdir -p /d{i} && cp -r target/release /t{i}"
        for i in range(3000)
    ]
    lines.append("FROM alpine:3.20")
    for i in range(3000):
        lines += [f"COPY --from=b /out{i} /opt/x{i}", f"COPY --from=b /t{i} /opt/t{i}"]
    lines += [f"RUN mv /opt/x{i} /opt/y{i}" for i in range(3000)]
    lines.append("COPY --from=b /w/target/release/app /usr/local/bin/app")
    write_tree(tmp_path, {**APP, "Dockerfile": "\n".join(lines) + "\n"})
    done = run_allocpolicy("scan", "--format", "json", ".", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert '"AP001"' in done.stdout


def test_cargo_build_all_at_a_root_package_builds_every_member(scan_tree):
    # the root is a package and the workspace; `--all` builds the members' binaries too
    files = {
        "Cargo.toml": cargo("engine") + '\n[workspace]\nmembers = ["cli"]\n',
        "src/lib.rs": "",
        "cli/Cargo.toml": cargo("engine-cli")
        + '\n[[bin]]\nname = "engine"\npath = "src/main.rs"\n',
        "cli/src/main.rs": "fn main() {}\n",
        "Dockerfile": "FROM rust:1-bookworm AS b\nWORKDIR /app\nCOPY . .\n"
        "RUN cargo build --release --all\n"
        "FROM debian:bookworm-slim\nCOPY --from=b /app/target/release/engine /usr/bin/\n",
    }
    row = rows(scan_tree(files))["engine"]
    assert (row["crate"], row["target"]) == ("engine-cli", GNU), row["reasons"]


def test_a_release_path_only_cargo_chef_built_is_its_placeholder(scan_tree):
    # the real build is a debug one; target/release/app is cargo-chef's stand-in
    files = {
        **APP,
        "Dockerfile": "FROM lukemathwalker/cargo-chef:latest-rust-1 AS b\nWORKDIR /app\n"
        "COPY recipe.json .\nRUN cargo chef cook --release --recipe-path recipe.json\n"
        "COPY . .\nRUN cargo build\n"
        "FROM debian:bookworm-slim\nCOPY --from=b /app/target/release/app /usr/bin/\n",
        "recipe.json": "{}",
    }
    result = scan_tree(files)
    row = rows(result)["app"]
    assert (row["crate"], row["allocator"]) == (None, "unknown"), row["reasons"]
    assert "placeholder" in reasons(row)
    assert not [f for f in result.findings if f.rule == "AP003"]
    # the cook built it, for its own target: what runs is a glibc binary, dynamically linked
    assert (row["target"], row["binary_libc"], row["linkage"]) == (GNU, "glibc", "dynamic")


def test_a_placeholder_cooked_for_musl_is_musl_and_still_no_finding(scan_tree):
    files = {
        **APP,
        "Dockerfile": "FROM rust:1-alpine AS b\nRUN cargo install cargo-chef\nWORKDIR /app\n"
        "COPY recipe.json .\nRUN cargo chef cook --release --recipe-path recipe.json\n"
        "COPY . .\nRUN cargo build\n"
        "FROM alpine:3.20\nCOPY --from=b /app/target/release/app /usr/bin/\n",
        "recipe.json": "{}",
    }
    result = scan_tree(files)
    row = rows(result)["app"]
    assert (row["binary_libc"], row["allocator"]) == ("musl", "unknown"), row["reasons"]
    assert [f.rule for f in result.findings if f.severity.value != "info"] == []
