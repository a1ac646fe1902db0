"""The lean calendar's one statement on PostgreSQL: the ledger's rows of a date range as
one binary int8 array (each row's place in the range and its held minutes), through libpq
directly, as :mod:`.wire` reads a check's row — prepared once per connection, unnamed
behind a pooler, every other case left to the store's regular path. The reply is read
on every call; :func:`ledger_range_array` can run the entries' build (which does not
depend on the reply) while the server works."""

# The statement is composed from constant identifiers only; values are bound (S608).
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import select
import struct
from collections.abc import Callable, Sequence
from typing import Any

from slotcap.adapters.sql.pg_session import PG_TRANS_IDLE
from slotcap.adapters.sql.wire import (
    _DAY_BYTES,
    _PIPELINE_OFF,
    _day_bytes,
    _refused,
    _run,
    _statement,
)
from slotcap.domain.model import Period
from slotcap.sql.connection import PG_TUPLES_OK, SqlConnection
from slotcap.sql.names import LEDGER_PERIODS

__all__ = ["ledger_range", "ledger_range_array", "range_minutes", "range_places"]

#: A ledger row's period as its index in ``Period``'s order: a constant CASE on the enum
#: (compared by its OID, no text per row); a label this code does not know: NULL.
_PERIOD_INDEX = 'CASE l."period" ' + " ".join(
    f"WHEN '{p.value}' THEN {i}" for i, p in enumerate(Period)) + " END"
#: The calendar's range as one row of one int8 array, read in binary: per ledger row, its
#: place in the range (its day's offset times the periods, plus its period's index) in
#: the high 32 bits and its held minutes (an int4: a larger count fails the cast, and the
#: regular path answers) in the low 32 — unpacked by ``struct`` in one call. A row
#: counting an unsized reservation (or of a period this code does not know) is a NULL
#: element: the lean path does not answer (docs/benchmarks.md, section 10: one
#: array and no MAX aggregate, no ``array_position`` over the period's text per row).
#: The slots come from the catalogue snapshot, as for a check.
_RANGE = _statement("slotcap_ledger_range_v2", (
    'SELECT array_agg(CASE WHEN l."unsized" = 0 THEN '
    f'((((l."preferredDate" - $1::date) * {len(Period)} + {_PERIOD_INDEX})::int8 << 32) '
    '| (l."heldMinutes"::int4::int8 & 4294967295)) END) '
    f'FROM "{LEDGER_PERIODS}" l WHERE l."preferredDate" BETWEEN $1::date AND $2::date'
))



def ledger_range(sc: SqlConnection, start: dt.date, end: dt.date) -> list[int] | None:
    """The held minutes of every (date, period) of [start, end], dates in order and each
    date's periods in ``Period`` order — or None when this path does not answer (as
    :func:`ledger_row`, and where a row of the range counts an unsized reservation)."""
    array = ledger_range_array(sc, start, end)
    return None if array is None else range_minutes(start, end, array)


def ledger_range_array(sc: SqlConnection, start: dt.date, end: dt.date,
                       meanwhile: Callable[[], object] | None = None) -> bytes | None:
    """The range's row as the server sent it: its int8 array's binary bytes (``b""``: no
    ledger row in the range) — or None when this path does not answer (as
    :func:`ledger_range`). Read on every call.

    ``meanwhile``: work that does not depend on the reply (the calendar's entries from
    the catalogue snapshot), run between sending the statement and reading its reply —
    while the server works — where the statement is already prepared on this
    connection (else not at all: the caller does it after). An exception from it
    propagates once the reply is read (the connection is left idle)."""
    params = [_DAY_BYTES.get(start) or _day_bytes(start), _DAY_BYTES.get(end) or _day_bytes(end)]
    res = None
    if meanwhile is not None:
        res = _sent_then(sc, _RANGE, params, meanwhile)
    if res is None:
        res = _run(sc, _RANGE, params, binary=True)
    if res is None or res.ntuples != 1:
        return None
    array: bytes | None = res.get_value(0, 0)
    return b"" if array is None else array


def range_places(array: bytes) -> tuple[Sequence[int], Sequence[int]] | None:
    """The (places, held minutes) of :func:`ledger_range_array`'s bytes; None where they
    do not decode (a NULL element: an unsized row, or a period this code does not know).
    The binary array: five int4 of header (dimensions, has-nulls, element type, length,
    lower bound), then per element its length (8) and its int8 — read as two int4."""
    if not array:
        return (), ()
    dims, nulls, oid, count = _HEADER.unpack_from(array, 0)
    if dims != 1 or nulls or oid != _INT8_OID or len(array) != 20 + 12 * count:
        return None
    values: tuple[int, ...] = (_ELEMENTS.get(count) or _elements(count)).unpack_from(array, 20)
    return values[0::2], values[1::2]


#: Per element count, the ``struct`` reading its elements' (place, minutes), skipping
#: each element's length word (bounded: a calendar covers at most a year).
_ELEMENTS: dict[int, struct.Struct] = {}


def _elements(count: int) -> struct.Struct:
    if len(_ELEMENTS) >= 1024:
        _ELEMENTS.clear()
    reading = _ELEMENTS[count] = struct.Struct(">" + "4xii" * count)
    return reading


def range_minutes(start: dt.date, end: dt.date, array: bytes) -> list[int] | None:
    """:func:`ledger_range`'s list from :func:`ledger_range_array`'s bytes; None where
    they do not decode (:func:`range_places`)."""
    read = range_places(array)
    if read is None:
        return None
    booked = [0] * (((end - start).days + 1) * len(Period))
    places, minutes = read
    if places and not 0 <= min(places) <= max(places) < len(booked):
        return None  # never from this statement: a place outside the range
    any(map(booked.__setitem__, places, minutes))  # setitem's None: all run, in C
    return booked


_HEADER = struct.Struct(">4i")
_INT8_OID = 20


def _sent_then(sc: SqlConnection, statement: tuple[bytes, bytes, str], params: list[bytes],
               meanwhile: Callable[[], object]) -> Any:
    """The prepared statement sent (binary result), ``meanwhile()`` run, then the reply
    waited for (the GIL released in ``poll``) and read — its result, TUPLES_OK; None
    where this cannot run (as :func:`_run`: not idle, not prepared here, a pooler) or
    did not answer (then :func:`_run` runs the statement, and a missing prepared
    statement is prepared again there). A busy error raises ``StoreBusy`` as
    :func:`_run` does."""
    conn = sc.raw
    pgconn = conn.pgconn
    name, _sql, mark = statement
    prepared = getattr(sc, mark, None) is pgconn
    if (not prepared or pgconn.transaction_status != PG_TRANS_IDLE or not conn.autocommit
            or pgconn.pipeline_status != _PIPELINE_OFF or conn.prepare_threshold is None):
        return None
    try:
        pgconn.send_query_prepared(name, params, result_format=1)
    except Exception:  # libpq refused the call: the regular path says why
        return None
    try:
        meanwhile()
    finally:
        res = _reply(pgconn)
    if res is None:
        return None
    if res.status != PG_TUPLES_OK:
        _refused(res, conn)
        return None
    return res


def _reply(pgconn: Any) -> Any:
    """The one result of what was sent, every result read (the connection idle again);
    None where the connection failed (the regular path then heals it)."""
    try:
        if pgconn.flush():  # not all sent yet (a full socket buffer): send the rest
            sending = select.poll()
            sending.register(pgconn.socket, select.POLLIN | select.POLLOUT)
            while pgconn.flush():
                sending.poll()
                pgconn.consume_input()  # the server may be sending too
        pgconn.consume_input()  # the reply may be in already (the work took longer)
        if pgconn.is_busy():
            wait = select.poll()
            wait.register(pgconn.socket, select.POLLIN)
            while True:
                wait.poll()
                pgconn.consume_input()
                if not pgconn.is_busy():
                    break
        res = pgconn.get_result()
        while pgconn.get_result() is not None:  # to the end of this command's results
            pass
    except Exception:
        return None
    return res
