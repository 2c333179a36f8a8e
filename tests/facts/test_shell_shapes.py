"""RUN scripts read as a shell reads them: directories, variables, branches, loops, `sh -c`.

Each Containerfile here is a shape the line-splitting reader misread: a build it did
not see, a variable it did not follow, a `cd` it kept too long or not at all.
"""

from __future__ import annotations

import pytest
from helpers import cargo, rules_of

MAIN = "fn main() {}\n"
CRATE = {"Cargo.toml": cargo("app"), "src/main.rs": MAIN}
MUSL = "x86_64-unknown-linux-musl"
GLIBC_BUILDER = "FROM rust:1.82-bookworm AS build\nWORKDIR /src\nCOPY . .\n"
MUSL_BUILDER = "FROM rust:1.82-alpine AS build\nWORKDIR /src\nCOPY . .\n"
SHIP_APP = "FROM scratch\nCOPY --from=build /app /app\n"


def row(result):
    (only,) = result.inventory
    return only


def dockerfile(run: str, builder: str = GLIBC_BUILDER, tail: str = SHIP_APP) -> str:
    return builder + run + tail


# Every script leaves a musl build of `app` at /app; the old reader lost its target.
MUSL_SHAPES = {
    "a plain assignment": (
        f"RUN T={MUSL} && cargo build --release --target $T && cp target/$T/release/app /app\n",
        CRATE,
    ),
    "export built from an assignment": (
        "RUN ARCH=x86_64; export CARGO_BUILD_TARGET=$ARCH-unknown-linux-musl; "
        "cargo build --release && cp target/$CARGO_BUILD_TARGET/release/app /app\n",
        CRATE,
    ),
    "export, then assign": (
        f"RUN export CARGO_BUILD_TARGET; CARGO_BUILD_TARGET={MUSL}; cargo build --release "
        "&& cp target/$CARGO_BUILD_TARGET/release/app /app\n",
        CRATE,
    ),
    "declare -x": (
        f"RUN declare -x CARGO_BUILD_TARGET={MUSL} && cargo build --release "
        "&& cp target/$CARGO_BUILD_TARGET/release/app /app\n",
        CRATE,
    ),
    "a for loop over targets": (
        f"RUN for t in {MUSL} aarch64-unknown-linux-musl; do cargo build --release --target $t "
        f"&& mkdir -p /out/$t && cp target/$t/release/app /out/$t/; done && cp /out/{MUSL}/app /app\n",
        CRATE,
    ),
    "a function": (
        'RUN build() { cargo build --release --target "$1" && cp target/$1/release/app /app; }; '
        f"build {MUSL}\n",
        CRATE,
    ),
    "a case where every arm is musl": (
        'ARG TARGETPLATFORM\nRUN case "$TARGETPLATFORM" in linux/amd64) T=x86_64-unknown-linux-musl;; '
        "linux/arm64) T=aarch64-unknown-linux-musl;; esac && cargo build --release --target $T "
        "&& cp target/$T/release/app /app\n",
        CRATE,
    ),
    # the catch-all arm only complains: with T unset, cargo refuses the empty --target
    "a case whose fallback arm sets nothing": (
        'ARG TARGETARCH\nRUN case "$TARGETARCH" in amd64) T=x86_64-unknown-linux-musl;; '
        "arm64) T=aarch64-unknown-linux-musl;; *) echo unsupported;; esac "
        '&& cargo build --release --target "$T" && cp target/$T/release/app /app\n',
        CRATE,
    ),
    # a comment's apostrophe used to read as an unterminated quote
    "a comment with a quote in it": (
        f"RUN cargo build --release --target {MUSL} && cp target/{MUSL}/release/app /app "
        "# it's static\n",
        CRATE,
    ),
}


@pytest.mark.parametrize("shape", MUSL_SHAPES)
def test_the_musl_target_is_followed_through_the_script(scan_tree, shape):
    run, crate = MUSL_SHAPES[shape]
    result = scan_tree({**crate, "Dockerfile": dockerfile(run)})
    r = row(result)
    assert r["target"] in (MUSL, "aarch64-unknown-linux-musl"), r["reasons"]
    assert (r["binary_libc"], r["linkage"]) == ("musl", "static")
    assert rules_of(result) == ["AP001"]  # static musl on the system allocator


# The builds the old reader did not see at all: rust:alpine builds for musl by default.
HIDDEN_BUILDS = {
    "if/else": 'ARG TARGETARCH\nRUN if [ "$TARGETARCH" = amd64 ]; then cargo build --release; '
    "else cargo build --release --locked; fi\n",
    "sh -c": 'RUN sh -c "cargo build --release"\n',
    "bash -ec": "RUN bash -ec 'cd /src && cargo build --release'\n",
    "env -u": "RUN env -u RUSTFLAGS cargo build --release\n",
    "a heredoc with a continued line": "RUN <<EOF\nset -e\n# build it\n"
    "if [ -f Cargo.lock ]; then cargo build --release \\\n  --locked; fi\nEOF\n",
}


@pytest.mark.parametrize("shape", HIDDEN_BUILDS)
def test_builds_inside_compound_commands_are_seen(scan_tree, shape):
    tail = "FROM scratch\nCOPY --from=build /src/target/release/app /app\n"
    result = scan_tree(
        {**CRATE, "Dockerfile": dockerfile(HIDDEN_BUILDS[shape], MUSL_BUILDER, tail)}
    )
    r = row(result)
    assert "the default target of `rust:1.82-alpine`" in " ".join(r["reasons"])
    assert r["binary_libc"] == "musl" and rules_of(result) == ["AP001"]


# Two crates make a binary `app`: z (on mimalloc) and a (on the system allocator).
TWO_CRATES = {
    "a/Cargo.toml": cargo("a", extra='[[bin]]\nname = "app"\npath = "src/main.rs"\n'),
    "a/src/main.rs": MAIN,
    "z/Cargo.toml": cargo(
        "z",
        'mimalloc = { version = "0.1", default-features = false }',
        '[[bin]]\nname = "app"\npath = "src/main.rs"\n',
    ),
    "z/src/main.rs": "#[global_allocator]\nstatic G: mimalloc::MiMalloc = mimalloc::MiMalloc;\n"
    + MAIN,
}
BUILD_Z = f"cargo build --release --target {MUSL} && cp target/{MUSL}/release/app /app"
WHERE_SHAPES = {
    "cd -": f"RUN cd a && cargo build --release && cd - && cd z && {BUILD_Z}\n",
    "cd in a subshell": f"RUN (cd a && cargo build --release) && cd z && {BUILD_Z}\n",
    "cd to a variable": f"RUN D=z && cd $D && {BUILD_Z}\n",
    "pushd and popd": f"RUN pushd z && {BUILD_Z} && popd\n",
    "sh -c with cd": f"RUN sh -c 'cd z && {BUILD_Z}'\n",
    "exec form bash -c": f'RUN ["bash", "-c", "cd z && {BUILD_Z}"]\n',
}


@pytest.mark.parametrize("shape", WHERE_SHAPES)
def test_the_build_runs_where_the_script_went(scan_tree, shape):
    result = scan_tree({**TWO_CRATES, "Dockerfile": dockerfile(WHERE_SHAPES[shape])})
    r = row(result)
    assert (r["crate"], r["allocator"], r["binary_libc"]) == ("z", "mimalloc", "musl")
    assert rules_of(result) == []


def test_branches_that_disagree_on_the_libc_leave_it_unknown(scan_tree):
    run = (
        'ARG TARGETPLATFORM\nRUN case "$TARGETPLATFORM" in linux/amd64) T=x86_64-unknown-linux-gnu;; '
        "linux/arm64) T=aarch64-unknown-linux-musl;; esac && cargo build --release --target $T "
        "&& cp target/$T/release/app /app\n"
    )
    result = scan_tree({**CRATE, "Dockerfile": dockerfile(run)})
    r = row(result)
    assert r["target"] is None and r["binary_libc"] == "unknown"
    assert "x86_64-unknown-linux-gnu, aarch64-unknown-linux-musl" in r["reasons"][0]
    assert rules_of(result) == []  # unknown is no finding


def test_a_computed_target_is_unknown_with_its_reason(scan_tree):
    run = (
        "RUN cargo build --release --target $(cat /target.txt) "
        "&& cp target/$(cat /target.txt)/release/app /app\n"
    )
    result = scan_tree({**CRATE, "Dockerfile": dockerfile(run)})
    r = row(result)
    assert r["target"] is None and r["binary_libc"] == "unknown"
    assert "`$(cat…)`" in r["reasons"][0]
    assert rules_of(result) == []


def test_a_comment_is_not_read_as_flags(scan_tree):
    run = (
        f"RUN cargo build --release --target {MUSL} && cp target/{MUSL}/release/app /app "
        "# was: cargo build --target x86_64-unknown-linux-gnu\n"
    )
    result = scan_tree({**CRATE, "Dockerfile": dockerfile(run)})
    assert row(result)["target"] == MUSL


def test_quoted_features_reach_the_build(scan_tree):
    crate = {
        "Cargo.toml": cargo("app", 'mimalloc = { version = "0.1", optional = true }')
        + "\n[features]\nfast = []\n",
        "src/main.rs": '#[cfg(feature = "mimalloc")]\n#[global_allocator]\n'
        "static G: mimalloc::MiMalloc = mimalloc::MiMalloc;\nfn main() {}\n",
    }
    run = (
        'RUN FEATURES="fast mimalloc" && cargo build --release --target '
        f'{MUSL} --features "$FEATURES" && cp target/{MUSL}/release/app /app\n'
    )
    result = scan_tree({**crate, "Dockerfile": dockerfile(run)})
    assert row(result)["allocator"] == "mimalloc"
    assert "AP001" not in rules_of(result)


# -- the interpreter on its own -------------------------------------------------------


def _run(script: str, env: dict[str, str] | None = None) -> list[tuple[list[str], str]]:
    from allocpolicy.facts.shell import run_script

    return [(c.argv, c.cwd) for c in run_script(script, env or {}, "/src")]


def test_variables_expand_as_the_shell_expands_them():
    script = (
        'F="--locked  --offline"; E=; cargo build $F $E "$E" ${T:-x86_64-unknown-linux-gnu} '
        "${P#linux/} ${P/linux/os} '$F'"
    )
    assert _run(script, {"P": "linux/arm64"}) == [
        (
            ["cargo", "build", "--locked", "--offline", "", "x86_64-unknown-linux-gnu", "arm64"]
            + ["os/arm64", "$F"],
            "/src",
        )
    ]


def test_only_exported_variables_reach_a_child_environment():
    from allocpolicy.facts.shell import run_script

    cmds = run_script(
        "A=1; export B=2; C=3 env D=4 cargo build && sh -c 'echo $A $B' && unset B && x",
        {"E": "5"},
        "/",
    )
    assert [(c.argv, {k: v for k, v in c.env.items() if k != "PWD"}) for c in cmds] == [
        (["cargo", "build"], {"B": "2", "C": "3", "D": "4", "E": "5"}),
        (["echo", "$A", "2"], {"B": "2", "E": "5"}),  # A was never exported: unknown there
        (["x"], {"E": "5"}),
    ]


def test_directories_follow_cd_but_not_out_of_a_subshell_or_a_job():
    script = "cd a; (cd b; x); y; cd c & z; pushd /d; cd e; popd; w; cd; v"
    assert _run(script) == [
        (["x"], "/src/a/b"),
        (["y"], "/src/a"),
        (["z"], "/src/a"),
        (["w"], "/src/a"),
        (["v"], "/root"),
    ]


def test_branch_assignments_run_the_rest_once_per_outcome():
    from allocpolicy.facts.shell import run_script

    cmds = run_script("if a; then T=x; else T=y; fi; b $T; if c; then d; fi; e $T", {}, "/")
    assert [(c.argv, c.path) for c in cmds] == [
        (["a"], 0),
        (["b", "x"], 0),
        (["b", "y"], 1),
        (["c"], 0),
        (["c"], 1),
        (["d"], 0),
        (["d"], 1),
        (["e", "x"], 0),  # `if c` changed nothing: still two outcomes, not four
        (["e", "y"], 1),
    ]


# -- hostile scripts: bounded, never an exception ------------------------------------


def test_hostile_scripts_are_read_within_bounds():
    from allocpolicy.facts import shell

    fork_bomb = shell.run_script("f() { f; f; f; f; cargo build; }; f", {}, "/src")
    assert fork_bomb[-1].unknown.startswith("the script takes over")
    cases = "".join(f"case $X in a) V{i}=1;; b) V{i}=2;; esac; " for i in range(20))
    forks = shell.run_script(cases + "cargo build", {}, "/")
    assert len(forks) <= shell.MAX_PATHS and forks[-1].argv == ["cargo", "build"]
    nested = "cargo build"
    for _ in range(10):  # each level of quoting triples the text: 10 levels is ~100 KiB
        nested = "sh -c " + shlex_quote(nested)
    assert shell.run_script(nested, {}, "/") == []  # past the nesting cap: not read
    many = shell.run_script(
        "for t in " + " ".join("abcdefghijklmnopq") + "; do b $t; done", {}, "/"
    )
    assert [c.argv for c in many] == [["b", "${t}"]]  # over 16 items: once, unknown
    for odd in (
        "\x00",
        "cd",
        "cd -",
        "popd",
        "export",
        "env",
        "sh -c",
        "unset",
        "$(",
        "f() { f; }; f",
    ):
        shell.run_script(odd, {}, "")


def test_one_containerfile_of_many_hostile_runs_is_bounded_as_a_whole():
    from allocpolicy.facts import shell
    from allocpolicy.parsing.expand import Expander

    expander = Expander()  # one per Containerfile
    runs = [shell.run_script("f() { f; f; f; f; }; f", {}, "/", expander) for _ in range(10)]
    assert runs[0][-1].unknown.startswith("the script takes over 20000 steps")
    assert runs[-1][-1].unknown == "the Containerfile's reading budget is spent"


def shlex_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def test_a_substitution_is_what_the_callers_reader_says_it_prints():
    from allocpolicy.facts.shell import run_script

    asked = []

    def output(cmd):
        asked.append((cmd.argv, cmd.env.get("P"), cmd.cwd))
        return {"where": "target/x86_64-unknown-linux-musl\n", "two": "a b"}.get(cmd.argv[-1])

    script = (
        "cd /src && export P=1 && cp $(runner where)/release/app /app; "
        'echo "$(runner two)" $(runner two) `runner two` $(other | head) $(runner none)'
    )
    cp, echo = run_script(script, {}, "/", output=output)
    assert cp.argv == ["cp", "target/x86_64-unknown-linux-musl/release/app", "/app"]
    assert cp.unknown == ""
    # quoted: one word; unquoted: split; a pipeline or an unknown output stays unknown
    assert echo.argv == ["echo", "a b", "a", "b", "a", "b", "$(other…)", "$(runner…)"]
    assert "`$(runner none)` is computed" in echo.unknown
    assert asked[0] == (["runner", "where"], "1", "/src")  # its environment and directory
    # without a reader, every substitution stays unknown (as before)
    (plain,) = run_script("cp $(runner where)/release/app /app", {}, "/")
    assert plain.argv[1] == "$(runner…)/release/app"


def test_nested_substitutions_end():
    from allocpolicy.facts.shell import run_script

    calls = []

    def output(cmd):
        calls.append(cmd.argv)
        return "x"

    nested = "$(a " * 40 + ")" * 40
    assert len(run_script(f"echo {nested}", {}, "/", output=output)) == 1
    assert len(calls) <= 8 + 1  # the substitution cap, not the nesting depth
