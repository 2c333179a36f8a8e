"""The GitHub front door: ``allocpolicy github-review`` and the composite action.

Importing this package does not import PyGithub; only building an API client
does (see :mod:`.client`), so a local scan never needs it installed.
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``allocpolicy github-review [options]``; returns the exit code."""
    from .command import main as _main

    return _main(argv)


__all__ = ["main"]
