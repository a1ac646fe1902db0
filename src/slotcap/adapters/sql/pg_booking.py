"""The PostgreSQL booking session: BEGIN and the locks go with the booking's first
statement, so that a booking decided by one statement (:mod:`.one_trip`) crosses the
network once — BEGIN, the locks, the deciding statement and COMMIT in one pipeline.

The locks are taken by the statement *before* the deciding one: READ COMMITTED takes a
statement's snapshot when the statement starts, so the deciding statement sees every
row committed by the locks' previous holder. Any other statement first opens the
careful transaction (BEGIN, locks, savepoint: :meth:`PostgresStore._begin_locked`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from slotcap.adapters.sql.pg_session import (
    BookingSession,
    Heal,
    StatementSession,
    in_error,
    lock_statement,
    timeout_ms,
    tx_status,
)
from slotcap.adapters.sql.store import Params, Row, Session
from slotcap.backoff import backoff
from slotcap.errors import BookingOutcomeUnknown, StoreBusy
from slotcap.sql.connection import SqlConnection
from slotcap.sql.errors import is_connection_lost, is_postgres_busy

if TYPE_CHECKING:
    import psycopg

    from slotcap.adapters.postgres import PostgresStore

__all__ = ["LazyBookingSession"]

_LOST = ("booking: the connection to the database was lost after COMMIT was sent; the "
         "booking may or may not have been saved (retry with the same Idempotency-Key, "
         "or look it up, before booking again)")


class LazyBookingSession:
    """A :class:`~.store.Session` whose transaction starts with its first statement."""

    def __init__(self, store: PostgresStore, sc: SqlConnection, keys: list[int], what: str,
                 deadline: float) -> None:
        self._store = store
        self._sc = sc
        self._keys = keys
        self._what = what
        self._deadline = deadline
        self.inner: BookingSession | None = None

    @property
    def connection(self) -> SqlConnection:
        return self._sc

    def begin(self) -> None:
        """BEGIN and the locks now (``store.booking()``: the scope holds its locks)."""
        self._begun()

    def _begun(self) -> BookingSession:
        if self.inner is None:
            self._sc = self._store._begin_locked(self._sc, self._keys, self._what,
                                                 self._deadline)
            self.inner = BookingSession(self._sc)
        return self.inner

    def execute(self, sql: str, params: Any, *, fresh: bool = False) -> list[Row]:
        return self._begun().execute(sql, params, fresh=fresh)

    def recover(self) -> bool:
        return True if self.inner is None else self.inner.recover()

    def mark_written(self) -> None:
        self._begun().mark_written()

    def _nothing_ran(self, heal: Heal, pid: int, params: Params) -> bool:
        """After the connection was lost during the pipeline: replace it, and tell
        whether the pipeline certainly wrote nothing — its server session has ended (so
        nothing of it can still commit) and the row it would have inserted is absent.
        A server out of reach: False (the outcome stays unknown)."""
        try:
            self._sc = heal(self._sc)
            rows = self._sc.run(
                'SELECT (SELECT COUNT(*) FROM "reservations" WHERE "id" = %(id)s), '
                "(SELECT COUNT(*) FROM pg_stat_activity WHERE pid = %(pid)s)",
                {"id": params["id"], "pid": pid}, prepare=False)
        except Exception:  # any failure: the outcome stays unknown
            return False
        return bool(rows) and rows[0][0] == 0 and rows[0][1] == 0

    def finish(self) -> None:
        """COMMIT the careful transaction, if one began (a one-trip pipeline has
        committed already)."""
        if self.inner is None:
            return
        conn: psycopg.Connection[Any] = self._sc.raw
        if in_error(conn):
            # A statement failed and someone swallowed the error: PostgreSQL would answer
            # COMMIT with a silent ROLLBACK, and the booking would be reported yet lost.
            conn.rollback()
            raise StoreBusy("booking: a statement failed inside the booking's transaction "
                            "and it was rolled back; nothing was written, retry")
        try:
            conn.commit()
        except Exception as exc:
            if is_connection_lost(exc):
                raise BookingOutcomeUnknown(_LOST) from None
            if tx_status(conn) in ("INTRANS", "INERROR"):
                conn.rollback()
            raise self._store._translate(exc, "booking") or exc from None

    def in_error(self) -> bool:
        """Whether the booking's transaction has begun and a statement failed in it
        (PostgreSQL then refuses every statement until ROLLBACK)."""
        return self.inner is not None and in_error(self._sc.raw)

    def outside(self) -> Session | None:
        """A session on the same connection outside any transaction (the catalogue
        snapshot's reads), or None once the booking's transaction has begun."""
        return StatementSession(self._sc) if self.inner is None else None

    def write_alone(self, steps: Sequence[tuple[str, Params]]) -> None:
        """``steps`` in their own short transaction, sent as one pipeline — BEGIN, this
        attempt's lock_timeout, the steps, COMMIT — on the scope's connection, outside
        the booking's (used after a one-trip booking has committed: its shadow
        mismatch record). A lock wait that runs out: ``StoreBusy``, nothing written; a
        connection lost: ``StoreUnavailable`` (the write's outcome unknown)."""
        from slotcap.adapters.sql.wire_booking import run_pipeline

        if self.inner is not None:
            raise RuntimeError("write_alone: the booking's transaction is open")
        conn: psycopg.Connection[Any] = self._sc.raw
        store = self._store
        # Its own budget, as a write session's: the booking's may be nearly spent.
        timeout = f"{timeout_ms(store._lock_timeout, time.monotonic() + store.busy_budget)}ms"
        try:
            run_pipeline(conn, [
                ("BEGIN ISOLATION LEVEL READ COMMITTED", None),
                ("SELECT set_config('lock_timeout', %s, true)", [timeout]),
                *steps,
                ("COMMIT", None),
            ], prepare=conn.prepare_threshold is not None, rows_of=-1)
        except Exception as exc:
            if not conn.closed and tx_status(conn) in ("INTRANS", "INERROR"):
                conn.rollback()
            if store._is_schema_change(exc):  # a pooler met included
                from slotcap.adapters.sql.wire_booking import forget_prepared

                forget_prepared(conn)
            mapped = store._translate(exc, "write")
            raise (mapped or exc) from None

    def one_trip(self, sql: str, params: Params, inserted: Callable[[list[Row]], bool]
                 ) -> list[Row] | None:
        """Run the deciding statement: inside the transaction if it has begun (the
        caller's careful reads came first), else as BEGIN, locks, ``sql``, COMMIT in one
        pipeline, retrying lock waits until the deadline. None: the schema moved under
        it (the store has re-read it; take the careful path)."""
        if self.inner is not None:
            rows = self.inner.execute(sql, params)
            if inserted(rows):
                self.inner.mark_written()
            return rows
        from slotcap.adapters.sql.wire_booking import forget_prepared, run_pipeline

        store, attempt, started = self._store, 0, time.monotonic()
        lock = lock_statement(len(self._keys))
        heal = store._heal
        while True:
            conn: psycopg.Connection[Any] = self._sc.raw
            pid = conn.pgconn.backend_pid
            timeout = f"{timeout_ms(store._lock_timeout, self._deadline)}ms"
            try:
                # The lock before the deciding statement, each its own statement (its
                # own snapshot); the server skips everything after a failure up to the
                # pipeline's end, COMMIT included.
                return run_pipeline(conn, [
                    ("BEGIN ISOLATION LEVEL READ COMMITTED", None),
                    (lock, [timeout, *self._keys]),
                    (sql, params),
                    ("COMMIT", None),
                ], prepare=conn.prepare_threshold is not None, rows_of=2)[2] or []
            except Exception as exc:
                if is_connection_lost(exc):
                    if heal is None or not self._nothing_ran(heal, pid, params):
                        raise BookingOutcomeUnknown(_LOST) from None
                    heal = None  # replaced once per booking, as the careful path does
                    continue
                if tx_status(conn) in ("INTRANS", "INERROR"):
                    conn.rollback()
                # A pooler met: again unprepared, like a busy attempt within the deadline.
                pooler = store._pooler_met(exc)
                schema = not pooler and store._is_schema_change(exc)
                if pooler or schema:
                    forget_prepared(conn)  # prepared again (or not at all) next time
                if schema:
                    store._reload(StatementSession(self._sc))
                    return None
                if not pooler and not is_postgres_busy(exc):
                    mapped = store._translate(exc, "booking")
                    raise (mapped or exc) from None
            attempt += 1
            if not backoff(self._deadline, attempt):
                raise StoreBusy(
                    f"could not lock {self._what} within {time.monotonic() - started:.2f}s "
                    f"({attempt} attempts, busy_budget {store.busy_budget:g}s)")
