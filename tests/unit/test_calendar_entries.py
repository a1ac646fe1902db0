"""The calendar's entries built by their slots (adapters/sql/held_sql.py) are the very
objects ``CalendarEntry(...)`` builds: equal, hashed alike, frozen, evolvable — and the
fast path is on only while CalendarEntry's fields are the ones it sets."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from slotcap.adapters.sql import held_sql
from slotcap.domain.model import ClinicTimeSlot, Period
from slotcap.ports import CalendarEntry


def test_the_fast_path_is_on_for_todays_calendar_entry() -> None:
    assert held_sql._SLOT_SETTERS is not None
    assert tuple(f.name for f in attrs.fields(CalendarEntry)) == held_sql._FIELDS


@given(day=st.dates(), period=st.sampled_from(list(Period)), is_open=st.booleans(),
       capacity=st.integers(0, 1440), booked=st.integers(0, 10_000))
def test_an_entry_by_its_slots_is_the_entry(
    day: dt.date, period: Period, is_open: bool, capacity: int, booked: int
) -> None:
    made = held_sql.calendar_entry(day, period, is_open, capacity, booked)
    plain = CalendarEntry(day=day, period=period, is_open=is_open, capacity=capacity,
                          booked=booked)
    assert made == plain and hash(made) == hash(plain) and repr(made) == repr(plain)
    assert made.remaining == plain.remaining and made.closed_reason is None
    assert attrs.evolve(made, capacity=0) == attrs.evolve(plain, capacity=0)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        made.booked = 1  # type: ignore[misc]


def _slots() -> dict[tuple[int, Period], ClinicTimeSlot]:
    morning = ClinicTimeSlot(id="m", day_of_week=1, period=Period.MORNING,
                             start_time=dt.time(9), end_time=dt.time(12), is_active=True)
    closed = attrs.evolve(morning, id="a", period=Period.AFTERNOON, is_active=False)
    return {(1, Period.MORNING): morning, (1, Period.AFTERNOON): closed}


@given(start=st.dates(dt.date(2020, 1, 1), dt.date(2030, 1, 1)), days=st.integers(1, 40),
       data=st.data())
def test_dense_entries_equal_the_row_entries(start: dt.date, days: int,
                                             data: st.DataObject) -> None:
    booked = data.draw(st.lists(st.integers(0, 500), min_size=2 * days, max_size=2 * days))
    end = start + dt.timedelta(days=days - 1)
    rows = [(start + dt.timedelta(days=i // 2), list(Period)[i % 2].value, m, 0)
            for i, m in enumerate(booked) if m]
    slots = _slots()
    dense = held_sql.dense_calendar_entries(start, booked, slots)
    assert dense == held_sql.ledger_calendar_entries(start, end, rows, slots, lambda d: d)
    skeleton = held_sql.calendar_skeleton(start, days, slots)  # the lean calendar's build
    assert skeleton is not None and held_sql.set_booked(skeleton, booked)
    assert dense == skeleton
    assert [(e.day, e.period) for e in dense][:2] == [(start, Period.MORNING),
                                                      (start, Period.AFTERNOON)]
