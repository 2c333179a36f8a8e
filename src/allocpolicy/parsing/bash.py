"""A RUN script read with tree-sitter-bash into a small typed tree.

Only what facts/shell.py interprets is kept: simple commands with their
assignment prefixes and words, lists (``;`` ``&&`` ``||`` ``&``), pipelines,
subshells, brace groups, ``if``, ``case``, loops and function definitions.
Redirections, heredoc bodies, tests and arithmetic are dropped: they run
nothing a build depends on.

A word is a tuple of :class:`Piece`: literal text (quotes and backslashes
already removed), a parameter expansion kept as written (``$V``, ``${V:-x}``;
expand.py knows how to expand those), or a command substitution / other
run-time computed text, which no reading can know.

Bounded, because RUN lines come from strangers' pull requests: a script past
:data:`MAX_SCRIPT` bytes or :data:`MAX_NODES` syntax nodes, and anything nested
deeper than :data:`MAX_DEPTH`, reads as :class:`Unknown`; so does any part the
grammar could not read (an ERROR node). Nothing here raises on odd input.

Half the RUN lines of real repositories are plain (``apt-get install -y x &&
cargo build --release``): :func:`_plain` reads those by hand into the very same
tree, so a scan whose scripts are all plain never imports tree-sitter
(tests/parsing/test_bash.py holds the two readings equal on generated plain
scripts).
"""

from __future__ import annotations

import _thread
import re

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import record

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any, TypeAlias

    from tree_sitter import Node as TSNode

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_SCRIPT",
    "Case",
    "Function",
    "Group",
    "If",
    "Loop",
    "Piece",
    "Pipe",
    "Seq",
    "Simple",
    "Subshell",
    "Unknown",
    "parse",
]

# A real RUN script is a few KiB; tree-sitter reads 128 KiB in ~50 ms.
MAX_SCRIPT = 128 * 1024
MAX_NODES = 100_000
# Real scripts nest `if`/subshells two or three deep; the cap keeps the
# recursive conversion far from Python's recursion limit.
MAX_DEPTH = 48

LIT, VAR, SUBST = "lit", "var", "subst"


@record(frozen=True)
class Piece:
    kind: str  # LIT: text as the shell sees it; VAR: `$V`/`${...}` as written; SUBST: unknowable
    text: str
    quoted: bool = False  # inside quotes: an expansion here is not split into fields


if TYPE_CHECKING:
    Word: TypeAlias = tuple[Piece, ...]
    Node: TypeAlias = (
        "Simple | Seq | Pipe | Subshell | Group | If | Case | Loop | Function | Unknown"
    )


@record(frozen=True)
class Simple:
    assigns: tuple[tuple[str, Word], ...]  # NAME=value prefixes (alone: plain assignments)
    words: tuple[Word, ...]


@record(frozen=True)
class Seq:
    items: tuple[Node, ...]
    ops: tuple[str, ...]  # the operator after each item: ";" (also newline, end), "&&", "||", "&"


@record(frozen=True)
class Pipe:
    items: tuple[Node, ...]


@record(frozen=True)
class Subshell:
    body: Seq


@record(frozen=True)
class Group:
    body: Seq


@record(frozen=True)
class If:
    branches: tuple[tuple[Seq, Seq], ...]  # (condition, body) for `if` and each `elif`
    orelse: Seq | None


@record(frozen=True)
class Case:
    word: Word
    arms: tuple[tuple[tuple[Word, ...], Seq], ...]


@record(frozen=True)
class Loop:
    kind: str  # for | while | until
    var: str  # the `for` variable; "" otherwise
    values: tuple[Word, ...] | None  # `for x in a b`; None when not a literal list
    cond: Seq | None
    body: Seq


@record(frozen=True)
class Function:
    name: str
    body: Node


@record(frozen=True)
class Unknown:
    reason: str


def parse(script: str) -> Seq:
    """The script as a tree; unreadable parts are Unknown nodes, never an exception."""
    if len(script) > MAX_SCRIPT:
        return Seq((Unknown(f"the script is over {MAX_SCRIPT // 1024} KiB"),), (";",))
    plain = _plain(script)
    return plain if plain is not None else _grammar(script)


# `# why` in backticks comments one line of a long install list; bash expands it to
# nothing, but tree-sitter-bash reads the comment on past the closing backtick.
_BACKTICK_COMMENT = lazy_re(r"`[ \t]*#[^`\n]*`")


def _grammar(script: str) -> Seq:
    if "`" in script:
        script = _BACKTICK_COMMENT.sub("", script)
    data = script.encode("utf-8", "replace")
    root = _parser().parse(data).root_node
    if root.descendant_count > MAX_NODES:
        return Seq((Unknown(f"the script has over {MAX_NODES} syntax nodes"),), (";",))
    return _Reader(data).seq(root.children, 0)


# -- the hand reader for plain scripts ------------------------------------------

# Words of letters, digits, `_./:=+,@%^~*-` and `$NAME`/`${NAME}`; operators between.
# `*` (the grammar reads a glob as literal text, as bash leaves it until run time) is in
# `rm -rf /var/lib/apt/lists/*`, the last line of most Debian-based RUN scripts.
_PLAIN = lazy_re(r"(?:[\w./:=+,@%^~* \t-]|&&|\|\||[;&|]|\$\{?[A-Za-z_]\w*\}?)*")
_TOKEN = lazy_re(r"&&|\|\||[;&|]|[^\s;&|]+")
_VARREF = lazy_re(r"\$\{[A-Za-z_]\w*\}|\$[A-Za-z_]\w*")
_ASSIGN = lazy_re(r"[A-Za-z_]\w*=")
_RESERVED = frozenset(
    [
        "if",
        "then",
        "else",
        "elif",
        "fi",
        "case",
        "esac",
        "for",
        "select",
        "while",
        "until",
        "do",
        "done",
        "in",
        "function",
        "time",
        "coproc",
        "{",
        "}",
        "!",
        "[[",
        "]]",
        "[",
        "]",
    ]
)


def _plain(script: str) -> Seq | None:
    """The tree of a plain script, or None when it needs the grammar."""
    # Measured: a first grammar reading costs ~27 ms (importing tree-sitter), this 0.5 ms.
    if not _PLAIN.fullmatch(script) or "+=" in script:
        return None
    tokens = _TOKEN.findall(script)
    items: list[Node] = []
    ops: list[str] = []
    pipe: list[Node] = []
    words: list[str] = []
    for i, tok in enumerate([*tokens, ";"]):
        if tok not in ("&&", "||", ";", "&", "|"):
            words.append(tok)
            continue
        if not words:
            # only the end of a script may follow a `;` or `&` with no command
            if i == len(tokens) and not pipe and (not tokens or ops[-1] in (";", "&")):
                break
            return None
        simple = _plain_simple(words)
        if simple is None:
            return None
        words = []
        if tok == "|":
            pipe.append(simple)
            continue
        items.append(Pipe((*pipe, simple)) if pipe else simple)
        ops.append(tok)
        pipe = []
    return Seq(tuple(items), tuple(ops))


def _plain_simple(words: list[str]) -> Simple | None:
    i = 0
    assigns = []
    while i < len(words) and _ASSIGN.match(words[i]):
        name, _, value = words[i].partition("=")
        assigns.append((name, _plain_word(value)))
        i += 1
    rest = words[i:]
    if rest and (rest[0] in _RESERVED or "=" in rest[0]):
        return None
    if any(not _wellformed(w) for w in rest):
        return None
    return Simple(tuple(assigns), tuple(_plain_word(w) for w in rest))


def _wellformed(word: str) -> bool:
    # `{` and `}` only inside ${NAME}; `$` only before a name
    rest = _VARREF.sub("", word)
    return "$" not in rest and "{" not in rest and "}" not in rest


def _plain_word(word: str) -> Word:
    pieces: list[Piece] = []
    at = 0
    for m in _VARREF.finditer(word):
        if m.start() > at:
            pieces.append(Piece(LIT, word[at : m.start()]))
        pieces.append(Piece(VAR, m.group()))
        at = m.end()
    if at < len(word) or not pieces:
        pieces.append(Piece(LIT, word[at:]))
    return tuple(pieces)


# -- the tree-sitter reading ----------------------------------------------------

_LOCK = _thread.allocate_lock()
_LANGUAGE: Any = None
_LOCAL: Any = None


def _parser() -> Any:
    global _LANGUAGE, _LOCAL
    if _LANGUAGE is None:
        with _LOCK:
            if _LANGUAGE is None:
                import threading

                import tree_sitter
                import tree_sitter_bash

                _LOCAL = threading.local()
                _LANGUAGE = tree_sitter.Language(tree_sitter_bash.language())
    parser = getattr(_LOCAL, "parser", None)
    if parser is None:  # Parsers are not safe to share between threads
        import tree_sitter

        parser = _LOCAL.parser = tree_sitter.Parser(_LANGUAGE)
    return parser


_SEPARATORS = frozenset({";", "&", "&&", "||", ";;", "\n"})
_SKIPPED = frozenset(
    {
        "comment",
        "test_command",
        "heredoc_body",
        "heredoc_start",
        "heredoc_end",
        "file_redirect",
        "heredoc_redirect",
        "herestring_redirect",
        "arithmetic_expansion",
        "compound_assignment",
        "then",
        "do",
        "done",
        "fi",
        "else",
        "{",
        "}",
        "(",
        ")",
        "((",
        "))",
    }
)
_DECLARATIONS = frozenset({"declaration_command", "unset_command"})
_UNQUOTE = lazy_re(r"\\(.)", re.S)
_DQ_UNQUOTE = lazy_re(r'\\([$`"\\\n])')
_ANSI = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"', "r": "\r", "e": "\x1b", "a": "\a"}


class _Reader:
    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def text(self, node: TSNode) -> str:
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def unknown(self, node: TSNode) -> Unknown:
        shown = " ".join(self.text(node).split())
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return Unknown(f"the shell grammar could not read `{shown}`")

    # statements

    def seq(self, children: list[TSNode], depth: int) -> Seq:
        items: list[Node] = []
        ops: list[str] = []
        for child in children:
            if child.type in _SEPARATORS:
                if ops:
                    ops[-1] = ";" if child.type in ("\n", ";;") else child.type
                continue
            if child.type == "list":
                self.flatten_list(child, depth, items, ops)
                continue
            _add(self.statement(child, depth), items, ops)
        return Seq(tuple(items), tuple(ops))

    def flatten_list(self, node: TSNode, depth: int, items: list[Node], ops: list[str]) -> None:
        # `a && b && c` nests to the left as deep as the chain is long: walk it with a loop
        stack = [node]
        while stack:
            n = stack.pop()
            if n.type == "list":
                stack.extend(reversed(n.children))
            elif n.type in _SEPARATORS:
                if ops:
                    ops[-1] = n.type
            else:
                _add(self.statement(n, depth), items, ops)

    def statement(self, node: TSNode, depth: int) -> Node | None:
        kind = node.type
        if kind in _SKIPPED or not node.is_named:
            return None
        if depth > MAX_DEPTH:
            return Unknown(f"the script nests deeper than {MAX_DEPTH} levels")
        if kind == "ERROR" or (node.has_error and kind in ("command", "declaration_command")):
            return self.unknown(node)
        method = getattr(self, "s_" + kind, None)
        if method is None:
            return self.unknown(node)
        result: Node | None = method(node, depth + 1)
        return result

    def s_command(self, node: TSNode, depth: int) -> Node:
        assigns: list[tuple[str, Word]] = []
        words: list[Word] = []
        last_end = -1  # where the previous argument ended
        for child in node.children:
            if child.type == "variable_assignment" and not words:
                assigns.append(self.assignment(child))
            elif child.type == "command_name":
                words.extend(self.word(c) for c in child.children)
            elif child.is_named and child.type not in _SKIPPED and "redirect" not in child.type:
                word = self.word(child)
                if child.start_byte == last_end and words and _dangling_dollar(words[-1]):
                    words[-1] = _rejoin(words[-1], word)
                else:
                    words.append(word)
                last_end = child.end_byte
        return Simple(tuple(assigns), tuple(words))

    def s_declaration_command(self, node: TSNode, depth: int) -> Node:
        words: list[Word] = []
        for child in node.children:
            if child.type == "variable_assignment":
                name, value = self.assignment(child)
                words.append(_merge((Piece(LIT, name + "="), *value)))
            elif not child.is_named:
                words.append((Piece(LIT, child.type),))  # the keyword: export, local, ...
            elif "redirect" not in child.type:
                words.append(self.word(child))
        return Simple((), tuple(words))

    s_unset_command = s_declaration_command

    def s_variable_assignment(self, node: TSNode, depth: int) -> Node:
        return Simple((self.assignment(node),), ())

    def s_variable_assignments(self, node: TSNode, depth: int) -> Node:
        assigns = tuple(self.assignment(c) for c in node.children if c.is_named)
        return Simple(assigns, ())

    def s_redirected_statement(self, node: TSNode, depth: int) -> Node | None:
        body = node.child_by_field_name("body")
        return self.statement(body, depth) if body is not None else None

    def s_negated_command(self, node: TSNode, depth: int) -> Node:
        return self.seq([c for c in node.children if c.is_named], depth)

    def s_pipeline(self, node: TSNode, depth: int) -> Node:
        parts = [p for p in (self.statement(c, depth) for c in node.children) if p is not None]
        # tree-sitter-bash reads `a | b && c` as a pipeline of `a` and the list `b && c`, and
        # `a && b 2>x | c` as a pipeline of a list; `|` binds tighter than `&&`: regroup.
        head: tuple[Node, ...] = ()
        head_ops: tuple[str, ...] = ()
        tail: tuple[Node, ...] = ()
        tail_ops: tuple[str, ...] = ()
        if len(parts) > 1 and isinstance(parts[0], Seq) and parts[0].items:
            head, head_ops = parts[0].items[:-1], parts[0].ops[:-1]
            parts[0] = parts[0].items[-1]
        if len(parts) > 1 and isinstance(parts[-1], Seq) and parts[-1].items:
            tail, tail_ops = parts[-1].items[1:], parts[-1].ops
            parts[-1] = parts[-1].items[0]
        pipe: list[Node] = []
        for p in parts:
            pipe.extend(p.items if isinstance(p, Pipe) else (p,))
        if not head and not tail:
            return Pipe(tuple(pipe))
        ops = (*head_ops, *(tail_ops or (";",)))
        return Seq((*head, Pipe(tuple(pipe)), *tail), ops)

    def s_list(self, node: TSNode, depth: int) -> Node:
        items: list[Node] = []
        ops: list[str] = []
        self.flatten_list(node, depth, items, ops)
        return Seq(tuple(items), tuple(ops))

    def s_subshell(self, node: TSNode, depth: int) -> Node:
        return Subshell(self.seq(node.children, depth))

    def s_compound_statement(self, node: TSNode, depth: int) -> Node:
        return Group(self.seq(node.children, depth))

    def s_function_definition(self, node: TSNode, depth: int) -> Node:
        name = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        if name is None or body is None:
            return self.unknown(node)
        inner = self.statement(body, depth)
        return Function(self.text(name), inner if inner is not None else Seq((), ()))

    def s_if_statement(self, node: TSNode, depth: int) -> Node:
        branches: list[tuple[Seq, Seq]] = []
        orelse: Seq | None = None
        for part in self.clauses(node, ("elif_clause",)):
            branches.append(self.cond_body(part, depth))
        for child in node.children:
            if child.type == "else_clause":
                orelse = self.seq(child.children, depth)
        return If(tuple(branches), orelse)

    def clauses(self, node: TSNode, nested: tuple[str, ...]) -> list[list[TSNode]]:
        """The `if` part and each `elif` part as its own list of children."""
        parts: list[list[TSNode]] = [[]]
        for child in node.children:
            if child.type in nested:
                parts.append(list(child.children))
            elif child.type != "else_clause" and not parts[1:]:
                parts[0].append(child)
        return parts

    def cond_body(self, children: list[TSNode], depth: int) -> tuple[Seq, Seq]:
        # `if`/`elif` COND... `then` BODY...
        at = next((i for i, c in enumerate(children) if c.type == "then"), len(children))
        cond = [c for c in children[:at] if c.type not in ("if", "elif")]
        body = [c for c in children[at + 1 :] if c.type not in ("fi", "elif_clause", "else_clause")]
        return self.seq(cond, depth), self.seq(body, depth)

    def s_case_statement(self, node: TSNode, depth: int) -> Node:
        value = node.child_by_field_name("value")
        arms = []
        for item in node.children:
            if item.type != "case_item":
                continue
            patterns = []
            body = []
            seen_paren = False
            for c in item.children:
                if not seen_paren:
                    if c.type == ")":
                        seen_paren = True
                    elif c.is_named:
                        patterns.append(self.word(c))
                else:
                    body.append(c)
            arms.append((tuple(patterns), self.seq(body, depth)))
        word = self.word(value) if value is not None else (Piece(SUBST, ""),)
        return Case(word, tuple(arms))

    def s_for_statement(self, node: TSNode, depth: int) -> Node:
        var = node.child_by_field_name("variable")
        body = node.child_by_field_name("body")
        if var is None or body is None:
            return self.unknown(node)
        values = tuple(self.word(c) for c in node.children_by_field_name("value"))
        body_seq = self.seq(body.children, depth)
        return Loop("for", self.text(var), values, None, body_seq)

    def s_c_style_for_statement(self, node: TSNode, depth: int) -> Node:
        body = node.child_by_field_name("body")
        body_seq = self.seq(body.children, depth) if body is not None else Seq((), ())
        return Loop("for", "", None, None, body_seq)

    def s_while_statement(self, node: TSNode, depth: int) -> Node:
        kind = "until" if node.children and node.children[0].type == "until" else "while"
        conds = [c for c in node.children_by_field_name("condition")]
        body = node.child_by_field_name("body")
        body_seq = self.seq(body.children, depth) if body is not None else Seq((), ())
        return Loop(kind, "", None, self.seq(conds, depth), body_seq)

    def s_do_group(self, node: TSNode, depth: int) -> Node:
        return Group(self.seq(node.children, depth))

    # words

    def assignment(self, node: TSNode) -> tuple[str, Word]:
        name = node.child_by_field_name("name")
        value = node.child_by_field_name("value")
        word = self.word(value) if value is not None else ()
        return (self.text(name) if name is not None else ""), (word or (Piece(LIT, ""),))

    def word(self, node: TSNode) -> Word:
        pieces: list[Piece] = []
        self.pieces(node, False, pieces, 0)
        return _merge(tuple(pieces)) or (Piece(LIT, ""),)

    def pieces(self, node: TSNode, quoted: bool, out: list[Piece], depth: int) -> None:
        kind = node.type
        depth += 1
        if depth > MAX_DEPTH:
            out.append(Piece(SUBST, self.text(node), quoted))  # too deep to read: unknown
        elif kind in ("simple_expansion", "expansion"):
            text = self.text(node)
            has_subst = "$(" in text or "`" in text
            out.append(Piece(SUBST if has_subst else VAR, text, quoted))
        elif kind in ("command_substitution", "process_substitution", "arithmetic_expansion"):
            out.append(Piece(SUBST, self.text(node), quoted))
        elif kind == "concatenation":
            for c in node.children:
                self.pieces(c, quoted, out, depth)
        elif kind in ("string", "translated_string"):
            for c in node.named_children:
                self.pieces(c, True, out, depth)
            if not node.named_children:
                out.append(Piece(LIT, "", True))
        elif kind == "string_content":
            out.append(Piece(LIT, _DQ_UNQUOTE.sub(r"\1", self.text(node)), True))
        elif kind == "raw_string":
            out.append(Piece(LIT, self.text(node)[1:-1], True))
        elif kind == "ansi_c_string":
            body = self.text(node)[2:-1]
            out.append(Piece(LIT, _UNQUOTE.sub(lambda m: _ANSI.get(m[1], m[0]), body), True))
        elif node.child_count and kind not in ("word", "number", "extglob_pattern"):
            for c in node.children:
                self.pieces(c, quoted, out, depth)
        else:
            text = self.text(node)
            out.append(Piece(LIT, _UNQUOTE.sub(r"\1", text) if not quoted else text, quoted))


def _add(node: Node | None, items: list[Node], ops: list[str]) -> None:
    """Append a statement; a list read out of a pipeline joins the list it is in."""
    if isinstance(node, Seq):
        items.extend(node.items)
        ops.extend(node.ops)
    elif node is not None:
        items.append(node)
        ops.append(";")


_NAME = lazy_re(r"[A-Za-z_]\w*")


def _dangling_dollar(word: Word) -> bool:
    return bool(word) and word[-1].kind == LIT and word[-1].text.endswith("$")


def _rejoin(head: Word, tail: Word) -> Word:
    """tree-sitter-bash reads `t/$(x)/$D/app` as `t/$(x)/$` and `D/app`, two words: one
    word again, with `$D` a variable (a grammar quirk after a command substitution)."""
    last = head[-1]
    first = tail[0] if tail else Piece(LIT, "")
    m = _NAME.match(first.text) if first.kind == LIT and not first.quoted else None
    if m is None:
        return _merge((*head, *tail))
    pieces = (
        *head[:-1],
        Piece(LIT, last.text[:-1], last.quoted),
        Piece(VAR, "$" + m.group(0)),
        Piece(LIT, first.text[m.end() :]),
        *tail[1:],
    )
    return _merge(tuple(p for p in pieces if p.kind != LIT or p.text))


def _merge(pieces: tuple[Piece, ...]) -> Word:
    """Adjacent literal pieces as one, so equal words compare equal however they were read."""
    out: list[Piece] = []
    run: list[Piece] = []
    for p in (*pieces, None):
        if p is not None and p.kind == LIT:
            run.append(p)
            continue
        if run:
            text = "".join(r.text for r in run)
            out.append(Piece(LIT, text, any(r.quoted for r in run)))
            run = []
        if p is not None:
            out.append(p)
    return tuple(out)
