"""``SqlStore``: the store both SQL engines share, put together from its parts.

One :class:`~.store.SqlCore` (the engine's sessions, the dialect, the clock, the busy
budget, the statements of the schema shape) and small parts over it, each an object:
:class:`~.reads.SqlReads`, :class:`~.calendar.SqlCalendar`,
:class:`~.writes.SqlWrites`, :class:`~.booking.SqlBookings`,
:class:`~.idempotency.KeysAndPatients`, :class:`~.shadow_sql.ShadowSql`,
:class:`~.monitoring.SqlMonitoring`. ``SqlStore`` delegates each ``Store`` method to
its part in one line; an engine (``SqliteStore``, ``PostgresStore``) subclasses it
only to provide its sessions and read its driver's errors (the
:class:`~.store.Engine` hooks), which the core calls.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
from collections.abc import Callable, Sequence

from slotcap.adapters.sql.booking import SqlBooking, SqlBookings
from slotcap.adapters.sql.calendar import SqlCalendar
from slotcap.adapters.sql.checks import SqlChecks
from slotcap.adapters.sql.connections import ConnectionSource
from slotcap.adapters.sql.idempotency import KeysAndPatients
from slotcap.adapters.sql.monitoring import SqlMonitoring
from slotcap.adapters.sql.reads import SqlReads
from slotcap.adapters.sql.shadow_buffer import ShadowBuffer
from slotcap.adapters.sql.shadow_sql import ShadowSql
from slotcap.adapters.sql.store import Session, SqlCore
from slotcap.adapters.sql.writes import SqlWrites
from slotcap.domain.closures import Closure
from slotcap.domain.model import (
    ClinicTimeSlot,
    Period,
    Reservation,
    ReservationStatus,
    Service,
    ServiceLimit,
)
from slotcap.domain.rules import Decision
from slotcap.domain.shadow import HeldLoad, Mismatch, ShadowCounters, ShadowTotals
from slotcap.errors import DatabaseError, SlotcapError
from slotcap.ports import (
    DEFAULT_BUSY_BUDGET,
    CalendarEntry,
    Clock,
    ClosesOnExit,
    CreatedCounts,
    DailyFacts,
    PeriodFacts,
    PeriodRule,
    SchemaState,
)
from slotcap.sql.connection import SqlConnection
from slotcap.sql.dialect import DialectRules

__all__ = ["SqlStore"]


class SqlStore(ClosesOnExit, abc.ABC):
    """The store logic both SQL engines share, as parts over one core; subclasses
    supply the dialect, connections and locks (the engine hooks below). A context
    manager: leaving the ``with`` block closes the connections the store opened."""

    #: See :attr:`SqlReads.CATALOGUE_MAX_AGE` and :attr:`SqlReads.CLOSURES_MAX_AGE`.
    CATALOGUE_MAX_AGE = SqlReads.CATALOGUE_MAX_AGE
    CLOSURES_MAX_AGE = SqlReads.CLOSURES_MAX_AGE

    #: Set by the engines: where the store's connections come from.
    _source: ConnectionSource[SqlConnection]

    def __init__(
        self,
        dialect: DialectRules,
        *,
        busy_budget: float = DEFAULT_BUSY_BUDGET,
        clock: Clock | None = None,
    ) -> None:
        self._dialect = dialect
        core = self._core = SqlCore(self, dialect, busy_budget=busy_budget, clock=clock)
        self._reads = SqlChecks(core)
        self._calendar = SqlCalendar(core, self._reads)
        self._writes = SqlWrites(core, self._reads)
        self._keys = KeysAndPatients(core)
        self._shadow = ShadowSql(core)
        self._shadow_counters = self._shadow.shadow
        self._bookings = SqlBookings(core, self._reads, self._keys, self._shadow)
        self._monitoring = SqlMonitoring(core)
        self.period_decision = self._reads.period_decision

    @property
    def busy_budget(self) -> float:
        """Seconds an operation keeps retrying lock waits, deadlocks and serialization
        failures before ``StoreBusy``."""
        return self._core.busy_budget

    @busy_budget.setter
    def busy_budget(self, seconds: float) -> None:
        self._core.busy_budget = seconds

    # lifecycle and engine hooks (the engine's; the core calls them) -------------------

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connections the store opened (never the application's own)."""

    @abc.abstractmethod
    def _session(self) -> contextlib.AbstractContextManager[Session]:
        """See :class:`~.store.Engine`."""

    @abc.abstractmethod
    def _write_session(self, deadline: float) -> contextlib.AbstractContextManager[Session]:
        """See :class:`~.store.Engine`."""

    @abc.abstractmethod
    def _locked_session(
        self, day: dt.date, service_code: str, periods: Sequence[Period], deadline: float
    ) -> contextlib.AbstractContextManager[Session]:
        """See :class:`~.store.Engine`."""

    def _deferred_session(
        self, day: dt.date, service_code: str, periods: Sequence[Period], deadline: float
    ) -> contextlib.AbstractContextManager[Session]:
        """:meth:`_locked_session` whose locks may come with its first statement (the
        one-trip booking, PostgreSQL); elsewhere the same."""
        return self._locked_session(day, service_code, periods, deadline)

    @abc.abstractmethod
    def _is_schema_change(self, exc: Exception) -> bool:
        """See :class:`~.store.Engine`."""

    @abc.abstractmethod
    def _translate(self, exc: Exception, what: str) -> SlotcapError | None:
        """See :class:`~.store.Engine`."""

    @abc.abstractmethod
    def _is_duplicate(self, exc: DatabaseError) -> bool: ...

    def _reload(self, session: Session) -> None:
        """Re-read the schema on ``session`` (an engine's booking session met a change)."""
        self._core.reload(session)

    # schema state ----------------------------------------------------------------------

    @property
    def schema_state(self) -> SchemaState:
        return self._core.current().state

    def refresh_schema_state(self, *, max_age: float = 0.0) -> SchemaState:
        """Re-read the catalogue (after an operator applied or rolled back a phase),
        unless it was read less than ``max_age`` seconds ago."""
        return self._core.refresh_schema_state(max_age=max_age)

    # reads -----------------------------------------------------------------------------

    def period_facts(self, day: dt.date, period: Period, service_code: str) -> PeriodFacts:
        return self._reads.period_facts(day, period, service_code)

    #: ``Store.period_decision``: the reads' own method, bound in ``__init__`` (a
    #: check's hot path: one call less).
    period_decision: Callable[[dt.date, Period, str, PeriodRule], Decision]

    def daily_facts(self, day: dt.date, service_code: str) -> DailyFacts:
        return self._reads.daily_facts(day, service_code)

    def calendar(self, start: dt.date, end: dt.date) -> list[CalendarEntry]:
        return self._calendar.calendar(start, end)

    def list_services(self, *, include_deleted: bool = False) -> list[Service]:
        return self._reads.list_services(include_deleted=include_deleted)

    def get_service(self, code: str) -> Service | None:
        return self._reads.get_service(code)

    def list_time_slots(self) -> list[ClinicTimeSlot]:
        return self._reads.list_time_slots()

    def get_limit(self, service_code: str) -> ServiceLimit | None:
        return self._reads.get_limit(service_code)

    def get_reservation(self, reservation_id: str) -> Reservation | None:
        return self._reads.get_reservation(reservation_id)

    def list_closures(self) -> list[Closure]:
        return self._reads.list_closures()

    def held_between(self, start: dt.date, end: dt.date) -> list[Reservation]:
        return self._reads.held_between(start, end)

    def clinic_time_zone(self) -> str | None:
        return self._reads.clinic_time_zone()

    # the booking scopes ----------------------------------------------------------------

    def booking(
        self, day: dt.date, service_code: str, periods: Sequence[Period], *,
        deadline: float | None = None,
    ) -> contextlib.AbstractContextManager[SqlBooking]:
        """See :meth:`SqlBookings.booking`."""
        return self._bookings.booking(day, service_code, periods, deadline=deadline)

    def deferred_booking(
        self, day: dt.date, service_code: str, periods: Sequence[Period], *,
        deadline: float | None = None,
    ) -> contextlib.AbstractContextManager[SqlBooking]:
        """See :meth:`SqlBookings.deferred_booking`."""
        return self._bookings.deferred_booking(day, service_code, periods, deadline=deadline)

    # writes ----------------------------------------------------------------------------

    def save_service(self, service: Service) -> None:
        self._writes.save_service(service)

    def save_time_slot(self, slot: ClinicTimeSlot) -> None:
        self._writes.save_time_slot(slot)

    def save_limit(self, limit: ServiceLimit) -> None:
        self._writes.save_limit(limit)

    def set_status(
        self, reservation_id: str, status: ReservationStatus, *, changed_by: str | None = None,
    ) -> Reservation:
        return self._writes.set_status(reservation_id, status, changed_by=changed_by)

    def add_closure(self, closure: Closure) -> None:
        self._writes.add_closure(closure)

    def remove_closure(self, closure_id: str) -> bool:
        return self._writes.remove_closure(closure_id)

    def set_clinic_time_zone(self, name: str) -> None:
        self._writes.set_clinic_time_zone(name)

    # idempotency keys ------------------------------------------------------------------

    def prepare_idempotency(self) -> None:
        self._keys.prepare_idempotency()

    def purge_idempotency_keys(self, before: dt.datetime) -> int:
        return self._keys.purge_idempotency_keys(before)

    # shadow decisions ------------------------------------------------------------------

    @property
    def shadow(self) -> ShadowCounters:
        return self._shadow_counters  # the part's, kept here: a check asks first

    def record_shadow_now(self, day: dt.date, service: str, control: str, outcome: str,
                          mismatch: Mismatch | None) -> None:
        self._shadow.record_shadow_now(day, service, control, outcome, mismatch)

    def shadow_totals(self, start: dt.date, end: dt.date) -> ShadowTotals:
        return self._shadow.shadow_totals(start, end)

    @property
    def shadow_buffer(self) -> ShadowBuffer:
        return self._shadow.shadow_buffer

    def flush_shadow(self) -> int:
        return self._shadow.flush_shadow()

    def _close_shadow(self) -> None:
        self._shadow._close_shadow()

    def purge_shadow(self, before: dt.datetime) -> int:
        return self._shadow.purge_shadow(before)

    def held_load(self, start: dt.date, end: dt.date) -> list[HeldLoad]:
        return self._shadow.held_load(start, end)

    # monitoring ------------------------------------------------------------------------

    def created_per_hour(self, since: dt.datetime, until: dt.datetime) -> CreatedCounts:
        return self._monitoring.created_per_hour(since, until)

    def sql_connection(self) -> contextlib.AbstractContextManager[SqlConnection]:
        """One of the store's connections, borrowed for a read the store has no method
        for — the operator page's ``migrate status`` (:func:`slotcap.migration.status_conn`).
        Hold it briefly and leave no transaction open."""
        return self._source.borrow()
