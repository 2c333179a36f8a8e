"""The data every stage shares: locations, edits, fixes and findings.

Positions are 1-based; an end column is exclusive (SARIF's convention), so an
insertion is an edit whose start equals its end.
"""

from __future__ import annotations

from enum import Enum

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import field, record

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any


class Severity(str, Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


class Safety(str, Enum):
    SAFE = "safe"
    UNSAFE = "unsafe"


@record(frozen=True, order=True)
class Location:
    path: str  # posix, relative to the scanned root
    line: int
    column: int = 1
    end_line: int | None = None
    end_column: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line if self.end_line is not None else self.line,
            "end_column": self.end_column,
        }


@record(frozen=True, order=True)
class Edit:
    path: str
    start_line: int
    start_column: int
    end_line: int
    end_column: int
    replacement: str

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "start_line": self.start_line,
            "start_column": self.start_column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "replacement": self.replacement,
        }


@record(frozen=True)
class Fix:
    title: str
    safety: Safety
    edits: tuple[Edit, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "safety": self.safety.value,
            "edits": [e.to_json() for e in self.edits],
        }


_WS = lazy_re(r"\s+")


@record
class Finding:
    rule: str
    name: str
    severity: Severity
    location: Location
    message: str
    fix: Fix | None = None
    snippet: str = ""  # the source line(s) the finding points at, for fingerprints
    notes: list[str] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        """Stable across line moves: rule, path and the normalised snippet."""
        import hashlib  # only reporters need fingerprints; keep it off the import path

        norm = _WS.sub(" ", self.snippet).strip()
        raw = f"{self.rule}\0{self.location.path}\0{norm}\0{self.message}"
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.location.path, self.location.line, self.location.column, self.rule)

    def to_json(self) -> dict[str, Any]:
        loc = self.location.to_json()
        return {
            "rule": self.rule,
            "name": self.name,
            "severity": self.severity.value,
            "path": loc["path"],
            "line": loc["line"],
            "column": loc["column"],
            "end_line": loc["end_line"],
            "end_column": loc["end_column"],
            "message": self.message,
            "fingerprint": self.fingerprint,
            "fix": self.fix.to_json() if self.fix else None,
        }
