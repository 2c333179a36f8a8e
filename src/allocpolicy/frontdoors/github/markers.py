"""Hidden HTML markers that make re-runs idempotent.

Every body the bot writes starts with one marker::

    <!-- allocpolicy:v1 kind=inline fps=0123456789abcdef state=open -->
    <!-- allocpolicy:v1 kind=summary -->
    <!-- allocpolicy:v1 kind=review attempt=3f2a... -->

``fps`` are Finding.fingerprint values (rule + path + normalised snippet; no line
numbers). Markers are only trusted on comments authored by the bot's own login.
"""

from __future__ import annotations

import re

from allocpolicy._record import record

PREFIX = "allocpolicy:v1"
_MARKER = re.compile(r"<!-- allocpolicy:v1 ((?:[a-z_]+=[A-Za-z0-9_,.:\-]*\s?)*)-->")
_FP = re.compile(r"^[0-9a-f]{8,64}$")


@record(frozen=True)
class Marker:
    kind: str
    fps: tuple[str, ...] = ()
    state: str = "open"
    attempt: str = ""

    def render(self) -> str:
        parts = [f"kind={self.kind}"]
        if self.fps:
            parts.append("fps=" + ",".join(self.fps))
        # Both comment kinds are resolved by an edit: a file comment that did not say so
        # read as open again, was resolved again, and nested one more <details> each run.
        if self.kind in ("inline", "file") or self.state != "open":
            # a summary only says so when it is a duplicate another run left
            parts.append(f"state={self.state}")
        if self.attempt:
            parts.append(f"attempt={self.attempt}")
        return f"<!-- {PREFIX} {' '.join(parts)} -->"


def parse(body: str | None) -> Marker | None:
    """The first allocpolicy marker in a body, or None."""
    if not body:
        return None
    m = _MARKER.search(body)
    if not m:
        return None
    fields = dict(p.split("=", 1) for p in m.group(1).split() if "=" in p)
    kind = fields.get("kind", "")
    if kind not in ("inline", "summary", "review", "file"):
        return None
    fps = tuple(f for f in fields.get("fps", "").split(",") if _FP.match(f))
    return Marker(
        kind=kind, fps=fps, state=fields.get("state", "open"), attempt=fields.get("attempt", "")
    )
