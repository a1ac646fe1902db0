"""The SQLite store (stdlib ``sqlite3``), the embedded default.

Concurrency: one connection per thread (or one connection of the application's, shared
under a lock), WAL so that readers never wait for the writer, and a busy timeout so a
second writer waits instead of failing. A booking runs in ``BEGIN IMMEDIATE``: it takes
the database's write lock before its first read, which serialises every check-and-insert
across threads *and* processes — SQLite has one writer at a time anyway, so finer locks
per (date, period) would buy nothing. Every write (a booking's ``BEGIN IMMEDIATE`` and the
writes outside bookings) waits for another writer at most ``busy_budget`` seconds
(``PRAGMA busy_timeout``, SQLite's own retry loop; a booking's ``BEGIN IMMEDIATE`` at most
what is left of its budget); then :class:`StoreBusy`, never a raw ``database is locked``.

Dates are ISO ``YYYY-MM-DD`` text, timestamps ISO-8601 text in UTC
(``2025-12-01T09:30:00.000Z``, as the reference DDL's defaults write them), booleans 0/1.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from slotcap.adapters.sql.base import SqlStore
from slotcap.adapters.sql.connections import (
    ConnectionSource,
    SharedConnection,
    ThreadLocalConnections,
)
from slotcap.adapters.sql.store import DEFAULT_BUSY_BUDGET, Row, Session
from slotcap.domain.model import Period
from slotcap.errors import ConfigurationError, DatabaseError, SlotcapError
from slotcap.ports import Clock
from slotcap.sql.connection import SqlConnection
from slotcap.sql.dialect import SQLITE_RULES, Dialect
from slotcap.sql.errors import from_sqlite
from slotcap.sql.url import connect_sqlite

__all__ = ["SqliteStore"]

def _message(exc: Exception) -> str:
    return str(exc).lower()


@contextlib.contextmanager
def _waiting_until(sc: SqlConnection, deadline: float) -> Iterator[None]:
    """SQLite's own retry loop for a lock (``busy_timeout``), cut for one statement to
    end by ``deadline`` (``time.monotonic()``): a booking's retries share one budget."""
    ((cap,),) = sc.run("PRAGMA busy_timeout")
    left = max(1, int((deadline - time.monotonic()) * 1000))
    if left >= int(cap):
        yield
        return
    sc.run(f"PRAGMA busy_timeout = {left}")
    try:
        yield
    finally:
        sc.run(f"PRAGMA busy_timeout = {int(cap)}")


class _SqliteSession:
    """Statements on one connection. Outside a booking each statement commits on its
    own; a connection in Python's legacy transaction mode (``isolation_level`` not
    None) opens a transaction implicitly before a write, so that one is committed."""

    def __init__(self, sc: SqlConnection, *, in_booking: bool) -> None:
        self._sc = sc
        self._conn: sqlite3.Connection = sc.raw
        self._in_booking = in_booking

    def execute(self, sql: str, params: Any, *, fresh: bool = False) -> list[Row]:
        rows = self._sc.run(sql, params)  # plain tuples, whatever the row factory
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

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        *,
        busy_budget: float = DEFAULT_BUSY_BUDGET,
        clock: Clock | None = None,
    ) -> None:
        def wrapped() -> SqlConnection:
            return SqlConnection(connect(), Dialect.SQLITE)

        self._setup(ThreadLocalConnections(wrapped, lambda _conn: True), busy_budget, clock)

    def _setup(
        self, source: ConnectionSource[SqlConnection], busy_budget: float, clock: Clock | None
    ) -> None:
        super().__init__(SQLITE_RULES, busy_budget=busy_budget, clock=clock)
        self._source = source
        self.refresh_schema_state()

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        busy_budget: float = DEFAULT_BUSY_BUDGET,
        busy_timeout: float | None = None,
        clock: Clock | None = None,
    ) -> SqliteStore:
        """A store on the file at ``path``; a writer waits up to ``busy_budget``
        seconds for another before :class:`slotcap.StoreBusy` (``busy_timeout`` is
        the older name of the same setting)."""
        target = os.fspath(path)
        budget = busy_timeout if busy_timeout is not None else busy_budget
        if not budget > 0:
            raise ConfigurationError("busy_budget must be a positive number of seconds")

        def connect() -> sqlite3.Connection:
            conn = connect_sqlite(target)
            conn.execute(f"PRAGMA busy_timeout = {max(1, int(budget * 1000))}")
            return conn

        return cls(connect, busy_budget=budget, clock=clock)

    @classmethod
    def from_connection(
        cls,
        conn: sqlite3.Connection,
        *,
        busy_budget: float = DEFAULT_BUSY_BUDGET,
        clock: Clock | None = None,
    ) -> SqliteStore:
        """A store on a connection the application owns (not closed by :meth:`close`;
        its own ``busy_timeout`` bounds the waits)."""
        store = cls.__new__(cls)
        store._setup(SharedConnection(SqlConnection(conn, Dialect.SQLITE)), busy_budget, clock)
        return store

    def close(self) -> None:
        self._close_shadow()  # the waiting shadow counts, while the connections are open
        self._source.close()

    # -- engine hooks --------------------------------------------------------------------

    @contextlib.contextmanager
    def _session(self) -> Iterator[Session]:
        with self._source.borrow() as sc:
            conn: sqlite3.Connection = sc.raw
            in_booking = conn.in_transaction
            try:
                yield _SqliteSession(sc, in_booking=in_booking)
            except BaseException:
                # A failed write on a connection in Python's legacy transaction mode
                # leaves the implicit transaction open: end it (never the caller's own).
                if not in_booking and conn.in_transaction:
                    conn.rollback()
                raise

    @contextlib.contextmanager
    def _write_session(self, deadline: float) -> Iterator[Session]:
        # The connection's busy_timeout (the budget, for connections the store opens)
        # bounds the wait; SQLite retries inside it, so one attempt is all there is.
        with self._session() as session:
            yield session

    @contextlib.contextmanager
    def _locked_session(
        self, day: dt.date, service_code: str, periods: Sequence[Period], deadline: float
    ) -> Iterator[Session]:
        # The database-wide write lock covers every (date, period) and (date, service).
        what = f"booking {day.isoformat()} {service_code}"
        with self._source.borrow() as sc:
            conn: sqlite3.Connection = sc.raw
            try:
                with _waiting_until(sc, deadline):
                    conn.execute(self._dialect.begin_write)
            except sqlite3.Error as exc:
                raise from_sqlite(exc, what) from None
            try:
                yield _SqliteSession(sc, in_booking=True)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise from_sqlite(exc, what) from None
                raise

    def _is_schema_change(self, exc: Exception) -> bool:
        text = _message(exc)
        if isinstance(exc, sqlite3.OperationalError):
            return any(m in text for m in ("no such column", "has no column", "no such table"))
        if isinstance(exc, sqlite3.IntegrityError):
            return "not null constraint" in text or "check constraint" in text
        return False

    def _translate(self, exc: Exception, what: str) -> SlotcapError | None:
        if isinstance(exc, sqlite3.Error):
            return from_sqlite(exc, what)
        return None

    def _is_duplicate(self, exc: DatabaseError) -> bool:
        return exc.sqlstate in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY")
