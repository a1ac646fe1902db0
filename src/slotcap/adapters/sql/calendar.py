"""The SQL stores' calendar: every date x period of a range, from phase 2's ledger (one
primary-key range scan, the slots from the catalogue snapshot) or summed over the rows."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from slotcap.adapters._closures import with_closures
from slotcap.adapters.sql.held_sql import (
    calendar_skeleton,
    dense_calendar_entries,
    ledger_calendar_entries,
    set_booked,
)
from slotcap.adapters.sql.part import SqlPart
from slotcap.adapters.sql.reads import SqlReads
from slotcap.adapters.sql.rows import slot_of
from slotcap.adapters.sql.statements import Statements
from slotcap.adapters.sql.store import Params, Row, Session, SqlCore
from slotcap.adapters.sql.wire import PoolerMet
from slotcap.adapters.sql.wire_range import ledger_range_array, range_minutes
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
        """The calendar from the ledger through :func:`.wire_range.ledger_range_array` (one
        libpq call, one row of one int8 array; the entries built from the catalogue
        snapshot while the server reads it) and the reads' fresh snapshots, on
        ``SqlReads.lean_connection(session)``; None where that path does not answer (as
        a lean check: no fresh snapshot, a transaction open, an error, an unsized row)
        — the caller runs the regular one."""
        fresh = self._reads.lean_snapshots()
        sc = self._reads.lean_connection(session) if fresh is not None else None
        if fresh is None or sc is None or start.__class__ is not dt.date \
                or end.__class__ is not dt.date:
            return None
        catalogue, closures = fresh
        slots, memo = catalogue.slots, self.memo
        days = (end - start).days + 1
        ahead: list[list[CalendarEntry] | None] = []

        def build() -> None:  # from the snapshot alone, while the server reads the range
            ahead.append(calendar_skeleton(start, days, slots))

        # A range the memo has kept a decode of (a screen reloaded: likely the same reply)
        # builds nothing ahead; any other builds while it waits (nothing kept is used).
        try:
            array = ledger_range_array(
                sc, start, end, None if memo is not None and memo.knows(start, end) else build)
        except PoolerMet as met:
            self._is_schema_change(met)  # the engine's pooler hook: prepare no more
            return None
        if array is None:
            return None
        key = (start, end, array)
        if memo is not None and (seen := memo.get(key, slots, closures)) is not None:
            return seen
        booked = range_minutes(start, end, array)
        if booked is None:
            return None  # an unsized row (or a period this code does not know)
        entries = ahead[0] if ahead else calendar_skeleton(start, days, slots)
        if entries is None or not set_booked(entries, booked):
            # the entries cannot be set by their slots: built whole
            entries = dense_calendar_entries(start, booked, slots)
        entries = with_closures(entries, closures)
        if memo is not None:
            memo.put(key, slots, closures, entries)
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
    answer. The database is asked on every call (:func:`.wire_range.ledger_range_array`);
    only where its reply (the range's int8 array, byte for byte), the range and the
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
        #: How many kept keys each range (a key's first two items) has.
        self._ranges: dict[tuple[Any, ...], int] = {}

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

    def knows(self, start: dt.date, end: dt.date) -> bool:
        """Whether a decode of this range is kept (for any reply): a hint — the lean
        calendar then builds nothing ahead of the reply, which is likely the same."""
        return (start, end) in self._ranges

    def put(self, key: tuple[Any, ...], slots: _Slots, closures: Sequence[Closure],
            entries: list[CalendarEntry]) -> None:
        """Keep ``entries`` for ``key`` (its first two items the range: start, end)."""
        with self._lock:
            if key not in self._seen:
                self._count(key, 1)
            self._seen[key] = (slots, closures, tuple(entries))
            self._seen.move_to_end(key)
            while len(self._seen) > self._size:
                self._count(self._seen.popitem(last=False)[0], -1)

    def _count(self, key: tuple[Any, ...], step: int) -> None:
        span = key[:2]
        left = self._ranges.get(span, 0) + step
        if left:
            self._ranges[span] = left
        else:
            del self._ranges[span]

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()
            self._ranges.clear()
