"""Closures and overrides: the pure rule (Hypothesis laws, a brute-force rrule
expansion as the oracle), the RRULE boundary, and the use cases on the memory store."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import attrs
import pytest
from dateutil import rrule as du
from hypothesis import given
from hypothesis import strategies as st
from tests.builders import MONDAY, ON_TODAY, TODAY, request
from tests.strategies.closures import closures, days, rrules

from slotcap import book
from slotcap.adapters.memory import MemoryStore
from slotcap.bootstrap import bootstrap
from slotcap.domain.clock import FixedClock, ZonedClock, local_date
from slotcap.domain.closures import (
    CYCLE_YEARS,
    Closure,
    applying,
    effective,
    first_occurrence,
    frame_shift,
    normalise_rrule,
    occurs_on,
)
from slotcap.domain.defaults import DEFAULT_SERVICES, DEFAULT_TIME_SLOTS
from slotcap.domain.model import Period
from slotcap.domain.rules import Reason, check_period_capacity, period_started
from slotcap.errors import (
    ClosureNotFound,
    InvalidClosure,
    InvalidRequest,
    InvalidTimeZone,
    ReservationFull,
    SchemaStateError,
)
from slotcap.ports import SchemaState
from slotcap.usecases import check_availability
from slotcap.usecases import closures as uc

SERVICE = DEFAULT_SERVICES[0]
MORNING_SLOT = next(
    s for s in DEFAULT_TIME_SLOTS if s.day_of_week == 1 and s.period is Period.MORNING
)


def _brute(c: Closure, day: dt.date) -> bool:
    """The oracle: every occurrence listed by dateutil, bounded by the end date."""
    if c.rrule is None:
        last = c.end_date if c.end_date is not None else c.start_date
        return c.start_date <= day <= last
    rule = du.rrulestr(c.rrule, dtstart=dt.datetime.combine(c.start_date, dt.time()))
    stop = dt.datetime.combine(day, dt.time())
    dates = {x.date() for x in rule.between(
        dt.datetime.combine(c.start_date, dt.time()), stop, inc=True)}
    return day in dates and (c.end_date is None or day <= c.end_date)


@given(closures(), days)
def test_occurs_on_agrees_with_a_brute_force_expansion(c: Closure, day: dt.date) -> None:
    assert occurs_on(c, day) == _brute(c, day)


@given(st.lists(closures(), max_size=5), days, st.sampled_from(Period), st.integers(0, 600))
def test_a_closure_always_wins(
    others: list[Closure], day: dt.date, period: Period, slot: int
) -> None:
    closing = Closure(id="zz", start_date=day, reason="holiday")  # covers day, any period
    applied = applying([*others, closing], day, period)
    result = effective(slot, applied)
    assert result is not None and result.closed_reason is not None and result.capacity == 0
    decision = check_period_capacity(service=SERVICE, slot=MORNING_SLOT, held_minutes=0,
                                     closures=applied)
    assert decision.reason is Reason.CLOSED and not decision.allowed
    assert decision.detail is not None


@given(st.lists(closures(closes=False), min_size=1, max_size=5), st.integers(0, 600))
def test_the_smallest_override_applies_in_any_order(overrides: list[Closure], slot: int) -> None:
    result = effective(slot, overrides)
    assert result is not None and result.closed_reason is None
    assert result.capacity == min(c.capacity_minutes or 0 for c in overrides)
    assert effective(slot, list(reversed(overrides))) == result


@given(st.lists(closures(), max_size=5))
def test_overrides_never_open_a_closed_period(cs: list[Closure]) -> None:
    result = effective(None, cs)
    assert result is None or result.closed_reason is not None


@given(st.integers(0, 600))
def test_no_closure_is_the_weekly_rule(held: int) -> None:
    assert check_period_capacity(service=SERVICE, slot=MORNING_SLOT, held_minutes=held) == \
        check_period_capacity(service=SERVICE, slot=MORNING_SLOT, held_minutes=held, closures=())


@given(rrules)
def test_normalised_rules_are_fixed_points(text: str) -> None:
    assert normalise_rrule(text) == text
    assert normalise_rrule(f" rrule:{text.lower()} ") == text


@pytest.mark.parametrize("text", [
    "", "FREQ=HOURLY", "BYDAY=SU", "FREQ=WEEKLY;UNTIL=20260101", "DTSTART=20250101;FREQ=DAILY",
    "FREQ=WEEKLY;BYDAY=XX", "FREQ=DAILY\nRDATE=20250101", "FREQ=DAILY;FREQ=WEEKLY",
    "FREQ=DAILY;INTERVAL=0", "FREQ=DAILY;COUNT=x", "FREQ=DAILY" + ";INTERVAL=1" * 40,
    "FREQ=DAILY;X-A='1'",
])
def test_bad_rrule_text_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="rrule"):
        normalise_rrule(text)


@given(st.text(max_size=60))
def test_untrusted_rrule_text_is_refused_or_normal(text: str) -> None:
    try:
        value = normalise_rrule(text)
    except ValueError:
        return
    assert normalise_rrule(value) == value


# -- use cases on the memory store ------------------------------------------------------


def _booked_store() -> MemoryStore:
    store = MemoryStore()
    book(store, request(), dynamic=True, clock=ON_TODAY, new_id=lambda: "r1")
    return store


def test_closing_a_date_refuses_with_closed_and_the_reason() -> None:
    store = _booked_store()
    added = uc.add_closure(store, start_date=MONDAY, reason="설날")
    assert [r.id for r in added.affected] == ["r1"]
    decision = check_availability(store, MONDAY, "WRINKLE_BOTOX", dynamic=True)
    assert decision.reason is Reason.CLOSED and decision.detail == "설날"
    with pytest.raises(ReservationFull, match="설날") as info:
        book(store, request(), dynamic=True, clock=ON_TODAY, new_id=lambda: "r2")
    assert info.value.decision.reason is Reason.CLOSED
    entries = store.calendar(MONDAY, MONDAY)
    assert {e.closed_reason for e in entries} == {"설날"}
    assert all(not e.is_open and e.capacity == 0 for e in entries)
    uc.remove_closure(store, added.closure.id)
    assert check_availability(store, MONDAY, "WRINKLE_BOTOX", dynamic=True).allowed


def test_an_override_sets_the_capacity_of_one_period() -> None:
    store = MemoryStore()
    uc.add_closure(store, start_date=MONDAY, period="morning", capacity_minutes=30,
                   reason="one doctor")
    fits = check_availability(store, MONDAY, "WRINKLE_BOTOX", period=Period.MORNING,
                              dynamic=True)
    assert fits.capacity == 30
    afternoon = check_availability(store, MONDAY, "WRINKLE_BOTOX", period=Period.AFTERNOON,
                                   dynamic=True)
    assert afternoon.capacity == 240


def test_weekly_recurrence_and_listing_by_range() -> None:
    store = MemoryStore()
    sunday = MONDAY - dt.timedelta(days=1)
    added = uc.add_closure(store, start_date=sunday, rrule="freq=weekly;byday=su",
                           reason="Sundays")
    assert added.closure.rrule == "FREQ=WEEKLY;BYDAY=SU"
    assert uc.list_closures(store, start=MONDAY, end=MONDAY + dt.timedelta(days=5)) == []
    assert uc.list_closures(store, start=MONDAY, end=MONDAY + dt.timedelta(days=6)) == [
        added.closure]


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(InvalidClosure) as info:
        uc.add_closure(MemoryStore(), start_date=MONDAY, end_date=TODAY, period="evening",
                       rrule="FREQ=SECONDLY", capacity_minutes=-1, reason=" ")
    assert set(info.value.fields) == {"end_date", "period", "rrule", "capacity_minutes",
                                      "reason"}


def test_before_phase_1_closures_are_refused() -> None:
    store = MemoryStore(schema_state=SchemaState.LEGACY)
    with pytest.raises(SchemaStateError, match="phase 1"):
        uc.add_closure(store, start_date=MONDAY, reason="x")
    with pytest.raises(SchemaStateError):
        uc.list_closures(store)
    assert store.list_closures() == []


def test_removing_an_unknown_closure() -> None:
    with pytest.raises(ClosureNotFound):
        uc.remove_closure(MemoryStore(), "nope")


def test_time_zone_names_are_validated() -> None:
    store = MemoryStore()
    assert uc.set_clinic_time_zone(store, " Asia/Seoul ") == "Asia/Seoul"
    assert uc.clinic_time_zone(store) == "Asia/Seoul"
    for bad in ("", "Mars/Base", "../etc/passwd", "x" * 100):
        with pytest.raises(InvalidTimeZone):
            uc.set_clinic_time_zone(store, bad)


NEVER = "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"


@given(st.integers(1, dt.MAXYEAR))
def test_every_recurrence_is_evaluated_within_the_calendars_last_cycle(year: int) -> None:
    # What bounds any scan by construction: the question is asked in a frame shifted by
    # whole Gregorian cycles to the calendar's last 400 years, where dateutil's walk to
    # year 9999 (its only stop for a rule that no longer occurs) is at most 400 years.
    shift = frame_shift(year)
    assert shift % CYCLE_YEARS == 0 and shift >= 0
    assert dt.MAXYEAR - CYCLE_YEARS < year + shift <= dt.MAXYEAR
    room = frame_shift(year, room=CYCLE_YEARS)
    assert dt.MAXYEAR - 2 * CYCLE_YEARS < year + room <= dt.MAXYEAR - CYCLE_YEARS


def test_a_stored_rule_that_never_occurs_covers_nothing() -> None:
    # Stored before slotcap refused such rules (or by hand): still answered, bounded.
    never = Closure(id="n", start_date=MONDAY, rrule=NEVER, reason="never")
    assert not occurs_on(never, MONDAY + dt.timedelta(days=40))
    assert not occurs_on(never, dt.date(2027, 2, 28))


@pytest.mark.parametrize("rule", [NEVER, "FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=31",
                                  "FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=2,4,6,9,11"])
def test_a_rule_that_cannot_occur_is_refused_naming_rrule(rule: str) -> None:
    assert first_occurrence(rule, MONDAY) is None
    with pytest.raises(InvalidClosure) as info:
        uc.add_closure(MemoryStore(), start_date=MONDAY, rrule=rule, reason="x")
    assert set(info.value.fields) == {"rrule"}
    assert "never" in info.value.fields["rrule"]


def test_a_rule_with_no_date_before_the_end_date_is_refused() -> None:
    with pytest.raises(InvalidClosure) as info:
        uc.add_closure(MemoryStore(), start_date=dt.date(2027, 3, 1),
                       end_date=dt.date(2027, 12, 31), rrule="FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
                       reason="leap day")
    assert "2028-02-29" in info.value.fields["rrule"]


@given(closures(), days)
def test_first_occurrence_is_the_earliest_date_the_rule_falls_on(c: Closure, day: dt.date) -> None:
    if c.rrule is None:
        return
    first = first_occurrence(c.rrule, c.start_date)
    assert first is not None  # every rule of the strategy occurs
    unbounded = attrs.evolve(c, end_date=None)
    assert _brute(unbounded, first)
    if c.start_date <= day < first:
        assert not _brute(unbounded, day)


# -- the clinic's "today" -----------------------------------------------------------------

SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


@pytest.mark.parametrize(("utc", "zone", "day"), [
    # Asia/Seoul is UTC+9 all year: its midnight is 15:00 UTC the day before.
    (dt.datetime(2025, 12, 31, 14, 59, 59), SEOUL, dt.date(2025, 12, 31)),
    (dt.datetime(2025, 12, 31, 15, 0, 0), SEOUL, dt.date(2026, 1, 1)),
    # America/New_York: UTC-5 in winter, UTC-4 in summer (DST from 2026-03-08).
    (dt.datetime(2026, 1, 1, 4, 59, 59), NEW_YORK, dt.date(2025, 12, 31)),
    (dt.datetime(2026, 1, 1, 5, 0, 0), NEW_YORK, dt.date(2026, 1, 1)),
    (dt.datetime(2026, 7, 1, 3, 59, 59), NEW_YORK, dt.date(2026, 6, 30)),
    (dt.datetime(2026, 7, 1, 4, 0, 0), NEW_YORK, dt.date(2026, 7, 1)),
    # The DST switch day itself: 2026-03-08 02:00 local does not exist.
    (dt.datetime(2026, 3, 8, 4, 59, 59), NEW_YORK, dt.date(2026, 3, 7)),
    (dt.datetime(2026, 3, 8, 5, 0, 0), NEW_YORK, dt.date(2026, 3, 8)),
])
def test_today_is_the_clinics_date_at_the_edges_of_midnight(
    utc: dt.datetime, zone: zoneinfo.ZoneInfo, day: dt.date
) -> None:
    clock = ZonedClock(lambda: zone, base=FixedClock(utc))
    assert clock.today() == day
    assert clock.now() == utc.replace(tzinfo=dt.UTC)


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)),
       st.sampled_from([SEOUL, NEW_YORK]))
def test_the_local_date_is_within_a_day_of_the_utc_date(
    now: dt.datetime, zone: zoneinfo.ZoneInfo
) -> None:
    local = local_date(now, zone)
    assert abs((local - now.date()).days) <= 1
    assert local == now.replace(tzinfo=dt.UTC).astimezone(zone).date()


def test_the_stored_time_zone_decides_today_and_the_env_var_overrides_it() -> None:
    store = MemoryStore(time_zone="Asia/Seoul")
    app = bootstrap(store=store, env={})
    assert isinstance(app.clock, ZonedClock)
    assert app.clock.zone() == SEOUL
    app = bootstrap(store=store, env={"SLOTCAP_CLINIC_TZ": "America/New_York"})
    assert app.clock.today() == dt.datetime.now(NEW_YORK).date()


def test_past_date_refusal_uses_the_clinics_date() -> None:
    # 2025-11-30 16:00 UTC is already 2025-12-01 in Seoul: MONDAY is "today" there, so
    # a booking for the Sunday before is in the past, though it is still Sunday in UTC.
    clock = ZonedClock(lambda: SEOUL, base=FixedClock(dt.datetime(2025, 11, 30, 16)))
    sunday = (MONDAY - dt.timedelta(days=1)).isoformat()
    with pytest.raises(InvalidRequest, match="preferred_date"):
        book(MemoryStore(), request(preferred_date=sunday), dynamic=True, clock=clock)
    book(MemoryStore(), request(), dynamic=True, clock=clock)


# -- the same-day cut-off -----------------------------------------------------------------

@given(st.datetimes(min_value=dt.datetime(2025, 11, 20), max_value=dt.datetime(2025, 12, 10),
                    timezones=st.just(SEOUL)), days)
def test_period_started_is_before_today_or_today_past_the_start(
    local: dt.datetime, day: dt.date
) -> None:
    started = period_started(local, day, MORNING_SLOT)
    expected = day < local.date() or (
        day == local.date() and local.time().replace(tzinfo=None) >= MORNING_SLOT.start_time)
    assert started == expected


@pytest.mark.parametrize(("seoul_time", "period", "refused"), [
    (dt.time(8, 59), "MORNING", False),
    (dt.time(9, 0), "MORNING", True),
    (dt.time(13, 59), "AFTERNOON", False),
    (dt.time(14, 0), "AFTERNOON", True),
])
def test_the_same_day_cut_off_uses_the_clinics_wall_clock(
    seoul_time: dt.time, period: str, refused: bool
) -> None:
    # Monday in Seoul is still Sunday in UTC before 09:00 Seoul time.
    local = dt.datetime.combine(MONDAY, seoul_time, tzinfo=SEOUL)
    clock = FixedClock(local.astimezone(dt.UTC), day=MONDAY, tz=SEOUL)
    body = request(period=period, preferred_time=None)
    store = MemoryStore()
    if refused:
        with pytest.raises(InvalidRequest, match="period began"):
            book(store, body, dynamic=True, clock=clock, cutoff=True)
    else:
        book(store, body, dynamic=True, clock=clock, cutoff=True)
    # Without the cut-off the same booking is taken.
    book(MemoryStore(), body, dynamic=True, clock=clock)


def test_the_cut_off_in_a_dst_zone() -> None:
    # 2026-03-09 (a Monday) 13:30 in New York is 17:30 UTC (EDT, UTC-4, since 03-08).
    monday = dt.date(2026, 3, 9)
    utc = dt.datetime(2026, 3, 9, 17, 30, tzinfo=dt.UTC)
    clock = ZonedClock(lambda: NEW_YORK, base=FixedClock(utc))
    assert clock.local_now().time() == dt.time(13, 30)
    body = request(preferred_date=monday.isoformat(), period="AFTERNOON", preferred_time=None)
    book(MemoryStore(), body, dynamic=True, clock=clock, cutoff=True)
    later = ZonedClock(lambda: NEW_YORK, base=FixedClock(utc + dt.timedelta(minutes=30)))
    with pytest.raises(InvalidRequest, match="period began"):
        book(MemoryStore(), body, dynamic=True, clock=later, cutoff=True)
