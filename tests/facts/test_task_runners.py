"""`RUN make TARGET` and `RUN just RECIPE`: the build is the recipe, read from the file.

The Makefile or justfile comes from the build context; its recipe lines are read as
shell, with the task runner's variables and the RUN's environment, and never run.
Where the file is not in the context, the build facts are unknown with a reason.
"""

from __future__ import annotations

from helpers import cargo

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
