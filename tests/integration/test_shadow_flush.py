"""The shadow's batched counts on the SQL stores (#21, the shadow's cost): with many
threads booking — and the flusher writing batches while they do — the report read by
another store after ``close()`` counts exactly the bookings decided, and one stored
mismatch per mismatch counted. SQLite and PostgreSQL at phase 1 (the careful path), and
PostgreSQL with phase 2's ledger (the one-statement path), where a shadowed booking
opens no second locked transaction."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import threading
from typing import Any

import attrs
import pytest
from tests.builders import MONDAY, ON_TODAY, request
from tests.integration.store_helpers import build_sql_database, open_sql_store

from slotcap.adapters.sql import SqlStore, pg_booking
from slotcap.domain.defaults import DEFAULT_DAILY_LIMITS
from slotcap.errors import ReservationFull
from slotcap.migration import migrate
from slotcap.usecases import book
from slotcap.usecases.shadow import shadow_report

THREADS = 8
DAYS = [MONDAY + dt.timedelta(days=n) for n in range(3)]


def _clinic(url: str) -> SqlStore:
    store = open_sql_store(url)
    for limit in DEFAULT_DAILY_LIMITS:  # the count rule's limits
        store.save_limit(limit)
    return store


def _eager(store: SqlStore) -> SqlStore:
    """Flush often, so batches are written while the bookings run."""
    store.shadow_buffer.size = 5
    store.shadow_buffer.interval = 0.01
    return store


def _one(store: SqlStore, i: int) -> bool:
    day = DAYS[i % len(DAYS)].isoformat()
    service = "SKIN_CARE" if i % 4 == 0 else "WRINKLE_BOTOX"
    if i % 2:
        body = request(period=None, preferred_time="10:00", preferred_date=day,
                       service=service)
    else:
        body = request(preferred_date=day, service=service)
    try:
        book(store, body, dynamic=i % 2 == 0, clock=ON_TODAY)
    except ReservationFull:
        return False
    return True


def _counted(url: str, bookings: int) -> None:
    with open_sql_store(url) as reader:  # another process's view: the tables
        report = shadow_report(reader, DAYS[0], DAYS[-1])
    assert report.decisions == bookings
    assert report.not_shadowable == 0
    mismatched = sum(n for (_, kind), n in report.by_kind.items() if kind != "agree")
    assert len(report.mismatches) == mismatched
    assert 0 < mismatched < bookings  # both kinds of counts: buffered and written


def test_many_threads_counted_exactly_after_close(phase1_url: str) -> None:
    bookings = 90
    store = _eager(_clinic(phase1_url))
    try:
        with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
            allowed = sum(pool.map(lambda i: _one(store, i), range(bookings)))
        assert 0 < allowed < bookings  # some refused: both kinds of decision
        assert store.shadow.failures == 0
    finally:
        store.close()
    _counted(phase1_url, bookings)


def test_flush_shadow_without_close(phase1_url: str) -> None:
    with _clinic(phase1_url) as store:
        store.shadow_buffer.interval = 3600  # only the explicit flush
        for i in range(12):
            _one(store, i)
        assert store.shadow_buffer.waiting > 0
        assert store.flush_shadow() > 0
        assert store.shadow_buffer.waiting == 0
        _counted(phase1_url, 12)


@pytest.mark.postgres
def test_one_statement_bookings_open_no_second_transaction(
    pg_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    build_sql_database(pg_url)
    assert migrate(pg_url, to="phase2").ok
    careful, trips, lock = [0], [0], threading.Lock()
    one_trip, begun = pg_booking.LazyBookingSession.one_trip, pg_booking.LazyBookingSession._begun

    def counted_trip(self: Any, *args: Any) -> Any:
        with lock:
            trips[0] += 1
        return one_trip(self, *args)

    def counted_begin(self: Any) -> Any:
        if self.inner is None:
            with lock:
                careful[0] += 1
        return begun(self)

    monkeypatch.setattr(pg_booking.LazyBookingSession, "one_trip", counted_trip)
    monkeypatch.setattr(pg_booking.LazyBookingSession, "_begun", counted_begin)
    bookings = 40
    store = _eager(open_sql_store(pg_url))
    try:
        limit = store.get_limit("WRINKLE_BOTOX")
        assert limit is not None
        store.save_limit(attrs.evolve(limit, daily_limit=3))  # mismatches past 3

        def one(_: int) -> bool:
            body = request(period="AFTERNOON", preferred_time=None)
            try:
                book(store, body, dynamic=True, clock=ON_TODAY)
            except ReservationFull:
                return False
            return True

        with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
            allowed = sum(pool.map(one, range(bookings)))
        # 40 + 10 minutes in a 240-minute afternoon: 6 fit; the count rule allows 3.
        assert allowed == 6
        assert (trips[0], careful[0]) == (bookings, 0)
        assert store.shadow.failures == 0
    finally:
        store.close()
    with open_sql_store(pg_url) as reader:
        report = shadow_report(reader, MONDAY, MONDAY)
    assert report.by_kind == {("dynamic", "agree"): bookings - 3,
                              ("dynamic", "control_only"): 3}
    assert sorted(m.held_count or 0 for m in report.mismatches) == [3, 4, 5]


def test_a_buffer_that_fails_never_fails_the_committed_booking(
    phase1_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from slotcap.adapters.sql.shadow_buffer import ShadowBuffer

    def broken(self: ShadowBuffer, keys: object) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(ShadowBuffer, "add", broken)
    with _clinic(phase1_url) as store:
        made = book(store, request(), dynamic=True, clock=ON_TODAY)
        assert store.get_reservation(made.id) is not None
        assert store.shadow.failures == 1


def test_a_flush_of_many_keys_goes_in_several_statements(phase1_url: str) -> None:
    with _clinic(phase1_url) as store:
        store.shadow_buffer.interval = 3600
        days = [MONDAY + dt.timedelta(days=n) for n in range(200)]
        store.shadow_buffer.add([(day, code, "legacy", "agree")
                                 for day in days for code in ("SKIN_CARE", "BODY_CARE")])
        store.shadow_buffer.add([(days[0], "SKIN_CARE", "legacy", "agree")])
        assert store.flush_shadow() == 401
        report = shadow_report(store, days[0], days[-1])
        assert report.by_kind == {("legacy", "agree"): 401}
        assert store.shadow.failures == 0
