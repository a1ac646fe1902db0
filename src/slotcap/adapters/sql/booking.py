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

from slotcap.adapters.sql.reads import Reads
from slotcap.adapters.sql.rows import reservation_params
from slotcap.adapters.sql.statements import Statements
from slotcap.adapters.sql.store import Params, Session
from slotcap.domain.model import Period, Reservation
from slotcap.ports import DailyFacts, PeriodFacts

__all__ = ["Booking", "SqlBooking"]


class Booking(Reads):
    """``Store.booking``: a scope whose reads and insert share one locked session."""

    def _insert(self, session: Session, reservation: Reservation) -> None:
        def op(st: Statements) -> tuple[str, Params]:
            return st.insert_reservation, reservation_params(
                self._dialect, st.reservation_columns, reservation
            )

        self._run(session, op)
        session.mark_written()

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
        with self._locked_session(day, service_code, periods, deadline) as session:
            yield SqlBooking(self, session)


class SqlBooking:
    """The ``BookingTransaction`` of both SQL stores: reads and the insert go through the
    locked session, so they see every row committed before the locks were granted."""

    def __init__(self, store: Booking, session: Session) -> None:
        self._store = store
        self._session = session

    def period_facts(self, day: dt.date, period: Period, service_code: str) -> PeriodFacts:
        return self._store._period_facts(self._session, day, period, service_code)

    def daily_facts(self, day: dt.date, service_code: str) -> DailyFacts:
        return self._store._daily_facts(self._session, day, service_code)

    def insert(self, reservation: Reservation) -> None:
        self._store._insert(self._session, reservation)
