"""Clocks: where "now" and "today" come from, injected rather than read in place.

``SystemClock`` is the one place slotcap reads the machine's time; ``FixedClock`` is
what tests pass to the composition root (``slotcap.bootstrap``) and to ``book``.
Both satisfy ``slotcap.ports.Clock``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import attrs

__all__ = ["DayClock", "FixedClock", "SystemClock", "ZonedClock", "db_timestamp", "local_date"]


def db_timestamp(now: dt.datetime) -> dt.datetime:
    """``now`` as the reservation table stores it: naive UTC, millisecond precision.

    Prisma stores TIMESTAMP(3) in UTC without zone; cutting to milliseconds makes a
    value read back compare equal to the one written.
    """
    if now.tzinfo is not None:
        now = now.astimezone(dt.UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@attrs.frozen
class SystemClock:
    """The machine's clock. ``tz`` is the clinic's time zone for ``today()``; None
    means the machine's local zone (dates are the clinic's calendar dates, never
    derived from UTC)."""

    tz: dt.tzinfo | None = None

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def today(self) -> dt.date:
        if self.tz is None:
            return dt.date.today()
        return dt.datetime.now(self.tz).date()

    def local_now(self) -> dt.datetime:
        """Now on the clinic's wall clock (aware)."""
        return dt.datetime.now(dt.UTC).astimezone(self.tz)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@attrs.frozen
class FixedClock:
    """A clock that always says the same thing: ``at`` (aware; naive means UTC) and
    ``day`` (default: ``at``'s UTC date)."""

    at: dt.datetime = attrs.field(converter=_aware)
    day: dt.date | None = None
    #: The zone of :meth:`local_now` (the clinic's wall clock): UTC unless given.
    tz: dt.tzinfo = dt.UTC

    def now(self) -> dt.datetime:
        return self.at

    def today(self) -> dt.date:
        return self.day if self.day is not None else self.at.astimezone(dt.UTC).date()

    def local_now(self) -> dt.datetime:
        return self.at.astimezone(self.tz)


@attrs.frozen
class DayClock:
    """The system clock with "today" pinned to ``day``: for booking as of a given date
    (a replay, a benchmark, a test) while timestamps stay real. ``tz``: the zone of
    :meth:`local_now` (None: the machine's)."""

    day: dt.date
    tz: dt.tzinfo | None = None

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def today(self) -> dt.date:
        return self.day

    def local_now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC).astimezone(self.tz)


def local_date(now: dt.datetime, tz: dt.tzinfo | None) -> dt.date:
    """The calendar date at instant ``now`` (aware; naive means UTC) in zone ``tz``
    (None: the machine's local zone)."""
    return _aware(now).astimezone(tz).date()


@attrs.frozen
class ZonedClock:
    """A clock whose "today" is in the zone ``zone()`` returns when asked (None: the
    machine's local zone), and whose "now" is ``base``'s. The composition root passes
    a ``zone`` that reads the clinic's stored time zone (cached); this class does no
    I/O of its own."""

    zone: Callable[[], dt.tzinfo | None]
    base: SystemClock | FixedClock = attrs.field(factory=SystemClock)

    def now(self) -> dt.datetime:
        return self.base.now()

    def today(self) -> dt.date:
        return local_date(self.base.now(), self.zone())

    def local_now(self) -> dt.datetime:
        return _aware(self.base.now()).astimezone(self.zone())
