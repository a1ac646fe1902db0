"""Hypothesis strategies for the domain records, shared by unit and integration tests."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from slotcap.domain.model import (
    LEGACY_SERVICE_CODES,
    ClinicTimeSlot,
    Gender,
    Period,
    Reservation,
    ReservationStatus,
    Service,
    ServiceLimit,
    TreatmentType,
)

__all__ = [
    "dates",
    "minutes",
    "reservations",
    "service_limits",
    "services",
    "time_slots",
]

minutes = st.integers(min_value=0, max_value=600)
dates = st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2030, 12, 31))


@st.composite
def services(draw: st.DrawFn, *, code: str | None = None, bookable: bool | None = None) -> Service:
    service_code = code or draw(st.sampled_from(LEGACY_SERVICE_CODES))
    active = draw(st.booleans()) if bookable is None else bookable
    deleted = None if bookable or not draw(st.booleans()) else dt.datetime(2025, 1, 1)
    return Service(
        id=f"srv_{service_code.lower()}",
        code=service_code,
        name=service_code.title(),
        duration_minutes=draw(st.integers(min_value=0, max_value=240)),
        buffer_minutes=draw(st.integers(min_value=0, max_value=60)),
        is_active=active,
        deleted_at=deleted,
    )


@st.composite
def time_slots(draw: st.DrawFn, *, active: bool | None = None) -> ClinicTimeSlot:
    start = draw(st.integers(min_value=0, max_value=23 * 60 + 58))
    end = draw(st.integers(min_value=start + 1, max_value=23 * 60 + 59))
    period = draw(st.sampled_from(Period))
    day = draw(st.integers(min_value=0, max_value=6))
    return ClinicTimeSlot(
        id=f"slot_{day}_{period.value.lower()}",
        day_of_week=day,
        period=period,
        start_time=dt.time(start // 60, start % 60),
        end_time=dt.time(end // 60, end % 60),
        is_active=draw(st.booleans()) if active is None else active,
    )


service_limits = st.builds(
    ServiceLimit,
    service_code=st.sampled_from(LEGACY_SERVICE_CODES),
    daily_limit=st.integers(min_value=0, max_value=50),
    is_active=st.booleans(),
)


@st.composite
def reservations(
    draw: st.DrawFn,
    *,
    day: dt.date | None = None,
    period: Period | None = None,
) -> Reservation:
    code = draw(st.sampled_from(LEGACY_SERVICE_CODES))
    return Reservation(
        id=draw(st.uuids()).hex,
        patient_name="환자",
        phone="010-1234-5678",
        birth_date=dt.date(1990, 1, 1),
        gender=draw(st.sampled_from(Gender)),
        treatment_type=draw(st.sampled_from(TreatmentType)),
        preferred_date=day or draw(dates),
        status=draw(st.sampled_from(ReservationStatus)),
        service=code,
        preferred_time="10:00",
        service_id=f"srv_{code.lower()}",
        estimated_duration=draw(st.none() | minutes),
        period=period or draw(st.none() | st.sampled_from(Period)),
    )
