"""Which files are Containerfiles: name forms, templates, and symbolic links to another one."""

from __future__ import annotations

import os

import pytest
from helpers import cargo

from allocpolicy.discovery import is_containerfile

GLIBC_IMAGE = (
    "FROM rust:1.82-bookworm AS build\nWORKDIR /w\nCOPY . .\nRUN cargo build --release\n"
    "FROM debian:bookworm-slim\nCOPY --from=build /w/target/release/svc /usr/bin/svc\n"
)
CRATE = {"Cargo.toml": cargo("svc"), "src/main.rs": "fn main() {}\n"}


@pytest.mark.parametrize(
    "name", ["Dockerfile-20.04", "Dockerfile_builder", "Containerfile-dev", "dockerfile_ci"]
)
def test_dash_and_underscore_suffixes_are_containerfiles(name):
    assert is_containerfile(name)


@pytest.mark.parametrize(
    "name",
    [
        "Dockerfile.j2",
        "Dockerfile.jinja2",
        "Dockerfile.tmpl",
        "Dockerfile.template",
        "Dockerfile.in",
        "api.Dockerfile.tpl",
        "Dockerfile.md",
        "dockerfile-lint.yml",
        "Dockerfiles",
    ],
)
def test_templates_and_other_file_types_are_not(name):
    assert not is_containerfile(name)


def test_a_template_is_skipped_not_a_parse_error(scan_tree):
    template = (
        "{% set base = 'debian' %}\nFROM rust:1.82-{{ base }} AS build\n"
        "{% if musl %}RUN rustup target add x86_64-unknown-linux-musl{% endif %}\n"
    )
    files = {**CRATE, "docker/Dockerfile.j2": template, "docker/Dockerfile-12": GLIBC_IMAGE}
    result = scan_tree(files)
    assert [(f.rule, f.location.path) for f in result.findings] == [
        ("AP003", "docker/Dockerfile-12")
    ]


def test_a_symlinked_containerfile_is_one_image(scan_tree, tmp_path):
    files = {**CRATE, "docker/Dockerfile.debian": GLIBC_IMAGE}
    (tmp_path / "docker").mkdir()
    os.symlink("docker/Dockerfile.debian", tmp_path / "Dockerfile")
    result = scan_tree(files)
    assert [(f.rule, f.location.path) for f in result.findings] == [
        ("AP003", "docker/Dockerfile.debian")
    ]
    assert [r["file"] for r in result.inventory] == ["docker/Dockerfile.debian"]


def test_a_symlink_to_a_file_of_another_name_is_still_read(scan_tree, tmp_path):
    (tmp_path / "build").mkdir()
    os.symlink("build/image.docker", tmp_path / "Dockerfile")
    result = scan_tree({**CRATE, "build/image.docker": GLIBC_IMAGE})
    assert [(f.rule, f.location.path) for f in result.findings] == [("AP003", "Dockerfile")]
