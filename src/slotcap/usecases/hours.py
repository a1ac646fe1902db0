"""The clinic's weekly opening hours: list them, and open, move or close one period.

Plain functions over a :class:`~slotcap.ports.Store` and plain values; the CLI's
``slotcap hours`` is a thin shell over them. Every value is validated here, before the
store sees it, and every problem is reported at once as
:class:`~slotcap.errors.InvalidHoursDefinition` naming the field (``weekday``,
``period``, ``start``, ``end``, ``closed``), never a bare ``ValueError``.

A period's capacity is derived, never entered: the minutes from its start to its end
(``ClinicTimeSlot.total_minutes``; the table's CHECK holds the same equation).

The rules of :func:`set_hours`:

* times are ``H:MM`` or ``HH:MM`` from 00:00 to 23:59, whole minutes; ``end`` after
  ``start``;
* within one weekday the open MORNING ends at or before the open AFTERNOON starts
  (a closed period overlaps nothing);
* closing a period keeps its row (``is_active`` false, its last times kept); closing a
  period that has no row changes nothing.

Changing hours never touches a reservation. :func:`set_hours` returns, besides the
saved slot, the dates of the next :data:`EFFECT_WEEKS` weeks (from the clinic's today)
on that weekday whose held minutes (PENDING and CONFIRMED) in that period exceed the
new capacity — dates and minutes only, no patient data — so that the caller can warn.

Two changes of one slot at once: the store's write is an upsert on (weekday, period),
so neither fails and the last write wins (an admin edit). The overlap rule is checked
against the hours read just before the write: two concurrent changes of the two
periods of one weekday can each pass it (read-modify-write, as the service catalogue).

The hours live in phase 1's ``clinic_time_slots`` table: before phase 1 every function
raises ``SchemaStateError``, on every store alike.
"""

from __future__ import annotations

import datetime as dt
import re

import attrs

from slotcap.domain.calendar import day_of_week as _dow
from slotcap.domain.model import ClinicTimeSlot, Period
from slotcap.errors import InvalidHoursDefinition
from slotcap.ports import Clock, Store
from slotcap.usecases._phase1 import require_phase1
from slotcap.usecases.clock import clinic_clock

__all__ = [
    "EFFECT_WEEKS",
    "WEEKDAYS",
    "HoursChange",
    "OverCapacity",
    "day_of_week",
    "list_hours",
    "parse_clock",
    "set_hours",
    "weekday_name",
]

#: How far ahead :func:`set_hours` looks for dates booked over the new capacity.
EFFECT_WEEKS = 8
#: Short weekday names and the schema's ``dayOfWeek`` (0 = Sunday … 6 = Saturday).
WEEKDAYS: dict[str, int] = {
    "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 0,
}
_FULL = {
    "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5,
    "saturday": 6, "sunday": 0,
}
_NAMES = {number: name for name, number in _FULL.items()}
_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})")


@attrs.frozen(kw_only=True)
class OverCapacity:
    """One upcoming date whose held minutes in the changed period exceed its new
    capacity (0 when the period is closed)."""

    day: dt.date
    period: Period
    held_minutes: int
    capacity: int


@attrs.frozen(kw_only=True)
class HoursChange:
    """What :func:`set_hours` did (or, with ``dry_run``, would do).

    ``slot`` is the period as saved (None: closing a period that has no row);
    ``previous`` as it was; ``over_capacity`` the dates from ``window_start`` to
    ``window_end`` booked over the new capacity, oldest first. Nothing is cancelled.
    """

    slot: ClinicTimeSlot | None
    previous: ClinicTimeSlot | None
    over_capacity: tuple[OverCapacity, ...]
    window_start: dt.date
    window_end: dt.date
    saved: bool

    @property
    def capacity(self) -> int:
        """The period's minutes from now on (0 when closed)."""
        slot = self.slot
        return slot.total_minutes if slot is not None and slot.is_active else 0


def weekday_name(day_of_week: int) -> str:
    """``dayOfWeek`` (0 = Sunday) as its English name, e.g. ``Tuesday``."""
    return _NAMES[day_of_week].title()


def day_of_week(value: object) -> int:
    """``mon`` … ``sun`` or ``monday`` … ``sunday`` (any case) as the schema's
    ``dayOfWeek`` (0 = Sunday … 6 = Saturday); ``InvalidHoursDefinition`` otherwise."""
    try:
        return _weekday(value)
    except _Bad as bad:
        raise InvalidHoursDefinition({"weekday": bad.problem}) from None


def parse_clock(value: object, field: str = "start") -> dt.time:
    """``H:MM``/``HH:MM`` (00:00-23:59) or a whole-minute naive ``datetime.time``;
    ``InvalidHoursDefinition`` naming ``field`` otherwise."""
    try:
        return _clock(value)
    except _Bad as bad:
        raise InvalidHoursDefinition({field: bad.problem}) from None


class _Bad(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def _weekday(value: object) -> int:
    if isinstance(value, str):
        key = value.strip().lower()
        number = WEEKDAYS.get(key, _FULL.get(key))
        if number is not None:
            return number
    raise _Bad("must be one of mon, tue, wed, thu, fri, sat, sun (or the full English name)")


def _period(value: object) -> Period:
    if isinstance(value, Period):
        return value
    if isinstance(value, str):
        key = value.strip().upper()
        if key in Period.__members__:
            return Period[key]
    raise _Bad("must be MORNING or AFTERNOON")


def _clock(value: object) -> dt.time:
    if isinstance(value, dt.time):
        if value.tzinfo is not None or value.second or value.microsecond:
            raise _Bad("must be whole minutes without a time zone")
        return value
    if isinstance(value, str):
        match = _CLOCK.fullmatch(value.strip())
        if match is not None:
            hour, minute = int(match[1]), int(match[2])
            if hour < 24 and minute < 60:
                return dt.time(hour, minute)
    raise _Bad("must be a time HH:MM from 00:00 to 23:59")


def _require_hours(store: Store) -> None:
    require_phase1(store, "the weekly hours are phase 1's clinic_time_slots table")


def list_hours(store: Store) -> list[ClinicTimeSlot]:
    """Every weekly period that has a row, open or closed, by weekday (Sunday first, the
    schema's order) then MORNING before AFTERNOON."""
    _require_hours(store)
    return store.list_time_slots()


def set_hours(
    store: Store,
    weekday: str,
    period: Period | str,
    *,
    start: str | dt.time | None = None,
    end: str | dt.time | None = None,
    closed: bool = False,
    dry_run: bool = False,
    clock: Clock | None = None,
) -> HoursChange:
    """Open ``weekday``'s ``period`` from ``start`` to ``end``, or close it
    (``closed=True``, no times); with ``dry_run`` nothing is written.

    ``clock.today()`` (default clock: the clinic's, :mod:`slotcap.usecases.clock`)
    starts the :data:`EFFECT_WEEKS`-week window of :attr:`HoursChange.over_capacity`. Raises
    ``InvalidHoursDefinition`` (every bad field; an overlap with the weekday's other
    period is named on ``end`` for MORNING, on ``start`` for AFTERNOON) or
    ``SchemaStateError``. Reservations are never changed.
    """
    problems: dict[str, str] = {}
    number = chosen = None
    try:
        number = _weekday(weekday)
    except _Bad as bad:
        problems["weekday"] = bad.problem
    try:
        chosen = _period(period)
    except _Bad as bad:
        problems["period"] = bad.problem
    opening: tuple[dt.time, dt.time] | None = None
    if not isinstance(closed, bool):
        problems["closed"] = "must be true or false"
    elif closed:
        for field, value in (("start", start), ("end", end)):
            if value is not None:
                problems[field] = "must not be given when closing a period"
    else:
        times: dict[str, dt.time] = {}
        for field, value in (("start", start), ("end", end)):
            try:
                if value is None:
                    raise _Bad("is required to open a period (or close it instead)")
                times[field] = _clock(value)
            except _Bad as bad:
                problems[field] = bad.problem
        if len(times) == 2:
            if times["end"] <= times["start"]:
                problems["end"] = f"must be after start ({times['start']:%H:%M})"
            else:
                opening = (times["start"], times["end"])
    if problems or number is None or chosen is None:
        raise InvalidHoursDefinition(problems)
    _require_hours(store)

    slots = {(s.day_of_week, s.period): s for s in store.list_time_slots()}
    previous = slots.get((number, chosen))
    slot: ClinicTimeSlot | None
    if opening is None:
        slot = None if previous is None else attrs.evolve(previous, is_active=False)
    else:
        slot = ClinicTimeSlot(
            # The row keeps its id (the stores upsert by weekday and period).
            id=previous.id if previous is not None else f"slot_{number}_{chosen.value.lower()}",
            day_of_week=number, period=chosen, start_time=opening[0], end_time=opening[1],
            is_active=True,
        )
        other = slots.get((number, _other(chosen)))
        if other is not None and other.is_active:
            _check_overlap(slot, other)

    saved = False
    if not dry_run and slot is not None and slot != previous:
        store.save_time_slot(slot)
        saved = True

    first = (clock if clock is not None else clinic_clock(store)).today()
    last = first + dt.timedelta(days=EFFECT_WEEKS * 7 - 1)
    capacity = slot.total_minutes if slot is not None and slot.is_active else 0
    over = tuple(
        OverCapacity(day=entry.day, period=entry.period, held_minutes=entry.booked,
                     capacity=capacity)
        for entry in store.calendar(first, last)
        if entry.period is chosen and _dow(entry.day) == number and entry.booked > capacity
    )
    return HoursChange(slot=slot, previous=previous, over_capacity=over,
                       window_start=first, window_end=last, saved=saved)


def _other(period: Period) -> Period:
    return Period.AFTERNOON if period is Period.MORNING else Period.MORNING


def _check_overlap(slot: ClinicTimeSlot, other: ClinicTimeSlot) -> None:
    name = weekday_name(slot.day_of_week)
    if slot.period is Period.MORNING and slot.end_time > other.start_time:
        raise InvalidHoursDefinition({
            "end": f"must be at or before the afternoon's start ({other.start_time:%H:%M}) "
                   f"on {name}: the periods must not overlap",
        })
    if slot.period is Period.AFTERNOON and slot.start_time < other.end_time:
        raise InvalidHoursDefinition({
            "start": f"must be at or after the morning's end ({other.end_time:%H:%M}) "
                     f"on {name}: the periods must not overlap",
        })
