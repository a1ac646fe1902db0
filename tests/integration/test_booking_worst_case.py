"""A booking's worst case, produced: docs/stores.md ("Busy databases") states it.

Another session holds the lock of the booking's (date, period) — PostgreSQL: the
advisory lock, from a second connection; SQLite: ``BEGIN IMMEDIATE`` on a second
connection, the database's one write lock. ``book()`` must raise ``StoreBusy`` no later
than the stated worst case (``busy_budget`` plus, on PostgreSQL, one ``lock_timeout``,
plus a scheduler margin) and not much sooner than the budget: it really retried. Work
that runs before the lock is asked for (here: a slow read of the clinic's hours) spends
the same budget: there is one deadline, not one per layer.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from tests.builders import MONDAY, ON_TODAY
from tests.integration.store_helpers import build_sql_database, open_sql_store, request

from slotcap.adapters.sql import SqlStore
from slotcap.domain.model import ClinicTimeSlot, Period
from slotcap.errors import StoreBusy
from slotcap.usecases import book
from slotcap.usecases.request import BookingRequest

BUDGET = 1.0
LOCK_TIMEOUT = 0.2
#: What a loaded 2-core machine may add to the stated worst case (scheduling, the
#: attempts' own round trips); the "not sooner" side allows 5 % of the budget.
MARGIN = 0.5
BODY = request(service="WRINKLE_BOTOX", period="AFTERNOON", preferred_time=None)


def worst_case(url: str) -> float:
    """docs/stores.md: busy_budget + one lock_timeout (PostgreSQL: the last attempt,
    begun just before the deadline, may wait once inside its transaction); SQLite's
    attempt waits only in ``BEGIN IMMEDIATE``, which ends by the deadline."""
    return BUDGET + (0.0 if url.startswith("sqlite") else LOCK_TIMEOUT)


@pytest.fixture(params=["sqlite", "postgresql",
                        pytest.param("one-trip", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'worst.db'}"
        build_sql_database(url)
        return url
    url = str(request.getfixturevalue("pg_url"))
    build_sql_database(url)
    if request.param == "one-trip":  # the ledger: a deciding statement's loop
        from slotcap.migration import migrate

        migrate(url, to="phase2")
    return url


@contextmanager
def period_locked(url: str) -> Iterator[None]:
    """Another session holds the lock the booking of BODY needs first."""
    if url.startswith("sqlite:///"):
        other = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    import psycopg

    from slotcap.adapters.postgres import advisory_lock_keys

    key = advisory_lock_keys(MONDAY, "WRINKLE_BOTOX", [Period.AFTERNOON])[0]
    with psycopg.connect(url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s::bigint)", [key])
        yield


def _store(url: str) -> SqlStore:
    options: dict[str, Any] = {"busy_budget": BUDGET}
    if not url.startswith("sqlite"):
        options["lock_timeout"] = LOCK_TIMEOUT  # several attempts inside the budget
    return open_sql_store(url, **options)


def _busy_after(store: SqlStore, url: str, body: BookingRequest = BODY
                ) -> tuple[float, StoreBusy]:
    with period_locked(url):
        started = time.monotonic()
        with pytest.raises(StoreBusy) as raised:
            book(store, body, dynamic=True, clock=ON_TODAY, new_id=lambda: "never")
        waited = time.monotonic() - started
    assert store.get_reservation("never") is None
    return waited, raised.value


def test_a_held_lock_is_busy_within_the_stated_worst_case(url: str) -> None:
    store = _store(url)
    try:
        waited, busy = _busy_after(store, url)
    finally:
        store.close()
    assert 0.95 * BUDGET <= waited <= worst_case(url) + MARGIN, waited
    if not url.startswith("sqlite"):
        # Retried (jittered, each wait at most lock_timeout), not one long wait.
        attempts = re.search(r"\((\d+) attempts", str(busy))
        assert attempts is not None and int(attempts[1]) > 2, str(busy)


def test_work_before_the_lock_spends_the_same_budget(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(url)
    read = store.list_time_slots
    slow = 0.7 * BUDGET  # more than MARGIN: a second full budget would show

    def slow_hours() -> list[ClinicTimeSlot]:
        time.sleep(slow)  # a slow catalogue read before the locks are asked for
        return read()

    monkeypatch.setattr(store, "list_time_slots", slow_hours)
    try:
        # A written time is parsed with the clinic's own hours: they are read first.
        waited, _ = _busy_after(store, url, request(
            service="WRINKLE_BOTOX", period="AFTERNOON", preferred_time="14:00"))
    finally:
        store.close()
    # Not budget + slow: the lock waits got only what the read had left.
    assert 0.95 * BUDGET <= waited <= worst_case(url) + MARGIN, waited
