"""AP006's re-gate leaves alone what it cannot move whole: a `use` gated otherwise, names
the `use` brings in that other code needs, a second static that is always there.
(The shapes it does fix are golden cases, judged by cargo in test_cargo_builds.py.)"""

from __future__ import annotations

from pathlib import Path

from fixkit import cli, snapshot
from helpers import write_tree

MUSL_DEP = (
    '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n'
    "[target.'cfg(target_env = \"musl\")'.dependencies]\n"
    'mimalloc = { version = "0.1", default-features = false }\n'
)


def _fix_changes_nothing(root: Path) -> str:
    assert "AP006" in cli("scan", root).out, "the case must start with its finding"
    before = snapshot(root)
    run = cli("fix", root)
    assert snapshot(root) == before, run.err
    return run.err


def test_a_use_gated_otherwise_than_the_static_is_not_regated(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "Cargo.toml": MUSL_DEP + "\n[features]\nfast = []\n",
            "src/main.rs": """
                #[cfg(feature = "fast")]
                use mimalloc::MiMalloc;

                #[cfg(unix)]
                #[global_allocator]
                static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

                fn main() {}
            """,
        },
    )
    _fix_changes_nothing(tmp_path)


def test_a_use_other_code_needs_is_not_gated_away(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "Cargo.toml": MUSL_DEP,
            "src/main.rs": """
                use mimalloc::MiMalloc;

                #[global_allocator]
                static GLOBAL: MiMalloc = MiMalloc;

                fn probe() -> MiMalloc {
                    MiMalloc
                }

                fn main() {
                    let _ = probe();
                }
            """,
        },
    )
    _fix_changes_nothing(tmp_path)


def test_no_regate_next_to_a_static_that_is_always_there(tmp_path: Path) -> None:
    # Whatever the gate, a build with both statics fails: one must go, a human decides.
    write_tree(
        tmp_path,
        {
            "Cargo.toml": MUSL_DEP,
            "src/main.rs": """
                #[cfg(unix)]
                #[global_allocator]
                static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

                #[global_allocator]
                static SYSTEM: std::alloc::System = std::alloc::System;

                fn main() {}
            """,
        },
    )
    _fix_changes_nothing(tmp_path)
