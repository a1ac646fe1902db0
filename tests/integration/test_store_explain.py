"""The availability aggregate at a realistic size: 200,000 reservations over a year,
about 5 % of each date still held (PENDING/CONFIRMED, a third of them legacy rows
without period or duration), after ANALYZE. Each of the store's period_facts statements
— the check's (held estimatedDuration summed, plus a count of the rows it cannot
answer: one probe of the date's held rows), the booking's (the same two probes with the
service and slot rows) and the full rule both fall back to when that count is not 0 —
must probe an index on (preferredDate, period) and never scan the table, with the
parameters bound (a custom plan) and as the generic plan a prepared statement may switch
to after five executions (psycopg prepares after five too). With phase 2's ledger (which
the store helpers' databases have) the check's and the booking's statements probe the
ledger's primary key instead and read no reservation."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from benchmarks._explain import StoreStatements
from tests.integration.store_helpers import build_sql_database

from slotcap.adapters.postgres import PostgresStore
from slotcap.domain.model import Period

pytestmark = pytest.mark.postgres

INDEX = "reservations_preferredDate_period_status_idx"
# Phase 2 also builds a partial covering index of the held rows on (preferredDate,
# period); the planner may prefer it for the same probes, which is just as good.
HELD_INDEXES = ("reservations_held_preferredDate_period_idx",)
# With phase 2's ledger the check's and the booking's statements are one primary-key
# probe of its (date, period) row instead (the full rule still probes the rows).
LEDGER_PK = "slotcap_ledger_periods_pkey"
PROBE_INDEXES = (INDEX, *HELD_INDEXES, LEDGER_PK)
ROWS = 200_000

# Day d of 2025 gets the rows g = d + 365 k; k % 60 picks status, period and completeness.
GENERATE = f"""
INSERT INTO "reservations" ("id", "patientName", "phone", "birthDate", "gender",
  "treatmentType", "preferredDate", "preferredTime", "status", "updatedAt", "service",
  "serviceId", "serviceName", "estimatedDuration", "period")
SELECT 'x' || g, '환자', '010-0000-0000', TIMESTAMP '1990-01-01', 'FEMALE', 'FOLLOW_UP',
  DATE '2025-01-01' + g % 365, CASE WHEN k % 2 = 0 THEN '10:00' ELSE '15:00' END,
  (CASE WHEN k % 60 IN (0, 2) THEN 'PENDING' WHEN k % 60 = 1 THEN 'CONFIRMED'
        WHEN k % 60 < 12 THEN 'CANCELLED' ELSE 'COMPLETED' END)::"ReservationStatus",
  TIMESTAMP '2025-01-01', 'SKIN_CARE',
  CASE WHEN k % 60 <> 2 THEN 'srv_skin_care' END,
  CASE WHEN k % 60 <> 2 THEN '피부케어' END,
  CASE WHEN k % 60 <> 2 THEN 70 END,
  (CASE WHEN k % 60 = 2 THEN NULL WHEN k % 2 = 0 THEN 'MORNING' ELSE 'AFTERNOON' END)::"Period"
FROM generate_series(0, {ROWS - 1}) AS g, LATERAL (SELECT g / 365 AS k) AS cycle
"""


def _assert_uses_index(plan: list[str], probes_wanted: int) -> None:
    text = "\n".join(plan)
    assert "Seq Scan on reservations" not in text, text
    # Every probe (the date's held rows; or period = P and period IS NULL) uses a
    # (preferredDate, period) index.
    probes = sum(any(i in line for i in PROBE_INDEXES) and "Scan" in line for line in plan)
    assert probes >= probes_wanted, text


def _as_prepared(sql: str) -> tuple[str, list[str]]:
    """psycopg's %(name)s → $n, for an explicit PREPARE."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return re.sub(r"%\((\w+)\)s", number, sql), names


def _check_plans(
    conn: Any, name: str, sql: str, params: dict[str, Any], probes: int = 2
) -> None:
    from psycopg import sql as pgsql

    custom = [r[0] for r in conn.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql, params)]
    print(f"\n{name}:\n" + "\n".join(custom))  # the plan lines quoted in docs/stores.md
    _assert_uses_index(custom, probes)

    text, names = _as_prepared(sql)
    conn.execute(f"PREPARE {name} AS {text}")
    conn.execute("SET plan_cache_mode = force_generic_plan")
    try:
        # Untyped literals, so EXECUTE casts each to its parameter's type (enums too).
        values = pgsql.SQL(", ").join(pgsql.Literal(params[n]) for n in names)
        explain = pgsql.SQL("EXPLAIN (COSTS OFF) EXECUTE {}({})").format(
            pgsql.Identifier(name), values
        )
        generic = [r[0] for r in conn.execute(explain)]
    finally:
        conn.execute("RESET plan_cache_mode")
    assert any("$" in line for line in generic), generic  # really the generic plan
    _assert_uses_index(generic, probes)


def test_period_facts_probes_the_period_index_at_200k_rows(pg_url: str) -> None:
    import psycopg

    build_sql_database(pg_url)
    store = PostgresStore.open(pg_url)
    day = dt.date(2025, 6, 2)
    try:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(GENERATE)
            conn.execute('ANALYZE "reservations"')
            statements = StoreStatements(store)
            fast, params = statements.period_facts(day, Period.MORNING, "SKIN_CARE")
            locked, full_params = statements.period_facts_booking(
                day, Period.MORNING, "SKIN_CARE"
            )
            full, fallback_params = statements.period_facts_fallback(
                day, Period.MORNING, "SKIN_CARE"
            )
            assert fallback_params == full_params
            assert len({fast, locked, full}) == 3
            _check_plans(conn, "period_facts", fast, params, probes=1)
            _check_plans(conn, "period_facts_booking", locked, full_params, probes=1)
            _check_plans(conn, "period_facts_full", full, full_params)
            (row,) = conn.execute(locked, full_params).fetchall()
            assert (row[0], row[1]) == (700, 10), row[:2]
            plans = "\n".join(r[0] for r in conn.execute("EXPLAIN " + fast, params))
            assert LEDGER_PK in plans and "reservations" not in plans, plans

            # This date has legacy rows without period: the common-case statement counts
            # them (its sum alone would be short), so the store falls back to the full rule.
            (row,) = conn.execute(fast, params).fetchall()
            assert (row[0], row[1]) == (700, 10), row[:2]

        facts = store.period_facts(day, Period.MORNING, "SKIN_CARE")
        # 10 held MORNING rows and 10 legacy rows without period: 20 x 70 minutes.
        assert facts.held_minutes == 1400

        # Once they have a period and a duration, the common-case statement answers alone.
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(
                'UPDATE "reservations" SET "period" = \'AFTERNOON\', "estimatedDuration" = 70 '
                'WHERE "preferredDate" = %s AND "period" IS NULL',
                [day],
            )
            (row,) = conn.execute(fast, params).fetchall()
            assert (row[0], row[1]) == (700, 0), row[:2]
        assert store.period_facts(day, Period.MORNING, "SKIN_CARE").held_minutes == 700
        assert store.period_facts(day, Period.AFTERNOON, "SKIN_CARE").held_minutes == 1400
    finally:
        store.close()
