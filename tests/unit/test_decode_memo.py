"""The lean calendar's decode memo (adapters/sql/calendar.py ``DecodeMemo``): entries
come back only for the very same range, bytes, slots and closures; it stays bounded;
many threads may share it."""

from __future__ import annotations

import datetime as dt
import threading

import attrs

from slotcap.adapters.sql.calendar import DecodeMemo
from slotcap.domain.closures import Closure
from slotcap.domain.model import ClinicTimeSlot, Period
from slotcap.ports import CalendarEntry

DAY = dt.date(2026, 3, 2)
SLOT = ClinicTimeSlot(id="m", day_of_week=1, period=Period.MORNING,
                      start_time=dt.time(9), end_time=dt.time(12))


def _slots() -> dict[tuple[int, Period], ClinicTimeSlot]:
    return {(1, Period.MORNING): SLOT}


def _entries(booked: int) -> list[CalendarEntry]:
    return [CalendarEntry(day=DAY, period=Period.MORNING, is_open=True, capacity=180,
                          booked=booked)]


def test_only_the_same_bytes_range_slots_and_closures_hit() -> None:
    memo, slots, closures = DecodeMemo(), _slots(), ()
    key = (DAY, DAY, b"places", b"minutes-1")
    memo.put(key, slots, closures, _entries(10))
    got = memo.get(key, slots, closures)
    assert got == _entries(10)
    again = memo.get(key, slots, closures)
    assert again is not got and again == got  # a new list each time
    # a booking in between: other bytes from the server, a miss
    assert memo.get((DAY, DAY, b"places", b"minutes-2"), slots, closures) is None
    assert memo.get((DAY, DAY, b"places2", b"minutes-1"), slots, closures) is None
    assert memo.get((DAY, DAY + dt.timedelta(days=1), b"places", b"minutes-1"),
                    slots, closures) is None
    # other slots or closures: a miss; equal ones read again: a hit
    moved = {(1, Period.MORNING): attrs.evolve(SLOT, end_time=dt.time(13))}
    assert memo.get(key, moved, closures) is None
    shut = (Closure(id="c", start_date=DAY, reason="설날"),)
    assert memo.get(key, slots, shut) is None
    assert memo.get(key, _slots(), ()) == _entries(10)


def test_it_stays_bounded_least_recently_used_out() -> None:
    memo, slots = DecodeMemo(size=4), _slots()
    for n in range(10):
        memo.put((DAY, DAY, b"p", bytes([n])), slots, (), _entries(n))
        memo.get((DAY, DAY, b"p", bytes([6])), slots, ())  # 6 is kept in use
        assert len(memo) <= 4
    assert memo.get((DAY, DAY, b"p", bytes([0])), slots, ()) is None
    assert memo.get((DAY, DAY, b"p", bytes([6])), slots, ()) == _entries(6)
    assert memo.get((DAY, DAY, b"p", bytes([9])), slots, ()) == _entries(9)
    memo.clear()
    assert len(memo) == 0


def test_many_threads_share_it() -> None:
    memo, slots = DecodeMemo(size=8), _slots()
    wrong: list[object] = []

    def work(t: int) -> None:
        for n in range(400):
            key = (DAY, DAY, b"p", bytes([(t + n) % 16]))
            got = memo.get(key, slots, ())
            if got is None:
                memo.put(key, slots, (), _entries((t + n) % 16))
            elif got != _entries((t + n) % 16):
                wrong.append(got)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not wrong and len(memo) <= 8


def test_it_knows_the_ranges_it_keeps() -> None:
    memo, slots = DecodeMemo(size=2), _slots()
    other = DAY + dt.timedelta(days=1)
    assert not memo.knows(DAY, DAY)
    memo.put((DAY, DAY, b"1"), slots, (), _entries(1))
    memo.put((DAY, DAY, b"2"), slots, (), _entries(2))
    assert memo.knows(DAY, DAY) and not memo.knows(DAY, other)
    memo.put((DAY, other, b"1"), slots, (), _entries(1))  # (DAY, DAY, b"1") out
    assert memo.knows(DAY, DAY) and memo.knows(DAY, other)
    memo.put((DAY, other, b"2"), slots, (), _entries(2))  # (DAY, DAY, b"2") out
    assert not memo.knows(DAY, DAY) and memo.knows(DAY, other)
    memo.clear()
    assert not memo.knows(DAY, other)
