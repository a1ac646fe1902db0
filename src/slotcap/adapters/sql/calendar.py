"""The SQL stores' calendar: every date x period of a range, from phase 2's ledger (one
primary-key range scan, the slots from the catalogue snapshot) or summed over the rows."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from slotcap.adapters._closures import with_closures
from slotcap.adapters.sql.held_sql import dense_calendar_entries, ledger_calendar_entries
from slotcap.adapters.sql.part import SqlPart
from slotcap.adapters.sql.reads import SqlReads
from slotcap.adapters.sql.rows import slot_of
from slotcap.adapters.sql.statements import Statements
from slotcap.adapters.sql.store import Params, Row, Session, SqlCore
from slotcap.adapters.sql.wire import PoolerMet, ledger_range_arrays, range_minutes
from slotcap.domain.closures import Closure
from slotcap.domain.model import ClinicTimeSlot, Period
from slotcap.ports import CalendarEntry

__all__ = ["DecodeMemo", "SqlCalendar"]


class SqlCalendar(SqlPart):
    """``Store.calendar`` (the slots and closures from the reads' snapshots)."""

    def __init__(self, core: SqlCore, reads: SqlReads) -> None:
        super().__init__(core)
        self._reads = reads
        #: The lean calendar's decode memo (None: every range decoded; benchmarks).
        self.memo: DecodeMemo | None = DecodeMemo()

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
            arrays = ledger_range_arrays(sc, start, end)
        except PoolerMet as met:
            self._is_schema_change(met)  # the engine's pooler hook: prepare no more
            return None
        if arrays is None:
            return None
        memo = self.memo
        key = (start, end, *arrays)
        if memo is not None and (seen := memo.get(key, catalogue.slots, closures)) is not None:
            return seen
        booked = range_minutes(start, end, *arrays)
        if booked is None:
            return None
        entries = with_closures(dense_calendar_entries(start, booked, catalogue.slots), closures)
        if memo is not None:
            memo.put(key, catalogue.slots, closures, entries)
        return entries

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


_Slots = Mapping[tuple[int, Period], ClinicTimeSlot]


class DecodeMemo:
    """The lean calendar's last decodes: the entries built from a range's bytes, kept
    for when the server sends the same bytes again — a memo of the decode, not of the
    answer. The database is asked on every call (:func:`.wire.ledger_range_arrays`);
    only where its reply (the range's two arrays, byte for byte), the range and the
    slots and closures the entries were built with are all the same as a recent
    call's does it return a new list of that call's entries (frozen: shared safely).
    A booking in between changes the bytes, hence a miss. Bounded (least recently used
    out first) and thread-safe (the store serves many threads)."""

    SIZE = 64

    def __init__(self, size: int = SIZE) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[Any, ...], tuple[
            _Slots, Sequence[Closure], tuple[CalendarEntry, ...]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def get(self, key: tuple[Any, ...], slots: _Slots, closures: Sequence[Closure]
            ) -> list[CalendarEntry] | None:
        """A new list of the entries kept for ``key`` built with these ``slots`` and
        ``closures`` (the same objects, or equal ones: a snapshot read again), or None."""
        with self._lock:
            seen = self._seen.get(key)
            if seen is None:
                return None
            kept_slots, kept_closures, entries = seen
            if kept_slots is not slots or kept_closures is not closures:
                if kept_slots != slots or tuple(kept_closures) != tuple(closures):
                    return None
                self._seen[key] = (slots, closures, entries)  # the new snapshot's
            self._seen.move_to_end(key)
        return list(entries)

    def put(self, key: tuple[Any, ...], slots: _Slots, closures: Sequence[Closure],
            entries: list[CalendarEntry]) -> None:
        with self._lock:
            self._seen[key] = (slots, closures, tuple(entries))
            self._seen.move_to_end(key)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()
