"""The subprocess-free runner the pre-commit check uses for git."""

from __future__ import annotations

import sys
import time

from allocpolicy._proc import capture


def test_returns_stdout_of_a_successful_program() -> None:
    assert capture([sys.executable, "-c", "import sys; sys.stdout.write('x' * 200000)"]) == b"x" * 200000


def test_failure_and_missing_programs_give_none() -> None:
    assert capture([sys.executable, "-c", "import sys; print('partial'); sys.exit(3)"]) is None
    assert capture(["allocpolicy-no-such-program-here"]) is None


def test_stderr_is_discarded_and_stdin_is_empty() -> None:
    code = "import sys; sys.stderr.write('noise'); print(repr(sys.stdin.read()))"
    assert capture([sys.executable, "-c", code]) == b"''\n"


def test_a_hanging_program_is_killed_at_the_deadline() -> None:
    start = time.monotonic()
    assert capture([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5) is None
    assert time.monotonic() - start < 10
