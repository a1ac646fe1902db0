"""The SQL stores' calendar: every date x period of a range, from phase 2's ledger (one
primary-key range scan, the slots from the catalogue snapshot) or summed over the rows."""

from __future__ import annotations

import datetime as dt

from slotcap.adapters._closures import with_closures
from slotcap.adapters.sql.held_sql import dense_calendar_entries, ledger_calendar_entries
from slotcap.adapters.sql.part import SqlPart
from slotcap.adapters.sql.reads import SqlReads
from slotcap.adapters.sql.rows import slot_of
from slotcap.adapters.sql.statements import Statements
from slotcap.adapters.sql.store import Params, Row, Session, SqlCore
from slotcap.adapters.sql.wire import PoolerMet, ledger_range
from slotcap.domain.model import Period
from slotcap.ports import CalendarEntry

__all__ = ["SqlCalendar"]


class SqlCalendar(SqlPart):
    """``Store.calendar`` (the slots and closures from the reads' snapshots)."""

    def __init__(self, core: SqlCore, reads: SqlReads) -> None:
        super().__init__(core)
        self._reads = reads

    def calendar(self, start: dt.date, end: dt.date) -> list[CalendarEntry]:
        d = self._dialect
        params = {"first_day": d.date_in(start), "last_day": d.date_in(end)}
        if end < start:
            self._check(self._require_minutes_rule)
            return []
        if self._reads.held is not None and (lean := self._lean(None, start, end)):
            return lean
        with self._session() as session:
            if (lean := self._lean(session, start, end)) is not None:
                return lean
            catalogue = self._reads.catalogue_now(session) if self._current().uses_ledger else None

            def op(st: Statements) -> tuple[str, Params]:
                self._require_minutes_rule(st)
                if catalogue is not None and st is catalogue.statements \
                        and catalogue.ledger_filled and st.calendar_filled:
                    return st.calendar_filled, params  # the range alone: no frontier
                return st.calendar, params

            st, rows = self._run_with(session, op)
            entries: list[CalendarEntry] | None = None
            if st.uses_ledger:
                # The ledger's rows of the range; any that counts a row without a
                # duration, or dates its fill has not reached: sum the rows instead.
                if not any(row[3] for row in rows):
                    if catalogue is None or catalogue.statements is not st:
                        catalogue = self._reads.catalogue_now(session)
                    entries = ledger_calendar_entries(
                        start, end, rows, catalogue.slots, d.date_out)
                else:
                    rows = self._run(session, lambda st: (st.calendar_full, params))
            if entries is None:
                entries = [self._calendar_entry(row) for row in rows]
            closures = self._reads.closures_now(session)
        return with_closures(entries, closures)

    def _lean(self, session: Session | None, start: dt.date, end: dt.date
              ) -> list[CalendarEntry] | None:
        """The calendar from the ledger through :func:`.wire.ledger_range` (one libpq
        call, one row of two integer arrays) and the reads' fresh snapshots, on
        ``SqlReads.lean_connection(session)``; None where that path does not answer (as
        a lean check: no fresh snapshot, a transaction open, an error, an unsized row)
        — the caller runs the regular one."""
        fresh = self._reads.lean_snapshots()
        sc = self._reads.lean_connection(session) if fresh is not None else None
        if fresh is None or sc is None or start.__class__ is not dt.date \
                or end.__class__ is not dt.date:
            return None
        catalogue, closures = fresh
        try:
            booked = ledger_range(sc, start, end)
        except PoolerMet as met:
            self._is_schema_change(met)  # the engine's pooler hook: prepare no more
            return None
        if booked is None:
            return None
        return with_closures(dense_calendar_entries(start, booked, catalogue.slots), closures)

    def _calendar_entry(self, row: Row) -> CalendarEntry:
        slot = slot_of(row[2:-1])
        is_open = slot is not None and slot.is_active
        return CalendarEntry(
            day=self._dialect.date_out(row[0]),
            period=Period(row[1]),
            is_open=is_open,
            capacity=slot.total_minutes if slot is not None and is_open else 0,
            booked=int(row[-1]),
        )
