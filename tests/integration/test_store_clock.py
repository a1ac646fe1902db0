"""Every store takes its timestamps from the clock the composition root gives it."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.integration.store_helpers import build_sql_database, open_sql_store, put, row

from slotcap import ReservationStatus
from slotcap.bootstrap import open_store
from slotcap.domain.clock import FixedClock

AT = dt.datetime(2031, 2, 3, 4, 5, 6, 789_000, tzinfo=dt.UTC)


def test_sql_stores_stamp_writes_with_the_injected_clock(sql_url: str) -> None:
    build_sql_database(sql_url)
    with open_sql_store(sql_url, clock=FixedClock(AT)) as store:
        put(store, row(rid="clocked"))
        changed = store.set_status("clocked", ReservationStatus.CANCELLED, changed_by="t")
        assert changed.status_changed_at == AT.replace(tzinfo=None)
        assert changed.updated_at == AT.replace(tzinfo=None)


@pytest.mark.parametrize("url", ["memory://"])
def test_open_store_hands_the_clock_to_the_store(url: str) -> None:
    with open_store(url, clock=FixedClock(AT)) as store:
        put(store, row(rid="m"))
        changed = store.set_status("m", ReservationStatus.CANCELLED)
        assert changed.status_changed_at == AT.replace(tzinfo=None)
