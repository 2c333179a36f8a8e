"""A stage FROM an image that another Containerfile of the repository builds.

`FROM ghcr.io/acme/toolbox:pinned` beside `toolbox/Dockerfile` starts from that file's
last stage: its libc and the toolchain it installed decide the build's target, as they
would for a stage of the same file. A name two files could claim decides nothing.
"""

from __future__ import annotations

from helpers import cargo

TOOLBOX = (
    "FROM debian:bookworm-slim\n"
    "RUN apt-get update && apt-get install -y curl gcc\n"
    "RUN curl --proto '=https' -sSf https://sh.rustup.rs | sh -s -- -y\n"
)
SERVICE = (
    "FROM ghcr.io/acme/toolbox:pinned AS build\n"
    "WORKDIR /src\nCOPY . .\nRUN cargo build --release\n"
    "FROM debian:bookworm-slim\n"
    "COPY --from=build /src/target/release/svc /usr/local/bin/\n"
    'CMD ["svc"]\n'
)
CRATE = {"Cargo.toml": cargo("svc"), "src/main.rs": "fn main() {}\n"}


def _row(result, path="Dockerfile"):
    return next(r for r in result.inventory if r["file"] == path and r["binary"])


def test_the_repositorys_own_builder_image_decides_the_target(scan_tree):
    result = scan_tree({**CRATE, "toolbox/Dockerfile": TOOLBOX, "Dockerfile": SERVICE})
    row = _row(result)
    assert (row["target"], row["binary_libc"], row["linkage"]) == (
        "x86_64-unknown-linux-gnu",
        "glibc",
        "dynamic",
    )
    assert any("toolbox/Dockerfile" in r for r in row["reasons"])
    # a glibc binary on the system allocator: AP003, on the build stage's FROM of this file
    assert [(f.rule, f.location.path, f.location.line) for f in result.findings] == [
        ("AP003", "Dockerfile", 1)
    ]


def test_the_suffix_form_names_an_image_too(scan_tree):
    result = scan_tree({**CRATE, "Dockerfile.toolbox": TOOLBOX, "Dockerfile": SERVICE})
    assert _row(result)["target"] == "x86_64-unknown-linux-gnu"


def test_a_name_two_files_claim_decides_nothing(scan_tree):
    result = scan_tree(
        {
            **CRATE,
            "toolbox/Dockerfile": TOOLBOX,
            "Containerfile.toolbox": TOOLBOX.replace("debian:bookworm-slim", "alpine:3.20"),
            "Dockerfile": SERVICE,
        }
    )
    row = _row(result)
    assert (row["target"], row["binary_libc"]) == (None, "unknown")
    assert not [f for f in result.findings if f.rule in ("AP001", "AP003")]


def test_an_image_built_from_itself_is_not_followed(scan_tree):
    looped = "FROM ghcr.io/acme/svc:latest AS build\nRUN cargo build --release\n"
    result = scan_tree({**CRATE, "svc/Dockerfile": looped})
    assert [r["target"] for r in result.inventory if r["file"] == "svc/Dockerfile"] == [None]


def test_an_image_named_by_its_tag_brings_its_binaries(scan_tree):
    # CI builds Dockerfile.ci.musl-base as registry/app:musl-base, then a thin image on it
    base = (
        "FROM alpine:3.20\nWORKDIR /w\nCOPY bin/ bin/\n"
        "RUN mv bin/x86_64-unknown-linux-musl-svc/svc /usr/local/bin/svc\n"
        'ENTRYPOINT ["svc"]\n'
    )
    thin = "FROM localhost:5000/acme/svc:musl-base\nRUN apk add --no-cache tini\n"
    files = {
        **CRATE,
        "bin/x86_64-unknown-linux-musl-svc/svc": "prebuilt\n",
        "ci/Dockerfile.ci.musl-base": base,
        "ci/Dockerfile.ci.musl": thin,
    }
    result = scan_tree(files)
    row = _row(result, "ci/Dockerfile.ci.musl")
    assert (row["binary"], row["binary_libc"], row["allocator"]) == ("svc", "musl", "system")
    assert any("ci/Dockerfile.ci.musl-base" in r for r in row["reasons"])
    assert ("AP001", "ci/Dockerfile.ci.musl", 1) in [
        (f.rule, f.location.path, f.location.line) for f in result.findings
    ]
