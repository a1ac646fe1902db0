"""The one-trip booking's lean pipeline (``slotcap.adapters.sql.wire_booking``): what a
booking sends when one statement decides it, and what each failure leaves behind.

* The pipeline alone: rows per step; the first failed step raises psycopg's exception
  for it, the rest skipped (COMMIT included), the connection out of pipeline mode.
* Prepared once per connection, under this module's names; pooled: nothing named.
* A lock held elsewhere: ``StoreBusy`` within the budget, nothing written.
* The connection killed before the pipeline: healed and run again (nothing ran); lost
  after COMMIT was processed: ``BookingOutcomeUnknown``, never a second row.
* A shadow mismatch after a one-trip booking: written in its own one-pipeline
  transaction (``LazyBookingSession.write_alone``), its count with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import psycopg
import pytest
from psycopg import pq
from tests.builders import ON_TODAY
from tests.integration.store_helpers import MONDAY, build_sql_database, open_sql_store, request
from tests.integration.test_connection_healing import terminate_sessions

from slotcap.adapters.sql import SqlStore, pg_booking, wire_booking
from slotcap.errors import BookingOutcomeUnknown, StoreBusy
from slotcap.migration import migrate
from slotcap.sql import open_sql
from slotcap.usecases import book
from slotcap.usecases.shadow import shadow_report

pytestmark = pytest.mark.postgres


@pytest.fixture
def url(pg_url: str) -> str:
    build_sql_database(pg_url)
    migrate(pg_url, to="phase2")
    return pg_url


@pytest.fixture
def store(url: str) -> Iterator[SqlStore]:
    s = open_sql_store(url)
    yield s
    s.close()


def _book(store: SqlStore, n: int = 0, **fields: Any) -> Any:
    body = request(**{"period": "AFTERNOON", "preferred_time": None,
                      "patient_name": f"환자 {n}", "phone": f"010-4000-{n:04d}", **fields})
    return book(store, body, dynamic=True, clock=ON_TODAY)


def _rows(url: str) -> int:
    with open_sql(url) as conn:
        return int(conn.scalar('SELECT COUNT(*) FROM "reservations"') or 0)


def _trips(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = pg_booking.LazyBookingSession.one_trip

    def one_trip(self: Any, *args: Any) -> Any:
        calls.append(1)
        return real(self, *args)

    monkeypatch.setattr(pg_booking.LazyBookingSession, "one_trip", one_trip)
    return calls


def test_the_pipeline_stops_at_the_first_error(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        rows = wire_booking.run_pipeline(conn, [
            ("BEGIN", None), ("SELECT %(a)s::int + %(a)s::int, %(b)s::text", {"a": 2, "b": "x"}),
            ("SELECT %s::int", [7]), ("COMMIT", None)], prepare=True)
        assert rows == [None, [(4, "x")], [(7,)], None]
        assert conn.pgconn.transaction_status == pq.TransactionStatus.IDLE
        with pytest.raises(psycopg.errors.DivisionByZero):
            wire_booking.run_pipeline(conn, [
                ("BEGIN", None), ("SELECT 1 / %s::int", [0]),
                ("SELECT %s::int", [1]), ("COMMIT", None)], prepare=True)
        # COMMIT was skipped: the transaction is left aborted, for the caller to end.
        assert conn.pgconn.transaction_status == pq.TransactionStatus.INERROR
        assert conn.pgconn.pipeline_status == pq.PipelineStatus.OFF
        conn.rollback()
        assert conn.execute("SELECT 1").fetchall() == [(1,)]


def test_prepared_once_per_connection_and_never_when_pooled(url: str) -> None:
    def named(store: SqlStore) -> list[str]:
        with store._source.borrow() as sc:
            rows = sc.raw.execute("SELECT name FROM pg_prepared_statements").fetchall()
            sc.raw.commit()
        return [r[0] for r in rows if r[0].startswith("slotcap_w")]

    plain = open_sql_store(url)
    pooled = open_sql_store(url, pooled=True)
    try:
        for n in range(3):
            _book(plain, n)
        assert len(named(plain)) == 2  # the locks' statement and the deciding one
        for n in range(3, 6):
            _book(pooled, n)
        assert named(pooled) == []
    finally:
        plain.close()
        pooled.close()
    assert _rows(url) == 6


def test_a_held_lock_is_store_busy_and_nothing_is_written(url: str,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    trips = _trips(monkeypatch)
    store = open_sql_store(url, busy_budget=0.3, lock_timeout=0.05)
    keys = pg_booking_keys()
    try:
        with psycopg.connect(url, autocommit=True) as other, other.transaction():
            other.execute("SELECT pg_advisory_xact_lock(%s::bigint)", [keys[0]])
            with pytest.raises(StoreBusy):
                _book(store)
        assert trips
        assert _rows(url) == 0
        _book(store)  # the lock released: the same store books
        assert _rows(url) == 1
    finally:
        store.close()


def pg_booking_keys() -> list[int]:
    from slotcap.adapters.postgres import advisory_lock_keys
    from slotcap.domain.model import Period

    return advisory_lock_keys(MONDAY, "WRINKLE_BOTOX", [Period.AFTERNOON])


def test_a_connection_killed_before_the_pipeline_is_healed(url: str, store: SqlStore,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    trips = _trips(monkeypatch)
    _book(store, 1)
    assert terminate_sessions(url) >= 1
    _book(store, 2)  # nothing ran on the dead connection: run again on a new one
    assert len(trips) == 2
    assert _rows(url) == 2


def test_lost_after_commit_is_outcome_unknown(url: str, store: SqlStore,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _book(store, 1)
    real = wire_booking._read

    def lost_after(pgconn: Any) -> Any:
        real(pgconn)  # the server ran everything, COMMIT included
        raise psycopg.OperationalError("the connection to the server was lost")

    monkeypatch.setattr(wire_booking, "_read", lost_after)
    with pytest.raises(BookingOutcomeUnknown) as caught:
        _book(store, 2)
    assert "환자" not in str(caught.value) and "010-4000" not in str(caught.value)
    monkeypatch.undo()
    assert _rows(url) == 2  # saved once, and not run again
    _book(store, 3)  # the store's connection was replaced
    assert _rows(url) == 3


def test_a_mismatch_after_a_one_trip_booking_is_recorded(url: str, store: SqlStore,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    writes: list[int] = []
    real = pg_booking.LazyBookingSession.write_alone

    def write_alone(self: Any, steps: Any) -> None:
        writes.append(len(steps))
        real(self, steps)

    monkeypatch.setattr(pg_booking.LazyBookingSession, "write_alone", write_alone)
    limit = store.get_limit("SKIN_CARE")
    assert limit is not None
    store.save_limit(attrs.evolve(limit, daily_limit=1))
    # SKIN_CARE past its daily limit: the minutes rule books, the count rule would not.
    trips = _trips(monkeypatch)
    for n in range(2):
        _book(store, n, service="SKIN_CARE", period="MORNING")
    assert len(trips) == 2
    assert writes == [2]  # the counter and the mismatch, in one transaction
    store.shadow_buffer.flush()
    report = shadow_report(store, MONDAY, MONDAY)
    assert [(m.control, m.control_allowed, m.shadow_allowed, m.held_count, m.daily_limit)
            for m in report.mismatches] == [("dynamic", True, False, 1, 1)]
    assert report.by_kind == {("dynamic", "agree"): 1, ("dynamic", "control_only"): 1}
    assert store.shadow.failures == 0


def test_a_refused_row_is_a_one_line_error_without_patient_data(url: str, store: SqlStore
                                                                ) -> None:
    from slotcap.errors import SlotcapError

    body = request(period="AFTERNOON", preferred_time=None, patient_name="비밀환자",
                   phone="010-9999-8888")
    book(store, body, dynamic=True, clock=ON_TODAY, new_id=lambda: "same-id")
    other = request(period="AFTERNOON", preferred_time=None, patient_name="비밀환자둘",
                    phone="010-9999-7777")
    with pytest.raises(SlotcapError) as caught:
        book(store, other, dynamic=True, clock=ON_TODAY, new_id=lambda: "same-id")
    text = f"{caught.value} {caught.value!r}"
    assert "비밀" not in text and "9999" not in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert _rows(url) == 1
    _book(store, 5)  # the connection is usable again: the aborted transaction ended
    assert _rows(url) == 2
