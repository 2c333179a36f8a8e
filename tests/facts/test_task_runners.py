"""`RUN make TARGET` and `RUN just RECIPE`: the build is the recipe, read from the file.

The Makefile or justfile comes from the build context; its recipe lines are read as
shell, with the task runner's variables and the RUN's environment, and never run.
Where the file is not in the context, the build facts are unknown with a reason.
"""

from __future__ import annotations

from helpers import MIMALLOC_DEP, STATIC, cargo

MAIN = "fn main() {}\n"
WORKSPACE = {
    "Cargo.toml": '[workspace]\nmembers = ["cli"]\n',
    "cli/Cargo.toml": cargo("cli"),
    "cli/src/main.rs": MAIN,
}
MAKEFILE = (
    "PROFILE ?= release\n"
    "FEATURES ?=\n"
    "TARGET := x86_64-unknown-linux-musl\n"
    "\n"
    ".PHONY: build install-cli\n"
    "build:\n"
    '\tcargo build --profile $(PROFILE) --target $(TARGET) --features "$(FEATURES)"\n'
    "\n"
    "install-cli:\n"
    "\tcargo install --path cli --locked \\\n"
    "\t\t--profile $(PROFILE)\n"
)


def _row(result):
    (row,) = [r for r in result.inventory if r["binary"]]
    return row


def test_make_runs_the_rule_that_builds_for_musl(scan_tree):
    dockerfile = (
        "FROM rust:1-bookworm AS build\nWORKDIR /src\nCOPY . .\nRUN make build\n"
        "FROM scratch\n"
        "COPY --from=build /src/target/x86_64-unknown-linux-musl/release/cli /cli\n"
        'ENTRYPOINT ["/cli"]\n'
    )
    result = scan_tree({**WORKSPACE, "Makefile": MAKEFILE, "Dockerfile": dockerfile})
    row = _row(result)
    assert (row["target"], row["linkage"], row["allocator"]) == (
        "x86_64-unknown-linux-musl",
        "static",
        "system",
    )
    assert [f.rule for f in result.findings] == ["AP001"]


def test_make_install_in_a_subdirectory_is_a_glibc_install(scan_tree):
    dockerfile = (
        "FROM rust:1-bookworm AS build\nCOPY . /work\nRUN cd /work && make install-cli\n"
        "FROM debian:bookworm-slim\n"
        "COPY --from=build /usr/local/cargo/bin/cli /usr/local/bin/cli\n"
        'CMD ["cli"]\n'
    )
    result = scan_tree({**WORKSPACE, "Makefile": MAKEFILE, "Dockerfile": dockerfile})
    row = _row(result)
    assert (row["target"], row["binary_libc"], row["allocator"]) == (
        "x86_64-unknown-linux-gnu",
        "glibc",
        "system",
    )
    assert [f.rule for f in result.findings] == ["AP003"]


def test_just_with_overrides_runs_the_recipe(scan_tree):
    justfile = (
        'libc := "gnu"\n'
        'arch := "x86_64"\n'
        'target := arch + "-unknown-linux-" + libc\n'
        "\n"
        "build *flags:\n"
        '    cargo build --target {{ target }} "$@"\n'
    )
    dockerfile = (
        "FROM rust:1-bookworm AS build\nWORKDIR /src\nCOPY . .\n"
        "RUN just libc=musl build --release -p cli\n"
        "FROM alpine:3.20\n"
        "COPY --from=build /src/target/x86_64-unknown-linux-musl/release/cli /usr/bin/\n"
        'ENTRYPOINT ["cli"]\n'
    )
    files = {**WORKSPACE, "justfile": "set positional-arguments\n\n" + justfile}
    result = scan_tree({**files, "Dockerfile": dockerfile})
    row = _row(result)
    assert (row["target"], row["linkage"]) == ("x86_64-unknown-linux-musl", "static")
    assert [f.rule for f in result.findings] == ["AP001"]


def test_a_makefile_outside_the_context_leaves_the_build_unknown(scan_tree):
    dockerfile = (
        "FROM rust:1-bookworm AS build\nWORKDIR /src\nCOPY cli cli\nCOPY Cargo.toml .\n"
        "RUN make build\n"
        "FROM debian:bookworm-slim\n"
        "COPY --from=build /src/target/release/cli /usr/local/bin/cli\n"
        'CMD ["cli"]\n'
    )
    result = scan_tree({**WORKSPACE, "Makefile": MAKEFILE, "Dockerfile": dockerfile})
    # the Makefile was never copied in: what `make build` ran is not visible
    row = _row(result)
    assert (row["target"], row["binary_libc"]) == (None, "unknown")
    assert "`make build`" in " ".join(row["reasons"])
    assert result.findings == []


def test_a_recipe_calling_make_again_ends(scan_tree):
    loop = "all:\n\t$(MAKE) all\n"
    dockerfile = "FROM rust:1-bookworm\nWORKDIR /src\nCOPY . .\nRUN make\n"
    result = scan_tree({**WORKSPACE, "Makefile": loop, "Dockerfile": dockerfile})
    assert not [f for f in result.findings if f.severity == "error"]


def test_a_members_dockerfile_builds_with_the_workspace_as_context(scan_tree):
    # `docker build -f cli/Dockerfile .`: a member that inherits from its workspace
    # cannot build without the root, so `COPY . /work` copies the workspace
    files = {
        "Cargo.toml": '[workspace]\nmembers = ["cli"]\n\n[workspace.package]\nedition = "2021"\n',
        "cli/Cargo.toml": '[package]\nname = "cli"\nversion = "0.1.0"\nedition.workspace = true\n',
        "cli/src/main.rs": MAIN,
        "Makefile": MAKEFILE,
        "cli/Dockerfile": (
            "FROM rust:1-bookworm AS build\nCOPY . /work\nRUN cd /work && make install-cli\n"
            "FROM debian:bookworm-slim\n"
            "COPY --from=build /usr/local/cargo/bin/cli /usr/local/bin/cli\n"
            'CMD ["cli"]\n'
        ),
    }
    result = scan_tree(files)
    assert (_row(result)["target"], _row(result)["allocator"]) == (
        "x86_64-unknown-linux-gnu",
        "system",
    )
    assert [(f.rule, f.location.path) for f in result.findings] == [("AP003", "cli/Dockerfile")]


# ---------------------------------------------------------------- `$(just …)` in a RUN

# The arch comes from the build's platform; cargo gets --target unless it is the host's.
CROSS_JUSTFILE = (
    'platform := ""\n'
    'abi := "gnu"\n'
    '_cpu := if platform == "amd64" { "x86_64" } else if platform == "arm64" { "aarch64" } else {\n'
    '        error("unsupported platform " + platform)\n'
    "    }\n"
    'triple := _cpu + "-unknown-linux-" + abi\n'
    "_native := `rustc -vV | sed -n 's|host: ||p'`\n"
    '_cross := if triple != _native { triple } else { "" }\n'
    "\n"
    "build *args:\n"
    '    cargo build {{ if _cross != "" { "--target " + _cross } else { "" } }} {{ args }}\n'
    "\n"
    "triple-dir:\n"
    "    @echo {{ _cross }}\n"
    "\n"
    "noisy-dir:\n"
    "    ls target | head -n 1\n"
)


def _cross_image(builder: str, run: str, runtime: str) -> str:
    return (
        f"FROM {builder} AS build\nARG TARGETARCH\nWORKDIR /src\nCOPY . .\n{run}\n"
        f"FROM {runtime}\nCOPY --from=build /usr/local/bin/cli /usr/local/bin/cli\n"
        'ENTRYPOINT ["/usr/local/bin/cli"]\n'
    )


def test_a_path_from_just_print_finds_the_binary_just_built(scan_tree):
    # a builder image nobody knows: rustc's host is unknown; two builds, the path says which
    run = (
        "RUN just platform=amd64 build --release \\\n"
        " && just platform=arm64 abi=musl build --release \\\n"
        " && mv target/$(just platform=arm64 abi=musl triple-dir)/release/cli /usr/local/bin/"
    )
    dockerfile = _cross_image("registry.example/rust-dev:3", run, "scratch")
    result = scan_tree({**WORKSPACE, "justfile": CROSS_JUSTFILE, "Dockerfile": dockerfile})
    row = _row(result)
    assert (row["target"], row["linkage"], row["allocator"]) == (
        "aarch64-unknown-linux-musl",
        "static",
        "system",
    )
    assert [f.rule for f in result.findings] == ["AP001"]


def test_an_unset_platform_still_says_the_libc(scan_tree):
    # ARG TARGETARCH without a value: the arch is not known, every arch is a -gnu target
    run = (
        "RUN just platform=$TARGETARCH build --release \\\n"
        " && mv target/$(just platform=$TARGETARCH triple-dir)/release/cli /usr/local/bin/cli"
    )
    dockerfile = _cross_image("rust:1-bookworm", run, "debian:bookworm-slim")
    result = scan_tree({**WORKSPACE, "justfile": CROSS_JUSTFILE, "Dockerfile": dockerfile})
    row = _row(result)
    assert (row["target"], row["binary_libc"], row["linkage"], row["allocator"]) == (
        None,
        "glibc",
        "dynamic",
        "system",
    )
    assert any("-unknown-linux-gnu" in r and "all glibc" in r for r in row["reasons"])
    assert [f.rule for f in result.findings] == ["AP003"]


def test_just_evaluate_names_the_binary_to_move(scan_tree):
    justfile = (
        'profile := "debug"\n'
        'triple := "x86_64-unknown-linux-musl"\n'
        'out := "target" / triple / profile / "cli"\n'
        "build:\n"
        '    cargo build --target {{ triple }} {{ if profile == "release" { "--release" } else { "" } }}\n'
    )
    for ask in ("--evaluate profile=release out", "--set profile release --evaluate out"):
        run = f"RUN just profile=release build && mkdir -p /dist && mv $(just {ask}) /dist/"
        dockerfile = (
            f"FROM rust:1-bookworm AS build\nWORKDIR /src\nCOPY . .\n{run}\n"
            'FROM scratch\nCOPY --from=build /dist/* /\nENTRYPOINT ["/cli"]\n'
        )
        result = scan_tree({**WORKSPACE, "justfile": justfile, "Dockerfile": dockerfile})
        assert (_row(result)["target"], _row(result)["linkage"]) == (
            "x86_64-unknown-linux-musl",
            "static",
        ), ask
        assert [f.rule for f in result.findings] == ["AP001"], ask


def test_what_just_prints_is_known_only_for_echo_recipes_and_variables():
    from allocpolicy.facts.recipes import command_output

    def ask(*argv, host=None, budget=10_000):
        files = {"/src/justfile": CROSS_JUSTFILE}
        return command_output(["just", *argv], "/src", {}, lambda p: p, files.get, host, budget)[0]

    assert ask("platform=arm64", "triple-dir") == "aarch64-unknown-linux-gnu"
    # the host's own triple: just leaves --target out and prints nothing
    assert ask("platform=arm64", "triple-dir", host="aarch64-unknown-linux-gnu") == ""
    assert ask("--set", "platform", "amd64", "--evaluate", "triple") == "x86_64-unknown-linux-gnu"
    assert ask("noisy-dir") is None  # `ls | head` prints what nobody here knows
    assert ask("--evaluate") is None  # every variable: not one value
    assert ask("platform=arm64", "triple-dir", budget=0) is None  # the file's budget is spent
    assert command_output(["make", "x"], "/", {}, lambda p: p, {}.get, None, 10)[0] is None


# linkerd's dev images put `just-cargo` (linkerd/dev bin/just-cargo) on PATH: a justfile
# whose `build` recipe runs `cargo build --frozen [--release] [--target=T] ARGS`.
WRAPPED_JUSTFILE = (
    'profile := "debug"\n'
    'target := "x86_64-unknown-linux-musl"\n'
    "_cargo := 'just-cargo profile=' + profile + ' target=' + target + ' toolchain='\n"
    "build:\n"
    "    {{ _cargo }} fetch\n"
    "    {{ _cargo }} build --package=cli --features fast\n"
)


def test_just_cargo_is_the_cargo_build_it_wraps(scan_tree):
    optional = MIMALLOC_DEP.replace(" }", ", optional = true }")
    files = {
        "Cargo.toml": '[workspace]\nmembers = ["cli"]\n',
        "cli/Cargo.toml": cargo("cli", optional, '[features]\nfast = ["dep:mimalloc"]\n'),
        "cli/src/main.rs": '#[cfg(feature = "fast")]\n' + STATIC + MAIN,
        "justfile": WRAPPED_JUSTFILE,
        "Dockerfile": (
            "FROM registry.example/dev:50-rust AS build\nWORKDIR /src\nCOPY . .\n"
            "RUN just profile=release build\n"
            "FROM scratch\n"
            "COPY --from=build /src/target/x86_64-unknown-linux-musl/release/cli /cli\n"
            'ENTRYPOINT ["/cli"]\n'
        ),
    }
    result = scan_tree(files)
    row = _row(result)
    # the feature the wrapper passed on switches mimalloc on: no AP001
    assert (row["target"], row["linkage"], row["allocator"]) == (
        "x86_64-unknown-linux-musl",
        "static",
        "mimalloc",
    )
    assert result.findings == []


def test_thousands_of_just_substitutions_are_read_within_the_files_budget(scan_tree, monkeypatch):
    from allocpolicy.facts import containers

    calls = []
    real = containers.command_output

    def counted(*args):
        calls.append(args[0])
        return real(*args)

    monkeypatch.setattr(containers, "command_output", counted)
    words = " ".join(["$(just platform=arm64 triple-dir)"] * 3000)
    dockerfile = "FROM rust:1-bookworm\nWORKDIR /src\nCOPY . .\n" + f"RUN echo {words}\n" * 4
    result = scan_tree({**WORKSPACE, "justfile": CROSS_JUSTFILE, "Dockerfile": dockerfile})
    assert result.findings == []
    assert 0 < len(calls) <= 2100  # the Containerfile's budget, not the 12000 asked
