"""Run a helper program (git) and read its output, without importing subprocess.

`import subprocess` brings threading, selectors and signal with it: about as much
start-up time as the rest of a pre-commit check. This is the small part of it a
check needs: spawn, read stdout to the end within a deadline, reap.
"""

from __future__ import annotations

import os
import select
import time


def capture(argv: list[str], timeout: float = 30.0) -> bytes | None:
    """The program's stdout if it exits 0 within `timeout` seconds, else None; stderr is discarded."""
    read_end, write_end = os.pipe()
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=[
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, write_end, 1),
                (os.POSIX_SPAWN_DUP2, devnull, 2),
                (os.POSIX_SPAWN_CLOSE, read_end),
            ])
        finally:
            os.close(devnull)
    except OSError:  # not installed, not executable
        os.close(read_end)
        os.close(write_end)
        return None
    os.close(write_end)
    out = _read_all(read_end, time.monotonic() + timeout)
    os.close(read_end)
    if out is None:
        os.kill(pid, 9)  # SIGKILL, without importing signal
    _, status = os.waitpid(pid, 0)
    return out if out is not None and os.waitstatus_to_exitcode(status) == 0 else None


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
