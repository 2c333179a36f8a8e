"""The real cargo judges every golden fix: the tree `fix` writes is accepted by `cargo metadata`
and compiles (`cargo check`) with default features, none, all, and each feature a
`cfg(feature = ...)` names, offline against stub crates (see cargo_stubs.py).

The before/ tree is checked too: what built before the fix must build after it. A
before/ tree that does not build (the finding is often the reason) says why in its
case.toml, `cargo_before = "..."`; the test then holds it to failing, so the note
cannot go stale.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from cargo_stubs import ALLOCATOR_CRATES, TRIPLES, Cargo, failures, place, resolve, rustc_cfg
from fixkit import GOLDEN, cli, copy_tree, toml_of
from helpers import STATIC, write_tree
from helpers import cargo as cargo_toml

TYPE_CHECKING = False
if TYPE_CHECKING:
    from allocpolicy.parsing.rust import GlobalAllocator

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
def fixed(tmp_path_factory: pytest.TempPathFactory, trees: Path) -> Callable[[str], Path]:
    """What `allocpolicy fix` writes on a copy of a case's before/ tree (test_golden.py
    holds it equal to after/): judged as written, not as the golden file says."""
    done: dict[str, Path] = {}

    def run(name: str) -> Path:
        if name not in done:
            root = copy_tree(GOLDEN / name / "before", tmp_path_factory.mktemp(name) / "repo")
            spec = toml_of((GOLDEN / name / "case.toml").read_bytes())
            assert cli("fix", root, *spec["args"]).rc in (0, 1)
            done[name] = place(root, trees)
        return done[name]

    return run


@pytest.mark.parametrize("name", CASES)
def test_what_fix_writes_builds_with_every_feature_set(
    name: str, cargo: Cargo, fixed: Callable[[str], Path]
) -> None:
    outcomes = cargo.judge(fixed(name))
    assert all(o.ok for o in outcomes), (
        f"{name}: the fixed tree does not build\n{failures(outcomes)}"
    )


TARGETED = [
    n
    for n in CASES
    if any(
        b"[target." in p.read_bytes() or b"target_" in p.read_bytes()
        for p in (GOLDEN / n / "after").rglob("*")
        if p.is_file() and (p.suffix == ".rs" or p.name == "Cargo.toml")
    )
]


@pytest.mark.parametrize("name", TARGETED)
def test_on_no_target_does_the_fix_part_a_static_from_its_dependency(
    name: str, cargo: Cargo, trees: Path, fixed: Callable[[str], Path]
) -> None:
    """cargo cannot build for other targets here, but it resolves for them: for each
    target (rustc's own cfg for it) and feature set, an active static's crate is linked,
    a linked allocator crate has a static, and no two statics are active together. What
    the before/ tree already got wrong (a static Windows would not link) is its own
    finding; the fix must not add to it."""
    after = _target_problems(cargo, fixed(name))
    if after:
        after -= _target_problems(cargo, place(GOLDEN / name / "before", trees))
    assert not after, "\n".join(sorted(after))


def _target_problems(cargo: Cargo, tree: Path) -> set[str]:
    dirs = {p["name"]: Path(p["manifest_path"]).parent for p in cargo.metadata(tree)["packages"]}
    problems = set()
    for triple in TRIPLES:
        facts = rustc_cfg(triple)
        for args in ((), ("--no-default-features",), ("--all-features",)):
            for build in resolve(cargo, tree, triple, args):
                statics = _statics(dirs[build.package])
                active = [
                    s for s in statics if s.cfg is None or s.cfg.evaluate(facts, build.features)
                ]
                where = f"{triple} {' '.join(args) or 'default'} ({build.package})"
                problems |= {
                    f"{where}: static {s.static_name} names a crate that is not linked"
                    for s in active
                    if s.crate not in build.deps
                }
                if len(active) > 1:
                    problems.add(f"{where}: {len(active)} statics active together")
                if not active and build.deps & ALLOCATOR_CRATES:
                    problems.add(f"{where}: an allocator crate is linked, no static uses it")
    return problems


def _statics(package_dir: Path) -> list[GlobalAllocator]:
    from allocpolicy.parsing.rust import scan_rust_source

    return [
        a
        for rs in sorted((package_dir / "src").rglob("*.rs"))
        for a in scan_rust_source(rs.read_bytes()).allocators
    ]


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
