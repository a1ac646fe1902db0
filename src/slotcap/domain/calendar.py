"""The one place where calendar dates become ``dayOfWeek`` numbers.

The database (and the JavaScript app that wrote it) counts days with ``getDay()``:
0 = Sunday … 6 = Saturday. Python's ``date.weekday()`` is 0 = Monday. Converting in
exactly one function keeps the two conventions from meeting anywhere else.

Dates are calendar dates in the clinic's time zone; never derive them from a UTC
timestamp (a 00:30 KST booking is the previous day in UTC).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TypeAlias

__all__ = ["DAY_NAMES", "DayOfWeek", "date_range", "day_of_week", "hh_mm"]

#: 0 = Sunday … 6 = Saturday, as JavaScript's ``Date.getDay()``.
DayOfWeek: TypeAlias = int

DAY_NAMES: tuple[str, ...] = (
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
)


def day_of_week(day: dt.date) -> DayOfWeek:
    """Return the clinic's ``dayOfWeek`` (0 = Sunday … 6 = Saturday) for a calendar date."""
    # isoweekday(): Monday = 1 … Sunday = 7; modulo 7 maps Sunday to 0 and keeps the rest.
    return day.isoweekday() % 7


def date_range(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    """Every date from ``start`` to ``end`` inclusive."""
    for offset in range((end - start).days + 1):
        yield start + dt.timedelta(days=offset)


def hh_mm(clock: dt.time) -> str:
    """``clock.strftime("%H:%M")`` without ``strftime``'s detour through a C ``struct tm``
    (a booking formats its slot's times on every attempt)."""
    return f"{clock.hour:02d}:{clock.minute:02d}"
