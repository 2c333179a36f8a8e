"""Fuzz harness: hostile and odd repositories, each run under a deadline and a memory cap.

Every case is a small repository written to a temp dir, from structured generators
(Dockerfiles, Cargo.toml, Rust sources, .gitignore, user policies and the special
files a pull request can hold) or from mutations of the bundled examples and golden
fix trees. Each command (`scan --format json`, `inventory --format json`, `fix --diff`)
runs in a forked child of this process — allocpolicy already imported, so a case costs
milliseconds, not an interpreter start — with an address-space cap, and is killed at
its deadline. A case passes when every command ends with exit 0 or 1 (or 2 with a
`file:line: message` for a refused config or policy file), no "internal error", no
traceback, nothing from outside the tree, and (for JSON) valid JSON.

    python -m tests.fuzz --minutes 10     # a long run; prints the number of cases
    pytest tests/test_fuzz.py             # a short run is part of the tests
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parent.parent
SEEDS = [REPO / "examples", REPO / "tests" / "fixes" / "golden"]
DEADLINE_S = 20.0  # a scan of a tiny tree takes ~50 ms; 20 s is a hang
# Address space, not RSS: the interpreter and tree-sitter map ~400 MiB. The forked child
# inherits the test process's own mappings, which grow over a whole-suite session (a fixed
# 1.5 GiB cap ran out in a child after the image and GraphQL tests had run: MemoryError in
# an ordinary case), so the cap is headroom above what the child starts with.
MEMORY_HEADROOM = 1152 << 20
COMMANDS = (
    ("scan", "--format", "json", "."),
    ("inventory", "--format", "json", "."),
    ("fix", "--diff", "."),
)


# How a refused allocpolicy.toml or policy file is reported: exit 2 with the file and line.
_CONFIG_ERROR = re.compile(r"^allocpolicy: error: [^\n:]+:\d+: \S", re.M)


@dataclass
class Outcome:
    argv: tuple[str, ...]
    code: int | None  # None: killed at the deadline
    stdout: str
    stderr: str

    def problem(self) -> str | None:
        if self.code is None:
            return f"did not finish within {DEADLINE_S:.0f} s"
        if self.code == 2 and _CONFIG_ERROR.search(self.stderr):
            return None  # a refused config or policy file (exit 2, file:line: why) is an answer
        if self.code not in (0, 1):
            return f"exit code {self.code}"
        if "internal error" in self.stderr or "Traceback" in self.stderr:
            return "internal error"
        if "--format" in self.argv and "json" in self.argv:
            try:
                json.loads(self.stdout)
            except ValueError:
                return "output is not JSON"
        return None


def run_cli(root: Path, argv: tuple[str, ...]) -> Outcome:
    """`allocpolicy ARGV` in a forked child, cwd `root`, capped and killed at the deadline."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:
            _child(root, argv, out.fileno(), err.fileno())
        code = _wait(pid)
        return Outcome(argv, code, _text(out), _text(err))


def _child(root: Path, argv: tuple[str, ...], out: int, err: int) -> None:
    """The forked child: run the command, then exit at once (never return into hypothesis)."""
    code = 70
    try:
        cap = _address_space() + MEMORY_HEADROOM
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        os.chdir(root)
        os.dup2(out, 1)
        os.dup2(err, 2)
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - the child's own stdout
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        from allocpolicy.cli import main

        code = main(list(argv))
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException as exc:  # anything escaping main is the defect we look for
        os.write(2, f"Traceback: {type(exc).__name__}: {exc}\n".encode())
    finally:
        os._exit(code)


def _address_space() -> int:
    """This process's mapped address space (VmSize), in bytes."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) << 10
    return 400 << 20


def _wait(pid: int) -> int | None:
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def _text(fh: IO[bytes]) -> str:
    fh.seek(0)
    return fh.read().decode("utf-8", "replace")


# ---- structured generators -------------------------------------------------------------

_NAMES = st.sampled_from(["A", "B", "V", "X", "RUST_VERSION", "TARGET", "TARGETARCH"])
DOCKER_LINES = st.one_of(
    st.sampled_from(
        [
            "FROM rust:1.82-alpine AS b",
            "FROM rust:${RUST_VERSION}-alpine AS builder",
            "FROM alpine:3.20",
            "FROM scratch",
            "FROM b",
            "FROM ${X}",
            "FROM",
            "ARG RUST_VERSION=1.82",
            "ARG V=$V",
            "ARG X",
            "WORKDIR /src",
            "COPY . .",
            "COPY /Cargo.toml ./",
            "COPY /src /src",
            "COPY ../.. .",
            "COPY --from=b /src/target/release/orders /usr/local/bin/orders",
            "COPY --from=b /src/target/x86_64-unknown-linux-musl/release/* /bin/",
            "RUN cargo build --release --locked",
            "RUN cargo build --release --target x86_64-unknown-linux-musl",
            "RUN cargo build --target $TARGET",
            "RUN <<EOT",
            "EOT",
            "ENV LD_PRELOAD=/usr/lib/libmimalloc.so.2",
            'ENTRYPOINT ["/usr/local/bin/orders"]',
            "# escape=`",
            "# allocpolicy: ignore[AP001]",
            "\\",
            "ENTRYPOINT [",
        ]
    ),
    _NAMES.map(lambda n: f"ARG {n}=${{{n}:-x}}${{{n}#x}}${{{n}%%x}}${{{n}/x/y}}"),
    st.integers(1, 3000).map(lambda n: "ARG X=" + "${X:-" * n + "x" + "}" * n),
    st.integers(1, 3000).map(lambda n: "ARG X=" + "${X:-" * n),
    st.integers(1, 40).map(
        lambda n: "\n".join(["ARG A0=xx"] + [f"ARG A{i}=$A{i - 1}$A{i - 1}" for i in range(1, n)])
    ),
    st.text(max_size=40).map(lambda t: "RUN " + t),
)
TOML_TEXT = st.one_of(
    st.sampled_from(
        [
            '[package]\nname = "orders"\nversion = "0.1.0"\nedition = "2021"\n'
            '[dependencies]\ntokio = "1"\n',
            '[package]\nname = "orders"\n[dependencies]\nmimalloc = { version = "0.1" }\n',
            '[workspace]\nmembers = ["*", "../x", "/"]\n',
            '[package]\nname = "orders"\n[target."cfg(".dependencies]\nmimalloc = "0.1"\n',
            '[package]\nname = "orders"\n[features]\ndefault = ["a"]\na = ["dep:x", "a"]\n',
            '[package\nname = "orders"\n',
        ]
    ),
    st.integers(1, 2000).map(lambda n: '[package]\nname = "o"\n[package.metadata]\nx = ' + "[" * n),
    st.integers(1, 2000).map(lambda n: "a = " + "{b = " * n + "1" + "}" * n),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
)
RUST_TEXT = st.one_of(
    st.sampled_from(
        [
            "#[global_allocator]\nstatic G: mimalloc::MiMalloc = mimalloc::MiMalloc;\nfn main() {}\n",
            "#[cfg(all(\n#[global_allocator]\nstatic G",
            'mod m { #[cfg(feature = "x")] #[global_allocator] static G: super::A = super::A; }\n',
            "// allocpolicy: ignore[AP005]\nfn main() {\n",
            "fn main() {}\n",
        ]
    ),
    st.integers(1, 3000).map(lambda n: "#[cfg(" + "not(" * n + "unix" + ")" * n + ")]\nmod m;"),
    st.integers(1, 3000).map(lambda n: "fn main() {" + "{" * n + "}" * n + "}\n"),
)
GITIGNORE = st.lists(
    st.sampled_from(
        [
            "*",
            "!*/",
            "!*.toml",
            "!*.rs",
            "!Dockerfile",
            "target/",
            "\\",
            "[z-a]",
            "[",
            "**",
            "a/**/b",
            "!",
            "#x",
            "\\#x",
            "src/*.rs",
            "/Cargo.toml",
            "*.lock ",
            "[[:alpha:]]*",
        ]
    ),
    max_size=8,
).map(lambda lines: "\n".join(lines) + "\n")
CONDITION = st.recursive(
    st.sampled_from(
        [
            "{fact: allocator, eq: tcmalloc}",
            "{fact: crate, matches: '(a+)+$'}",
            "{fact: crate, matches: '(x+x+)+y'}",
            "{fact: crate, matches: '('}",
            "{fact: locked_version, version_lt: '0.1.43'}",
            "{fact: nope, exists: true}",
        ]
    ),
    lambda inner: st.one_of(
        inner.map(lambda c: "{not: " + c + "}"),
        st.lists(inner, min_size=1, max_size=3).map(lambda cs: "{any: [" + ", ".join(cs) + "]}"),
    ),
    max_leaves=6,
)
POLICY = st.one_of(
    CONDITION.map(
        lambda cond: (
            "version: 1\nrules:\n  - id: TEAM001\n    name: t\n    severity: error\n"
            "    subject: dependency\n    summary: s\n    when: " + cond + "\n    message: m\n"
        )
    ),
    st.integers(1, 600).map(
        lambda n: (
            "version: 1\nrules:\n  - id: TEAM001\n    name: t\n    severity: error\n"
            "    subject: dependency\n    summary: s\n    when: "
            + "{not: " * n
            + "{fact: crate, exists: true}"
            + "}" * n
            + "\n    message: m\n"
        )
    ),
    st.just(
        "version: 1\na: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nrules: *e\n"
    ),
)
SPECIAL = st.sampled_from(["fifo", "dev-zero", "outside", "dangling", "big", "none"])


@st.composite
def structured(draw: st.DrawFn) -> dict[str, object]:
    return {
        "Dockerfile": "\n".join(draw(st.lists(DOCKER_LINES, max_size=12))) + "\n",
        "Cargo.toml": draw(TOML_TEXT),
        "src/main.rs": draw(RUST_TEXT),
        ".gitignore": draw(st.none() | GITIGNORE),
        "policy": draw(st.none() | POLICY),
        "special": draw(SPECIAL),
        "special_at": draw(
            st.sampled_from(["Dockerfile", "Cargo.toml", "src/main.rs", ".gitignore"])
        ),
    }


def _seed_files() -> list[Path]:
    files = []
    for top in SEEDS:
        files += [p for p in sorted(top.rglob("*")) if p.is_file() and p.stat().st_size < 65536]
    return files


SEED_DIRS = sorted(
    {p.parent for p in _seed_files() if p.name in ("Dockerfile", "Cargo.toml")}, key=str
)
INSERTS = [
    "${X:-${X:-${X",
    "[[[[",
    "\\\n",
    "\x00",
    "# allocpolicy: ignore[AP001]",
    "COPY /Cargo.toml ./",
    "ARG V=$V",
    '"""',
    "#[global_allocator]",
    "!*/",
    "\r\n",
    "\ufeff",
]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Path, list[tuple[int, int, str]]]:
    """A seed tree and line edits for one of its files: (file index, line, insert)."""
    seed = draw(st.sampled_from(SEED_DIRS))
    edits = draw(
        st.lists(
            st.tuples(
                st.integers(0, 50),
                st.integers(0, 200),
                st.sampled_from(INSERTS) | st.text(max_size=8),
            ),
            max_size=6,
        )
    )
    return seed, edits


# ---- writing cases ---------------------------------------------------------------------


def write_structured(root: Path, case: dict[str, object]) -> None:
    for rel in ("Dockerfile", "Cargo.toml", "src/main.rs", ".gitignore"):
        text = case[rel]
        if text is not None:
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(str(text), encoding="utf-8", errors="surrogateescape")
    if case["policy"] is not None:
        (root / "team.yaml").write_text(str(case["policy"]))
        (root / "allocpolicy.toml").write_text('policies = ["team.yaml"]\n')
    _special(root, str(case["special"]), str(case["special_at"]))


def _special(root: Path, kind: str, rel: str) -> None:
    path = root / rel
    if kind == "none":
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "outside":
        outside = root.parent / f"{root.name}-outside-secret"
        outside.write_text("OUTSIDE-SECRET\n")
        path.symlink_to(outside)
    elif kind == "dangling":
        path.symlink_to(root / "nowhere")
    elif kind == "big":
        with open(path, "wb") as fh:  # sparse: 9 MiB on paper, nothing on disk
            fh.truncate(9 << 20)


def write_mutated(root: Path, seed: Path, edits: list[tuple[int, int, str]]) -> None:
    shutil.copytree(seed, root, symlinks=False, dirs_exist_ok=True)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    for index, line, insert in edits:
        if not files:
            return
        path = files[index % len(files)]
        lines = path.read_bytes().decode("utf-8", "surrogateescape").split("\n")
        lines.insert(line % (len(lines) + 1), insert)
        path.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape"))


# ---- running ---------------------------------------------------------------------------


class Failure(AssertionError):
    pass


def check(root: Path) -> int:
    """Run every command on `root`; raise Failure naming the first problem. Returns runs."""
    for argv in COMMANDS:
        outcome = run_cli(root, argv)
        problem = outcome.problem()
        if problem is None and "OUTSIDE-SECRET" in outcome.stdout + outcome.stderr:
            problem = "printed a file from outside the tree"
        if problem is not None:
            raise Failure(f"{' '.join(argv)}: {problem}\n{outcome.stderr[-2000:]}")
    return len(COMMANDS)


def _check_case(root: Path, case: object) -> None:
    try:
        check(root)
    except Failure as exc:
        raise Failure(f"{exc}\ncase: {case!r}") from None


_COUNT = {"cases": 0}
_FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.generate, Phase.shrink],
)


def _fresh_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="allocpolicy-fuzz-")) / "repo"


def _structured_batch(examples: int) -> None:
    @settings(_FUZZ, max_examples=examples)
    @given(case=structured())
    def batch(case: dict[str, object]) -> None:
        root = _fresh_root()
        root.mkdir()
        try:
            write_structured(root, case)
            _check_case(root, case)
            _COUNT["cases"] += 1
        finally:
            shutil.rmtree(root.parent, ignore_errors=True)

    batch()


def _mutated_batch(examples: int) -> None:
    @settings(_FUZZ, max_examples=examples)
    @given(case=mutated())
    def batch(case: tuple[Path, list[tuple[int, int, str]]]) -> None:
        root = _fresh_root()
        try:
            write_mutated(root, *case)
            _check_case(root, case)
            _COUNT["cases"] += 1
        finally:
            shutil.rmtree(root.parent, ignore_errors=True)

    batch()


def run_for(seconds: float, batch: int = 50) -> int:
    """Fuzz until `seconds` have passed; returns the number of cases; raises on a failure."""
    _COUNT["cases"] = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        _structured_batch(batch)
        _mutated_batch(batch)
    return _COUNT["cases"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=1.0)
    args = p.parse_args(argv)
    start = time.monotonic()
    try:
        cases = run_for(args.minutes * 60)
    except Failure as exc:
        print(f"FAILED after {_COUNT['cases']} cases: {exc}", file=sys.stderr)
        return 1
    took = time.monotonic() - start
    print(f"{cases} cases ({cases * len(COMMANDS)} runs) in {took:.0f} s: no failure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
