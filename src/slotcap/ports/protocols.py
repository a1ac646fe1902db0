"""The ports themselves: what the use cases need from storage, as ``typing.Protocol``
(see :mod:`slotcap.ports`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from slotcap.domain.closures import Closure
from slotcap.domain.model import (
    ClinicTimeSlot,
    Period,
    Reservation,
    ReservationStatus,
    Service,
    ServiceLimit,
)
from slotcap.domain.rules import CapacityPlan, Decision
from slotcap.domain.schema_state import SchemaState
from slotcap.domain.shadow import HeldLoad, Mismatch, ShadowCounters, ShadowTotals
from slotcap.ports.records import (
    CalendarEntry,
    CreatedCounts,
    DailyFacts,
    IdempotencyRecord,
    MigrationView,
    OneTrip,
    PeriodFacts,
)

__all__ = [
    "BookingTransaction",
    "Clock",
    "LimitRepository",
    "MigrationStatusReader",
    "OneTripBooking",
    "PeriodRule",
    "ReservationRepository",
    "ServiceCatalog",
    "Store",
    "TimeSlotRepository",
]

#: A pure period rule, staged (:func:`slotcap.domain.rules.plan_period_capacity`): from
#: the service, the slot, the closures that apply and the schema state, the decision
#: where the held minutes cannot change it, else the plan they finish
#: (:func:`slotcap.domain.rules.finish_plan`). Pure: a store may remember its answers
#: for the same inputs (``Store.period_decision``).
PeriodRule = Callable[
    [Service | None, ClinicTimeSlot | None, tuple[Closure, ...], SchemaState],
    Decision | CapacityPlan,
]


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
        """Insert, or update the row with the same id. Raises ``ServiceExists`` when
        another service (another id) already has the code."""
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


class OneTripBooking(Protocol):
    """A booking scope's one-statement decisions, where its store has them (PostgreSQL
    with phase 2's ledger, in a ``Store.deferred_booking`` scope: BEGIN, the locks, the
    deciding ``INSERT … SELECT … WHERE <fits>`` and COMMIT in one round trip). None:
    not here — the in-memory store, SQLite, no ledger, a figure the statement cannot
    decide alone — and the careful path decides, in the same scope."""

    def book_period(self, period: Period,
                    make: Callable[[Service, ClinicTimeSlot], Reservation]) -> OneTrip | None:
        """The minutes rule's booking, the row built by ``make`` from the store's
        catalogue snapshot."""

    def book_daily(self, reservation: Reservation) -> OneTrip | None:
        """The count rule's booking of ``reservation``."""


class BookingTransaction(OneTripBooking, Protocol):
    """Reads and the insert inside one atomic, locked booking scope."""

    def held_patients(self, day: dt.date, service_code: str) -> list[tuple[str, str]]:
        """(patient name, phone) of every PENDING/CONFIRMED booking of ``service_code``
        on ``day``, under the scope's (date, service) lock: the duplicate rule's facts."""

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

    def usable(self) -> bool:
        """False once a failed statement has aborted the transaction (PostgreSQL)."""

    def insert(self, reservation: Reservation) -> None:
        """Insert the reservation, writing every column the schema state has. Raises
        ``ReservationExists`` when a reservation with its id exists already."""
        ...

    def insert_within_daily_limit(self, reservation: Reservation) -> DailyFacts:
        """The legacy count rule's check and insert as one step: insert ``reservation``
        only if :func:`slotcap.domain.rules.check_daily_limit` allows it on the facts of
        its date and ``service`` code, and return those facts (as read before the
        insert), so the caller can tell and explain a refusal."""
        ...

    def daily_facts(self, day: dt.date, service_code: str) -> DailyFacts:
        """The count rule's facts as the scope's transaction sees them now."""

    def record_shadow(self, day: dt.date, service_code: str, control: str, outcome: str,
                      mismatch: Mismatch | None) -> None:
        """Count one shadowed booking (and store its ``mismatch``) where the store
        keeps them (the shadow tables): a mismatch with the booking, any other count
        once the booking commits, in batches (``Store.flush_shadow``); may raise."""


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

    def period_decision(
        self, day: dt.date, period: Period, service_code: str, rule: PeriodRule
    ) -> Decision:
        """``rule``'s decision on :meth:`period_facts`: ``finish_plan(rule(service,
        slot, closures, schema_state), held_minutes)``. The held minutes are read on
        every call; a store may serve the rest (the plan, and the decision for held
        minutes it has seen) from memory, ``rule`` being pure."""
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

    def deferred_booking(
        self,
        day: dt.date,
        service_code: str,
        periods: Sequence[Period],
        *,
        deadline: float | None = None,
    ) -> AbstractContextManager[BookingTransaction]:
        """:meth:`booking` whose locks may go with a deciding statement (its scope's
        ``book_period`` / ``book_daily``), so that a booking one statement decides
        crosses the network once; the scope holds no lock until it runs a statement.
        A store without one-statement decisions answers with :meth:`booking`."""
        ...

    def close(self) -> None: ...

    @property
    def shadow(self) -> ShadowCounters: ...  # the switch and this process's counters

    def shadow_totals(self, start: dt.date, end: dt.date) -> ShadowTotals:
        """Shadowed bookings and stored mismatches of booked dates ``start``..``end``."""

    def flush_shadow(self) -> int:
        """Write this process's waiting shadow decision counts now (the SQL stores
        batch the agreements; ``close()`` and ``shadow_totals`` flush too); how many.
        Never raises."""

    def purge_shadow(self, before: dt.datetime) -> int:
        """Delete shadow rows last written before ``before`` (naive UTC); how many."""

    def held_load(self, start: dt.date, end: dt.date) -> list[HeldLoad]:
        """Held load per (date, period, service), one aggregate query (``whatif``)."""

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
        processes' stores within their snapshot age (``CLOSURES_MAX_AGE``). Raises
        ``ClosureExists`` when a closure with its id exists already."""
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


class MigrationStatusReader(Protocol):
    """Where the HTTP server reads the migration (wired in ``bootstrap``)."""

    def migration_status(self) -> MigrationView | None:
        """None: the store keeps no journal (memory). ``SlotcapError``: unreadable."""
        ...
