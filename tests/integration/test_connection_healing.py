"""A long-lived PostgreSQL store whose connections die under it (an administrator's
``pg_terminate_backend``, what a restart or a failover does to every session): each
thread's next call succeeds on a new connection, the dead ones are closed, and a
connection that cannot be made is ``StoreUnavailable`` — never a raw driver error."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from tests.conftest import PG_URL, postgres_database
from tests.e2e.server_process import booking_body, monday_ahead
from tests.integration.store_helpers import build_sql_database

import slotcap
from slotcap.adapters.postgres import PostgresStore
from slotcap.adapters.sql.connections import ThreadLocalConnections
from slotcap.errors import StoreUnavailable
from slotcap.ports import SchemaState

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def expanded() -> Iterator[str]:
    with postgres_database("heal") as url:
        build_sql_database(url, SchemaState.EXPANDED)
        yield url


def terminate_sessions(url: str) -> int:
    """Every session on ``url``'s database ended by the server, as a shutdown does."""
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()", (url.rpartition("/")[2],)
        ).fetchall()
    return len(rows)


def in_threads(pool: ThreadPoolExecutor, count: int, work: Callable[[int], object]
               ) -> Counter[str]:
    """``work`` once on each of the pool's ``count`` threads (a barrier holds every task
    until all have started, so no thread takes two): the outcomes."""
    barrier = threading.Barrier(count)

    def one(n: int) -> str:
        barrier.wait()
        try:
            work(n)
        except slotcap.ReservationFull:
            return "full"
        except Exception as exc:  # counted: the assertion names it
            return f"{type(exc).__name__}: {exc}"
        return "ok"

    return Counter(pool.map(one, range(count)))


def test_every_thread_heals_after_its_connection_was_terminated(expanded: str) -> None:
    store = slotcap.open_store(expanded)
    assert isinstance(store, PostgresStore)
    source = store._source
    assert isinstance(source, ThreadLocalConnections)
    day = monday_ahead(12)
    threads = 8
    # Reads, bookings and writes: every kind of session finds its connection dead once.
    work = [
        lambda n: slotcap.check_availability(store, day, "SKIN_CARE", period="MORNING",
                                             dynamic=True),
        lambda n: slotcap.book(store, slotcap.BookingRequest.from_mapping(booking_body(
            day + dt.timedelta(days=7 * (n % 4)), period="AFTERNOON", service="SKIN_CARE",
            phone=f"010-{3000 + n}-{len(opened):04d}")), dynamic=True),
        lambda n: store.save_service(store.get_service("SKIN_CARE")),  # type: ignore[arg-type]
    ]
    opened: list[object] = []
    # The same threads all along, as a server's workers: each keeps its connection.
    with ThreadPoolExecutor(max_workers=threads) as pool:
        try:
            for round_, kind in enumerate(work):
                assert set(in_threads(pool, threads, kind)) <= {"ok", "full"}
                opened.append(round_)
                before = list(source.opened())
                replaced = source.replaced
                assert terminate_sessions(expanded) >= threads
                outcomes = in_threads(pool, threads, kind)
                assert set(outcomes) <= {"ok", "full"}, outcomes
                # Every worker's dead connection was replaced, closed and forgotten.
                assert source.replaced - replaced >= threads
                now = source.opened()
                assert all(conn.raw.closed for conn in before if conn not in now)
                assert len(now) <= threads + 1
        finally:
            store.close()
    assert all(conn.raw.closed for conn in source.opened() + before)


def test_a_connection_that_cannot_be_made_is_store_unavailable(expanded: str) -> None:
    store = slotcap.open_store(expanded)
    name = expanded.rpartition("/")[2]
    day = monday_ahead(13)
    try:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            try:
                terminate_sessions(expanded)
                with pytest.raises(StoreUnavailable) as refused:
                    slotcap.check_availability(store, day, "SKIN_CARE", period="MORNING",
                                               dynamic=True)
                assert refused.value.code == "store_unavailable"
                with pytest.raises(StoreUnavailable):
                    slotcap.book(store, slotcap.BookingRequest.from_mapping(
                        booking_body(day, period="MORNING")), dynamic=True)
            finally:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        decision = slotcap.check_availability(store, day, "SKIN_CARE", period="MORNING",
                                              dynamic=True)
        assert decision.allowed  # and back, without a restart
    finally:
        store.close()
