"""What ``migrate`` / ``rollback`` / ``status`` return: plain values with ``to_dict``."""

from __future__ import annotations

from typing import Any

import attrs

from slotcap.migration.backfill_report import BackfillReport
from slotcap.migration.location import INCONSISTENT, Location
from slotcap.migration.state import Phase
from slotcap.migration.validation import ValidationReport
from slotcap.ports import SchemaState

__all__ = ["MigrationReport", "MigrationStatus", "StepResult"]


@attrs.frozen
class StepResult:
    name: str
    seconds: float
    detail: dict[str, Any] = attrs.Factory(dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "seconds": round(self.seconds, 3), "detail": self.detail}


@attrs.define
class MigrationReport:
    """What a ``migrate`` or ``rollback`` call did and where it stopped."""

    start: Phase
    target: Phase
    reached: Phase
    steps: list[StepResult] = attrs.Factory(list)
    validation: ValidationReport | None = None
    #: Reservations still without a period: the parser abstained, a person decides.
    needs_review: int = 0
    #: The BackfillReport of the last backfill run, if any.
    backfill: BackfillReport | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        """Whether the target phase was reached."""
        return self.reached is self.target

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.value,
            "target": self.target.value,
            "reached": self.reached.value,
            "ok": self.ok,
            "needs_review": self.needs_review,
            "message": self.message,
            "steps": [s.to_dict() for s in self.steps],
            "validation": None if self.validation is None else self.validation.to_dict(),
            "backfill": None if self.backfill is None else self.backfill.to_dict(),
        }


@attrs.frozen
class MigrationStatus:
    """Where a database stands (:class:`~slotcap.migration.location.Location`, see
    :mod:`slotcap.migration.location`), with what the record and the catalogue add."""

    location: Location
    #: When the current phase was applied or rolled back to (database clock), if recorded.
    applied_at: str | None
    #: Which columns reservations has, read from the catalog (None: not slotcap's shape).
    schema_state: SchemaState | None
    last_validation: dict[str, Any] | None
    last_validated_at: str | None
    history: list[dict[str, Any]]
    #: slotcap's own tables that no phase touches and every phase serves (the server's
    #: ``Idempotency-Key`` records, ``slotcap_idempotency_keys``) found in the database.
    kept_tables: tuple[str, ...] = ()
    #: Phase 1's shadow decision tables found (``slotcap shadow report`` reads them).
    shadow_tables: tuple[str, ...] = ()

    # The location's fields, read through (the JSON and the CLI name them at the top).

    @property
    def phase(self) -> Phase:
        """The settled phase; for an interrupted transition, the phase it started from."""
        return self.location.phase

    @property
    def state(self) -> str:
        """settled | interrupted | inconsistent"""
        return self.location.state

    @property
    def transition(self) -> str | None:
        return self.location.transition

    @property
    def step(self) -> str | None:
        return self.location.step

    @property
    def forward(self) -> str | None:
        return self.location.forward

    @property
    def back(self) -> str | None:
        return self.location.back

    @property
    def paused(self) -> bool:
        return self.location.paused

    @property
    def problems(self) -> tuple[str, ...]:
        return self.location.problems

    @property
    def consistent(self) -> bool:
        """False when the record and the catalogue disagree (see ``problem``)."""
        return self.location.state != INCONSISTENT

    @property
    def problem(self) -> str | None:
        return None if self.consistent else "; ".join(self.location.problems)

    def summary(self) -> str:
        return self.location.summary()

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.location.to_dict(),
            "applied_at": self.applied_at,
            "schema_state": None if self.schema_state is None else self.schema_state.value,
            "consistent": self.consistent,
            "problem": self.problem,
            "last_validation": self.last_validation,
            "last_validated_at": self.last_validated_at,
            "history": self.history,
            "kept_tables": list(self.kept_tables),
            "shadow_tables": list(self.shadow_tables),
        }
