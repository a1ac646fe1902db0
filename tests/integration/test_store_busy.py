"""Busy databases and refused writes, on both SQL engines.

Another session holds the lock a write needs (PostgreSQL: ``LOCK TABLE … IN EXCLUSIVE
MODE`` in an open transaction, which lets readers through but no writer; SQLite: a
second connection in ``BEGIN IMMEDIATE``, the database's one write lock). Every write
of the store — bookings and the writes outside them — must then give up with
``StoreBusy`` within its ``busy_budget``, leaving the database as it was; a lock held
for less than the budget must be ridden through. A write the database refuses
(a duplicate id, a foreign key) must come back as a one-line ``DatabaseError`` (for a
duplicate id its subclass ``ReservationExists``) naming the constraint, without the
row's values and without the driver's exception chained.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
from tests.builders import ON_TODAY
from tests.integration.store_helpers import (
    build_sql_database,
    open_sql_store,
    put,
    request,
    row,
)

from slotcap.adapters.sql import SqlStore
from slotcap.domain.defaults import DEFAULT_SERVICES, DEFAULT_TIME_SLOTS
from slotcap.domain.model import ReservationStatus, ServiceLimit
from slotcap.errors import DatabaseError, ReservationExists, StoreBusy
from slotcap.sql import open_sql
from slotcap.usecases import book

ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
BUDGET = 0.6
PATIENT = ("김하늘", "010-1234-5678")


@pytest.fixture(params=ENGINES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = (
        f"sqlite:///{tmp_path / 'busy.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    build_sql_database(url)
    return url


def _store(url: str, budget: float = BUDGET) -> SqlStore:
    options: dict[str, Any] = {"busy_budget": budget}
    if not url.startswith("sqlite"):
        options["lock_timeout"] = 0.2  # several attempts inside the budget
    return open_sql_store(url, **options)


@contextmanager
def write_lock(url: str, table: str) -> Iterator[Callable[[], None]]:
    """Hold the write lock on ``table`` (SQLite: on the database) until the block
    ends or the yielded ``release`` is called (from any thread)."""
    if url.startswith("sqlite:///"):
        sconn = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None,
                                check_same_thread=False)
        sconn.execute("BEGIN IMMEDIATE")
        lock = threading.Lock()

        def release_sqlite() -> None:
            with lock:
                if sconn.in_transaction:
                    sconn.execute("ROLLBACK")

        try:
            yield release_sqlite
        finally:
            release_sqlite()
            sconn.close()
        return
    import psycopg

    pconn = psycopg.connect(url)
    pconn.execute(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE')
    plock = threading.Lock()

    def release_pg() -> None:
        with plock:
            pconn.rollback()

    try:
        yield release_pg
    finally:
        release_pg()
        pconn.close()


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    tables = ("reservations", "services", "clinic_time_slots", "service_reservation_limits")
    with open_sql(url) as conn:
        return {
            t: sorted(tuple(map(str, r)) for r in conn.execute(f'SELECT * FROM "{t}"'))
            for t in tables
        }


def _writes(store: SqlStore, rid: str) -> dict[str, tuple[str, Callable[[], object]]]:
    """Every write of the store: (the table it needs, the call)."""
    service = attrs.evolve(DEFAULT_SERVICES[0], name="Renamed while locked")
    slot = attrs.evolve(DEFAULT_TIME_SLOTS[0], is_active=False)
    body = request(service="WRINKLE_BOTOX", period="AFTERNOON", preferred_time=None)
    return {
        "set_status": ("reservations",
                       lambda: store.set_status(rid, ReservationStatus.CANCELLED)),
        "save_limit": ("service_reservation_limits",
                       lambda: store.save_limit(ServiceLimit(service_code="SKIN_CARE",
                                                             daily_limit=1))),
        "save_time_slot": ("clinic_time_slots", lambda: store.save_time_slot(slot)),
        "save_service": ("services", lambda: store.save_service(service)),
        "book_dynamic": ("reservations", lambda: book(store, body, dynamic=True, clock=ON_TODAY)),
        "book_legacy": ("reservations",
                        lambda: book(store, request(period=None), dynamic=False, clock=ON_TODAY)),
    }


WRITES = ["set_status", "save_limit", "save_time_slot", "save_service", "book_dynamic",
          "book_legacy"]


@pytest.mark.parametrize("write", WRITES)
def test_every_write_is_busy_within_the_budget_and_changes_nothing(
    url: str, write: str
) -> None:
    store = _store(url)
    put(store, row(rid="held"))
    table, call = _writes(store, "held")[write]
    before = snapshot(url)
    with write_lock(url, table):
        started = time.monotonic()
        with pytest.raises(StoreBusy) as busy:
            call()
        waited = time.monotonic() - started
    assert busy.value.code == "store_busy"
    assert "\n" not in str(busy.value)
    # Within the bound: about the budget (SQLite's busy handler sleeps in steps).
    assert BUDGET * 0.8 <= waited < BUDGET + 1.5, waited
    assert snapshot(url) == before
    call()  # the lock gone, the same write goes through
    assert snapshot(url) != before
    store.close()


def _hold_then_release(release: Callable[[], None], seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, release)
    timer.start()
    return timer


@pytest.mark.parametrize("dynamic", [True, False])
def test_a_booking_rides_through_a_lock_shorter_than_its_budget(
    url: str, dynamic: bool
) -> None:
    store = _store(url, budget=2.0)
    body = (request(service="WRINKLE_BOTOX", period="AFTERNOON", preferred_time=None)
            if dynamic else request(period=None))
    with write_lock(url, "reservations") as release:
        timer = _hold_then_release(release, 0.5)
        started = time.monotonic()
        booked = book(store, body, dynamic=dynamic, clock=ON_TODAY, new_id=lambda: "rode_through")
        waited = time.monotonic() - started
        timer.join()
    assert booked.id == "rode_through"
    assert store.get_reservation("rode_through") is not None
    assert 0.4 <= waited < 2.0, waited
    store.close()


def test_a_lock_longer_than_the_budget_is_busy_after_about_the_budget(url: str) -> None:
    store = _store(url, budget=1.0)
    body = request(service="WRINKLE_BOTOX", period="AFTERNOON", preferred_time=None)
    with write_lock(url, "reservations") as release:
        timer = _hold_then_release(release, 4.0)
        started = time.monotonic()
        with pytest.raises(StoreBusy):
            book(store, body, dynamic=True, clock=ON_TODAY, new_id=lambda: "gave_up")
        waited = time.monotonic() - started
        release()
        timer.cancel()
    assert 0.9 <= waited < 2.2, waited
    assert store.get_reservation("gave_up") is None
    store.close()


@pytest.mark.postgres
def test_a_write_retries_a_lock_released_inside_its_budget(pg_url: str) -> None:
    """lock_timeout 0.2 s per attempt, the lock held 0.7 s: several attempts fail, the
    write still succeeds inside its 2 s budget."""
    build_sql_database(pg_url)
    store = open_sql_store(pg_url, busy_budget=2.0, lock_timeout=0.2)
    put(store, row(rid="r1"))
    with write_lock(pg_url, "reservations") as release:
        timer = _hold_then_release(release, 0.7)
        started = time.monotonic()
        changed = store.set_status("r1", ReservationStatus.CANCELLED)
        waited = time.monotonic() - started
        timer.join()
    assert changed.status is ReservationStatus.CANCELLED
    assert 0.6 <= waited < 2.0, waited
    store.close()


# -- refused writes -------------------------------------------------------------------------


def _assert_no_patient_data(exc: BaseException) -> None:
    printed = "".join(traceback.format_exception(exc))
    for value in PATIENT:
        assert value not in str(exc)
        assert value not in printed
    assert "\n" not in str(exc)
    assert exc.__cause__ is None and exc.__suppress_context__


def test_a_duplicate_id_is_a_one_line_reservation_exists(url: str) -> None:
    store = _store(url)
    put(store, row(rid="same"))
    with pytest.raises(ReservationExists) as refused:
        put(store, row(rid="same"))
    exc = refused.value
    assert isinstance(exc, DatabaseError)  # what the SQL stores raised before it had a class
    assert exc.code == "reservation_exists"
    _assert_no_patient_data(exc)
    if url.startswith("sqlite"):
        assert "reservations.id" in str(exc)
    else:
        assert exc.sqlstate == "23505"
        assert exc.constraint == "reservations_pkey"
        assert "reservations_pkey" in str(exc)
    store.close()


def test_a_foreign_key_violation_names_the_constraint_not_the_row(url: str) -> None:
    store = _store(url)
    orphan = attrs.evolve(row(rid="orphan"), service_id="srv_does_not_exist")
    with pytest.raises(DatabaseError) as refused:
        put(store, orphan)
    exc = refused.value
    assert exc.code == "constraint_violation"
    _assert_no_patient_data(exc)
    if not url.startswith("sqlite"):
        assert exc.sqlstate == "23503"
        assert exc.constraint is not None and exc.constraint in str(exc)
    assert store.get_reservation("orphan") is None
    store.close()


@pytest.mark.postgres
def test_a_value_the_column_refuses_is_an_invalid_value_error(pg_url: str) -> None:
    build_sql_database(pg_url)
    store = open_sql_store(pg_url)
    # A NUL byte cannot be stored in PostgreSQL text (request validation refuses it
    # first; the store must not leak the row if it gets one anyway).
    bad = attrs.evolve(row(rid="nul"), notes="a\x00b")
    with pytest.raises(DatabaseError) as refused:
        put(store, bad)
    assert refused.value.code == "invalid_value"
    _assert_no_patient_data(refused.value)
    store.close()


# -- application_name -------------------------------------------------------------------


def _names(url: str) -> list[str]:
    with open_sql(url) as conn:
        return [name for (name,) in conn.execute(
            "SELECT application_name FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")]


@pytest.mark.postgres
def test_stores_name_their_sessions_in_pg_stat_activity(pg_url: str) -> None:
    import psycopg

    from slotcap import open_store
    from slotcap.adapters.postgres import PostgresStore

    build_sql_database(pg_url)
    default = open_store(pg_url)
    default.get_reservation("none")
    assert "slotcap" in _names(pg_url)
    default.close()
    named = open_store(pg_url, application_name="clinic-web")
    named.get_reservation("none")
    assert "clinic-web" in _names(pg_url)
    named.close()
    # The application's own connection keeps the name the application gave it.
    with psycopg.connect(pg_url, autocommit=True, application_name="their-app") as conn:
        PostgresStore.from_connection(conn).get_reservation("none")
        assert conn.info.parameter_status("application_name") == "their-app"
