"""The lean calendar's decode (adapters/sql/wire_range.py ``range_places``/``range_minutes``,
adapters/sql/held_sql.py ``calendar_skeleton``/``set_booked``): the range's one int8
array read in PostgreSQL's binary format, and the entries built from the slots before
the reply then completed — the very entries the row-by-row and dense builds make."""

from __future__ import annotations

import datetime as dt
import struct

import attrs
from hypothesis import given
from hypothesis import strategies as st

from slotcap.adapters.sql import held_sql
from slotcap.adapters.sql.wire_range import range_minutes, range_places
from slotcap.domain.model import ClinicTimeSlot, Period


def _int8_array(values: list[int | None]) -> bytes:
    """A one-dimensional int8 array as PostgreSQL sends it in binary (array_send)."""
    nulls = any(v is None for v in values)
    out = struct.pack(">5i", 1, int(nulls), 20, len(values), 1)
    for v in values:
        out += struct.pack(">i", -1) if v is None else struct.pack(">iq", 8, v)
    return out


def _packed(place: int, minutes: int) -> int:
    """What the statement sends: place << 32 | minutes' int4 bits (as a signed int8)."""
    value: int = struct.unpack(">q", struct.pack(">ii", place, minutes))[0]
    return value


@given(st.dictionaries(st.integers(0, 2 * 40 - 1), st.integers(-(2**31), 2**31 - 1),
                       max_size=80))
def test_the_array_reads_back_its_places_and_minutes(held: dict[int, int]) -> None:
    array = _int8_array([_packed(p, m) for p, m in held.items()])
    read = range_places(array)
    assert read is not None
    assert dict(zip(*read, strict=True)) == held
    start = dt.date(2026, 12, 20)
    booked = range_minutes(start, start + dt.timedelta(days=39), array)
    assert booked == [held.get(i, 0) for i in range(80)]


def test_no_row_a_null_and_a_foreign_array_do_not_read() -> None:
    day = dt.date(2027, 1, 1)
    assert range_places(b"") == ((), ())
    assert range_minutes(day, day, b"") == [0, 0]
    # an unsized row (or a period this code does not know): a NULL element
    assert range_places(_int8_array([_packed(0, 10), None])) is None
    assert range_minutes(day, day, _int8_array([None])) is None
    # not the int8 array this statement sends
    int4 = struct.pack(">5i", 1, 0, 23, 1, 1) + struct.pack(">ii", 4, 7)
    assert range_places(int4) is None
    assert range_places(_int8_array([_packed(0, 1)])[:-1]) is None  # cut short
    # a place outside the range (never from this statement): no answer, no IndexError
    assert range_minutes(day, day, _int8_array([_packed(2, 5)])) is None


def _slots() -> dict[tuple[int, Period], ClinicTimeSlot]:
    morning = ClinicTimeSlot(id="m", day_of_week=1, period=Period.MORNING,
                             start_time=dt.time(9), end_time=dt.time(12), is_active=True)
    closed = attrs.evolve(morning, id="a", period=Period.AFTERNOON, is_active=False)
    saturday = attrs.evolve(morning, id="s", day_of_week=6, end_time=dt.time(10))
    return {(1, Period.MORNING): morning, (1, Period.AFTERNOON): closed,
            (6, Period.MORNING): saturday}


@given(start=st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)), days=st.integers(1, 70),
       data=st.data())
def test_the_skeleton_completed_is_the_dense_build(start: dt.date, days: int,
                                                   data: st.DataObject) -> None:
    """Any start weekday, ranges across months and years, inactive and missing slots."""
    booked = data.draw(st.lists(st.integers(0, 500), min_size=2 * days, max_size=2 * days))
    slots = _slots()
    skeleton = held_sql.calendar_skeleton(start, days, slots)
    assert skeleton is not None and len(skeleton) == 2 * days
    assert held_sql.set_booked(skeleton, booked)
    dense = held_sql.dense_calendar_entries(start, booked, slots)
    assert skeleton == dense
    assert [hash(e) for e in skeleton] == [hash(e) for e in dense]
    assert [repr(e) for e in skeleton] == [repr(e) for e in dense]
    assert skeleton[-1].day == start + dt.timedelta(days=days - 1)


def test_other_counts_set_nothing() -> None:
    day = dt.date(2026, 12, 31)  # a Thursday, the year's last day
    skeleton = held_sql.calendar_skeleton(day, 2, _slots())
    assert skeleton is not None
    assert not held_sql.set_booked(skeleton, [1, 2, 3])
    assert not held_sql.set_booked(skeleton, [1, 2, 3, 4, 5])
    assert not hasattr(skeleton[0], "booked")  # not an entry yet: never handed out so
    assert held_sql.set_booked(skeleton, [0, 5, 6, 0])
    assert [e.booked for e in skeleton] == [0, 5, 6, 0]
    assert [e.day for e in skeleton] == [day, day, dt.date(2027, 1, 1), dt.date(2027, 1, 1)]


def test_a_new_snapshot_gets_its_own_columns() -> None:
    monday = dt.date(2026, 12, 7)
    first = held_sql.calendar_skeleton(monday, 1, _slots())
    moved = {k: attrs.evolve(v, end_time=dt.time(11)) for k, v in _slots().items()}
    second = held_sql.calendar_skeleton(monday, 1, moved)
    assert first is not None and second is not None
    assert held_sql.set_booked(first, [0, 0]) and held_sql.set_booked(second, [0, 0])
    assert [e.capacity for e in first] == [180, 0]
    assert [e.capacity for e in second] == [120, 0]
