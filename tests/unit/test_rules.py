"""Laws of the capacity rules, as Hypothesis properties."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from tests.strategies.records import minutes, reservations, services, time_slots

from slotcap import DEFAULT_SERVICES, Period, Reason, ReservationStatus
from slotcap.domain.model import ClinicTimeSlot, Reservation, Service, ServiceLimit
from slotcap.domain.rules import (
    check_daily_limit,
    check_period_capacity,
    estimated_duration,
    minutes_for,
    minutes_held,
)

DAY = dt.date(2025, 12, 1)
BY_CODE = {s.code: s for s in DEFAULT_SERVICES}
BOTOX = BY_CODE["WRINKLE_BOTOX"]  # 30 + 10


def _slot(total: int, *, active: bool = True) -> ClinicTimeSlot:
    return ClinicTimeSlot(
        id="s", day_of_week=1, period=Period.MORNING,
        start_time=dt.time(0), end_time=dt.time(total // 60, total % 60), is_active=active,
    )


@given(services(bookable=True))
def test_estimated_duration_is_duration_plus_buffer(service: Service) -> None:
    assert estimated_duration(service) == service.duration_minutes + service.buffer_minutes


def test_estimated_duration_rejects_negative_values_even_if_smuggled_in() -> None:
    broken = attrs.evolve(BOTOX)
    object.__setattr__(broken, "buffer_minutes", -1)  # bypass validation, as a bad row might
    with pytest.raises(ValueError, match="negative"):
        estimated_duration(broken)


@given(services(bookable=True), time_slots(active=True))
def test_exact_fit_is_allowed_and_one_minute_more_is_not(
    service: Service, slot: ClinicTimeSlot
) -> None:
    needed = estimated_duration(service)
    assume(needed <= slot.total_minutes)
    exact = check_period_capacity(
        service=service, slot=slot, held_minutes=slot.total_minutes - needed
    )
    assert exact.allowed and exact.reason is Reason.AVAILABLE
    assert exact.remaining == needed
    over = check_period_capacity(
        service=service, slot=slot, held_minutes=slot.total_minutes - needed + 1
    )
    assert not over.allowed and over.reason is Reason.FULL


@given(services(bookable=True), time_slots(active=True), minutes)
def test_never_allowed_with_less_room_than_the_service_needs(
    service: Service, slot: ClinicTimeSlot, held: int
) -> None:
    decision = check_period_capacity(service=service, slot=slot, held_minutes=held)
    room = slot.total_minutes - held
    assert decision.allowed == (room >= estimated_duration(service))
    assert decision.remaining == max(room, 0)


@given(services(bookable=True), time_slots(active=True), minutes, minutes)
def test_more_booked_never_turns_full_into_available(
    service: Service, slot: ClinicTimeSlot, held: int, more: int
) -> None:
    before = check_period_capacity(service=service, slot=slot, held_minutes=held)
    after = check_period_capacity(service=service, slot=slot, held_minutes=held + more)
    if not before.allowed:
        assert not after.allowed
    assert (after.remaining or 0) <= (before.remaining or 0)


@given(services(), time_slots(), minutes)
def test_reasons_come_in_order(service: Service, slot: ClinicTimeSlot, held: int) -> None:
    decision = check_period_capacity(service=service, slot=slot, held_minutes=held)
    if not service.is_bookable:
        assert decision.reason is Reason.SERVICE_INACTIVE
    elif not slot.is_active:
        assert decision.reason is Reason.CLOSED
    else:
        assert decision.reason in (Reason.AVAILABLE, Reason.FULL)
    assert decision.allowed == (decision.reason is Reason.AVAILABLE)


def test_unknown_service_and_closed_periods() -> None:
    assert check_period_capacity(service=None, slot=_slot(180), held_minutes=0).reason is (
        Reason.UNKNOWN_SERVICE
    )
    assert check_period_capacity(service=BOTOX, slot=None, held_minutes=0).reason is Reason.CLOSED
    inactive = check_period_capacity(service=BOTOX, slot=_slot(180, active=False), held_minutes=0)
    assert inactive.reason is Reason.CLOSED and not inactive.allowed


@given(st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=60))
def test_daily_limit_law(limit: int, held: int) -> None:
    decision = check_daily_limit(limit=ServiceLimit(service_code="X", daily_limit=limit),
                                 held_count=held)
    assert decision.allowed == (held < limit)
    assert decision.reason is (Reason.AVAILABLE if held < limit else Reason.FULL)
    assert decision.remaining == max(limit - held, 0)
    more = check_daily_limit(limit=ServiceLimit(service_code="X", daily_limit=limit),
                             held_count=held + 1)
    assert not (more.allowed and not decision.allowed)


def test_missing_or_inactive_limit_refuses_like_the_live_app() -> None:
    assert check_daily_limit(limit=None, held_count=0).reason is Reason.NO_LIMIT
    inactive = ServiceLimit(service_code="X", daily_limit=10, is_active=False)
    decision = check_daily_limit(limit=inactive, held_count=0)
    assert decision.reason is Reason.LIMIT_INACTIVE and not decision.allowed


def test_negative_inputs_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="held_minutes"):
        check_period_capacity(service=BOTOX, slot=_slot(60), held_minutes=-1)
    with pytest.raises(ValueError, match="held_count"):
        check_daily_limit(limit=None, held_count=-1)


# -- minutes_held: how held capacity is counted ----------------------------------------


@given(st.lists(reservations(day=DAY), max_size=30), st.sampled_from(Period))
def test_minutes_held_counts_only_holding_reservations_of_the_period_or_unknown(
    rows: list[Reservation], period: Period
) -> None:
    expected = sum(
        minutes_for(r, BY_CODE)
        for r in rows
        if r.status in (ReservationStatus.PENDING, ReservationStatus.CONFIRMED)
        and r.period in (None, period)
    )
    assert minutes_held(rows, day=DAY, period=period, services_by_code=BY_CODE) == expected


@given(reservations(day=DAY))
def test_a_row_without_duration_holds_its_services_minutes_never_zero(row: Reservation) -> None:
    legacy = attrs.evolve(row, estimated_duration=None, service_id=None)
    assert legacy.service is not None
    assert minutes_for(legacy, BY_CODE) == estimated_duration(BY_CODE[legacy.service])
    assert minutes_for(legacy, BY_CODE) > 0


def test_service_id_wins_over_the_legacy_code_and_unknown_falls_back_to_longest() -> None:
    row = Reservation(
        id="r1", patient_name="p", phone="010-1234-5678", birth_date=dt.date(1990, 1, 1),
        gender="FEMALE", treatment_type="FIRST_VISIT", preferred_date=DAY,
    )
    by_id = {s.id: s for s in DEFAULT_SERVICES}
    legacy = attrs.evolve(row, estimated_duration=None, service="WRINKLE_BOTOX",
                          service_id="srv_skin_care")
    assert minutes_for(legacy, BY_CODE, by_id) == 70
    orphan = attrs.evolve(row, estimated_duration=None, service="GONE", service_id=None)
    assert minutes_for(orphan, BY_CODE) == max(estimated_duration(s) for s in DEFAULT_SERVICES)


@given(reservations(day=DAY))
def test_unknown_period_holds_in_both_periods(row: Reservation) -> None:
    held = attrs.evolve(row, period=None, status=ReservationStatus.PENDING)
    for period in Period:
        assert minutes_held([held], day=DAY, period=period, services_by_code=BY_CODE) == (
            minutes_for(held, BY_CODE)
        )


@given(reservations())
def test_other_dates_never_count(row: Reservation) -> None:
    assume(row.preferred_date != DAY)
    for period in Period:
        assert minutes_held([row], day=DAY, period=period, services_by_code=BY_CODE) == 0
