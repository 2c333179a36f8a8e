"""The Action's pinned requirements are pyproject's runtime dependencies, resolved and hashed.

action.yml installs action-requirements.txt with --require-hashes into a venv of its own,
so a runtime dependency missing from it breaks every Action run that needs it (as a
missing jsonschema broke `policies = [...]`), and anything else in it is installed into
every user's runner for nothing. Regenerate with `python scripts/pin_action_requirements.py`.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
from gh_helpers import Pin, read_pins
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[3]
PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")  # requires-python >= 3.10


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def runtime() -> list[Requirement]:
    p = project()
    return [Requirement(r) for r in p["dependencies"] + p["optional-dependencies"]["github"]]


def applies(marker: Marker | None, python: str, extra: str = "") -> bool:
    env = {"python_version": python, "python_full_version": f"{python}.0", "extra": extra}
    return marker is None or marker.evaluate(env)


def pins_for(name: str, python: str, pins: list[Pin]) -> list[Pin]:
    return [
        p
        for p in pins
        if canonicalize_name(p.requirement.name) == canonicalize_name(name)
        and applies(p.requirement.marker, python)
    ]


def test_requires_python_floor_is_covered():
    assert project()["requires-python"] == f">={PYTHONS[0]}"


def test_every_pin_is_exact_and_hashed():
    pins = read_pins()
    assert pins
    for p in pins:
        assert re.fullmatch(r"==[^,*]+", str(p.requirement.specifier)), p.requirement
        assert p.hashes, f"{p.requirement} has no hash: pip --require-hashes refuses it"
        for h in p.hashes:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", h), (p.requirement, h)


@pytest.mark.parametrize("python", PYTHONS)
def test_each_runtime_dependency_is_pinned_once_within_pyproject_specifier(python):
    pins = read_pins()
    for req in runtime():
        found = pins_for(req.name, python, pins)
        if not applies(req.marker, python):
            assert found == [], f"{req} does not apply on {python}, yet pinned: {found}"
            continue
        assert len(found) == 1, f"{req} on Python {python}: pins {found}"
        version = str(found[0].requirement.specifier).removeprefix("==")
        assert req.specifier.contains(version, prereleases=True), (req, version)


def reachable(roots: list[Requirement]) -> set[str]:
    """Names the runtime dependencies pull in on some supported Python, read from the
    installed distributions' metadata (extras such as pyjwt[crypto] followed)."""
    seen: set[tuple[str, str]] = set()
    todo = [(r.name, e) for r in roots for e in (r.extras or {""})]
    while todo:
        name, extra = todo.pop()
        key = (canonicalize_name(name), extra)
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here (e.g. tomli on 3.11): a leaf as far as we can see
        for line in requires:
            r = Requirement(line)
            if any(applies(r.marker, py, extra) for py in PYTHONS):
                todo += [(r.name, e) for e in (r.extras or {""})]
    return {n for n, _ in seen}


def test_nothing_is_pinned_that_the_runtime_does_not_need():
    needed = reachable(runtime())
    pinned = {canonicalize_name(p.requirement.name) for p in read_pins()}
    assert pinned - needed == set(), "pinned but not a runtime dependency (test-only?)"
    assert {"dockerfile-parse", "pytest", "hypothesis"} & pinned == set()


def test_everything_the_runtime_needs_is_pinned():
    needed = reachable(runtime())
    pinned = {canonicalize_name(p.requirement.name) for p in read_pins()}
    assert needed - pinned == set(), "needed but not pinned: --require-hashes would refuse it"
