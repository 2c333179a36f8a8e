"""A rule as the policy file declares it."""

from __future__ import annotations

from allocpolicy._record import field, record
from allocpolicy.model import Severity

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any


@record(frozen=True)
class SeverityOverride:
    when: Any  # a condition, same language as Rule.when
    severity: Severity


@record(frozen=True)
class FixSpec:
    action: str
    safety: str = "safe"
    params: dict[str, Any] = field(default_factory=dict)


@record(frozen=True)
class ArtifactVariant:
    """The same rule tested on what a built artifact holds (`allocpolicy inspect`)."""

    subject: str  # an artifact subject kind: artifact_binary
    when: Any
    message: str


@record(frozen=True)
class Rule:
    id: str
    name: str
    severity: Severity
    subject: str  # the kind of fact the condition is evaluated on
    summary: str
    rationale: str
    documentation: str
    when: Any
    message: str
    location: str = "location"  # the subject's fact that holds the Location to report
    severity_overrides: tuple[SeverityOverride, ...] = ()
    fix: FixSpec | None = None
    artifact: ArtifactVariant | None = None
    source: str = "default"  # the policy file that declared it

    @property
    def why(self) -> str:
        """One line of rationale, for places with room for a single sentence."""
        first = self.rationale.strip().split("\n\n")[0].replace("\n", " ")
        return first.split(". ")[0].rstrip(".") + "."
