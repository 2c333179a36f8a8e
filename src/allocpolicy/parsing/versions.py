"""Version requirements and lock-file versions, compared as numbers."""

from __future__ import annotations

import re


def version_tuple(text: str) -> tuple[int, ...]:
    """`0.1.38+abc` -> (0, 1, 38): major, minor, patch; pre-release and build tags dropped."""
    nums = re.findall(r"\d+", text.split("+")[0].split("-")[0])
    return tuple(int(n) for n in nums[:3])
