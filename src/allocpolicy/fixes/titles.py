"""What each fix action offers, in one line, known without computing its edits.

Computing edits parses TOML with tomlkit and Rust with tree-sitter; a text scan of a
large monorepo only needs to say which findings have a fix.
"""

from __future__ import annotations

TITLES: dict[str, str] = {
    "add-mimalloc": "link mimalloc as the #[global_allocator]",
    "add-global-allocator": "add the #[global_allocator] static",
    "set-default-features-false": "set default-features = false",
    "align-allocator-cfg": "gate the #[global_allocator] like its dependency",
    "rename-jemallocator": "switch to the tikv-jemallocator crate",
    "remove-ld-preload": "remove the LD_PRELOAD setting",
    "fix-ld-preload-path": "install the library and point LD_PRELOAD at it",
    "remove-suppression": "remove the unused suppression",
    "remove-dependency": "remove the dependency",
}
