"""Generated trees and .gitignore files, and real git's verdict on them (`git check-ignore`).

Shared by tests/test_ignore.py (every path, through IgnoreTree) and
tests/test_discovery.py (what `discover` lists). The alphabet has the characters
gitignore treats specially (`*`, `?`, `[`, `]`, `\\`, `!`, `#`, space, CR) and a
non-ASCII letter, which git matches byte by byte. Patterns are drawn from a grammar of
realistic and weird forms, most of them built from names in the tree so that they match
something, and some malformed (a trailing backslash, an unclosed `[`, `[z-a]`, an
unknown `[:name:]`).

GITIGNORE_EXAMPLES sets how many cases each differential test runs (default 150).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("GITIGNORE_EXAMPLES", "150"))

CHARS = "ab*?[]\\!# \ré-."
NAME = st.text(st.sampled_from(CHARS), min_size=1, max_size=4).filter(
    lambda s: s not in (".", "..", ".git") and s != ".gitignore"
)
DIR_NAME = st.one_of(st.sampled_from(["a", "b", "src", "sub dir", "x.rs", "[a]", "#b", "!c"]), NAME)
FILE_NAME = st.one_of(
    st.sampled_from(
        ["Cargo.toml", "Dockerfile", "main.rs", "a.rs", "Cargo.lock", "api.Dockerfile"]
    ),
    NAME.map(lambda s: s + ".rs"),
)

# Fixed pieces of patterns: wildcards, classes (good and malformed), escapes
PIECES = [
    "*",
    "**",
    "?",
    "*.rs",
    "[ab]",
    "[!a]",
    "[^a]",
    "[a-c]",
    "[z-a]",
    "[]]",
    "[!]]",
    "[[:alpha:]]",
    "[[:space:]]",
    "[[:punct:]]",
    "[[:nope:]]",
    "[[:alpha:]",
    "[a",
    "[\\]]",
    "[a-]",
    "[-a]",
    "\\*",
    "\\?",
    "\\[",
    "\\\\",
    "\\a",
    "\\ ",
    "\\",
    "\\/",
    "Cargo.toml",
    "Dockerfile",
    "src",
    "a",
    "b",
]


@st.composite
def trees(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """(directories, files): relative paths, directories before what they hold."""
    dirs = [""]
    for _ in range(draw(st.integers(1, 5))):
        parent = draw(st.sampled_from(dirs))
        name = draw(DIR_NAME)
        rel = f"{parent}/{name}" if parent else name
        if rel not in dirs:
            dirs.append(rel)
    files = []
    for _ in range(draw(st.integers(1, 10))):
        parent = draw(st.sampled_from(dirs))
        name = draw(FILE_NAME)
        rel = f"{parent}/{name}" if parent else name
        if rel not in dirs and rel not in files and not any(d.startswith(rel + "/") for d in dirs):
            files.append(rel)
    return dirs[1:], files


def _mutate(draw: st.DrawFn, name: str) -> str:
    """A pattern piece that matches `name`, or nearly: a character swapped for a wildcard."""
    out = []
    for c in name:
        how = draw(st.integers(0, 9))
        if how == 0:
            out.append("?")
        elif how == 1:
            out.append("*")
        elif how == 2:
            out.append(f"[{c}x]" if c not in "]\\!^-[" else "\\" + c)
        elif c in "*?[\\" and how < 6:
            out.append("\\" + c)
        else:
            out.append(c)
    return "".join(out)


@st.composite
def patterns(draw: st.DrawFn, names: list[str]) -> str:
    segments = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.integers(0, 3))
        if kind == 0 or not names:
            segments.append(draw(st.sampled_from(PIECES)))
        elif kind == 1:
            segments.append(_mutate(draw, draw(st.sampled_from(names))))
        elif kind == 2:
            segments.append(draw(st.sampled_from(names)))
        else:
            segments.append(draw(st.sampled_from(PIECES)) + draw(st.sampled_from(names)))
    line = "/".join(segments)
    if draw(st.integers(0, 3)) == 0:
        line = "/" + line
    if draw(st.integers(0, 3)) == 0:
        line += "/"
    prefix = draw(st.sampled_from(["", "", "", "!", "!", "#", "\\#", "\\!", " "]))
    suffix = draw(st.sampled_from(["", "", "", " ", "  ", "\\ ", "\t", "\r", "\\"]))
    return prefix + line + suffix


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[str], list[str], dict[str, str]]:
    """A tree and its .gitignore files (by directory, "" for the root)."""
    dirs, files = draw(trees())
    names = sorted({part for rel in dirs + files for part in rel.split("/")})
    ignores: dict[str, str] = {}
    for where in draw(st.lists(st.sampled_from(["", "", *dirs]), min_size=1, max_size=3)):
        below = [n for rel in dirs + files if rel.startswith(where) for n in rel.split("/")]
        lines = draw(st.lists(patterns(sorted(set(below)) or names), min_size=1, max_size=6))
        if draw(st.integers(0, 5)) == 0:
            lines.insert(0, draw(st.sampled_from(["*", "*/", "**", "/*"])))  # allow-list style
            lines.insert(1, draw(st.sampled_from(["!*/", "!**/", "!*.rs", "!/*/"])))
        ignores[where] = "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n"]))
    return dirs, files, ignores


def write_case(root: Path, dirs: list[str], files: list[str], ignores: dict[str, str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for d in dirs:
        (root / d).mkdir(parents=True, exist_ok=True)
    for f in files:
        (root / f).write_text("")
    for where, text in ignores.items():
        (root / where / ".gitignore").write_bytes(text.encode("utf-8", "surrogateescape"))


def git_ignored(root: Path, paths: list[str]) -> set[str]:
    """The paths real git ignores in the repository at `root` (initialised here if need be).

    `check-ignore --no-index` answers for each path as a walk would, a path inside an
    ignored directory included; git's global and system settings are kept out, and the
    repository has no `.git/info/exclude` (an empty template).
    """
    env = {
        **os.environ,
        "HOME": str(root.parent),
        "XDG_CONFIG_HOME": str(root.parent / "xdg"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    if not (root / ".git").exists():
        subprocess.run(["git", "init", "-q", "--template=", str(root)], check=True, env=env)
    done = subprocess.run(
        ["git", "-c", "core.ignorecase=false", "check-ignore", "--no-index", "-z", "--stdin"],
        cwd=root,
        input=b"".join(os.fsencode(p) + b"\0" for p in paths),
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr  # 1: nothing ignored
    return {os.fsdecode(p) for p in done.stdout.split(b"\0") if p}
