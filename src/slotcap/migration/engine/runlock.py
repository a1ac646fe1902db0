"""One slotcap run at a time per database: a lock held for the whole run.

``migrate``, ``rollback``, ``backfill`` and ``review import`` each hold it from start
to end, so a second run against the same database is refused at once
(:class:`~slotcap.errors.MigrationBusy`) instead of interleaving its steps with the
first one's.

* PostgreSQL: a session-level ``pg_try_advisory_lock`` on a fixed key, on the
  migration's own connection — a direct one: a connection through a transaction pooler
  is refused (the lock would stay on a server connection the pooler hands to others).
  The session also gets ``client_connection_check_interval``
  so that, when the client process is killed mid-statement, its backend notices within
  a second, stops, and releases the advisory lock and any table lock with it.
* SQLite: an exclusive, non-blocking ``fcntl.flock`` on a sidecar file next to the
  database (``<db>-slotcap.lock``); the kernel releases it when the process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

from slotcap.errors import ConfigurationError, MigrationBusy
from slotcap.migration.ddl.lock_policy import configure_session
from slotcap.sql import Dialect, SqlConnection

__all__ = ["ADVISORY_KEY", "CHECK_INTERVAL", "lock_path", "migration_lock", "refuse_pooled"]

#: The advisory lock key: "slotcap" as a number, fixed so that every slotcap run agrees.
ADVISORY_KEY = 0x736C6F74636170
#: How soon a backend notices its client is gone (PostgreSQL 14+).
CHECK_INTERVAL = "1s"

_BUSY = (
    "another slotcap run (migrate, rollback, backfill or review import) is working on "
    "this database; wait for it to finish, then run `slotcap migrate status`"
)


def refuse_pooled(conn: SqlConnection) -> None:
    """A migration's session (its settings, this session-level lock) must never be left
    on a pooler's server connection, where other clients' transactions would run under
    it: a connection opened through a pooler (``?pgbouncer=true``) is refused."""
    if conn.pooled:
        raise ConfigurationError(
            "migrations need a direct connection, not one through a pooler (pgbouncer=true): "
            "pass --direct-url or set SLOTCAP_DIRECT_DATABASE_URL"
        )


def lock_path(conn: SqlConnection) -> str | None:
    """The SQLite sidecar lock file's path (None for an in-memory database)."""
    for _seq, name, path in conn.execute("PRAGMA database_list"):
        if name == "main" and path:
            return f"{path}-slotcap.lock"
    return None


@contextlib.contextmanager
def _postgres(conn: SqlConnection) -> Iterator[None]:
    # application_name 'slotcap migrate', no default statement_timeout, a bounded idle
    # in transaction (see ddl.lock_policy.configure_session): every run's session behaves.
    configure_session(conn)
    with contextlib.suppress(Exception):  # an older server without the setting
        conn.execute("SELECT set_config('client_connection_check_interval', %s, false)",
                     (CHECK_INTERVAL,))
    if not conn.scalar("SELECT pg_try_advisory_lock(%s)", (ADVISORY_KEY,)):
        raise MigrationBusy(_BUSY)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):  # a dead connection released it already
            conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_KEY,))


@contextlib.contextmanager
def _sqlite(conn: SqlConnection) -> Iterator[None]:
    path = lock_path(conn)
    if path is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MigrationBusy(_BUSY) from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


#: Connections whose run lock this process holds already (nested calls re-enter).
_HELD: set[int] = set()


@contextlib.contextmanager
def migration_lock(conn: SqlConnection) -> Iterator[None]:
    """Hold the database's migration lock for the block; ``MigrationBusy`` if taken.

    Re-entrant per connection: ``migrate`` inside a held ``backfill`` lock is fine."""
    refuse_pooled(conn)
    key = id(conn)
    if key in _HELD:
        yield
        return
    holder = _postgres if conn.dialect is Dialect.POSTGRES else _sqlite
    with holder(conn):
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)
