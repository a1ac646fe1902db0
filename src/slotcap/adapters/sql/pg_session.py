"""PostgreSQL sessions of the store: how a statement runs outside a booking, inside the
locked booking transaction, and as a bounded write; the lock statement.

Rows are read with a tuple row factory whatever the connection's own factory is, and a
result's status is read from libpq (``cur.description`` builds a Column object per
result column on every access).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slotcap.adapters.sql.store import Params, Row
from slotcap.errors import StoreUnavailable
from slotcap.sql.connection import SqlConnection
from slotcap.sql.errors import (
    connection_lost,
    from_postgres,
    is_connection_lost,
    is_postgres_busy,
)

if TYPE_CHECKING:
    import psycopg

#: libpq's transaction statuses PQTRANS_IDLE and PQTRANS_INERROR
#: (``psycopg.pq.TransactionStatus``, an IntEnum), read on the hot path several times per
#: check: spelled as values so that importing slotcap does not import psycopg
#: (tests/unit/test_lazy_imports.py checks them against psycopg's own).
PG_TRANS_IDLE = 0
PG_TRANS_INERROR = 3

__all__ = [
    "PG_TRANS_IDLE",
    "PG_TRANS_INERROR",
    "SAVEPOINT",
    "BookingSession",
    "Heal",
    "StatementScope",
    "StatementSession",
    "WriteSession",
    "in_error",
    "is_idle",
    "lock_statement",
    "timeout_ms",
    "tx_status",
]

SAVEPOINT = "slotcap_locked"

#: Replace this thread's lost connection with a new one (the store's connection source,
#: when it owns its connections); None where the connection is the application's.
Heal = Callable[[SqlConnection], SqlConnection]


def _healable(exc: BaseException, heal: Heal | None) -> bool:
    return heal is not None and isinstance(exc, Exception) and is_connection_lost(exc)


def _run(sc: SqlConnection, sql: str, params: Params, fresh: bool, what: str) -> list[Row]:
    """One statement; a lost connection leaves as ``StoreUnavailable`` whichever path
    ran it (a store call, the catalogue read of a schema re-check)."""
    try:
        return sc.run(sql, params, prepare=False if fresh else None)
    except Exception as exc:
        if is_connection_lost(exc):
            raise connection_lost(exc, what) from None
        raise


def timeout_ms(cap: float, deadline: float) -> int:
    """This attempt's lock wait: the cap, or what is left of the budget (≥ 1 ms)."""
    return max(1, round(1000 * min(cap, deadline - time.monotonic())))


def tx_status(conn: psycopg.Connection[Any]) -> str:
    """IDLE, INTRANS, INERROR, ACTIVE or UNKNOWN (a broken connection)."""
    from psycopg import pq  # loaded: ``conn`` is a psycopg connection

    return str(pq.TransactionStatus(conn.pgconn.transaction_status).name)


def is_idle(conn: psycopg.Connection[Any]) -> bool:
    # libpq's status straight from the PGconn (``conn.info`` is a new object per access).
    return bool(conn.pgconn.transaction_status == PG_TRANS_IDLE)


def in_error(conn: psycopg.Connection[Any]) -> bool:
    return bool(conn.pgconn.transaction_status == PG_TRANS_INERROR)


class StatementSession:
    """Outside a booking: each statement stands alone. On an autocommit connection it
    commits by itself; on another, the transaction psycopg opened is ended here.

    These are reads: a statement that finds the connection lost (the server restarted
    or failed over while this thread was idle) is run once more on a new connection
    (``heal``), so a thread's dead connection costs its next caller nothing."""

    def __init__(self, sc: SqlConnection, heal: Heal | None = None) -> None:
        self._sc = sc
        self._conn: psycopg.Connection[Any] = sc.raw
        conn = self._conn
        # Inside the caller's own transaction (a store call nested in a booking on the
        # same thread, or an application transaction): never end it here, nor heal.
        self._owns_transaction = is_idle(conn)
        self._heal = heal if self._owns_transaction else None
        #: The connection where each statement stands alone (none of the caller's
        #: transaction is open on it): what the lean check (:mod:`.wire`) may run on.
        self.alone: SqlConnection | None = sc if self._owns_transaction else None

    def execute(self, sql: str, params: Params, *, fresh: bool = False) -> list[Row]:
        try:
            rows = self._sc.run(sql, params, prepare=False if fresh else None)
        except Exception as exc:
            if not _healable(exc, self._heal):
                if is_connection_lost(exc):
                    raise connection_lost(exc, "read") from None
                raise
            assert self._heal is not None  # noqa: S101 (narrowing: _healable checked it)
            self._sc, self._heal = self._heal(self._sc), None  # once per session
            self._conn = self._sc.raw
            self.alone = self._sc
            rows = _run(self._sc, sql, params, fresh, "read")
        if self._owns_transaction and not is_idle(self._conn):
            self._conn.commit()
        return rows

    def recover(self) -> bool:
        if not in_error(self._conn):
            return True
        if not self._owns_transaction:
            return False
        self._conn.rollback()
        return True

    def mark_written(self) -> None:
        """Each statement commits by itself: nothing to track."""

    def finish_after_error(self) -> None:
        if (self._owns_transaction and not self._conn.broken
                and tx_status(self._conn) in ("INTRANS", "INERROR")):
            self._conn.rollback()


class StatementScope:
    """The store's ``_session()``: a borrowed connection with a
    :class:`StatementSession`; after an error, the transaction the session opened is
    ended before the connection goes back. A plain context manager, not a generator
    one: it runs once per check."""

    __slots__ = ("_heal", "_lent", "_session")

    def __init__(
        self, lent: contextlib.AbstractContextManager[SqlConnection], heal: Heal | None = None
    ) -> None:
        self._lent = lent
        self._heal = heal

    def __enter__(self) -> StatementSession:
        sc = self._lent.__enter__()
        try:
            self._session = StatementSession(sc, self._heal)
        except BaseException as exc:
            self._lent.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self._session

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> bool | None:
        if kind is not None:
            try:
                self._session.finish_after_error()
            except BaseException as error:
                self._lent.__exit__(type(error), error, error.__traceback__)
                raise
        return self._lent.__exit__(kind, exc, tb)


class BookingSession:
    """Inside the locked transaction. A savepoint taken right after the locks lets a
    statement that failed because the schema changed be retried without giving the
    locks up — unless the booking already inserted, which a retry must not undo."""

    def __init__(self, sc: SqlConnection) -> None:
        self._sc = sc
        self._conn: psycopg.Connection[Any] = sc.raw
        self.written = False

    def execute(self, sql: str, params: Params, *, fresh: bool = False) -> list[Row]:
        try:
            return self._sc.run(sql, params, prepare=False if fresh else None)
        except Exception as exc:
            if is_connection_lost(exc):
                # Before COMMIT: the server rolls the transaction back; nothing written.
                raise connection_lost(exc, "booking") from None
            if not is_postgres_busy(exc):
                raise
            # The transaction's lock_timeout also bounds waits inside the booking (the
            # insert's foreign-key check on a service row someone is editing, or a read
            # queued behind a migration's lock request); the caller retries the booking.
            raise from_postgres(exc, "booking") from None

    def finish_after_error(self) -> None:
        """End the transaction after the booking's body raised."""
        if self._conn.broken:
            return  # the server has rolled back whatever this transaction did
        status = tx_status(self._conn)
        if status == "INTRANS" and not self.written:
            # Nothing written: COMMIT equals ROLLBACK here, and unlike ROLLBACK it keeps
            # psycopg's prepared statements (it discards them all on a rollback).
            self._conn.commit()
        elif status in ("INTRANS", "INERROR"):
            self._conn.rollback()
        # ACTIVE/UNKNOWN: the connection is broken; the server has rolled back.

    def recover(self) -> bool:
        if self.written:
            return False
        self._conn.execute(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}")
        return True

    def mark_written(self) -> None:
        self.written = True


class WriteSession:
    """A write outside a booking: its own transaction with ``SET LOCAL lock_timeout``
    (this attempt's share of the budget), committed at once. Inside the caller's own
    transaction the statement simply runs there (its settings are the caller's).

    A connection found lost before COMMIT was sent wrote nothing: the transaction is
    run once more on a new connection (``heal``). Lost while committing, the outcome is
    unknown: ``StoreUnavailable`` saying so, never a blind retry."""

    def __init__(
        self, sc: SqlConnection, cap: float, deadline: float, heal: Heal | None = None
    ) -> None:
        self._sc = sc
        self._conn: psycopg.Connection[Any] = sc.raw
        conn = self._conn
        self._cap = cap
        self._deadline = deadline
        self._owns_transaction = is_idle(conn)
        self._heal = heal if self._owns_transaction else None

    def execute(self, sql: str, params: Params, *, fresh: bool = False) -> list[Row]:
        if not self._owns_transaction:
            return _run(self._sc, sql, params, fresh, "write")
        while True:
            conn = self._conn
            # An integer of milliseconds: the only text composed into this statement.
            setting = f"SET LOCAL lock_timeout = '{timeout_ms(self._cap, self._deadline)}ms'"
            try:
                conn.execute(f"BEGIN; {setting}" if conn.autocommit else setting,
                             prepare=False)
                rows = self._sc.run(sql, params, prepare=False if fresh else None)
            except BaseException as exc:
                if _healable(exc, self._heal):
                    assert self._heal is not None  # noqa: S101 (narrowing)
                    self._sc, self._heal = self._heal(self._sc), None  # once
                    self._conn = self._sc.raw
                    continue
                if not conn.broken and tx_status(conn) in ("INTRANS", "INERROR"):
                    conn.rollback()
                if isinstance(exc, Exception) and (is_postgres_busy(exc)
                                                   or is_connection_lost(exc)):
                    raise from_postgres(exc, "write") from None
                raise
            try:
                conn.commit()
            except Exception as exc:
                if is_connection_lost(exc):
                    raise StoreUnavailable(
                        "write: the connection to the database was lost while committing; "
                        "the change may or may not have been saved: read it back before "
                        "retrying"
                    ) from None
                raise
            return rows

    def recover(self) -> bool:
        return self._owns_transaction or not in_error(self._conn)

    def mark_written(self) -> None:
        """Each statement commits by itself: nothing to track."""


@functools.lru_cache(maxsize=8)  # one text per count: its hash, and the wire's cache
def lock_statement(count: int) -> str:
    # One round trip: the transaction-local lock_timeout first, then each lock in the
    # given order (PostgreSQL evaluates a target list left to right).
    locks = ", ".join(["pg_advisory_xact_lock(%s::bigint)"] * count)
    return f"SELECT set_config('lock_timeout', %s, true), {locks}"
