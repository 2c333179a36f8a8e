"""What each fix action offers, and whether it can apply, known without computing edits.

Computing edits imports tomlkit and tree-sitter and parses files; a text scan only
needs to say which findings have a fix. Each precondition below is what the action
itself checks first, read off the subject's facts, so a finding is not shown as
fixable when the action would decline.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

TITLES: dict[str, str] = {
    "add-mimalloc": "Link mimalloc as the #[global_allocator]",
    "add-global-allocator": "Add the #[global_allocator] static",
    "set-default-features-false": "Set default-features = false on mimalloc",
    "align-allocator-cfg": "Gate the #[global_allocator] like its dependency",
    "rename-jemallocator": "Use the tikv-jemallocator crate",
    "remove-ld-preload": "Remove the LD_PRELOAD setting",
    "fix-ld-preload-path": "Install the library and point LD_PRELOAD at it",
    "remove-suppression": "Remove the unused suppression",
    "remove-dependency": "Remove the dependency",
}

_ALLOCATOR_TYPES = {
    "mimalloc",
    "tikv-jemallocator",
    "jemallocator",
    "tcmalloc",
    "snmalloc-rs",
    "rpmalloc",
    "mimalloc-rust",
}


def _add_mimalloc(subject: Any) -> bool:
    sb = subject.context.get("binary")
    crate = getattr(sb, "crate", None)
    if not (
        crate and sb.name in crate.bins and "mimalloc" in (subject.facts.get("recommended") or [])
    ):
        return False
    # mimalloc already wired but gated off for this build: the gate is the problem, not a missing static
    mimalloc = {d.rust_name for d in crate.deps if d.package == "mimalloc"}
    return not any(s.item.crate in mimalloc for s in crate.statics if s.bin_only in (None, sb.name))


def _add_static(subject: Any) -> bool:
    crate, dep = subject.context.get("crate"), subject.context.get("dependency")
    return bool(
        crate and crate.bins and not crate.statics and dep and dep.package in _ALLOCATOR_TYPES
    )


def _align(subject: Any) -> bool:
    dep = subject.context.get("dependency")
    return dep is not None and (dep.target is None or dep.target.startswith("cfg("))


def _preload_path(subject: Any) -> bool:
    return bool(subject.facts.get("expected_path") and subject.facts.get("expected_package"))


PRECHECKS: dict[str, Callable[[Any], bool]] = {
    "add-mimalloc": _add_mimalloc,
    "add-global-allocator": _add_static,
    "align-allocator-cfg": _align,
    "fix-ld-preload-path": _preload_path,
    "rename-jemallocator": lambda s: (
        s.facts.get("crate") in ("jemallocator", "jemalloc-ctl", "jemalloc-sys")
    ),
}


def offer(action: str, subject: Any) -> str | None:
    """The title of the fix this action would make for the subject, or None if it would decline."""
    check = PRECHECKS.get(action)
    if check is not None and not check(subject):
        return None
    return TITLES.get(action, action)
