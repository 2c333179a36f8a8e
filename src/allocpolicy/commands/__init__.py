"""The commands: the one layer that combines the engine, the fixes and the reporters.

Front doors (the command line, pre-commit, the GitHub Action) choose what to scan
and call these; nothing below this package knows about fixes being computed or
about output formats.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Callable

    from allocpolicy.engine import ScanResult

    # with_fixes -> the scan's result; a front door picks the whole tree or a narrowed scope.
    Scanner = Callable[[bool], ScanResult]

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class UsageError(Exception):
    """A command line that names something that does not exist (exit 2, no traceback)."""
