"""Shared test data and helpers for the GitHub front door tests (imported by name:
the repository has several conftest.py files)."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from ghdouble import PrFile
from packaging.requirements import Requirement

from allocpolicy.frontdoors.github.command import Inputs, Options, run
from allocpolicy.frontdoors.github.plan import RuleInfo
from allocpolicy.model import Edit, Finding, Fix, Location, Safety, Severity

HEAD = "a" * 40
BASE = "b" * 40
HEAD2 = "c" * 40

CONTAINERFILE_PATCH = (
    "@@ -0,0 +1,4 @@\n+FROM rust:1-alpine\n+WORKDIR /src\n+COPY . .\n+RUN cargo build --release"
)
CARGO_PATCH = (
    '@@ -4,6 +4,8 @@ edition = "2021"\n'
    " \n"
    " [dependencies]\n"
    ' serde = "1"\n'
    '+tokio = "1"\n'
    '+axum = "0.7"\n'
    " \n"
    " [profile.release]\n"
    " lto = true"
)


def rules() -> dict[str, RuleInfo]:
    return {
        "AP001": RuleInfo(
            "AP001", "musl-default-allocator", "musl's malloc is slow under contention.", ""
        ),
        "AP003": RuleInfo(
            "AP003", "missing-mimalloc-dependency", "The allocator crate must be a dependency.", ""
        ),
        "AP004": RuleInfo(
            "AP004", "no-global-allocator", "Without #[global_allocator] the crate is unused.", ""
        ),
        "AP005": RuleInfo("AP005", "ld-preload-allocator", "LD_PRELOAD hides the allocator.", ""),
    }


def f_ap001(line: int = 1) -> Finding:
    return Finding(
        "AP001",
        "musl-default-allocator",
        Severity.ERROR,
        Location("Containerfile", line, 6, line, 19),
        "Release binary built on musl uses the default allocator.",
        Fix(
            "Build on glibc",
            Safety.SAFE,
            (Edit("Containerfile", line, 6, line, 19, "rust:1-bookworm"),),
        ),
        snippet="FROM rust:1-alpine",
    )


def f_ap003(line: int = 7) -> Finding:
    # inserts a dependency line after `tokio = "1"`
    return Finding(
        "AP003",
        "missing-mimalloc-dependency",
        Severity.WARNING,
        Location("Cargo.toml", line, 1),
        "mimalloc is not a dependency.",
        Fix(
            "Add mimalloc",
            Safety.SAFE,
            (Edit("Cargo.toml", line + 1, 1, line + 1, 1, 'mimalloc = "0.1"\n'),),
        ),
        snippet='tokio = "1"',
    )


def f_ap004_outside() -> Finding:
    return Finding(
        "AP004",
        "no-global-allocator",
        Severity.WARNING,
        Location("Cargo.toml", 2, 1),
        "The package declares no global allocator.",
        None,
        snippet='name = "app"',
    )


def f_ap004_main() -> Finding:
    return Finding(
        "AP004",
        "no-global-allocator",
        Severity.ERROR,
        Location("src/main.rs", 1, 1),
        "main.rs has no #[global_allocator].",
        Fix(
            "Add the allocator static",
            Safety.SAFE,
            (
                Edit(
                    "src/main.rs",
                    1,
                    1,
                    1,
                    1,
                    "#[global_allocator]\nstatic GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\n",
                ),
            ),
        ),
        snippet="fn main() {",
    )


def base_files() -> list[PrFile]:
    return [
        PrFile("Containerfile", CONTAINERFILE_PATCH, "added"),
        PrFile("Cargo.toml", CARGO_PATCH),
    ]


@dataclass
class Run:
    code: int
    stdout: str
    outputs: dict[str, str]
    summary: str


def parse_outputs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        ln = lines[i]
        if "<<" in ln:
            name, delim = ln.split("<<", 1)
            j = lines.index(delim, i + 1)
            out[name] = "\n".join(lines[i + 1 : j])
            i = j + 1
        else:
            i += 1
    return out


ACTION_REQUIREMENTS = (
    Path(__file__).resolve().parents[3]
    / "src/allocpolicy/frontdoors/github/action-requirements.txt"
)


@dataclass
class Pin:
    requirement: Requirement
    hashes: list[str]


def read_pins(path: Path = ACTION_REQUIREMENTS) -> list[Pin]:
    """The Action's requirements as pip reads them: continuation lines joined, comments
    dropped, each line a requirement followed by its --hash options."""
    pins = []
    logical = ""
    for raw in path.read_text().splitlines() + [""]:
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        if logical.strip():
            words = logical.split()
            hashes = [w.removeprefix("--hash=") for w in words if w.startswith("--hash=")]
            spec = " ".join(w for w in words if not w.startswith("--hash="))
            pins.append(Pin(Requirement(spec), hashes))
        logical = ""
    return pins


def write_event(p: Path, number: int, head: str, base: str, head_repo: str = "octo/app") -> Path:
    """A `pull_request` event payload at `p`, as the runner writes GITHUB_EVENT_PATH."""
    p.write_text(
        json.dumps(
            {
                "action": "synchronize",
                "number": number,
                "pull_request": {
                    "number": number,
                    "state": "open",
                    "draft": False,
                    "head": {"sha": head, "ref": "feature", "repo": {"full_name": head_repo}},
                    "base": {"sha": base, "ref": "main", "repo": {"full_name": "octo/app"}},
                },
                "repository": {"full_name": "octo/app"},
                "sender": {"login": "alice"},
            }
        )
    )
    return p


def run_bot(
    api_url: str,
    tmp: Path,
    inputs: Inputs,
    event_path: Path,
    *,
    path: Path,
    token: str = "bot-token",
    event_name: str = "pull_request",
    env: dict[str, str] | None = None,
    sleep: Callable[[float], None] = lambda s: None,
    max_rate_limit_wait: float = 30,
    **kw: Any,
) -> Run:
    """github-review in-process against the double at `api_url`, as the runner starts it
    (GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files under `tmp`); returns a Run."""
    out_file, sum_file = tmp / "github_output", tmp / "step_summary"
    out_file.write_text("")
    sum_file.write_text("")
    full_env = {
        "GITHUB_OUTPUT": str(out_file),
        "GITHUB_STEP_SUMMARY": str(sum_file),
        "GITHUB_REPOSITORY": "octo/app",
        "GITHUB_SERVER_URL": "https://github.invalid",
        "GITHUB_RUN_ID": "42",
        **(env or {}),
    }
    opt = Options(
        path=path,
        api_url=api_url,
        token=token,
        event_path=str(event_path),
        event_name=event_name,
        seconds_between_writes=0,
        seconds_between_requests=0,
        max_rate_limit_wait=max_rate_limit_wait,
        sleep=sleep,
        env=full_env,
        **kw,
    )
    buf = io.StringIO()
    code = run(inputs, opt, out=buf)
    return Run(code, buf.getvalue(), parse_outputs(out_file.read_text()), sum_file.read_text())
