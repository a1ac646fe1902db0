"""The PostgreSQL store (psycopg 3).

Race-free booking. READ COMMITTED check-then-insert overbooks under concurrency (two
transactions both read the last free minutes, both insert). A booking therefore runs in
one READ COMMITTED transaction that first takes transaction-scoped advisory locks, in
one fixed order: each requested period of the date in ``Period`` order, then the
(date, service code). Every booking — the legacy count rule and the dynamic minutes
rule alike — takes the same keys, so whoever holds them sees every row committed by the
previous holder (READ COMMITTED takes a fresh snapshot per statement, and the facts are
read after the lock is granted). One fixed order means no deadlock. Each attempt waits
at most ``lock_timeout`` (0.5 s); a lock wait, deadlock or serialization failure is
retried with jittered backoff until ``busy_budget`` (2 s) is spent; then
:class:`StoreBusy`. Every write outside a booking runs in its own short transaction
with ``SET LOCAL lock_timeout`` and the same retries, so no write can wait forever.

Keys are stable signed 64-bit integers: ``blake2b("slotcap:period:2025-12-01:MORNING")``
(see :func:`advisory_lock_keys`), so another process — or a DBA in psql — can take the
very same lock.

Connections. psycopg sends Python ``str`` parameters untyped, so PostgreSQL casts them
to the column's enum (``"ServiceType"``, ``"Period"``, …) by itself. Rows are read with
a tuple row factory whatever the connection's own factory is.

Behind a transaction pooler (PgBouncer ``pool_mode=transaction``; ``pooled=True`` or
``?pgbouncer=true`` in the URL) consecutive transactions of one client connection may
run on different server connections, so the store keeps nothing in the session: no
server-side prepared statements (``prepare_threshold=None``), ``application_name``
sent at connection start (PgBouncer tracks it), every setting ``SET LOCAL`` /
``set_config(…, true)`` inside a transaction, and the booking's pipeline starts with
its ``BEGIN`` (the pooler keeps a server connection for a client from ``BEGIN`` to
``COMMIT``). A pooler the URL does not mention shows itself when a prepared statement
is missing or doubled on the server connection: the store then stops preparing on
that connection and runs the statement again, unprepared.

Faults. A connection lost, refused or reset is :class:`StoreUnavailable` (HTTP 503),
never a raw driver error. The store replaces a lost connection of its own (one per
thread) with a new one and runs again what certainly did not commit: a read, a write
whose ``COMMIT`` was not sent, a booking's ``BEGIN`` and locks. A booking whose
connection was lost after ``COMMIT`` was sent raises :class:`BookingOutcomeUnknown`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from slotcap.adapters.sql.base import SqlStore
from slotcap.adapters.sql.connections import (
    ConnectionSource,
    SharedConnection,
    ThreadLocalConnections,
)
from slotcap.adapters.sql.pg_booking import LazyBookingSession
from slotcap.adapters.sql.pg_pool import ConnectionPoolLike, PoolConnections
from slotcap.adapters.sql.pg_session import (
    SAVEPOINT,
    Heal,
    StatementScope,
    WriteSession,
    is_idle,
    lock_statement,
    timeout_ms,
    tx_status,
)
from slotcap.adapters.sql.store import DEFAULT_BUSY_BUDGET, Session
from slotcap.backoff import backoff
from slotcap.domain.model import Period
from slotcap.errors import (
    ConfigurationError,
    DatabaseError,
    SlotcapError,
    StoreBusy,
    StoreUnavailable,
)
from slotcap.ports import Clock
from slotcap.sql.connection import SqlConnection
from slotcap.sql.dialect import POSTGRES_RULES, Dialect
from slotcap.sql.errors import from_postgres, is_connection_lost, is_postgres_busy
from slotcap.sql.url import Engine, connect_postgres, parse_url, psycopg_module

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "DEFAULT_APPLICATION_NAME",
    "DEFAULT_BUSY_BUDGET",
    "DEFAULT_LOCK_TIMEOUT",
    "ConnectionPoolLike",
    "PostgresStore",
    "advisory_lock_keys",
]

#: Longest single lock wait of one attempt, seconds (pgroll's cap; the attempts of one
#: operation share ``busy_budget``).
DEFAULT_LOCK_TIMEOUT = 0.5
#: What ``PostgresStore.open`` connections show as ``application_name`` in
#: ``pg_stat_activity``, so operators can tell the app's sessions from a migration's.
DEFAULT_APPLICATION_NAME = "slotcap"
#: invalid_sql_statement_name, duplicate_prepared_statement: a prepared statement
#: missing or doubled on the server connection — a transaction pooler in between.
_POOLER_SQLSTATES = frozenset({"26000", "42P05"})
_LOG = logging.getLogger("slotcap.store")


def advisory_lock_keys(day: dt.date, service_code: str, periods: Sequence[Period]) -> list[int]:
    """The advisory lock keys of a booking, in the order they are taken: the date's
    periods in ``Period`` order (each once), then the (date, service code)."""
    return list(_lock_keys(day, service_code, tuple(periods)))


@functools.lru_cache(maxsize=4096)  # a pure function of its arguments; bookings repeat them
def _lock_keys(day: dt.date, service_code: str, periods: tuple[Period, ...]) -> tuple[int, ...]:
    wanted = {Period(p) for p in periods}
    names = [f"slotcap:period:{day.isoformat()}:{p.value}" for p in Period if p in wanted]
    names.append(f"slotcap:service:{day.isoformat()}:{service_code}")
    return tuple(_key(name) for name in names)


@functools.lru_cache(maxsize=4096)  # a booking's names repeat; blake2b per call adds up
def _key(name: str) -> int:
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresStore(SqlStore):
    """A :class:`slotcap.ports.Store` on PostgreSQL.

    ``PostgresStore(connections)`` accepts, for ``connections``:

    * a zero-argument callable returning a ``psycopg.Connection`` — the store opens one
      connection per thread with it, switches it to autocommit, and closes it on
      :meth:`close` (``PostgresStore.open(url)`` does this with the URL);
    * a pool with a ``connection()`` context manager, e.g. ``psycopg_pool.ConnectionPool``
      (not a dependency) — one connection is borrowed per store call or booking;
    * one ``psycopg.Connection`` the application owns — shared by all threads, one
      store call or booking at a time (also ``PostgresStore.from_connection(conn)``).

    Autocommit connections are best (a read is then one round trip); others work, the
    store ending the transactions it starts. ``lock_timeout`` (seconds, longest single
    lock wait) and ``busy_budget`` (seconds, all attempts of one booking or write) bound
    how long an operation waits for locks before ``StoreBusy``.
    """

    def __init__(
        self,
        connections: Callable[[], psycopg.Connection[Any]]
        | ConnectionPoolLike
        | psycopg.Connection[Any],
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        busy_budget: float = DEFAULT_BUSY_BUDGET,
        clock: Clock | None = None,
        pooled: bool = False,
    ) -> None:
        if not lock_timeout > 0:
            raise ConfigurationError("lock_timeout must be > 0")
        super().__init__(POSTGRES_RULES, busy_budget=busy_budget, clock=clock)
        self._errors = psycopg_module().errors
        self._lock_timeout = lock_timeout
        #: Behind a transaction pooler: no session state (see the module's docstring).
        self.pooled = pooled
        self._source: ConnectionSource[SqlConnection] = self._source_for(connections)
        #: Where a lost connection is replaced: only connections the store owns.
        self._heal: Heal | None = None
        if isinstance(self._source, ThreadLocalConnections):
            self._heal = self._source.replace
            # Lean reads (.wire) run unborrowed on the thread's own connection.
            self._reads.held = self._source.held
        self.refresh_schema_state()

    def _source_for(self, connections: Any) -> ConnectionSource[SqlConnection]:
        pg = psycopg_module()
        if isinstance(connections, pg.Connection):
            self._unprepared(connections)
            return SharedConnection(
                SqlConnection(connections, Dialect.POSTGRES, pooled=self.pooled)
            )
        if callable(getattr(connections, "connection", None)):
            return PoolConnections(connections, lambda: self.pooled)
        if callable(connections):
            factory: Callable[[], psycopg.Connection[Any]] = connections

            def connect() -> SqlConnection:
                conn = factory()
                conn.autocommit = True  # ours now: a read is one round trip
                self._unprepared(conn)
                return SqlConnection(conn, Dialect.POSTGRES, pooled=self.pooled)

            return ThreadLocalConnections(
                connect, lambda c: not (c.raw.closed or c.raw.broken)
            )
        raise ConfigurationError(
            "PostgresStore needs a connection factory, a pool with .connection(), "
            f"or a psycopg.Connection, not {type(connections).__name__}"
        )

    @classmethod
    def open(
        cls,
        url: str,
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        busy_budget: float = DEFAULT_BUSY_BUDGET,
        application_name: str | None = None,
        clock: Clock | None = None,
        pooled: bool = False,
    ) -> PostgresStore:
        """A store opening its own connections to ``url`` (a libpq URL: one per
        thread). A failed first connection raises ``ConfigurationError`` naming the URL
        without its password; once open, a connection that cannot be made is
        ``StoreUnavailable``. ``pooled``: ``url`` goes through a transaction pooler.

        Each connection identifies itself in ``pg_stat_activity`` as
        ``application_name`` when given; otherwise as ``slotcap`` unless the URL (or
        ``PGAPPNAME``) already named it. The name is sent when the connection starts
        (libpq's ``fallback_application_name``), not set on the session afterwards,
        so a pooler passes it on and no round trip is spent on it.
        """
        parsed = parse_url(url)  # also a URL marked ?pgbouncer=true (libpq refuses the mark)
        if parsed.engine is not Engine.POSTGRES:
            raise ConfigurationError(f"{parsed} is not a PostgreSQL URL")
        url, pooled = parsed.target, pooled or parsed.pooled
        naming = ({"application_name": application_name} if application_name is not None
                  else {"fallback_application_name": DEFAULT_APPLICATION_NAME})
        extra: dict[str, Any] = {"prepare_threshold": None} if pooled else {}

        def connect() -> psycopg.Connection[Any]:
            return connect_postgres(url, autocommit=True, **naming, **extra)

        try:
            return cls(connect, lock_timeout=lock_timeout, busy_budget=busy_budget,
                       clock=clock, pooled=pooled)
        except StoreUnavailable as exc:
            # At start a database out of reach is the operator's to fix: the same
            # ConfigurationError as a wrong password (the CLI's exit 2).
            raise ConfigurationError(exc.message) from None

    @classmethod
    def from_connection(
        cls,
        conn: psycopg.Connection[Any],
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        busy_budget: float = DEFAULT_BUSY_BUDGET,
        clock: Clock | None = None,
    ) -> PostgresStore:
        """A store on one connection the application owns (not closed by :meth:`close`)."""
        return cls(conn, lock_timeout=lock_timeout, busy_budget=busy_budget, clock=clock)

    def close(self) -> None:
        self._close_shadow()  # the waiting shadow counts, while the connections are open
        self._source.close()

    # -- engine hooks --------------------------------------------------------------------

    def _session(self) -> contextlib.AbstractContextManager[Session]:
        return StatementScope(self._source.borrow(), self._heal)

    @contextlib.contextmanager
    def _write_session(self, deadline: float) -> Iterator[Session]:
        with self._source.borrow() as sc:
            yield WriteSession(sc, self._lock_timeout, deadline, self._heal)

    def _deferred_session(
        self, day: dt.date, service_code: str, periods: Sequence[Period], deadline: float
    ) -> contextlib.AbstractContextManager[Session]:
        return self._locked_session(day, service_code, periods, deadline, deferred=True)

    @contextlib.contextmanager
    def _locked_session(
        self, day: dt.date, service_code: str, periods: Sequence[Period], deadline: float,
        deferred: bool = False,
    ) -> Iterator[Session]:
        keys = advisory_lock_keys(day, service_code, periods)
        with self._source.borrow() as lent:
            if lent.raw.closed or lent.raw.broken:  # the application's own, lost
                raise StoreUnavailable("booking: the connection to the database was lost; "
                                       "nothing was written, retry shortly")
            if not is_idle(lent.raw):
                raise ConfigurationError(
                    "booking() needs a connection outside any transaction: its locks and "
                    "its insert must commit together, on their own"
                )
            # BEGIN and the locks go with the booking's first statement (one pipeline
            # with a deciding statement and its COMMIT: adapters/sql/pg_booking.py).
            session = LazyBookingSession(self, lent, keys, f"{day.isoformat()} {service_code}",
                                         deadline)
            if not deferred:
                session.begin()
            try:
                yield session
            except BaseException:
                if session.inner is not None:
                    session.inner.finish_after_error()
                raise
            session.finish()

    def _begin_locked(
        self, sc: SqlConnection, keys: list[int], what: str, deadline: float
    ) -> SqlConnection:
        """BEGIN, take the locks in order, set the recovery savepoint; retry lock waits,
        deadlocks and serialization failures (jittered) until ``deadline``. A
        connection found lost is replaced once (nothing was written on it: no COMMIT
        was sent); the connection the transaction runs on is returned."""
        statement = lock_statement(len(keys))
        attempt = 0
        started = time.monotonic()
        heal = self._heal
        while True:
            conn: psycopg.Connection[Any] = sc.raw
            timeout = f"{timeout_ms(self._lock_timeout, deadline)}ms"
            try:
                # One round trip for the three statements (a pipeline: sent together,
                # one sync), not three: the server still runs them in order, so the
                # savepoint is taken only once the locks are granted, and the first
                # error (a lock wait running out) is raised here as before.
                with conn.pipeline():
                    # READ COMMITTED explicitly: under REPEATABLE READ the snapshot would
                    # be taken before the lock is granted and miss the previous
                    # holder's insert.
                    if conn.autocommit:
                        conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
                    else:
                        conn.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    conn.execute(statement, [timeout, *keys])
                    conn.execute(f"SAVEPOINT {SAVEPOINT}")
                return sc
            except BaseException as exc:
                if not isinstance(exc, Exception):
                    raise
                if is_connection_lost(exc):
                    if heal is None:
                        raise from_postgres(exc, "booking") from None
                    sc, heal = heal(sc), None  # once per booking
                    continue
                if tx_status(conn) in ("INTRANS", "INERROR"):
                    conn.rollback()
                # A pooler met: again unprepared, like a busy attempt within the deadline.
                if not self._pooler_met(exc) and not is_postgres_busy(exc):
                    raise
            attempt += 1
            if not backoff(deadline, attempt):
                raise StoreBusy(
                    f"could not lock {what} within {time.monotonic() - started:.2f}s "
                    f"({attempt} attempts, busy_budget {self.busy_budget:g}s)"
                )

    def _unprepared(self, conn: psycopg.Connection[Any]) -> None:
        if self.pooled:
            conn.prepare_threshold = None

    def _pooler_met(self, exc: Exception) -> bool:
        """A prepared statement missing or doubled: a transaction pooler the URL did not
        mention. From now on every connection of the store prepares nothing."""
        if getattr(exc, "sqlstate", None) not in _POOLER_SQLSTATES:
            return False
        if not self.pooled:
            self.pooled = True
            _LOG.warning("prepared statements are lost between transactions: the database "
                         "URL goes through a transaction pooler; add ?pgbouncer=true to it")
        for sc in self._source.opened():
            sc.raw.prepare_threshold = None
        return True

    def _is_schema_change(self, exc: Exception) -> bool:
        e = self._errors
        if self._pooler_met(exc):
            return True  # re-run unprepared (the retry asks for it)
        if isinstance(exc, e.InternalError_):
            # "cache lookup failed for type …": a prepared statement's parameter was
            # typed with an enum a phase has dropped since (phase 4's "ServiceType").
            # The check's common-case statement reads no legacy column, so the insert
            # may be the first statement to meet phase 4.
            return "cache lookup failed" in str(exc)
        return isinstance(
            exc,
            e.UndefinedColumn
            | e.UndefinedTable
            | e.UndefinedObject
            | e.NotNullViolation
            | e.CheckViolation
            # "cached plan must not change result type": a prepared plan outlived a DDL.
            | e.FeatureNotSupported,
        )

    def _translate(self, exc: Exception, what: str) -> SlotcapError | None:
        if isinstance(exc, self._errors.Error):
            return from_postgres(exc, what)
        return None

    def _is_duplicate(self, exc: DatabaseError) -> bool:
        return exc.sqlstate == "23505"  # unique_violation
