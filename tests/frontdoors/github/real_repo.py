"""Real git repositories, scanned by the real engine, reviewed against the API double.

Imported by name (the repository has several conftest.py files). Patches are
taken from git as bytes, as GitHub serves them: a CRLF file keeps its CRs.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from gh_helpers import Run, run_bot, write_event
from ghdouble import GitHubDouble, PrFile

from allocpolicy.commands.scan import scan
from allocpolicy.frontdoors.github.command import inputs_from_result


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


@dataclass
class Repo:
    root: Path

    def write(self, files: dict[str, str | bytes]) -> None:
        for rel, text in files.items():
            p = self.root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(text, bytes):
                p.write_bytes(text)
            else:
                p.write_bytes(text.encode())

    def remove(self, *rels: str) -> None:
        for rel in rels:
            (self.root / rel).unlink()

    def commit(self, message: str) -> str:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-qm", message)
        return git(self.root, "rev-parse", "HEAD").strip()


def new_repo(tmp: Path, files: dict[str, str | bytes], name: str = "workspace") -> Repo:
    root = tmp / name
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.invalid")
    git(root, "config", "user.name", "t")
    git(root, "config", "core.autocrlf", "false")
    repo = Repo(root)
    repo.write(files)
    return repo


def patches(root: Path, base: str, head: str) -> list[PrFile]:
    """What pulls/list-files says: each file's diff body after its headers."""
    out = []
    names = git(root, "diff", "--name-status", "--no-renames", base, head).splitlines()
    for line in names:
        status, name = line.split("\t", 1)
        raw = subprocess.run(
            ["git", "-C", str(root), "diff", "--no-renames", base, head, "--", name],
            check=True,
            capture_output=True,
        ).stdout.decode()
        body = raw[raw.index("\n@@") + 1 :].removesuffix("\n") if "\n@@" in raw else None
        out.append(PrFile(name, body, {"A": "added", "M": "modified", "D": "removed"}[status[0]]))
    return out


def event(tmp: Path, number: int, head: str, base: str) -> Path:
    return write_event(tmp / f"event-{number}-{head[:8]}.json", number, head, base)


def review(
    double: GitHubDouble, tmp: Path, root: Path, number: int, head: str, base: str, **kw: Any
) -> Run:
    """Scan `root` with the real engine, then run github-review against the double."""
    return run_bot(
        double.base_url,
        tmp,
        inputs_from_result(scan(root)),
        event(tmp, number, head, base),
        path=root,
        **kw,
    )


def bot_comments(double: GitHubDouble) -> list[dict[str, Any]]:
    return [c for c in double.review_comments if c["user"]["login"] == "github-actions[bot]"]


def fenced(body: str, lang: str) -> list[str]:
    """The contents of every ```lang block of a comment body."""
    out = []
    lines = body.split("\n")
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("```") and ln.lstrip("`") == lang:
            fence = ln[: len(ln) - len(lang)]
            j = lines.index(fence, i + 1)
            out.append("\n".join(lines[i + 1 : j]))
            i = j
        i += 1
    return out
