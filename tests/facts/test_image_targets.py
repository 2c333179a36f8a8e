"""A Containerfile that publishes several images (`docker build --target NAME`).

Each runtime stage of its own — FROM an image, with ENTRYPOINT or CMD, used by no
other stage — is an image like the last stage, so its binaries are judged too. A stage
derived from a build stage, one another stage copies from, or one that only carries
files is not an image anyone ships.
"""

from __future__ import annotations

from helpers import cargo

CRATE = {
    "Cargo.toml": cargo("duo")
    + '\n[[bin]]\nname = "client"\npath = "src/client.rs"\n'
    + '\n[[bin]]\nname = "server"\npath = "src/server.rs"\n',
    "src/client.rs": "fn main() {}\n",
    "src/server.rs": "fn main() {}\n",
}
BUILD = "FROM rust:1-alpine AS build\nWORKDIR /src\nCOPY . .\nRUN cargo build --release\n"


def _shipped(result):
    return sorted((r["stage"], r["binary"]) for r in result.inventory if r["binary"])


def _ap001(result):
    return sorted(f.message.split("`")[1] for f in result.findings if f.rule == "AP001")


def test_every_published_target_is_judged(scan_tree):
    dockerfile = BUILD + (
        "\nFROM alpine:3.20 AS client\n"
        "COPY --from=build /src/target/release/client /usr/bin/\n"
        'ENTRYPOINT ["client"]\n'
        "\nFROM alpine:3.20 AS server\n"
        "COPY --from=build /src/target/release/server /usr/bin/\n"
        'CMD ["server"]\n'
    )
    result = scan_tree({**CRATE, "Dockerfile": dockerfile})
    assert _shipped(result) == [("client", "client"), ("server", "server")]
    assert _ap001(result) == ["client", "server"]


def test_stages_that_are_not_images_stay_out(scan_tree):
    dockerfile = BUILD + (
        # a development image on top of the toolchain: nobody ships its binaries
        'FROM build AS dev\nCMD ["cargo", "run"]\n'
        # a stage the last one copies from: a step, not an image
        "\nFROM alpine:3.20 AS staged\n"
        "COPY --from=build /src/target/release/client /opt/\n"
        'CMD ["/opt/client"]\n'
        # files only: an artifact carrier for `--output`
        "\nFROM scratch AS export\nCOPY --from=build /src/target/release/client /\n"
        "\nFROM alpine:3.20\n"
        "COPY --from=staged /opt/client /usr/bin/\n"
        'ENTRYPOINT ["client"]\n'
    )
    result = scan_tree({**CRATE, "Dockerfile": dockerfile})
    assert _shipped(result) == [("4", "client")]
    assert _ap001(result) == ["client"]


def test_a_stage_reference_nobody_can_resolve_keeps_to_the_last_stage(scan_tree):
    dockerfile = BUILD + (
        "\nFROM alpine:3.20 AS client\n"
        "COPY --from=build /src/target/release/client /usr/bin/\n"
        'ENTRYPOINT ["client"]\n'
        "\nFROM alpine:3.20 AS server\nARG FROM_STAGE\n"
        "COPY --from=${FROM_STAGE} /src/target/release/server /usr/bin/\n"
        'CMD ["server"]\n'
    )
    result = scan_tree({**CRATE, "Dockerfile": dockerfile})
    # `--from=${FROM_STAGE}` may name `client`: it is not read as an image of its own
    assert _shipped(result) == [("server", "server")]
    assert _ap001(result) == ["server"]
