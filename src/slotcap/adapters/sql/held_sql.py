"""The held load of a date's period, from the rows (a sum over the held-rows index) or
from phase 2's ledger (docs/capacity.md "The ledger"): one primary-key row of
``slotcap_ledger_periods`` per (date, period) instead of the sum.

The ledger is kept by triggers on ``reservations`` (slotcap.migration.ddl.ledger); a
reader trusts a row only where it can be trusted alone — the fill has reached the date
and no row counted there lacks its ``estimatedDuration`` — and otherwise reports an
"unknown" count, which sends the store to the full rule over the rows.
"""

# Statements are composed from constant identifiers only; values are bound (S608).
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from itertools import accumulate, chain, cycle, islice, repeat
from operator import add
from typing import Any

from slotcap.domain.calendar import day_of_week
from slotcap.domain.model import ClinicTimeSlot, Period
from slotcap.domain.slot_init import Setter, slot_setters
from slotcap.ports import CalendarEntry
from slotcap.sql.dialect import DialectRules
from slotcap.sql.names import HOLDING_LIST, LEDGER_FILL, LEDGER_PERIODS

__all__ = [
    "LEDGER_FILLED",
    "LEDGER_HELD",
    "LEDGER_ROW",
    "calendar_entry",
    "calendar_skeleton",
    "dense_calendar_entries",
    "ledger_calendar_entries",
    "ledger_calendar_sql",
    "period_held_sql",
    "rows_held",
    "set_booked",
]

#: The ledger row of (day, period) — absent means nothing held — and the fill's frontier
#: (by its primary key: the planner then knows it is one row, and plans two probes):
#: "unknown" is the row's unsized count, plus 1 where the fill has not reached the date
#: (both send the store to the full rule over the rows, as a non-zero count does above).
LEDGER_HELD = f"""
  SELECT COALESCE(l."heldMinutes", 0) AS "minutes",
    COALESCE(l."unsized", 0) + CASE WHEN f."through" >= %(day)s THEN 0 ELSE 1 END AS "unknown"
  FROM "{LEDGER_FILL}" f
  LEFT JOIN "{LEDGER_PERIODS}" l ON l."preferredDate" = %(day)s AND l."period" = %(period)s
  WHERE f."id" = 1
"""


#: The check's statement once the fill is complete (the store's catalogue snapshot says
#: so, ``LEDGER_FILLED``): the (day, period) row alone, one primary-key probe; no row
#: means nothing is held there.
LEDGER_ROW = f"""
SELECT l."heldMinutes", l."unsized" FROM "{LEDGER_PERIODS}" l
WHERE l."preferredDate" = %(day)s AND l."period" = %(period)s
"""

#: Whether the fill is complete (``through`` at the end of time: PostgreSQL's
#: ``infinity``, SQLite's ``9999-12-31``; ``%(day)s`` is the last date there is). Read
#: with the catalogue snapshot, never by a booking.
LEDGER_FILLED = f"""
SELECT COUNT(*) FROM "{LEDGER_FILL}" f WHERE f."id" = 1 AND f."through" >= %(day)s
"""


def ledger_calendar_sql(d: DialectRules, *, filled: bool = False) -> str:
    # The ledger's rows of the range (one primary-key range scan; absent rows hold
    # nothing), and one row with "unsized" 1 when the fill has not reached the range's
    # last date. The slots come from the store's catalogue snapshot, as for a check.
    # ``filled``: the fill is complete (the catalogue snapshot says so): the range alone.
    rows = f"""
SELECT l."preferredDate", {d.text('l."period"')}, l."heldMinutes", l."unsized"
FROM "{LEDGER_PERIODS}" l
WHERE l."preferredDate" BETWEEN %(first_day)s AND %(last_day)s
"""
    if filled:
        return rows
    return rows + f"""UNION ALL
SELECT NULL, NULL, 0, 1 FROM "{LEDGER_FILL}" f
WHERE f."id" = 1 AND NOT (f."through" >= %(last_day)s)
"""


_PERIODS = tuple((p, p.value) for p in Period)
_DAY = dt.timedelta(days=1)


_Shapes = list[list[tuple[Period, str, bool, int]]]
#: The shapes of the slots mapping last seen (a catalogue snapshot's: never changed
#: once built, a new snapshot is a new mapping), by identity.
_shapes_seen: tuple[object, _Shapes] = (None, [])


def _shapes(slots: Mapping[tuple[int, Period], ClinicTimeSlot]) -> _Shapes:
    """(period, its value, is_open, capacity) per weekday, worked out once per
    catalogue snapshot (``slots`` is its mapping, never changed once built)."""
    global _shapes_seen  # one tuple, replaced whole
    seen, shapes = _shapes_seen
    if seen is slots:
        return shapes
    shapes = []
    for dow in range(7):
        shape = []
        for period, value in _PERIODS:
            slot = slots.get((dow, period))
            is_open = slot is not None and slot.is_active
            shape.append((period, value, is_open,
                          slot.total_minutes if slot is not None and is_open else 0))
        shapes.append(shape)
    _shapes_seen = (slots, shapes)
    return shapes


_FIELDS = ("day", "period", "is_open", "capacity", "booked", "closed_reason")
_Setter = Setter


def _slot_setters() -> tuple[_Setter, _Setter, _Setter, _Setter, _Setter, _Setter] | None:
    """The slot descriptors' setters of :class:`CalendarEntry`'s fields, where an
    entry may be built by setting them directly
    (:func:`~slotcap.domain.slot_init.slot_setters`): the same frozen object as
    ``CalendarEntry(...)`` (equal, hashable, ``attrs.evolve`` works) at under half its
    cost — a 35-day screen builds 70 (tests/unit/test_calendar_entries.py); None
    otherwise, and the class's own ``__init__`` builds them."""
    setters = slot_setters(CalendarEntry, _FIELDS)
    if setters is None:
        return None
    d, p, o, c, b, r = setters
    return d, p, o, c, b, r


_SLOT_SETTERS = _slot_setters()


def _entry_maker() -> Callable[[dt.date, Period, bool, int, int], CalendarEntry]:
    """``CalendarEntry(day=…, period=…, is_open=…, capacity=…, booked=…)``, by its slots
    where :func:`_slot_setters` allows."""
    if _SLOT_SETTERS is None:
        def made(day: dt.date, period: Period, is_open: bool, capacity: int,
                 booked: int) -> CalendarEntry:
            return CalendarEntry(day=day, period=period, is_open=is_open,
                                 capacity=capacity, booked=booked)
        return made
    new = object.__new__
    day_, period_, open_, capacity_, booked_, reason_ = _SLOT_SETTERS

    def fast(day: dt.date, period: Period, is_open: bool, capacity: int,
             booked: int) -> CalendarEntry:
        entry: CalendarEntry = new(CalendarEntry)
        day_(entry, day)
        period_(entry, period)
        open_(entry, is_open)
        capacity_(entry, capacity)
        booked_(entry, booked)
        reason_(entry, None)
        return entry
    return fast


calendar_entry = _entry_maker()


def ledger_calendar_entries(
    start: dt.date, end: dt.date, rows: Sequence[Sequence[Any]],
    slots: Mapping[tuple[int, Period], ClinicTimeSlot], date_out: Callable[[Any], dt.date],
) -> list[CalendarEntry]:
    """Every date x period of the range from ``ledger_calendar_sql``'s rows (none of
    them unsized) and the slots of the store's catalogue snapshot. Plain loops: this
    builds 70 entries for a 35-day screen, more than its round trip costs."""
    held = {(date_out(r[0]), r[1]): int(r[2]) for r in rows}
    shapes = _shapes(slots)
    out = []
    get = held.get
    make = calendar_entry
    dow = day_of_week(start)
    day = start
    while day <= end:
        for period, value, is_open, capacity in shapes[dow]:
            out.append(make(day, period, is_open, capacity, get((day, value), 0)))
        day += _DAY
        dow = (dow + 1) % 7
    return out


def dense_calendar_entries(
    start: dt.date, booked: Sequence[int],
    slots: Mapping[tuple[int, Period], ClinicTimeSlot],
) -> list[CalendarEntry]:
    """The same entries from the held minutes of every (date, period) from ``start``
    on, in order (:func:`slotcap.adapters.sql.wire_range.ledger_range`). The lean
    calendar builds them by :func:`calendar_skeleton` and :func:`set_booked`; this is
    its fallback where they cannot be set by their slots, and their reference."""
    shapes = _shapes(slots)
    out = []
    dow = day_of_week(start)
    day = start
    held = iter(booked)
    for _ in range(len(booked) // len(_PERIODS)):
        for period, _value, is_open, capacity in shapes[dow]:
            out.append(calendar_entry(day, period, is_open, capacity, next(held)))
        day += _DAY
        dow = (dow + 1) % 7
    return out


_Columns = list[tuple[tuple[Period, ...], tuple[bool, ...], tuple[int, ...]]]
#: The columns of the slots mapping last seen, by identity (as ``_shapes_seen``).
_columns_seen: tuple[object, _Columns] = (None, [])


def _columns(slots: Mapping[tuple[int, Period], ClinicTimeSlot]) -> _Columns:
    """Per weekday a range may start on: a week's (periods, is_open, capacities) from
    that weekday on, one item per (date, period) — :func:`_shapes` laid out for
    ``calendar_skeleton`` to repeat; worked out once per catalogue snapshot."""
    global _columns_seen  # one tuple, replaced whole
    seen, columns = _columns_seen
    if seen is slots:
        return columns
    shapes = _shapes(slots)
    columns = []
    for first in range(7):
        week = [shape for dow in range(first, first + 7) for shape in shapes[dow % 7]]
        columns.append((tuple(w[0] for w in week), tuple(w[2] for w in week),
                        tuple(w[3] for w in week)))
    _columns_seen = (slots, columns)
    return columns


def calendar_skeleton(
    start: dt.date, days: int, slots: Mapping[tuple[int, Period], ClinicTimeSlot],
) -> list[CalendarEntry] | None:
    """The entries of ``days`` dates from ``start`` but their ``booked``, built from the
    slots alone, for :func:`set_booked` to complete from a reply: what the lean calendar
    builds while the server reads its range. Not an entry until then (its ``booked``
    unset): never handed out before :func:`set_booked`. Column by column, each slot's
    setter run over every entry by ``map`` (no bytecode per entry: about a tenth fewer
    instructions than a loop setting each entry's fields). None where the entries
    cannot be set by their slots (:func:`_slot_setters`)."""
    if _SLOT_SETTERS is None:
        return None
    set_day, set_period, set_open, set_capacity, _booked, set_reason = _SLOT_SETTERS
    periods, opens, capacities = _columns(slots)[day_of_week(start)]
    count = days * len(_PERIODS)
    dates = list(accumulate(repeat(_DAY, days - 1), add, initial=start))
    out: list[CalendarEntry] = list(map(object.__new__, repeat(CalendarEntry, count)))
    # Each setter returns None: ``any`` runs it over every entry.
    any(map(set_day, out, chain.from_iterable(zip(*repeat(dates, len(_PERIODS)), strict=True))))
    any(map(set_period, out, islice(cycle(periods), count)))
    any(map(set_open, out, islice(cycle(opens), count)))
    any(map(set_capacity, out, islice(cycle(capacities), count)))
    any(map(set_reason, out, repeat(None, count)))
    return out


def set_booked(skeleton: list[CalendarEntry], booked: Sequence[int]) -> bool:
    """Complete :func:`calendar_skeleton`'s entries (not yet seen by anyone) with the
    held minutes of each, in order (:func:`slotcap.adapters.sql.wire_range.range_minutes`):
    then they are the frozen entries ``CalendarEntry(...)`` builds. False, and nothing
    set, where the counts differ."""
    if _SLOT_SETTERS is None or len(booked) != len(skeleton):
        return False
    any(map(_SLOT_SETTERS[4], skeleton, booked))  # in C, no bytecode per entry
    return True


def rows_held() -> str:
    holding = f'r."status" IN {HOLDING_LIST}'
    return f"""
  SELECT COALESCE(SUM(r."estimatedDuration"), 0) AS "minutes",
    COUNT(CASE WHEN r."estimatedDuration" IS NULL THEN 1 END) + (
      SELECT COUNT(*) FROM "reservations" n
      WHERE n."preferredDate" = %(day)s AND n."period" IS NULL AND n."status" IN {HOLDING_LIST}
    ) AS "unknown"
  FROM "reservations" r
  WHERE r."preferredDate" = %(day)s AND r."period" = %(period)s AND {holding}
"""


def period_held_sql() -> str:
    # The check's statement (outside a booking): the common case's held minutes and a
    # count of the rows that sum cannot answer (the period's held rows without a
    # duration, the date's held rows without a period), without the service and slot
    # rows — the store serves those from its catalogue snapshot (``SqlReads.catalogue_now``).
    # One probe of the date's held rows, both periods and none (at most a few dozen):
    # with phase 2's partial held-rows index an index-only scan of just those; one plan
    # node instead of two probes and an InitPlan.
    return f"""
SELECT COALESCE(SUM(CASE WHEN r."period" = %(period)s THEN r."estimatedDuration" END), 0),
  COUNT(CASE WHEN r."period" IS NULL
    OR (r."period" = %(period)s AND r."estimatedDuration" IS NULL) THEN 1 END)
FROM "reservations" r
WHERE r."preferredDate" = %(day)s AND r."status" IN {HOLDING_LIST}
"""
