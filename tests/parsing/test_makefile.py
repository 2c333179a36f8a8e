"""Reading what `make TARGET` runs, without running anything."""

from __future__ import annotations

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
\t$(TOOL) build --release
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
    # FEATURES is set (to nothing) in the Makefile, so the environment does not reach it;
    # EXTRA_FLAGS ?= keeps its empty default too, as make does for a variable it defines
    assert line == 'cargo build --profile "dev" --features "" '


def test_what_make_computes_at_run_time_is_unknown() -> None:
    mk = parse_makefile(MAKEFILE)
    assert recipe(mk, ["stamp"], {}, {}) == [f"echo {UNKNOWN} > stamp"]
    assert recipe(mk, ["cross-build"], {}, {}) == [f"{UNKNOWN} build --release"]


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
    for goal in list(mk.rules)[:5] + [""]:
        lines = recipe(mk, [goal] if goal else [], {}, {})
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
