"""Records validate on construction: an invalid one cannot exist."""

from __future__ import annotations

import datetime as dt

import pytest

from slotcap import DEFAULT_SERVICES, DEFAULT_TIME_SLOTS, ClinicTimeSlot, Period, Service
from slotcap.domain.model import ReservationStatus, ServiceLimit


def test_default_services_are_the_plans_six() -> None:
    table = {s.code: (s.name, s.duration_minutes, s.buffer_minutes) for s in DEFAULT_SERVICES}
    assert table == {
        "WRINKLE_BOTOX": ("주름/보톡스", 30, 10),
        "VOLUME_LIFTING": ("볼륨/리프팅", 45, 15),
        "SKIN_CARE": ("피부케어", 60, 10),
        "REMOVAL_PROCEDURE": ("제거시술", 40, 10),
        "BODY_CARE": ("바디케어", 50, 10),
        "OTHER_CONSULTATION": ("기타 상담", 20, 5),
    }
    assert [s.display_order for s in DEFAULT_SERVICES] == [1, 2, 3, 4, 5, 6]


def test_default_time_slots_are_the_plans_eleven() -> None:
    assert len(DEFAULT_TIME_SLOTS) == 11
    by_key = {(s.day_of_week, s.period): s.total_minutes for s in DEFAULT_TIME_SLOTS}
    for day in range(1, 6):
        assert by_key[(day, Period.MORNING)] == 180
        assert by_key[(day, Period.AFTERNOON)] == 240
    assert by_key[(6, Period.MORNING)] == 240
    assert (6, Period.AFTERNOON) not in by_key
    assert not any(day == 0 for day, _ in by_key)  # Sunday closed


def test_total_minutes_is_derived_and_end_must_follow_start() -> None:
    slot = ClinicTimeSlot(
        id="s", day_of_week=1, period="MORNING", start_time=dt.time(9), end_time=dt.time(12, 30)
    )
    assert slot.total_minutes == 210
    with pytest.raises(ValueError, match="end_time"):
        ClinicTimeSlot(
            id="s", day_of_week=1, period=Period.MORNING,
            start_time=dt.time(12), end_time=dt.time(12),
        )


@pytest.mark.parametrize("day", [-1, 7, 10])
def test_day_of_week_range(day: int) -> None:
    with pytest.raises(ValueError, match="day_of_week"):
        ClinicTimeSlot(
            id="s", day_of_week=day, period=Period.MORNING,
            start_time=dt.time(9), end_time=dt.time(12),
        )


def test_negative_minutes_and_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="duration_minutes"):
        Service(id="x", code="X", name="x", duration_minutes=-1)
    with pytest.raises(ValueError, match="buffer_minutes"):
        Service(id="x", code="X", name="x", buffer_minutes=-5)
    with pytest.raises(ValueError, match="daily_limit"):
        ServiceLimit(service_code="X", daily_limit=-1)


def test_soft_deleted_or_inactive_service_is_not_bookable() -> None:
    base = DEFAULT_SERVICES[0]
    assert base.is_bookable
    assert not Service(id="a", code="A", name="a", is_active=False).is_bookable
    assert not Service(id="a", code="A", name="a", deleted_at=dt.datetime(2025, 1, 1)).is_bookable


def test_only_pending_and_confirmed_hold_capacity() -> None:
    holding = {s for s in ReservationStatus if s.holds_capacity}
    assert holding == {ReservationStatus.PENDING, ReservationStatus.CONFIRMED}
