"""A lean executor for the check's one statement on PostgreSQL: the ledger's (date,
period) row read through libpq directly (``pgconn.exec_prepared`` with text parameters
already encoded), not through a psycopg cursor.

Why: once the ledger's fill is complete a check is one primary-key probe, and on a
loopback connection psycopg's cursor machinery (parameter adaptation, the prepared
statements' bookkeeping, the result's loaders) cost about as much again as the server
takes (docs/benchmarks.md, "The lean check"). Here a check is one libpq call, the
parameters a date's ISO text and a period's name, the two integers read from the text
result.

What it does not do, on purpose — any of these returns None and the store runs the
check on its regular path (the same statement through psycopg), which maps the error,
heals a lost connection, follows a schema change and re-reads the catalogue:

* run inside a transaction (a connection not idle, or not in autocommit, or in
  pipeline mode): the lean call would not be the statement the caller's transaction
  expects;
* handle any error but one: its named statement missing on the server connection
  (dropped by psycopg's ``DEALLOCATE ALL`` after a rollback, or a pooler's server
  connection replaced), which it prepares and runs again once; missing again, or
  found already there when preparing, it is a transaction pooler moving the client
  between server connections: :class:`PoolerMet`, and the store goes pooled. A busy
  error (a lock wait that ran out, a deadlock, a serialization failure) is raised
  here as ``StoreBusy``, as the regular path would, instead of being waited for twice.

Behind a transaction pooler (the connection prepares nothing: ``prepare_threshold``
None — ``pooled=True``, ``?pgbouncer=true``, or a pooler met) the statement is sent
unnamed (``exec_params``), which a pooler passes through whole.

The row is read on every check: nothing here caches an answer.
"""

# The statement is composed from constant identifiers only; values are bound (S608).
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import select
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from slotcap.adapters._closures import closures_for
from slotcap.adapters.sql.pg_session import PG_TRANS_IDLE
from slotcap.adapters.sql.store import CatalogueSnapshot
from slotcap.domain.closures import Closure
from slotcap.domain.model import Period
from slotcap.domain.rules import Decision
from slotcap.ports import PeriodFacts
from slotcap.ports.records import make_period_facts
from slotcap.sql.connection import PG_COMMAND_OK, PG_TUPLES_OK, SqlConnection
from slotcap.sql.errors import PG_BUSY_SQLSTATES, from_postgres
from slotcap.sql.names import LEDGER_PERIODS

__all__ = [
    "LEDGER_ROW_NAME", "LEDGER_ROW_WIRE", "PoolerMet", "lean_decision", "lean_facts",
    "ledger_range", "ledger_range_array", "ledger_row", "range_minutes", "range_places",
]

#: The ledger row of (day, period): ``held_sql.LEDGER_ROW`` in libpq's ``$n`` style.
LEDGER_ROW_WIRE = (
    f'SELECT l."heldMinutes", l."unsized" FROM "{LEDGER_PERIODS}" l '
    'WHERE l."preferredDate" = $1 AND l."period" = $2'
).encode()
#: Its server-side name on each connection (psycopg's own are ``_pg3_<n>``).
LEDGER_ROW_NAME = b"slotcap_ledger_row_v1"

#: psycopg's PipelineStatus.OFF, spelled as its value so that importing slotcap does not
#: import psycopg (tests/unit/test_wire.py checks it against psycopg's own).
_PIPELINE_OFF = 0
#: invalid_sql_statement_name, duplicate_prepared_statement: the named statement is not
#: on this server connection, or is there already.
_NOT_PREPARED, _DUPLICATE = "26000", "42P05"
_PERIOD_BYTES = {p: p.value.encode() for p in Period}
_DAY_BYTES: dict[dt.date, bytes] = {}


def _day_bytes(day: dt.date) -> bytes:
    """The date's ISO text, encoded (remembered: a screen asks the same dates)."""
    try:
        return _DAY_BYTES[day]
    except KeyError:
        pass
    if len(_DAY_BYTES) >= 4096:
        _DAY_BYTES.clear()
    text = _DAY_BYTES[day] = day.isoformat().encode()
    return text


def _statement(name: str, sql: str) -> tuple[bytes, bytes, str]:
    """(server-side name, text, the :class:`SqlConnection` attribute naming the libpq
    connection it was prepared on — a replaced connection is a new object)."""
    return name.encode(), sql.encode(), f"_slotcap_wire_{name}"


_ROW = _statement(LEDGER_ROW_NAME.decode(), LEDGER_ROW_WIRE.decode())
_ROW_MARK = _ROW[2]
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


def ledger_row(sc: SqlConnection, day: dt.date, period: Period) -> tuple[int, int] | None:
    """(held minutes, unsized) of the ledger's (day, period) row — (0, 0) when there is
    none — or None when this path does not answer (see the module's docstring).
    ``day`` must be a ``datetime.date`` (not a datetime), ``period`` a Period."""
    res = _run(sc, _ROW, [_DAY_BYTES.get(day) or _day_bytes(day), _PERIOD_BYTES[period]])
    if res is None:
        return None
    if not res.ntuples:
        return 0, 0
    minutes, unsized = res.get_value(0, 0), res.get_value(0, 1)
    if minutes is None or unsized is None:  # NOT NULL columns: never, but not a guess
        return None
    return int(minutes), int(unsized)


def lean_facts(
    sc: SqlConnection, catalogue: CatalogueSnapshot, closures: Sequence[Closure],
    day: dt.date, period: Period, code: str,
) -> PeriodFacts | None:
    """A check's facts, as ``SqlReads.checked_facts`` and the closures give them, from
    the (day, period) ledger row read here and the store's fresh snapshots (the ledger's
    fill complete). None where this path does not answer (:func:`ledger_row`'s None, or
    a row counting an unsized reservation): the store's regular path then answers."""
    if day.__class__ is not dt.date:
        return None
    if period.__class__ is not Period:
        period = Period(period)
    # What does not depend on the row, looked up before the round trip: the code after
    # it runs on caches the wait left cold (docs/benchmarks.md, section 9).
    service = catalogue.services.get(code)
    slot = catalogue.slots.get((day.isoweekday() % 7, period))  # day_of_week
    applied = closures_for(closures, day, period) if closures else ()
    res = _run(sc, _ROW, [_DAY_BYTES.get(day) or _day_bytes(day), _PERIOD_BYTES[period]])
    if res is None:
        return None
    if res.ntuples:  # ledger_row's reading, inline (this is the check's hot path)
        minutes, unsized = res.get_value(0, 0), res.get_value(0, 1)
        if minutes is None or unsized != b"0":
            return None  # a row counting an unsized reservation (or a NULL: never)
        return make_period_facts(service, slot, int(minutes), applied)
    return make_period_facts(service, slot, 0, applied)


def lean_decision(sc: SqlConnection, params: list[bytes],
                  decisions: Mapping[bytes, Decision]) -> Decision | None:
    """A check's decision: ``decisions[held minutes]``, the held minutes of the ledger
    row read here (``params``: the date's ISO text and the period's name, encoded; no
    row: ``b"0"``) — ``check_plans.Decisions``, which decides on first sight of a
    value. None where :func:`lean_facts` would answer None."""
    conn = sc.raw
    pgconn = conn.pgconn
    # _run's common case, inline (the check's hot path: the code before the call runs
    # on caches the previous request left cold): the statement already prepared on this
    # very libpq connection, idle, in autocommit, not in pipeline mode, not pooled.
    # Every other case is _run's.
    prepared = getattr(sc, _ROW_MARK, None) is pgconn
    if (prepared and pgconn.transaction_status == PG_TRANS_IDLE and conn.autocommit
            and pgconn.pipeline_status == _PIPELINE_OFF and conn.prepare_threshold is not None):
        try:
            res = pgconn.exec_prepared(LEDGER_ROW_NAME, params)
            if res.status != PG_TUPLES_OK and _sqlstate(res) == _NOT_PREPARED:
                res = _prepare_and_run(sc, pgconn, _ROW, params, False)  # as _run
        except PoolerMet:
            raise
        except Exception:  # libpq refused the call: the regular path says why
            return None
        if res.status != PG_TUPLES_OK:
            _refused(res, conn)
            return None
    else:
        res = _run(sc, _ROW, params)
        if res is None:
            return None
    if res.ntuples:
        minutes = res.get_value(0, 0)
        if minutes is None or res.get_value(0, 1) != b"0":
            return None  # a row counting an unsized reservation (or a NULL: never)
        return decisions[minutes]
    return decisions[b"0"]


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
        if _sqlstate(res) in PG_BUSY_SQLSTATES:
            raise from_postgres(_error_of(res, conn), "read") from None
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


def _run(sc: SqlConnection, statement: tuple[bytes, bytes, str], params: list[bytes],
         *, binary: bool = False) -> Any:
    """The statement's result (TUPLES_OK), or None where the regular path should run."""
    conn = sc.raw
    pgconn = conn.pgconn
    if (pgconn.transaction_status != PG_TRANS_IDLE or not conn.autocommit
            or pgconn.pipeline_status != _PIPELINE_OFF):
        return None
    name, sql, mark = statement
    prepared = getattr(sc, mark, None) is pgconn
    try:
        if conn.prepare_threshold is None:  # a pooler: nothing named on the server
            res = pgconn.exec_params(sql, params, result_format=binary)
        elif prepared:
            res = pgconn.exec_prepared(name, params, result_format=binary)
            if res.status != PG_TUPLES_OK and _sqlstate(res) == _NOT_PREPARED:
                # Gone since: psycopg's DEALLOCATE ALL after a rollback, or a pooler
                # that moved this connection to another server connection.
                res = _prepare_and_run(sc, pgconn, statement, params, binary)
        else:
            res = _prepare_and_run(sc, pgconn, statement, params, binary)
    except PoolerMet:
        raise
    except Exception:  # libpq refused the call: the regular path says why
        return None
    if res.status != PG_TUPLES_OK:
        _refused(res, conn)
        return None
    return res


def _refused(res: Any, conn: Any) -> None:
    """An error result: a busy one raised as ``StoreBusy`` (as the regular path would,
    instead of waiting twice); any other: None, the regular path runs."""
    if _sqlstate(res) in PG_BUSY_SQLSTATES:
        raise from_postgres(_error_of(res, conn), "read") from None


def _prepare_and_run(sc: SqlConnection, pgconn: Any, statement: tuple[bytes, bytes, str],
                     params: list[bytes], binary: bool) -> Any:
    """Prepare the statement on this connection, then run it. Refused as a duplicate
    (this server connection has it though this client never prepared it there) or
    missing right after it was prepared: a transaction pooler moves this connection
    between server connections — :class:`PoolerMet`."""
    name, sql, mark = statement
    setattr(sc, mark, None)
    ready = pgconn.prepare(name, sql)
    if ready.status != PG_COMMAND_OK:
        if _sqlstate(ready) == _DUPLICATE:
            raise PoolerMet(_DUPLICATE)
        return ready
    setattr(sc, mark, pgconn)
    res = pgconn.exec_prepared(name, params, result_format=binary)
    if res.status != PG_TUPLES_OK and _sqlstate(res) == _NOT_PREPARED:
        setattr(sc, mark, None)
        raise PoolerMet(_NOT_PREPARED)
    return res


class PoolerMet(Exception):  # a signal to the store, not an error it raises
    """The lean check's named statement moved between server connections within one
    call: a transaction pooler is in between. The store switches to pooled mode (its
    ``_is_schema_change`` hook, as for its own statements) and runs the check on its
    regular path."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"prepared statement lost between server connections ({sqlstate})")
        self.sqlstate = sqlstate


def _sqlstate(res: Any) -> str | None:
    code = res.error_field(_SQLSTATE_FIELD)
    return code.decode("ascii") if code else None


#: libpq's PG_DIAG_SQLSTATE ('C').
_SQLSTATE_FIELD = ord("C")


def _error_of(res: Any, conn: Any) -> Exception:
    """psycopg's own exception for an error result (its class by SQLSTATE, its
    diagnostics), for the project's one error mapping."""
    from psycopg import errors  # loaded: ``conn`` is a psycopg connection

    error: Exception = errors.error_from_result(res, encoding=conn.info.encoding)
    return error
