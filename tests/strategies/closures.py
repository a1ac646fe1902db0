"""Hypothesis strategies for closures and overrides (``slotcap.domain.closures``)."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from slotcap.domain.closures import Closure
from slotcap.domain.model import Period

__all__ = ["closures", "days", "rrules"]

_BASE = dt.date(2025, 1, 1)

#: Dates within a few years (recurrences are checked against a brute-force expansion).
days = st.integers(0, 3 * 366).map(lambda n: _BASE + dt.timedelta(days=n))

_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

rrules = st.one_of(
    st.just("FREQ=YEARLY"),
    st.just("FREQ=MONTHLY"),
    st.integers(1, 3).map(lambda n: f"FREQ=DAILY;INTERVAL={n}"),
    st.lists(st.sampled_from(_WEEKDAYS), min_size=1, max_size=3, unique=True).map(
        lambda ds: f"FREQ=WEEKLY;BYDAY={','.join(ds)}"
    ),
    st.integers(1, 28).map(lambda d: f"FREQ=MONTHLY;BYMONTHDAY={d}"),
    st.integers(2, 5).map(lambda n: f"FREQ=WEEKLY;COUNT={n}"),
)


@st.composite
def closures(draw: st.DrawFn, *, closes: bool | None = None) -> Closure:
    start = draw(days)
    end = draw(st.none() | st.integers(0, 400).map(lambda n: start + dt.timedelta(days=n)))
    capacity = None if closes else draw(st.integers(0, 600)) if closes is False else draw(
        st.none() | st.integers(0, 600))
    return Closure(
        id=draw(st.text("abcdef0123456789", min_size=4, max_size=8)),
        start_date=start,
        end_date=end,
        period=draw(st.none() | st.sampled_from(Period)),
        rrule=draw(st.none() | rrules),
        capacity_minutes=capacity,
        reason=draw(st.sampled_from(("설날", "public holiday", "staff training"))),
    )
