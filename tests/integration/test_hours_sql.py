"""The weekly hours use cases on SQLite and PostgreSQL: the phase-1 requirement, the
upsert by (weekday, period) that keeps the row's id and createdAt and moves updatedAt,
totalMinutes consistent with the table's CHECK, the over-capacity warning from the
stores' calendar (rows without a period included), concurrent changes of one slot, and
a long-lived store's next booking reading the new hours."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from tests.builders import MONDAY, ON_TODAY, TODAY, request
from tests.integration.store_helpers import put, row

from slotcap import FixedClock, InvalidRequest, SchemaStateError, book, bootstrap
from slotcap.domain.defaults import DEFAULT_TIME_SLOTS
from slotcap.domain.model import ClinicTimeSlot, Period, ReservationStatus
from slotcap.errors import InvalidHoursDefinition
from slotcap.sql import open_sql
from slotcap.usecases.hours import list_hours, set_hours

TUESDAY = MONDAY + dt.timedelta(days=1)
SUNDAY = MONDAY + dt.timedelta(days=6)
EARLY = FixedClock(dt.datetime(2025, 11, 28, 9, tzinfo=dt.UTC), day=TODAY)
LATER = FixedClock(dt.datetime(2025, 11, 28, 10, tzinfo=dt.UTC), day=TODAY)


def _rows(url: str) -> dict[tuple[int, str], tuple[Any, ...]]:
    with open_sql(url) as conn:
        found = conn.execute(
            'SELECT "dayOfWeek", "period", "id", "startTime", "endTime", "totalMinutes", '
            '"isActive", "createdAt", "updatedAt" FROM "clinic_time_slots"'
        )
    return {(int(r[0]), str(r[1])): tuple(r[2:]) for r in found}


def test_before_phase_1_every_hours_call_is_refused(legacy_url: str) -> None:
    with bootstrap(legacy_url, env={}, clock=EARLY) as app:
        for call in (
            lambda: list_hours(app.store),
            lambda: set_hours(app.store, "tue", "MORNING", start="09:00", end="11:00"),
            lambda: set_hours(app.store, "tue", "MORNING", closed=True),
        ):
            with pytest.raises(SchemaStateError) as caught:
                call()
            assert "phase 1" in caught.value.message


def test_set_close_reopen_persist_as_an_upsert(phase1_url: str) -> None:
    seeded = _rows(phase1_url)
    assert len(seeded) == len(DEFAULT_TIME_SLOTS)
    with bootstrap(phase1_url, env={}, clock=EARLY) as app:
        assert list_hours(app.store) == sorted(
            DEFAULT_TIME_SLOTS, key=lambda s: (s.day_of_week, s.period != Period.MORNING))
        set_hours(app.store, "tue", "afternoon", start="13:00", end="20:00", clock=ON_TODAY)
        set_hours(app.store, "Saturday", "MORNING", closed=True, clock=ON_TODAY)
        set_hours(app.store, "sun", "MORNING", start="10:00", end="12:30", clock=ON_TODAY)
        with pytest.raises(InvalidHoursDefinition) as overlap:
            set_hours(app.store, "tue", "MORNING", start="09:00", end="13:30", clock=ON_TODAY)
        assert overlap.value.fields.keys() == {"end"}
    rows = _rows(phase1_url)
    assert len(rows) == len(DEFAULT_TIME_SLOTS) + 1
    tue = rows[(2, "AFTERNOON")]
    old = seeded[(2, "AFTERNOON")]
    # Same row: id and createdAt kept; times, derived minutes and updatedAt new.
    assert (tue[0], tue[1], tue[2], tue[3], tue[5]) == (old[0], "13:00", "20:00", 420, old[5])
    assert tue[6] != old[6]
    sat = rows[(6, "MORNING")]
    assert (sat[0], sat[1], sat[2], sat[3], bool(sat[4])) == (
        "slot_6_morning", "09:00", "13:00", 240, False)
    assert rows[(0, "MORNING")][:5] == ("slot_0_morning", "10:00", "12:30", 150, True)
    assert rows[(2, "MORNING")] == seeded[(2, "MORNING")]  # the refused change wrote nothing
    # A new connection's calendar serves the new capacities.
    with bootstrap(phase1_url, env={}, clock=LATER) as app:
        calendar = {(e.day, e.period): e for e in app.store.calendar(MONDAY, SUNDAY)}
        assert calendar[(TUESDAY, Period.AFTERNOON)].capacity == 420
        assert calendar[(MONDAY, Period.AFTERNOON)].capacity == 240
        saturday = calendar[(MONDAY + dt.timedelta(days=5), Period.MORNING)]
        assert (saturday.is_open, saturday.capacity) == (False, 0)
        assert calendar[(SUNDAY, Period.MORNING)].capacity == 150
        set_hours(app.store, "sat", "morning", start="08:00", end="12:00", clock=ON_TODAY)
    assert _rows(phase1_url)[(6, "MORNING")][:5] == (
        "slot_6_morning", "08:00", "12:00", 240, True)


def test_over_capacity_dates_from_the_sql_calendar_and_nothing_cancelled(
    phase1_url: str,
) -> None:
    with bootstrap(phase1_url, env={}, clock=EARLY) as app:
        store = app.store
        made = [book(store, request(preferred_date=TUESDAY.isoformat(), period="AFTERNOON",
                                    preferred_time=None, service="SKIN_CARE"),
                     dynamic=True, clock=EARLY).id for _ in range(2)]  # 2 x 70 min
        later = TUESDAY + dt.timedelta(days=14)
        # A row without a period holds its minutes in both periods of its date; a
        # cancelled one holds nothing.
        put(store, row(later, code="SKIN_CARE", period=None, minutes=100),
            row(later, code="SKIN_CARE", period=Period.AFTERNOON, minutes=500,
                status=ReservationStatus.CANCELLED))
        change = set_hours(store, "tue", "AFTERNOON", start="14:00", end="15:30",
                           clock=ON_TODAY)
        assert [(o.day, o.held_minutes, o.capacity) for o in change.over_capacity] == [
            (TUESDAY, 140, 90), (later, 100, 90)]
        closed = set_hours(store, "tue", "AFTERNOON", closed=True, dry_run=True, clock=ON_TODAY)
        assert not closed.saved
        assert [(o.day, o.capacity) for o in closed.over_capacity] == [
            (TUESDAY, 0), (later, 0)]
        for rid in made:
            kept = store.get_reservation(rid)
            assert kept is not None and kept.status is ReservationStatus.PENDING
    assert _rows(phase1_url)[(2, "AFTERNOON")][1:5] == ("14:00", "15:30", 90, True)


@pytest.mark.parametrize("weekday", ["tue", "sun"])  # an existing row, and a new one
def test_concurrent_changes_of_one_slot_last_write_wins(phase1_url: str, weekday: str) -> None:
    rounds = 31  # the last round opens the period
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    ends = {"a": "11:00", "b": "11:30"}

    def change(who: str) -> None:
        with bootstrap(phase1_url, env={}, clock=EARLY) as app:
            app.store.list_time_slots()  # connected before the race starts
            for n in range(rounds):
                barrier.wait(timeout=30)
                try:
                    if n % 3 == 2:
                        set_hours(app.store, weekday, "MORNING", closed=True, clock=ON_TODAY)
                    else:
                        set_hours(app.store, weekday, "MORNING", start="09:00",
                                  end=ends[who], clock=ON_TODAY)
                except BaseException as exc:  # any failure fails the test
                    errors.append(exc)
                if weekday == "sun" and n % 3 == 2:
                    barrier.wait(timeout=30)
                    if who == "a":  # the next round races to insert the row again
                        with open_sql(phase1_url) as conn:
                            conn.execute('DELETE FROM "clinic_time_slots" '
                                         'WHERE "dayOfWeek" = 0')
                    barrier.wait(timeout=30)

    threads = [threading.Thread(target=change, args=(who,)) for who in ends]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    number = 2 if weekday == "tue" else 0
    morning = [r for k, r in _rows(phase1_url).items() if k == (number, "MORNING")]
    assert len(morning) == 1
    ident, start, end, minutes, active = morning[0][:5]
    assert ident == f"slot_{number}_morning" and bool(active)
    assert (start, end) in {("09:00", "11:00"), ("09:00", "11:30")}
    assert minutes == (120 if end == "11:00" else 150)


def test_a_long_lived_store_books_with_the_new_hours(phase1_url: str) -> None:
    # "7:00" is ambiguous in the seed's hours and 19:00 once Tuesday's afternoon runs
    # to 20:00: the long-lived store (a web app's) sees another process's change at
    # its next booking.
    evening = request(preferred_date=TUESDAY.isoformat(), preferred_time="7:00", period=None)
    with bootstrap(phase1_url, env={}, clock=EARLY) as web:
        with pytest.raises(InvalidRequest):
            book(web.store, evening, dynamic=True, clock=EARLY)
        assert book(web.store, request(), dynamic=True, clock=EARLY).period is Period.MORNING
        with bootstrap(phase1_url, env={}, clock=LATER) as admin:
            set_hours(admin.store, "tue", "AFTERNOON", start="14:00", end="20:00",
                      clock=ON_TODAY)
        booked = book(web.store, evening, dynamic=True, clock=EARLY)
        assert booked.period is Period.AFTERNOON
        slots: list[ClinicTimeSlot] = web.store.list_time_slots()
        assert any(s.day_of_week == 2 and s.end_time == dt.time(20) for s in slots)


def test_save_under_another_id_updates_the_row_of_that_weekday_and_period(
    phase1_url: str,
) -> None:
    # The port's contract, as the memory store keeps it: one row per (weekday, period).
    with bootstrap(phase1_url, env={}, clock=LATER) as app:
        app.store.save_time_slot(ClinicTimeSlot(id="other", day_of_week=2,
                                                period=Period.MORNING,
                                                start_time=dt.time(8), end_time=dt.time(11)))
        (tuesday,) = [s for s in list_hours(app.store)
                      if (s.day_of_week, s.period) == (2, Period.MORNING)]
        assert (tuesday.id, tuesday.start_time, tuesday.total_minutes) == (
            "slot_2_morning", dt.time(8), 180)
