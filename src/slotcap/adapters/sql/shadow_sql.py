"""The SQL stores' shadow decisions (docs/rollout.md): the booking scope's
``daily_facts`` (the count rule's facts under the scope's (date, service) lock, by the
same statement the legacy path decides with: the ledger's row where the ledger is
trusted, else the count over rows) and ``record_shadow``: a decision the rules agree on
(or a not-shadowable one) is counted in the process and written in batches, after the
booking's commit (:mod:`.shadow_buffer`); a mismatch is written with the booking — one
upsert of its decision counter of (booked date, service, control, agreement) and one
insert — in the booking's transaction, or in its own short write after a booking
decided by one statement (already committed). Then the report's reads (after this
process's waiting counts are written), the purge and ``slotcap whatif``'s aggregate.

The tables are phase 1's (:mod:`slotcap.sql.shadow_ddl`); where the catalogue has none
(legacy, or after a rollback) nothing is recorded and the reads are empty.
"""

# Statements are composed from constant identifiers only (S608).
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from slotcap.adapters.sql.part import SqlPart
from slotcap.adapters.sql.shadow_buffer import Key, ShadowBuffer
from slotcap.adapters.sql.store import Params, Session, SqlCore
from slotcap.domain.model import Period
from slotcap.domain.shadow import HeldLoad, Mismatch, ShadowCounters, ShadowTotals
from slotcap.ports import DailyFacts
from slotcap.sql.dialect import Dialect
from slotcap.sql.names import (
    HOLDING_LIST,
    RESERVATIONS_TABLE,
    SHADOW_DECISIONS,
    SHADOW_MISMATCHES,
    column_list,
    named_placeholders,
)

if TYPE_CHECKING:
    from slotcap.adapters.sql.booking import SqlBookings

__all__ = ["ShadowSql", "ShadowTx"]

_LOG = logging.getLogger("slotcap.shadow")

_D, _M = f'"{SHADOW_DECISIONS}"', f'"{SHADOW_MISMATCHES}"'
_COLUMNS = '("date", "service", "control", "agreement", "count", "updatedAt")'
_ADD = ('ON CONFLICT ("date", "service", "control", "agreement") DO UPDATE SET '
        f'"count" = {_D}."count" + excluded."count", "updatedAt" = excluded."updatedAt"')
_COUNT = (f"INSERT INTO {_D} {_COLUMNS} VALUES (%(day)s, %(service)s, %(control)s, "
          f"%(agreement)s, 1, %(at)s) {_ADD}")
#: Counter rows per statement of a flush (5 parameters a row + 1: under the 999
#: variables of SQLite before 3.32).
_BATCH = 150


def _counts_sql(rows: int) -> str:
    values = ", ".join(f"(%(d{i})s, %(s{i})s, %(c{i})s, %(a{i})s, %(n{i})s, %(at)s)"
                       for i in range(rows))
    return f"INSERT INTO {_D} {_COLUMNS} VALUES {values} {_ADD}"


_MISMATCH_COLUMNS = ("decidedAt", "date", "period", "service", "control", "controlAllowed",
                     "shadowAllowed", "controlReason", "shadowReason", "heldCount",
                     "dailyLimit", "heldMinutes", "capacityMinutes", "requestedMinutes")
_INSERT_MISMATCH = (f"INSERT INTO {_M} ({column_list(_MISMATCH_COLUMNS)}) "
                    f"VALUES ({named_placeholders(_MISMATCH_COLUMNS)})")
_TOTALS = (f'SELECT "control", "agreement", SUM("count") FROM {_D} '
           'WHERE "date" BETWEEN %(first)s AND %(last)s GROUP BY "control", "agreement"')
#: At most this many mismatches are read for one report (the counts stay exact).
MAX_MISMATCHES = 10_000
_MISMATCHES = (f"SELECT {column_list(_MISMATCH_COLUMNS)} "
               f'FROM {_M} WHERE "date" BETWEEN %(first)s AND %(last)s '
               f'ORDER BY "date", "period", "service", "decidedAt" LIMIT {MAX_MISMATCHES}')


class ShadowSql(SqlPart):
    """A part of ``SqlStore``: the shadow decisions' records and reads."""

    def __init__(self, core: SqlCore) -> None:
        super().__init__(core)
        #: This process's switch and counters (made here: a check asks for them first).
        self._shadow_counters = ShadowCounters()

    def record_shadow(self, session: Session, day: dt.date, service: str, control: str,
                      outcome: str, mismatch: Mismatch | None) -> None:
        """The record, in the booking's ``session`` (for :class:`ShadowTx`)."""
        self._record_shadow(session, day, service, control, outcome, mismatch)

    @property
    def shadow(self) -> ShadowCounters:
        return self._shadow_counters

    def _shadow_tables(self) -> bool:
        st = self._current()  # asked twice per booking: answered once per schema read
        known: tuple[object, bool] | None = self.__dict__.get("_shadow_known")
        if known is None or known[0] is not st:
            schema = st.schema
            known = self.__dict__["_shadow_known"] = (st, schema.has_table(
                SHADOW_DECISIONS) and schema.has_table(SHADOW_MISMATCHES))
        return known[1]

    def _record_shadow(self, session: Session, day: dt.date, service: str, control: str,
                       outcome: str, mismatch: Mismatch | None) -> None:
        if not self._shadow_tables():
            return
        for sql, params in self._shadow_steps(day, service, control, outcome, mismatch):
            session.execute(sql, params)

    def _shadow_steps(self, day: dt.date, service: str, control: str, outcome: str,
                      mismatch: Mismatch | None) -> list[tuple[str, Params]]:
        d = self._dialect
        at = d.timestamp_in(self._now())
        steps: list[tuple[str, Params]] = [(d.native(_COUNT), {
            "day": d.date_in(day), "service": service, "control": control,
            "agreement": outcome, "at": at})]
        if mismatch is not None:
            steps.append((d.native(_INSERT_MISMATCH), {
                "decidedAt": at, "date": d.date_in(mismatch.day),
                "period": None if mismatch.period is None else mismatch.period.value,
                "service": mismatch.service, "control": mismatch.control,
                "controlAllowed": d.bool_in(mismatch.control_allowed),
                "shadowAllowed": d.bool_in(mismatch.shadow_allowed),
                "controlReason": mismatch.control_reason,
                "shadowReason": mismatch.shadow_reason,
                "heldCount": mismatch.held_count, "dailyLimit": mismatch.daily_limit,
                "heldMinutes": mismatch.held_minutes,
                "capacityMinutes": mismatch.capacity_minutes,
                "requestedMinutes": mismatch.requested_minutes,
            }))
        return steps

    def record_shadow_now(self, day: dt.date, service: str, control: str, outcome: str,
                          mismatch: Mismatch | None,
                          write: Callable[[list[tuple[str, Params]]], None] | None = None
                          ) -> None:
        """The same record in its own short write, after a booking whose transaction
        has already committed (a booking path that commits in its deciding round trip);
        not under the booking's lock, so the counter row may wait for another booking
        of the same (date, service) for the length of its transaction (bounded by
        ``busy_budget``, then ``StoreBusy``). ``write``: the booking session's own
        one-pipeline transaction (``LazyBookingSession.write_alone``), else a write
        session."""
        if write is not None:
            if self._shadow_tables():
                write(self._shadow_steps(day, service, control, outcome, mismatch))
            return
        with self._write_session(time.monotonic() + self.busy_budget) as session:
            self._record_shadow(session, day, service, control, outcome, mismatch)

    @property
    def shadow_buffer(self) -> ShadowBuffer:
        """This process's waiting decision counts (:mod:`.shadow_buffer`)."""
        found: ShadowBuffer | None = self.__dict__.get("_shadow_buffer")
        if found is None:
            made = ShadowBuffer(self._write_shadow_counts, on_failure=self.shadow.failed)
            found = self.__dict__.setdefault("_shadow_buffer", made)
        return found

    def flush_shadow(self) -> int:
        """Write this process's waiting decision counts now; how many (never raises)."""
        found: ShadowBuffer | None = self.__dict__.get("_shadow_buffer")
        return 0 if found is None else found.flush()

    def _close_shadow(self) -> None:
        """``close()``: stop the flusher and write what waits (before the connections go)."""
        found: ShadowBuffer | None = self.__dict__.get("_shadow_buffer")
        if found is not None:
            found.close()

    def _write_shadow_counts(self, counts: Mapping[Key, int]) -> None:
        """One flush: an upsert adding each key's count, in key order (two processes'
        flushes then lock the counter rows in the same order), up to ``_BATCH`` rows a
        statement, in one short write."""
        if not self._shadow_tables():
            return
        d = self._dialect
        keys = sorted(counts)
        params: dict[str, Any] = {"at": d.timestamp_in(self._now())}
        with self._write_session(time.monotonic() + self.busy_budget) as session:
            for first in range(0, len(keys), _BATCH):
                chunk = keys[first:first + _BATCH]
                batch = dict(params)
                for i, (day, service, control, outcome) in enumerate(chunk):
                    batch.update({f"d{i}": d.date_in(day), f"s{i}": service,
                                  f"c{i}": control, f"a{i}": outcome,
                                  f"n{i}": counts[(day, service, control, outcome)]})
                session.execute(d.native(_counts_sql(len(chunk))), batch)

    def shadow_totals(self, start: dt.date, end: dt.date) -> ShadowTotals:
        """After this process's waiting counts are written (others' flush on their
        timer: :data:`.shadow_buffer.FLUSH_SECONDS`)."""
        self.flush_shadow()
        d = self._dialect
        if not self._shadow_tables():
            return ShadowTotals(decisions={}, mismatches=())
        params = {"first": d.date_in(start), "last": d.date_in(end)}
        with self._session() as session:
            totals = session.execute(d.native(_TOTALS), params)
            rows = session.execute(d.native(_MISMATCHES), params)
        return ShadowTotals(
            decisions={(str(c), str(a)): int(n) for c, a, n in totals},
            mismatches=tuple(self._mismatch_of(row) for row in rows),
        )

    def _mismatch_of(self, row: Any) -> Mismatch:
        d = self._dialect
        (at, day, period, service, control, c_ok, s_ok, c_why, s_why,
         count, limit, held, capacity, requested) = row
        return Mismatch(
            day=d.date_out(day), period=None if period is None else Period(period),
            service=str(service), control=str(control), control_allowed=bool(c_ok),
            shadow_allowed=bool(s_ok), control_reason=str(c_why), shadow_reason=str(s_why),
            held_count=count, daily_limit=limit, held_minutes=held,
            capacity_minutes=capacity, requested_minutes=requested,
            decided_at=d.timestamp_out(at),
        )

    def purge_shadow(self, before: dt.datetime) -> int:
        if not self._shadow_tables():
            return 0
        d = self._dialect
        params = {"before": d.timestamp_in(before)}
        gone = 0
        for table, column in ((_D, "updatedAt"), (_M, "decidedAt")):
            sql = f'DELETE FROM {table} WHERE "{column}" < %(before)s RETURNING 1'

            def purge(st: Any, sql: str = sql) -> tuple[str, Params]:
                return d.native(sql), params

            gone += len(self._write_with(purge)[1])
        return gone

    def held_load(self, start: dt.date, end: dt.date) -> list[HeldLoad]:
        d = self._dialect
        state = self._current().schema.state
        period = d.text('r."period"') if state.has_new_columns else "NULL"
        service = d.text('r."service"') if state.has_legacy_columns else "NULL"
        sid = 'r."serviceId"' if state.has_new_columns else "NULL"
        minutes = 'r."estimatedDuration"' if state.has_new_columns else "NULL"
        sql = (f"SELECT r.\"preferredDate\", {period}, {service}, {sid}, COUNT(*), "
               f"COALESCE(SUM({minutes}), 0), "
               f"SUM(CASE WHEN {minutes} IS NULL THEN 1 ELSE 0 END) "
               f'FROM "{RESERVATIONS_TABLE}" r WHERE r."preferredDate" BETWEEN %(first)s AND '
               f'%(last)s AND r."status" IN {HOLDING_LIST} GROUP BY 1, 2, 3, 4 '
               "ORDER BY 1, 2, 3, 4")
        params = {"first": d.date_in(start), "last": d.date_in(end)}
        with self._session() as session:
            rows = session.execute(d.native(sql), params)
        return [HeldLoad(day=d.date_out(day), period=None if p is None else Period(p),
                         service=None if s is None else str(s),
                         service_id=None if i is None else str(i),
                         rows=int(n), minutes=int(m), unsized=int(u))
                for day, p, s, i, n, m, u in rows]


class ShadowTx:
    """Mixed into ``SqlBooking``: the scope's shadow reads and record."""

    _bookings: SqlBookings
    _session: Session

    def daily_facts(self, day: dt.date, service_code: str) -> DailyFacts:
        return self._bookings.daily_facts(self._session, day, service_code)

    def usable(self) -> bool:
        """PostgreSQL aborts a transaction at its first failed statement (and COMMIT then
        rolls it back); SQLite undoes the failed statement alone."""
        if self._bookings.dialect.dialect is not Dialect.POSTGRES:
            return True
        # A PostgreSQL booking scope's session is always pg_booking.LazyBookingSession.
        asked = getattr(self._session, "in_error", None)
        return asked is None or not asked()

    def record_shadow(self, day: dt.date, service_code: str, control: str, outcome: str,
                      mismatch: Mismatch | None) -> None:
        """A mismatch now, with its count: in the booking's transaction, or in its own
        short write when the booking has committed already (one statement decided it:
        a statement through the session would open a second locked transaction). Any
        other decision: counted once the booking commits (:meth:`settle_shadow`)."""
        store = self._bookings.shadow_part
        if not store._shadow_tables():
            return
        if mismatch is None:
            pending: list[Key] | None = self.__dict__.get("_shadow_pending")
            if pending is None:
                pending = self.__dict__["_shadow_pending"] = []
            pending.append((day, service_code, control, outcome))
            return
        outside = getattr(self._session, "outside", None)  # pg_booking.LazyBookingSession
        if outside is not None and outside() is not None:
            store.record_shadow_now(day, service_code, control, outcome, mismatch,
                                    getattr(self._session, "write_alone", None))
        else:
            store.record_shadow(self._session, day, service_code, control, outcome,
                                mismatch)

    def settle_shadow(self) -> None:
        """The booking committed: its counted decisions join the store's buffer. Never
        raises (the booking is saved whatever happens here)."""
        pending: list[Key] | None = self.__dict__.pop("_shadow_pending", None)
        if not pending:
            return
        store = self._bookings.shadow_part
        try:
            store.shadow_buffer.add(pending)
        except Exception as exc:
            store.shadow.failed()
            _LOG.warning("shadow counts not kept (%s); the booking is unaffected",
                         type(exc).__name__)
