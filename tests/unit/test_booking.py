"""book() on the in-memory store: validation, both rules, dual-write, errors."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from tests.builders import MONDAY, ON_TODAY, request

from slotcap import (
    InvalidRequest,
    InvalidService,
    Period,
    Reason,
    ReservationFull,
    ReservationStatus,
    SchemaState,
    SchemaStateError,
    Service,
    ServiceLimit,
    book,
    check_availability,
)
from slotcap.adapters.memory import MemoryStore

SATURDAY = dt.date(2025, 12, 6)
SUNDAY = dt.date(2025, 12, 7)


def ids() -> object:
    counter = itertools.count(1)
    return lambda: f"r{next(counter)}"


def test_dynamic_booking_dual_writes_old_and_new_columns() -> None:
    store = MemoryStore()
    stored = book(store, request(preferred_time=None), dynamic=True, clock=ON_TODAY)
    assert stored == store.get_reservation(stored.id)
    assert (stored.service_id, stored.service_name, stored.estimated_duration, stored.period) == (
        "srv_wrinkle_botox", "주름/보톡스", 40, Period.MORNING,
    )
    assert stored.service == "WRINKLE_BOTOX"
    assert stored.preferred_time == "09:00"  # the slot's opening time, as the plan writes
    assert stored.status is ReservationStatus.PENDING


def test_dynamic_booking_keeps_the_patients_time_when_it_agrees() -> None:
    stored = book(MemoryStore(), request(preferred_time="오전 10시 반"), dynamic=True,
                  clock=ON_TODAY)
    assert stored.preferred_time == "오전 10시 반"
    afternoon = book(MemoryStore(), request(preferred_time="10:00", period="AFTERNOON"),
                     dynamic=True, clock=ON_TODAY)
    assert afternoon.preferred_time == "14:00"


def test_legacy_booking_writes_new_columns_with_the_parsed_period() -> None:
    store = MemoryStore()
    stored = book(store, request(period=None, preferred_time="2:30"), dynamic=False, clock=ON_TODAY)
    assert stored.period is Period.AFTERNOON  # read with clinic hours: 14:30
    assert stored.estimated_duration == 40 and stored.service_id == "srv_wrinkle_botox"
    assert stored.preferred_time == "2:30"


def test_legacy_booking_never_guesses_a_period() -> None:
    stored = book(MemoryStore(), request(period=None, preferred_time="asap"),
        dynamic=False, clock=ON_TODAY)
    assert stored.period is None
    assert stored.estimated_duration == 40  # still known, and still held


def test_minutes_rule_fills_a_period_exactly() -> None:
    store = MemoryStore()
    # Monday morning is 180 minutes; botox is 40: four fit (160), the fifth does not.
    for _ in range(4):
        book(store, request(), dynamic=True, clock=ON_TODAY)
    with pytest.raises(ReservationFull) as caught:
        book(store, request(), dynamic=True, clock=ON_TODAY)
    assert caught.value.code == "reservation_full"
    decision = caught.value.decision
    assert decision.reason is Reason.FULL and decision.remaining == 20
    # A 20 + 5 minute consultation still fits into the remaining 20? No: 25 > 20.
    with pytest.raises(ReservationFull):
        book(store, request(service="OTHER_CONSULTATION"), dynamic=True, clock=ON_TODAY)


def test_count_rule_uses_the_daily_limit() -> None:
    store = MemoryStore()
    store.save_limit(ServiceLimit(service_code="WRINKLE_BOTOX", daily_limit=2))
    book(store, request(period=None), dynamic=False, clock=ON_TODAY)
    book(store, request(period=None), dynamic=False, clock=ON_TODAY)
    with pytest.raises(ReservationFull):
        book(store, request(period=None), dynamic=False, clock=ON_TODAY)
    assert check_availability(store, MONDAY, "WRINKLE_BOTOX", dynamic=False).reason is Reason.FULL


def test_cancelling_frees_capacity() -> None:
    store = MemoryStore()
    made = [book(store, request(), dynamic=True, clock=ON_TODAY) for _ in range(4)]
    with pytest.raises(ReservationFull):
        book(store, request(), dynamic=True, clock=ON_TODAY)
    store.set_status(made[0].id, ReservationStatus.CANCELLED, changed_by="admin")
    book(store, request(), dynamic=True, clock=ON_TODAY)


def test_legacy_rows_hold_capacity_for_the_dynamic_path_at_once() -> None:
    store = MemoryStore()
    for _ in range(3):
        book(store, request(period=None, preferred_time="9:30 AM"), dynamic=False, clock=ON_TODAY)
    decision = check_availability(store, MONDAY, "WRINKLE_BOTOX", period="MORNING", dynamic=True)
    assert decision.held == 120 and decision.remaining == 60


def test_unknown_period_rows_hold_in_both_periods() -> None:
    store = MemoryStore()
    book(store, request(period=None, preferred_time="아무때나"), dynamic=False, clock=ON_TODAY)
    for period in Period:
        decision = check_availability(store, MONDAY, "SKIN_CARE", period=period, dynamic=True)
        assert decision.held == 40


def test_closed_days_and_periods() -> None:
    store = MemoryStore()
    with pytest.raises(ReservationFull) as sunday:
        book(store, request(preferred_date=SUNDAY.isoformat()), dynamic=True, clock=ON_TODAY)
    assert sunday.value.decision.reason is Reason.CLOSED
    with pytest.raises(ReservationFull):
        book(store, request(preferred_date=SATURDAY.isoformat(), period="AFTERNOON"),
             dynamic=True, clock=ON_TODAY)
    assert check_availability(store, SUNDAY, "SKIN_CARE", dynamic=True).reason is Reason.CLOSED


def test_every_bad_field_is_named_in_one_error() -> None:
    with pytest.raises(InvalidRequest) as caught:
        book(
            MemoryStore(),
            request(
                patient_name="  ", phone="12", email="not-an-email", birth_date="1990-13-01",
                gender="X", treatment_type=None, preferred_date="2025/12/01", period="EVENING",
            ),
            dynamic=True, clock=ON_TODAY,
        )
    assert set(caught.value.fields) == {
        "patient_name", "phone", "email", "birth_date", "gender", "treatment_type",
        "preferred_date", "period",
    }
    assert caught.value.code == "invalid_request"
    assert "birth_date" in str(caught.value)


def test_dynamic_path_needs_a_period_unless_the_time_is_readable() -> None:
    stored = book(MemoryStore(), request(period=None, preferred_time="3:00 PM"),
        dynamic=True, clock=ON_TODAY)
    assert stored.period is Period.AFTERNOON
    with pytest.raises(InvalidRequest) as caught:
        book(MemoryStore(), request(period=None, preferred_time="10시나 3시"),
            dynamic=True, clock=ON_TODAY)
    assert set(caught.value.fields) == {"period"}


def test_legacy_path_needs_a_preferred_time() -> None:
    with pytest.raises(InvalidRequest) as caught:
        book(MemoryStore(), request(preferred_time=""), dynamic=False, clock=ON_TODAY)
    assert set(caught.value.fields) == {"preferred_time"}


def test_timestamps_are_not_calendar_dates() -> None:
    with pytest.raises(InvalidRequest) as caught:
        book(MemoryStore(), request(preferred_date="2025-12-01T15:00:00Z"),
            dynamic=True, clock=ON_TODAY)
    assert set(caught.value.fields) == {"preferred_date"}


def test_unknown_inactive_and_unwritable_services() -> None:
    store = MemoryStore()
    with pytest.raises(InvalidService) as unknown:
        book(store, request(service="FACIAL"), dynamic=True, clock=ON_TODAY)
    assert unknown.value.code == "unknown_service"
    with pytest.raises(InvalidService):
        book(store, request(service="FACIAL", period=None), dynamic=False, clock=ON_TODAY)
    skin = store.get_service("SKIN_CARE")
    assert skin is not None
    store.save_service(Service(id=skin.id, code=skin.code, name=skin.name, is_active=False))
    with pytest.raises(InvalidService) as inactive:
        book(store, request(service="SKIN_CARE"), dynamic=True, clock=ON_TODAY)
    assert inactive.value.code == "service_inactive"
    store.save_service(Service(id="srv_new", code="NEW_LASER", name="레이저"))
    with pytest.raises(InvalidService) as new:
        book(store, request(service="NEW_LASER"), dynamic=True, clock=ON_TODAY)
    assert new.value.code == "service_not_in_legacy_enum"
    store.set_schema_state(SchemaState.CONTRACTED)
    stored = book(store, request(service="NEW_LASER"), dynamic=True, clock=ON_TODAY)
    assert stored.service is None and stored.preferred_time is None
    assert stored.service_id == "srv_new"


def test_schema_state_refusals() -> None:
    legacy = MemoryStore(schema_state=SchemaState.LEGACY)
    with pytest.raises(SchemaStateError) as caught:
        book(legacy, request(), dynamic=True, clock=ON_TODAY)
    assert caught.value.code == "schema_state"
    stored = book(legacy, request(period=None), dynamic=False, clock=ON_TODAY)
    assert stored.period is None and stored.service_id is None
    contracted = MemoryStore(schema_state=SchemaState.CONTRACTED)
    with pytest.raises(SchemaStateError):
        book(contracted, request(), dynamic=False, clock=ON_TODAY)
    with pytest.raises(SchemaStateError):
        check_availability(contracted, MONDAY, "WRINKLE_BOTOX", dynamic=False)
