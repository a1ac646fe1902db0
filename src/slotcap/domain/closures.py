"""Closures and capacity overrides by date: pure rules, no I/O.

A :class:`Closure` covers a single date, a date range (``end_date``, inclusive) or a
recurrence (``rrule``: RFC 5545 RRULE text without DTSTART; DTSTART is ``start_date``,
and ``end_date``, when set, is the last date it may fall on). It covers the whole day
(``period`` None) or one period. ``capacity_minutes`` None closes the clinic then;
a number (>= 0) replaces the period's capacity for that date.

Where several apply to one (date, period) — the laws the tests check:

* a closure (``capacity_minutes`` None) always wins: the period is CLOSED, whatever the
  overrides, the weekly slot or the bookings; its reason is the earliest-starting
  closure's (ties by id), so the answer does not depend on the order they are listed;
* otherwise the **smallest** override applies (the cautious choice: two staff notes
  disagreeing must not overbook the clinic), again independent of order;
* an override changes the capacity of a period the clinic opens; it never opens a
  period the weekly hours keep closed (such a period has no opening time to book);
* with nothing applying, the weekly slot decides exactly as before.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Sequence

import attrs
from dateutil import rrule as _rrule

from slotcap.domain.model import Period

__all__ = [
    "CYCLE_YEARS",
    "MAX_REASON_LENGTH",
    "Closure",
    "Effective",
    "applying",
    "effective",
    "first_occurrence",
    "frame_shift",
    "normalise_rrule",
    "occurs_on",
]

#: A reason is a short note for staff and patients ("설날", "staff training").
MAX_REASON_LENGTH = 200
_MAX_RRULE_LENGTH = 200
_RRULE_TEXT = re.compile(r"^[A-Z0-9=;,+\-]+$")
#: Parts that would contradict the stored columns: DTSTART is "startDate" and the last
#: date is "endDate".
_FORBIDDEN_PARTS = ("DTSTART", "UNTIL")


def normalise_rrule(text: str) -> str:
    """The RRULE text as stored (upper case, no ``RRULE:`` prefix, no spaces), or
    ``ValueError`` saying what is wrong. Parsed with dateutil, so only what dateutil
    accepts is stored; DTSTART and UNTIL are refused (``--date`` / ``--to`` carry them).
    """
    if not isinstance(text, str):
        raise ValueError("rrule must be text")
    value = "".join(text.split()).upper()
    value = value.removeprefix("RRULE:")
    if not value:
        raise ValueError("rrule is empty")
    if len(value) > _MAX_RRULE_LENGTH:
        raise ValueError(f"rrule is longer than {_MAX_RRULE_LENGTH} characters")
    if not _RRULE_TEXT.match(value):
        raise ValueError("rrule may only contain letters, digits and = ; , + -")
    names = [part.split("=", 1)[0] for part in value.split(";")]
    for name in _FORBIDDEN_PARTS:
        if name in names:
            raise ValueError(f"rrule must not contain {name} (use --date / --to)")
    if "FREQ" not in names:
        raise ValueError("rrule needs FREQ (e.g. FREQ=WEEKLY;BYDAY=SU)")
    if len(set(names)) != len(names):
        raise ValueError("rrule repeats a part")
    for part in value.split(";"):
        name, _, number = part.partition("=")
        if name in ("INTERVAL", "COUNT") and not (number.isdigit() and int(number) >= 1):
            raise ValueError(f"rrule {name} must be a whole number >= 1")
    try:
        _rrule.rrulestr(value, dtstart=dt.datetime(2000, 1, 1))
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"rrule is not valid RFC 5545 text: {exc}") from None
    freq = value.split("FREQ=", 1)[1].split(";", 1)[0]
    if freq not in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY"):
        # Sub-daily frequencies mean nothing for a date-based closure.
        raise ValueError("rrule FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY")
    return value


def _check_rrule(_instance: object, _attribute: object, value: str | None) -> None:
    if value is not None and normalise_rrule(value) != value:
        raise ValueError(f"rrule {value!r} is not in its normal form")


def _check_reason(_instance: object, _attribute: object, value: str) -> None:
    if not value.strip():
        raise ValueError("reason must not be empty")
    if len(value) > MAX_REASON_LENGTH:
        raise ValueError(f"reason is longer than {MAX_REASON_LENGTH} characters")


def _check_capacity(_instance: object, _attribute: object, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or value < 0):
        raise ValueError(f"capacity_minutes must be >= 0, got {value}")


@attrs.frozen(kw_only=True)
class Closure:
    """One row of ``clinic_closures`` (see the module docstring)."""

    id: str
    start_date: dt.date
    reason: str = attrs.field(validator=_check_reason)
    end_date: dt.date | None = None
    period: Period | None = None
    rrule: str | None = attrs.field(default=None, validator=_check_rrule)
    capacity_minutes: int | None = attrs.field(default=None, validator=_check_capacity)
    created_at: dt.datetime | None = None

    def __attrs_post_init__(self) -> None:
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError(
                f"end date {self.end_date.isoformat()} is before start date "
                f"{self.start_date.isoformat()}"
            )

    @property
    def closes(self) -> bool:
        """True: the clinic is closed then; False: a capacity override."""
        return self.capacity_minutes is None


# -- evaluating a recurrence, bounded by construction ---------------------------------
#
# dateutil checks UNTIL (and the window of ``between``) only when it finds an
# occurrence: a rule that never occurs again — FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30 —
# is walked day by day to the year 9999 (17 s, inside a booking's locks). So a rule is
# never evaluated in its own years: the Gregorian calendar repeats exactly every 400
# years (146,097 days = 20,871 weeks: the same weekdays, months and leap days), and
# every count a rule keeps — days, weeks, months, years and occurrences since its
# start — survives a shift by 400 years. Each question is asked in a frame shifted by
# a multiple of 400 years that puts it in the calendar's last 400 years, so any scan
# ends at year 9999 at most 400 years later: one pathological rule costs ≈ 0.4 s once
# per year asked per process (cached), never more; a rule that does occur stops at its
# next occurrence, as before. ``benchmarks/closures_rrule.py`` prints the figures.

#: The Gregorian cycle: a shift by a multiple of this many years changes nothing.
CYCLE_YEARS = 400


def frame_shift(year: int, *, room: int = 0) -> int:
    """The whole number of Gregorian cycles (in years) that moves ``year`` into the
    calendar's last ``CYCLE_YEARS + room`` years, leaving at least ``room`` years
    after it: what bounds every scan below."""
    return (dt.MAXYEAR - room - year) // CYCLE_YEARS * CYCLE_YEARS


def _moved(day: dt.date, years: int) -> dt.datetime:
    return dt.datetime.combine(day.replace(year=day.year + years), dt.time())


@functools.lru_cache(maxsize=1024)
def _occurrences_in_year(text: str, start: dt.date, year: int) -> frozenset[dt.date]:
    # Every date of ``year`` the rule falls on, computed in the shifted frame.
    shift = frame_shift(year)
    rule = _rrule.rrulestr(text, dtstart=_moved(start, shift))
    found = rule.between(dt.datetime(year + shift, 1, 1), dt.datetime(year + shift, 12, 31),
                         inc=True)
    return frozenset(x.date().replace(year=x.year - shift) for x in found)


def first_occurrence(text: str, start: dt.date) -> dt.date | None:
    """The first date on or after ``start`` that the rule (normal form) falls on, looked
    for over at least one whole Gregorian cycle — so None means it never occurs (a
    pattern that repeats every cycle has an instance in each) — and at most two."""
    shift = frame_shift(start.year, room=CYCLE_YEARS)
    found = _rrule.rrulestr(text, dtstart=_moved(start, shift)).after(
        _moved(start, shift), inc=True)
    return None if found is None else found.date().replace(year=found.year - shift)


def occurs_on(closure: Closure, day: dt.date) -> bool:
    """Whether ``closure`` covers ``day`` (any period). A recurrence is expanded for
    ``day``'s year only, in a frame that bounds the scan (above), and remembered."""
    if day < closure.start_date:
        return False
    if closure.end_date is not None and day > closure.end_date:
        return False
    if closure.rrule is None:
        return closure.end_date is not None or day == closure.start_date
    return day in _occurrences_in_year(closure.rrule, closure.start_date, day.year)


def applying(closures: Iterable[Closure], day: dt.date, period: Period) -> tuple[Closure, ...]:
    """The closures that cover ``day``'s ``period``, in a stable order (start date, id)."""
    return tuple(sorted(
        (c for c in closures
         if (c.period is None or c.period is period) and occurs_on(c, day)),
        key=lambda c: (c.start_date, c.id),
    ))


@attrs.frozen
class Effective:
    """A period's capacity once the closures are applied. ``closed_reason`` set: a
    closure closes it (capacity 0); ``overridden``: an override set ``capacity``."""

    capacity: int
    closed_reason: str | None = None
    overridden: bool = False


def effective(slot_minutes: int | None, closures: Sequence[Closure]) -> Effective | None:
    """``slot_minutes`` (the weekly slot's total; None: the clinic does not open then)
    with the ``closures`` that apply to that date and period (see :func:`applying`).
    None: the period is closed by the weekly hours and no closure names a reason."""
    ordered = sorted(closures, key=lambda c: (c.start_date, c.id))
    for c in ordered:
        if c.closes:
            return Effective(capacity=0, closed_reason=c.reason)
    if slot_minutes is None:
        return None
    overrides = [c.capacity_minutes for c in ordered if c.capacity_minutes is not None]
    if overrides:
        return Effective(capacity=min(overrides), overridden=True)
    return Effective(capacity=slot_minutes)
