"""The SQL stores' phase-3 monitor read: reservations created per hour by what their
writer filled in, and the dual-write gaps among them (``Store.created_per_hour``).

One grouped statement over a ``createdAt`` range: an index range scan where phase 4
built ``reservations_createdAt_status_idx``, a scan of the table before that (the plan
has no ``createdAt`` index until phase 4; docs/monitor.md says what that costs).
"""

# Composed from this package's own constant identifiers only (S608); the range is bound.
# ruff: noqa: S608

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Protocol, runtime_checkable

from slotcap.adapters.sql.part import SqlPart
from slotcap.adapters.sql.statements import SchemaInfo, Statements
from slotcap.adapters.sql.store import Params
from slotcap.domain.clock import db_timestamp
from slotcap.ports import CreatedCounts, CreatedHour
from slotcap.sql.connection import SqlConnection
from slotcap.sql.dialect import Dialect, DialectRules
from slotcap.sql.names import NEW_COLUMNS, RESERVATIONS_TABLE

__all__ = ["Monitoring", "SqlMonitoring", "created_per_hour_sql"]

#: The new columns that name the service (``period`` is the fourth).
_SERVICE_PART = tuple(c for c in NEW_COLUMNS if c != "period")


def _filled(columns: tuple[str, ...]) -> str:
    return " AND ".join(f'r."{c}" IS NOT NULL' for c in columns)


def created_per_hour_sql(d: DialectRules, schema: SchemaInfo) -> str:
    """The statement (pyformat) for ``schema``'s shape: per UTC hour of ``createdAt``
    in ``[%(since)s, %(until)s)``, the rows with every new column, the others, and the
    rows whose only empty new column is ``period``. Before phase 1 (the new columns
    are not all there) every row counts as legacy and none as a gap."""
    if schema.state.has_new_columns:
        complete = _filled(NEW_COLUMNS)
        period_only = f'{_filled(_SERVICE_PART)} AND r."period" IS NULL'
    else:
        complete = period_only = "1 = 0"
    if d.dialect is Dialect.POSTGRES:
        hour = "date_trunc('hour', r.\"createdAt\")"
    else:
        # ISO-8601 text ('…T…Z', as slotcap and the reference schema write it).
        hour = "strftime('%%Y-%%m-%%dT%%H:00:00', r.\"createdAt\")"
    return f"""
SELECT {hour} AS "hour",
  COUNT(CASE WHEN {complete} THEN 1 END),
  COUNT(CASE WHEN {complete} THEN NULL ELSE 1 END),
  COUNT(CASE WHEN {period_only} THEN 1 END)
FROM "{RESERVATIONS_TABLE}" r
WHERE r."createdAt" >= %(since)s AND r."createdAt" < %(until)s
GROUP BY {hour}
ORDER BY {hour}
"""


@runtime_checkable
class Monitoring(Protocol):
    """A store that lends its connections for the operator's reads (a SQL store)."""

    def sql_connection(self) -> contextlib.AbstractContextManager[SqlConnection]: ...

    def created_per_hour(self, since: dt.datetime, until: dt.datetime) -> CreatedCounts: ...


class SqlMonitoring(SqlPart):
    """``Store.created_per_hour``."""

    def _range(self, since: dt.datetime, until: dt.datetime) -> dict[str, object]:
        d = self._dialect
        return {
            "since": d.timestamp_in(db_timestamp(since)),
            "until": d.timestamp_in(db_timestamp(until)),
        }

    def created_per_hour(self, since: dt.datetime, until: dt.datetime) -> CreatedCounts:
        d = self._dialect
        params = self._range(since, until)

        def created_per_hour(st: Statements) -> tuple[str, Params]:
            return d.native(created_per_hour_sql(d, st.schema)), params

        st, rows = self._query_with(created_per_hour)
        hours = []
        period_only = 0
        for row in rows:
            start = d.timestamp_out(row[0])
            if start is None:  # a createdAt the engine could not read as a time
                continue
            hours.append(CreatedHour(
                hour=start.replace(tzinfo=dt.UTC), dynamic=int(row[1]), legacy=int(row[2]),
            ))
            period_only += int(row[3])
        gaps = sum(h.legacy for h in hours) if st.state.has_new_columns else 0
        return CreatedCounts(hours=tuple(hours), gaps=gaps, gaps_period_only=period_only)
