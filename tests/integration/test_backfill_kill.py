"""SIGKILL the real ``slotcap backfill`` process mid-run, twice, then let it finish:
the table and the journal must equal those of an uninterrupted run on a copy."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import PG_URL
from tests.pgdb import scratch_database

from slotcap.demo.data import generate_reservations, insert_reservations
from slotcap.migration import migrate
from slotcap.migration.backfill import run_backfill
from slotcap.schema.legacy import create_legacy_schema
from slotcap.sql import SqlConnection, open_sql

TODAY = dt.date(2025, 11, 1)


def seed(url: str, rows: int) -> None:
    with open_sql(url) as conn:
        create_legacy_schema(conn)
        insert_reservations(conn, list(generate_reservations(rows, seed=7, today=TODAY)))
    migrate(url, to="phase1")


def snapshot(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with open_sql(url) as conn:
        table = conn.execute(
            'SELECT "id", "service", "preferredTime", "status", "updatedAt", "serviceId", '
            '"serviceName", "estimatedDuration", CAST("period" AS TEXT) '
            'FROM "reservations" ORDER BY "id"'
        )
        journal = conn.execute(
            'SELECT "reservationId", "source" FROM "slotcap_backfill_journal" '
            'ORDER BY "reservationId"'
        )
    return table, journal


def progress_of(conn: SqlConnection) -> tuple[int, int]:
    """(journalled rows, rows with a serviceId): equal at every commit boundary."""
    row = conn.execute(
        'SELECT (SELECT COUNT(*) FROM "slotcap_backfill_journal"), '
        '(SELECT COUNT(*) FROM "reservations" WHERE "serviceId" IS NOT NULL)'
    )[0]
    return int(row[0]), int(row[1])


def start_backfill(
    url: str, batch_size: int, pause: float, workers: int = 1
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "slotcap.cli", "backfill", "--database", url,
         "--batch-size", str(batch_size), "--pause", str(pause), "--quiet",
         "--workers", str(workers)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def kill_when(url: str, proc: subprocess.Popen[bytes], at_least: int, total: int) -> int:
    """SIGKILL ``proc`` once ``at_least`` rows are committed; return the count then."""
    deadline = time.monotonic() + 60
    with open_sql(url) as watcher:
        while time.monotonic() < deadline:
            done, _ = progress_of(watcher)
            if done >= at_least:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
                done, filled = progress_of(watcher)
                # A batch is all or nothing: journal and data moved together.
                assert done == filled
                assert done < total, "the run finished before it could be killed"
                return done
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.005)
    proc.kill()
    raise AssertionError("backfill made no progress")


def kill_twice_then_finish(
    url: str, total: int, batch_size: int, pause: float, workers: int = 1
) -> None:
    first = kill_when(url, start_backfill(url, batch_size, pause, workers), total // 4, total)
    # Shorter pauses the second time: the kill more often lands inside a transaction.
    second = kill_when(url, start_backfill(url, batch_size, pause / 4, workers),
                       total * 3 // 5, total)
    assert 0 < first < second < total
    finished = start_backfill(url, batch_size, 0, workers)
    _, stderr = finished.communicate(timeout=120)
    # 1 = done, some rows await manual review (the demo data has unreadable times).
    assert finished.returncode in (0, 1), stderr.decode()


@pytest.mark.subprocess
def test_sigkill_and_rerun_equals_uninterrupted_sqlite(tmp_path: Path) -> None:
    total = 12_000
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    seed(url, total)
    with open_sql(url) as source, open_sql(reference) as copy:
        source.raw.backup(copy.raw)
    with open_sql(reference) as conn:
        run_backfill(conn, batch_size=100)
    kill_twice_then_finish(url, total, batch_size=100, pause=0.01)
    assert snapshot(url) == snapshot(reference)


@pytest.fixture
def pg_pair(pg_url: str) -> Iterator[tuple[str, str]]:
    """Two PostgreSQL databases, the second a template copy of the seeded first."""
    seed(pg_url, 4000)
    with scratch_database(PG_URL, "kill", template=pg_url) as copy:
        yield pg_url, copy


@pytest.mark.postgres
@pytest.mark.subprocess
def test_sigkill_and_rerun_equals_uninterrupted_postgres(pg_pair: tuple[str, str]) -> None:
    url, reference = pg_pair
    with open_sql(reference) as conn:
        run_backfill(conn, batch_size=50)
    # Killed runs use two parallel workers; the reference used one: same end state.
    kill_twice_then_finish(url, 4000, batch_size=50, pause=0.01, workers=2)
    killed, uninterrupted = snapshot(url), snapshot(reference)
    assert killed[0] == uninterrupted[0]
    assert killed[1] == uninterrupted[1]

