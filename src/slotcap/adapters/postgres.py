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
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from slotcap.adapters.sql.base import SqlStore
from slotcap.adapters.sql.connections import (
    ConnectionSource,
    SharedConnection,
    ThreadLocalConnections,
)
from slotcap.adapters.sql.pg_session import (
    SAVEPOINT,
    BookingSession,
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
from slotcap.errors import ConfigurationError, DatabaseError, SlotcapError, StoreBusy
from slotcap.ports import Clock
from slotcap.sql.connection import SqlConnection
from slotcap.sql.dialect import POSTGRES, Dialect
from slotcap.sql.errors import from_postgres, is_postgres_busy
from slotcap.sql.url import connect_postgres, psycopg_module

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



class ConnectionPoolLike(Protocol):
    """What the store needs of a pool: ``psycopg_pool.ConnectionPool`` fits."""

    def connection(self) -> contextlib.AbstractContextManager[psycopg.Connection[Any]]: ...


def advisory_lock_keys(day: dt.date, service_code: str, periods: Sequence[Period]) -> list[int]:
    """The advisory lock keys of a booking, in the order they are taken: the date's
    periods in ``Period`` order (each once), then the (date, service code)."""
    wanted = {Period(p) for p in periods}
    names = [f"slotcap:period:{day.isoformat()}:{p.value}" for p in Period if p in wanted]
    names.append(f"slotcap:service:{day.isoformat()}:{service_code}")
    return [_key(name) for name in names]


def _key(name: str) -> int:
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class _PoolConnections:
    """Borrow a pool's connection for one store call or one booking."""

    def __init__(self, pool: ConnectionPoolLike) -> None:
        self._pool = pool

    @contextlib.contextmanager
    def borrow(self) -> Iterator[SqlConnection]:
        with self._pool.connection() as conn:
            yield SqlConnection(conn, Dialect.POSTGRES)

    def close(self) -> None:
        """The application owns the pool."""


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
    ) -> None:
        if not lock_timeout > 0:
            raise ConfigurationError("lock_timeout must be > 0")
        super().__init__(POSTGRES, busy_budget=busy_budget, clock=clock)
        self._errors = psycopg_module().errors
        self._lock_timeout = lock_timeout
        self._source: ConnectionSource[SqlConnection] = self._source_for(connections)
        self.refresh_schema_state()

    @staticmethod
    def _source_for(connections: Any) -> ConnectionSource[SqlConnection]:
        pg = psycopg_module()
        if isinstance(connections, pg.Connection):
            return SharedConnection(SqlConnection(connections, Dialect.POSTGRES))
        if callable(getattr(connections, "connection", None)):
            return _PoolConnections(connections)
        if callable(connections):
            factory: Callable[[], psycopg.Connection[Any]] = connections

            def connect() -> SqlConnection:
                conn = factory()
                conn.autocommit = True  # ours now: a read is one round trip
                return SqlConnection(conn, Dialect.POSTGRES)

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
    ) -> PostgresStore:
        """A store opening its own connections to ``url`` (one per thread). A failed
        connection raises ``ConfigurationError`` naming the URL without its password.

        Each connection identifies itself in ``pg_stat_activity`` as
        ``application_name`` when given; otherwise as ``slotcap`` unless the URL (or
        ``PGAPPNAME``) already named it.
        """

        def connect() -> psycopg.Connection[Any]:
            conn = connect_postgres(url, autocommit=True)
            _name_session(conn, application_name)
            return conn

        return cls(connect, lock_timeout=lock_timeout, busy_budget=busy_budget, clock=clock)

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
        self._source.close()

    # -- engine hooks --------------------------------------------------------------------

    def _session(self) -> contextlib.AbstractContextManager[Session]:
        return StatementScope(self._source.borrow())

    @contextlib.contextmanager
    def _write_session(self, deadline: float) -> Iterator[Session]:
        with self._source.borrow() as sc:
            yield WriteSession(sc, self._lock_timeout, deadline)

    @contextlib.contextmanager
    def _locked_session(
        self, day: dt.date, service_code: str, periods: Sequence[Period], deadline: float
    ) -> Iterator[Session]:
        keys = advisory_lock_keys(day, service_code, periods)
        with self._source.borrow() as sc:
            conn: psycopg.Connection[Any] = sc.raw
            if not is_idle(conn):
                raise ConfigurationError(
                    "booking() needs a connection outside any transaction: its locks and "
                    "its insert must commit together, on their own"
                )
            self._begin_locked(conn, keys, f"{day.isoformat()} {service_code}", deadline)
            session = BookingSession(sc)
            try:
                yield session
            except BaseException:
                session.finish_after_error()
                raise
            try:
                conn.commit()
            except Exception as exc:
                if tx_status(conn) in ("INTRANS", "INERROR"):
                    conn.rollback()
                raise self._translate(exc, "booking") or exc from None

    def _begin_locked(
        self, conn: psycopg.Connection[Any], keys: list[int], what: str, deadline: float
    ) -> None:
        """BEGIN, take the locks in order, set the recovery savepoint; retry lock waits,
        deadlocks and serialization failures (jittered) until ``deadline``."""
        statement = lock_statement(len(keys))
        attempt = 0
        started = time.monotonic()
        while True:
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
                return
            except BaseException as exc:
                if tx_status(conn) in ("INTRANS", "INERROR"):
                    conn.rollback()
                if not (isinstance(exc, Exception) and is_postgres_busy(exc)):
                    raise
            attempt += 1
            if not backoff(deadline, attempt):
                raise StoreBusy(
                    f"could not lock {what} within {time.monotonic() - started:.2f}s "
                    f"({attempt} attempts, busy_budget {self.busy_budget:g}s)"
                )

    def _is_schema_change(self, exc: Exception) -> bool:
        e = self._errors
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


def _name_session(conn: psycopg.Connection[Any], name: str | None) -> None:
    """Set ``application_name`` on a connection slotcap opened: ``name`` if given,
    else ``slotcap`` unless the URL or the environment already chose one."""
    if name is None:
        if conn.info.parameter_status("application_name"):
            return
        name = DEFAULT_APPLICATION_NAME
    conn.execute("SELECT set_config('application_name', %s, false)", [name])
