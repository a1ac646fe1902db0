"""Idempotency-Key records and the duplicate rule on the SQL stores: a database made
from exactly the reference legacy DDL gets its keys table on first use, the keys hold
across phase 1 and its rollback (``migrate status`` names the table, Prisma's drift
expects it), expired keys are replaced and purged, and threads racing one key with
different requests (different locks) make one booking on the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from tests.builders import MONDAY, ON_TODAY, TODAY, request
from tests.integration.store_helpers import build_sql_database

import slotcap
from slotcap.domain.clock import FixedClock
from slotcap.domain.defaults import DEFAULT_DAILY_LIMITS
from slotcap.errors import DuplicateBooking, IdempotencyInProgress, IdempotencyKeyReused
from slotcap.migration import migrate, rollback, snapshot, status
from slotcap.migration.ddl.names import IDEMPOTENCY_KEYS
from slotcap.ports import SchemaState
from slotcap.sql import open_sql
from slotcap.usecases import book, book_once


def _count(url: str, table: str = "reservations") -> int:
    with open_sql(url) as conn:
        return int(conn.scalar(f'SELECT COUNT(*) FROM "{table}"') or 0)


def test_keys_work_from_the_legacy_schema_through_the_phases_and_back(legacy_url: str) -> None:
    with slotcap.open_store(legacy_url) as store:
        for limit in DEFAULT_DAILY_LIMITS:
            store.save_limit(limit)
        # The server's purge at start-up finds no table and makes none.
        assert store.purge_idempotency_keys(dt.datetime(2100, 1, 1)) == 0
        assert IDEMPOTENCY_KEYS not in snapshot_tables(legacy_url)
        book(store, request(period=None), dynamic=False, clock=ON_TODAY)  # no key: no table
        assert IDEMPOTENCY_KEYS not in snapshot_tables(legacy_url)
        wanted = request(period=None)
        first = book_once(store, wanted, dynamic=False, clock=ON_TODAY, idempotency_key="k-1")
        assert first.reservation is not None and not first.replayed
    assert IDEMPOTENCY_KEYS in snapshot_tables(legacy_url)
    assert migrate(legacy_url, to="phase1").ok
    assert status(legacy_url).kept_tables == (IDEMPOTENCY_KEYS,)
    with slotcap.open_store(legacy_url) as store:
        again = book_once(store, wanted, dynamic=True, clock=ON_TODAY, idempotency_key="k-1")
        assert again.replayed and again.reservation is not None
        assert again.reservation.id == first.reservation.id
        # The first answer's rule, whatever this call's: the legacy path answered it.
        assert again.dynamic is False
    if legacy_url.startswith("postgresql"):
        from slotcap.migration.prisma import schema_for
        from slotcap.migration.prisma.drift import compare

        report = migrate(legacy_url, to="phase2")
        assert report.ok, report.message
        with open_sql(legacy_url) as conn:
            drift = compare(snapshot(conn), schema_for("phase2"))
        assert drift.unexpected == () and drift.absent == ()
        assert IDEMPOTENCY_KEYS in {i.table for i in drift.unmodelled}
    assert rollback(legacy_url, to="legacy").ok
    assert IDEMPOTENCY_KEYS in snapshot_tables(legacy_url)
    with slotcap.open_store(legacy_url) as store:
        replay = book_once(store, wanted, dynamic=False, clock=ON_TODAY, idempotency_key="k-1")
        assert replay.replayed and replay.reservation is not None
        assert replay.reservation.id == first.reservation.id
        with pytest.raises(DuplicateBooking):
            book(store, wanted, dynamic=False, clock=ON_TODAY)
    assert _count(legacy_url) == 2


def snapshot_tables(url: str) -> set[str]:
    with open_sql(url) as conn:
        return set(conn.tables())


def test_expired_keys_are_replaced_and_purged(sql_url: str) -> None:
    build_sql_database(sql_url, SchemaState.EXPANDED)
    start = dt.datetime(2025, 11, 28, 9, 0, tzinfo=dt.UTC)
    with slotcap.open_store(sql_url) as store:
        book(store, request(), dynamic=True, clock=FixedClock(start, day=TODAY),
             idempotency_key="old")
        later = FixedClock(start + dt.timedelta(hours=25), day=TODAY)
        # Past its 24 hours the key is free again: another request books under it.
        fresh = book_once(store, request(period="AFTERNOON"), dynamic=True, clock=later,
                          idempotency_key="old")
        assert not fresh.replayed and fresh.reservation is not None
        book(store, request(), dynamic=True, clock=later, idempotency_key="new")
        cutoff = (start + dt.timedelta(hours=2)).replace(tzinfo=None)
        assert store.purge_idempotency_keys(cutoff) == 0  # "old" was renewed at +25 h
        gone = store.purge_idempotency_keys((later.now() + dt.timedelta(seconds=1))
                                            .replace(tzinfo=None))
        assert gone == 2
    assert _count(sql_url, IDEMPOTENCY_KEYS) == 0 and _count(sql_url) == 3


def test_one_key_raced_with_different_requests_books_once(sql_url: str) -> None:
    """Different dates take different locks: the key's own unique index decides."""
    build_sql_database(sql_url, SchemaState.EXPANDED)
    outcomes: list[object] = []
    lock = threading.Lock()
    days = [MONDAY + dt.timedelta(days=n) for n in range(4)]
    barrier = threading.Barrier(len(days) * 2)

    def one(day: dt.date) -> None:
        with slotcap.open_store(sql_url, busy_budget=10) as store:
            barrier.wait()
            try:
                result: object = book_once(store, request(preferred_date=day.isoformat()),
                                           dynamic=True, clock=ON_TODAY, idempotency_key="race")
            except (IdempotencyKeyReused, IdempotencyInProgress) as exc:
                result = exc
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=one, args=(d,)) for d in days * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Every thread ended in a booking, a replay or a refusal of the key: an error
    # (e.g. two first bookings both creating the keys table) would leave one out.
    assert len(outcomes) == len(threads), outcomes
    booked = [o for o in outcomes if not isinstance(o, Exception) and not o.replayed]  # type: ignore[attr-defined]
    assert len(booked) == 1, outcomes
    assert _count(sql_url) == 1 and _count(sql_url, IDEMPOTENCY_KEYS) == 1
