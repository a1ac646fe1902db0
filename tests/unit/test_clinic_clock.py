"""One clock where "today" matters: ``slotcap.book(store, request, dynamic=...)`` without
a clock takes "today" from the clinic's stored time zone, as ``bootstrap`` wires
``App.clock`` — never the machine's zone."""

from __future__ import annotations

import contextlib
import datetime as dt
import zoneinfo

import pytest
from tests.builders import request

import slotcap
from slotcap.adapters.memory import MemoryStore
from slotcap.bootstrap import bootstrap
from slotcap.errors import InvalidRequest, ReservationFull
from slotcap.usecases import set_hours

# 25 hours apart: at every instant their calendar dates differ, whatever the machine's.
AHEAD, BEHIND = "Pacific/Kiritimati", "Pacific/Pago_Pago"


def _date_in(zone: str) -> dt.date:
    return dt.datetime.now(zoneinfo.ZoneInfo(zone)).date()


def test_book_without_a_clock_uses_the_clinics_today() -> None:
    store = MemoryStore()
    store.set_clinic_time_zone(AHEAD)
    behind = _date_in(BEHIND)
    with pytest.raises(InvalidRequest) as refused:  # the clinic's yesterday or before
        slotcap.book(store, request(preferred_date=behind.isoformat()), dynamic=True)
    assert set(refused.value.fields) == {"preferred_date"}
    # The clinic's today is inside the window (a closed weekday may still refuse).
    with contextlib.suppress(ReservationFull):
        slotcap.book(store, request(preferred_date=_date_in(AHEAD).isoformat()), dynamic=True)


def test_the_default_clock_and_app_clock_agree() -> None:
    store = MemoryStore()
    store.set_clinic_time_zone(BEHIND)
    with bootstrap(store=store, env={}) as app:
        assert app.clock.today() == _date_in(BEHIND)
        change = set_hours(store, "mon", "morning", start="09:00", end="12:00", dry_run=True)
        # The over-capacity window starts on the clinic's today (set_hours' own default).
        assert change.window_start == _date_in(BEHIND)
