"""Whatever the files say, a scan ends with findings, never with an exception."""

from __future__ import annotations

from pathlib import Path

from helpers import write_tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocpolicy.commands.scan import scan

LINES = st.sampled_from(
    [
        "FROM rust:1.82-alpine AS b",
        "FROM scratch",
        "FROM b AS c",
        "FROM ${X}",
        "FROM",
        "ARG X=alpine",
        "WORKDIR /w",
        "WORKDIR",
        "COPY . .",
        "COPY --from=b /w/target/release/svc /svc",
        "COPY --from=9 / /",
        "COPY --from=c /w/target/x86_64-unknown-linux-musl/release/* /bin/",
        "COPY",
        "ADD x",
        "RUN cargo build --release -p svc --target",
        "RUN cargo build --features",
        "RUN cargo install",
        "RUN cross build --target x",
        "RUN apk add mimalloc2 && cp target/release/svc /usr/bin/",
        "RUN <<EOT",
        "EOT",
        "echo 'unbalanced",
        "ENV LD_PRELOAD",
        "ENV LD_PRELOAD=",
        "ENV A=1 LD_PRELOAD=/x.so",
        'ENTRYPOINT ["env", "LD_PRELOAD=/usr/lib/libmimalloc.so.2"]',
        "CMD LD_PRELOAD=$Y exec",
        "# escape=`",
        "RUN `",
        "\\",
        "ENTRYPOINT [",
        "USER 1000",
        "",
    ]
)
TOML = st.sampled_from(
    [
        '[package]\nname = "svc"\n',
        '[package]\nname = "svc"\n[[bin]]\n',
        "[workspace]\nmembers = 1\n",
        '[package]\nname = "svc"\n[dependencies]\nmimalloc = { optional = "yes" }\n',
        '[package]\nname = "svc"\n[target."cfg(".dependencies]\nmimalloc = "0.1"\n',
        '[package]\nname = "svc"\n[features]\ndefault = ["a"]\na = ["dep:mimalloc", "b/c", "a"]\n',
        "[package]\nname = 3\n",
        "[dependencies]\nx = { workspace = true }\n",
    ]
)
RUST = st.sampled_from(
    [
        "#[global_allocator]\nstatic G: mimalloc::MiMalloc = mimalloc::MiMalloc;\nfn main() {}\n",
        "#[cfg(all(\n#[global_allocator]\nstatic G",
        'mod m { #[cfg(feature = "x")] #[global_allocator] static G: super::A = super::A; }\n',
        'fn main() { let s = "#[global_allocator]"; }\n',
    ]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(LINES, max_size=14), manifest=TOML, source=RUST)
def test_scan_never_raises(tmp_path_factory, lines, manifest, source):
    root: Path = tmp_path_factory.mktemp("fuzz")
    write_tree(
        root, {"Dockerfile": "\n".join(lines) + "\n", "Cargo.toml": manifest, "src/main.rs": source}
    )
    result = scan(root)
    for f in result.findings:
        assert f.location.line >= 1 and f.rule.startswith("AP")


def test_a_short_run_of_the_fuzz_harness_finds_nothing() -> None:
    # the same generators and checks as `python -m tests.fuzz --minutes N`, a few dozen
    # cases: hostile trees (FIFOs, links out, deep nesting, ARG doubling, alias bombs)
    # and mutated examples, each command capped in time and memory in a forked child
    from fuzz import _COUNT, _mutated_batch, _structured_batch

    _COUNT["cases"] = 0
    _structured_batch(25)
    _mutated_batch(15)
    assert _COUNT["cases"] >= 30  # hypothesis may stop a batch early on duplicates
