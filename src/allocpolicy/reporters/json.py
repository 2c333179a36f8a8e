"""The JSON contract: {"version", "findings": [...], "summary": {...}}."""

from __future__ import annotations

import json
from typing import Any

from allocpolicy import __version__
from allocpolicy.engine import ScanResult
from allocpolicy.model import Severity


def as_dict(result: ScanResult) -> dict[str, Any]:
    return {
        "version": __version__,
        "findings": [f.to_json() for f in result.findings],
        "summary": {
            "errors": result.count(Severity.ERROR),
            "warnings": result.count(Severity.WARNING),
            "infos": result.count(Severity.INFO),
            "files": result.files_scanned,
            "fixable": sum(1 for f in result.findings if f.fix is not None),
        },
        "inventory": result.inventory,
    }


def render(result: ScanResult) -> str:
    return json.dumps(as_dict(result), indent=2, sort_keys=False) + "\n"
