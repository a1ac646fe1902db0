"""The statements a SQL store runs, with their parameters, for EXPLAIN.

Built here, from the store adapter's public SQL builders (``build_statements``,
``created_per_hour_sql``) over the catalogue the store's own connection reads now —
the same shape the store builds its statements for — so that the production classes
carry no method that only the benchmarks and the plan tests use.
``StoreStatements(store)`` takes a SQL store (``SqliteStore`` or ``PostgresStore``);
its methods return ``(sql, params)`` in the driver's placeholder style, ready for
``EXPLAIN`` / ``EXPLAIN QUERY PLAN``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from slotcap.adapters.sql.monitoring import Monitoring, created_per_hour_sql
from slotcap.adapters.sql.statements import SchemaInfo, Statements, build_statements
from slotcap.domain.calendar import day_of_week
from slotcap.domain.clock import db_timestamp
from slotcap.domain.model import Period
from slotcap.sql.catalog import STORE_PARTS, read_catalog
from slotcap.sql.dialect import DialectRules

__all__ = ["StoreStatements"]

Statement = tuple[str, dict[str, Any]]


class StoreStatements:
    """The statements ``store`` runs for its schema as it stands now (the catalogue
    is read once, here, as the store's own reload reads it: ``SqlCore.introspect``);
    each method returns ``(sql, params)``, as cheap as the store's own."""

    def __init__(self, store: Monitoring) -> None:
        with store.sql_connection() as conn:
            schema = SchemaInfo.from_catalog(read_catalog(conn, parts=STORE_PARTS))
            self._d: DialectRules = conn.spec
        self._st: Statements = build_statements(self._d, schema)

    def _facts_params(self, day: dt.date, period: Period, code: str) -> dict[str, Any]:
        value = Period(period).value
        return {"day": self._d.date_in(day), "period": value, "slot_period": value,
                "code": code, "dow": day_of_week(day)}

    def period_facts(self, day: dt.date, period: Period, service_code: str) -> Statement:
        """What a check runs: the held minutes alone, which answer whenever every held
        row it counts has its ``estimatedDuration`` and ``period`` (the service and slot
        rows come from the store's catalogue snapshot). ``service_code`` is not a
        parameter of it."""
        return self._st.period_held, {"day": self._d.date_in(day),
                                      "period": Period(period).value}

    def period_facts_booking(self, day: dt.date, period: Period,
                             service_code: str) -> Statement:
        """What a booking runs first, under its locks: the same held minutes plus the
        service and slot rows, read fresh."""
        return self._st.period_facts, self._facts_params(day, period, service_code)

    def period_facts_fallback(self, day: dt.date, period: Period,
                              service_code: str) -> Statement:
        """The full rule, run second only when the first statement counted rows
        without a duration or a period (rows the backfill has not reached, or awaiting
        review)."""
        return self._st.period_facts_full, self._facts_params(day, period, service_code)

    def created_per_hour(self, since: dt.datetime, until: dt.datetime) -> Statement:
        """What ``store.created_per_hour(since, until)`` runs (the phase-3 monitor)."""
        d = self._d
        return d.native(created_per_hour_sql(d, self._st.schema)), {
            "since": d.timestamp_in(db_timestamp(since)),
            "until": d.timestamp_in(db_timestamp(until)),
        }
