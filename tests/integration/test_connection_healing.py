"""A long-lived PostgreSQL store whose connections die under it (an administrator's
``pg_terminate_backend``, what a restart or a failover does to every session): each
thread's next call succeeds on a new connection, the dead ones are closed, and a
connection that cannot be made is ``StoreUnavailable`` — never a raw driver error."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from tests.conftest import PG_URL, postgres_database
from tests.e2e.server_process import booking_body, monday_ahead
from tests.integration.store_helpers import build_sql_database

import slotcap
from slotcap.adapters.postgres import PostgresStore
from slotcap.adapters.sql.connections import ThreadLocalConnections
from slotcap.adapters.sql.pg_pool import PoolConnections
from slotcap.errors import StoreUnavailable
from slotcap.ports import SchemaState
from slotcap.sql import open_sql

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


def test_a_replaced_connection_is_closed_at_once_and_let_go(expanded: str) -> None:
    """The fault as a restart makes it: this thread's backend terminated from another
    connection. The next call replaces the connection; the dead one is closed then (not
    when the store closes) and nothing keeps it: no cursor cache, no list of the opened."""
    store = slotcap.open_store(expanded)
    assert isinstance(store, PostgresStore)
    source = store._source
    assert isinstance(source, ThreadLocalConnections)
    day = monday_ahead(14)

    def check() -> None:
        slotcap.check_availability(store, day, "SKIN_CARE", period="MORNING", dynamic=True)

    try:
        check()
        (old,) = source.opened()
        gone = weakref.ref(old.raw)
        assert terminate_sessions(expanded) >= 1
        check()  # heals: a new connection, the same answer
        (new,) = source.opened()
        assert new is not old and not new.raw.closed
        assert old.raw.closed and source.replaced == 1
        del old
        gc.collect()
        assert gone() is None, gc.get_referrers(gone())
    finally:
        store.close()
    assert new.raw.closed


def test_the_reused_cursor_belongs_to_its_connection(expanded: str) -> None:
    """``run`` reuses one cursor per connection, closed with it; a closed connection is
    held by nothing of slotcap's (the cache dies with its connection)."""

    def use_and_close() -> weakref.ref[Any]:
        conn = open_sql(expanded)
        made: list[Any] = []
        cursor = conn.raw.cursor

        def counting(*args: Any, **kwargs: Any) -> Any:
            made.append(cur := cursor(*args, **kwargs))
            return cur

        conn.raw.cursor = counting
        assert [conn.run("SELECT %s", (n,)) for n in range(3)] == [[(0,)], [(1,)], [(2,)]]
        assert len(made) == 1
        del conn.raw.cursor  # the instance's own again: no cycle through this frame
        conn.close()
        assert made[0].closed
        return weakref.ref(conn.raw)

    raw = use_and_close()
    gc.collect()
    assert raw() is None


def test_a_pool_connection_carries_its_wrapper_from_borrow_to_borrow(expanded: str) -> None:
    """A pool lends the same connection again: the store finds its wrapper (and cursor)
    on it; once the pool has let the connection go, nothing of slotcap's holds it."""

    def borrow_twice() -> weakref.ref[Any]:
        raw = psycopg.connect(expanded, autocommit=True)

        class OnePool:
            @contextlib.contextmanager
            def connection(self) -> Iterator[Any]:
                yield raw

        source = PoolConnections(OnePool(), lambda: False)
        with source.borrow() as first:
            assert first.run("SELECT 1") == [(1,)]
        with source.borrow() as second:
            assert second.run("SELECT 2") == [(2,)]
        assert first is second
        raw.close()
        return weakref.ref(raw)

    raw = borrow_twice()
    gc.collect()
    assert raw() is None
