"""The ports' records: the facts a decision needs, the calendar, the keys, the
monitor's counts and the migration's view (frozen values), the busy budget, and
``ClosesOnExit``, the base of what its owner closes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from types import TracebackType
from typing import Self

import attrs

from slotcap.domain.closures import Closure
from slotcap.domain.model import (
    ClinicTimeSlot,
    Period,
    Reservation,
    Service,
    ServiceLimit,
)
from slotcap.domain.slot_init import slot_setters

__all__ = [
    "DEFAULT_BUSY_BUDGET",
    "CalendarEntry",
    "ClosesOnExit",
    "CreatedCounts",
    "CreatedHour",
    "DailyFacts",
    "IdempotencyRecord",
    "MigrationView",
    "OneTrip",
    "PeriodFacts",
    "make_period_facts",
]


@attrs.frozen(kw_only=True)
class PeriodFacts:
    """What the minutes rule needs for one (date, period, service)."""

    service: Service | None
    slot: ClinicTimeSlot | None
    held_minutes: int
    #: The closures and overrides that apply to this date and period
    #: (``slotcap.domain.closures.applying``); empty before phase 1.
    closures: tuple[Closure, ...] = ()


def _period_facts_maker() -> Callable[[Service | None, ClinicTimeSlot | None, int,
                                       tuple[Closure, ...]], PeriodFacts]:
    """``PeriodFacts(service=…, slot=…, held_minutes=…, closures=…)`` by its slots'
    setters: the same frozen, equal, hashable object at about half the cost (a lean
    check builds one per call). Only while
    :func:`~slotcap.domain.slot_init.slot_setters` allows
    (tests/unit/test_calendar_entries.py); else the class's own ``__init__``."""
    names = ("service", "slot", "held_minutes", "closures")
    setters = slot_setters(PeriodFacts, names)
    if setters is None:
        def made(service: Service | None, slot: ClinicTimeSlot | None, held_minutes: int,
                 closures: tuple[Closure, ...]) -> PeriodFacts:
            return PeriodFacts(service=service, slot=slot, held_minutes=held_minutes,
                               closures=closures)
        return made
    new = object.__new__
    s, t, h, c = setters

    def fast(service: Service | None, slot: ClinicTimeSlot | None, held_minutes: int,
             closures: tuple[Closure, ...]) -> PeriodFacts:
        facts: PeriodFacts = new(PeriodFacts)
        s(facts, service)
        t(facts, slot)
        h(facts, held_minutes)
        c(facts, closures)
        return facts
    return fast


#: ``make_period_facts(service, slot, held_minutes, closures)``, positionally and
#: cheaply (:func:`_period_facts_maker`).
make_period_facts = _period_facts_maker()


@attrs.frozen(kw_only=True)
class DailyFacts:
    """What the count rule needs for one (date, service code)."""

    limit: ServiceLimit | None
    held_count: int


@attrs.frozen(kw_only=True)
class CalendarEntry:
    """Booked, capacity and remaining minutes of one date's period.

    ``is_open`` is False where the clinic has no active slot; capacity and remaining are
    then 0 while ``booked`` still reports what is held there (e.g. bookings made before
    the slot was deactivated).
    """

    day: dt.date
    period: Period
    is_open: bool
    capacity: int
    booked: int
    #: A closure's reason when one closes this date's period (``is_open`` False,
    #: capacity 0); None otherwise. An override shows as the entry's capacity.
    closed_reason: str | None = None

    @property
    def remaining(self) -> int:
        return max(self.capacity - self.booked, 0)


#: Seconds of retrying lock waits, deadlocks, serialization failures before ``StoreBusy``.
DEFAULT_BUSY_BUDGET = 2.0


class ClosesOnExit:
    """A base for what its owner closes: ``with thing:`` calls ``thing.close()`` on the
    way out (the memory store, the composition root's ``App``)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@attrs.frozen(kw_only=True)
class IdempotencyRecord:
    """One ``Idempotency-Key``'s first answer, saved in the same transaction as the
    booking it answered (``book(..., idempotency_key=)``).

    ``answer`` is the use case's own JSON text (what the first call returned or
    refused); ``reservation_id`` the reservation it created, if any; ``created_at``
    naive UTC (the stores' timestamps), from which keys expire.
    """

    key: str
    fingerprint: str
    reservation_id: str | None
    answer: str
    created_at: dt.datetime


@attrs.frozen(kw_only=True)
class OneTrip:
    """One deciding statement's outcome (docs/stores.md): the figures it read under the
    locks before its insert (None: unknown); ``final``: a refusal on them stands."""

    inserted: bool
    final: bool
    reservation: Reservation
    period: PeriodFacts | None
    daily: DailyFacts | None


@attrs.frozen(kw_only=True)
class CreatedHour:
    """Reservations created in one UTC hour, by what their writer filled in.

    ``dynamic``: every new column (``serviceId``, ``serviceName``,
    ``estimatedDuration``, ``period``) set — what the dynamic path always writes;
    ``legacy``: one or more of them empty — what a writer of the old columns only writes
    (every row before phase 1). docs/monitor.md has the whole rule and its limit.
    """

    #: The hour's start, timezone-aware UTC.
    hour: dt.datetime
    dynamic: int
    legacy: int


@attrs.frozen(kw_only=True)
class CreatedCounts:
    """``Store.created_per_hour``: the hours that had reservations created (oldest
    first; an hour without any is absent), and the dual-write gaps of the same rows."""

    hours: tuple[CreatedHour, ...]
    #: Rows lacking one or more new columns while the schema has them (0 before
    #: phase 1: there is nothing to fill yet).
    gaps: int
    #: Of ``gaps``, the rows whose only empty new column is ``period`` (a dual-writing
    #: legacy path that could not read ``preferredTime``: they go to manual review).
    gaps_period_only: int


@attrs.frozen(kw_only=True)
class MigrationView:
    """``migrate status`` as the operator page shows it: the phase, settled | interrupted
    | inconsistent, the one-line summary, the journal's latest rows (newest first)."""

    phase: str
    state: str
    summary: str
    history: tuple[dict[str, object], ...]
