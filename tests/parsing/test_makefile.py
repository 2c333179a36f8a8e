"""Reading what `make TARGET` runs, without running anything."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocpolicy.parsing.makefile import UNKNOWN, parse_makefile, recipe

MAKEFILE = """\
# build settings
PROFILE ?= release
FEATURES =
BIN_DIR := $(HOME)/.cargo/bin
EXTRA_FLAGS?=
GIT_REV := $(shell git rev-parse HEAD)
ifeq ($(CROSS),1)
  TOOL = cross
else
  TOOL = cargo
endif
ifeq ($(shell uname -m),x86_64)
  ARCH_FLAGS = -C target-cpu=x86-64-v2
endif

build:
\tcargo build --profile "$(PROFILE)" --features "$(FEATURES)" $(EXTRA_FLAGS)

install-cli: build
\t@echo installing $@
\tcargo install --path cli --locked \\
\t\t--profile $(PROFILE) \\
\t\t--root $(BIN_DIR)

stamp: ; echo $(GIT_REV) > stamp

cross-build:
\t$(TOOL) build --release $(ARCH_FLAGS)
"""


def test_a_target_runs_its_prerequisites_then_its_recipe() -> None:
    mk = parse_makefile(MAKEFILE)
    lines = recipe(mk, ["install-cli"], {}, {"HOME": "/root"})
    assert [line.split() for line in lines or []] == [
        ["cargo", "build", "--profile", '"release"', "--features", '""'],
        ["echo", "installing", "install-cli"],
        ["cargo", "install", "--path", "cli", "--locked"]
        + ["--profile", "release", "--root", "/root/.cargo/bin"],
    ]


def test_command_line_values_win_and_the_environment_fills_in() -> None:
    mk = parse_makefile(MAKEFILE)
    (line,) = recipe(
        mk, ["build"], {"PROFILE": "dev"}, {"FEATURES": "ignored", "EXTRA_FLAGS": "-v"}
    )
    # FEATURES = is set (to nothing) in the Makefile, so the environment does not reach
    # it; EXTRA_FLAGS ?= gives way to the environment's value, as make's does
    assert line == 'cargo build --profile "dev" --features "" -v'


def test_what_make_computes_at_run_time_is_unknown() -> None:
    mk = parse_makefile(MAKEFILE)
    assert recipe(mk, ["stamp"], {}, {}) == [f"echo {UNKNOWN} > stamp"]
    # a branch that depends on what make computes leaves its variables unknown
    assert recipe(mk, ["cross-build"], {}, {}) == [f"cargo build --release {UNKNOWN}"]


def test_conditionals_are_decided_for_the_values_given() -> None:
    mk = parse_makefile(MAKEFILE)
    assert recipe(mk, ["cross-build"], {"CROSS": "1"}, {})[0].startswith("cross build")  # type: ignore[index]
    text = (
        "OPTS := --locked\n"
        "ifneq ($(strip $(PROFILE)),)\n\tOPTS += --profile $(PROFILE)\nendif\n"
        "ifdef TARGET\nOPTS += --target $(TARGET)\nelse ifeq ($(LIBC),musl)\n"
        "OPTS += --target x86_64-unknown-linux-musl\nelse\nOPTS += --release\nendif\n"
        "build:\n\tcargo build $(OPTS)\n"
    )
    mk = parse_makefile(text)
    assert recipe(mk, [], {}, {}) == ["cargo build --locked --release"]
    assert recipe(mk, [], {"PROFILE": "dist", "LIBC": "musl"}, {}) == [
        "cargo build --locked --profile dist --target x86_64-unknown-linux-musl"
    ]
    assert recipe(mk, [], {}, {"TARGET": "aarch64-unknown-linux-gnu"}) == [
        "cargo build --locked --target aarch64-unknown-linux-gnu"
    ]


def test_a_bare_make_builds_the_first_target_and_a_missing_one_is_none() -> None:
    mk = parse_makefile(MAKEFILE)
    assert recipe(mk, [], {}, {}) == recipe(mk, ["build"], {}, {})
    assert recipe(mk, ["no-such-target"], {}, {}) is None


def test_self_references_and_cycles_end() -> None:
    mk = parse_makefile("A = $(B)\nB = $(A)\nx: y\n\techo $(A)\ny: x\n\techo y\n")
    assert recipe(mk, ["x"], {}, {}) == ["echo y", f"echo {UNKNOWN}"]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab:=$(){}\t\n\\#;?+ @-%", max_size=400))
def test_any_text_is_read_without_error(text: str) -> None:
    mk = parse_makefile(text)
    for goals in ([], ["a"], ["b"], ["a", "b"]):
        lines = recipe(mk, goals, {}, {})
        assert lines is None or len(lines) <= 256


def test_doubling_variables_stay_bounded() -> None:
    defs = "".join(f"V{i} = $(V{i + 1})$(V{i + 1})\n" for i in range(40)) + "V40 = x\n"
    mk = parse_makefile(defs + "all:\n\techo $(V0)\n")
    (line,) = recipe(mk, ["all"], {}, {}) or [""]
    assert len(line) < 200_000


def test_empty_references_cannot_fan_out_for_free() -> None:
    defs = "".join(f"E{i} = " + f"$(E{i + 1})" * 50 + "\n" for i in range(15))
    mk = parse_makefile(defs + "all:\n\techo $(E0)\n")
    assert recipe(mk, ["all"], {}, {}) is not None  # returns (bounded work), whatever it says


ORACLE = """\
OPTS := --locked
PROFILE ?= release
ifneq ($(strip $(FEATURES)),)
  OPTS += --features $(FEATURES)
endif
ifdef TARGET
OPTS += --target $(TARGET)
else ifeq ($(LIBC),musl)
OPTS += --target x86_64-unknown-linux-musl
else
OPTS += --target x86_64-unknown-linux-gnu
endif

all: build
build:
\tcargo build --profile $(PROFILE) $(OPTS)
\t@echo built $@
"""


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is the oracle")
@pytest.mark.parametrize(
    ("overrides", "env"),
    [
        ({}, {}),
        ({"LIBC": "musl", "PROFILE": "dist"}, {}),
        ({"FEATURES": "a,b"}, {"TARGET": "aarch64-unknown-linux-gnu"}),
        ({}, {"PROFILE": "dev", "LIBC": "musl"}),
    ],
)
def test_the_reading_matches_make_dry_run(
    tmp_path: Path, overrides: dict[str, str], env: dict[str, str]
) -> None:
    # our own Makefile only: `make -n` still expands $(shell) while reading
    (tmp_path / "Makefile").write_text(ORACLE)
    args = ["make", "-s", "-n", "-C", str(tmp_path), *(f"{k}={v}" for k, v in overrides.items())]
    clean = {"PATH": os.environ.get("PATH", ""), **env}
    made = subprocess.run(args, env=clean, capture_output=True, text=True, check=True)
    mine = recipe(parse_makefile(ORACLE), [], overrides, env) or []
    assert [line.split() for line in mine] == [line.split() for line in made.stdout.splitlines()]
