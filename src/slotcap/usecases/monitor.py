"""The plan's phase-3 monitoring, read from the database itself.

``rollout_monitor`` reports, for the last ``hours`` whole UTC hours (the current one
included): the reservations created per hour, split by what their writer filled in
(dynamic / legacy, :class:`slotcap.ports.CreatedHour`), the dual-write gaps among them,
the schema state and the rollout settings, and a list of findings — anything an
operator should look at. No finding: healthy. docs/monitor.md has the rules.

FULL refusals write nothing to the database, so they are not here: the HTTP server
counts them (``/metrics``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from slotcap.domain.rollout import Rollout
from slotcap.ports import SchemaState, Store

__all__ = ["FULL_REFUSALS_NOTE", "MAX_HOURS", "HourlyCount", "MonitorReport", "rollout_monitor"]

#: The longest window (a week and a day): a monitor, not an export.
MAX_HOURS = 24 * 8

FULL_REFUSALS_NOTE = (
    "FULL refusals: not recorded in the database; see the server's /metrics "
    '(slotcap_http_requests_total{outcome="full"})'
)
_HOUR = dt.timedelta(hours=1)


@attrs.frozen(kw_only=True)
class HourlyCount:
    """Reservations created in one UTC hour, by path (see :class:`slotcap.ports.CreatedHour`)."""

    #: The hour's start, timezone-aware UTC.
    hour_start: dt.datetime
    dynamic: int
    legacy: int

    @property
    def total(self) -> int:
        return self.dynamic + self.legacy

    def to_dict(self) -> dict[str, Any]:
        return {
            "hour_start": self.hour_start.isoformat(),
            "dynamic": self.dynamic,
            "legacy": self.legacy,
            "total": self.total,
        }


@attrs.frozen(kw_only=True)
class MonitorReport:
    generated_at: dt.datetime
    schema_state: SchemaState
    hours: int
    #: One entry per hour of the window, oldest first, hours without bookings included.
    per_hour: tuple[HourlyCount, ...]
    #: Rows created in the window lacking one or more new columns while the schema has
    #: them (always 0 before phase 1).
    dual_write_gaps: int
    #: Of those, the rows whose only empty new column is ``period``.
    gaps_period_only: int
    rollout_enabled: bool
    rollout_percentage: int
    #: What to look at; empty when healthy.
    findings: tuple[str, ...]
    #: What the report cannot say, and how to read it (never a reason to look).
    notes: tuple[str, ...] = ()

    @property
    def healthy(self) -> bool:
        return not self.findings

    @property
    def window_start(self) -> dt.datetime:
        return self.per_hour[0].hour_start

    @property
    def created(self) -> int:
        return sum(h.total for h in self.per_hour)

    @property
    def dynamic_share(self) -> int:
        """The percentage of requests the rollout sends to the dynamic rule."""
        return 100 if self.rollout_enabled else self.rollout_percentage

    def last_hour(self) -> HourlyCount:
        """The current (partial) hour."""
        return self.per_hour[-1]

    def headline(self) -> str:
        if self.healthy:
            return "healthy"
        n = len(self.findings)
        return f"look at this: {n} finding{'s' if n != 1 else ''}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": "healthy" if self.healthy else "look_at_this",
            "healthy": self.healthy,
            "generated_at": self.generated_at.isoformat(),
            "schema_state": self.schema_state.value,
            "hours": self.hours,
            "window_start": self.window_start.isoformat(),
            "created": self.created,
            "per_hour": [h.to_dict() for h in self.per_hour],
            "dual_write_gaps": self.dual_write_gaps,
            "gaps_period_only": self.gaps_period_only,
            "rollout": {
                "enabled": self.rollout_enabled,
                "percentage": self.rollout_percentage,
                "dynamic_share": self.dynamic_share,
            },
            "full_refusals": None,
            "findings": list(self.findings),
            "notes": list(self.notes),
        }


def _hour_floor(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def rollout_monitor(
    store: Store, *, rollout: Rollout, now: dt.datetime, hours: int = 24
) -> MonitorReport:
    """The phase-3 monitor over the ``hours`` whole UTC hours ending with ``now``'s
    (aware). One query for the counts (``Store.created_per_hour``) and the store's
    schema state, re-read; ``ValueError`` for a window outside 1..:data:`MAX_HOURS` or a
    naive ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not 1 <= hours <= MAX_HOURS:
        raise ValueError(f"hours must be from 1 to {MAX_HOURS}, got {hours}")
    state = store.refresh_schema_state()
    last = _hour_floor(now)
    since = last - (hours - 1) * _HOUR
    counts = store.created_per_hour(since, last + _HOUR)
    by_hour = {h.hour: h for h in counts.hours}
    per_hour = []
    for i in range(hours):
        start = since + i * _HOUR
        seen = by_hour.get(start)
        per_hour.append(HourlyCount(
            hour_start=start,
            dynamic=0 if seen is None else seen.dynamic,
            legacy=0 if seen is None else seen.legacy,
        ))
    findings, notes = _findings(state, rollout, counts.gaps, counts.gaps_period_only, hours)
    return MonitorReport(
        generated_at=now.astimezone(dt.UTC),
        schema_state=state,
        hours=hours,
        per_hour=tuple(per_hour),
        dual_write_gaps=counts.gaps,
        gaps_period_only=counts.gaps_period_only,
        rollout_enabled=rollout.enabled,
        rollout_percentage=rollout.percentage,
        findings=tuple(findings),
        notes=tuple(notes),
    )


def _findings(
    state: SchemaState, rollout: Rollout, gaps: int, period_only: int, hours: int
) -> tuple[list[str], list[str]]:
    findings: list[str] = []
    notes: list[str] = []
    share = 100 if rollout.enabled else rollout.percentage
    if gaps:
        old_only = gaps - period_only
        parts = []
        if old_only:
            parts.append(
                f"{old_only} without the new service columns (written by an app that "
                "writes the old columns only: expected only while such a version is still "
                "deployed in phase 1; `slotcap backfill` fills them)"
            )
        if period_only:
            parts.append(
                f"{period_only} without a period only (a preferredTime the legacy path "
                "could not read: `slotcap review export`)"
            )
        findings.append(
            f"dual-write gaps: {gaps} reservation{'s' if gaps != 1 else ''} created in the "
            f"last {hours} h {'lack' if gaps != 1 else 'lacks'} new columns: "
            + "; ".join(parts)
        )
    if state is SchemaState.LEGACY:
        notes.append("schema is legacy (before phase 1): no new columns, so no dual-write "
                     "to check; every row counts as legacy")
        if share > 0:
            findings.append(
                f"the rollout sends {share}% of bookings to the dynamic rule, which a "
                "legacy schema refuses: apply phase 1 (slotcap migrate --to phase1) or set "
                "the rollout to 0"
            )
    if state is SchemaState.CONTRACTED and share < 100:
        findings.append(
            f"the rollout sends {100 - share}% of bookings to the legacy count rule, which "
            "phase 4 removed: set USE_DYNAMIC_SERVICES=true"
        )
    notes.append(FULL_REFUSALS_NOTE)
    notes.append("dynamic = rows written with every new column (what the dynamic path "
                 "writes); a dual-writing legacy path writes them too when it knows the "
                 "service and reads the time, so the split per request is the server's "
                 "(/metrics, rule_path) — docs/monitor.md")
    return findings, notes
