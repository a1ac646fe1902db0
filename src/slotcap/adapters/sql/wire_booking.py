"""A lean executor for a booking's one-trip pipeline: libpq's pipeline mode driven at
psycopg's ``pq`` level (:mod:`.pg_booking`'s ``one_trip``).

psycopg's own pipeline (``with conn.pipeline(): conn.execute(…)``) costs a cursor, a
query conversion and a few generators per statement — about a third of a booking's
Python time when the clients are threads of one process (issue #26). This module sends
the same statements the same way — the extended protocol, one ``Sync`` at the end, so
the server runs them in order and skips the rest after the first error — with:

* each statement's ``%(name)s`` / ``%s`` placeholders converted to ``$n`` once per SQL
  text (a cache), the values dumped and the rows loaded by psycopg's own
  :class:`~psycopg.adapt.Transformer` of the connection (so the types sent and the
  Python values returned are exactly psycopg's);
* statements with parameters prepared under a name of this module once per connection
  — unless ``prepare`` is false (behind a transaction pooler such as PgBouncer in
  transaction mode a named statement may be on another server connection): then
  every statement is sent unnamed (``Parse``/``Bind``/``Execute`` each time);
* the socket waits in :func:`select.poll` / :func:`select.select`, the GIL released.

An error result raises psycopg's exception for it (its SQLSTATE class, as a cursor
would) once the whole pipeline has been read to its ``Sync``, so the connection is
back out of pipeline mode; the transaction status tells the caller what is left to
roll back. A failure of the connection itself raises psycopg's ``OperationalError``;
an interruption (``KeyboardInterrupt``) mid-pipeline closes the connection rather than
leave it with results unread.
"""

from __future__ import annotations

import functools
import itertools
import re
import select
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer

__all__ = ["Step", "run_pipeline"]

#: A statement and its parameters (a mapping for ``%(name)s``, a sequence for ``%s``,
#: or None for none).
Step = tuple[str, Mapping[str, Any] | Sequence[Any] | None]

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")
_NAMES = itertools.count(1)
# Plain ints: an enum member read through its class costs a descriptor call in 3.11.
_TUPLES_OK = int(pq.ExecStatus.TUPLES_OK)
_OK = frozenset({int(pq.ExecStatus.COMMAND_OK), _TUPLES_OK, int(pq.ExecStatus.EMPTY_QUERY)})
_FATAL = int(pq.ExecStatus.FATAL_ERROR)
_SYNC = int(pq.ExecStatus.PIPELINE_SYNC)
_CONN_OK = int(pq.ConnStatus.OK)
_PIPELINE_OFF = int(pq.PipelineStatus.OFF)
_AUTO = PyFormat.AUTO


class _Query:
    """A statement converted for libpq: ``$n`` placeholders and how to order values."""

    __slots__ = ("names", "positional", "sql")

    def __init__(self, sql: str) -> None:
        names: list[str] = []
        positional = 0

        def number(match: re.Match[str]) -> str:
            nonlocal positional
            text = match.group(0)
            if text == "%%":
                return "%"
            name = match.group(1)
            if name is None:
                positional += 1
                return f"${positional}"
            if name not in names:
                names.append(name)
            return f"${names.index(name) + 1}"

        converted = _PLACEHOLDER.sub(number, sql)
        if names and positional:
            raise ValueError("a statement mixes %s and %(name)s placeholders")
        self.sql = converted.encode()
        self.names = tuple(names) if names else None
        self.positional = positional

    def values(self, params: Mapping[str, Any] | Sequence[Any] | None) -> Sequence[Any]:
        if self.names is not None:
            assert isinstance(params, Mapping)  # noqa: S101 (the caller's contract)
            return [params[n] for n in self.names]
        if not self.positional:
            return ()
        assert params is not None and not isinstance(params, Mapping)  # noqa: S101
        if len(params) != self.positional:
            raise ValueError(f"{self.positional} placeholders, {len(params)} values")
        return params


@functools.lru_cache(maxsize=128)
def _query(sql: str) -> _Query:
    return _Query(sql)


class _Wire:
    """One connection's transformer and the names of what this module prepared on it."""

    __slots__ = ("prepared", "transformer")

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.transformer = Transformer(conn)
        self.prepared: dict[tuple[bytes, tuple[int, ...]], bytes] = {}


_WIRES: weakref.WeakKeyDictionary[psycopg.Connection[Any], _Wire] = (
    weakref.WeakKeyDictionary())


def forget_prepared(conn: psycopg.Connection[Any]) -> None:
    """Forget the statements prepared on ``conn`` (a pooler met, a schema change: the
    next pipeline prepares again, under new names)."""
    wire = _WIRES.get(conn)
    if wire is not None:
        wire.prepared.clear()


def _wait(fd: int, write: bool = False) -> None:
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | (select.POLLOUT if write else 0))
        poller.poll()
    else:  # pragma: no cover - Windows
        select.select([fd], [fd] if write else [], [])


def _flush(pgconn: pq.abc.PGconn) -> None:
    while pgconn.flush():
        _wait(pgconn.socket, write=True)
        pgconn.consume_input()  # the server may be answering while we still send


def _read(pgconn: pq.abc.PGconn) -> list[pq.abc.PGresult]:
    """Every result up to the pipeline's ``Sync`` (the ``Sync`` itself left out)."""
    results: list[pq.abc.PGresult] = []
    empty = 0
    while True:
        if pgconn.is_busy():
            _wait(pgconn.socket)
            pgconn.consume_input()
            continue
        result = pgconn.get_result()
        if result is None:  # one statement's results end
            empty += 1
            if empty > 1 and pgconn.status != _CONN_OK:
                raise psycopg.OperationalError("the connection to the server was lost")
            continue
        empty = 0
        status = result.status
        if status == _SYNC:
            return results
        if status == _FATAL and pgconn.status != _CONN_OK:
            raise psycopg.OperationalError("the connection to the server was lost")
        results.append(result)


def run_pipeline(conn: psycopg.Connection[Any], steps: Sequence[Step], *, prepare: bool,
                 rows_of: int | None = None) -> list[list[tuple[Any, ...]] | None]:
    """Run ``steps`` as one pipeline on ``conn`` (idle, not in psycopg's own pipeline):
    the rows of each step that returns rows (only step ``rows_of``'s, if given), else
    None. The first failed step raises its psycopg exception after the pipeline has
    been read to the end."""
    wire = _WIRES.get(conn)
    if wire is None:
        wire = _WIRES[conn] = _Wire(conn)
    tx = wire.transformer
    pgconn = conn.pgconn
    # Everything dumped before anything is sent: a value psycopg cannot adapt raises
    # here, with nothing on the wire.
    sends: list[tuple[bytes, Sequence[Any] | None, tuple[int, ...], Sequence[pq.Format]]] = []
    for sql, params in steps:
        query = _query(sql)
        values = query.values(params)
        if values:
            dumped = tx.dump_sequence(values, [_AUTO] * len(values))
            sends.append((query.sql, dumped, tuple(tx.types or ()), tuple(tx.formats or ())))
        else:
            sends.append((query.sql, None, (), ()))
    with conn.lock:
        if pgconn.pipeline_status != _PIPELINE_OFF:
            raise psycopg.ProgrammingError("run_pipeline: the connection is in a pipeline")
        kinds: list[tuple[bytes, tuple[int, ...]] | int] = []  # a prepare, or a step
        pgconn.enter_pipeline_mode()
        try:
            for index, (sql_bytes, data, types, formats) in enumerate(sends):
                if prepare and data is not None:
                    key = (sql_bytes, types)
                    name = wire.prepared.get(key)
                    if name is None:
                        name = f"slotcap_w{next(_NAMES)}".encode()
                        pgconn.send_prepare(name, sql_bytes, types)
                        kinds.append(key)
                        wire.prepared[key] = name  # dropped again if the prepare fails
                    pgconn.send_query_prepared(name, data, formats)
                else:
                    pgconn.send_query_params(sql_bytes, data, types or None, formats or None)
                kinds.append(index)
            pgconn.pipeline_sync()
            _flush(pgconn)
            results = _read(pgconn)
            pgconn.exit_pipeline_mode()
        except BaseException:
            wire.prepared.clear()
            if isinstance(conn, psycopg.Connection):
                conn.close()  # half a pipeline unread: the connection cannot be used again
            raise
    out: list[list[tuple[Any, ...]] | None] = [None] * len(steps)
    failure: pq.abc.PGresult | None = None
    for kind, result in zip(kinds, results, strict=False):
        status = result.status
        if status not in _OK:
            if isinstance(kind, tuple):
                wire.prepared.pop(kind, None)
            if failure is None and status == _FATAL:
                failure = result
            continue
        if (status == _TUPLES_OK and isinstance(kind, int)
                and (rows_of is None or kind == rows_of)):
            tx.set_pgresult(result)
            out[kind] = tx.load_rows(0, result.ntuples, tuple)
    if failure is not None:
        raise pg_errors.error_from_result(failure, encoding=conn.info.encoding)
    return out
