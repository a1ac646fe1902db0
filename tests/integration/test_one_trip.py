"""A booking decided by one statement (PostgreSQL with phase 2's ledger): BEGIN, the
locks, ``INSERT … SELECT … WHERE <fits>`` and COMMIT in one pipeline
(``slotcap.adapters.sql.pg_booking``, ``slotcap.usecases.one_trip``).

* The sixteen-thread races of test_store_concurrency, on a phase-2 database: exactly
  as many succeed as fit, and the bookings really went through the one statement.
* The statement and the domain rule agree, booking by booking, up to and past full,
  for both rules; a refusal on exact figures costs no second transaction.
* The cases the statement leaves to the careful path are decided as before: the
  same patient twice (DuplicateBooking), a sibling, a closure, a row the ledger
  cannot size, a service edited since the catalogue snapshot.
* ``last_figures``: the other rule's figures come from the statement, no round trip.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from tests.builders import ON_TODAY
from tests.integration import test_store_concurrency as races
from tests.integration.schema_helpers import legacy_insert
from tests.integration.store_helpers import MONDAY, build_sql_database, open_sql_store, request
from tests.integration.test_connection_healing import terminate_sessions

from slotcap.adapters.sql import SqlStore, pg_booking
from slotcap.domain.closures import Closure
from slotcap.domain.model import (
    ClinicTimeSlot,
    Gender,
    Period,
    Reservation,
    ReservationStatus,
    Service,
    ServiceLimit,
    TreatmentType,
)
from slotcap.domain.rules import estimated_duration
from slotcap.errors import DuplicateBooking, ReservationFull
from slotcap.migration import migrate
from slotcap.sql import open_sql
from slotcap.usecases import book

pytestmark = pytest.mark.postgres

AFTERNOON = Period.AFTERNOON


@attrs.define
class Trips:
    """How the bookings ran: deciding statements, and careful transactions begun."""

    trips: int = 0
    careful: int = 0
    lock: threading.Lock = attrs.field(factory=threading.Lock)


@pytest.fixture
def url(pg_url: str) -> str:
    build_sql_database(pg_url)
    migrate(pg_url, to="phase2")
    return pg_url


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> Trips:
    counts = Trips()
    trip, begun = pg_booking.LazyBookingSession.one_trip, pg_booking.LazyBookingSession._begun

    def one_trip(self: Any, *args: Any) -> Any:
        with counts.lock:
            counts.trips += 1
        return trip(self, *args)

    def careful(self: Any) -> Any:
        if self.inner is None:
            with counts.lock:
                counts.careful += 1
        return begun(self)

    monkeypatch.setattr(pg_booking.LazyBookingSession, "one_trip", one_trip)
    monkeypatch.setattr(pg_booking.LazyBookingSession, "_begun", careful)
    return counts


@pytest.fixture
def store(url: str) -> Iterator[SqlStore]:
    s = open_sql_store(url)
    yield s
    s.close()


def _book(store: SqlStore, **fields: Any) -> object:
    dynamic = fields.pop("dynamic", True)
    body = request(**{"period": "AFTERNOON", "preferred_time": None, **fields})
    try:
        return book(store, body, dynamic=dynamic, clock=ON_TODAY)
    except ReservationFull as full:
        return full.decision.reason.value.lower()


def test_races_stay_exact_through_the_one_statement(url: str, seen: Trips) -> None:
    races.test_minutes_rule_books_exactly_what_fits(url)
    assert seen.trips == races.THREADS
    assert seen.careful == 0
    with open_sql(url) as conn:
        conn.execute('DELETE FROM "reservations"')
    races.test_count_rule_books_exactly_the_limit(url)
    with open_sql(url) as conn:
        conn.execute('DELETE FROM "reservations"')
    races.test_both_rules_at_once_replay_in_commit_order(url)
    assert seen.careful == 0


def test_the_statement_and_the_rule_agree_up_to_full(store: SqlStore, seen: Trips) -> None:
    # WRINKLE_BOTOX: 40 minutes in a 240-minute afternoon: six fit, the seventh not.
    outcomes = [_book(store) for _ in range(8)]
    assert [o == "full" for o in outcomes] == [False] * 6 + [True] * 2
    assert (seen.trips, seen.careful) == (8, 0)
    facts = store.period_facts(MONDAY, AFTERNOON, "WRINKLE_BOTOX")
    assert facts.held_minutes == 240
    # The count rule: daily limit (the default) from the ledger's per-service count.
    limit = store.get_limit("SKIN_CARE")
    assert limit is not None
    legacy = [_book(store, service="SKIN_CARE", dynamic=False, period=None,
                    preferred_time="15:00") for _ in range(limit.daily_limit + 1)]
    assert [o == "full" for o in legacy] == [False] * limit.daily_limit + [True]
    assert seen.careful == 0
    assert store.daily_facts(MONDAY, "SKIN_CARE").held_count == limit.daily_limit


def test_the_careful_path_decides_what_the_statement_cannot(
        url: str, store: SqlStore, seen: Trips) -> None:
    first = _book(store, patient_name="이하나", phone="010-5555-1234")
    assert not isinstance(first, str)
    with pytest.raises(DuplicateBooking):  # same patient: the suspect goes careful
        book(store, request(patient_name="이하나", phone="+82 10-5555-1234",
                            period="AFTERNOON", preferred_time=None),
             dynamic=True, clock=ON_TODAY)
    assert seen.careful == 1
    sibling = _book(store, patient_name="이두나", phone="010-5555-1234")
    assert not isinstance(sibling, str)
    assert seen.careful == 2
    # A row the ledger cannot size (the legacy app's, no estimatedDuration): careful.
    with open_sql(url) as conn:
        legacy_insert(conn, "legacy-1", MONDAY.isoformat(), "15:00")
    _book(store)
    assert seen.careful == 3
    # A closure of the date: careful, and CLOSED.
    store.add_closure(Closure(id="c1", start_date=MONDAY + dt.timedelta(days=7),
                              reason="공사"))
    closed = _book(store, preferred_date=(MONDAY + dt.timedelta(days=7)).isoformat())
    assert closed == "closed"
    assert seen.careful == 4


def test_a_service_edited_since_the_snapshot_is_read_fresh(url: str, store: SqlStore,
                                                           seen: Trips) -> None:
    _book(store)  # the snapshot is read now
    other = open_sql_store(url)
    service = other.get_service("WRINKLE_BOTOX")
    assert service is not None
    other.save_service(attrs.evolve(service, duration_minutes=200))
    other.close()
    # 40 held + 210 > 240: refused on the fresh row, whatever the snapshot said.
    assert _book(store) == "full"
    assert store.period_facts(MONDAY, AFTERNOON, "WRINKLE_BOTOX").held_minutes == 40


def test_the_other_rules_figures_come_with_the_statement(store: SqlStore) -> None:
    body = request(period="AFTERNOON", preferred_time=None)
    book(store, body, dynamic=True, clock=ON_TODAY)
    with store.deferred_booking(MONDAY, "WRINKLE_BOTOX", [AFTERNOON]) as tx:
        done = tx.book_period(AFTERNOON, lambda service, slot: _row(service, slot))
        assert done is not None and done.inserted
        session = tx._session
        assert isinstance(session, pg_booking.LazyBookingSession)
        assert session.inner is None  # committed in the pipeline; nothing begun since
        facts = tx.period_facts(MONDAY, AFTERNOON, "WRINKLE_BOTOX")
        daily = tx.daily_facts(MONDAY, "WRINKLE_BOTOX")
        assert session.inner is None  # answered without a statement
    assert facts.held_minutes == 40  # before this scope's own insert
    assert daily.held_count == 1
    assert tx.last_figures is done



def test_the_limit_figures_follow_an_edited_limit(store: SqlStore) -> None:
    # The statement's limit row is built once per distinct row values (memoised like
    # the service and slot records): an edited limit is a new key, never a stale record.
    def limit_seen(row_id: str) -> ServiceLimit | None:
        with store.deferred_booking(MONDAY, "WRINKLE_BOTOX", [AFTERNOON]) as tx:
            done = tx.book_period(AFTERNOON, lambda service, slot: attrs.evolve(
                _row(service, slot), id=row_id))
            assert done is not None and done.daily is not None
            return done.daily.limit

    before = store.get_limit("WRINKLE_BOTOX")
    assert before is not None
    assert limit_seen("limit-1") == before
    edited = attrs.evolve(before, daily_limit=before.daily_limit + 7, is_active=False)
    store.save_limit(edited)
    assert limit_seen("limit-2") == edited
    store.save_limit(before)
    assert limit_seen("limit-3") == before

def _row(service: Service, slot: ClinicTimeSlot) -> Reservation:
    now = dt.datetime(2025, 1, 1, 9, 0)
    return Reservation(
        id="figures-1", patient_name="박서준", phone="010-7777-0001", email=None,
        birth_date=dt.date(1990, 1, 1), gender=Gender.MALE,
        treatment_type=TreatmentType.FIRST_VISIT,
        preferred_date=MONDAY, status=ReservationStatus.PENDING, service=service.code,
        preferred_time=slot.start_time.strftime("%H:%M"), service_id=service.id,
        service_name=service.name, estimated_duration=estimated_duration(service),
        period=AFTERNOON, created_at=now, updated_at=now, status_changed_at=now)


def test_a_connection_dead_before_the_pipeline_is_replaced(url: str, store: SqlStore,
                                                           seen: Trips) -> None:
    """The server ended the thread's idle connection (a restart, a failover): nothing
    of the pipeline ran there, which the store proves (the old session is gone and the
    row is not there) before running it once more on a new connection."""
    first = _book(store)
    assert not isinstance(first, str)
    assert terminate_sessions(url) >= 1
    again = _book(store)
    assert not isinstance(again, str)
    assert store.period_facts(MONDAY, AFTERNOON, "WRINKLE_BOTOX").held_minutes == 80
    assert seen.careful == 0
