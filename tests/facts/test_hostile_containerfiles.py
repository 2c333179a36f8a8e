"""Containerfiles that once hung the scan, ate 20 GB or missed a finding.

Each case is the bundled musl example (AP001 fires on it) with one change, run
as the real command in a subprocess with a deadline and an address-space limit,
so a hang or a runaway expansion fails the test instead of stalling the suite.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "alpine-no-mimalloc"
DOCKERFILE = (EXAMPLE / "Dockerfile").read_text()
MEMORY = 2 * 1024**3  # the doubling ARGs once passed 20 GB; a scan needs a small part of this


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def scan(root: Path, *extra: str) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "allocpolicy", "scan", "--format", "json", *extra, "."],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,  # the absolute COPY source looped forever
        check=False,
        preexec_fn=_limit_memory if sys.platform.startswith("linux") else None,
    )
    assert done.returncode in (0, 1), done.stderr
    assert "internal error" not in done.stdout + done.stderr
    return list(json.loads(done.stdout)["findings"])


def tree(tmp_path: Path, dockerfile: str) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLE, root)
    (root / "Dockerfile").write_text(dockerfile)
    return root


def rules(found: list[dict[str, object]]) -> list[object]:
    return sorted(f["rule"] for f in found)


def test_the_example_itself_is_ap001(tmp_path: Path) -> None:
    assert rules(scan(tree(tmp_path, DOCKERFILE))) == ["AP001"]


@pytest.mark.parametrize(
    "copy",
    [
        "COPY /Cargo.toml ./\nCOPY /src ./src",  # a leading / is the context root
        "COPY / .",
        "COPY ../../Cargo.toml ./\nCOPY ../src/ ./src/",  # .. stops at the context root
        'COPY ["/Cargo.toml", "./"]\nCOPY ["/src", "./src"]',
    ],
)
def test_absolute_and_escaping_copy_sources_resolve_in_the_context(
    tmp_path: Path, copy: str
) -> None:
    root = tree(tmp_path, DOCKERFILE.replace("COPY . .", copy))
    assert rules(scan(root)) == ["AP001"]


def test_the_pre_commit_path_with_an_absolute_copy_source_ends(tmp_path: Path) -> None:
    root = tree(tmp_path, DOCKERFILE.replace("COPY . .", "COPY /Cargo.toml ./\nCOPY /src ./src"))
    for args in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    assert rules(scan(root, "--files", "Dockerfile")) == ["AP001"]
    assert rules(scan(root, "--files", "src/main.rs")) == ["AP001"]


def test_doubling_args_cost_bounded_memory_and_leave_the_finding(tmp_path: Path) -> None:
    args = ["ARG A0=x"] + [f"ARG A{i}=$A{i - 1}$A{i - 1}" for i in range(1, 40)]
    final = "FROM alpine:3.20\nARG A39\nENV X=$A39$A39 Y=${A39:+z}${A39#x}\n"
    text = "\n".join(args) + "\n" + DOCKERFILE.replace("FROM alpine:3.20\n", final)
    assert len(text) < 1500
    assert rules(scan(tree(tmp_path, text))) == ["AP001"]


def test_doubling_args_in_a_base_image_make_it_unknown_not_an_error(tmp_path: Path) -> None:
    args = ["ARG A0=x"] + [f"ARG A{i}=$A{i - 1}$A{i - 1}" for i in range(1, 40)]
    text = "\n".join(args) + "\n" + DOCKERFILE.replace("alpine:3.20", "alpine:3.20$A39")
    found = scan(tree(tmp_path, text))
    # the build is still musl, and so is the final image: alpine, whatever the unresolved
    # rest of its tag is (no error from the expansion budget, no crash)
    assert rules(found) == ["AP001"]
    # a variable that is the whole tag leaves the image unknown: an informational note
    text = "\n".join(args) + "\n" + DOCKERFILE.replace("alpine:3.20", "ghcr.io/acme/run:$A39")
    found = scan(tree(tmp_path / "whole-tag", text))
    assert rules(found) == ["AP001", "AP901"]
    (note,) = [f for f in found if f["rule"] == "AP901"]
    assert "ghcr.io/acme/run:$A" in str(note["message"])


def test_deeply_nested_defaults_are_not_a_recursion_error(tmp_path: Path) -> None:
    nested = "${X:-" * 2000 + "x" + "}" * 2000
    text = DOCKERFILE.replace("WORKDIR /src", f"ENV N={nested}\nWORKDIR /src")
    assert rules(scan(tree(tmp_path, text))) == ["AP001"]


def test_a_self_referencing_global_arg_is_empty(tmp_path: Path) -> None:
    text = "ARG V=$V\n" + DOCKERFILE.replace("rust:${RUST_VERSION}-alpine", "rust:1-alpine${V}")
    text = text.replace("FROM alpine:3.20", "FROM alpine:3.20${V}")
    assert rules(scan(tree(tmp_path, text))) == ["AP001"]


def test_a_self_referencing_stage_arg_is_empty_so_its_default_applies(tmp_path: Path) -> None:
    text = """\
FROM rust:1-slim-bookworm AS builder
ARG TARGET=$TARGET
RUN rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo install --locked --path . --root /out --target ${TARGET:-x86_64-unknown-linux-musl}

FROM alpine:3.20
COPY --from=builder /out/bin/orders /usr/local/bin/orders
ENTRYPOINT ["/usr/local/bin/orders"]
"""
    found = scan(tree(tmp_path, text))
    assert [(f["rule"], f["line"]) for f in found] == [("AP001", 6)]


def test_a_required_variable_that_is_unset_is_a_finding_at_its_line(tmp_path: Path) -> None:
    text = "ARG RUST\n" + DOCKERFILE.replace(
        "rust:${RUST_VERSION}-alpine", "rust:${RUST_VERSION}-alpine${RUST2:?needs_RUST2}"
    )
    found = scan(tree(tmp_path, text))
    assert [(f["rule"], f["line"]) for f in found] == [("AP900", 3)]
    assert "RUST2: needs_RUST2" in str(found[0]["message"])
