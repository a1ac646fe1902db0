"""The SQLite store (stdlib ``sqlite3``), the embedded default.

Concurrency: one connection per thread (or one connection of the application's, shared
under a lock), WAL so that readers never wait for the writer, and a busy timeout so a
second writer waits instead of failing. A booking runs in ``BEGIN IMMEDIATE``: it takes
the database's write lock before its first read, which serialises every check-and-insert
across threads *and* processes — SQLite has one writer at a time anyway, so finer locks
per (date, period) would buy nothing.

Dates are ISO ``YYYY-MM-DD`` text, timestamps ISO-8601 text in UTC
(``2025-12-01T09:30:00.000Z``, as the reference DDL's defaults write them), booleans 0/1.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from slotcap.adapters._sql import (
    TABLES,
    ConnectionSource,
    Flavor,
    Params,
    Row,
    SchemaInfo,
    Session,
    SharedConnection,
    SqlStore,
    ThreadLocalConnections,
)
from slotcap.dburl import SQLITE_BUSY_TIMEOUT_MS, connect_sqlite
from slotcap.domain.model import Period
from slotcap.errors import StoreBusy

__all__ = ["SqliteStore"]



class _SqliteFlavor(Flavor):
    with_keyword = "WITH RECURSIVE"

    def sql(self, text: str) -> str:
        return text  # ``:name`` is sqlite3's own named style

    def as_text(self, expr: str) -> str:
        return expr  # enums are TEXT with CHECK constraints here

    def day_of_week(self, date_expr: str) -> str:
        # strftime('%w') counts 0 = Sunday, the clinic's dayOfWeek.
        return f"CAST(strftime('%w', {date_expr}) AS INTEGER)"

    def days_cte(self) -> str:
        return (
            'days("day") AS (SELECT date(:first_day) UNION ALL '
            'SELECT date("day", \'+1 day\') FROM days WHERE "day" < :last_day)'
        )

    def date_in(self, value: dt.date) -> Any:
        return value.isoformat()

    def date_out(self, value: Any) -> dt.date:
        if isinstance(value, dt.date):
            return value
        return dt.date.fromisoformat(str(value)[:10])

    def timestamp_in(self, value: dt.datetime) -> Any:
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"

    def timestamp_out(self, value: Any) -> dt.datetime | None:
        if value is None:
            return None
        parsed = dt.datetime.fromisoformat(str(value))
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
        return parsed

    def birth_date_in(self, value: dt.date) -> Any:
        return value.isoformat()  # as the legacy application writes it

    def bool_in(self, value: bool) -> Any:
        return int(value)


def _message(exc: Exception) -> str:
    return str(exc).lower()


class _SqliteSession:
    """Statements on one connection. Outside a booking each statement commits on its
    own; a connection in Python's legacy transaction mode (``isolation_level`` not
    None) opens a transaction implicitly before a write, so that one is committed."""

    def __init__(self, conn: sqlite3.Connection, *, in_booking: bool) -> None:
        self._conn = conn
        self._in_booking = in_booking

    def execute(self, sql: str, params: Params, *, fresh: bool = False) -> list[Row]:
        cur = self._conn.cursor()
        cur.row_factory = None  # plain tuples, whatever the application's factory is
        try:
            rows: list[Row] = cur.execute(sql, params).fetchall()
        finally:
            cur.close()
        if not self._in_booking and self._conn.in_transaction:
            self._conn.commit()
        return rows

    def recover(self) -> bool:
        # SQLite undoes only the failed statement; a booking's transaction stands.
        if not self._in_booking and self._conn.in_transaction:
            self._conn.rollback()
        return True

    def mark_written(self) -> None:
        """Nothing to track: a failed statement never undoes earlier ones here."""


class SqliteStore(SqlStore):
    """A :class:`slotcap.ports.Store` on a SQLite file.

    * ``SqliteStore.open(path)`` — the store opens one connection per thread itself;
    * ``SqliteStore(connect)`` — the same with your own zero-argument ``connect``
      (e.g. to add PRAGMAs); the store owns and closes those connections;
    * ``SqliteStore.from_connection(conn)`` — one connection your application owns,
      shared by all threads one call at a time (it must be opened with
      ``check_same_thread=False`` to be used from several threads); needed for
      ``:memory:`` databases, which exist per connection.

    The schema state is read on construction; see :meth:`refresh_schema_state`.
    """

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._setup(ThreadLocalConnections(connect, lambda _conn: True))

    def _setup(self, source: ConnectionSource[sqlite3.Connection]) -> None:
        super().__init__(_SqliteFlavor())
        self._source = source
        self.refresh_schema_state()

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, busy_timeout: float = SQLITE_BUSY_TIMEOUT_MS / 1000
    ) -> SqliteStore:
        """A store on the file at ``path``; a writer waits up to ``busy_timeout``
        seconds for another before :class:`slotcap.StoreBusy`."""
        target = os.fspath(path)

        def connect() -> sqlite3.Connection:
            conn = connect_sqlite(target)
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            return conn

        return cls(connect)

    @classmethod
    def from_connection(cls, conn: sqlite3.Connection) -> SqliteStore:
        """A store on a connection the application owns (not closed by :meth:`close`)."""
        store = cls.__new__(cls)
        store._setup(SharedConnection(conn))
        return store

    def close(self) -> None:
        self._source.close()

    # -- engine hooks --------------------------------------------------------------------

    @contextlib.contextmanager
    def _session(self) -> Iterator[Session]:
        with self._source.borrow() as conn:
            yield _SqliteSession(conn, in_booking=conn.in_transaction)

    @contextlib.contextmanager
    def _locked_session(
        self, day: dt.date, service_code: str, periods: Sequence[Period]
    ) -> Iterator[Session]:
        # The database-wide write lock covers every (date, period) and (date, service).
        with self._source.borrow() as conn:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    raise StoreBusy(
                        f"the SQLite database stayed locked by another writer "
                        f"({day.isoformat()} {service_code})"
                    ) from exc
                raise
            try:
                yield _SqliteSession(conn, in_booking=True)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _introspect(self, session: Session) -> SchemaInfo:
        rows = session.execute(
            'SELECT m."name", p."name" FROM sqlite_master m, pragma_table_info(m."name") p '
            "WHERE m.\"type\" = 'table'",
            {},
        )
        # SQLite compares any text with the CHECKed columns without error: no enum list.
        return SchemaInfo(
            columns=frozenset((str(t), str(c)) for t, c in rows if t in TABLES)
        )

    def _is_schema_change(self, exc: Exception) -> bool:
        text = _message(exc)
        if isinstance(exc, sqlite3.OperationalError):
            return any(m in text for m in ("no such column", "has no column", "no such table"))
        if isinstance(exc, sqlite3.IntegrityError):
            return "not null constraint" in text or "check constraint" in text
        return False

    def _is_duplicate(self, exc: Exception) -> bool:
        return isinstance(exc, sqlite3.IntegrityError) and "unique constraint" in _message(exc)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    name = getattr(exc, "sqlite_errorname", "")
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in _message(exc)
