"""Clinic opening hours reduced to what the bare-hour rule needs: integer intervals."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable

import attrs

from slotcap.domain.defaults import DEFAULT_TIME_SLOTS
from slotcap.domain.model import ClinicTimeSlot

__all__ = ["DEFAULT_HOURS", "ClinicHours", "clinic_hours"]


def _seconds(clock: dt.time) -> int:
    return clock.hour * 3600 + clock.minute * 60 + clock.second


# cache_hash: the object is a key of the parse cache, hashed on every call.
@attrs.frozen(cache_hash=True)
class ClinicHours:
    """Active slots and clinic days as half-open ``[start, end)`` second intervals.

    ``slots`` are the active opening periods of any weekday. ``days`` span each
    weekday's first opening to its last closing, so they also cover the lunch break:
    "1:00" is 13:00 in a clinic closed 12-14 but open that day until 18:00.
    """

    slots: tuple[tuple[int, int], ...]
    days: tuple[tuple[int, int], ...]

    def in_slot(self, seconds: int) -> bool:
        return any(start <= seconds < end for start, end in self.slots)

    def in_day(self, seconds: int) -> bool:
        return any(start <= seconds < end for start, end in self.days)


#: What the parser needs of a slot: (day_of_week, start, end, is_active).
SlotKey = tuple[int, dt.time, dt.time, bool]


def _build(slots: Iterable[SlotKey]) -> ClinicHours:
    active = [(day, _seconds(start), _seconds(end)) for day, start, end, on in slots if on]
    spans = sorted({(start, end) for _, start, end in active})
    by_day: dict[int, tuple[int, int]] = {}
    for day, start, end in active:
        first, last = by_day.get(day, (start, end))
        by_day[day] = (min(first, start), max(last, end))
    return ClinicHours(slots=tuple(spans), days=tuple(sorted(set(by_day.values()))))


@functools.lru_cache(maxsize=64)
def _cached(key: tuple[SlotKey, ...]) -> ClinicHours:
    built = _build(key)
    # A store whose hours are the plan's (the common case) gets DEFAULT_HOURS itself:
    # the parser's fast paths and its text-only cache key test for it by identity.
    return DEFAULT_HOURS if built == DEFAULT_HOURS else built


def _key(slot: ClinicTimeSlot) -> SlotKey:
    return (slot.day_of_week, slot.start_time, slot.end_time, slot.is_active)


DEFAULT_HOURS: ClinicHours = _build(map(_key, DEFAULT_TIME_SLOTS))


def clinic_hours(hours: Iterable[ClinicTimeSlot] | None) -> ClinicHours:
    """The reduced hours of ``hours`` (``None``: the plan's default slots)."""
    if hours is None or hours is DEFAULT_TIME_SLOTS:
        return DEFAULT_HOURS
    # A list or a generator (a store's list_time_slots()) becomes a hashable key of
    # only the fields that matter; hashing those is cheaper than hashing the records.
    return _cached(tuple(map(_key, hours)))
