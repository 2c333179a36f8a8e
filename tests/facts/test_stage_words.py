"""Stage instructions read as BuildKit reads them: expansion, quotes, build args, context paths."""

from __future__ import annotations

import textwrap

import pytest
from helpers import cargo, rules_of

from allocpolicy.facts.containers import analyze, context_path
from allocpolicy.parsing.dockerfile import parse_dockerfile


def final_env(text: str, build_args: dict[str, str] | None = None) -> dict[str, str]:
    doc = parse_dockerfile(textwrap.dedent(text).lstrip("\n"), build_args)
    final = analyze("Dockerfile", doc, "").final
    assert final is not None
    return final.env


@pytest.mark.parametrize(
    ("context", "src", "repo"),
    [
        ("", "Cargo.toml", "Cargo.toml"),
        ("", "/Cargo.toml", "Cargo.toml"),  # a leading / is the context root
        ("", "//Cargo.toml", "Cargo.toml"),
        ("", "/", ""),
        ("", ".", ""),
        ("", "../../etc/passwd", "etc/passwd"),  # .. never leaves the context
        ("svc", "/src/../../Cargo.toml", "svc/Cargo.toml"),
        ("svc", "./", "svc"),
        ("svc", "/", "svc"),
        ("a/b", "c/./d/", "a/b/c/d"),
    ],
)
def test_context_path(context: str, src: str, repo: str) -> None:
    assert context_path(context, src) == repo


def test_env_quotes_and_escapes_decide_what_is_expanded() -> None:
    env = final_env(
        """
        FROM alpine
        ARG X=1
        ENV A='$X' B="$X/bin" C=\\$X D=${X}2 E="a b"
        ENV LEGACY "x  y" $X
        """
    )
    assert {k: env[k] for k in "ABCDE"} == {
        "A": "$X",
        "B": "1/bin",
        "C": "$X",
        "D": "12",
        "E": "a b",
    }
    assert env["LEGACY"] == "x  y 1"


def test_stage_arg_takes_a_build_arg_over_its_default() -> None:
    text = """
        ARG GLOBAL=g
        FROM alpine
        ARG TARGET=x86_64-unknown-linux-gnu
        ARG GLOBAL
        ARG NOVALUE
        """
    assert final_env(text)["TARGET"] == "x86_64-unknown-linux-gnu"
    env = final_env(text, {"TARGET": "x86_64-unknown-linux-musl", "NOVALUE": "v"})
    assert (env["TARGET"], env["GLOBAL"], env["NOVALUE"]) == ("x86_64-unknown-linux-musl", "g", "v")
    assert "NOVALUE" not in final_env(text)  # declared without a value: unknown, not empty


def test_a_self_referencing_stage_arg() -> None:
    env = final_env(
        """
        ARG V=global
        FROM alpine
        ARG V=$V
        ENV W=x
        ARG W=$W
        ARG U=[$U]
        """
    )
    # the global V is not visible in the stage without a bare `ARG V`: BuildKit gives ""
    assert (env["V"], env["W"], env["U"]) == ("", "x", "[]")


def test_escape_directive_applies_to_stage_words() -> None:
    env = final_env(
        """
        # escape=`
        FROM mcr.microsoft.com/windows/servercore
        ENV P=C:\\app `$X=1
        """
    )
    assert env["P"] == "C:\\app"
    assert env["$X"] == "1"


def test_workdir_is_unquoted_and_expanded(scan_tree) -> None:
    doc = parse_dockerfile("FROM alpine\nENV D=/srv\nWORKDIR \"$D/my app\"\nWORKDIR '$D'\n")
    final = analyze("Dockerfile", doc, "").final
    assert final is not None and final.workdir == "/srv/my app/$D"
    doc = parse_dockerfile("FROM alpine\nWORKDIR //w//x/../y\nCOPY //Cargo.toml ./\n")
    final = analyze("Dockerfile", doc, "").final
    assert final is not None and final.workdir == "/w/y"  # Go's path.Clean: "//" is "/"
    assert final.context_map["/w/y/Cargo.toml"] == "Cargo.toml"


def test_a_word_buildkit_refuses_is_a_finding_at_its_line(scan_tree) -> None:
    files = {
        "Cargo.toml": cargo("svc"),
        "src/main.rs": "fn main() {}\n",
        "Dockerfile": "FROM rust:1-alpine AS b\nENV EMPTY=\nWORKDIR /w/${EMPTY:?must be set}\n"
        "COPY . .\nRUN cargo build --release\n"
        "FROM alpine\nCOPY --from=b /w/target/release/svc /svc\n",
    }
    result = scan_tree(files)
    assert rules_of(result) == ["AP900"]
    (f,) = result.findings
    assert f.location.line == 3 and "EMPTY: must be set" in f.message
