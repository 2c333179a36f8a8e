"""What a manifest fix leaves for Cargo.lock: the `cargo update` to run, and the builds
that would refuse the stale lock.

A fix adds or renames a dependency in Cargo.toml; the workspace's Cargo.lock then no
longer fits. The tool never runs cargo on the user's repository, so the fix says what
to run, and names each Containerfile line that builds with `--locked`/`--frozen` —
that build fails until the lock is updated.
"""

from __future__ import annotations

import posixpath

from allocpolicy.facts.containers import build_dir, repo_path
from allocpolicy.facts.repo import upward
from allocpolicy.fixes.edits import apply_edits
from allocpolicy.fixes.manifest_check import dependency_entries
from allocpolicy.model import Edit
from allocpolicy.parsing.cargo import ManifestError, load_toml

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

MAX_LOCKED_SHOWN = 3  # a monorepo can have hundreds of such lines; the first few say enough


def lock_note(repo: Any, edits: list[Edit]) -> str:
    """ "; then run `cargo update -p mimalloc` (...)" for the packages the edits add to
    manifests under a Cargo.lock, or "" when they add none or there is no lock."""
    added: dict[str, None] = {}
    locks: dict[str, None] = {}
    for path in dict.fromkeys(e.path for e in edits):
        if posixpath.basename(path) != "Cargo.toml":
            continue
        lock = _lock_of(repo, posixpath.dirname(path))  # cheap: asked first
        new = _added(repo, path, [e for e in edits if e.path == path]) if lock else []
        if lock is not None and new:
            added.update(dict.fromkeys(new))
            locks[lock] = None
    if not added:
        return ""
    update = "cargo update " + " ".join(f"-p {n}" for n in added)
    where = ", ".join(locks)
    locked = _locked_builds(repo, [posixpath.dirname(lock) for lock in locks])
    tail = ""
    if locked:
        shown = ", ".join(locked[:MAX_LOCKED_SHOWN]) + (
            " …" if len(locked) > MAX_LOCKED_SHOWN else ""
        )
        tail = f"; until then the --locked build at {shown} fails"
    return f"; then run `{update}` to update {where}{tail}"


def _added(repo: Any, path: str, edits: list[Edit]) -> list[str]:
    """Packages the edited manifest depends on that the original did not."""
    src = repo.text(path)
    if src is None:
        return []
    try:
        before = load_toml(src.text, cache=True)
        # cached by content too: the same fix is shown again on every scan until applied
        after = load_toml(apply_edits(src.text, edits), cache=True)
    except ManifestError:
        return []  # the manifest checks report a broken result; nothing to say here
    old = _packages(before)
    return [p for p in _packages(after) if p not in old]


def _packages(doc: dict[str, Any]) -> dict[str, None]:
    """Package names of every dependency table (target tables and the workspace's too)."""
    out = dict.fromkeys(d.package for d in dependency_entries(doc))
    ws = doc.get("workspace")
    table = ws.get("dependencies") if isinstance(ws, dict) else None
    for key, spec in table.items() if isinstance(table, dict) else ():
        renamed = spec.get("package") if isinstance(spec, dict) else None
        out[renamed if isinstance(renamed, str) else key] = None
    return out


def _lock_of(repo: Any, directory: str) -> str | None:
    """The Cargo.lock cargo uses for a manifest in `directory`: the nearest one upward."""
    locks = set(repo.files.locks)
    found = (posixpath.join(d, "Cargo.lock") if d else "Cargo.lock" for d in upward(directory))
    return next((lock for lock in found if lock in locks), None)


def _locked_builds(repo: Any, lock_dirs: list[str]) -> list[str]:
    """`Dockerfile:12` for each `cargo build --locked` whose directory holds one of the locks'
    workspaces (the build context put the repository directory there)."""
    out: list[str] = []
    for cf in repo.containerfiles:
        for stage in cf.stages:
            for b in stage.builds:
                if not b.cargo.locked:
                    continue
                run_in = build_dir(b)
                if b.cargo.manifest_path:  # cargo finds the lock from the manifest's directory
                    run_in = posixpath.dirname(posixpath.join(run_in, b.cargo.manifest_path))
                where = repo_path(stage, posixpath.normpath(run_in))
                if where is not None and any(_under(where, d) for d in lock_dirs):
                    out.append(f"{cf.path}:{b.line}")
    return list(dict.fromkeys(out))


def _under(path: str, directory: str) -> bool:
    return not directory or path == directory or path.startswith(directory + "/")
