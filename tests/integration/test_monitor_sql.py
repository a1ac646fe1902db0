"""The phase-3 monitor on SQLite and PostgreSQL, in every schema phase that matters:
legacy (no new columns: every row legacy, no gap), phase 1 with a writer of the old
columns only (its rows are gaps), phase 2 with every writer dual-writing (no gap), and
phase 4 (only the dynamic rule is left). The counts are the in-memory store's."""

from __future__ import annotations

import datetime as dt

from benchmarks._explain import StoreStatements
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.builders import TODAY, request
from tests.integration.store_helpers import build_sql_database, put
from tests.strategies.budget import examples
from tests.strategies.monitor import created_reservations

from slotcap import FixedClock, book, bootstrap
from slotcap.adapters.memory import MemoryStore
from slotcap.adapters.sql.monitoring import Monitoring
from slotcap.domain.model import Reservation
from slotcap.domain.rollout import Rollout
from slotcap.migration import migrate
from slotcap.ports import SchemaState, Store
from slotcap.sql import open_sql
from slotcap.sql.dialect import POSTGRES_RULES, SQLITE_RULES
from slotcap.usecases.monitor import rollout_monitor

OFF = Rollout()


def at(hour: int, minute: int = 0, ms: int = 0) -> dt.datetime:
    """An instant of the tests' "today" (UTC), when a row is created."""
    return dt.datetime(2025, 11, 28, hour, minute, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)


NOW = at(12, 10)
UNREADABLE = "10시나 3시"  # the parser will not choose: period stays empty


def booked(store: Store, *, dynamic: bool, when: dt.datetime, **fields: object) -> None:
    book(store, request(**fields), dynamic=dynamic, clock=FixedClock(when, day=TODAY))


def legacy_app_row(url: str, rid: str, when: dt.datetime) -> None:
    """What the application of before the migration inserts: the old columns only."""
    with open_sql(url) as conn:
        d = POSTGRES_RULES if conn.is_postgres else SQLITE_RULES
        ts = d.timestamp_in(when)
        conn.execute(
            'INSERT INTO "reservations" ("id", "patientName", "phone", "birthDate", "gender", '
            '"treatmentType", "preferredDate", "preferredTime", "service", "createdAt", '
            '"updatedAt") VALUES (%s, \'Test\', \'010-1234-5678\', %s, \'FEMALE\', '
            "'FIRST_VISIT', %s, '10:00', 'WRINKLE_BOTOX', %s, %s)",
            (rid, d.birth_date_in(dt.date(1990, 1, 1)), d.date_in(dt.date(2025, 12, 1)), ts, ts),
        )


def test_legacy_schema_every_row_is_legacy_and_none_is_a_gap(sql_url: str) -> None:
    build_sql_database(sql_url, SchemaState.LEGACY)
    with bootstrap(sql_url, env={}, clock=FixedClock(NOW, day=TODAY)) as app:
        booked(app.store, dynamic=False, when=at(10, 15))
        legacy_app_row(sql_url, "old-1", at(11, 20))
        legacy_app_row(sql_url, "before", at(10, ms=-1))  # 09:59:59.999: outside
        legacy_app_row(sql_url, "after", at(13))  # the window's end: outside
        report = rollout_monitor(app.store, rollout=OFF, now=NOW, hours=3)
        assert report.schema_state is SchemaState.LEGACY
        assert [(h.dynamic, h.legacy) for h in report.per_hour] == [(0, 1), (0, 1), (0, 0)]
        assert report.dual_write_gaps == 0 and report.healthy
        rolled = rollout_monitor(app.store, rollout=Rollout(percentage=10), now=NOW, hours=3)
        assert not rolled.healthy and "phase 1" in rolled.findings[0]


def test_phase1_with_a_legacy_writer_its_rows_are_gaps(sql_url: str) -> None:
    build_sql_database(sql_url, SchemaState.EXPANDED)
    with bootstrap(sql_url, env={}, clock=FixedClock(NOW, day=TODAY)) as app:
        booked(app.store, dynamic=True, when=at(10, 15))
        booked(app.store, dynamic=False, when=at(11, 20))  # "10:00": dual-written in full
        booked(app.store, dynamic=False, when=at(11, 40), preferred_time=UNREADABLE)
        legacy_app_row(sql_url, "old-1", at(12, 5))
        report = rollout_monitor(app.store, rollout=OFF, now=NOW, hours=3)
        assert [(h.dynamic, h.legacy) for h in report.per_hour] == [(1, 0), (1, 1), (0, 1)]
        assert (report.dual_write_gaps, report.gaps_period_only) == (2, 1)
        assert not report.healthy
        assert "1 without the new service columns" in report.findings[0]
        assert "1 without a period only" in report.findings[0]
        # A shorter window leaves the older rows out.
        one = rollout_monitor(app.store, rollout=OFF, now=NOW, hours=1)
        assert [(h.dynamic, h.legacy) for h in one.per_hour] == [(0, 1)]
        assert (one.dual_write_gaps, one.gaps_period_only) == (1, 0)


def test_phase2_every_writer_dual_writes_so_there_is_no_gap(sql_url: str) -> None:
    build_sql_database(sql_url, SchemaState.EXPANDED)
    assert migrate(sql_url, to="phase2").ok
    with bootstrap(sql_url, env={}, clock=FixedClock(NOW, day=TODAY)) as app:
        booked(app.store, dynamic=True, when=at(10, 15))
        booked(app.store, dynamic=False, when=at(11, 20))
        booked(app.store, dynamic=True, when=at(12, 1), period="AFTERNOON",
               preferred_time=None)
        report = rollout_monitor(app.store, rollout=Rollout(percentage=25), now=NOW, hours=3)
        assert [(h.dynamic, h.legacy) for h in report.per_hour] == [(1, 0), (1, 0), (1, 0)]
        assert report.dual_write_gaps == 0
        assert report.healthy, report.findings


def test_phase4_rows_are_dynamic_and_a_partial_rollout_is_a_finding(sql_url: str) -> None:
    build_sql_database(sql_url, SchemaState.CONTRACTED)
    with bootstrap(sql_url, env={}, clock=FixedClock(NOW, day=TODAY)) as app:
        booked(app.store, dynamic=True, when=at(12, 1))
        report = rollout_monitor(app.store, rollout=Rollout(enabled=True), now=NOW, hours=2)
        assert report.schema_state is SchemaState.CONTRACTED
        assert [(h.dynamic, h.legacy) for h in report.per_hour] == [(0, 0), (1, 0)]
        assert report.healthy
        partial = rollout_monitor(app.store, rollout=Rollout(percentage=50), now=NOW, hours=2)
        assert not partial.healthy and "50%" in partial.findings[0]


def test_after_phase4_the_range_reads_the_created_at_index(sql_url: str) -> None:
    build_sql_database(sql_url, SchemaState.CONTRACTED)
    with bootstrap(sql_url, env={}, clock=FixedClock(NOW, day=TODAY)) as app:
        store = app.store
        assert isinstance(store, Monitoring)
        sql, params = StoreStatements(store).created_per_hour(at(10), at(13))
        with store.sql_connection() as conn:
            if conn.is_postgres:
                # A few rows are cheaper to scan: ask whether the index CAN serve it.
                conn.raw.execute("SET enable_seqscan = off")
                plan = "\n".join(str(r[0]) for r in conn.raw.execute("EXPLAIN " + sql, params))
                conn.raw.execute("RESET enable_seqscan")
            else:
                plan = "\n".join(str(r) for r in conn.raw.execute(
                    "EXPLAIN QUERY PLAN " + sql, params))
        assert "reservations_createdAt_status_idx" in plan, plan


def test_the_sql_counts_are_the_memory_stores(sql_url: str) -> None:
    """Any rows, any window: both engines count exactly what the reference store counts
    (hour boundaries, shapes, gaps)."""
    build_sql_database(sql_url, SchemaState.EXPANDED)
    with bootstrap(sql_url, env={}, clock=FixedClock(NOW, day=TODAY)) as app:

        @settings(max_examples=examples(0.25), deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(rows=created_reservations(around=NOW, max_size=25),
               hours=st.integers(min_value=1, max_value=30))
        def same(rows: list[Reservation], hours: int) -> None:
            with open_sql(sql_url) as conn:
                conn.execute('DELETE FROM "reservations"')
            memory = MemoryStore()
            put(app.store, *rows)
            put(memory, *rows)
            until = NOW.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
            since = until - dt.timedelta(hours=hours)
            assert app.store.created_per_hour(since, until) == memory.created_per_hour(
                since, until)

        same()
