"""One behavioural suite, run against every adapter: the in-memory reference store,
SQLite and PostgreSQL must give the same facts, calendars and booking decisions."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from tests.builders import ON_TODAY
from tests.integration.store_helpers import (
    MONDAY,
    SATURDAY,
    SUNDAY,
    build_sql_database,
    open_sql_store,
    postgres_database,
    put,
    request,
    reset_to_defaults,
    row,
)

from slotcap.adapters.memory import MemoryStore
from slotcap.domain.closures import Closure
from slotcap.domain.defaults import DEFAULT_SERVICES, DEFAULT_TIME_SLOTS
from slotcap.domain.model import Period, ReservationStatus, ServiceLimit
from slotcap.domain.rules import Reason
from slotcap.errors import (
    ClosureExists,
    InvalidService,
    ReservationClosed,
    ReservationExists,
    ReservationFull,
    SchemaStateError,
    ServiceExists,
)
from slotcap.ports import CalendarEntry, SchemaState, Store
from slotcap.usecases import availability_calendar, book, check_availability

ENGINES = ["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
SERVICE = {s.code: s for s in DEFAULT_SERVICES}
M, A = Period.MORNING, Period.AFTERNOON

StoreFactory = Callable[[SchemaState], Store]


@pytest.fixture(scope="module")
def shared_pg_url() -> Iterator[str]:
    """One expanded PostgreSQL database for the module, reset before each test (a new
    database per test costs a second or more; a reset, milliseconds)."""
    with postgres_database() as url:
        build_sql_database(url)
        yield url


@pytest.fixture(params=ENGINES)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Build a store of this engine in a given schema state (one per test)."""
    opened: list[Store] = []

    def make(state: SchemaState) -> Store:
        if request.param == "memory":
            store: Store = MemoryStore(schema_state=state)
        elif request.param == "postgresql" and state is SchemaState.EXPANDED:
            url = request.getfixturevalue("shared_pg_url")
            sql_store = open_sql_store(url)
            reset_to_defaults(url, sql_store)
            store = sql_store
        else:
            url = (
                f"sqlite:///{tmp_path / 'slotcap.db'}"
                if request.param == "sqlite"
                else request.getfixturevalue("pg_url")
            )
            build_sql_database(url, state)
            store = open_sql_store(url)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: StoreFactory) -> Store:
    """An expanded store (phase 1: both rules) with the plan's services and hours."""
    return make_store(SchemaState.EXPANDED)


def booked(store: Store, day: dt.date = MONDAY) -> dict[Period, int]:
    return {p: store.period_facts(day, p, "WRINKLE_BOTOX").held_minutes for p in Period}


def ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"b{next(counter)}"


# -- facts ---------------------------------------------------------------------------------


def test_period_facts_returns_service_slot_and_held_minutes(store: Store) -> None:
    put(store, row(period=M, minutes=40), row(period=M, minutes=70, code="SKIN_CARE"),
        row(period=A, minutes=60))
    facts = store.period_facts(MONDAY, M, "SKIN_CARE")
    assert facts.service == SERVICE["SKIN_CARE"]
    assert facts.slot is not None and facts.slot.id == "slot_1_morning"
    assert (facts.slot.day_of_week, facts.slot.total_minutes) == (1, 180)
    assert facts.held_minutes == 110
    assert store.period_facts(MONDAY, A, "SKIN_CARE").held_minutes == 60


def test_day_of_week_counts_from_sunday(store: Store) -> None:
    saturday = store.period_facts(SATURDAY, M, "SKIN_CARE").slot
    assert saturday is not None and saturday.id == "slot_6_morning"
    assert saturday.total_minutes == 240
    assert store.period_facts(SATURDAY, A, "SKIN_CARE").slot is None
    assert store.period_facts(SUNDAY, M, "SKIN_CARE").slot is None


def test_unknown_service_has_no_facts_but_minutes_still_count(store: Store) -> None:
    put(store, row(period=M, minutes=40))
    facts = store.period_facts(MONDAY, M, "NO_SUCH_SERVICE")
    assert (facts.service, facts.held_minutes) == (None, 40)


@pytest.mark.parametrize(
    "status", [ReservationStatus.CANCELLED, ReservationStatus.COMPLETED, ReservationStatus.NO_SHOW]
)
def test_only_pending_and_confirmed_hold(store: Store, status: ReservationStatus) -> None:
    put(store, row(status=ReservationStatus.PENDING, minutes=40),
        row(status=ReservationStatus.CONFIRMED, minutes=50), row(status=status, minutes=60))
    assert booked(store)[M] == 90


def test_legacy_rows_without_duration_hold_their_services_minutes(store: Store) -> None:
    # Written by the legacy application: no estimatedDuration, no period, no serviceId.
    put(store, row(code="SKIN_CARE", new_columns=False), row(code="BODY_CARE", new_columns=False))
    # No period: held in both periods of the date (60+10 + 50+10).
    assert booked(store) == {M: 130, A: 130}


def test_rows_without_duration_but_with_service_id_use_that_service(store: Store) -> None:
    put(store, row(code="VOLUME_LIFTING", period=A, minutes=None))
    assert booked(store) == {M: 0, A: 60}


def test_null_period_rows_hold_in_both_periods(store: Store) -> None:
    put(store, row(period=None, minutes=45), row(period=A, minutes=20))
    assert booked(store) == {M: 45, A: 65}
    entries = store.calendar(MONDAY, MONDAY)
    assert [(e.period, e.booked) for e in entries] == [(M, 45), (A, 65)]


def test_cancelling_frees_and_reinstating_holds(store: Store) -> None:
    put(store, r := row(minutes=40))
    store.set_status(r.id, ReservationStatus.CANCELLED, changed_by="admin")
    assert booked(store)[M] == 0
    stored = store.set_status(r.id, ReservationStatus.CONFIRMED)
    assert stored.status is ReservationStatus.CONFIRMED and stored.status_changed_by is None
    assert booked(store)[M] == 40


def test_other_dates_do_not_count(store: Store) -> None:
    put(store, row(day=MONDAY + dt.timedelta(days=1), minutes=40),
        row(day=MONDAY - dt.timedelta(days=7), period=None, minutes=40))
    assert booked(store) == {M: 0, A: 0}


def test_daily_facts_count_pending_and_confirmed_of_the_code(store: Store) -> None:
    put(store, row(), row(status=ReservationStatus.PENDING), row(new_columns=False),
        row(status=ReservationStatus.CANCELLED), row(code="SKIN_CARE"),
        row(day=SATURDAY))
    facts = store.daily_facts(MONDAY, "WRINKLE_BOTOX")
    assert facts.held_count == 3
    assert facts.limit is not None and facts.limit.daily_limit == 10
    store.save_limit(ServiceLimit(service_code="WRINKLE_BOTOX", daily_limit=2, is_active=False))
    limit = store.daily_facts(MONDAY, "WRINKLE_BOTOX").limit
    assert limit is not None and (limit.daily_limit, limit.is_active) == (2, False)
    assert store.get_limit("WRINKLE_BOTOX") == limit


def test_daily_facts_of_a_code_outside_the_legacy_enum(store: Store) -> None:
    assert store.daily_facts(MONDAY, "LASER_TONING").held_count == 0
    assert store.get_limit("LASER_TONING") is None


# -- calendar ------------------------------------------------------------------------------


def test_calendar_covers_every_date_and_period(store: Store) -> None:
    put(store, row(period=M, minutes=40), row(day=SATURDAY, period=M, minutes=70))
    entries = store.calendar(SATURDAY - dt.timedelta(days=6), SUNDAY)  # Sunday .. Sunday
    assert len(entries) == 16
    assert [(e.day, e.period) for e in entries[:4]] == [
        (SUNDAY - dt.timedelta(days=7), M), (SUNDAY - dt.timedelta(days=7), A),
        (MONDAY, M), (MONDAY, A),
    ]
    by_key = {(e.day, e.period): e for e in entries}
    assert by_key[(MONDAY, M)] == CalendarEntry(day=MONDAY, period=M, is_open=True,
                                                capacity=180, booked=40)
    assert by_key[(MONDAY, M)].remaining == 140
    assert by_key[(SATURDAY, M)] == CalendarEntry(day=SATURDAY, period=M, is_open=True,
                                                  capacity=240, booked=70)
    assert not by_key[(SATURDAY, A)].is_open and by_key[(SATURDAY, A)].capacity == 0
    assert not by_key[(SUNDAY, M)].is_open
    assert store.calendar(MONDAY, SUNDAY - dt.timedelta(days=7)) == []


def test_calendar_agrees_with_period_facts(store: Store) -> None:
    put(store, row(period=None, minutes=30), row(code="SKIN_CARE", new_columns=False),
        row(period=A, minutes=None, code="BODY_CARE"))
    for entry in store.calendar(MONDAY, MONDAY):
        assert entry.booked == store.period_facts(MONDAY, entry.period, "SKIN_CARE").held_minutes


def test_inactive_slot_is_closed_but_still_reports_bookings(store: Store) -> None:
    put(store, row(period=A, minutes=40))
    slot = next(s for s in DEFAULT_TIME_SLOTS if (s.day_of_week, s.period) == (1, A))
    store.save_time_slot(attrs.evolve(slot, is_active=False))
    (afternoon,) = [e for e in store.calendar(MONDAY, MONDAY) if e.period is A]
    assert (afternoon.is_open, afternoon.capacity, afternoon.booked) == (False, 0, 40)
    facts = store.period_facts(MONDAY, A, "WRINKLE_BOTOX")
    assert facts.slot is not None and not facts.slot.is_active
    decision = check_availability(store, MONDAY, "WRINKLE_BOTOX", period=A, dynamic=True)
    assert decision.reason is Reason.CLOSED
    with pytest.raises(ReservationClosed) as closed:  # a ReservationFull, told apart
        book(store, request(period="AFTERNOON", preferred_time=None), dynamic=True,
             clock=ON_TODAY)
    assert closed.value.code == "reservation_full" and closed.value.decision == decision
    assert store.list_time_slots()[1] == attrs.evolve(slot, is_active=False)


def test_slot_hours_change_changes_capacity(store: Store) -> None:
    slot = next(s for s in DEFAULT_TIME_SLOTS if (s.day_of_week, s.period) == (1, M))
    store.save_time_slot(attrs.evolve(slot, end_time=dt.time(13, 30)))
    (morning,) = [e for e in availability_calendar(store, MONDAY, MONDAY) if e.period is M]
    assert morning.capacity == 270
    assert store.list_time_slots() == sorted(
        [attrs.evolve(slot, end_time=dt.time(13, 30)) if s is slot else s
         for s in DEFAULT_TIME_SLOTS],
        key=lambda s: (s.day_of_week, s.period is not M),
    )


# -- catalogue -----------------------------------------------------------------------------


def test_services_list_in_display_order(store: Store) -> None:
    assert store.list_services() == list(DEFAULT_SERVICES)
    assert store.get_service("SKIN_CARE") == SERVICE["SKIN_CARE"]
    assert store.get_service("NOPE") is None


def test_soft_deleted_service(store: Store) -> None:
    deleted = attrs.evolve(SERVICE["BODY_CARE"], deleted_at=dt.datetime(2025, 11, 1, 9, 30))
    store.save_service(deleted)
    assert store.get_service("BODY_CARE") == deleted
    assert "BODY_CARE" not in [s.code for s in store.list_services()]
    assert deleted in store.list_services(include_deleted=True)
    decision = check_availability(store, MONDAY, "BODY_CARE", period=M, dynamic=True)
    assert decision.reason is Reason.SERVICE_INACTIVE
    with pytest.raises(InvalidService):
        book(store, request(service="BODY_CARE"), dynamic=True, clock=ON_TODAY)


def test_duration_edit_moves_rows_without_duration_only(store: Store) -> None:
    put(store, row(code="SKIN_CARE", period=M, minutes=70),
        row(code="SKIN_CARE", new_columns=False))
    store.save_service(attrs.evolve(SERVICE["SKIN_CARE"], duration_minutes=90))
    assert booked(store) == {M: 70 + 100, A: 100}


def test_a_new_service_and_a_code_clash(store: Store) -> None:
    laser = attrs.evolve(SERVICE["SKIN_CARE"], id="srv_laser", code="LASER", name="레이저",
                         display_order=0)
    store.save_service(laser)
    assert store.list_services()[0] == laser
    with pytest.raises(ServiceExists, match="LASER"):
        store.save_service(attrs.evolve(laser, id="srv_other"))


def test_an_id_used_twice_is_the_domain_s_error_on_every_store(store: Store) -> None:
    """The ports' error contract: a second reservation or closure of one id is
    ReservationExists / ClosureExists on every store (never a bare ValueError)."""
    put(store, row(rid="twice"))
    with pytest.raises(ReservationExists):
        put(store, row(rid="twice"))
    closure = Closure(id="c_twice", start_date=SUNDAY, reason="holiday")
    store.add_closure(closure)
    try:
        with pytest.raises(ClosureExists, match="c_twice"):
            store.add_closure(closure)
    finally:
        store.remove_closure(closure.id)


# -- booking through the use cases ---------------------------------------------------------


def test_dynamic_booking_fills_the_afternoon_exactly(store: Store) -> None:
    new_id = ids()
    made = [book(store, request(period="AFTERNOON", preferred_time=None), dynamic=True,
                 clock=ON_TODAY, new_id=new_id) for _ in range(6)]
    with pytest.raises(ReservationFull) as full:
        book(store, request(period="AFTERNOON", preferred_time=None),
            dynamic=True, clock=ON_TODAY, new_id=new_id)
    assert full.value.decision.reason is Reason.FULL
    assert type(full.value) is ReservationFull  # not ReservationClosed
    assert booked(store)[A] == 240
    for stored in made:
        assert store.get_reservation(stored.id) == stored
    assert made[0].service == "WRINKLE_BOTOX" and made[0].estimated_duration == 40


def test_legacy_booking_stops_at_the_daily_limit(store: Store) -> None:
    store.save_limit(ServiceLimit(service_code="SKIN_CARE", daily_limit=2))
    new_id = ids()
    first = book(store, request(service="SKIN_CARE", period=None, preferred_time="15:00"),
                 dynamic=False, clock=ON_TODAY, new_id=new_id)
    book(store, request(service="SKIN_CARE", period=None, preferred_time="10:00"),
         dynamic=False, clock=ON_TODAY, new_id=new_id)
    with pytest.raises(ReservationFull):
        book(store, request(service="SKIN_CARE", period=None),
            dynamic=False, clock=ON_TODAY, new_id=new_id)
    assert store.get_reservation(first.id) == first
    assert first.period is A and first.estimated_duration == 70
    assert booked(store) == {M: 70, A: 70}
    assert check_availability(store, MONDAY, "SKIN_CARE", dynamic=False).reason is Reason.FULL


def test_legacy_bookings_use_up_dynamic_minutes(store: Store) -> None:
    new_id = ids()
    for _ in range(4):
        book(store, request(service="SKIN_CARE", period=None, preferred_time="10:00"),
             dynamic=False, clock=ON_TODAY, new_id=new_id)
    # 4 x 70 = 280 > 180: the morning is already over-full from the legacy path's view.
    decision = check_availability(store, MONDAY, "OTHER_CONSULTATION", period=M, dynamic=True)
    assert (decision.allowed, decision.held) == (False, 280)


# -- schema states -------------------------------------------------------------------------


def test_legacy_state_refuses_the_minutes_rule(make_store: StoreFactory) -> None:
    store = make_store(SchemaState.LEGACY)
    assert store.schema_state is SchemaState.LEGACY
    for call in (lambda: store.period_facts(MONDAY, M, "SKIN_CARE"),
                 lambda: store.calendar(MONDAY, MONDAY)):
        with pytest.raises(SchemaStateError) as refused:
            call()
        assert refused.value.code == "schema_state"
    stored = book(store, request(period=None), dynamic=False, clock=ON_TODAY)
    assert store.get_reservation(stored.id) == attrs.evolve(
        stored, service_id=None, service_name=None, estimated_duration=None, period=None
    )
    assert store.daily_facts(MONDAY, "WRINKLE_BOTOX").held_count == 1


def test_contracted_state_refuses_the_count_rule(make_store: StoreFactory) -> None:
    store = make_store(SchemaState.CONTRACTED)
    assert store.schema_state is SchemaState.CONTRACTED
    calls: list[Callable[[], Any]] = [
        lambda: store.daily_facts(MONDAY, "SKIN_CARE"),
        lambda: store.get_limit("SKIN_CARE"),
        lambda: store.save_limit(ServiceLimit(service_code="SKIN_CARE", daily_limit=1)),
    ]
    for call in calls:
        with pytest.raises(SchemaStateError) as refused:
            call()
        assert refused.value.code == "schema_state"
    stored = book(store, request(preferred_time=None), dynamic=True, clock=ON_TODAY)
    # Only the new columns exist: whatever legacy values the booking carried are dropped.
    assert store.get_reservation(stored.id) == attrs.evolve(
        stored, service=None, preferred_time=None
    )
    assert booked(store)[M] == 40
