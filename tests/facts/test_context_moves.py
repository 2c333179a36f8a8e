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


# CI passes the paths of the binaries it built: `COPY ${CLI} ./` names no file; the RUN
# lines after it that chmod, link, move or run a file there say what it is called.
PAIR = {
    "Cargo.toml": '[workspace]\nmembers = ["pulse-ctl", "daemon"]\n',
    "pulse-ctl/Cargo.toml": cargo("pulse-ctl"),  # a crate directory named like its bin
    "pulse-ctl/src/main.rs": "fn main() {}\n",
    "daemon/Cargo.toml": cargo("daemon") + '\n[[bin]]\nname = "pulsed"\npath = "src/main.rs"\n',
    "daemon/src/main.rs": "fn main() {}\n",
}


def _unnamed(run: str, copies: str = "COPY ${CTL_BIN} ${DAEMON_BIN} ./\n") -> str:
    return (
        "FROM alpine:3.20\nARG CTL_BIN\nARG DAEMON_BIN\nWORKDIR /srv\nCOPY conf ./conf\n"
        f'{copies}{run}CMD ["/srv/pulsed"]\n'
    )


def test_a_file_a_run_names_in_an_unnamed_copy_is_the_crates_binary(scan_tree):
    files = {
        **PAIR,
        "conf/pulse.toml": "",
        "chmod/Dockerfile": _unnamed(
            "RUN chmod 0755 ./pulse-ctl ./conf && ln -sf /srv/pulse-ctl /usr/local/bin/ctl\n"
        ),
        "link/Dockerfile": _unnamed(
            "RUN ln -s ../../../srv/pulse-ctl /usr/local/bin/pulse-ctl\n",
            "COPY ${CTL_BIN} ./\nCOPY ${DAEMON_BIN} ./\n",
        ),
        "run/Dockerfile": _unnamed("RUN ./pulse-ctl --version\n"),
        # a directory CI filled, copied whole: its files land under the destination
        "tree/Dockerfile": _unnamed(
            "RUN mv /opt/dist/pulse-ctl /usr/local/bin/\n", "COPY ${CTL_BIN} /opt/dist\n"
        ),
    }
    result = scan_tree(files)
    rows = {(r["file"], r["binary"]): r for r in result.inventory if r["binary"]}
    assert sorted(rows) == [
        (f"{d}/Dockerfile", b)
        for d in ("chmod", "link", "run", "tree")
        for b in ("pulse-ctl", "pulsed")
    ]
    ctl = rows[("chmod/Dockerfile", "pulse-ctl")]
    assert (ctl["crate"], ctl["binary_libc"], ctl["linkage"]) == ("pulse-ctl", "musl", "unknown")
    assert "`chmod` on line 7" in ctl["reasons"][0]
    assert "copied from `${CTL_BIN}` or `${DAEMON_BIN}`" in ctl["reasons"][0]
    assert "line 6 or 7 copied" in rows[("link/Dockerfile", "pulse-ctl")]["reasons"][0]


def test_a_repository_file_a_run_names_is_not_a_binary(scan_tree):
    files = {
        **PAIR,
        "tools/pulse-ctl": '#!/bin/sh\nexec pulsed --ctl "$@"\n',
        "Dockerfile": _unnamed(
            "RUN chmod +x ./pulse-ctl\n", "COPY tools/ ./\nCOPY ${DAEMON_BIN} ./\n"
        ),
        # the file is named only where no unnamed copy wrote
        "elsewhere/Dockerfile": _unnamed("RUN chmod +x /opt/pulse-ctl\n"),
    }
    result = scan_tree(files)
    assert [(r["file"], r["binary"]) for r in result.inventory if r["binary"]] == [
        ("Dockerfile", "pulsed"),
        ("elsewhere/Dockerfile", "pulsed"),
    ]
