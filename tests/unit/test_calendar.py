"""dayOfWeek is 0 = Sunday … 6 = Saturday, converted in exactly one place."""

from __future__ import annotations

import calendar as stdlib_calendar
import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from slotcap.domain.calendar import date_range, day_of_week, hh_mm


@given(st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)))
def test_day_of_week_agrees_with_the_standard_library(day: dt.date) -> None:
    # strftime("%w") is C's tm_wday: 0 = Sunday, the JavaScript getDay() convention.
    assert day_of_week(day) == int(day.strftime("%w"))
    assert day_of_week(day) == (stdlib_calendar.weekday(day.year, day.month, day.day) + 1) % 7


def test_known_dates() -> None:
    assert day_of_week(dt.date(2025, 12, 7)) == 0  # a Sunday
    assert day_of_week(dt.date(2025, 12, 1)) == 1  # a Monday
    assert day_of_week(dt.date(2025, 12, 6)) == 6  # a Saturday


@given(st.dates(max_value=dt.date(9000, 1, 1)), st.integers(min_value=0, max_value=60))
def test_date_range_is_inclusive_and_consecutive(start: dt.date, length: int) -> None:
    end = start + dt.timedelta(days=length)
    days = list(date_range(start, end))
    assert days[0] == start and days[-1] == end and len(days) == length + 1


@given(st.times())
def test_hh_mm_is_strftime_hours_and_minutes(clock: dt.time) -> None:
    assert hh_mm(clock) == clock.strftime("%H:%M")
    assert hh_mm(clock.replace(tzinfo=dt.UTC)) == clock.strftime("%H:%M")
