from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from ghdouble import GitHubDouble, PrFile  # noqa: E402

from allocpolicy.frontdoors.github.command import Inputs, Options, run  # noqa: E402
from allocpolicy.frontdoors.github.plan import RuleInfo  # noqa: E402
from allocpolicy.model import Edit, Finding, Fix, Location, Safety, Severity  # noqa: E402

HEAD = "a" * 40
BASE = "b" * 40
HEAD2 = "c" * 40

CONTAINERFILE_PATCH = "@@ -0,0 +1,4 @@\n+FROM rust:1-alpine\n+WORKDIR /src\n+COPY . .\n+RUN cargo build --release"
CARGO_PATCH = (
    "@@ -4,6 +4,8 @@ edition = \"2021\"\n"
    " \n"
    " [dependencies]\n"
    " serde = \"1\"\n"
    "+tokio = \"1\"\n"
    "+axum = \"0.7\"\n"
    " \n"
    " [profile.release]\n"
    " lto = true"
)


def rules() -> dict[str, RuleInfo]:
    return {
        "AP001": RuleInfo("AP001", "musl-default-allocator", "musl's malloc is slow under contention.", ""),
        "AP003": RuleInfo("AP003", "missing-mimalloc-dependency", "The allocator crate must be a dependency.", ""),
        "AP004": RuleInfo("AP004", "no-global-allocator", "Without #[global_allocator] the crate is unused.", ""),
        "AP005": RuleInfo("AP005", "ld-preload-allocator", "LD_PRELOAD hides the allocator.", ""),
    }


def f_ap001(line: int = 1) -> Finding:
    return Finding(
        "AP001", "musl-default-allocator", Severity.ERROR, Location("Containerfile", line, 6, line, 19),
        "Release binary built on musl uses the default allocator.",
        Fix("Build on glibc", Safety.SAFE, (Edit("Containerfile", line, 6, line, 19, "rust:1-bookworm"),)),
        snippet="FROM rust:1-alpine",
    )


def f_ap003(line: int = 7) -> Finding:
    # inserts a dependency line after `tokio = "1"`
    return Finding(
        "AP003", "missing-mimalloc-dependency", Severity.WARNING, Location("Cargo.toml", line, 1),
        "mimalloc is not a dependency.",
        Fix("Add mimalloc", Safety.SAFE, (Edit("Cargo.toml", line + 1, 1, line + 1, 1, 'mimalloc = "0.1"\n'),)),
        snippet='tokio = "1"',
    )


def f_ap004_outside() -> Finding:
    return Finding(
        "AP004", "no-global-allocator", Severity.WARNING, Location("Cargo.toml", 2, 1),
        "The package declares no global allocator.", None, snippet='name = "app"',
    )


def f_ap004_main() -> Finding:
    return Finding(
        "AP004", "no-global-allocator", Severity.ERROR, Location("src/main.rs", 1, 1),
        "main.rs has no #[global_allocator].",
        Fix("Add the allocator static", Safety.SAFE,
            (Edit("src/main.rs", 1, 1, 1, 1, "#[global_allocator]\nstatic GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\n"),)),
        snippet="fn main() {",
    )


def base_files() -> list[PrFile]:
    return [PrFile("Containerfile", CONTAINERFILE_PATCH, "added"), PrFile("Cargo.toml", CARGO_PATCH)]


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


@pytest.fixture
def double():
    d = GitHubDouble().start()
    yield d
    d.stop()
    assert d.spec_errors == [], d.spec_errors


@pytest.fixture
def event_file(tmp_path):
    def make(number: int = 7, head: str = HEAD, base: str = BASE, head_repo: str = "octo/app", name: str = "pull_request") -> Path:
        p = tmp_path / f"event-{number}-{head[:4]}-{head_repo.replace('/', '_')}.json"
        p.write_text(json.dumps({
            "action": "synchronize",
            "number": number,
            "pull_request": {
                "number": number, "state": "open", "draft": False,
                "head": {"sha": head, "ref": "feature", "repo": {"full_name": head_repo}},
                "base": {"sha": base, "ref": "main", "repo": {"full_name": "octo/app"}},
            },
            "repository": {"full_name": "octo/app"},
            "sender": {"login": "alice"},
        }))
        return p

    return make


@pytest.fixture
def bot(double, event_file, tmp_path):
    """Run the bot in-process against the double; returns a Run."""

    def go(findings: list[Finding], *, token: str = "bot-token", event: Path | None = None,
           event_name: str = "pull_request", inventory: list[dict[str, Any]] | None = None, **kw: Any) -> Run:
        out_file = tmp_path / "github_output"
        sum_file = tmp_path / "step_summary"
        out_file.write_text("")
        sum_file.write_text("")
        env = {
            "GITHUB_OUTPUT": str(out_file),
            "GITHUB_STEP_SUMMARY": str(sum_file),
            "GITHUB_REPOSITORY": "octo/app",
            "GITHUB_SERVER_URL": "https://github.invalid",
            "GITHUB_RUN_ID": "42",
        }
        sleeps: list[float] = kw.pop("sleeps", [])
        opt = Options(
            path=kw.pop("path", tmp_path),
            api_url=double.base_url,
            token=token,
            event_path=str(event or event_file()),
            event_name=event_name,
            seconds_between_writes=0,
            seconds_between_requests=0,
            max_rate_limit_wait=kw.pop("max_rate_limit_wait", 30),
            sleep=sleeps.append,
            env=env,
            **kw,
        )
        buf = io.StringIO()
        inputs = Inputs(list(findings), rules(), inventory or [], None)
        code = run(inputs, opt, out=buf)
        return Run(code, buf.getvalue(), parse_outputs(out_file.read_text()), sum_file.read_text())

    return go
