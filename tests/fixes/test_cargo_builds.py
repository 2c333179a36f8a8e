"""The real cargo judges every golden fix: the fixed tree is accepted by `cargo metadata`
and compiles (`cargo check`) with default features, none, all, and each feature a
`cfg(feature = ...)` names, offline against stub crates (see cargo_stubs.py).

The before/ tree is checked too: what built before the fix must build after it. A
before/ tree that does not build (the finding is often the reason) says why in its
case.toml, `cargo_before = "..."`; the test then holds it to failing, so the note
cannot go stale.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cargo_stubs import Cargo, failures, place
from fixkit import GOLDEN, toml_of
from helpers import STATIC, write_tree
from helpers import cargo as cargo_toml

pytestmark = [
    pytest.mark.cargo,
    pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed"),
]

CASES = sorted(
    p.name
    for p in GOLDEN.iterdir()
    if (p / "case.toml").is_file() and (p / "after" / "Cargo.toml").is_file()
)


@pytest.fixture(scope="session")
def cargo(tmp_path_factory: pytest.TempPathFactory) -> Cargo:
    """One CARGO_HOME (the stub source, nothing of the user's ~/.cargo) and one target dir
    for the session: the stubs compile once, each tree's own crate once."""
    return Cargo.create(tmp_path_factory.mktemp("cargo"))


@pytest.fixture(scope="session")
def trees(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("trees")


@pytest.mark.parametrize("name", CASES)
def test_the_fixed_tree_builds_with_every_feature_set(name: str, cargo: Cargo, trees: Path) -> None:
    tree = place(GOLDEN / name / "after", trees)
    outcomes = cargo.judge(tree)
    assert all(o.ok for o in outcomes), f"{name}: after/ does not build\n{failures(outcomes)}"


@pytest.mark.parametrize("name", CASES)
def test_the_tree_before_the_fix_builds_unless_its_case_says_why(
    name: str, cargo: Cargo, trees: Path
) -> None:
    why = toml_of((GOLDEN / name / "case.toml").read_bytes()).get("cargo_before")
    outcomes = cargo.judge(place(GOLDEN / name / "before", trees))
    if why is None:
        assert all(o.ok for o in outcomes), f"{name}: before/ does not build\n{failures(outcomes)}"
    else:
        assert not all(o.ok for o in outcomes), f"{name}: before/ builds; drop cargo_before ({why})"


def test_every_golden_case_with_a_crate_is_judged() -> None:
    # A case whose after/ has no Cargo.toml would silently escape cargo.
    with_case = {p.name for p in GOLDEN.iterdir() if (p / "case.toml").is_file()}
    assert with_case == set(CASES)


def test_the_judge_sees_a_broken_tree_after_a_good_one_of_the_same_name(
    cargo: Cargo, tmp_path: Path
) -> None:
    # Same package name and version, as every golden case has: the broken one must fail.
    manifest = cargo_toml("app", extra='\n[features]\nfast = ["dep:mimalloc"]\n')
    good = write_tree(
        tmp_path / "good",
        {
            "Cargo.toml": manifest + 'mimalloc = { version = "0.1", optional = true }\n',
            "src/main.rs": '#[cfg(feature = "fast")]\n' + STATIC + "fn main() {}\n",
        },
    )
    broken = write_tree(
        tmp_path / "broken",
        {
            "Cargo.toml": manifest + 'mimalloc = { version = "0.1", optional = true }\n',
            "src/main.rs": STATIC + "fn main() {}\n",
        },
    )
    assert all(o.ok for o in cargo.judge(place(good, tmp_path / "placed")))
    bad = {o.label for o in cargo.judge(place(broken, tmp_path / "placed")) if not o.ok}
    assert bad == {"default", "no default features"}
