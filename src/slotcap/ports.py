"""Ports: what the use cases need from storage, as ``typing.Protocol``.

Adapters (``slotcap.adapters.*``) implement them and hold every line of SQL. The use
cases only ever see these protocols and the pure records in ``slotcap.domain``.

Two shapes of read on purpose:

* *facts* (``period_facts``, ``daily_facts``): everything one decision needs, gathered
  in a single round trip once the data is backfilled (an indexed aggregate in SQL; a
  second one only while rows of that date lack a duration or a period) — the check is
  the hot path of the web app;
* *booking transactions* (``booking``): a scope in which the check and the insert are
  atomic. The adapter serialises scopes that touch the same (date, period) or
  (date, service) by taking locks in one fixed order — periods in ``Period`` order,
  then the service — so two requests can never both see the last free minutes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

import attrs

from slotcap.domain.closures import Closure
from slotcap.domain.model import (
    ClinicTimeSlot,
    Period,
    Reservation,
    ReservationStatus,
    Service,
    ServiceLimit,
)
from slotcap.domain.schema_state import SchemaState

__all__ = [
    "DEFAULT_BUSY_BUDGET",
    "BookingTransaction",
    "CalendarEntry",
    "Clock",
    "ClosesOnExit",
    "CreatedCounts",
    "CreatedHour",
    "DailyFacts",
    "IdempotencyRecord",
    "LimitRepository",
    "OneTrip",
    "OneTripBooking",
    "PeriodFacts",
    "ReservationRepository",
    "SchemaState",
    "ServiceCatalog",
    "Store",
    "TimeSlotRepository",
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


#: Seconds a store keeps retrying an operation that met a lock wait, a deadlock or a
#: serialization failure before it raises ``StoreBusy`` (``busy_budget``).
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


class Clock(Protocol):
    """Where "now" and "today" come from (``slotcap.domain.clock`` has the system one
    and a fixed one for tests)."""

    def now(self) -> dt.datetime:
        """The current instant, timezone-aware, in UTC."""
        ...

    def today(self) -> dt.date:
        """Today's date in the clinic's time zone."""
        ...

    def local_now(self) -> dt.datetime:
        """Now on the clinic's wall clock (aware, in its time zone): the same-day
        cut-off (``book(..., cutoff=True)``) compares it with a period's start."""
        ...


class ServiceCatalog(Protocol):
    def list_services(self, *, include_deleted: bool = False) -> list[Service]:
        """All services ordered by ``display_order`` then ``code``."""
        ...

    def get_service(self, code: str) -> Service | None:
        """The service with that code, soft-deleted ones included (callers decide)."""
        ...

    def save_service(self, service: Service) -> None:
        """Insert, or update the row with the same id."""
        ...


class TimeSlotRepository(Protocol):
    """The clinic's weekly opening hours (``clinic_time_slots``). Not to be confused
    with ``domain.timeparse.ClinicHours``, the parser's view of them."""

    def list_time_slots(self) -> list[ClinicTimeSlot]:
        """All slots, active or not, ordered by day of week then period."""
        ...

    def save_time_slot(self, slot: ClinicTimeSlot) -> None:
        """Insert, or update the slot of the same (day_of_week, period)."""
        ...


class LimitRepository(Protocol):
    def get_limit(self, service_code: str) -> ServiceLimit | None: ...

    def save_limit(self, limit: ServiceLimit) -> None:
        """Insert, or update the limit of the same service code."""
        ...


class ReservationRepository(Protocol):
    def get_reservation(self, reservation_id: str) -> Reservation | None: ...

    def set_status(
        self,
        reservation_id: str,
        status: ReservationStatus,
        *,
        changed_by: str | None = None,
    ) -> Reservation:
        """Change a reservation's status; raises ``ReservationNotFound``."""
        ...


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


class BookingTransaction(Protocol):
    """Reads and the insert inside one atomic, locked booking scope."""

    def held_patients(self, day: dt.date, service_code: str) -> list[tuple[str, str]]:
        """(patient name, phone) of every PENDING/CONFIRMED booking of ``service_code``
        on ``day``, read under the scope's (date, service) lock: the duplicate rule's
        facts."""
        ...

    def find_idempotency(self, key: str) -> IdempotencyRecord | None:
        """The record saved under ``key``, as committed before the scope's locks were
        granted (None: no such key)."""
        ...

    def save_idempotency(self, record: IdempotencyRecord, *, replace: bool = False) -> None:
        """Save ``record`` in the scope's transaction (``replace``: over an expired
        record of the same key). Raises ``IdempotencyKeyReused`` when another
        transaction committed the key meanwhile, ``IdempotencyInProgress`` when one
        still holds it uncommitted past the store's lock wait."""
        ...

    def period_facts(self, day: dt.date, period: Period, service_code: str) -> PeriodFacts: ...

    def insert(self, reservation: Reservation) -> None:
        """Insert the reservation, writing every column the schema state has."""
        ...

    def insert_within_daily_limit(self, reservation: Reservation) -> DailyFacts:
        """The legacy count rule's check and insert as one step: insert ``reservation``
        only if :func:`slotcap.domain.rules.check_daily_limit` allows it on the facts of
        its date and ``service`` code, and return those facts (as read before the
        insert), so the caller can tell and explain a refusal."""
        ...


@attrs.frozen(kw_only=True)
class OneTrip:
    """One deciding statement's outcome (docs/stores.md): the figures it read under the
    locks before its insert (None: unknown); ``final``: a refusal on them stands."""

    inserted: bool; final: bool; reservation: Reservation  # noqa: E702
    period: PeriodFacts | None; daily: DailyFacts | None  # noqa: E702


class OneTripBooking(Protocol):
    """A scope deciding and inserting in one statement (None: the careful path)."""
    def book_period(self, period: Period,
                    make: Callable[[Service, ClinicTimeSlot], Reservation]) -> OneTrip | None: ...

    def book_daily(self, reservation: Reservation) -> OneTrip | None: ...


@runtime_checkable
class Store(
    ServiceCatalog, TimeSlotRepository, LimitRepository, ReservationRepository, Protocol
):
    """A whole reservation database, whatever its engine.

    A context manager: ``with open_store(url) as store:`` closes it on the way out
    (its owner closes it; nothing else does).
    """

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    @property
    def schema_state(self) -> SchemaState: ...

    #: Seconds an operation keeps retrying lock waits, deadlocks and serialization
    #: failures before ``StoreBusy`` (a booking's attempts share it).
    busy_budget: float

    def refresh_schema_state(self, *, max_age: float = 0.0) -> SchemaState:
        """Re-read the database's schema phase, unless it was read less than
        ``max_age`` seconds ago; the state now in use."""
        ...

    def period_facts(self, day: dt.date, period: Period, service_code: str) -> PeriodFacts:
        """Service, slot and held minutes; one round trip when the date's held rows are
        backfilled, two while some lack a duration or period (no lock)."""
        ...

    def daily_facts(self, day: dt.date, service_code: str) -> DailyFacts:
        """Limit and held count in one round trip (no lock)."""
        ...

    def calendar(self, start: dt.date, end: dt.date) -> list[CalendarEntry]:
        """Every date and period from ``start`` to ``end`` inclusive, in one query."""
        ...

    def booking(
        self,
        day: dt.date,
        service_code: str,
        periods: Sequence[Period],
        *,
        deadline: float | None = None,
    ) -> AbstractContextManager[BookingTransaction]:
        """An atomic scope holding the locks of ``day``'s ``periods`` and of
        (``day``, ``service_code``). Commits on normal exit, rolls back on exception.
        Raises ``StoreBusy`` if the locks cannot be had by ``deadline``
        (``time.monotonic()``; default: now plus ``busy_budget``)."""
        ...

    def close(self) -> None: ...

    def prepare_idempotency(self) -> None:
        """Make sure the ``Idempotency-Key`` records can be kept (the SQL stores create
        their table on first use, in any phase); cheap once done."""
        ...

    def purge_idempotency_keys(self, before: dt.datetime) -> int:
        """Delete the ``Idempotency-Key`` records created before ``before`` (naive UTC);
        how many went. A store without the table yet has none."""
        ...

    def created_per_hour(self, since: dt.datetime, until: dt.datetime) -> CreatedCounts:
        """Reservations whose ``createdAt`` is in ``[since, until)`` (aware datetimes),
        counted per UTC hour by what was written (:class:`CreatedHour`), with the
        dual-write gaps among them; one query (``createdAt``'s index where phase 4
        built it)."""
        ...

    # -- closures and clinic settings (phase 1's clinic_closures / clinic_settings) ----

    def list_closures(self) -> list[Closure]:
        """Every closure and override, ordered by start date then id. Before phase 1
        (no table) SQL stores raise ``SchemaStateError``."""
        ...

    def add_closure(self, closure: Closure) -> None:
        """Insert a closure; checks and bookings by this store see it at once, other
        processes' stores within their snapshot age (``CLOSURES_MAX_AGE``)."""
        ...

    def remove_closure(self, closure_id: str) -> bool:
        """Delete a closure; False if there was none with that id."""
        ...

    def held_between(self, start: dt.date, end: dt.date) -> list[Reservation]:
        """PENDING/CONFIRMED reservations dated ``start``..``end`` inclusive, by date then
        id (the bookings to call when a closure covers their date)."""
        ...

    def clinic_time_zone(self) -> str | None:
        """The clinic's IANA time zone stored in ``clinic_settings`` (None: no table or
        no row — before phase 1)."""
        ...

    def set_clinic_time_zone(self, name: str) -> None:
        """Store the clinic's time zone (the caller validates the name)."""
        ...


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
