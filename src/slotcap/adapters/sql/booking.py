"""The SQL stores' booking scope: the locked check-and-insert transaction.

How the locks are had is the engine's (PostgreSQL: advisory locks in one fixed order
inside a READ COMMITTED transaction, with a savepoint that keeps them across a retried
statement; SQLite: ``BEGIN IMMEDIATE``, the database's write lock). What runs inside
is the same for both: the facts read through the locked session, then the insert.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator, Sequence
from typing import Any

from slotcap.adapters.sql.idempotency import KeysAndPatients
from slotcap.adapters.sql.one_trip_tx import OneTripMixin
from slotcap.adapters.sql.part import SqlPart
from slotcap.adapters.sql.reads import SqlReads
from slotcap.adapters.sql.rows import limit_of, reservation_params
from slotcap.adapters.sql.shadow_sql import ShadowSql, ShadowTx
from slotcap.adapters.sql.statements import Statements
from slotcap.adapters.sql.store import CatalogueSnapshot, Params, Session, SqlCore
from slotcap.domain.model import ClinicTimeSlot, Period, Reservation, Service, ServiceLimit
from slotcap.domain.rules import check_daily_limit
from slotcap.domain.shadow import Mismatch
from slotcap.ports import DailyFacts, IdempotencyRecord, PeriodFacts

__all__ = ["SqlBooking", "SqlBookings"]


class SqlBookings(SqlPart):
    """``Store.booking``: scopes whose reads and insert share one locked session; and
    what their :class:`SqlBooking` asks of the store, each in that session."""

    def __init__(self, core: SqlCore, reads: SqlReads, keys: KeysAndPatients,
                 shadow: ShadowSql) -> None:
        super().__init__(core)
        self.dialect = core.dialect
        self._reads = reads
        self._keys = keys
        self._shadow = shadow

    # what a booking transaction asks, in its session ------------------------------------

    def current(self) -> Statements:
        return self._current()

    def now(self) -> dt.datetime:
        return self._now()

    def catalogue_now(self, session: Session) -> CatalogueSnapshot:
        return self._reads.catalogue_now(session)

    def service_record(self, values: Sequence[Any]) -> Service | None:
        return self._reads.service_record(values)

    def slot_record(self, values: Sequence[Any]) -> ClinicTimeSlot | None:
        return self._reads.slot_record(values)

    def limit_record(self, values: Sequence[Any]) -> ServiceLimit | None:
        return self._reads.limit_record(values)

    def period_facts(
        self, session: Session, day: dt.date, period: Period, code: str
    ) -> PeriodFacts:
        return self._reads.period_facts_in(session, day, period, code)

    def daily_facts(self, session: Session, day: dt.date, code: str) -> DailyFacts:
        return self._reads.daily_facts_in(session, day, code)

    def held_patients(self, session: Session, day: dt.date, code: str) -> list[tuple[str, str]]:
        return self._keys.held_patients(session, day, code)

    def find_key(self, session: Session, key: str) -> IdempotencyRecord | None:
        return self._keys.find_key(session, key)

    def save_key(self, session: Session, record: IdempotencyRecord, replace: bool) -> None:
        self._keys.save_key(session, record, replace)

    @property
    def shadow_part(self) -> ShadowSql:
        """The store's shadow part (the scope's shadow record and buffer)."""
        return self._shadow

    def record_shadow(self, session: Session, day: dt.date, service: str, control: str,
                      outcome: str, mismatch: Mismatch | None) -> None:
        self._shadow.record_shadow(session, day, service, control, outcome, mismatch)

    def insert(self, session: Session, reservation: Reservation) -> None:
        def op(st: Statements) -> tuple[str, Params]:
            return st.insert_reservation, reservation_params(
                self._dialect, st.reservation_columns, reservation, self._now()
            )

        self._run(session, op)
        session.mark_written()

    def insert_within_limit(self, session: Session, reservation: Reservation) -> DailyFacts:
        code = reservation.service or ""
        day = reservation.preferred_date
        if not self._current().schema.accepts_legacy_code(code):
            return self.daily_facts(session, day, code)  # refused: nothing inserted
        facts_params = self._reads.daily_params(day, code)

        def insert_within_limit(st: Statements) -> tuple[str, Params]:
            self._require_count_rule(st)
            if st.insert_within_limit is None:
                return st.daily_facts, facts_params
            row = reservation_params(
                self._dialect, st.reservation_columns, reservation, self._now()
            )
            return st.insert_within_limit, {**row, **facts_params}

        st, rows = self._run_with(session, insert_within_limit)
        (row,) = rows
        facts = DailyFacts(limit=limit_of(row[1:5]), held_count=int(row[0]))
        if st.insert_within_limit is not None:
            if row[5]:
                session.mark_written()
        elif check_daily_limit(limit=facts.limit, held_count=facts.held_count).allowed:
            # SQLite: the second statement, still under the write lock.
            self.insert(session, reservation)
        return facts

    @contextlib.contextmanager
    def deferred_booking(
        self, day: dt.date, service_code: str, periods: Sequence[Period], *,
        deadline: float | None = None,
    ) -> Iterator[SqlBooking]:
        """:meth:`booking` whose BEGIN and locks may go with its first statement: on
        PostgreSQL, a deciding statement (``tx.book_period`` / ``tx.book_daily``) is
        then sent with them and its COMMIT as one pipeline. The scope holds no lock
        until it runs a statement."""
        if deadline is None:
            deadline = time.monotonic() + self.busy_budget
        with self._core.deferred_session(day, service_code, periods, deadline) as session:
            tx = SqlBooking(self, session, day, service_code)
            yield tx
        tx.settle_shadow()  # committed: its shadow counts join the buffer

    @contextlib.contextmanager
    def booking(
        self,
        day: dt.date,
        service_code: str,
        periods: Sequence[Period],
        *,
        deadline: float | None = None,
    ) -> Iterator[SqlBooking]:
        """The check-and-insert scope: see the engine's ``_locked_session``. The locks
        are retried until ``deadline`` (``time.monotonic()``; default: now plus
        :attr:`busy_budget`), then ``StoreBusy``."""
        if deadline is None:
            deadline = time.monotonic() + self.busy_budget
        with self._core.locked_session(day, service_code, periods, deadline) as session:
            tx = SqlBooking(self, session, day, service_code)
            yield tx
        tx.settle_shadow()  # committed: its shadow counts join the buffer


class SqlBooking(OneTripMixin, ShadowTx):
    """The ``BookingTransaction`` of both SQL stores: reads and the insert go through the
    locked session, so they see every row committed before the locks were granted."""

    def __init__(self, bookings: SqlBookings, session: Session, day: dt.date,
                 code: str) -> None:
        self._bookings = bookings
        self._session = session
        self._day = day
        self._code = code
        self.last_figures = None

    def period_facts(self, day: dt.date, period: Period, service_code: str) -> PeriodFacts:
        """Closures included (read fresh under the locks where any may apply). After a
        deciding statement of this scope, for its (date, period, service): the figures
        it returned (``last_figures``), without another round trip."""
        known = self._known(day, service_code)
        if known is not None and known.period is not None and self._period is period:
            return known.period
        return self._bookings.period_facts(self._session, day, period, service_code)

    def daily_facts(self, day: dt.date, service_code: str) -> DailyFacts:
        """The count rule's facts under the scope's locks; after a deciding statement
        of this scope, for its (date, service), the figures it returned."""
        known = self._known(day, service_code)
        if known is not None and known.daily is not None:
            return known.daily
        return self._bookings.daily_facts(self._session, day, service_code)

    def insert(self, reservation: Reservation) -> None:
        self._bookings.insert(self._session, reservation)

    def insert_within_daily_limit(self, reservation: Reservation) -> DailyFacts:
        """The legacy count rule's check and insert: inserts ``reservation`` if
        :func:`slotcap.domain.rules.check_daily_limit` allows it on the facts of its
        date and ``service`` code, and returns those facts (read before the insert) so
        the caller can explain a refusal. One round trip on PostgreSQL (a CTE after
        the locks); two statements under the write lock on SQLite."""
        return self._bookings.insert_within_limit(self._session, reservation)

    def held_patients(self, day: dt.date, service_code: str) -> list[tuple[str, str]]:
        return self._bookings.held_patients(self._session, day, service_code)

    def find_idempotency(self, key: str) -> IdempotencyRecord | None:
        return self._bookings.find_key(self._session, key)

    def save_idempotency(self, record: IdempotencyRecord, *, replace: bool = False) -> None:
        self._bookings.save_key(self._session, record, replace)
