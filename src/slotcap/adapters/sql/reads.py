"""The SQL stores' reads: the availability facts (the hot path), the calendar, the
catalogue, the clinic's hours, the limits and one reservation."""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import attrs

from slotcap.adapters._closures import closures_for
from slotcap.adapters.sql.part import SqlPart
from slotcap.adapters.sql.rows import closure_of, limit_of, reservation_of, service_of, slot_of
from slotcap.adapters.sql.statements import Statements
from slotcap.adapters.sql.store import CatalogueSnapshot, Params, Row, Session, SqlCore
from slotcap.adapters.sql.wire import PoolerMet, lean_facts
from slotcap.domain.calendar import day_of_week
from slotcap.domain.closures import Closure
from slotcap.domain.model import ClinicTimeSlot, Period, Reservation, Service, ServiceLimit
from slotcap.errors import SchemaStateError
from slotcap.ports import DailyFacts, PeriodFacts
from slotcap.sql.connection import SqlConnection
from slotcap.sql.dialect import Dialect
from slotcap.sql.names import SERVICE_COLUMNS, SLOT_COLUMNS

R = TypeVar("R")

__all__ = ["SqlReads"]


class SqlReads(SqlPart):
    """Reads outside a booking (each statement commits on its own) and the facts a
    booking reads through its locked session; owns the checks' snapshots (catalogue,
    closures) and the memoised service and slot records."""

    def __init__(self, core: SqlCore) -> None:
        super().__init__(core)
        self._services_seen: dict[tuple[Any, ...], Service | None] = {}
        self._slots_seen: dict[tuple[Any, ...], ClinicTimeSlot | None] = {}
        self._limits_seen: dict[tuple[Any, ...], ServiceLimit | None] = {}
        #: The checks' catalogue snapshot (:meth:`catalogue_now`); None: read again.
        self._catalogue: CatalogueSnapshot | None = None
        #: The checks' closures snapshot (:meth:`closures_now`): the statements it
        #: was read with, when (``time.monotonic()``), the closures; None: read again.
        self._closures: tuple[Statements, float, tuple[Closure, ...]] | None = None
        #: PostgreSQL: lean reads (:mod:`.wire`); ``held``: the thread's own connection,
        #: where the engine keeps one per thread (set by ``PostgresStore``).
        self._lean = core.dialect.dialect is Dialect.POSTGRES
        self.held: Callable[[], SqlConnection | None] | None = None

    def forget_catalogue(self) -> None:
        """This store wrote a service or the hours: its next check reads them again."""
        self._catalogue = None

    def forget_closures(self) -> None:
        """This store wrote a closure: its next check reads the closures again."""
        self._closures = None

    # facts -----------------------------------------------------------------------------

    def _period_facts_params(
        self, day: dt.date, period: Period, service_code: str
    ) -> dict[str, Any]:
        value = Period(period).value
        return {
            "day": self._dialect.date_in(day), "period": value, "slot_period": value,
            "code": service_code, "dow": day_of_week(day),
        }

    def period_facts_in(
        self, session: Session, day: dt.date, period: Period, code: str
    ) -> PeriodFacts:
        """The facts a booking decides on: the service and slot rows read in the same
        statement as the held minutes, under the booking's locks."""
        params = self._period_facts_params(day, period, code)

        def fast(st: Statements) -> tuple[str, Params]:
            self._require_minutes_rule(st)
            return st.period_facts, params

        (row,) = self._run(session, fast)
        if row[1]:
            facts = self._full_facts(session, params)
            candidates = True
        else:
            facts = self._facts_of(row, 2)
            # The statement counts the closures whose dates span the day (when the
            # table exists): none — the common case — and no closure can apply.
            candidates = len(row) > 2 + len(SERVICE_COLUMNS) + len(SLOT_COLUMNS) and row[-1] > 0
        if not candidates:
            return facts
        # Read fresh in the booking's session: a booking never uses the checks'
        # snapshot, so it never books into a date closed before its locks were granted.
        _st, closures = self._read_closures(session)
        return self._closed_facts(facts, closures, day, period)

    def _full_facts(self, session: Session, params: Params) -> PeriodFacts:
        """Some held row lacks a duration or a period: the full rule (services joined
        per row, the NULL-period branch) decides, in a second round trip, with the
        catalogue rows it reads."""

        def full(st: Statements) -> tuple[str, Params]:
            self._require_minutes_rule(st)
            return st.period_facts_full, params

        (row,) = self._run(session, full)
        return self._facts_of(row, 1)

    def _facts_of(self, row: Row, first: int) -> PeriodFacts:
        n = first + len(SERVICE_COLUMNS)
        return PeriodFacts(
            service=self.service_record(row[first:n]),
            slot=self.slot_record(row[n:n + len(SLOT_COLUMNS)]),
            held_minutes=int(row[0]),
        )

    #: Longest a check outside a booking serves the service and slot rows from the
    #: store's snapshot (seconds). Refreshed sooner by this store's own
    #: ``save_service`` / ``save_time_slot`` and by a new schema shape. A booking never
    #: uses it: ``book()`` reads both rows under its locks, in its facts statement.
    CATALOGUE_MAX_AGE = 1.0

    def checked_facts(
        self, session: Session, day: dt.date, period: Period, code: str
    ) -> PeriodFacts:
        """The facts of a check (advice, outside a booking): one round trip for the held
        minutes alone — reading the service and slot rows in the same statement cost
        as much as the rest of the check again (F1 in docs/benchmarks.md) — and the
        catalogue from a snapshot at most :attr:`CATALOGUE_MAX_AGE` old. Once the
        snapshot says the ledger's fill is complete, the held minutes are the ledger's
        (date, period) row alone: one primary-key probe."""
        if period.__class__ is not Period:  # Period(p) is an Enum lookup per call
            period = Period(period)
        catalogue = self.catalogue_now(session)
        params = {"day": self._dialect.date_in(day), "period": period.value}
        filled = catalogue.ledger_filled

        def held(st: Statements) -> tuple[str, Params]:
            if st is not catalogue.statements:  # a schema change met mid-check
                self._require_minutes_rule(st)
                return st.period_held, params
            return (st.ledger_row if filled and st.ledger_row else st.period_held), params

        rows = self._run(session, held)
        minutes, unknown = rows[0] if rows else (0, 0)
        if unknown:
            return self._full_facts(session, self._period_facts_params(day, period, code))
        return PeriodFacts(
            service=catalogue.services.get(code),
            slot=catalogue.slots.get((day_of_week(day), period)),
            held_minutes=int(minutes),
        )

    def _lean_facts(
        self, sc: SqlConnection | None, day: dt.date, period: Period, code: str
    ) -> PeriodFacts | None:
        """:func:`.wire.lean_facts` on ``sc`` with fresh snapshots, else None."""
        try:
            fresh = self.lean_snapshots()
            return None if fresh is None or sc is None else lean_facts(sc, *fresh, day,
                                                                       period, code)
        except PoolerMet as met:
            self._is_schema_change(met)  # the engine's pooler hook: prepare no more
            return None

    def lean_snapshots(self) -> tuple[CatalogueSnapshot, tuple[Closure, ...]] | None:
        """The catalogue and closures snapshots, where a lean read (:mod:`.wire`) may
        serve a check or a calendar with them: PostgreSQL, the ledger's fill complete,
        both fresh and of the current schema shape. None otherwise."""
        catalogue, closures = self._catalogue, self._closures
        if (not self._lean or catalogue is None or not catalogue.ledger_filled
                or closures is None or catalogue.statements is not self._core.statements
                or closures[0] is not catalogue.statements):
            return None
        now = time.monotonic()
        if (now - catalogue.read_at >= self.CATALOGUE_MAX_AGE
                or now - closures[1] >= self.CLOSURES_MAX_AGE):
            return None
        return catalogue, closures[2]

    def lean_connection(self, session: Session | None) -> SqlConnection | None:
        """Where a lean read runs: unborrowed, this thread's own connection where the
        engine keeps one per thread (``session`` None; the read checks its state);
        else the borrowed ``session``'s, where each statement stands alone."""
        if self.held is not None:
            return self.held() if session is None else None
        return None if session is None else getattr(session, "alone", None)

    def catalogue_now(self, session: Session) -> CatalogueSnapshot:
        catalogue = self._catalogue
        if (
            catalogue is not None
            and catalogue.statements is self._core.statements
            and time.monotonic() - catalogue.read_at < self.CATALOGUE_MAX_AGE
        ):
            return catalogue
        read_at = time.monotonic()

        def services(st: Statements) -> tuple[str, Params]:
            self._require_minutes_rule(st)
            return st.list_services, {}

        def slots(st: Statements) -> tuple[str, Params]:
            self._require_minutes_rule(st)
            return st.list_slots, {}

        def filled(st: Statements) -> tuple[str, Params]:
            return st.ledger_filled or "SELECT 0", {"day": self._dialect.date_in(dt.date.max)}

        service_rows = self._run(session, services)
        st, slot_rows = self._run_with(session, slots)
        filled_rows = self._run(session, filled) if st.ledger_filled is not None else [(0,)]
        d = self._dialect
        by_code = {s.code: s for s in (service_of(d, r) for r in service_rows) if s}
        by_hours = {(t.day_of_week, t.period): t for t in map(slot_of, slot_rows) if t}
        catalogue = CatalogueSnapshot(
            statements=st, read_at=read_at, services=by_code, slots=by_hours,
            ledger_filled=bool(filled_rows[0][0]) and self._core.statements is st,
        )
        self._catalogue = catalogue
        return catalogue

    # The service, slot and limit records a booking (or the full-rule fallback) returns,
    # memoised by the row values just read (not a cache of the tables: a changed row is
    # a new key, so nothing can be stale). Building them validates every field; the
    # rows repeat from booking to booking.
    _RECORDS_MAX = 512

    def service_record(self, values: Sequence[Any]) -> Service | None:
        return _memoised(self._services_seen, self._RECORDS_MAX,
                         functools.partial(service_of, self._dialect), values)

    def slot_record(self, values: Sequence[Any]) -> ClinicTimeSlot | None:
        return _memoised(self._slots_seen, self._RECORDS_MAX, slot_of, values)

    def limit_record(self, values: Sequence[Any]) -> ServiceLimit | None:
        return _memoised(self._limits_seen, self._RECORDS_MAX, limit_of, values)

    def daily_params(self, day: dt.date, code: str) -> dict[str, Any]:
        """The parameters of the daily-facts statement (alone or in the one-step
        legacy insert)."""
        return {"day": self._dialect.date_in(day), "code": code, "limit_code": code}

    def daily_facts_in(self, session: Session, day: dt.date, code: str) -> DailyFacts:
        params = self.daily_params(day, code)

        def op(st: Statements) -> tuple[str, Params]:
            self._require_count_rule(st)
            return st.daily_facts, params

        if not self._current().schema.accepts_legacy_code(code):
            self._check(self._require_count_rule)
            # Not a label of the old enum: no row can have it, no limit can exist.
            return DailyFacts(limit=None, held_count=0)
        (row,) = self._run(session, op)
        return DailyFacts(limit=limit_of(row[1:]), held_count=int(row[0]))

    def period_facts(self, day: dt.date, period: Period, service_code: str) -> PeriodFacts:
        if self.held is not None and (
                lean := self._lean_facts(self.held(), day, period, service_code)):
            return lean
        with self._session() as session:
            if self._lean and (lean := self._lean_facts(
                    self.lean_connection(session), day, period, service_code)):
                return lean
            facts = self.checked_facts(session, day, period, service_code)
            closures = self.closures_now(session)  # none, mostly: nothing to apply
            return self._closed_facts(facts, closures, day, period) if closures else facts

    def daily_facts(self, day: dt.date, service_code: str) -> DailyFacts:
        with self._session() as session:
            return self.daily_facts_in(session, day, service_code)

    # catalogue, hours, limits, one reservation -----------------------------------------

    def list_services(self, *, include_deleted: bool = False) -> list[Service]:
        def op(st: Statements) -> tuple[str, Params]:
            self._require_new_tables(st)
            return st.list_services, {}

        rows = self._query_with(op)[1]
        services = [s for s in (service_of(self._dialect, r) for r in rows) if s]
        # Sorted here, not in SQL: the database's collation may order codes with "_"
        # differently from Python, and the in-memory store sorts in Python.
        return sorted(
            (s for s in services if include_deleted or s.deleted_at is None),
            key=lambda s: (s.display_order, s.code),
        )

    def get_service(self, code: str) -> Service | None:
        return next((s for s in self.list_services(include_deleted=True) if s.code == code), None)

    def list_time_slots(self) -> list[ClinicTimeSlot]:
        def op(st: Statements) -> tuple[str, Params]:
            self._require_new_tables(st)
            return st.list_slots, {}

        slots = [s for s in (slot_of(r) for r in self._query_with(op)[1]) if s is not None]
        return sorted(slots, key=lambda s: (s.day_of_week, list(Period).index(s.period)))

    def get_limit(self, service_code: str) -> ServiceLimit | None:
        def op(st: Statements) -> tuple[str, Params]:
            self._require_count_rule(st)
            return st.get_limit, {"code": service_code}

        if not self._current().schema.accepts_legacy_code(service_code):
            self._check(self._require_count_rule)
            return None
        rows = self._query_with(op)[1]
        return limit_of(rows[0]) if rows else None

    def get_reservation(self, reservation_id: str) -> Reservation | None:
        st, rows = self._query_with(lambda st: (st.select_reservation, {"id": reservation_id}))
        return reservation_of(self._dialect, st.reservation_columns, rows[0]) if rows else None

    # closures and settings ------------------------------------------------------------

    #: Longest a check or a calendar outside a booking serves the closures from the
    #: store's snapshot (seconds); this store's own ``add_closure``/``remove_closure``
    #: refresh it at once. Another process's change is seen within this age by checks
    #: (advice); a booking reads the closures fresh, under its locks.
    CLOSURES_MAX_AGE = 1.0

    def _read_closures(self, session: Session) -> tuple[Statements, tuple[Closure, ...]]:
        """Every closure, or none where the table does not exist (before phase 1, or
        a phase-1 database made before it existed): the checks then run as before."""

        def op(st: Statements) -> tuple[str, Params]:
            self._require_closures(st)
            return st.list_closures or "", {}

        if self._current().list_closures is None:
            return self._current(), ()
        try:
            st, rows = self._run_with(session, op)
        except SchemaStateError:  # the table went (phase 1 rolled back meanwhile)
            return self._current(), ()
        return st, tuple(closure_of(self._dialect, r) for r in rows)

    def closures_now(self, session: Session) -> tuple[Closure, ...]:
        snap = self._closures
        if (
            snap is not None
            and snap[0] is self._core.statements
            and time.monotonic() - snap[1] < self.CLOSURES_MAX_AGE
        ):
            return snap[2]
        read_at = time.monotonic()
        st, closures = self._read_closures(session)
        self._closures = (st, read_at, closures)
        return closures

    @staticmethod
    def _closed_facts(
        facts: PeriodFacts, closures: Sequence[Closure], day: dt.date, period: Period
    ) -> PeriodFacts:
        applied = closures_for(closures, day, Period(period))
        return attrs.evolve(facts, closures=applied) if applied else facts

    def list_closures(self) -> list[Closure]:
        def op(st: Statements) -> tuple[str, Params]:
            self._require_closures(st)
            return st.list_closures or "", {}

        rows = self._query_with(op)[1]
        return [closure_of(self._dialect, r) for r in rows]

    def held_between(self, start: dt.date, end: dt.date) -> list[Reservation]:
        d = self._dialect
        params = {"first_day": d.date_in(start), "last_day": d.date_in(end)}
        st, rows = self._query_with(lambda st: (st.held_between, params))
        return [reservation_of(d, st.reservation_columns, r) for r in rows]

    def clinic_time_zone(self) -> str | None:
        if self._current().get_setting is None:
            return None
        rows = self._query_with(lambda st: (st.get_setting or "", {"key": "timeZone"}))[1]
        return str(rows[0][0]) if rows else None


def _memoised(
    memo: dict[tuple[Any, ...], R], limit: int, build: Callable[[tuple[Any, ...]], R],
    values: Sequence[Any],
) -> R:
    """``build(values)``, remembered in ``memo`` (emptied at ``limit`` entries)."""
    key = tuple(values)
    try:
        return memo[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable driver value: just build it
        return build(key)
    record = build(key)
    if len(memo) >= limit:
        memo.clear()
    memo[key] = record
    return record
