"""Behind a real PgBouncer 1.18 in transaction mode (a private instance on a free loopback
port, two server connections shared by every client): a long-lived pooled store, a
booking race, `slotcap serve` under load, and migrations that refuse the pooled URL and
leave nothing on the pool when given the direct one.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from benchmarks._pooler import Pooler, pgbouncer_binary, running_pgbouncer
from tests.conftest import PG_URL, missing, postgres_database, require_postgres
from tests.e2e.cli_run import run
from tests.e2e.server_process import booking_body, monday_ahead, running_server
from tests.integration.store_helpers import build_sql_database

import slotcap
from slotcap.migration.engine.runlock import ADVISORY_KEY
from slotcap.ports import SchemaState
from slotcap.schema.legacy import create_legacy_schema
from slotcap.sql import open_sql

#: A private PgBouncer in front of the shared server, and real `slotcap` processes.
pytestmark = [pytest.mark.postgres, pytest.mark.subprocess]

POOL_SIZE = 2
DYNAMIC = {"USE_DYNAMIC_SERVICES": "true"}


@pytest.fixture(scope="module")
def pooler() -> Iterator[Pooler]:
    require_postgres()
    if pgbouncer_binary() is None:
        missing("PGBOUNCER TESTS", "pgbouncer is not installed (apt-get install pgbouncer)")
    with running_pgbouncer(PG_URL, pool_size=POOL_SIZE) as started:
        yield started


@pytest.fixture(scope="module")
def expanded() -> Iterator[str]:
    """A phase-1 database with the default catalogue, shared by the module's tests
    (each books its own dates)."""
    with postgres_database("pool") as url:
        build_sql_database(url, SchemaState.EXPANDED)
        yield url


def pooled_url(pooler: Pooler, direct: str, *, flag: bool = True) -> str:
    return pooler.url(direct.rpartition("/")[2], pooled_flag=flag)


def server_connections(pooler: Pooler) -> int:
    """Server connections PgBouncer holds for the test databases (SHOW SERVERS)."""
    with psycopg.connect(pooler.admin_url, autocommit=True) as admin:
        cur = admin.cursor()
        cur.execute("SHOW SERVERS")
        assert cur.description is not None
        names = [c.name for c in cur.description]
        return sum(1 for row in cur.fetchall()
                   if dict(zip(names, row, strict=False))["database"] != "pgbouncer")


def request(day: dt.date, period: str, phone: str, service: str = "WRINKLE_BOTOX"
            ) -> slotcap.BookingRequest:
    return slotcap.BookingRequest.from_mapping(
        booking_body(day, period=period, phone=phone, service=service))


def test_a_long_lived_pooled_store_answers_every_call(pooler: Pooler, expanded: str) -> None:
    """2,000 calls from 8 threads over 2 shared server connections: psycopg would
    prepare each statement on its 6th execution and the next transaction would land on
    the other server connection; a pooled store prepares nothing and keeps no session."""
    store = slotcap.open_store(pooled_url(pooler, expanded))
    errors: list[str] = []
    booked: Counter[str] = Counter()
    first = monday_ahead(20)

    def worker(n: int) -> None:
        for i in range(250):
            day = first + dt.timedelta(days=7 * (i % 10))
            try:
                match i % 5:
                    case 0:
                        slotcap.book(store, request(day, "AFTERNOON", f"010-{7000 + n}-{i:04d}"),
                                     dynamic=True)
                        booked["ok"] += 1
                    case 1:
                        slotcap.availability_calendar(store, day, day + dt.timedelta(days=6))
                    case 2:
                        store.list_services()
                    case _:
                        slotcap.check_availability(store, day, "SKIN_CARE", period="MORNING",
                                                   dynamic=True)
            except slotcap.ReservationFull:
                booked["full"] += 1
            except Exception as exc:  # every other error is what this test counts
                errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert booked["ok"] > 0 and booked["ok"] + booked["full"] == 8 * 50
        assert server_connections(pooler) <= POOL_SIZE  # the clients really shared them
    finally:
        store.close()


def race(store: slotcap.Store, day: dt.date, clients: int) -> Counter[str]:
    """``clients`` threads booking the same morning at once: their outcomes."""
    outcomes: Counter[str] = Counter()
    barrier = threading.Barrier(clients)
    lock = threading.Lock()

    def one(n: int) -> None:
        barrier.wait()
        try:
            slotcap.book(store, request(day, "MORNING", f"010-{5000 + n}-1111"), dynamic=True)
            outcome = "ok"
        except slotcap.ReservationFull:
            outcome = "full"
        except Exception as exc:  # counted: the assertion shows which
            outcome = type(exc).__name__
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=one, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_a_booking_race_through_the_pooler_never_overbooks(
    pooler: Pooler, expanded: str
) -> None:
    store = slotcap.open_store(pooled_url(pooler, expanded))
    try:
        for week in (30, 31, 32):
            day = monday_ahead(week)
            outcomes = race(store, day, 16)
            # 180 minutes, 40 each: exactly 4 of 16 fit, whatever the interleaving.
            assert outcomes == Counter({"ok": 4, "full": 12})
            (morning,) = [e for e in slotcap.availability_calendar(store, day, day)
                          if e.period is slotcap.Period.MORNING]
            assert (morning.booked, morning.capacity) == (160, 180)
    finally:
        store.close()


def test_a_pooler_the_url_does_not_mention_is_noticed(pooler: Pooler, expanded: str) -> None:
    """Without ?pgbouncer=true the store prepares its frequent statements; when the
    pooler moves it to a server connection that never saw them (RECONNECT closes the
    old ones), the statement is run again unprepared and the store prepares no more.
    The dynamic check's and the calendar's own statements (the lean ones,
    adapters/sql/wire.py) are prepared again where they went missing, and the checks
    keep answering throughout."""
    store = slotcap.open_store(pooled_url(pooler, expanded, flag=False))
    day = monday_ahead(40)
    try:
        assert not store.pooled  # type: ignore[attr-defined]
        for _ in range(8):  # psycopg prepares the count rule's statement from the 6th on
            slotcap.check_availability(store, day, "SKIN_CARE", period="MORNING", dynamic=True)
            slotcap.check_availability(store, day, "SKIN_CARE", dynamic=False)
        with psycopg.connect(pooler.admin_url, autocommit=True) as admin:
            admin.execute(f"RECONNECT {expanded.rpartition('/')[2]}")
        for _ in range(8):
            decision = slotcap.check_availability(store, day, "SKIN_CARE", period="MORNING",
                                                  dynamic=True)
            assert decision.allowed
            slotcap.check_availability(store, day, "SKIN_CARE", dynamic=False)
            assert len(slotcap.availability_calendar(store, day, day)) == 2
        assert store.pooled  # type: ignore[attr-defined]
    finally:
        store.close()


def test_the_lean_check_and_calendar_run_unnamed_behind_the_pooler(
    pooler: Pooler, expanded: str
) -> None:
    """A pooled store's lean reads (adapters/sql/wire.py) prepare nothing: unnamed
    statements, answering what a direct store answers."""
    pooled = slotcap.open_store(pooled_url(pooler, expanded))
    direct = slotcap.open_store(expanded)
    day = monday_ahead(41)
    try:
        slotcap.book(pooled, request(day, "MORNING", "010-4100-0001"), dynamic=True)
        for _ in range(8):
            for period in ("MORNING", "AFTERNOON"):
                assert slotcap.check_availability(pooled, day, "SKIN_CARE", period=period,
                                                  dynamic=True) == \
                    slotcap.check_availability(direct, day, "SKIN_CARE", period=period,
                                               dynamic=True)
            assert slotcap.availability_calendar(pooled, day, day + dt.timedelta(days=6)) \
                == slotcap.availability_calendar(direct, day, day + dt.timedelta(days=6))
        for sc in pooled._source.opened():  # type: ignore[attr-defined]
            assert not [name for name in vars(sc) if name.startswith("_slotcap_wire_")
                        and getattr(sc, name) is not None]
    finally:
        pooled.close()
        direct.close()


def test_serve_through_the_pooler_under_load(
    pooler: Pooler, expanded: str, tmp_path: Path
) -> None:
    """8 clients for 4 s against `slotcap serve --threads 8` whose URL goes through
    PgBouncer (2 server connections): no 5xx, and no period booked past capacity."""
    days = [monday_ahead(50 + w) for w in range(3)]
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    with running_server(pooled_url(pooler, expanded), tmp_path, env=DYNAMIC,
                        args=["--threads", "8"]) as server:
        stop = threading.Event()

        def client(n: int) -> None:
            i = 0
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                while not stop.is_set():
                    day = days[i % len(days)]
                    if i % 2:
                        reply = http.post("/api/public/reservations", json=booking_body(
                            day, period=("MORNING", "AFTERNOON")[i % 4 // 2],
                            phone=f"010-6{n:02d}{i % 100:02d}-{i:04d}"))
                    else:
                        reply = http.get("/api/public/reservations/availability",
                                         params={"date": day.isoformat(),
                                                 "service": "SKIN_CARE"})
                    with lock:
                        statuses[reply.status_code] += 1
                    i += 1

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        stop.wait(4.0)
        stop.set()
        for thread in threads:
            thread.join()
        assert "Traceback" not in server.stderr()
    assert sum(statuses.values()) > 100, statuses
    assert {s for s in statuses if s >= 500} == set(), statuses
    assert statuses[200] > 0
    with slotcap.open_store(expanded) as store:
        for day in days:
            for entry in slotcap.availability_calendar(store, day, day):
                assert entry.booked <= entry.capacity, entry


def test_migrate_refuses_the_pooled_url_and_leaves_nothing_on_the_pool(
    pooler: Pooler, capsys: pytest.CaptureFixture[str]
) -> None:
    with postgres_database("poolmig") as direct:
        name = direct.rpartition("/")[2]
        with open_sql(direct) as sql:
            create_legacy_schema(sql)
            # A default the app relies on, which a leaked migration session would undo.
            sql.execute(f'ALTER DATABASE "{name}" SET statement_timeout = \'30s\'')
        pooled = pooled_url(pooler, direct)
        raw = pooled_url(pooler, direct, flag=False)  # psycopg itself refuses pgbouncer=
        warm = [psycopg.connect(raw, autocommit=True, prepare_threshold=None)
                for _ in range(POOL_SIZE)]
        try:
            for conn in warm:  # server connections exist, for a leak to land on
                conn.execute("SELECT 1")

            code, _, err = run(capsys, "migrate", "--to", "phase1", "--database", pooled)
            assert code == 2 and len(err.strip().splitlines()) == 1, err
            assert "--direct-url" in err and "SLOTCAP_DIRECT_DATABASE_URL" in err
            with open_sql(direct) as sql:
                assert "services" not in sql.tables()  # nothing ran
            for argv in (["backfill"], ["validate"], ["review", "export", "--out", "r.csv"]):
                code, _, err = run(capsys, *argv, "--database", pooled)
                assert code == 2 and "--direct-url" in err, (argv, err)

            code, _, err = run(capsys, "migrate", "--to", "phase1", "--quiet",
                                 "--database", pooled, "--direct-url", direct)
            assert code == 0, err

            warm += [psycopg.connect(raw, autocommit=True, prepare_threshold=None)
                     for _ in range(3)]
            for conn in warm:
                row = conn.execute(
                    "SELECT current_setting('statement_timeout'), "
                    "current_setting('application_name'), "
                    "current_setting('idle_in_transaction_session_timeout')").fetchone()
                assert row is not None
                assert row[0] == "30s" and row[1] != "slotcap migrate" and row[2] == "0", row
            with psycopg.connect(PG_URL, autocommit=True) as admin:
                held = admin.execute(
                    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                    "WHERE l.locktype = 'advisory' AND d.datname = %s "
                    "AND ((l.classid::bigint << 32) | l.objid::bigint) = %s",
                    (name, ADVISORY_KEY)).fetchone()
                assert held == (0,)
            # The next run directly on PostgreSQL is not refused as busy.
            code, _, err = run(capsys, "migrate", "status", "--direct-url", direct)
            assert code == 0, err
            code, _, err = run(capsys, "backfill", "--quiet", "--direct-url", direct)
            assert code in (0, 1) and "migration_busy" not in err, err
        finally:
            for conn in warm:
                conn.close()


@pytest.fixture(scope="module")
def ledgered() -> Iterator[str]:
    """A phase-2 database (the ledger): bookings decided by one statement, sent as one
    pipeline (``slotcap.adapters.sql.wire_booking``)."""
    from slotcap.migration import migrate

    with postgres_database("pool2") as url:
        build_sql_database(url, SchemaState.EXPANDED)
        migrate(url, to="phase2")
        yield url


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    from slotcap.adapters.sql import pg_booking

    seen: Counter[str] = Counter()
    real = pg_booking.LazyBookingSession.one_trip

    def one_trip(self: pg_booking.LazyBookingSession, *args: object) -> object:
        seen["trips"] += 1
        return real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(pg_booking.LazyBookingSession, "one_trip", one_trip)
    return seen


def test_one_trip_bookings_through_the_pooler_prepare_nothing(
    pooler: Pooler, ledgered: str, trips: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pooled store's pipelines are unnamed statements only: 16 threads on one morning
    over 2 shared server connections book exactly what fits, week after week."""
    from slotcap.adapters.sql import wire_booking

    asked: Counter[bool] = Counter()
    real = wire_booking.run_pipeline

    def run_pipeline(*args: Any, prepare: bool, **kwargs: Any) -> Any:
        asked[prepare] += 1
        return real(*args, prepare=prepare, **kwargs)

    monkeypatch.setattr(wire_booking, "run_pipeline", run_pipeline)
    store = slotcap.open_store(pooled_url(pooler, ledgered))
    try:
        for week in (30, 31):
            outcomes = race(store, monday_ahead(week), 16)
            assert outcomes == Counter({"ok": 4, "full": 12})
        assert trips["trips"] >= 32
        assert asked[False] >= 32 and asked[True] == 0
    finally:
        store.close()


def test_a_pooler_the_url_does_not_mention_is_noticed_by_the_pipeline(
    pooler: Pooler, ledgered: str, trips: Counter[str]
) -> None:
    """Without ?pgbouncer=true the pipeline prepares its statements on the server
    connection it meets; on another one they are missing: the booking is sent again,
    unnamed, and the store prepares no more."""
    store = slotcap.open_store(pooled_url(pooler, ledgered, flag=False))
    day = monday_ahead(41)
    try:
        assert not store.pooled  # type: ignore[attr-defined]
        slotcap.book(store, request(day, "AFTERNOON", "010-6100-0000"), dynamic=True)
        with psycopg.connect(pooler.admin_url, autocommit=True) as admin:
            admin.execute(f"RECONNECT {ledgered.rpartition('/')[2]}")
        for n in range(1, 5):
            slotcap.book(store, request(day, "AFTERNOON", f"010-6100-{n:04d}"), dynamic=True)
        assert store.pooled  # type: ignore[attr-defined]
        assert trips["trips"] == 5
    finally:
        store.close()
