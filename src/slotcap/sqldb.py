"""One small connection wrapper over stdlib sqlite3 and psycopg 3.

SQL is written once with ``%s`` placeholders (psycopg's style); for SQLite they become
``?`` and ``%%`` becomes ``%``. Parameters are always bound, never formatted in.
Identifiers that must vary (table names in the migration toolkit) go through
:func:`quote_ident`, which only accepts plain names.

Transactions are explicit: both connections run in autocommit and
:meth:`SqlConnection.transaction` opens ``BEGIN`` (``BEGIN IMMEDIATE`` on SQLite when
``write=True``, so the write lock is taken up front instead of failing at the first
write with ``database is locked`` after a read).
"""

from __future__ import annotations

import contextlib
import enum
import re
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from slotcap.dburl import Engine, connect_postgres, connect_sqlite, parse_url
from slotcap.errors import ConfigurationError

__all__ = ["Dialect", "Params", "Row", "SqlConnection", "open_sql", "quote_ident"]

Params = Sequence[Any]
Row = tuple[Any, ...]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Dialect(enum.StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgresql"


def quote_ident(name: str) -> str:
    """Quote an identifier (camelCase survives); refuse anything but a plain name."""
    if not _IDENT.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return f'"{name}"'


def _to_qmark(sql: str) -> str:
    return sql.replace("%s", "?").replace("%%", "%")


class SqlConnection:
    """A connection plus its dialect. Not thread-safe: one per thread."""

    def __init__(self, raw: Any, dialect: Dialect) -> None:
        self.raw = raw
        self.dialect = dialect
        self._in_transaction = False

    @property
    def is_postgres(self) -> bool:
        return self.dialect is Dialect.POSTGRES

    def _sql(self, sql: str) -> str:
        return _to_qmark(sql) if self.dialect is Dialect.SQLITE else sql

    def execute(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one statement; return its rows (empty for statements without rows)."""
        cur = self.raw.execute(self._sql(sql), tuple(params))
        try:
            if cur.description is None:
                return []
            return [tuple(row) for row in cur.fetchall()]
        finally:
            cur.close()

    def execute_many(self, sql: str, rows: Sequence[Params]) -> None:
        if not rows:
            return
        if self.dialect is Dialect.SQLITE:
            self.raw.executemany(self._sql(sql), [tuple(r) for r in rows])
        else:
            with self.raw.cursor() as cur:
                cur.executemany(sql, [tuple(r) for r in rows])

    def scalar(self, sql: str, params: Params = ()) -> Any:
        rows = self.execute(sql, params)
        return rows[0][0] if rows else None

    @contextlib.contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[SqlConnection]:
        """BEGIN … COMMIT, or ROLLBACK on any exception. Not re-entrant."""
        if self._in_transaction:
            raise RuntimeError("transaction() is not re-entrant")
        begin = "BEGIN IMMEDIATE" if write and self.dialect is Dialect.SQLITE else "BEGIN"
        self.raw.execute(begin)
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

    # -- catalog ---------------------------------------------------------------------

    def tables(self) -> set[str]:
        if self.dialect is Dialect.SQLITE:
            rows = self.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = self.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        return {r[0] for r in rows}

    def columns(self, table: str) -> set[str]:
        if self.dialect is Dialect.SQLITE:
            rows = self.execute("SELECT name FROM pragma_table_info(%s)", (table,))
        else:
            rows = self.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = %s",
                (table,),
            )
        return {r[0] for r in rows}

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> SqlConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_sql(url: str) -> SqlConnection:
    """Open a SQLite or PostgreSQL URL in autocommit mode."""
    parsed = parse_url(url)
    if parsed.engine is Engine.SQLITE:
        return SqlConnection(connect_sqlite(parsed.target), Dialect.SQLITE)
    if parsed.engine is Engine.POSTGRES:
        return SqlConnection(connect_postgres(parsed.target, autocommit=True), Dialect.POSTGRES)
    raise ConfigurationError(f"{parsed} is not a SQL database")


def wrap_sqlite(conn: sqlite3.Connection) -> SqlConnection:
    """Wrap a sqlite3 connection the caller owns (it must be in autocommit mode)."""
    return SqlConnection(conn, Dialect.SQLITE)
