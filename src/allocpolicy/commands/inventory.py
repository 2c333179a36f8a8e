"""`allocpolicy inventory`: what each image ships, and why."""

from __future__ import annotations

import sys
from pathlib import Path

from allocpolicy.commands import EXIT_OK
from allocpolicy.engine import scan
from allocpolicy.reporters import inventory

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    import argparse


def run(args: argparse.Namespace, root: Path) -> int:
    result = scan(root, args.config)
    sys.stdout.write(inventory.render(result.inventory, args.format))
    return EXIT_OK
