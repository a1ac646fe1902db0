"""Phases under live traffic on PostgreSQL.

Phases 1 and 2 run under the *legacy* application's inserts; phase 4 and its rollback
under slotcap's own dual-writing booking path (``book(..., dynamic=True)``), which
follows the schema from one phase to the next without a restart.


A writer thread inserts rows exactly as the legacy application does, every couple of
milliseconds, while phase 1, the backfill and phase 2 run on a table pre-filled with
50,000 rows. Nothing may fail, nothing may be lost, and after the writer stops a
catch-up run must reach phase 2 with every row migrated. The figures are printed
(``pytest -s``) and attached to the test report.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

import pytest
from tests.integration.migration_helpers import LEGACY_INSERT

from slotcap import BookingRequest, ReservationFull, book, open_store
from slotcap.domain.clock import DayClock
from slotcap.migration import MigrationReport, Phase, migrate, rollback, status
from slotcap.schema.legacy import create_legacy_schema
from slotcap.sql import open_sql

#: The first day booked, and the day the test pretends it is (the booking window).
FIRST_DAY = dt.date(2027, 1, 4)

PREFILL = 50_000
_TIMES = ["09:00", "10:30", "14:00", "16:30", "9:00 AM", "3:00 PM", "오전 10시", "오후 3시"]


class LegacyWriter(threading.Thread):
    """The legacy app: autocommit INSERTs of old columns only, one every ``interval``."""

    def __init__(self, url: str, interval: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.interval = interval
        self.stop = threading.Event()
        self.inserted = 0
        self.failures: list[str] = []
        self.latencies: list[float] = []

    def run(self) -> None:
        with open_sql(self.url) as conn:
            n = 0
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    conn.execute(LEGACY_INSERT, (f"live_{n:07d}", "2025-12-15",
                                                 _TIMES[n % len(_TIMES)], "SKIN_CARE"))
                    self.inserted += 1
                except Exception as exc:  # every failure is a finding
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                self.latencies.append(time.perf_counter() - started)
                n += 1
                time.sleep(self.interval)


def _prefill(url: str) -> None:
    with open_sql(url) as conn:
        create_legacy_schema(conn)
        conn.execute(
            'INSERT INTO "reservations" ("id","patientName","phone","birthDate","gender",'
            '"treatmentType","preferredDate","preferredTime","service","updatedAt","status",'
            '"createdAt") '
            "SELECT 'pre_' || lpad(i::text, 7, '0'), 'Patient ' || i, '010-0000-0000', "
            "'1990-01-01', (ARRAY['MALE','FEMALE'])[1 + i %% 2]::\"Gender\", 'FIRST_VISIT', "
            "DATE '2025-01-01' + (i %% 365), (%s::text[])[1 + i %% 8], "
            # A history: created and last updated over the past year, not all just now.
            "(enum_range(NULL::\"ServiceType\"))[1 + i %% 6], "
            "LOCALTIMESTAMP - make_interval(mins => i * 10), "
            "(enum_range(NULL::\"ReservationStatus\"))[1 + i %% 5], "
            "LOCALTIMESTAMP - make_interval(mins => i * 10) "
            "FROM generate_series(1, %s) AS i",
            (_TIMES, PREFILL),
        )
        conn.execute('ANALYZE "reservations"')


@pytest.mark.postgres
@pytest.mark.slow
def test_phase1_backfill_phase2_under_live_legacy_inserts(
    pg_url: str, record_property: Callable[[str, object], None]
) -> None:
    _prefill(pg_url)
    writer = LegacyWriter(pg_url)
    writer.start()
    time.sleep(0.2)  # the writer is up before the first DDL
    try:
        t0 = time.perf_counter()
        p1 = migrate(pg_url, to="phase1")
        t1 = time.perf_counter()
        p2 = migrate(pg_url, to="phase2", batch_size=2000)
        t2 = time.perf_counter()
        time.sleep(0.2)  # a few more legacy rows after phase 2's run
    finally:
        writer.stop.set()
        writer.join(timeout=10)
    assert p1.ok
    # A legacy-only writer is still live, so phase 2 may honestly stay at phase 1
    # ("rows written without the new columns"); the catch-up run once it is gone must
    # reach phase 2. Either way nothing was lost and nobody waited.
    t3 = time.perf_counter()
    catch_up = migrate(pg_url, to="phase2")
    t4 = time.perf_counter()
    assert catch_up.ok, catch_up.message

    assert writer.failures == []
    with open_sql(pg_url) as conn:
        total = conn.scalar('SELECT count(*) FROM "reservations"')
        unmigrated = conn.scalar(
            'SELECT count(*) FROM "reservations" WHERE "serviceId" IS NULL OR "serviceName" '
            'IS NULL OR "estimatedDuration" IS NULL OR "period" IS NULL'
        )
        live_rows = conn.scalar(
            "SELECT count(*) FROM \"reservations\" WHERE \"id\" LIKE 'live_%%'"
        )
    assert live_rows == writer.inserted
    assert total == PREFILL + writer.inserted
    assert unmigrated == 0
    assert status(pg_url).phase is Phase.PHASE2

    max_latency_ms = round(max(writer.latencies) * 1000, 1)
    figures: dict[str, object] = {
        "prefilled_rows": PREFILL,
        "rows_inserted_during_migration": writer.inserted,
        "failed_inserts": len(writer.failures),
        "max_insert_latency_ms": max_latency_ms,
        "p99_insert_latency_ms": round(
            sorted(writer.latencies)[int(len(writer.latencies) * 0.99)] * 1000, 1
        ),
        "phase1_seconds": round(t1 - t0, 2),
        "backfill_and_phase2_seconds": round(t2 - t1, 2),
        "phase2_first_run_reached": p2.reached.value,
        "catch_up_seconds": round(t4 - t3, 2),
    }
    for key, value in figures.items():
        record_property(key, value)
    print("\nlive-traffic figures:", figures)
    # Every statement of phases 1-2 runs under lock_timeout 2s: no insert waits longer.
    assert max_latency_ms < 2000


class BookingWriter(threading.Thread):
    """The phase-3 application: slotcap's booking use case, minutes rule, one booking
    every ``interval`` on ever later weekdays (so capacity never runs out)."""

    def __init__(self, url: str, interval: float = 0.003) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.interval = interval
        self.stop = threading.Event()
        self.booked: list[str] = []
        self.full = 0
        self.failures: list[str] = []
        self.latencies: list[float] = []

    def _day(self, n: int) -> dt.date:
        # 4 x 40 minutes fit a 180-minute weekday morning; Monday 2027-01-04 onwards.
        weeks, weekday = divmod(n // 4, 5)
        return FIRST_DAY + dt.timedelta(days=weeks * 7 + weekday)

    def run(self) -> None:
        store = open_store(self.url)
        try:
            n = 0
            while not self.stop.is_set():
                request = BookingRequest(
                    patient_name=f"Live Booker {n}", phone="010-1234-5678",
                    birth_date="1990-01-01", gender="FEMALE", treatment_type="FIRST_VISIT",
                    service="WRINKLE_BOTOX", preferred_date=self._day(n).isoformat(),
                    preferred_time="10:00", period="MORNING",
                )
                started = time.perf_counter()
                try:
                    self.booked.append(book(store, request, dynamic=True,
                                             clock=DayClock(FIRST_DAY)).id)
                except ReservationFull:
                    self.full += 1
                except Exception as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                self.latencies.append(time.perf_counter() - started)
                n += 1
                time.sleep(self.interval)
        finally:
            store.close()


def _run_with_bookings(
    url: str, action: Callable[[], object], *, settle: float = 0.3
) -> tuple[BookingWriter, object, float]:
    writer = BookingWriter(url)
    writer.start()
    time.sleep(settle)  # bookings on the schema before
    try:
        started = time.perf_counter()
        result = action()
        seconds = time.perf_counter() - started
        time.sleep(settle)  # bookings on the schema after
    finally:
        writer.stop.set()
        writer.join(timeout=10)
    return writer, result, seconds


def _assert_complete(url: str, booked: int, *, legacy: bool) -> None:
    with open_sql(url) as conn:
        total = conn.scalar('SELECT count(*) FROM "reservations"')
        missing_new = conn.scalar(
            'SELECT count(*) FROM "reservations" WHERE "serviceId" IS NULL OR "period" IS NULL'
        )
        assert total == PREFILL + booked
        assert missing_new == 0
        if legacy:
            assert conn.scalar(
                'SELECT count(*) FROM "reservations" WHERE "service" IS NULL '
                'OR "preferredTime" IS NULL'
            ) == 0
        from slotcap.migration import validate

        report = validate(conn)
        assert report.passed, report.summary()


def _figures(writer: BookingWriter, seconds: float, label: str) -> dict[str, object]:
    return {
        "prefilled_rows": PREFILL,
        "bookings_during_run": len(writer.booked),
        "refused_full": writer.full,
        "failed_bookings": len(writer.failures),
        "max_booking_latency_ms": round(max(writer.latencies) * 1000, 1),
        f"{label}_seconds": round(seconds, 2),
    }


@pytest.mark.postgres
@pytest.mark.slow
def test_phase4_under_live_dual_writes(
    pg_url: str, record_property: Callable[[str, object], None]
) -> None:
    _prefill(pg_url)
    assert migrate(pg_url, to="phase2", batch_size=5000).ok
    writer, report, seconds = _run_with_bookings(
        pg_url, lambda: migrate(pg_url, to="phase4", confirm=True)
    )
    assert isinstance(report, MigrationReport) and report.ok, report
    assert writer.failures == []
    _assert_complete(pg_url, len(writer.booked), legacy=False)
    figures = _figures(writer, seconds, "phase4")
    figures["contract_transaction_ms"] = round(
        1000 * float(report.steps[-1].detail.get("contract_transaction_seconds", 0.0)), 1
    )
    for key, value in figures.items():
        record_property(key, value)
    print("\nphase-4 live figures:", figures)


@pytest.mark.postgres
@pytest.mark.slow
def test_rollback_of_phase4_under_live_writes(
    pg_url: str, record_property: Callable[[str, object], None]
) -> None:
    _prefill(pg_url)
    assert migrate(pg_url, to="phase2", batch_size=5000).ok
    assert migrate(pg_url, to="phase4", confirm=True).ok
    writer, report, seconds = _run_with_bookings(pg_url, lambda: rollback(pg_url, to="phase2"))
    assert isinstance(report, MigrationReport) and report.reached is Phase.PHASE2
    # No row lost, none left without its legacy values, validation green — even for
    # rows the contracted application inserted while the rollback ran.
    _assert_complete(pg_url, len(writer.booked), legacy=True)
    figures = _figures(writer, seconds, "rollback_phase4")
    for key, value in figures.items():
        record_property(key, value)
    print("\nphase-4 rollback live figures:", figures, writer.failures[:1])
    # Bookings carry their legacy values even on the contracted schema, so a store that
    # re-reads the schema mid-booking (legacy columns back) can retry the insert whole.
    assert not writer.failures, writer.failures[:3]
