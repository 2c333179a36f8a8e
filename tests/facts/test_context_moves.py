"""A binary the build context brings in (a CI artifact) and a RUN moves into place.

CI jobs often build the binaries, download them as artifacts into the context and
let the Containerfile only arrange them: `COPY bin/ bin/`, then `mv bin/<triple>-app/app`.
The file named like a bin target of the repository is that crate's binary built
elsewhere; a directory named for a target says which.
"""

from __future__ import annotations

from helpers import cargo

CRATE = {"Cargo.toml": cargo("app"), "src/main.rs": "fn main() {}\n"}


def _dockerfile(move: str, run: str = "/srv/app") -> str:
    return (
        "FROM debian:bookworm AS stage\nWORKDIR /dim\nCOPY bin/ bin/\nCOPY conf/ conf/\n"
        f"RUN mkdir -p /out && {move}\n"
        "FROM alpine:3.20\nCOPY --from=stage /out /srv\n"
        f'ENTRYPOINT ["{run}"]\n'
    )


def test_an_artifact_moved_from_the_context_is_the_crates_binary(scan_tree):
    files = {
        **CRATE,
        "bin/x86_64-unknown-linux-musl-app-bin/app": "prebuilt\n",
        "conf/app.toml": "",
        "Dockerfile": _dockerfile(
            "mv bin/x86_64-unknown-linux-musl-app-bin/app /out/app && cp conf/app.toml /out/"
        ),
    }
    result = scan_tree(files)
    rows = [r for r in result.inventory if r["binary"]]
    assert [(r["binary"], r["target"], r["linkage"], r["allocator"]) for r in rows] == [
        ("app", "x86_64-unknown-linux-musl", "static", "system")
    ]
    assert [f.rule for f in result.findings] == ["AP001"]


def test_a_moved_file_no_crate_makes_is_not_a_binary(scan_tree):
    files = {
        **CRATE,
        "conf/app.toml": "",
        "Dockerfile": _dockerfile("cp conf/app.toml /out/settings", run="/srv/settings"),
    }
    result = scan_tree(files)
    assert [r["binary"] for r in result.inventory] == [None]
    assert result.findings == []
