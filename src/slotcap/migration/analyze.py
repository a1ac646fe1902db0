"""The plan's step 2.1: what is actually in the table, before anything is migrated.

One read-only pass of aggregates: every distinct ``preferredTime`` with its counts,
date range and what the parser makes of it; the service distribution; anomalies; and,
on an expanded database, how far the new columns are filled. Works on a legacy
database (it then reads hours from the plan's default schedule, since the clinic's
own ``clinic_time_slots`` do not exist yet).

Reports never carry patient names or phone numbers: ids are enough to find a row.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import attrs

from slotcap.domain.calendar import day_of_week
from slotcap.domain.defaults import DEFAULT_TIME_SLOTS
from slotcap.domain.model import LEGACY_SERVICE_CODES, ClinicTimeSlot
from slotcap.domain.timeparse import parse_preferred_time
from slotcap.migration._dbinfo import NEW_COLUMNS, has_new_columns, iso_date, load_clinic_hours
from slotcap.sql import SqlConnection

__all__ = ["Analysis", "ServiceCount", "TimeFormat", "analyze"]

#: A preferredDate further than this from today is reported as an anomaly.
PAST_LIMIT = dt.timedelta(days=3 * 365)
FUTURE_LIMIT = dt.timedelta(days=366)
_SAMPLE_IDS = 10


@attrs.frozen(kw_only=True)
class TimeFormat:
    """One distinct ``preferredTime`` value and what the parser reads in it."""

    text: str
    count: int
    active_count: int
    earliest: str | None
    latest: str | None
    period: str | None
    clock: str | None
    ambiguous: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "preferredTime": self.text,
            "count": self.count,
            "active_count": self.active_count,
            "earliest_date": self.earliest,
            "latest_date": self.latest,
            "period": self.period,
            "clock": self.clock,
            "ambiguous": self.ambiguous,
            "reason": self.reason,
        }


@attrs.frozen(kw_only=True)
class ServiceCount:
    code: str
    count: int
    percentage: float
    known: bool

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.code, "count": self.count, "percentage": self.percentage,
                "known": self.known}


@attrs.frozen(kw_only=True)
class Analysis:
    schema: str
    hours_source: str
    total: int
    distinct_times: int
    distinct_services: int
    earliest_date: str | None
    latest_date: str | None
    statuses: dict[str, int]
    time_formats: list[TimeFormat]
    services: list[ServiceCount]
    #: Rows the parser would fill per outcome: MORNING / AFTERNOON / abstained.
    periods: dict[str, int]
    #: Rows per parser reason.
    reasons: dict[str, int]
    anomalies: dict[str, dict[str, Any]]
    #: Expanded databases only: rows with each new column still NULL.
    unfilled: dict[str, int] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "hours_source": self.hours_source,
            "totals": {
                "reservations": self.total,
                "distinct_time_formats": self.distinct_times,
                "distinct_services": self.distinct_services,
                "earliest_date": self.earliest_date,
                "latest_date": self.latest_date,
                "by_status": dict(self.statuses),
            },
            "periods": dict(self.periods),
            "reasons": dict(self.reasons),
            "time_formats": [t.to_dict() for t in self.time_formats],
            "services": [s.to_dict() for s in self.services],
            "anomalies": self.anomalies,
            "unfilled": self.unfilled,
        }


def _hours(conn: SqlConnection) -> tuple[list[ClinicTimeSlot], str]:
    if "clinic_time_slots" in conn.tables():
        return load_clinic_hours(conn), "clinic_time_slots"
    return list(DEFAULT_TIME_SLOTS), "default schedule (clinic_time_slots does not exist yet)"


def _time_formats(conn: SqlConnection, hours: list[ClinicTimeSlot]) -> list[TimeFormat]:
    rows = conn.execute(
        'SELECT "preferredTime", COUNT(*), '
        "SUM(CASE WHEN \"status\" IN ('PENDING', 'CONFIRMED', 'COMPLETED') THEN 1 ELSE 0 END), "
        'MIN("preferredDate"), MAX("preferredDate") '
        'FROM "reservations" GROUP BY "preferredTime" ORDER BY COUNT(*) DESC, "preferredTime"'
    )
    formats = []
    for text, count, active, earliest, latest in rows:
        parsed = parse_preferred_time("" if text is None else str(text), hours=hours)
        formats.append(
            TimeFormat(
                text="" if text is None else str(text),
                count=int(count),
                active_count=int(active or 0),
                earliest=iso_date(earliest),
                latest=iso_date(latest),
                period=None if parsed.period is None or parsed.ambiguous else parsed.period.value,
                clock=None if parsed.clock is None else parsed.clock.strftime("%H:%M"),
                ambiguous=parsed.ambiguous,
                reason=parsed.reason,
            )
        )
    return formats


def _services(conn: SqlConnection) -> list[ServiceCount]:
    known = set(LEGACY_SERVICE_CODES)
    if "services" in conn.tables():
        known = {str(r[0]) for r in conn.execute('SELECT "code" FROM "services"')}
    rows = conn.execute(
        'SELECT CAST("service" AS TEXT), COUNT(*) FROM "reservations" '
        'GROUP BY "service" ORDER BY COUNT(*) DESC, CAST("service" AS TEXT)'
    )
    total = sum(int(r[1]) for r in rows) or 1
    return [
        ServiceCount(code=str(code), count=int(n), percentage=round(int(n) * 100.0 / total, 2),
                     known=str(code) in known)
        for code, n in rows
    ]


def _sample_ids(conn: SqlConnection, where: str, params: tuple[Any, ...] = ()) -> dict[str, Any]:
    count = int(conn.scalar(f'SELECT COUNT(*) FROM "reservations" WHERE {where}', params) or 0)  # noqa: S608
    ids = [
        str(r[0])
        for r in conn.execute(
            f'SELECT "id" FROM "reservations" WHERE {where} ORDER BY "id" LIMIT {_SAMPLE_IDS}',  # noqa: S608
            params,
        )
    ] if count else []
    return {"count": count, "sample_ids": ids}


def _anomalies(
    conn: SqlConnection, services: list[ServiceCount], hours: list[ClinicTimeSlot], today: dt.date
) -> dict[str, dict[str, Any]]:
    anomalies: dict[str, dict[str, Any]] = {
        "empty_time": _sample_ids(
            conn, "\"preferredTime\" IS NULL OR TRIM(\"preferredTime\") = ''"
        ),
    }
    unknown = [s.code for s in services if not s.known]
    anomalies["unknown_service"] = {
        "count": sum(s.count for s in services if not s.known),
        "codes": unknown,
    }
    past = (today - PAST_LIMIT).isoformat()
    future = (today + FUTURE_LIMIT).isoformat()
    anomalies["date_out_of_range"] = {
        **_sample_ids(conn, '"preferredDate" < %s OR "preferredDate" > %s', (past, future)),
        "before": past,
        "after": future,
    }
    # Closed days are computed in Python from the distinct dates: weekday arithmetic is
    # engine-specific in SQL and there are only a few hundred distinct dates a year.
    open_days = {slot.day_of_week for slot in hours if slot.is_active}
    closed: Counter[str] = Counter()
    for day, n in conn.execute(
        'SELECT "preferredDate", COUNT(*) FROM "reservations" GROUP BY "preferredDate"'
    ):
        iso = iso_date(day)
        if iso is None:
            continue
        try:
            weekday = day_of_week(dt.date.fromisoformat(iso))
        except ValueError:
            closed["unreadable"] += int(n)
            continue
        if weekday not in open_days:
            closed[iso] += int(n)
    anomalies["closed_day"] = {
        "count": sum(closed.values()),
        "dates": dict(sorted(closed.items())[:_SAMPLE_IDS]),
    }
    return anomalies


def analyze(conn: SqlConnection, *, today: dt.date | None = None) -> Analysis:
    """Read-only analysis of the reservations table (legacy or expanded)."""
    today = today or dt.date.today()
    hours, hours_source = _hours(conn)
    formats = _time_formats(conn, hours)
    services = _services(conn)
    expanded = has_new_columns(conn)
    periods: Counter[str] = Counter({"MORNING": 0, "AFTERNOON": 0, "abstained": 0})
    reasons: Counter[str] = Counter()
    for fmt in formats:
        periods[fmt.period or "abstained"] += fmt.count
        reasons[fmt.reason] += fmt.count
    statuses = {
        str(status): int(n)
        for status, n in conn.execute(
            'SELECT CAST("status" AS TEXT), COUNT(*) FROM "reservations" '
            'GROUP BY "status" ORDER BY CAST("status" AS TEXT)'
        )
    }
    bounds = conn.execute('SELECT MIN("preferredDate"), MAX("preferredDate") FROM "reservations"')
    unfilled = None
    if expanded:
        sums = ", ".join(
            f'SUM(CASE WHEN "{c}" IS NULL THEN 1 ELSE 0 END)' for c in NEW_COLUMNS
        )
        row = conn.execute(f'SELECT {sums} FROM "reservations"')[0]  # noqa: S608
        unfilled = {c: int(v or 0) for c, v in zip(NEW_COLUMNS, row, strict=True)}
    return Analysis(
        schema="expanded" if expanded else "legacy",
        hours_source=hours_source,
        total=sum(f.count for f in formats),
        distinct_times=len(formats),
        distinct_services=len(services),
        earliest_date=iso_date(bounds[0][0]),
        latest_date=iso_date(bounds[0][1]),
        statuses=statuses,
        time_formats=formats,
        services=services,
        periods=dict(periods),
        reasons=dict(reasons.most_common()),
        anomalies=_anomalies(conn, services, hours, today),
        unfilled=unfilled,
    )
