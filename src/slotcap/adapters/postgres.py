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
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from slotcap.adapters._errors import from_postgres, is_postgres_busy
from slotcap.adapters._sql import (
    DEFAULT_BUSY_BUDGET,
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
    pyformat,
)
from slotcap.backoff import backoff
from slotcap.dburl import connect_postgres
from slotcap.domain.model import Period
from slotcap.errors import ConfigurationError, DatabaseError, SlotcapError, StoreBusy

if TYPE_CHECKING:
    import psycopg

# Imported once here, not per statement: the hot path runs ``_rows`` and ``_status``
# several times per check. psycopg stays optional — without it the store refuses to be
# constructed (``_psycopg()``), so these names are never reached.
try:
    from psycopg import pq as _pq
    from psycopg.rows import tuple_row as _tuple_row
except ImportError:  # pragma: no cover (exercised only without the postgres extra)
    pass
else:
    _TUPLES_OK = _pq.ExecStatus.TUPLES_OK
    _IDLE = _pq.TransactionStatus.IDLE
    _INERROR = _pq.TransactionStatus.INERROR

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
_SAVEPOINT = "slotcap_locked"


def _timeout_ms(cap: float, deadline: float) -> int:
    """This attempt's lock wait: the cap, or what is left of the budget (≥ 1 ms)."""
    return max(1, round(1000 * min(cap, deadline - time.monotonic())))


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


class _PgFlavor(Flavor):
    def sql(self, text: str) -> str:
        return pyformat(text)

    def as_text(self, expr: str) -> str:
        return f"{expr}::text"

    def day_of_week(self, date_expr: str) -> str:
        # EXTRACT(DOW) counts 0 = Sunday, the clinic's dayOfWeek.
        return f"EXTRACT(DOW FROM {date_expr})::int"

    def days_cte(self) -> str:
        return (
            'days AS (SELECT g::date AS "day" FROM generate_series('
            "CAST(:first_day AS date), CAST(:last_day AS date), interval '1 day') AS g)"
        )

    def date_in(self, value: dt.date) -> Any:
        return value

    def date_out(self, value: Any) -> dt.date:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        return dt.date.fromisoformat(str(value)[:10])

    def timestamp_in(self, value: dt.datetime) -> Any:
        # TIMESTAMP(3) without zone holds UTC (Prisma's convention).
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value

    def timestamp_out(self, value: Any) -> dt.datetime | None:
        if value is None or isinstance(value, dt.datetime):
            return value
        return dt.datetime.fromisoformat(str(value))

    def birth_date_in(self, value: dt.date) -> Any:
        return dt.datetime.combine(value, dt.time())

    def bool_in(self, value: bool) -> Any:
        return value


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ConfigurationError(
            "PostgreSQL support needs psycopg 3: pip install 'slotcap[postgres]'"
        ) from None
    return psycopg


#: Per thread: id(connection) -> (connection, cursor); see _cursor().
_CURSORS = threading.local()
#: Connections one thread keeps a cursor for (an application with a few stores or a
#: pool uses a few); past this the map starts again, so nothing accumulates.
_CURSORS_MAX = 8


def _cursor(conn: psycopg.Connection[Any]) -> psycopg.Cursor[Row]:
    """A tuple-row cursor on ``conn``, reused while this thread keeps using ``conn``.

    A new cursor per statement cost ≈ 10 µs of a ≈ 60 µs round trip (measured at 1M
    rows, interleaved). Reuse is safe: a connection serves one thread at a time (every
    connection source guarantees it), every statement's rows are fetched at once, and
    the cursors are per thread, so two threads sharing a connection in turn never share
    a cursor. Keyed by the connection object itself (identity checked), a few per
    thread: one slot thrashed as soon as a thread alternated between two stores.
    """
    cursors: dict[int, tuple[psycopg.Connection[Any], psycopg.Cursor[Row]]] | None = getattr(
        _CURSORS, "by_conn", None
    )
    if cursors is None:
        cursors = _CURSORS.by_conn = {}
    held = cursors.get(id(conn))
    if held is not None and held[0] is conn and not held[1].closed:
        return held[1]
    if len(cursors) >= _CURSORS_MAX:
        cursors.clear()
    cur: psycopg.Cursor[Row] = conn.cursor(row_factory=_tuple_row)
    cursors[id(conn)] = (conn, cur)
    return cur


def _rows(conn: psycopg.Connection[Any], sql: str, params: Any, *, fresh: bool) -> list[Row]:
    cur = _cursor(conn)
    cur.execute(sql, params, prepare=False if fresh else None)
    # Not ``cur.description``: psycopg builds a Column object per result column on
    # every access of it. The result's status says the same thing for free.
    res = cur.pgresult
    return cur.fetchall() if res is not None and res.status == _TUPLES_OK else []


def _status(conn: psycopg.Connection[Any]) -> str:
    """IDLE, INTRANS, INERROR, ACTIVE or UNKNOWN (a broken connection)."""
    return str(_pq.TransactionStatus(conn.pgconn.transaction_status).name)


def _idle(conn: psycopg.Connection[Any]) -> bool:
    # libpq's status straight from the PGconn (``conn.info`` is a new object per access).
    return bool(conn.pgconn.transaction_status == _IDLE)


def _in_error(conn: psycopg.Connection[Any]) -> bool:
    return bool(conn.pgconn.transaction_status == _INERROR)


class _StatementSession:
    """Outside a booking: each statement stands alone. On an autocommit connection it
    commits by itself; on another, the transaction psycopg opened is ended here."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        # Inside the caller's own transaction (a store call nested in a booking on the
        # same thread, or an application transaction): never end it here.
        self._owns_transaction = _idle(conn)

    def execute(self, sql: str, params: Params, *, fresh: bool = False) -> list[Row]:
        rows = _rows(self._conn, sql, params, fresh=fresh)
        if self._owns_transaction and not _idle(self._conn):
            self._conn.commit()
        return rows

    def recover(self) -> bool:
        if not _in_error(self._conn):
            return True
        if not self._owns_transaction:
            return False
        self._conn.rollback()
        return True

    def mark_written(self) -> None:
        """Each statement commits by itself: nothing to track."""

    def finish_after_error(self) -> None:
        if self._owns_transaction and _status(self._conn) in ("INTRANS", "INERROR"):
            self._conn.rollback()


class _StatementScope:
    """The store's ``_session()``: a borrowed connection with a
    :class:`_StatementSession`; after an error, the transaction the session opened is
    ended before the connection goes back. A plain context manager, not a generator
    one: it runs once per check."""

    __slots__ = ("_lent", "_session")

    def __init__(self, lent: contextlib.AbstractContextManager[psycopg.Connection[Any]]) -> None:
        self._lent = lent

    def __enter__(self) -> _StatementSession:
        conn = self._lent.__enter__()
        try:
            self._session = _StatementSession(conn)
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


class _BookingSession:
    """Inside the locked transaction. A savepoint taken right after the locks lets a
    statement that failed because the schema changed be retried without giving the
    locks up — unless the booking already inserted, which a retry must not undo."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self.written = False

    def execute(self, sql: str, params: Params, *, fresh: bool = False) -> list[Row]:
        try:
            return _rows(self._conn, sql, params, fresh=fresh)
        except Exception as exc:
            if not is_postgres_busy(exc):
                raise
            # The transaction's lock_timeout also bounds waits inside the booking (the
            # insert's foreign-key check on a service row someone is editing, or a read
            # queued behind a migration's lock request); the caller retries the booking.
            raise from_postgres(exc, "booking") from None

    def finish_after_error(self) -> None:
        """End the transaction after the booking's body raised."""
        status = _status(self._conn)
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
        self._conn.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        return True

    def mark_written(self) -> None:
        self.written = True


class _WriteSession:
    """A write outside a booking: its own transaction with ``SET LOCAL lock_timeout``
    (this attempt's share of the budget), committed at once. Inside the caller's own
    transaction the statement simply runs there (its settings are the caller's)."""

    def __init__(self, conn: psycopg.Connection[Any], cap: float, deadline: float) -> None:
        self._conn = conn
        self._cap = cap
        self._deadline = deadline
        self._owns_transaction = _idle(conn)

    def execute(self, sql: str, params: Params, *, fresh: bool = False) -> list[Row]:
        conn = self._conn
        if not self._owns_transaction:
            return _rows(conn, sql, params, fresh=fresh)
        # An integer of milliseconds: the only text composed into this statement.
        setting = f"SET LOCAL lock_timeout = '{_timeout_ms(self._cap, self._deadline)}ms'"
        try:
            conn.execute(f"BEGIN; {setting}" if conn.autocommit else setting, prepare=False)
            rows = _rows(conn, sql, params, fresh=fresh)
            conn.commit()
        except BaseException as exc:
            if _status(conn) in ("INTRANS", "INERROR"):
                conn.rollback()
            if isinstance(exc, Exception) and is_postgres_busy(exc):
                raise from_postgres(exc, "write") from None
            raise
        return rows

    def recover(self) -> bool:
        return self._owns_transaction or not _in_error(self._conn)

    def mark_written(self) -> None:
        """Each statement commits by itself: nothing to track."""


def _lock_statement(count: int) -> str:
    # One round trip: the transaction-local lock_timeout first, then each lock in the
    # given order (PostgreSQL evaluates a target list left to right).
    locks = ", ".join(["pg_advisory_xact_lock(%s::bigint)"] * count)
    return f"SELECT set_config('lock_timeout', %s, true), {locks}"


class _PoolConnections:
    """Borrow a pool's connection for one store call or one booking."""

    def __init__(self, pool: ConnectionPoolLike) -> None:
        self._pool = pool

    @contextlib.contextmanager
    def borrow(self) -> Iterator[psycopg.Connection[Any]]:
        with self._pool.connection() as conn:
            yield conn

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
    ) -> None:
        if not lock_timeout > 0:
            raise ConfigurationError("lock_timeout must be > 0")
        super().__init__(_PgFlavor(), busy_budget=busy_budget)
        self._errors = _psycopg().errors
        self._lock_timeout = lock_timeout
        self._source: ConnectionSource[psycopg.Connection[Any]] = self._source_for(connections)
        self.refresh_schema_state()

    @staticmethod
    def _source_for(connections: Any) -> ConnectionSource[psycopg.Connection[Any]]:
        pg = _psycopg()
        if isinstance(connections, pg.Connection):
            return SharedConnection(connections)
        if callable(getattr(connections, "connection", None)):
            return _PoolConnections(connections)
        if callable(connections):
            factory: Callable[[], psycopg.Connection[Any]] = connections

            def connect() -> psycopg.Connection[Any]:
                conn = factory()
                conn.autocommit = True  # ours now: a read is one round trip
                return conn

            return ThreadLocalConnections(connect, lambda c: not (c.closed or c.broken))
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

        return cls(connect, lock_timeout=lock_timeout, busy_budget=busy_budget)

    @classmethod
    def from_connection(
        cls,
        conn: psycopg.Connection[Any],
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        busy_budget: float = DEFAULT_BUSY_BUDGET,
    ) -> PostgresStore:
        """A store on one connection the application owns (not closed by :meth:`close`)."""
        return cls(conn, lock_timeout=lock_timeout, busy_budget=busy_budget)

    def close(self) -> None:
        self._source.close()

    # -- engine hooks --------------------------------------------------------------------

    def _session(self) -> contextlib.AbstractContextManager[Session]:
        return _StatementScope(self._source.borrow())

    @contextlib.contextmanager
    def _write_session(self, deadline: float) -> Iterator[Session]:
        with self._source.borrow() as conn:
            yield _WriteSession(conn, self._lock_timeout, deadline)

    @contextlib.contextmanager
    def _locked_session(
        self, day: dt.date, service_code: str, periods: Sequence[Period], deadline: float
    ) -> Iterator[Session]:
        keys = advisory_lock_keys(day, service_code, periods)
        with self._source.borrow() as conn:
            if not _idle(conn):
                raise ConfigurationError(
                    "booking() needs a connection outside any transaction: its locks and "
                    "its insert must commit together, on their own"
                )
            self._begin_locked(conn, keys, f"{day.isoformat()} {service_code}", deadline)
            session = _BookingSession(conn)
            try:
                yield session
            except BaseException:
                session.finish_after_error()
                raise
            try:
                conn.commit()
            except Exception as exc:
                if _status(conn) in ("INTRANS", "INERROR"):
                    conn.rollback()
                raise self._translate(exc, "booking") or exc from None

    def _begin_locked(
        self, conn: psycopg.Connection[Any], keys: list[int], what: str, deadline: float
    ) -> None:
        """BEGIN, take the locks in order, set the recovery savepoint; retry lock waits,
        deadlocks and serialization failures (jittered) until ``deadline``."""
        statement = _lock_statement(len(keys))
        attempt = 0
        started = time.monotonic()
        while True:
            timeout = f"{_timeout_ms(self._lock_timeout, deadline)}ms"
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
                    conn.execute(f"SAVEPOINT {_SAVEPOINT}")
                return
            except BaseException as exc:
                if _status(conn) in ("INTRANS", "INERROR"):
                    conn.rollback()
                if not (isinstance(exc, Exception) and is_postgres_busy(exc)):
                    raise
            attempt += 1
            if not backoff(deadline, attempt):
                raise StoreBusy(
                    f"could not lock {what} within {time.monotonic() - started:.2f}s "
                    f"({attempt} attempts, busy_budget {self.busy_budget:g}s)"
                )

    def _introspect(self, session: Session) -> SchemaInfo:
        rows = session.execute(
            "SELECT c.relname::text, a.attname::text, "
            "  (SELECT array_agg(e.enumlabel::text) FROM pg_enum e "
            "   WHERE e.enumtypid = a.atttypid) "
            "FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
            "WHERE c.relnamespace = current_schema()::regnamespace "
            "  AND c.relkind IN ('r', 'p') AND c.relname = ANY(%(tables)s) "
            "  AND a.attnum > 0 AND NOT a.attisdropped",
            {"tables": list(TABLES)},
        )
        enum = next(
            (labels for t, c, labels in rows if (t, c) == ("reservations", "service") and labels),
            None,
        )
        return SchemaInfo(
            columns=frozenset((t, c) for t, c, _ in rows),
            legacy_enum=None if enum is None else frozenset(enum),
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
