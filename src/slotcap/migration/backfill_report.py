"""What a backfill run reports: per-batch progress events and the final report.

Plain values, so the step engine, the CLI and the benchmarks can name them without
importing the backfill itself.
"""

from __future__ import annotations

from typing import Any

import attrs

from slotcap.domain.model import Period
from slotcap.migration.ddl.names import NEW_COLUMNS

__all__ = ["BackfillProgress", "BackfillReport", "Sample"]


@attrs.frozen(kw_only=True)
class BackfillProgress:
    """Reported after each batch."""

    rows_done: int
    rows_total: int
    rows_written: int
    elapsed_seconds: float
    dry_run: bool
    #: The last batch's rate (rows/s) and why the run throttles now (None: it does not).
    batch_rate: float = 0.0
    throttled: str | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows_done / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        """Estimated seconds left; ``None`` until a rate is known."""
        rate = self.rows_per_second
        if rate <= 0:
            return None
        return max(self.rows_total - self.rows_done, 0) / rate


@attrs.frozen(kw_only=True)
class Sample:
    id: str
    preferred_time: str
    service: str
    period: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "preferredTime": self.preferred_time,
            "service": self.service,
            "period": self.period,
            "reason": self.reason,
        }


@attrs.define(kw_only=True)
class BackfillReport:
    """What one run did (or, with ``dry_run``, would do)."""

    dry_run: bool
    #: Rows examined: every row that had a NULL new column when its batch ran.
    rows_scanned: int = 0
    #: Rows written (would be written): at least one column filled.
    rows_updated: int = 0
    #: Per new column, how many rows got it.
    filled: dict[str, int] = attrs.field(factory=lambda: dict.fromkeys(NEW_COLUMNS, 0))
    #: Among examined rows whose period was NULL: MORNING / AFTERNOON / abstained.
    periods: dict[str, int] = attrs.field(
        factory=lambda: {Period.MORNING.value: 0, Period.AFTERNOON.value: 0, "abstained": 0}
    )
    #: Why the parser abstained, by its machine-readable reason.
    abstain_reasons: dict[str, int] = attrs.field(factory=dict)
    #: Rows given their service columns, per service code.
    services: dict[str, int] = attrs.field(factory=dict)
    #: Legacy codes with no ``services`` row: those rows keep NULL service columns.
    unknown_services: dict[str, int] = attrs.field(factory=dict)
    fill_samples: list[Sample] = attrs.field(factory=list)
    abstain_samples: list[Sample] = attrs.field(factory=list)
    #: Rows still missing a new value after this run: awaiting review (or a service).
    rows_incomplete: int = 0
    distinct_times_parsed: int = 0
    batches: int = 0
    elapsed_seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows_scanned / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    @property
    def needs_review(self) -> int:
        """Rows this run left with a NULL new column: the parser abstained on their
        ``preferredTime`` (manual review) or their service has no ``services`` row."""
        return self.rows_incomplete

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "rows_scanned": self.rows_scanned,
            "rows_updated": self.rows_updated,
            "filled": dict(self.filled),
            "periods": dict(self.periods),
            "abstain_reasons": dict(sorted(self.abstain_reasons.items())),
            "services": dict(sorted(self.services.items())),
            "unknown_services": dict(sorted(self.unknown_services.items())),
            "fill_samples": [s.to_dict() for s in self.fill_samples],
            "abstain_samples": [s.to_dict() for s in self.abstain_samples],
            "distinct_times_parsed": self.distinct_times_parsed,
            "batches": self.batches,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "needs_review": self.needs_review,
        }
