"""The one connection wrapper of slotcap's SQL layer, over stdlib sqlite3 and psycopg 3.

Used by the migration toolkit directly and by the stores for their catalogue reads.
SQL is written once in psycopg's pyformat — ``%s`` positional, ``%(name)s`` named,
``%%`` a literal percent — because PostgreSQL is the engine whose driver cost matters
(its text is sent as written, no per-call rewrite); for SQLite the text is translated
once per distinct statement (:func:`slotcap.sql.dialect.to_sqlite_style`, cached).
Parameters are always bound, never formatted in. Identifiers that must vary go through
:func:`slotcap.sql.names.quote_ident`, which only accepts plain names.

Transactions are explicit: both connections run in autocommit and
:meth:`SqlConnection.transaction` opens ``BEGIN`` (``BEGIN IMMEDIATE`` on SQLite when
``write=True``, so the write lock is taken up front instead of failing at the first
write with ``database is locked`` after a read). :meth:`SqlConnection.savepoint` nests
inside one; rolling back to it keeps the transaction's locks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from slotcap.errors import ConfigurationError, StoreUnavailable
from slotcap.sql.catalog import Catalog, column_names, read_catalog, table_names
from slotcap.sql.dialect import Dialect, DialectRules, rules_of
from slotcap.sql.errors import from_postgres, from_sqlite, is_busy
from slotcap.sql.names import quote_ident
from slotcap.sql.url import Engine, connect_postgres, connect_sqlite, parse_url

#: libpq's PGRES_TUPLES_OK (``psycopg.pq.ExecStatus.TUPLES_OK``, an IntEnum): spelled
#: as its value so that importing slotcap does not import psycopg (an SQLite user need
#: not have it, and it costs a fifth of a second); tests/unit/test_lazy_imports.py
#: checks it against psycopg's own.
PG_TUPLES_OK = 2
#: libpq's PGRES_COMMAND_OK and PGRES_FATAL_ERROR, spelled likewise.
PG_COMMAND_OK = 1
PG_FATAL_ERROR = 7

__all__ = [
    "PG_COMMAND_OK", "PG_FATAL_ERROR", "PG_TUPLES_OK", "Params", "Row", "SqlConnection",
    "open_sql",
]

#: Positional (``%s``) or named (``%(name)s``) parameters.
Params = Sequence[Any] | Mapping[str, Any]
Row = tuple[Any, ...]


def _bind(params: Params) -> Params:
    return params if isinstance(params, Mapping) else tuple(params)


class SqlConnection:
    """A connection plus its dialect. Not thread-safe: one per thread."""

    def __init__(self, raw: Any, dialect: Dialect, *, pooled: bool = False) -> None:
        self.raw = raw
        self.dialect = dialect
        #: Opened through a transaction pooler (``?pgbouncer=true``): no session state
        #: may be set on it (the run lock and the migration session refuse it).
        self.pooled = pooled
        #: The engine's differences as data (placeholders, casts, value conversion).
        self.spec: DialectRules = rules_of(dialect)
        self._in_transaction = False
        self._savepoints = 0
        #: PostgreSQL: the tuple-row cursor :meth:`run` reuses; closed with the connection.
        self._cur: Any = None

    @property
    def is_postgres(self) -> bool:
        return self.dialect is Dialect.POSTGRES

    def native(self, sql: str) -> str:
        """``sql`` (pyformat) in the driver's own placeholder style."""
        return self.spec.native(sql)

    def execute(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one statement; return its rows (empty for statements without rows)."""
        cur = self.raw.execute(self.spec.native(sql), _bind(params))
        try:
            if cur.description is None:
                return []
            return [tuple(row) for row in cur.fetchall()]
        finally:
            cur.close()

    def run(self, sql: str, params: Any = (), *, prepare: bool | None = None) -> list[Row]:
        """Run one statement already in the driver's style (the stores build theirs
        once per schema shape) and return plain tuples whatever the connection's row
        factory. ``prepare`` is psycopg's: None lets it prepare a statement seen often,
        False sends it unprepared (after a schema change staled the plan)."""
        if self.dialect is Dialect.POSTGRES:
            cur = self._cur
            if cur is None or cur.closed:
                cur = self._tuple_cursor()
            cur.execute(sql, params, prepare=prepare)
            # Not ``cur.description``: psycopg builds a Column object per result column
            # on every access of it. The result's status says it for free.
            res = cur.pgresult
            pg_rows: list[Row] = (
                cur.fetchall() if res is not None and res.status == PG_TUPLES_OK else []
            )
            return pg_rows
        cur = self.raw.cursor()
        cur.row_factory = None
        try:
            rows: list[Row] = cur.execute(sql, params).fetchall()
        finally:
            cur.close()
        return rows

    def _tuple_cursor(self) -> Any:
        """A tuple-row cursor on the psycopg connection, kept for every later :meth:`run`.

        A new cursor per statement cost ≈ 10 µs of a ≈ 60 µs round trip (measured at 1M
        rows, interleaved). Reuse is safe: a ``SqlConnection`` serves one thread at a
        time (every store connection source guarantees it) and every statement's rows
        are fetched at once. The cursor belongs to this object: it goes when the
        connection is closed or dropped, and nothing else holds on to the connection.
        """
        from psycopg.rows import tuple_row  # loaded: ``raw`` is a psycopg connection

        self._cur = self.raw.cursor(row_factory=tuple_row)
        return self._cur

    def execute_many(self, sql: str, rows: Sequence[Params]) -> None:
        if not rows:
            return
        bound = [_bind(r) for r in rows]
        if self.dialect is Dialect.SQLITE:
            self.raw.executemany(self.spec.native(sql), bound)
        else:
            with self.raw.cursor() as cur:
                cur.executemany(sql, bound)

    def scalar(self, sql: str, params: Params = ()) -> Any:
        rows = self.execute(sql, params)
        return rows[0][0] if rows else None

    @contextlib.contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[SqlConnection]:
        """BEGIN … COMMIT, or ROLLBACK on any exception. Not re-entrant (nest with
        :meth:`savepoint`)."""
        if self._in_transaction:
            raise RuntimeError("transaction() is not re-entrant")
        self.raw.execute(self.spec.begin_write if write else "BEGIN")
        self._in_transaction = True
        try:
            yield self
        except BaseException:
            self.raw.execute("ROLLBACK")
            raise
        else:
            self.raw.execute("COMMIT")
        finally:
            self._in_transaction = False

    @contextlib.contextmanager
    def savepoint(self, name: str = "slotcap_sp") -> Iterator[SqlConnection]:
        """A savepoint inside :meth:`transaction`: an exception rolls back to it (the
        transaction and its locks stay) and propagates."""
        if not self._in_transaction:
            raise RuntimeError("savepoint() needs an open transaction()")
        self._savepoints += 1
        ident = quote_ident(f"{name}_{self._savepoints}")
        self.raw.execute(f"SAVEPOINT {ident}")
        try:
            yield self
        except BaseException:
            self.raw.execute(f"ROLLBACK TO SAVEPOINT {ident}")
            self.raw.execute(f"RELEASE SAVEPOINT {ident}")
            raise
        else:
            self.raw.execute(f"RELEASE SAVEPOINT {ident}")
        finally:
            self._savepoints -= 1

    @contextlib.contextmanager
    def busy_as_store_busy(self, what: str) -> Iterator[None]:
        """A lock wait that ran out, a deadlock, a serialization failure or a locked
        SQLite file leaves as :class:`slotcap.StoreBusy` (unchained: the driver's text
        may carry row values); every other error passes unchanged."""
        try:
            yield
        except Exception as exc:
            if not is_busy(exc):
                raise
            mapped = from_postgres(exc, what) if self.is_postgres else from_sqlite(exc, what)
            raise mapped from None

    # -- catalogue ---------------------------------------------------------------------

    def catalog(self) -> Catalog:
        """The whole catalogue snapshot (:mod:`slotcap.sql.catalog`), read now (another
        connection may have changed the schema since any earlier read)."""
        return read_catalog(self)

    def tables(self) -> set[str]:
        """The tables of the current schema, read now."""
        return table_names(self)

    def columns(self, table: str) -> set[str]:
        """The columns of ``table``, read now."""
        return column_names(self, table)

    def close(self) -> None:
        cur, self._cur = self._cur, None
        if cur is not None:
            cur.close()
        self.raw.close()

    def __enter__(self) -> SqlConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_sql(url: str) -> SqlConnection:
    """Open a SQLite or PostgreSQL URL in autocommit mode.

    A pooled URL (``?pgbouncer=true``) gets a connection without server-side prepared
    statements, marked :attr:`SqlConnection.pooled`. A server that cannot be reached is
    a ``ConfigurationError`` here, as for every tool that opens its database once at
    start (the stores answer ``StoreUnavailable`` once running)."""
    parsed = parse_url(url)
    if parsed.engine is Engine.SQLITE:
        return SqlConnection(connect_sqlite(parsed.target), Dialect.SQLITE)
    if parsed.engine is Engine.POSTGRES:
        extra: dict[str, Any] = {"prepare_threshold": None} if parsed.pooled else {}
        try:
            raw = connect_postgres(parsed.target, autocommit=True, **extra)
        except StoreUnavailable as exc:
            raise ConfigurationError(exc.message) from None
        return SqlConnection(raw, Dialect.POSTGRES, pooled=parsed.pooled)
    raise ConfigurationError(f"{parsed} is not a SQL database")
