"""Hypothesis strategies for the phase-3 monitor: reservations created at chosen
instants, in each shape a writer leaves them (every new column, none, or some)."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from slotcap.domain.clock import db_timestamp
from slotcap.domain.model import Period, Reservation, ReservationStatus

__all__ = ["SHAPES", "created_reservations", "shape_of"]

#: complete: what the dynamic path writes; old: a writer of the old columns only;
#: no_period: a dual-writing legacy path that could not read the time;
#: no_service: a dual-writing legacy path that did not find the service.
SHAPES = ("complete", "old", "no_period", "no_service")


def shape_of(r: Reservation) -> str:
    service = (r.service_id, r.service_name, r.estimated_duration)
    if all(v is not None for v in service):
        return "complete" if r.period is not None else "no_period"
    if r.period is None and all(v is None for v in service):
        return "old"
    return "no_service"


@st.composite
def created_reservations(
    draw: st.DrawFn, *, around: dt.datetime, spread_hours: int = 30, max_size: int = 40
) -> list[Reservation]:
    """Reservations with distinct ids created within ``spread_hours`` before and two
    hours after ``around`` (aware), at millisecond precision as stored; about half of
    them on an hour boundary or a millisecond either side of one."""
    offsets = st.integers(min_value=-spread_hours * 3_600_000, max_value=2 * 3_600_000)
    count = draw(st.integers(min_value=0, max_value=max_size))
    rows = []
    for i in range(count):
        shape = draw(st.sampled_from(SHAPES))
        if draw(st.booleans()):  # on an hour boundary, or a millisecond either side
            hour = around.replace(minute=0, second=0, microsecond=0) + dt.timedelta(
                hours=draw(st.integers(min_value=-spread_hours, max_value=2)))
            at = db_timestamp(hour + dt.timedelta(milliseconds=draw(st.sampled_from((-1, 0, 1)))))
        else:
            at = db_timestamp(around + dt.timedelta(milliseconds=draw(offsets)))
        has_service = shape in ("complete", "no_period")
        rows.append(Reservation(
            id=f"r{i}",
            patient_name="김하늘",
            phone="010-1234-5678",
            birth_date=dt.date(1990, 1, 1),
            gender="FEMALE",
            treatment_type="FIRST_VISIT",
            preferred_date=dt.date(2025, 12, 1),
            status=draw(st.sampled_from(ReservationStatus)),
            service="WRINKLE_BOTOX",
            preferred_time="10:00",
            service_id="srv_wrinkle_botox" if has_service else None,
            service_name="주름 보톡스" if has_service else None,
            estimated_duration=40 if has_service else None,
            period=Period.MORNING if shape in ("complete", "no_service") else None,
            created_at=at,
            updated_at=at,
        ))
    return rows
