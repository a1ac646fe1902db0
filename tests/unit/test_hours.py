"""The weekly hours use cases on the in-memory store: the weekday numbering, capacity
derived from the hours, validation (field-named, all at once), overlaps, closing that
keeps the row, the over-capacity warning that cancels nothing, the phase-1
requirement, and the booking parser reading the new hours."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.builders import MONDAY, ON_TODAY, TODAY, request
from tests.strategies.budget import examples

from slotcap import InvalidRequest, SchemaState, SchemaStateError, book
from slotcap.adapters.memory import MemoryStore
from slotcap.domain.clock import DayClock
from slotcap.domain.defaults import DEFAULT_TIME_SLOTS
from slotcap.domain.model import ClinicTimeSlot, Period, ReservationStatus
from slotcap.errors import InvalidHoursDefinition
from slotcap.usecases.hours import (
    EFFECT_WEEKS,
    WEEKDAYS,
    day_of_week,
    list_hours,
    set_hours,
)

TUESDAY = MONDAY + dt.timedelta(days=1)
SUNDAY = MONDAY + dt.timedelta(days=6)
FIELDS = {"weekday", "period", "start", "end", "closed"}
CLOCKS = st.times().map(lambda t: t.replace(second=0, microsecond=0))


def _capacity(store: MemoryStore, day: dt.date, period: Period) -> int:
    (entry,) = [e for e in store.calendar(day, day) if e.period is period]
    return entry.capacity


def _minutes(clock: dt.time) -> int:
    return clock.hour * 60 + clock.minute


# -- weekday numbering -----------------------------------------------------------------


@pytest.mark.parametrize(("name", "number"), [
    ("sun", 0), ("mon", 1), ("tue", 2), ("wed", 3), ("thu", 4), ("fri", 5), ("sat", 6),
    ("Sunday", 0), ("MONDAY", 1), ("tuesday", 2), (" Wed ", 3), ("THU", 4), ("Friday", 5),
    ("saturday", 6),
])
def test_weekday_names_are_the_schemas_numbers(name: str, number: int) -> None:
    assert day_of_week(name) == number


@pytest.mark.parametrize("name", ["", "tues", "1", "월", "mo", "monday2", "lundi"])
def test_unknown_weekday_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidHoursDefinition) as caught:
        day_of_week(name)
    assert set(caught.value.fields) == {"weekday"}


def test_the_numbering_matches_the_calendar_and_the_seed() -> None:
    # The seed's Saturday (6) has only a morning, its Sunday (0) nothing: the mapping
    # agrees with the dates the calendar reads the slots for.
    store = MemoryStore()
    for offset in range(7):
        day = MONDAY + dt.timedelta(days=offset)
        number = WEEKDAYS[day.strftime("%a").lower()]
        assert number == day.isoweekday() % 7
        seeded = {s.period for s in DEFAULT_TIME_SLOTS if s.day_of_week == number}
        opened = {e.period for e in store.calendar(day, day) if e.is_open}
        assert seeded == opened


# -- capacity from the hours -------------------------------------------------------------


def test_tuesday_afternoon_changes_only_tuesday_afternoon() -> None:
    store = MemoryStore()
    before = store.calendar(MONDAY, SUNDAY)
    change = set_hours(store, "tue", "afternoon", start="13:00", end="20:00", clock=ON_TODAY)
    assert change.saved and change.capacity == 420
    assert change.slot is not None and change.slot.id == "slot_2_afternoon"  # the row's id
    assert change.previous is not None and change.previous.total_minutes == 240
    after = store.calendar(MONDAY, SUNDAY)
    differs = [(b.day, b.period) for b, a in zip(before, after, strict=True) if a != b]
    assert differs == [(TUESDAY, Period.AFTERNOON)]
    assert _capacity(store, TUESDAY, Period.AFTERNOON) == 420
    assert _capacity(store, TUESDAY + dt.timedelta(days=7), Period.AFTERNOON) == 420


@settings(max_examples=examples(2))
@given(start=CLOCKS, end=CLOCKS, period=st.sampled_from(Period), day=st.integers(0, 6))
def test_capacity_is_the_minutes_from_start_to_end(
    start: dt.time, end: dt.time, period: Period, day: int
) -> None:
    store = MemoryStore()
    # The other period of the day closed: overlap is not this test's subject.
    name = next(n for n, number in WEEKDAYS.items() if number == day)
    other = Period.AFTERNOON if period is Period.MORNING else Period.MORNING
    set_hours(store, name, other, closed=True, clock=ON_TODAY)
    before = list_hours(store)
    date = MONDAY + dt.timedelta(days=(day - 1) % 7)
    if end <= start:
        with pytest.raises(InvalidHoursDefinition) as caught:
            set_hours(store, name, period, start=start, end=end, clock=ON_TODAY)
        assert set(caught.value.fields) == {"end"}
        assert list_hours(store) == before
        return
    change = set_hours(store, name, period, start=f"{start:%H:%M}", end=f"{end:%H:%M}",
                       clock=ON_TODAY)
    assert change.capacity == _minutes(end) - _minutes(start)
    assert _capacity(store, date, period) == change.capacity
    assert _capacity(store, date, other) == 0


@given(steps=st.lists(st.tuples(
    st.sampled_from(["mon", "sat", "sun"]), st.sampled_from(Period),
    st.none() | st.tuples(CLOCKS, CLOCKS)), max_size=12))
def test_accepted_changes_never_leave_overlapping_periods(
    steps: list[tuple[str, Period, tuple[dt.time, dt.time] | None]],
) -> None:
    store = MemoryStore()
    refused: list[set[str]] = []
    for name, period, times in steps:
        try:
            if times is None:
                set_hours(store, name, period, closed=True, clock=ON_TODAY)
            else:
                set_hours(store, name, period, start=times[0], end=times[1], clock=ON_TODAY)
        except InvalidHoursDefinition as exc:
            refused.append(set(exc.fields))
    assert all(fields <= {"start", "end"} for fields in refused)
    for number in range(7):
        day = {s.period: s for s in list_hours(store) if s.day_of_week == number and s.is_active}
        if len(day) == 2:
            assert day[Period.MORNING].end_time <= day[Period.AFTERNOON].start_time


# -- validation ---------------------------------------------------------------------------


def test_every_bad_field_is_named_at_once_and_nothing_is_written() -> None:
    store = MemoryStore()
    before = list_hours(store)
    with pytest.raises(InvalidHoursDefinition) as caught:
        set_hours(store, "funday", "evening", start="25:00", end="9", clock=ON_TODAY)
    assert caught.value.fields.keys() == {"weekday", "period", "start", "end"}
    assert caught.value.code == "invalid_hours"
    assert isinstance(caught.value, InvalidRequest)
    with pytest.raises(InvalidHoursDefinition) as both:
        set_hours(store, "mon", "MORNING", start="09:00", end="12:00", closed=True)
    assert both.value.fields.keys() == {"start", "end"}
    with pytest.raises(InvalidHoursDefinition) as missing:
        set_hours(store, "mon", "MORNING", start="09:00")
    assert missing.value.fields.keys() == {"end"}
    assert list_hours(store) == before


@pytest.mark.parametrize(("start", "end"), [("12:00", "12:00"), ("13:00", "12:00"),
                                            ("23:59", "00:00")])
def test_end_must_be_after_start(start: str, end: str) -> None:
    with pytest.raises(InvalidHoursDefinition) as caught:
        set_hours(MemoryStore(), "mon", "MORNING", start=start, end=end)
    assert caught.value.fields.keys() == {"end"}
    assert "after start" in caught.value.fields["end"]


@pytest.mark.parametrize("bad", ["24:00", "9:60", "9", "0900", "09:00:00", "", " ", "9.00",
                                 "-1:00", "٠٩:٠٠", dt.time(9, 0, 30),
                                 dt.time(9, tzinfo=dt.UTC), 900])
def test_malformed_times_are_refused_by_field(bad: object) -> None:
    with pytest.raises(InvalidHoursDefinition) as caught:
        set_hours(MemoryStore(), "mon", "MORNING", start=bad, end="12:00")  # type: ignore[arg-type]
    assert caught.value.fields.keys() == {"start"}


@settings(max_examples=examples(3))
@given(weekday=st.text(max_size=12), period=st.text(max_size=12),
       start=st.text(max_size=8), end=st.text(max_size=8), closed=st.booleans())
def test_any_text_is_accepted_or_refused_by_field(
    weekday: str, period: str, start: str, end: str, closed: bool
) -> None:
    store = MemoryStore()
    refused: InvalidHoursDefinition | None = None
    try:
        set_hours(store, weekday, period, start=None if closed else start,
                  end=None if closed else end, closed=closed, clock=ON_TODAY)
    except InvalidHoursDefinition as exc:
        refused = exc
    if refused is not None:
        assert refused.fields and set(refused.fields) <= FIELDS


def test_morning_must_end_before_the_afternoon_starts() -> None:
    store = MemoryStore()
    with pytest.raises(InvalidHoursDefinition) as caught:
        set_hours(store, "tue", "MORNING", start="09:00", end="14:30")  # afternoon 14:00
    assert caught.value.fields.keys() == {"end"}
    assert "14:00" in caught.value.fields["end"]
    with pytest.raises(InvalidHoursDefinition) as late:
        set_hours(store, "tue", "AFTERNOON", start="11:59", end="18:00")  # morning to 12:00
    assert late.value.fields.keys() == {"start"}
    with pytest.raises(InvalidHoursDefinition):
        set_hours(store, "tue", "MORNING", start="15:00", end="16:00")  # after the afternoon
    # Touching is fine; a closed period overlaps nothing; another weekday is unaffected.
    set_hours(store, "tue", "MORNING", start="09:00", end="14:00", clock=ON_TODAY)
    set_hours(store, "wed", "AFTERNOON", closed=True, clock=ON_TODAY)
    set_hours(store, "wed", "MORNING", start="08:00", end="19:00", clock=ON_TODAY)
    assert _capacity(store, TUESDAY, Period.MORNING) == 300
    assert _capacity(store, TUESDAY + dt.timedelta(days=1), Period.MORNING) == 660


# -- closing ------------------------------------------------------------------------------


def test_closing_keeps_the_row_and_reopening_sets_new_times() -> None:
    store = MemoryStore()
    change = set_hours(store, "Tuesday", "afternoon", closed=True, clock=ON_TODAY)
    assert change.saved and change.capacity == 0
    rows = [s for s in list_hours(store) if (s.day_of_week, s.period) == (2, Period.AFTERNOON)]
    assert len(rows) == 1 and not rows[0].is_active
    assert (rows[0].start_time, rows[0].end_time) == (dt.time(14), dt.time(18))
    entry = next(e for e in store.calendar(TUESDAY, TUESDAY) if e.period is Period.AFTERNOON)
    assert (entry.is_open, entry.capacity) == (False, 0)
    again = set_hours(store, "tue", "afternoon", closed=True, clock=ON_TODAY)
    assert not again.saved and again.slot == again.previous  # idempotent
    set_hours(store, "tue", "afternoon", start="15:00", end="17:00", clock=ON_TODAY)
    assert _capacity(store, TUESDAY, Period.AFTERNOON) == 120


def test_sunday_has_no_row_until_it_opens() -> None:
    store = MemoryStore()
    closing = set_hours(store, "sun", "MORNING", closed=True, clock=ON_TODAY)
    assert (closing.slot, closing.previous, closing.saved) == (None, None, False)
    opened = set_hours(store, "sun", "MORNING", start="10:00", end="13:00", clock=ON_TODAY)
    assert opened.slot is not None and opened.slot.id == "slot_0_morning"
    assert opened.slot.day_of_week == 0
    assert _capacity(store, SUNDAY, Period.MORNING) == 180
    assert len(list_hours(store)) == len(DEFAULT_TIME_SLOTS) + 1


# -- the effect on booked dates ----------------------------------------------------------------


def _book_tuesday_afternoon(store: MemoryStore, count: int) -> list[str]:
    made = []
    for _ in range(count):
        r = book(store, request(preferred_date=TUESDAY.isoformat(), period="AFTERNOON",
                                preferred_time=None, service="SKIN_CARE"),
                 dynamic=True, clock=ON_TODAY)
        made.append(r.id)
    return made


def test_shrinking_lists_the_dates_booked_over_the_new_capacity_and_cancels_nothing() -> None:
    store = MemoryStore()
    ids = _book_tuesday_afternoon(store, 3)
    (held,) = [e.booked for e in store.calendar(TUESDAY, TUESDAY)
               if e.period is Period.AFTERNOON]
    assert held > 120
    dry = set_hours(store, "tue", "AFTERNOON", start="14:00", end="16:00", dry_run=True,
                    clock=ON_TODAY)
    assert not dry.saved and _capacity(store, TUESDAY, Period.AFTERNOON) == 240
    assert [(o.day, o.held_minutes, o.capacity) for o in dry.over_capacity] == [
        (TUESDAY, held, 120)]
    change = set_hours(store, "tue", "AFTERNOON", start="14:00", end="16:00", clock=ON_TODAY)
    assert change.over_capacity == dry.over_capacity and change.saved
    assert (change.window_start, change.window_end) == (
        TODAY, TODAY + dt.timedelta(days=7 * EFFECT_WEEKS - 1))
    for rid in ids:
        kept = store.get_reservation(rid)
        assert kept is not None and kept.status is ReservationStatus.PENDING
    closed = set_hours(store, "tue", "AFTERNOON", closed=True, clock=ON_TODAY)
    assert [(o.day, o.capacity) for o in closed.over_capacity] == [(TUESDAY, 0)]
    # Another weekday or period, a cancelled booking, or a date outside the window: none.
    assert set_hours(store, "tue", "MORNING", start="09:00", end="10:00",
                     clock=ON_TODAY).over_capacity == ()
    assert set_hours(store, "tue", "AFTERNOON", closed=True,
                     clock=DayClock(TUESDAY + dt.timedelta(days=1))).over_capacity == ()
    for rid in ids:
        store.set_status(rid, ReservationStatus.CANCELLED)
    assert set_hours(store, "tue", "AFTERNOON", closed=True, clock=ON_TODAY).over_capacity == ()


# -- phase 1 and the booking parser -------------------------------------------------------------


def test_before_phase_1_every_hours_call_is_refused() -> None:
    store = MemoryStore(schema_state=SchemaState.LEGACY)
    for call in (lambda: list_hours(store),
                 lambda: set_hours(store, "tue", "MORNING", start="09:00", end="11:00"),
                 lambda: set_hours(store, "tue", "MORNING", closed=True)):
        with pytest.raises(SchemaStateError) as caught:
            call()
        assert "phase 1" in caught.value.message
    assert store.list_time_slots() == sorted(
        DEFAULT_TIME_SLOTS, key=lambda s: (s.day_of_week, s.period != Period.MORNING))


def test_the_next_booking_reads_bare_hours_with_the_new_hours() -> None:
    # "7:00" is neither 07:00 nor 19:00 in the seed's hours (ambiguous); once the
    # afternoon runs to 20:00 it is 19:00, an afternoon — on the same long-lived store.
    store = MemoryStore()
    evening = request(preferred_date=TUESDAY.isoformat(), preferred_time="7:00", period=None)
    with pytest.raises(InvalidRequest):
        book(store, evening, dynamic=True, clock=ON_TODAY)
    set_hours(store, "tue", "AFTERNOON", start="14:00", end="20:00", clock=ON_TODAY)
    assert book(store, evening, dynamic=True, clock=ON_TODAY).period is Period.AFTERNOON


def test_the_memory_store_upserts_by_weekday_and_period_like_the_sql_stores() -> None:
    # The SQL upsert keeps the row's id; the memory store does the same, so a save
    # under another id still updates the one row of that weekday and period.
    store = MemoryStore()
    (seeded,) = [s for s in list_hours(store) if (s.day_of_week, s.period) == (2, Period.MORNING)]
    store.save_time_slot(ClinicTimeSlot(id="other", day_of_week=2, period=Period.MORNING,
                                        start_time=dt.time(8), end_time=dt.time(11)))
    rows = [s for s in list_hours(store) if (s.day_of_week, s.period) == (2, Period.MORNING)]
    assert [(s.id, s.start_time, s.total_minutes) for s in rows] == [
        (seeded.id, dt.time(8), 180)]
