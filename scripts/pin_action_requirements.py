"""Regenerate the GitHub Action's pinned requirements from pyproject.toml.

    python scripts/pin_action_requirements.py            # keep current pins where still valid
    python scripts/pin_action_requirements.py --upgrade  # newest versions pyproject allows

The Action (action.yml) installs src/allocpolicy/frontdoors/github/action-requirements.txt
with `pip install --require-hashes` into its own virtualenv, then puts the action's src/ on
that virtualenv's path. So the file must hold exactly what allocpolicy needs at run time:
pyproject's [project.dependencies] plus the `github` extra (PyGithub), and everything they
pull in, each pinned with its hashes. Test-only packages (pytest, dockerfile-parse, ...)
have no place in it.

The runner's Python can be any version pyproject's requires-python allows, so the pins are
resolved for all of them at once (`uv pip compile --universal`): a marker such as
`tomli; python_version < '3.11'` stays a marker, and a dependency whose newest release
drops the oldest supported Python gets one pin per Python range. Needs `uv`
(`pip install uv`) and the package index, at generation time only.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the project's own tomli dependency covers 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
TARGET = ROOT / "src/allocpolicy/frontdoors/github/action-requirements.txt"
COMMAND = "python scripts/pin_action_requirements.py"

HEADER = """\
# Pinned runtime dependencies of the allocpolicy GitHub Action, with hashes. action.yml
# installs them with `pip install --require-hashes` into a venv under $RUNNER_TEMP, then
# puts the action's own src/ on that venv's path.
# GENERATED from pyproject.toml ([project.dependencies] + the `github` extra) by
#     {command} [--upgrade]
# Do not edit by hand; tests/frontdoors/github/test_action_requirements.py checks it.
"""


def runtime_requirements(pyproject: Path = PYPROJECT) -> list[str]:
    """What the Action needs installed: the runtime dependencies and the `github` extra."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    return list(project["dependencies"]) + list(project["optional-dependencies"]["github"])


def oldest_python(pyproject: Path = PYPROJECT) -> str:
    """The lowest Python requires-python allows: the floor of the universal resolution."""
    spec = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["requires-python"]
    m = re.search(r">=\s*(\d+\.\d+)", spec)
    if m is None:
        raise SystemExit(f"cannot read a lower bound from requires-python = {spec!r}")
    return m.group(1)


def uv_command() -> list[str]:
    """uv, from PATH or this interpreter's packages."""
    exe = shutil.which("uv")
    if exe:
        return [exe]
    if importlib.util.find_spec("uv") is None:
        raise SystemExit("needs uv: pip install uv")
    return [sys.executable, "-m", "uv"]


def compile_pins(requirements: list[str], python: str, upgrade: bool, seed: Path | None) -> str:
    """Resolve ``requirements`` for every Python >= ``python`` and return the pinned file body.

    ``seed`` (the current file) makes uv keep its versions where they still satisfy
    pyproject, so a regeneration only moves what it must.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_")}  # the default index
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "action.in")
        src.write_text("\n".join(requirements) + "\n", encoding="utf-8")
        out = Path(tmp, "action-requirements.txt")
        if seed is not None and seed.exists() and not upgrade:
            shutil.copyfile(seed, out)
        cmd = uv_command() + [
            "pip",
            "compile",
            "--quiet",
            "--no-config",
            "--universal",
            "--python-version",
            python,
            "--generate-hashes",
            "--no-header",
            "--annotation-style",
            "line",
            "--output-file",
            str(out),
            str(src),
        ]
        if upgrade:
            cmd.append("--upgrade")
        subprocess.run(cmd, check=True, env=env, cwd=tmp)
        body = out.read_text(encoding="utf-8")
    # uv names the temporary input in the annotations; name pyproject instead
    return body.replace(f"-r {src}", "pyproject.toml").replace("-r action.in", "pyproject.toml")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--upgrade", action="store_true", help="move every pin to the newest allowed")
    p.add_argument(
        "--output", type=Path, default=TARGET, help="file to write (default: %(default)s)"
    )
    args = p.parse_args(argv)
    body = compile_pins(runtime_requirements(), oldest_python(), args.upgrade, args.output)
    args.output.write_text(HEADER.format(command=COMMAND) + body, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
