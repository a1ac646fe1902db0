"""A validation's result: one :class:`Check` per checklist item, and the report."""

from __future__ import annotations

import json
from typing import Any

import attrs

from slotcap.migration.state import Phase

__all__ = ["Check", "ValidationReport"]


@attrs.frozen
class Check:
    name: str
    #: The plan's checklist it comes from: "phase1", "phase2", "phase3", "phase4".
    phase: str
    passed: bool
    detail: dict[str, Any]
    #: False for the plan's judgement calls ("distribution looks reasonable").
    blocking: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "phase": self.phase,
            "passed": self.passed,
            "blocking": self.blocking,
            "detail": self.detail,
        }


@attrs.frozen
class ValidationReport:
    #: The phase the checks were chosen for.
    phase: Phase
    checks: list[Check]
    #: Reservations whose service is filled but whose period is not (the parser
    #: abstained): awaiting manual review.
    needs_review: int = 0

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks if c.blocking)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.blocking and not c.passed]

    def summary(self) -> str:
        if self.passed:
            return f"{len(self.checks)} checks passed ({self.phase.value})"
        return "failed: " + "; ".join(
            f"{c.name} {json.dumps(c.detail, default=str, ensure_ascii=False)}"
            for c in self.failed
        )

    @property
    def started(self) -> bool:
        """False for a legacy database checked as such: the migration has not begun,
        there is nothing to check (a caller must not read that as "passed")."""
        return self.phase is not Phase.LEGACY or bool(self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase.value,
            "passed": self.passed,
            "needs_review": self.needs_review,
            "checks": [c.to_dict() for c in self.checks],
        }
