"""Containerfile edits: each replaces only the lines of the instruction it changes."""

from __future__ import annotations

import json
import re
from typing import Any

from allocpolicy._lazyre import lazy_re
from allocpolicy.facts.libraries import allocator_of_library, package_allocator
from allocpolicy.facts.shell import commands, installed_packages
from allocpolicy.fixes.edits import replace_lines
from allocpolicy.model import Edit

TYPE_CHECKING = False
if TYPE_CHECKING:
    from allocpolicy.facts.catalog import LdPreloadSubject

# `(?<![\w-])`: MY_LD_PRELOAD=... is another variable.
_ASSIGN = lazy_re(r"""(?:\benv\s+)?(?<![\w-])LD_PRELOAD=("[^"]*"|'[^']*'|\S+)\s*""")
_INSTALL = {
    "apt": "RUN apt-get update && apt-get install -y --no-install-recommends {pkg} && rm -rf /var/lib/apt/lists/*",
    "apk": "RUN apk add --no-cache {pkg}",
    "dnf": "RUN dnf install -y {pkg} && dnf clean all",
    "microdnf": "RUN microdnf install -y {pkg} && microdnf clean all",
}


def _instruction(cf: Any, line: int) -> Any:
    return next((i for i in cf.doc.instructions if i.start_line == line), None)


def remove_preload(cf: Any, preload: Any, repo: Any) -> list[Edit]:
    ins = _instruction(cf, preload.line)
    if ins is None:
        return []
    lines = cf.doc.lines
    edit = (
        _remove_from_env(cf.path, ins, lines)
        if ins.keyword == "ENV"
        else _remove_from_command(cf.path, ins, lines)
    )
    if edit is None:
        return []
    return [edit] + _installs_serving(cf, preload.path)


def _remove_from_env(path: str, ins: Any, lines: list[str]) -> Edit | None:
    pairs = [w for w in ins.words() if "=" in w]
    if len(pairs) <= 1 and all(p.startswith("LD_PRELOAD=") for p in pairs):
        return replace_lines(path, ins.start_line, ins.end_line, [])
    rows = list(range(ins.start_line, ins.end_line + 1))
    hit = [n for n in rows if "LD_PRELOAD=" in lines[n - 1]]
    if len(hit) != 1:
        return None
    n = hit[0]
    row = lines[n - 1]
    cut = _ASSIGN.sub("", row, count=1)
    if cut.strip() in ("\\", "") and n != ins.start_line:
        if n == ins.end_line:  # last continuation line: the previous one must stop continuing
            prev = lines[n - 2].rstrip()
            return replace_lines(
                path, n - 1, n, [prev[:-1].rstrip()] if prev.endswith("\\") else [prev]
            )
        return replace_lines(path, n, n, [])
    if cut.strip().upper() == "ENV":
        return None
    head = cut.rstrip()
    if n == ins.start_line and head.endswith("\\") and head[:-1].strip().upper() == "ENV":
        return _join_next(path, lines, n, head[:-1].rstrip())
    return replace_lines(path, n, n, [head])


def _join_next(path: str, lines: list[str], n: int, keyword: str) -> Edit | None:
    """`ENV \\` + `    B=2`: pull the next line up rather than leave a bare continuation."""
    if n >= len(lines) or lines[n].lstrip().startswith("#") or not lines[n].strip():
        return None
    return replace_lines(path, n, n + 1, [f"{keyword} {lines[n].lstrip()}"])


def _remove_from_command(path: str, ins: Any, lines: list[str]) -> Edit | None:
    if ins.start_line != ins.end_line:
        return None
    argv = ins.exec_form()
    row = lines[ins.start_line - 1]
    if argv is None:
        new = _ASSIGN.sub("", row, count=1)
        return replace_lines(path, ins.start_line, ins.start_line, [new.rstrip()])
    if len(argv) >= 3 and argv[1] == "-c":
        argv = argv[:2] + [_ASSIGN.sub("", argv[2], count=1).strip()]
    else:
        argv = [a for a in argv if not a.startswith("LD_PRELOAD=")]
        if argv and argv[0] in ("env", "/usr/bin/env") and not any("=" in a for a in argv[1:2]):
            argv = argv[1:]
    keyword = row[: len(row) - len(row.lstrip())] + row.lstrip().split(None, 1)[0]
    new = json.dumps(argv, ensure_ascii=False)  # keep non-ASCII arguments readable
    return replace_lines(path, ins.start_line, ins.start_line, [f"{keyword} {new}"])


def _installs_serving(cf: Any, lib_path: str) -> list[Edit]:
    """A RUN that does nothing but install this allocator's package goes too."""
    alloc = allocator_of_library(lib_path)
    final = cf.final
    if alloc is None or final is None:
        return []
    out = []
    for ins in final.stage.instructions:
        if ins.keyword != "RUN" or ins.heredocs:
            continue
        cmds = commands(ins.args)
        pkgs = [p for c in cmds for p in installed_packages(c)]
        if (
            pkgs
            and all(package_allocator(p) == alloc for p in pkgs)
            and all(_housekeeping(c) for c in cmds)
        ):
            out.append(replace_lines(cf.path, ins.start_line, ins.end_line, []))
    return out


def _housekeeping(cmd: Any) -> bool:
    if installed_packages(cmd):
        return True
    argv = cmd.argv
    return (
        argv[:2] in (["apt-get", "update"], ["apt", "update"])
        or argv[:1] in (["rm"], ["apk"])
        or argv[:2] == ["dnf", "clean"]
    )


def correct_preload(subject: LdPreloadSubject, repo: Any) -> tuple[str, list[Edit]] | None:
    cf, preload = subject.containerfile, subject.preload
    expected, pkg = subject.expected_path, subject.expected_package
    ins = _instruction(cf, preload.line)
    if not expected or not pkg or ins is None:
        return None
    lines = cf.doc.lines
    rows: dict[int, list[str]] = {}  # row -> its replacement lines
    if preload.path != expected:
        path_re = re.compile(
            re.escape(preload.path) + r"(?![\w.+-])"
        )  # not a prefix of a longer name
        row = next(
            (n for n in range(ins.start_line, ins.end_line + 1) if path_re.search(lines[n - 1])),
            None,
        )
        if row is None:
            return None
        rows[row] = [path_re.sub(expected, lines[row - 1])]
    if subject.library_status == "missing":
        manager = cf.final.image.package_manager if cf.final else None
        template = _INSTALL.get(manager or "")
        if template is None:
            return None
        # The install goes right above the instruction; one edit if that line changes too.
        rows[ins.start_line] = [template.format(pkg=pkg)] + rows.get(
            ins.start_line, [lines[ins.start_line - 1]]
        )
    if subject.library_status == "wrong-path":
        _swap_package(cf, lines, pkg, subject.library_allocator, rows)
    if not rows:
        return None
    edits = [replace_lines(cf.path, n, n, new) for n, new in sorted(rows.items())]
    return f"Install {pkg} and preload {expected}", edits


def _swap_package(
    cf: Any, lines: list[str], pkg: str, alloc: str | None, rows: dict[int, list[str]]
) -> None:
    """The release's package for that allocator: `libmimalloc2.0` does not exist on trixie.
    `lines` are the file's (`cf.doc.lines`, split once by the caller)."""
    final = cf.final
    if final is None or alloc is None:
        return
    for installed, line in final.packages.items():
        if installed == pkg or package_allocator(installed) != alloc:
            continue
        ins = next(
            (i for i in final.stage.instructions if i.start_line == line and i.keyword == "RUN"),
            None,
        )
        if ins is None:
            continue
        word = re.compile(rf"(?<![\w.+-]){re.escape(installed)}(?![\w.+-])")
        for n in range(ins.start_line, ins.end_line + 1):
            current = rows.get(n, [lines[n - 1]])
            if len(current) == 1 and word.search(current[0]):
                rows[n] = [word.sub(pkg, current[0])]
