"""check_availability and availability_calendar on the in-memory store."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.builders import ON_TODAY, patient_phone

from slotcap import (
    BookingRequest,
    InvalidRequest,
    Period,
    Reason,
    availability_calendar,
    book,
    check_availability,
)
from slotcap.adapters.memory import MemoryStore
from slotcap.domain.model import ClinicTimeSlot

MONDAY = dt.date(2025, 12, 1)


def _book(store: MemoryStore, period: str, service: str = "SKIN_CARE") -> None:
    book(
        store,
        BookingRequest(
            patient_name="p", phone=patient_phone(), birth_date="1980-05-05", gender="MALE",
            treatment_type="FOLLOW_UP", service=service, preferred_date=MONDAY.isoformat(),
            period=period,
        ),
        dynamic=True, clock=ON_TODAY,
    )


def test_without_a_period_the_first_period_that_fits_answers() -> None:
    store = MemoryStore()
    _book(store, "MORNING")
    _book(store, "MORNING")  # 140 of 180 minutes: skin care (70) no longer fits
    decision = check_availability(store, MONDAY, "SKIN_CARE", dynamic=True)
    assert decision.allowed and decision.capacity == 240  # the afternoon
    morning = check_availability(store, MONDAY, "SKIN_CARE", period=Period.MORNING, dynamic=True)
    assert morning.reason is Reason.FULL and morning.remaining == 40


def test_unknown_service_is_a_decision_not_an_exception() -> None:
    decision = check_availability(MemoryStore(), MONDAY, "NOPE", dynamic=True)
    assert decision.reason is Reason.UNKNOWN_SERVICE and not decision.allowed
    legacy = check_availability(MemoryStore(), MONDAY, "NOPE", dynamic=False)
    assert legacy.reason is Reason.UNKNOWN_SERVICE


def test_calendar_reports_every_date_and_period() -> None:
    store = MemoryStore()
    _book(store, "AFTERNOON")
    store.save_time_slot(
        ClinicTimeSlot(id="slot_2_morning", day_of_week=2, period=Period.MORNING,
                       start_time=dt.time(9), end_time=dt.time(12), is_active=False)
    )
    entries = availability_calendar(store, MONDAY, MONDAY + dt.timedelta(days=6))
    assert len(entries) == 14
    table = {(e.day.isoformat(), e.period.value): (e.is_open, e.capacity, e.booked, e.remaining)
             for e in entries}
    assert table[("2025-12-01", "AFTERNOON")] == (True, 240, 70, 170)
    assert table[("2025-12-01", "MORNING")] == (True, 180, 0, 180)
    assert table[("2025-12-02", "MORNING")] == (False, 0, 0, 0)  # slot deactivated
    assert table[("2025-12-06", "AFTERNOON")] == (False, 0, 0, 0)  # Saturday afternoon
    assert table[("2025-12-07", "MORNING")] == (False, 0, 0, 0)  # Sunday


def test_calendar_range_is_checked() -> None:
    with pytest.raises(InvalidRequest, match="end"):
        availability_calendar(MemoryStore(), MONDAY, MONDAY - dt.timedelta(days=1))
    with pytest.raises(InvalidRequest, match="at most"):
        availability_calendar(MemoryStore(), MONDAY, MONDAY + dt.timedelta(days=400))
