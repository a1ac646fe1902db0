"""Driver exceptions → slotcap exceptions, in one place for both SQL engines.

A lock wait that ran out, a deadlock or a serialization failure is :class:`StoreBusy`;
a constraint violation or a bad value is :class:`DatabaseError` with a one-line message
naming the table, the constraint or column and the SQLSTATE. Never the driver's own
text beyond that: psycopg's message carries a DETAIL line with the failing row (a
patient's name and phone), and a value the type rejected is quoted in the primary
message. The caller raises the result ``from None`` so no traceback prints the driver's
exception either; the identifiers stay on the exception as attributes.
"""

from __future__ import annotations

import sqlite3
from typing import Protocol

from slotcap.errors import DatabaseError, SlotcapError, StoreBusy

__all__ = [
    "PG_BUSY_SQLSTATES",
    "from_postgres",
    "from_sqlite",
    "is_postgres_busy",
    "is_sqlite_busy",
]

#: lock_not_available, deadlock_detected, serialization_failure: a retry may succeed.
PG_BUSY_SQLSTATES = frozenset({"55P03", "40P01", "40001"})


class _Diagnostic(Protocol):
    @property
    def sqlstate(self) -> str | None: ...
    @property
    def constraint_name(self) -> str | None: ...
    @property
    def column_name(self) -> str | None: ...
    @property
    def table_name(self) -> str | None: ...


def _sqlstate(exc: BaseException) -> str | None:
    value = getattr(exc, "sqlstate", None)
    return value if isinstance(value, str) else None


def is_postgres_busy(exc: BaseException) -> bool:
    return _sqlstate(exc) in PG_BUSY_SQLSTATES


def _pg_kind(exc: BaseException, sqlstate: str | None) -> str:
    # By SQLSTATE class when the server answered; by psycopg's DB-API class when the
    # driver refused the value itself (a NUL byte in text has no SQLSTATE).
    classes = {cls.__name__ for cls in type(exc).__mro__}
    if (sqlstate or "").startswith("23") or "IntegrityError" in classes:
        return "constraint_violation"
    if (sqlstate or "").startswith("22") or "DataError" in classes:
        return "invalid_value"
    return "database_error"


def from_postgres(exc: BaseException, what: str) -> SlotcapError:
    """The slotcap exception for a psycopg exception raised by ``what`` (an operation
    name such as ``"set_status"``)."""
    sqlstate = _sqlstate(exc)
    if sqlstate in PG_BUSY_SQLSTATES:
        return StoreBusy(
            f"{what}: the database was busy ({type(exc).__name__}, sqlstate {sqlstate})"
        )
    diag: _Diagnostic | None = getattr(exc, "diag", None)
    constraint = diag.constraint_name if diag is not None else None
    column = diag.column_name if diag is not None else None
    table = diag.table_name if diag is not None else None
    # The condition's name (psycopg's class: UniqueViolation, NotNullViolation,
    # InvalidTextRepresentation, …) and identifiers only: no value of the row.
    parts = [type(exc).__name__]
    if table:
        parts.append(f"table {table}")
    if constraint:
        parts.append(f"constraint {constraint}")
    if column:
        parts.append(f"column {column}")
    if sqlstate:
        parts.append(f"sqlstate {sqlstate}")
    return DatabaseError(
        f"{what} refused by the database: {', '.join(parts)}",
        code=_pg_kind(exc, sqlstate),
        sqlstate=sqlstate,
        constraint=constraint,
        column=column,
        table=table,
    )


def is_sqlite_busy(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(exc).lower()


def from_sqlite(exc: BaseException, what: str) -> SlotcapError:
    """The slotcap exception for a ``sqlite3`` exception raised by ``what``.

    SQLite's messages name the constraint or the ``table.column`` but no value
    ("UNIQUE constraint failed: reservations.id"); only their first line is kept.
    """
    if is_sqlite_busy(exc):
        return StoreBusy(f"{what}: the SQLite database stayed locked by another writer")
    name = getattr(exc, "sqlite_errorname", None)
    first_line = (str(exc).splitlines() or [""])[0][:200]
    if isinstance(exc, sqlite3.IntegrityError):
        code = "constraint_violation"
    elif isinstance(exc, sqlite3.DataError | sqlite3.InterfaceError | sqlite3.ProgrammingError):
        code = "invalid_value"
    else:
        code = "database_error"
    return DatabaseError(
        f"{what} refused by the database: {first_line}",
        code=code,
        sqlstate=name if isinstance(name, str) else None,
        constraint=first_line.split(":", 1)[0] if code == "constraint_violation" else None,
    )
