"""Closures and capacity overrides by date, and the clinic's time zone.

Both live in phase 1's tables (``clinic_closures``, ``clinic_settings``): before phase 1
every function here raises ``SchemaStateError``, on every store alike (the memory store
keeps them in any state, so the rule is stated here, as the catalogue does).
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Callable

import attrs

from slotcap.domain.closures import (
    MAX_REASON_LENGTH,
    Closure,
    first_occurrence,
    normalise_rrule,
    occurs_on,
)
from slotcap.domain.model import Period, Reservation
from slotcap.errors import (
    ClosureNotFound,
    InvalidClosure,
    InvalidTimeZone,
)
from slotcap.ports import Store
from slotcap.usecases._phase1 import require_phase1

__all__ = [
    "AFFECTED_DAYS",
    "MAX_CAPACITY_MINUTES",
    "AddedClosure",
    "add_closure",
    "affected_bookings",
    "clinic_time_zone",
    "list_closures",
    "remove_closure",
    "set_clinic_time_zone",
    "valid_time_zone",
]

#: An override's capacity is a number of minutes in one day at most.
MAX_CAPACITY_MINUTES = 24 * 60
#: How far ahead (days from the closure's first date) the bookings to call are listed.
AFFECTED_DAYS = 366


def _require_phase1(store: Store) -> None:
    require_phase1(store, "closures and the clinic's settings are phase 1's clinic_closures "
                          "and clinic_settings tables")


@attrs.frozen
class AddedClosure:
    """The closure stored, and the held bookings it now covers (for staff to call)."""

    closure: Closure
    affected: tuple[Reservation, ...]


def add_closure(
    store: Store,
    *,
    start_date: dt.date,
    reason: str,
    end_date: dt.date | None = None,
    period: Period | str | None = None,
    rrule: str | None = None,
    capacity_minutes: int | None = None,
    new_id: Callable[[], str] = lambda: f"clo_{uuid.uuid4().hex[:16]}",
) -> AddedClosure:
    """Validate every field at once (``InvalidClosure`` names each bad one), store the
    closure and list the PENDING/CONFIRMED bookings a closing one now covers within
    :data:`AFFECTED_DAYS` (an override lists none: it closes nothing)."""
    problems: dict[str, str] = {}
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        problems["reason"] = "required (e.g. 'public holiday')"
    elif len(text) > MAX_REASON_LENGTH:
        problems["reason"] = f"at most {MAX_REASON_LENGTH} characters"
    elif any(not ch.isprintable() for ch in text):
        problems["reason"] = "must be one line of printable text"
    if end_date is not None and end_date < start_date:
        problems["end_date"] = f"must not be before the start date ({start_date.isoformat()})"
    which: Period | None = None
    if period is not None:
        try:
            which = Period(str(period).upper())
        except ValueError:
            problems["period"] = "must be morning or afternoon"
    rule: str | None = None
    if rrule is not None:
        try:
            rule = normalise_rrule(rrule)
        except ValueError as exc:
            problems["rrule"] = str(exc)
        else:
            problems.update(_never_occurring(rule, start_date, end_date))
    if capacity_minutes is not None and (
        isinstance(capacity_minutes, bool)
        or not 0 <= capacity_minutes <= MAX_CAPACITY_MINUTES
    ):
        problems["capacity_minutes"] = f"must be 0 to {MAX_CAPACITY_MINUTES} minutes"
    if problems:
        raise InvalidClosure(problems)
    closure = Closure(
        id=new_id(), start_date=start_date, end_date=end_date, period=which, rrule=rule,
        capacity_minutes=capacity_minutes, reason=text,
    )
    _require_phase1(store)
    store.add_closure(closure)
    affected = affected_bookings(store, closure) if closure.closes else ()
    return AddedClosure(closure=closure, affected=affected)


def _never_occurring(rule: str, start: dt.date, end: dt.date | None) -> dict[str, str]:
    """A rule that falls on no date from ``--date`` (to ``--to``) would be stored and
    evaluated for nothing: refused, naming the option."""
    first = first_occurrence(rule, start)
    if first is None:
        return {"rrule": "never falls on any date (e.g. BYMONTH=2;BYMONTHDAY=30): "
                         "check the rule"}
    if end is not None and first > end:
        return {"rrule": f"falls on no date from {start.isoformat()} to {end.isoformat()} "
                         f"(its first is {first.isoformat()})"}
    return {}


def affected_bookings(store: Store, closure: Closure) -> tuple[Reservation, ...]:
    """The held bookings on the dates and period ``closure`` covers, within
    :data:`AFFECTED_DAYS` of its first date."""
    last = closure.start_date + dt.timedelta(days=AFFECTED_DAYS - 1)
    if closure.end_date is not None:
        last = min(last, closure.end_date)
    if closure.rrule is None and closure.end_date is None:
        last = closure.start_date
    return tuple(
        r for r in store.held_between(closure.start_date, last)
        if occurs_on(closure, r.preferred_date)
        and (closure.period is None or r.period is None or r.period is closure.period)
    )


def list_closures(
    store: Store, *, start: dt.date | None = None, end: dt.date | None = None
) -> list[Closure]:
    """Every closure, or those that fall on a date in [``start``, ``end``] (either
    bound may be open; a recurrence is tested date by date, at most a year)."""
    _require_phase1(store)
    closures = store.list_closures()
    if start is None and end is None:
        return closures
    if start is not None and end is not None and end < start:
        raise InvalidClosure({"to": f"must not be before --from ({start.isoformat()})"})
    out = []
    for c in closures:
        first = max(c.start_date, start) if start is not None else c.start_date
        last_of_c = c.end_date if c.end_date is not None else (
            c.start_date if c.rrule is None else dt.date.max
        )
        last = min(last_of_c, end) if end is not None else last_of_c
        if first > last:
            continue
        if c.rrule is None:
            out.append(c)
            continue
        stop = min(last, first + dt.timedelta(days=AFFECTED_DAYS - 1))
        day = first
        while day <= stop:
            if occurs_on(c, day):
                out.append(c)
                break
            day += dt.timedelta(days=1)
    return out


def remove_closure(store: Store, closure_id: str) -> None:
    """Delete a closure (``ClosureNotFound`` if none has that id)."""
    _require_phase1(store)
    if not store.remove_closure(closure_id):
        raise ClosureNotFound(f"no closure with id {closure_id[:60]!r}")


def valid_time_zone(name: str) -> zoneinfo.ZoneInfo:
    """The zone ``name`` names, or ``InvalidTimeZone``."""
    text = name.strip() if isinstance(name, str) else ""
    problem = None
    if not text or len(text) > 64:
        problem = "must be an IANA time zone name (e.g. Asia/Seoul)"
    else:
        try:
            return zoneinfo.ZoneInfo(text)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            problem = f"not a known IANA time zone: {text[:40]!r} (e.g. Asia/Seoul)"
    raise InvalidTimeZone({"time_zone": problem})


def clinic_time_zone(store: Store) -> str | None:
    """The time zone stored in ``clinic_settings`` (None: no row)."""
    _require_phase1(store)
    return store.clinic_time_zone()


def set_clinic_time_zone(store: Store, name: str) -> str:
    """Validate and store the clinic's time zone; the name as stored."""
    zone = valid_time_zone(name)
    _require_phase1(store)
    store.set_clinic_time_zone(zone.key)
    return zone.key
