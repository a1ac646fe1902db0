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
from collections.abc import Mapping, Sequence
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
    "ledger_row",
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
