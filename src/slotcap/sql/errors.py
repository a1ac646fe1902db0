"""Driver exceptions → slotcap exceptions, in one place for both SQL engines.

A lock wait that ran out, a deadlock or a serialization failure is :class:`StoreBusy`;
a connection lost, refused or reset (a server restart, an administrator's shutdown, a
failover, a pooler that lost its server, a network blip) is :class:`StoreUnavailable`;
a constraint violation or a bad value is :class:`DatabaseError` with a one-line message
naming the table, the constraint or column and the SQLSTATE. Never the driver's own
text beyond that: psycopg's message carries a DETAIL line with the failing row (a
patient's name and phone), and a value the type rejected is quoted in the primary
message. The caller raises the result ``from None`` so no traceback prints the driver's
exception either; the identifiers stay on the exception as attributes.
"""

from __future__ import annotations

import sqlite3

from slotcap.errors import DatabaseError, SlotcapError, StoreBusy
from slotcap.sql.driver_errors import (
    PG_LOST_SQLSTATES,
    connection_lost,
    database_error,
    is_connection_lost,
)

__all__ = [
    "PG_BUSY_SQLSTATES",
    "PG_LOST_SQLSTATES",
    "connection_lost",
    "from_postgres",
    "from_sqlite",
    "is_busy",
    "is_connection_lost",
    "is_postgres_busy",
    "is_sqlite_busy",
]

#: lock_not_available, deadlock_detected, serialization_failure: a retry may succeed.
PG_BUSY_SQLSTATES = frozenset({"55P03", "40P01", "40001"})


def _sqlstate(exc: BaseException) -> str | None:
    value = getattr(exc, "sqlstate", None)
    return value if isinstance(value, str) else None


def is_postgres_busy(exc: BaseException) -> bool:
    return _sqlstate(exc) in PG_BUSY_SQLSTATES


def from_postgres(exc: BaseException, what: str) -> SlotcapError:
    """The slotcap exception for a psycopg exception raised by ``what`` (an operation
    name such as ``"set_status"``)."""
    sqlstate = _sqlstate(exc)
    if is_connection_lost(exc):
        return connection_lost(exc, what)
    if sqlstate in PG_BUSY_SQLSTATES:
        return StoreBusy(
            f"{what}: the database was busy ({type(exc).__name__}, sqlstate {sqlstate})"
        )
    return _refused(exc, what)


def _refused(exc: BaseException, what: str) -> SlotcapError:
    error = database_error(exc, what=what)
    return error if error is not None else DatabaseError(f"{what} failed: {type(exc).__name__}")


def is_sqlite_busy(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(exc).lower()


def is_busy(exc: BaseException) -> bool:
    """A lock wait, deadlock, serialization failure or SQLite lock: a retry may succeed."""
    return is_sqlite_busy(exc) or is_postgres_busy(exc)


def from_sqlite(exc: BaseException, what: str) -> SlotcapError:
    """The slotcap exception for a ``sqlite3`` exception raised by ``what``.

    SQLite's messages name the constraint or the ``table.column`` but no value
    ("UNIQUE constraint failed: reservations.id"); only their first line is kept.
    """
    if is_sqlite_busy(exc):
        return StoreBusy(f"{what}: the SQLite database stayed locked by another writer")
    return _refused(exc, what)
