"""The subprocess-free runner the pre-commit check uses for git."""

from __future__ import annotations

import os
import sys
import time

from allocpolicy._proc import Running


def test_returns_stdout_of_a_successful_program() -> None:
    assert (
        Running([sys.executable, "-c", "import sys; sys.stdout.write('x' * 200000)"]).output()
        == b"x" * 200000
    )


def test_failure_and_missing_programs_give_none() -> None:
    assert (
        Running([sys.executable, "-c", "import sys; print('partial'); sys.exit(3)"]).output()
        is None
    )
    assert Running(["allocpolicy-no-such-program-here"]).output() is None


def test_stderr_is_discarded_and_stdin_is_empty() -> None:
    code = "import sys; sys.stderr.write('noise'); print(repr(sys.stdin.read()))"
    assert Running([sys.executable, "-c", code]).output() == b"''\n"


def test_a_hanging_program_is_killed_at_the_deadline() -> None:
    start = time.monotonic()
    assert Running([sys.executable, "-c", "import time; time.sleep(30)"]).output(0.5) is None
    assert time.monotonic() - start < 10


def test_a_started_program_finishes_its_output_before_it_is_read() -> None:
    running = Running([sys.executable, "-c", "import sys; sys.stdout.write('y' * 500000)"])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # exits by itself: nothing is reading the pipe yet
        pid, _ = os.waitpid(running.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.02)
    assert pid, "the program blocked on a full pipe"
    running.pid = None  # reaped above
    assert _drain(running) == b"y" * 500000


def _drain(running) -> bytes:
    chunks = []
    while chunk := os.read(running.fd, 1 << 16):
        chunks.append(chunk)
    os.close(running.fd)
    return b"".join(chunks)


def test_without_posix_spawn_it_falls_back_to_subprocess(monkeypatch) -> None:
    monkeypatch.delattr(os, "posix_spawnp")
    assert Running([sys.executable, "-c", "print('hi')"]).output() == b"hi\n"
    assert Running([sys.executable, "-c", "import sys; sys.exit(1)"]).output() is None
    assert Running(["allocpolicy-no-such-program-here"]).output() is None
