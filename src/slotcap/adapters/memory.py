"""The in-memory store: a first-class adapter, and the reference the SQL stores are
tested against (same decisions, same totals).

Thread-safe: one re-entrant lock guards everything, and a booking scope holds it from
the check to the insert, which makes check-and-insert atomic by construction.

The checks read only what holds capacity: a per-date index of the PENDING/CONFIRMED
reservation ids (kept up to date by insert, undo and ``set_status``) and service maps
built once per ``save_service``, so a check costs the date's held rows, not the date's
history — as the SQL stores' index probes do.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence

import attrs

from slotcap.adapters._closures import closures_for, with_closures
from slotcap.adapters._memory_once import MemoryKeyPurge, MemoryKeysAndPatients
from slotcap.adapters._memory_shadow import MemoryShadow, MemoryShadowTx
from slotcap.adapters._memory_trip import DecidesByFacts, NoDeferredBooking, NoOneTrip
from slotcap.domain.calendar import date_range, day_of_week
from slotcap.domain.clock import SystemClock, db_timestamp
from slotcap.domain.closures import Closure
from slotcap.domain.defaults import DEFAULT_DAILY_LIMITS, DEFAULT_SERVICES, DEFAULT_TIME_SLOTS
from slotcap.domain.model import (
    ClinicTimeSlot,
    Period,
    Reservation,
    ReservationStatus,
    Service,
    ServiceLimit,
)
from slotcap.domain.rules import check_daily_limit, minutes_held
from slotcap.domain.schema_state import Rule, require
from slotcap.errors import ClosureExists, ReservationExists, ReservationNotFound, ServiceExists
from slotcap.ports import (
    DEFAULT_BUSY_BUDGET,
    CalendarEntry,
    Clock,
    ClosesOnExit,
    CreatedCounts,
    CreatedHour,
    DailyFacts,
    IdempotencyRecord,
    PeriodFacts,
    SchemaState,
)

__all__ = ["MemoryStore"]


class MemoryStore(MemoryKeyPurge, MemoryShadow, NoDeferredBooking, DecidesByFacts, ClosesOnExit):
    """Everything in dictionaries. ``schema_state`` mimics a database in that phase:
    a LEGACY store refuses the minutes rule and keeps only old fields, a CONTRACTED
    one refuses the count rule and keeps only new fields."""

    def __init__(
        self,
        *,
        schema_state: SchemaState = SchemaState.EXPANDED,
        services: Iterable[Service] = DEFAULT_SERVICES,
        time_slots: Iterable[ClinicTimeSlot] = DEFAULT_TIME_SLOTS,
        limits: Iterable[ServiceLimit] = DEFAULT_DAILY_LIMITS,
        busy_budget: float = DEFAULT_BUSY_BUDGET,
        clock: Clock | None = None,
        closures: Iterable[Closure] = (),
        time_zone: str | None = None, shadow: bool = True,
    ) -> None:
        self._state = schema_state
        self._clock: Clock = clock if clock is not None else SystemClock()
        #: Kept for the ``Store`` protocol: one lock, never contended for long.
        self.busy_budget = busy_budget
        self._lock = threading.RLock()
        self._services: dict[str, Service] = {s.id: s for s in services}
        self._services_by_id: dict[str, Service] = {}
        self._services_by_code: dict[str, Service] = {}
        self._first_by_code: dict[str, Service] = {}
        self._index_services()
        self._slots: dict[tuple[int, Period], ClinicTimeSlot] = {
            (s.day_of_week, s.period): s for s in time_slots
        }
        self._limits: dict[str, ServiceLimit] = {lim.service_code: lim for lim in limits}
        self._reservations: dict[str, Reservation] = {}
        # date -> ids of its reservations that hold capacity (a dict as an ordered set)
        self._held: dict[dt.date, dict[str, None]] = {}
        self._closures: dict[str, Closure] = {c.id: c for c in closures}
        self._time_zone = time_zone
        self._idempotency: dict[str, IdempotencyRecord] = {}
        self._shadow_init(shadow)

    # -- state ------------------------------------------------------------------------

    @property
    def schema_state(self) -> SchemaState:
        return self._state

    def refresh_schema_state(self, *, max_age: float = 0.0) -> SchemaState:
        """There is no catalogue to re-read: :meth:`set_schema_state` takes effect at
        once, for every caller."""
        return self._state

    def set_schema_state(self, state: SchemaState) -> None:
        """Move to another phase (as an operator's migration would)."""
        with self._lock:
            self._state = state

    def _require_minutes_rule(self) -> None:
        require(self._state, Rule.MINUTES)

    def _require_count_rule(self) -> None:
        require(self._state, Rule.COUNT)

    # -- catalogue, hours, limits ------------------------------------------------------

    def list_services(self, *, include_deleted: bool = False) -> list[Service]:
        with self._lock:
            services = [
                s for s in self._services.values() if include_deleted or s.deleted_at is None
            ]
        return sorted(services, key=lambda s: (s.display_order, s.code))

    def get_service(self, code: str) -> Service | None:
        with self._lock:
            return self._service_by_code(code)

    def _service_by_code(self, code: str) -> Service | None:
        return self._first_by_code.get(code)

    def _index_services(self) -> None:
        """Rebuild the service maps the checks read (call with the lock held)."""
        services = list(self._services.values())
        self._services_by_id = {s.id: s for s in services}
        # The rules' map: the last service of a code wins, as a dict comprehension does.
        self._services_by_code = {s.code: s for s in services}
        # get_service / period_facts: the first service of a code, in insertion order.
        first: dict[str, Service] = {}
        for s in services:
            first.setdefault(s.code, s)
        self._first_by_code = first

    def save_service(self, service: Service) -> None:
        with self._lock:
            clash = self._service_by_code(service.code)
            if clash is not None and clash.id != service.id:
                raise ServiceExists.for_code(service.code)
            self._services[service.id] = service
            self._index_services()

    def list_time_slots(self) -> list[ClinicTimeSlot]:
        with self._lock:
            return sorted(
                self._slots.values(), key=lambda s: (s.day_of_week, s.period != Period.MORNING)
            )

    def save_time_slot(self, slot: ClinicTimeSlot) -> None:
        with self._lock:
            key = (slot.day_of_week, slot.period)
            current = self._slots.get(key)
            if current is not None and current.id != slot.id:
                # As the SQL upsert on (dayOfWeek, period): the row keeps its id.
                slot = attrs.evolve(slot, id=current.id)
            self._slots[key] = slot

    def get_limit(self, service_code: str) -> ServiceLimit | None:
        self._require_count_rule()
        with self._lock:
            return self._limits.get(service_code)

    def save_limit(self, limit: ServiceLimit) -> None:
        self._require_count_rule()
        with self._lock:
            self._limits[limit.service_code] = limit

    # -- reservations ------------------------------------------------------------------

    def get_reservation(self, reservation_id: str) -> Reservation | None:
        with self._lock:
            return self._reservations.get(reservation_id)

    def set_status(self, reservation_id: str, status: ReservationStatus, *,
                   changed_by: str | None = None) -> Reservation:
        with self._lock:
            current = self._reservations.get(reservation_id)
            if current is None:
                raise ReservationNotFound(f"no reservation with id {reservation_id!r}")
            now = db_timestamp(self._clock.now())
            updated = attrs.evolve(
                current,
                status=ReservationStatus(status),
                status_changed_at=now,
                status_changed_by=changed_by,
                updated_at=now,
            )
            self._reservations[reservation_id] = updated
            self._track(updated)
            return updated

    def all_reservations(self) -> list[Reservation]:
        """Every reservation, for tests and the stateful comparison."""
        with self._lock:
            return list(self._reservations.values())

    # -- facts -------------------------------------------------------------------------

    def _held_on(self, day: dt.date) -> list[Reservation]:
        """The reservations of ``day`` that hold capacity (call with the lock held)."""
        ids = self._held.get(day)
        if not ids:
            return []
        reservations = self._reservations
        return [reservations[rid] for rid in ids]

    def _held_minutes(self, day: dt.date, period: Period) -> int:
        by_code: Mapping[str, Service] = (
            self._services_by_code if self._state.has_legacy_columns else {}
        )
        return minutes_held(
            self._held_on(day),
            day=day,
            period=period,
            services_by_code=by_code,
            services_by_id=self._services_by_id,
        )

    def period_facts(self, day: dt.date, period: Period, service_code: str) -> PeriodFacts:
        self._require_minutes_rule()
        with self._lock:
            return PeriodFacts(
                service=self._service_by_code(service_code),
                slot=self._slots.get((day_of_week(day), Period(period))),
                held_minutes=self._held_minutes(day, Period(period)),
                closures=closures_for(list(self._closures.values()), day, Period(period)),
            )

    def daily_facts(self, day: dt.date, service_code: str) -> DailyFacts:
        self._require_count_rule()
        with self._lock:
            held = sum(
                1 for r in self._held_on(day) if r.holds_capacity and r.service == service_code
            )
            return DailyFacts(limit=self._limits.get(service_code), held_count=held)

    def calendar(self, start: dt.date, end: dt.date) -> list[CalendarEntry]:
        self._require_minutes_rule()
        entries = []
        with self._lock:
            for day in date_range(start, end):
                for period in Period:
                    slot = self._slots.get((day_of_week(day), period))
                    is_open = slot is not None and slot.is_active
                    entries.append(
                        CalendarEntry(
                            day=day,
                            period=period,
                            is_open=is_open,
                            capacity=slot.total_minutes if slot is not None and is_open else 0,
                            booked=self._held_minutes(day, period),
                        )
                    )
            return with_closures(entries, list(self._closures.values()))

    # -- booking -----------------------------------------------------------------------

    @contextlib.contextmanager
    def booking(
        self,
        day: dt.date,
        service_code: str,
        periods: Sequence[Period],
        *,
        deadline: float | None = None,
    ) -> Iterator[_MemoryBooking]:
        with self._lock:
            tx = _MemoryBooking(self)
            try:
                yield tx
            except BaseException:
                tx.undo()
                raise

    def _insert(self, reservation: Reservation) -> None:
        if reservation.id in self._reservations:
            raise ReservationExists(f"duplicate reservation id {reservation.id!r}")
        stored = self._state.keep_columns(reservation)
        self._reservations[stored.id] = stored
        self._track(stored)

    def _remove(self, reservation_id: str) -> None:
        removed = self._reservations.pop(reservation_id)
        self._untrack(removed)

    def _track(self, reservation: Reservation) -> None:
        """Put ``reservation`` in (or take it out of) its date's held index, by whether
        it holds capacity now (call with the lock held)."""
        if reservation.holds_capacity:
            self._held.setdefault(reservation.preferred_date, {})[reservation.id] = None
        else:
            self._untrack(reservation)

    def _untrack(self, reservation: Reservation) -> None:
        ids = self._held.get(reservation.preferred_date)
        if ids is not None:
            ids.pop(reservation.id, None)
            if not ids:
                del self._held[reservation.preferred_date]

    def close(self) -> None:
        """Nothing to release."""

    def created_per_hour(self, since: dt.datetime, until: dt.datetime) -> CreatedCounts:
        first, last = db_timestamp(since), db_timestamp(until)
        has_new = self._state.has_new_columns
        hours: dict[dt.datetime, list[int]] = {}
        gaps = period_only = 0
        with self._lock:
            rows = list(self._reservations.values())
        for r in rows:
            at = r.created_at
            if at is None or not first <= at < last:
                continue
            service_known = (
                r.service_id is not None
                and r.service_name is not None
                and r.estimated_duration is not None
            )
            complete = service_known and r.period is not None
            counts = hours.setdefault(at.replace(minute=0, second=0, microsecond=0), [0, 0])
            counts[0 if complete else 1] += 1
            if has_new and not complete:
                gaps += 1
                period_only += service_known
        return CreatedCounts(
            hours=tuple(
                CreatedHour(hour=h.replace(tzinfo=dt.UTC), dynamic=c[0], legacy=c[1])
                for h, c in sorted(hours.items())
            ),
            gaps=gaps,
            gaps_period_only=period_only,
        )
    # -- closures and clinic settings --------------------------------------------------

    def list_closures(self) -> list[Closure]:
        with self._lock:
            return sorted(self._closures.values(), key=lambda c: (c.start_date, c.id))

    def add_closure(self, closure: Closure) -> None:
        with self._lock:
            if closure.id in self._closures:
                raise ClosureExists(f"duplicate closure id {closure.id!r}")
            self._closures[closure.id] = closure

    def remove_closure(self, closure_id: str) -> bool:
        with self._lock:
            return self._closures.pop(closure_id, None) is not None

    def held_between(self, start: dt.date, end: dt.date) -> list[Reservation]:
        with self._lock:
            held = [self._reservations[rid]
                    for day, ids in self._held.items() if start <= day <= end for rid in ids]
        return sorted(held, key=lambda r: (r.preferred_date, r.id))

    def clinic_time_zone(self) -> str | None:
        return self._time_zone

    def set_clinic_time_zone(self, name: str) -> None:
        with self._lock:
            self._time_zone = name


class _MemoryBooking(MemoryKeysAndPatients, MemoryShadowTx, NoOneTrip):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._inserted: list[str] = []
        self._saved_keys: list[tuple[str, IdempotencyRecord | None]] = []
        self._shadow_done = []

    def period_facts(self, day: dt.date, period: Period, service_code: str) -> PeriodFacts:
        return self._store.period_facts(day, period, service_code)

    def insert(self, reservation: Reservation) -> None:
        self._store._insert(reservation)
        self._inserted.append(reservation.id)

    def insert_within_daily_limit(self, reservation: Reservation) -> DailyFacts:
        facts = self._store.daily_facts(reservation.preferred_date, reservation.service or "")
        if check_daily_limit(limit=facts.limit, held_count=facts.held_count).allowed:
            self.insert(reservation)
        return facts

    def undo(self) -> None:
        for reservation_id in reversed(self._inserted):
            self._store._remove(reservation_id)
        self._inserted.clear()
        self.undo_keys(self._store._idempotency)
        self.undo_shadow()
