"""gitignore patterns (`.gitignore` files, the `exclude` setting), matched as git matches them.

This is git's own algorithm (dir.c and wildmatch.c of git 2.39), translated to Python
regular expressions, so that a scan reads exactly the files git would not ignore:

- a line is cut at a CR before its LF, loses its unescaped trailing spaces and is a
  comment when it starts with `#`; a leading `!` negates it, a trailing `/` makes it
  match directories only;
- a pattern without a `/` (but for a trailing one) matches the last component of a
  path at any depth; any other is anchored to the directory of its `.gitignore`;
- wildmatch: `?`, `*` and classes never match `/`; `**` crosses directories only as
  a whole segment (`**/x`, `x/**/y`, `x/**`), elsewhere it is a `*`; classes take
  `!`/`^`, ranges, backslash escapes and git's ASCII-only `[:alpha:]`-style names;
- what wildmatch cannot parse (a trailing backslash, an unclosed `[`, an unknown
  `[:name:]`) matches nothing, as in git; a reversed range `[z-a]` adds nothing but
  its first character, as in git;
- the last matching line wins; a deeper `.gitignore` wins over a shallower one; and a
  path inside an ignored directory is ignored whatever a later `!` line says, which the
  walk (`IgnoreTree`) gets by never entering an ignored directory.

Matching is byte-wise, as git's is: a path or pattern with non-ASCII characters is seen
as its UTF-8 bytes, one character per byte (so `?` matches one byte, as in git).

Two git quirks are kept on purpose, since the aim is git's answer: an anchored pattern
is matched as its leading literal text, compared as a string, and a wildmatch of the
rest, which starts a new "pattern start" (so `a**/b` matches `a/b` and `ab`); and
`**\\/` needs at least one directory where `**/` needs none.

A regular expression with several `*` can backtrack exponentially; the translation
commits each `*` to the leftmost place the text after it fits (an atomic lookahead),
which is exact for globs and keeps matching polynomial in the path's length.
"""

from __future__ import annotations

import errno
import os
import re
import stat

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

__all__ = ["IgnoreTree", "PatternList", "read_ignore_file"]

MAX_IGNORE_BYTES = 1 << 20  # a .gitignore this large is not a real one: it is skipped
MAX_WIDTH = 4096  # a pattern needing a longer path matches no path the scan can open (PATH_MAX)
# What one tree's .gitignore files may ask of the regular-expression engine: the length
# of the expressions for their wildcard patterns (literal ones and `*.ext` are looked up,
# not matched). Each pattern costs every path up to ~4 us (a 200-byte name against
# `*a1*`), so this bounds a hostile tree at ~4 ms a path; a real one uses a few KiB.
MAX_WILDCARD_TEXT = 32 << 10
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)

# git's own ctype (ASCII only; its isspace leaves out \v and \f), as wildmatch sees it:
# (first, last) ranges of each [:name:]
_POSIX = {
    "alnum": ((48, 57), (65, 90), (97, 122)),
    "alpha": ((65, 90), (97, 122)),
    "blank": ((9, 9), (32, 32)),
    "cntrl": ((1, 31), (127, 127)),
    "digit": ((48, 57),),
    "graph": ((33, 126),),
    "lower": ((97, 122),),
    "print": ((32, 126),),
    "punct": ((33, 47), (58, 64), (91, 96), (123, 126)),
    "space": ((9, 10), (13, 13), (32, 32)),
    "upper": ((65, 90),),
    "xdigit": ((48, 57), (65, 70), (97, 102)),
}


def _special(text: str, start: int = 0) -> int:
    """Where the first of git's glob-special characters (`*?[\\`) is, at or after `start`; -1 if none."""
    found = [at for at in (text.find(c, start) for c in "*?[\\") if at >= 0]
    return min(found) if found else -1


_SLASH = ord("/")


def read_ignore_file(path: str) -> tuple[bytes | None, str | None]:
    """A `.gitignore`'s bytes, or None and why not (None too when git would say nothing).

    git does not follow a symbolic link for a `.gitignore` (since 2.32), so neither do
    we, silently as git (it only warns); a missing one is no news either. A hostile tree
    must neither block the walk (a FIFO: git itself hangs on one) nor fill memory (a
    device): the file is opened without blocking, checked on the descriptor and read no
    further than the limit. What cannot be read that way is reported: its patterns are
    not applied, so the scan may read files git ignores.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            return None, None
        return None, f"cannot read .gitignore ({exc.strerror or exc}); its patterns are not applied"
    chunks, size = [], 0
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "a .gitignore that is not a regular file; not read"
        while size <= MAX_IGNORE_BYTES:  # whatever st_size said: it may grow as we read
            chunk = os.read(fd, MAX_IGNORE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        return None, f"cannot read .gitignore ({exc.strerror or exc}); its patterns are not applied"
    finally:
        os.close(fd)
    if size > MAX_IGNORE_BYTES:
        return None, f".gitignore over {MAX_IGNORE_BYTES} bytes; its patterns are not applied"
    return b"".join(chunks), None


def _bytewise(text: str) -> str:
    """`text` as git sees it: one character per byte of its UTF-8 (surrogates: the bytes they escape)."""
    return text if text.isascii() else os.fsencode(text).decode("latin-1")


class PatternList:
    """The patterns of one source (a `.gitignore`, the exclude setting), for paths below `base`.

    `decide(path, is_dir)` takes a path relative to the scanned root, below `base`, and
    answers True (the last matching pattern ignores it), False (it re-includes it) or
    None (no pattern matches).
    """

    __slots__ = ("_cut", "_dirs", "_files", "_negative", "size")

    def __init__(self, rules: list[_Rule], base: str = "") -> None:
        self._cut = len(base) + 1 if base else 0
        self.size = len(rules)
        negative = [r.negative for r in rules]
        self._negative = negative if any(negative) else None
        signed = self._negative is not None
        self._files = _Matcher([(i, r) for i, r in enumerate(rules) if not r.dir_only], signed)
        self._dirs = _Matcher(list(enumerate(rules)), signed)

    @classmethod
    def from_setting(cls, entries: Sequence[str]) -> PatternList:
        """The exclude setting: each entry a line of a root `.gitignore`."""
        return cls(rules(lines("\n".join(_bytewise(e) for e in entries))))

    def decide(self, path: str, is_dir: bool) -> bool | None:
        if self._cut:
            path = path[self._cut :]
        found = (self._dirs if is_dir else self._files).last(
            path if path.isascii() else _bytewise(path)
        )
        if found < 0:
            return None
        return self._negative is None or not self._negative[found]


class _Matcher:
    """Which rule matches a path last (-1: none; without negative rules, 0: one does).

    As git does, literal patterns are compared, not matched: last components and paths
    by dictionary, `*literal` by the component's ending (a dictionary per length). Only
    the rest are regular expressions, one on the last component and one on the path.
    """

    __slots__ = ("_endings", "_names", "_paths", "_suffixes", "_wild_names", "_wild_paths", "last")

    def __init__(self, rules: list[tuple[int, _Rule]], signed: bool) -> None:
        # later lines overwrite earlier ones: each key keeps the last rule's index
        self._names = {r.text: i for i, r in rules if r.kind == _NAME}
        self._paths = {r.text: i for i, r in rules if r.kind == _PATH}
        suffixes: dict[int, dict[str, int]] = {}
        for i, r in rules:
            if r.kind == _SUFFIX:
                suffixes.setdefault(len(r.text), {})[r.text] = i
        self._suffixes = sorted(suffixes.items())
        self._endings = tuple(e for _, table in self._suffixes for e in table)
        self._wild_names = _combine([(i, r.text) for i, r in rules if r.kind == _WILD_NAME], signed)
        self._wild_paths = _combine([(i, r.text) for i, r in rules if r.kind == _WILD_PATH], signed)
        self.last = self._last if signed else self._any

    def _any(self, rel: str) -> int:
        name = rel.rpartition("/")[2]
        wild_names, wild_paths = self._wild_names, self._wild_paths
        return (
            0
            if name in self._names
            or rel in self._paths
            or (self._endings and name.endswith(self._endings))
            or (wild_names is not None and wild_names(name) is not None)
            or (wild_paths is not None and wild_paths(rel) is not None)
            else -1
        )

    def _last(self, rel: str) -> int:
        name = rel.rpartition("/")[2]
        best = self._names.get(name, -1)
        found = self._paths.get(rel, -1)
        if found > best:
            best = found
        for size, table in self._suffixes:
            if size > len(name):
                break
            found = table.get(name[len(name) - size :], -1)
            if found > best:
                best = found
        for match, text in ((self._wild_names, name), (self._wild_paths, rel)):
            if match is not None:
                hit = match(text)
                if hit is not None and int(str(hit.lastgroup)[1:]) > best:
                    best = int(str(hit.lastgroup)[1:])
        return best


def rules(patterns: Iterable[str]) -> list[_Rule]:
    """The rules of pattern lines already cut as git cuts them (`lines`), as bytewise text."""
    return [r for r in map(_rule, patterns) if r is not None]


def wildcard_text(found: list[_Rule]) -> int:
    """What matching these rules asks of the regular-expression engine (see MAX_WILDCARD_TEXT)."""
    return sum(len(r.text) for r in found if r.kind >= _WILD_NAME)


def lines(text: str) -> list[str]:
    """The pattern lines of a `.gitignore` (its text one character per byte), as git cuts them."""
    if text.startswith("\xef\xbb\xbf"):  # a UTF-8 byte order mark
        text = text[3:]
    out = []
    for line in text.split("\n"):
        if not line or line[0] == "#":
            continue
        if line[-1] == "\r":
            line = line[:-1]
        line = _trim(line.split("\0", 1)[0])  # git reads a line as a C string
        if line:
            out.append(line)
    return out


def _trim(line: str) -> str:
    """Drop trailing spaces (not tabs) unless escaped; a trailing backslash keeps them all."""
    if not line.endswith(" "):
        return line
    stripped = line.rstrip(" ")
    backslashes = len(stripped) - len(stripped.rstrip("\\"))
    if backslashes % 2:  # `foo\ ` keeps its escaped space
        return stripped + " "
    return stripped


# How a rule is matched; its text is what is compared (for the first three) or an expression.
_NAME = 0  # a literal last component
_PATH = 1  # a literal path, below the list's directory
_SUFFIX = 2  # `*literal`: the ending of the last component (git's PATTERN_FLAG_ENDSWITH)
_WILD_NAME = 3  # an expression for the last component
_WILD_PATH = 4  # an expression for the path


class _Rule:
    __slots__ = ("dir_only", "kind", "negative", "text")

    def __init__(self, kind: int, text: str, negative: bool, dir_only: bool) -> None:
        self.kind, self.text, self.negative, self.dir_only = kind, text, negative, dir_only


def _rule(line: str) -> _Rule | None:
    """One pattern line as git's parse_path_pattern and match_basename/match_pathname read it.

    None for a pattern that matches nothing: empty, malformed, or wider than any path the
    scan can open (MAX_WIDTH).
    """
    negative = line.startswith("!")
    if negative:
        line = line[1:]
    dir_only = line.endswith("/")
    if dir_only:
        line = line[:-1]
    if not line:
        return None
    if "/" not in line:  # matched against the last path component, at any depth
        return _name_rule(line, negative, dir_only)
    if line.startswith("/"):
        line = line[1:]
    rest = line[3:]
    if line.startswith("**/") and "/" not in rest and not (len(rest) > 1 and not rest.strip("*")):
        return _name_rule(rest, negative, dir_only)  # `**/x` is `x` (but `**/**` is everything)
    at = _special(line)
    if at < 0:
        return _Rule(_PATH, line, negative, dir_only) if 0 < len(line) <= MAX_WIDTH else None
    literal, rest = line[:at], line[at:]
    body = _wild(rest, pathname=True, width=len(literal))
    if body is None:
        return None
    return _Rule(_WILD_PATH, re.escape(literal) + body, negative, dir_only)


def _name_rule(pattern: str, negative: bool, dir_only: bool) -> _Rule | None:
    """A pattern for the last component (git's match_basename), its `!` and `/` taken off."""
    at = _special(pattern)
    if len(pattern) > MAX_WIDTH and at != 0:
        return None
    if at < 0:
        return _Rule(_NAME, pattern, negative, dir_only)
    if at == 0 and pattern[0] == "*" and _special(pattern, 1) < 0:
        return _Rule(_SUFFIX, pattern[1:], negative, dir_only)
    body = _wild(pattern, pathname=False)
    return None if body is None else _Rule(_WILD_NAME, body, negative, dir_only)


def _combine(
    rules: list[tuple[int, str]], signed: bool
) -> Callable[[str], re.Match[str] | None] | None:
    """One expression trying the rules last to first: the first alternative to match is git's answer.

    With negative rules in the list, each rule is a group named after its index; the
    match's `lastgroup` is then the rule's (its group closes after those inside it).
    """
    if not rules:
        return None
    names = _Names()
    if not signed:
        return re.compile("|".join(names.apply(r) for _, r in reversed(rules)), re.S).fullmatch
    parts = [f"(?P<r{i}>{names.apply(r)})" for i, r in reversed(rules)]
    return re.compile("|".join(parts), re.S).fullmatch


class _Names:
    """Unique names, across one compiled expression, for the rules' atomic-lookahead groups.

    A rule's expression writes them `(?P<@>` ... `(?P=@)`, nested or in sequence; each
    back-reference closes the innermost group still open.
    """

    def __init__(self) -> None:
        self.n = 0

    def apply(self, regex: str) -> str:
        if "(?P<@>" not in regex:
            return regex
        out, open_ = [], []
        for piece in re.split(r"(\(\?P<@>|\(\?P=@\))", regex):
            if piece == "(?P<@>":
                self.n += 1
                open_.append(f"g{self.n}")
                out.append(f"(?P<{open_[-1]}>")
            elif piece == "(?P=@)":
                out.append(f"(?P={open_.pop()})")
            else:
                out.append(piece)
        return "".join(out)


# Tokens of a wildmatch pattern: single-character expressions (str) and these markers.
_STAR = 1  # `*`: any run of characters but `/`
_DSTAR_ANY = 2  # `**/` as a segment: any number of whole directories, or none
_DSTAR_SOME = 3  # `**\/` as a segment: one or more directories (git tries no shortcut)
_DSTAR_END = 4  # a final `/**`-style `**`: everything
_ANY = "[^/]"


def _wild(p: str, pathname: bool, width: int = 0) -> str | None:
    """The regular expression for wildmatch pattern `p`; None when git's wildmatch can never match it.

    `width`: characters any match needs before `p`; a pattern needing more than
    MAX_WIDTH in all is dropped (which also bounds the expression's size).
    """
    tokens = _tokens(p, pathname)
    if tokens is None:
        return None
    width += sum(1 for t in tokens if isinstance(t, str) or t == _DSTAR_SOME)
    return None if width > MAX_WIDTH else _regex(tokens)


def _tokens(p: str, pathname: bool) -> list[str | int] | None:
    out: list[str | int] = []
    i, n = 0, len(p)
    while i < n:
        if len(out) > MAX_WIDTH:
            return None  # each token but a `*` needs a character, and stars never follow stars
        c = p[i]
        if c == "\\":
            if i + 1 == n:
                return None  # a trailing backslash: never matches
            out.append(re.escape(p[i + 1]))
            i += 2
        elif c == "?":
            out.append(_ANY)
            i += 1
        elif c == "*":
            j = i
            while j < n and p[j] == "*":
                j += 1
            star = _star(p, i, j, pathname)
            if star == _DSTAR_ANY:
                j += 1
            elif star == _DSTAR_SOME:
                j += 2
            if star != _STAR or not out or out[-1] != _STAR:
                out.append(star)
            i = j
        elif c == "[":
            found = _class(p, i)
            if found is None:
                return None  # unclosed or an unknown [:name:]: never matches
            cls, i = found
            out.append(cls)
        else:
            out.append(re.escape(c))
            i += 1
    return out


def _star(p: str, i: int, j: int, pathname: bool) -> int:
    """What the run of stars p[i:j] is, as wildmatch decides it."""
    if j - i < 2 or not pathname or (i > 0 and p[i - 1] != "/"):
        return _STAR
    if j == len(p):
        return _DSTAR_END
    if p[j] == "/":
        return _DSTAR_ANY
    if p[j : j + 2] == "\\/":
        return _DSTAR_SOME
    return _STAR


def _class(p: str, i: int) -> tuple[str, int] | None:
    """The bracket expression at p[i] as a regular-expression class, and where it ends.

    Read exactly as wildmatch reads it: a `]` first is literal, `-` makes a range only
    between two characters (a reversed one adds nothing), a backslash escapes, and a
    `[:` without its `:]` is literal.
    """
    n = len(p)
    i += 1
    negated = i < n and p[i] in "!^"
    if negated:
        i += 1
    members: set[int] = set()
    prev: str | None = None
    while True:
        if i >= n:
            return None
        c = p[i]
        cur: str | None = c
        if c == "\\":
            i += 1
            if i >= n:
                return None
            cur = p[i]
            members.add(ord(cur))
        elif c == "-" and prev is not None and i + 1 < n and p[i + 1] != "]":
            i += 1
            end = p[i]
            if end == "\\":
                i += 1
                if i >= n:
                    return None
                end = p[i]
            members.update(range(ord(prev), ord(end) + 1))
            cur = None
        elif c == "[" and i + 1 < n and p[i + 1] == ":":
            close = p.find("]", i + 2)
            if close < 0:
                return None
            if close - 1 < i + 2 or p[close - 1] != ":":
                members.add(ord("["))  # not a [:name:]: a literal `[`, then go on after it
            else:
                named = _POSIX.get(p[i + 2 : close - 1])
                if named is None:
                    return None
                for lo, hi in named:
                    members.update(range(lo, hi + 1))
                cur = None
                i = close
        else:
            members.add(ord(c))
        prev = cur
        i += 1
        if i >= n:
            return None
        if p[i] == "]":
            break
    if negated:
        members = set(range(1, 256)) - members
    members.discard(_SLASH)
    return _charset(members), i + 1


def _charset(members: set[int]) -> str:
    if not members:
        return "(?!)"
    parts, run = [], sorted(members)
    start = prev = run[0]
    for c in run[1:] + [-1]:
        if c == prev + 1:
            prev = c
            continue
        lo, hi = re.escape(chr(start)), re.escape(chr(prev))
        parts.append(lo if start == prev else f"{lo}-{hi}")
        start = prev = c
    return "[" + "".join(parts) + "]"


def _regex(tokens: list[str | int]) -> str:
    """Tokens to an expression whose every `*` and `**` commits to its leftmost fit.

    The text between two `**` (a unit) matches whole path segments, and inside a segment
    the text between two `*` has a fixed length; in both cases the leftmost place where
    it fits leaves the most for what follows, which another `*`/`**` absorbs. So each
    is found once, in an atomic lookahead (`(?=(?P<g>...))(?P=g)`, Python's lookaheads
    do not backtrack), and only the last `*` of a segment and the last `**` backtrack.
    """
    units: list[list[str | int]] = [[]]
    stars: list[int] = []
    for t in tokens:
        if t in (_DSTAR_ANY, _DSTAR_SOME, _DSTAR_END):
            assert isinstance(t, int)
            if stars and not units[-1]:  # two `**` with nothing between: one says it all
                if stars[-1] == _DSTAR_ANY:  # `**/**/` is `**/`, `**/**\/` is `**\/`...
                    stars[-1] = t
                    continue
                if t == _DSTAR_ANY:  # ... and `**\/**/` is `**\/`
                    continue
            stars.append(t)
            units.append([])
        else:
            units[-1].append(t)
    out = _unit(units[0])
    last = len(stars) - 1
    for k, star in enumerate(stars):
        unit = _unit(units[k + 1])
        if star == _DSTAR_END:
            out += ".*"
        elif k < last and stars[k + 1] != _DSTAR_END:
            lazy = "(?:.*?/)??" if star == _DSTAR_ANY else ".*?/"
            out += f"(?=(?P<@>{lazy}{unit}))(?P=@)"
        else:
            out += ("(?:.*/)?" if star == _DSTAR_ANY else ".*/") + unit
    return out


def _unit(tokens: list[str | int]) -> str:
    segments: list[list[str | int]] = [[]]
    for t in tokens:
        if t == "/":
            segments.append([])
        else:
            segments[-1].append(t)
    return "/".join(_segment(s) for s in segments)


def _segment(tokens: list[str | int]) -> str:
    chunks: list[str] = [""]
    for t in tokens:
        if t == _STAR:
            chunks.append("")
        else:
            chunks[-1] += str(t)
    out = chunks[0]
    for middle in chunks[1:-1]:
        if middle:
            out += f"(?=(?P<@>{_ANY}*?{middle}))(?P=@)"
    if len(chunks) > 1:
        out += _ANY + "*" + chunks[-1]
    return out


class IgnoreTree:
    """What a scan of `root` skips: what git ignores there, and what the exclude setting excludes.

    Every `.gitignore` from the root down counts, each for the paths below its directory
    (a deeper one first), as in git. `.git/info/exclude` and the user's
    `core.excludesFile` do not: they are one clone's settings, and a scan must give every
    clone (and CI) the same answer; the exclude setting is the repository's way to say it.
    The exclude setting is its own list: a `!` in a `.gitignore` cannot re-include what
    it excludes, nor the other way round.
    """

    def __init__(self, root: str, excludes: Sequence[str] = ()) -> None:
        self.root = root
        self.excludes = PatternList.from_setting(excludes) if excludes else None
        if self.excludes is not None and not self.excludes.size:
            self.excludes = None
        self.problems: list[tuple[str, str]] = []  # (.gitignore, why its patterns are not applied)
        self._budget = MAX_WILDCARD_TEXT
        self._inside: dict[str, tuple[PatternList, ...] | None] = {}

    def enter(self, rel_dir: str, lists: tuple[PatternList, ...]) -> tuple[PatternList, ...]:
        """The lists for entries of `rel_dir` (not ignored), given those of its parent: its own `.gitignore` added."""
        rel = f"{rel_dir}/.gitignore" if rel_dir else ".gitignore"
        data, problem = read_ignore_file(os.path.join(self.root, rel))
        if data is None:
            if problem is not None:
                self.problems.append((rel, problem))
            return lists
        found = rules(lines(data.decode("latin-1")))
        cost = wildcard_text(found)
        if cost > self._budget:
            self.problems.append(
                (
                    rel,
                    "the tree's .gitignore files have too many wildcard patterns to match; not applied",
                )
            )
            return lists
        self._budget -= cost
        return (*lists, PatternList(found, rel_dir)) if found else lists

    def skips(self, lists: tuple[PatternList, ...], rel: str, is_dir: bool) -> bool:
        """Whether an entry of a directory that is not itself skipped is skipped (`lists`: that directory's)."""
        for patterns in reversed(lists) if len(lists) > 1 else lists:
            verdict = patterns.decide(rel, is_dir)
            if verdict is not None:
                if verdict:
                    return True
                break
        return self.excludes is not None and self.excludes.decide(rel, is_dir) is True

    def ignored(self, rel: str, is_dir: bool = False) -> bool:
        """Whether `rel` is skipped, itself or as the content of a skipped directory."""
        lists = self.lists_inside(rel.rpartition("/")[0])
        return lists is None or self.skips(lists, rel, is_dir)

    def lists_inside(self, rel_dir: str) -> tuple[PatternList, ...] | None:
        """The lists for entries of `rel_dir`; None when it, or a directory above it, is skipped."""
        try:
            return self._inside[rel_dir]
        except KeyError:
            pass
        if not rel_dir:
            lists: tuple[PatternList, ...] | None = self.enter("", ())
        else:
            above = self.lists_inside(rel_dir.rpartition("/")[0])
            if above is None or self.skips(above, rel_dir, True):
                lists = None
            else:
                lists = self.enter(rel_dir, above)
        self._inside[rel_dir] = lists
        return lists
