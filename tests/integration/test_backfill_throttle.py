"""The backfill's throttle: a rate cap that holds, back-off when app sessions wait for
locks or batches are slow, gradual recovery, and a vacuumed table afterwards."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from benchmarks._live import legacy_database

from slotcap.migration import migrate
from slotcap.migration.backfill import run_backfill
from slotcap.migration.backfill_report import BackfillProgress
from slotcap.migration.engine.runlock import migration_lock
from slotcap.migration.throttle import Throttle
from slotcap.sql import open_sql

ROWS = 3000


@pytest.fixture
def phase1_pg(pg_url: str) -> str:
    legacy_database(pg_url, ROWS)
    migrate(pg_url, to="phase1")
    return pg_url


@pytest.mark.postgres
def test_max_rate_is_respected_and_the_table_is_vacuumed(phase1_pg: str) -> None:
    with open_sql(phase1_pg) as conn, migration_lock(conn):
        started = time.monotonic()
        report = run_backfill(conn, batch_size=250, max_rate=2000)
        seconds = time.monotonic() - started
        vacuumed = conn.scalar(
            "SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables "
            "WHERE relname = 'reservations'")
    assert report.rows_scanned == ROWS
    # 3,000 rows at <= 2,000 rows/s: at least ~1.4 s (the last batch needs no sleep).
    assert report.rows_scanned / seconds <= 2000 * 1.1, seconds
    assert seconds >= (ROWS - 250) / 2000 * 0.95
    assert vacuumed is True


@contextmanager
def app_waiting_for_a_lock(url: str) -> Iterator[None]:
    """Two app sessions: one holds a lock on a side table, the other waits for it."""
    with psycopg.connect(url, autocommit=True) as setup:
        setup.execute("CREATE TABLE side_table (x int)")
    holder = psycopg.connect(url, application_name="slotcap")
    holder.execute("LOCK TABLE side_table IN ACCESS EXCLUSIVE MODE")
    waiter = psycopg.connect(url, application_name="slotcap")
    blocked = threading.Thread(
        target=lambda: waiter.execute("LOCK TABLE side_table IN ACCESS EXCLUSIVE MODE"),
        daemon=True)
    blocked.start()
    time.sleep(0.3)
    try:
        yield
    finally:
        holder.rollback()
        blocked.join(timeout=10)
        waiter.rollback()
        holder.close()
        waiter.close()


@pytest.mark.postgres
def test_backs_off_while_app_sessions_wait_for_locks(phase1_pg: str) -> None:
    seen: list[BackfillProgress] = []
    with app_waiting_for_a_lock(phase1_pg), open_sql(phase1_pg) as conn, \
            migration_lock(conn):
        started = time.monotonic()
        run_backfill(conn, batch_size=300, progress=seen.append,
                     throttle=Throttle(pause=0.0, max_backoff=0.4))
        seconds = time.monotonic() - started
    reasons = {p.throttled for p in seen if p.throttled}
    assert any("waiting for locks" in r for r in reasons), reasons
    # Ten batches with pauses doubling from 50 ms to 0.4 s: far slower than flat out.
    assert seconds > 1.5


def test_backoff_doubles_on_slow_batches_and_recovers_gradually(tmp_path: Path) -> None:
    with open_sql(f"sqlite:///{tmp_path / 't.db'}") as conn:
        throttle = Throttle(pause=0.01, slow_batch=0.5)
        sleeps = [throttle.after_batch(conn, 100, 0.9) for _ in range(4)]
        assert sleeps == sorted(sleeps) and sleeps[-1] > 4 * sleeps[0]
        assert throttle.state()[1] == "batch took 0.90 s"
        calm = [throttle.after_batch(conn, 100, 0.01) for _ in range(30)]
        assert calm[0] < sleeps[-1] and calm[1] < calm[0]  # gradual, not at once
        assert calm[-1] == pytest.approx(0.01) and throttle.state()[1] is None
