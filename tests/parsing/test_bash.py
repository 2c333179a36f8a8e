"""RUN scripts read into parsing/bash.py's tree: the shapes, hostile input, the plain-script reader."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from allocpolicy.parsing import bash
from allocpolicy.parsing.bash import (
    LIT,
    SUBST,
    VAR,
    Case,
    Function,
    Group,
    If,
    Loop,
    Piece,
    Pipe,
    Seq,
    Simple,
    Subshell,
    Unknown,
    parse,
)


def lit(text: str, quoted: bool = False) -> tuple[Piece, ...]:
    return (Piece(LIT, text, quoted),)


def argv(node: object) -> list[str]:
    assert isinstance(node, Simple)
    return ["".join(p.text for p in w) for w in node.words]


def test_list_operators_and_pipelines():
    tree = parse("cd app && cargo build || true; make | tee log &")
    assert [type(n) for n in tree.items] == [Simple, Simple, Simple, Pipe]
    assert tree.ops == ("&&", "||", ";", "&")
    assert argv(tree.items[3].items[1]) == ["tee", "log"]


def test_word_pieces_quotes_expansions_and_substitutions():
    (cmd,) = parse(
        """A=1 cargo build --features "a b" '$x' ${T:-x}y "$V" $(cat f) e\\ f 2>/dev/null"""
    ).items
    assert cmd.assigns == (("A", lit("1")),)
    words = cmd.words
    assert words[3] == lit("a b", True)
    assert words[4] == lit("$x", True)  # single quotes: no expansion
    assert words[5] == (Piece(VAR, "${T:-x}"), Piece(LIT, "y"))
    assert words[6] == (Piece(VAR, "$V", True),)
    assert words[7] == (Piece(SUBST, "$(cat f)"),)
    assert words[8] == lit("e f")
    assert len(words) == 9  # the redirection is no word


def test_compound_commands():
    tree = parse(
        "if [ -f x ]; then a; elif b; then c; else d; fi\n"
        "case $P in linux/amd64|amd64) T=x;; *) T=y;; esac\n"
        "for t in a b; do build $t; done\n"
        "while read l; do echo $l; done\n"
        "f() { g; }\n"
        "(cd x; y) && { z; }\n"
    )
    if_, case, for_, while_, func, sub, group = tree.items
    assert isinstance(if_, If) and len(if_.branches) == 2 and if_.orelse is not None
    assert argv(if_.branches[1][0].items[0]) == ["b"]
    assert argv(if_.branches[1][1].items[0]) == ["c"]
    assert isinstance(case, Case) and [len(p) for p, _ in case.arms] == [2, 1]
    assert isinstance(for_, Loop) and for_.var == "t" and for_.values == (lit("a"), lit("b"))
    assert isinstance(while_, Loop) and while_.kind == "while" and while_.values is None
    assert isinstance(func, Function) and func.name == "f" and isinstance(func.body, Group)
    assert isinstance(sub, Subshell) and isinstance(group, Group)


def test_export_reads_as_a_command_with_assignment_words():
    (cmd,) = parse('export CARGO_BUILD_TARGET="x86_64-unknown-linux-musl" B').items
    assert argv(cmd) == ["export", "CARGO_BUILD_TARGET=x86_64-unknown-linux-musl", "B"]


def test_heredoc_bodies_and_comments_are_not_commands():
    tree = parse("cat <<EOF > f\ncargo build\nEOF\necho hi # cargo build\n")
    assert [argv(n) for n in tree.items] == [["cat"], ["echo", "hi"]]


def test_unbalanced_quote_is_unknown_not_an_error():
    tree = parse('echo "unterminated && cargo build --release')
    assert any(isinstance(n, Unknown) for n in tree.items)
    assert not any(isinstance(n, Simple) and "cargo" in argv(n) for n in tree.items)


def _walk(node: object, depth: int = 0) -> int:
    """Node count, and assert the tree is shallow enough to walk recursively."""
    assert depth < 4 * bash.MAX_DEPTH
    children: list[object] = []
    if isinstance(node, Seq | Pipe):
        children = list(node.items)
    elif isinstance(node, Subshell | Group):
        children = [node.body]
    elif isinstance(node, If):
        children = [x for b in node.branches for x in b] + [node.orelse]
    elif isinstance(node, Loop):
        children = [node.cond, node.body]
    elif isinstance(node, Function):
        children = [node.body]
    elif isinstance(node, Case):
        children = [b for _, b in node.arms]
    return 1 + sum(_walk(c, depth + 1) for c in children if c is not None)


def test_hostile_scripts_are_bounded():
    huge = parse("cargo build " * (1024 * 1024 // 12 + 1))
    assert isinstance(huge.items[0], Unknown) and "KiB" in huge.items[0].reason
    _walk(parse("(" * 10_000 + "cargo build" + ")" * 10_000))
    nested = parse("( " * 200 + "cargo build" + " )" * 200)
    _walk(nested)
    assert "nests deeper" in repr(nested)
    chain = parse("a && " * 10_000 + "cargo build")  # a left-nested list 10k deep
    assert len(chain.items) == 10_001 and argv(chain.items[-1]) == ["cargo", "build"]
    braces = parse("{ " * 5_000 + "x; " + "}; " * 5_000)
    _walk(braces)
    for odd in ("a\x00b && c", "$(((((", "'", '"', "`", "if then fi", "case x in", "f() {", "\\"):
        _walk(parse(odd))


# -- the hand reader for plain scripts reads as the grammar does -----------------

_WORD = st.sampled_from(
    [
        "cargo",
        "build",
        "--release",
        "--target",
        "x86_64-unknown-linux-musl",
        "-p",
        "app",
        "/usr/local/bin/",
        "target/release/app",
        "apt-get",
        "install",
        "-y",
        "musl-tools",
        "$T",
        "${TARGET}",
        "-j$N",
        "a$B.c",
        "--x=1",
        "libfoo=1.2",
        "user@host",
        "a:b",
        "~/x",
        "%d",
        "+nightly",
        "2",
        "-",
        ".",
        "x,y",
        "/var/lib/apt/lists/*",
        "*.rs",
        "target/*/release/app",
        "*",
    ]
)
_ASSIGN = st.builds(lambda n, v: f"{n}={v}", st.sampled_from(["A", "RUSTFLAGS", "_x"]), _WORD)
_NAME = st.sampled_from(["cargo", "apt-get", "cp", "/bin/x", "$CC", "a$B", "2", "~/x", "x.sh"])
_COMMAND = st.builds(
    lambda a, n, w: " ".join([*a, n, *w]),
    st.lists(_ASSIGN, max_size=2),
    _NAME,
    st.lists(_WORD, max_size=5),
) | st.builds(lambda a: " ".join(a), st.lists(_ASSIGN, min_size=1, max_size=2))
_EXPORT = st.builds(lambda a: "export " + " ".join(a), st.lists(_ASSIGN, min_size=1, max_size=2))
_OP = st.sampled_from([" && ", " || ", "; ", " | ", " & ", "&&", ";", "|"])


@st.composite
def plain_scripts(draw: st.DrawFn) -> str:
    cmds = draw(st.lists(_COMMAND | _EXPORT, min_size=1, max_size=6))
    ops = [draw(_OP) for _ in cmds[1:]]
    text = cmds[0] + "".join(op + c for op, c in zip(ops, cmds[1:], strict=True))
    return text + draw(st.sampled_from(["", ";", " &", " ", "\t"]))


@settings(max_examples=300, deadline=None)
@given(plain_scripts())
def test_plain_reader_equals_the_grammar(script):
    plain = bash._plain(script)
    assert plain is not None, script
    assert plain == bash._grammar(script)


def test_plain_reader_leaves_everything_else_to_the_grammar():
    for script in (
        "a 'b'",
        'a "b"',
        "a $(b)",
        "if a; then b; fi",
        "a > f",
        "f() { a; }",
        "a\nb",
        "echo $*",
        "ls [ab]*",
        "ls ?.rs",
    ):
        assert bash._plain(script) is None, script


def test_backtick_comments_in_an_install_list_are_nothing():
    (cmd,) = parse("apt-get install -y cmake `# for C deps` libssl-dev   `# for openssl`").items
    assert argv(cmd) == ["apt-get", "install", "-y", "cmake", "libssl-dev"]


def test_a_variable_after_a_command_substitution_stays_in_its_word() -> None:
    # tree-sitter-bash splits `t/$(x)/$D/app` into `t/$(x)/$` and `D/app`
    from allocpolicy.facts.shell import run_script

    (cmd,) = run_script("mv t/$(uname -m)/$D/app /w", {"D": "release"}, "/")
    assert cmd.argv == ["mv", "t/$(uname…)/release/app", "/w"]


def test_the_usual_debian_install_line_needs_no_grammar() -> None:
    # the apt lists glob ends most Debian RUN scripts; read by hand, tree-sitter is not loaded
    script = (
        "apt-get update  && apt-get install -y --no-install-recommends pkg-config libssl-dev"
        "  && rm -rf /var/lib/apt/lists/*"
    )
    assert bash._plain(script) is not None
    assert bash._plain(script) == bash._grammar(script)
