"""scripts/pin_action_requirements.py reads what to pin from pyproject.toml (the resolution
itself needs uv and the package index; the pins it wrote are checked by
test_action_requirements.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def generator():
    spec = importlib.util.spec_from_file_location(
        "pin_action_requirements", ROOT / "scripts/pin_action_requirements.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


PYPROJECT = """\
[project]
name = "x"
requires-python = ">=3.10"
dependencies = ["jsonschema>=4.18", "tomli>=2.0; python_version < '3.11'"]

[project.optional-dependencies]
github = ["PyGithub>=2.4,<3"]
test = ["pytest>=8", "dockerfile-parse>=2.0"]
"""


def test_pins_the_runtime_dependencies_and_the_github_extra_only(tmp_path):
    p = tmp_path / "pyproject.toml"
    p.write_text(PYPROJECT)
    assert generator().runtime_requirements(p) == [
        "jsonschema>=4.18",
        "tomli>=2.0; python_version < '3.11'",
        "PyGithub>=2.4,<3",
    ]


def test_resolves_for_the_oldest_supported_python(tmp_path):
    p = tmp_path / "pyproject.toml"
    p.write_text(PYPROJECT.replace(">=3.10", ">= 3.9, <4"))
    assert generator().oldest_python(p) == "3.9"
    p.write_text(PYPROJECT.replace('requires-python = ">=3.10"', 'requires-python = "~=3.10"'))
    with pytest.raises(SystemExit):
        generator().oldest_python(p)


def test_the_real_pyproject_names_jsonschema_and_pygithub():
    names = " ".join(generator().runtime_requirements()).lower()
    assert "jsonschema" in names and "pygithub" in names and "dockerfile-parse" not in names
