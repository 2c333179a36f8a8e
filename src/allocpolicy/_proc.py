"""Run a helper program (git) and read its output, without importing subprocess.

`import subprocess` brings threading, selectors and signal with it: about as much
start-up time as the rest of a pre-commit check. This is the small part of it a
check needs: spawn, read stdout to the end within a deadline, reap. A program is
started first and read later, so it can run while the check imports the engine.
"""

from __future__ import annotations

import os
import select
import time


class Running:
    """A started program; `output()` waits for it."""

    def __init__(self, argv: list[str]) -> None:
        self.pid: int | None = None
        self.fd: int | None = None
        self.done: bytes | None = None  # the output, where posix_spawn is missing (Windows)
        if not hasattr(os, "posix_spawnp"):
            self.done = _run_with_subprocess(argv)
            return
        read_end, write_end = os.pipe()
        _widen(write_end)
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            self.pid = os.posix_spawnp(
                argv[0],
                argv,
                os.environ,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, devnull, 0),
                    (os.POSIX_SPAWN_DUP2, write_end, 1),
                    (os.POSIX_SPAWN_DUP2, devnull, 2),
                    (os.POSIX_SPAWN_CLOSE, read_end),
                ],
            )
            self.fd = read_end
        except OSError:  # not installed, not executable
            os.close(read_end)
        finally:
            os.close(devnull)
            os.close(write_end)

    def output(self, timeout: float = 30.0) -> bytes | None:
        """stdout if the program exits 0 within `timeout` seconds, else None; reaps it either way."""
        if self.pid is None or self.fd is None:
            out, self.done = self.done, None
            return out
        out = _read_all(self.fd, time.monotonic() + timeout)
        os.close(self.fd)
        self.fd = None
        if out is None:
            os.kill(self.pid, 9)  # SIGKILL, without importing signal
        _, status = os.waitpid(self.pid, 0)
        self.pid = None
        return out if out is not None and os.waitstatus_to_exitcode(status) == 0 else None


def _widen(fd: int) -> None:
    """Let a started program write all of its output before anyone reads it.

    A pipe holds 64 KiB; a listing of thousands of files would stall the program
    until we read, which is exactly the waiting that starting it early avoids.
    Linux lets a pipe grow to 1 MiB (the unprivileged default limit).
    """
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
    except (ImportError, AttributeError, OSError):
        pass  # other systems, or a lower limit: the program waits for the reader


def _run_with_subprocess(argv: list[str], timeout: float = 30.0) -> bytes | None:
    import subprocess

    try:
        done = subprocess.run(
            argv, capture_output=True, stdin=subprocess.DEVNULL, timeout=timeout, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _read_all(fd: int, deadline: float) -> bytes | None:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            return None
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
