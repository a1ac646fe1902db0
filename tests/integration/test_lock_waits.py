"""Short, escalating lock waits on PostgreSQL (issue 15).

A session idle in transaction holds a lock on ``reservations`` while ``slotcap migrate
--to phase1`` starts. The migration's strong-lock request queues every app query
behind it, but only for one try's ``lock_timeout`` (100 ms growing to 500 ms): app
threads with long-lived stores never wait longer than that and see no error, and the
step completes once the reader ends. With a tiny retry budget the step stops cleanly
with ``MigrationLockTimeout`` naming the blocker, and a rerun completes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from benchmarks._live import AppTraffic, legacy_database, stats
from tests.e2e.cli_run import slotcap_process as slotcap

from slotcap.errors import MigrationLockTimeout
from slotcap.migration import migrate, status
from slotcap.migration.ddl import lock_policy as pg
from slotcap.migration.ddl.lock_policy import HoldLog, LockPolicy
from slotcap.sql import open_sql

pytestmark = [pytest.mark.postgres]

CAP = 0.5
SLACK = 0.35  # thread scheduling on a shared 2-core machine


@pytest.fixture
def legacy_pg(pg_url: str) -> str:
    legacy_database(pg_url, 2000)
    return pg_url


@contextmanager
def idle_reader(url: str, seconds: float) -> Iterator[int]:
    """A session that read ``reservations`` and then sat idle in its transaction
    (an open psql, a slow request) for ``seconds``; yields its pid."""
    conn = psycopg.connect(url, autocommit=False, application_name="slow report")
    conn.execute('SELECT count(*) FROM "reservations"')
    pid = conn.info.backend_pid
    timer = threading.Timer(seconds, conn.rollback)
    timer.start()
    try:
        yield pid
    finally:
        timer.join()
        conn.close()


def test_idle_reader_app_waits_at_most_one_try_and_step_completes(legacy_pg: str) -> None:
    holds = HoldLog()
    with AppTraffic(legacy_pg, threads=3) as app:
        time.sleep(0.5)
        with idle_reader(legacy_pg, 3.0):
            time.sleep(0.2)
            started = time.perf_counter()
            report = migrate(legacy_pg, to="phase1", on_hold=holds)
            ended = time.perf_counter()
        time.sleep(0.3)
        ops = app.snapshot()
    window = stats(ops, started, ended)
    assert report.reached.value == "phase1"
    # The step could not take its lock before the reader ended, then finished.
    assert ended - started >= 2.5
    assert window.operations > 50
    assert window.errors == {}, window.errors
    assert window.max_ms <= (CAP + SLACK) * 1000, window
    held = holds.holds()
    assert held and all(seconds < CAP + 1 for _what, seconds in held), held


def test_retry_budget_spent_stops_cleanly_naming_the_blocker(legacy_pg: str) -> None:
    policy = LockPolicy(start=0.1, cap=0.2, budget=1.0)
    with AppTraffic(legacy_pg, threads=2) as app, idle_reader(legacy_pg, 3.0) as pid:
        time.sleep(0.2)
        started = time.perf_counter()
        with pytest.raises(MigrationLockTimeout) as caught:
            migrate(legacy_pg, to="phase1", lock_policy=policy)
        ended = time.perf_counter()
        ops = app.snapshot()
    message = str(caught.value)
    assert caught.value.code == "migration_lock_timeout"
    assert f"pid {pid}" in message and "'slow report'" in message, message
    assert "idle in transaction" in message and "SELECT count(*)" in message, message
    assert "\n" not in message
    assert ended - started < 3.0  # gave up within its budget, not after the reader
    window = stats(ops, started, ended)
    assert window.errors == {}, window.errors
    assert window.max_ms <= (CAP + SLACK) * 1000, window
    # Resumable: status tells the truth, and the same command completes.
    where = status(legacy_pg)
    assert where.state in ("interrupted", "settled"), where.to_dict()
    if where.state == "settled":
        assert where.phase.value == "legacy"
    assert migrate(legacy_pg, to="phase1").reached.value == "phase1"
    assert status(legacy_pg).state == "settled"


def test_migration_session_behaves(legacy_pg: str) -> None:
    seen: dict[str, object] = {}

    def look() -> None:
        # While phase 1 runs, its session is visible by name, not idle in a transaction.
        with psycopg.connect(legacy_pg, autocommit=True) as other:
            for _ in range(200):
                rows = other.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name = 'slotcap migrate'").fetchone()
                if rows and rows[0]:
                    seen["named"] = True
                    return
                time.sleep(0.01)

    with idle_reader(legacy_pg, 1.0):
        watcher = threading.Thread(target=look)
        watcher.start()
        migrate(legacy_pg, to="phase1")
        watcher.join()
    assert seen.get("named") is True
    with open_sql(legacy_pg) as conn:
        pg.configure_session(conn)
        assert conn.scalar("SHOW application_name") == "slotcap migrate"
        assert conn.scalar("SHOW idle_in_transaction_session_timeout") == "1min"
        assert conn.scalar("SHOW statement_timeout") == "0"

        def inside(c: object) -> str:
            return str(conn.scalar("SHOW statement_timeout"))

        assert pg.locked(conn, inside, what="probe") == "30s"


@pytest.mark.subprocess  # the real process's exit code
def test_cli_options_and_exit_code_when_the_budget_is_spent(legacy_pg: str) -> None:
    with idle_reader(legacy_pg, 4.0) as pid:
        result = slotcap("migrate", "--database", legacy_pg, "--to", "phase1", "--quiet",
                         "--lock-timeout", "0.05", "--lock-timeout-max", "0.1",
                         "--lock-retry-budget", "0.8")
        after = slotcap("migrate", "status", "--database", legacy_pg)
    assert result.returncode == 1, result.stderr
    assert "migration_lock_timeout" in result.stderr and f"pid {pid}" in result.stderr
    assert after.returncode in (0, 1), after.stdout
    rerun = slotcap("migrate", "--database", legacy_pg, "--to", "phase1", "--quiet")
    assert rerun.returncode == 0, rerun.stderr
    bad = slotcap("migrate", "--database", legacy_pg, "--to", "phase1",
                  "--lock-timeout", "0.6", "--lock-timeout-max", "0.5")
    assert bad.returncode == 2 and "--lock-timeout" in bad.stderr
