"""Driver exceptions (sqlite3, psycopg 3) as one-line :class:`slotcap.errors.DatabaseError`.

A PostgreSQL error's text carries a DETAIL line with the failing row — a patient's name
and phone — and ``invalid input`` messages quote the value. What reaches a user is
built from the error's structured fields instead (SQLSTATE, condition name, table,
column, constraint, type) plus the primary message with every quoted value hidden
(:func:`slotcap.redaction.redact_db_text`). SQLite's messages name only the constraint
(``NOT NULL constraint failed: reservations.period``); its first line is kept.

psycopg is optional, so it is recognised by its attributes, not imported.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from typing import Protocol

from slotcap.errors import DatabaseError, ReservationExists, StoreUnavailable
from slotcap.redaction import redact_db_text
from slotcap.sql.names import RESERVATIONS_TABLE

__all__ = [
    "DEBUG_ENV",
    "PG_LOST_SQLSTATES",
    "connection_lost",
    "database_error",
    "database_errors",
    "error_code",
    "is_connection_lost",
    "is_driver_error",
]

#: Set to show driver errors (and tracebacks) in full; row values stay hidden in the CLI.
DEBUG_ENV = "SLOTCAP_DEBUG"


class _Diagnostic(Protocol):
    @property
    def message_primary(self) -> str | None: ...
    @property
    def table_name(self) -> str | None: ...
    @property
    def column_name(self) -> str | None: ...
    @property
    def constraint_name(self) -> str | None: ...
    @property
    def datatype_name(self) -> str | None: ...


#: admin_shutdown, crash_shutdown, cannot_connect_now (and class 08, connection
#: exceptions, below): the session is gone; nothing of an uncommitted transaction stays.
PG_LOST_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


def is_connection_lost(exc: BaseException) -> bool:
    """psycopg's error for a connection that is gone: closed, reset or refused by the
    server (or by PgBouncer, which answers class 08 when it lost its server). An
    ``OperationalError`` without a SQLSTATE comes from libpq itself, not the server:
    the socket closed, the server stopped answering. Recognised by attributes (psycopg
    is optional)."""
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate in PG_LOST_SQLSTATES or sqlstate.startswith("08")
    return (type(exc).__module__.startswith("psycopg")
            and any(cls.__name__ == "OperationalError" for cls in type(exc).__mro__))


def connection_lost(exc: BaseException, what: str) -> StoreUnavailable:
    """The :class:`StoreUnavailable` for a lost connection (no driver text: it can
    quote the statement)."""
    sqlstate = getattr(exc, "sqlstate", None)
    state = f", sqlstate {sqlstate}" if sqlstate else ""
    return StoreUnavailable(
        f"{what}: the connection to the database was lost ({type(exc).__name__}{state}); "
        "nothing was written, retry shortly"
    )


def _is_psycopg(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("psycopg") and hasattr(exc, "diag")


def is_driver_error(exc: BaseException) -> bool:
    """A sqlite3 or psycopg error (not a slotcap one)."""
    return isinstance(exc, sqlite3.Error) or _is_psycopg(exc)


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0].strip() if lines else ""


def error_code(exc: BaseException) -> str:
    """``constraint_violation``, ``invalid_value`` or ``database_error``: by SQLSTATE
    class when the server answered, by the DB-API class otherwise (a NUL byte in text is
    refused by the driver itself, with no SQLSTATE)."""
    sqlstate = getattr(exc, "sqlstate", None) or ""
    classes = {cls.__name__ for cls in type(exc).__mro__}
    if sqlstate.startswith("23") or "IntegrityError" in classes:
        return "constraint_violation"
    if sqlstate.startswith("22") or classes & {"DataError", "InterfaceError"}:
        return "invalid_value"
    return "database_error"


#: A second reservation with an id already used: the primary key of ``reservations``
#: (PostgreSQL's constraint name; SQLite names the column).
_RESERVATION_PKEY = f"{RESERVATIONS_TABLE}_pkey"
_RESERVATION_ID = f"{RESERVATIONS_TABLE}.id"
_SQLITE_UNIQUE = ("SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE")


def _as_reservation_exists(error: DatabaseError) -> DatabaseError:
    """``error`` as :class:`ReservationExists` when it is the reservations' primary key
    refusing a second row of one id (the same message and fields), else ``error``."""
    if error.sqlstate == "23505":
        duplicate_id = error.constraint == _RESERVATION_PKEY
    else:
        duplicate_id = error.sqlstate in _SQLITE_UNIQUE and error.message.endswith(_RESERVATION_ID)
    if not duplicate_id:
        return error
    return ReservationExists(error.message, sqlstate=error.sqlstate, constraint=error.constraint,
                             column=error.column, table=error.table)


def database_error(exc: BaseException, *, what: str | None = None) -> DatabaseError | None:
    """The one-line slotcap error for a driver exception, or None for anything else
    (:class:`ReservationExists` for a reservation id used twice). ``what`` (an
    operation such as ``"set_status"``) starts the message when given."""
    error = _database_error(exc, what)
    return None if error is None else _as_reservation_exists(error)


def _database_error(exc: BaseException, what: str | None) -> DatabaseError | None:
    lead = f"{what} refused by the database: " if what else ""
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
        text = redact_db_text(_first_line(str(exc))) or "no message"
        constraint = text.split(":", 1)[0] if isinstance(exc, sqlite3.IntegrityError) else None
        return DatabaseError(f"{lead}SQLite {type(exc).__name__} ({name}): {text}",
                             code=error_code(exc), sqlstate=str(name), constraint=constraint)
    if not _is_psycopg(exc):
        return None
    diag: _Diagnostic = getattr(exc, "diag")  # noqa: B009 (psycopg is optional: no import)
    sqlstate: str | None = getattr(exc, "sqlstate", None)
    primary = redact_db_text(_first_line(diag.message_primary or str(exc)))
    where = [
        f'{label} "{value}"'
        for label, value in (("table", diag.table_name), ("column", diag.column_name),
                             ("constraint", diag.constraint_name),
                             ("type", diag.datatype_name))
        if value
    ]
    state = f", SQLSTATE {sqlstate}" if sqlstate else ""
    located = f" ({', '.join(where)})" if where else ""
    return DatabaseError(
        f"{lead}PostgreSQL {type(exc).__name__}{state}: {primary}{located}",
        code=error_code(exc),
        sqlstate=sqlstate,
        table=diag.table_name,
        column=diag.column_name,
        constraint=diag.constraint_name,
    )


@contextlib.contextmanager
def database_errors() -> Iterator[None]:
    """Let driver errors leave a library entry point only as one-line
    :class:`DatabaseError`: an application's log of the traceback must not show the
    driver's DETAIL (a patient's row). The driver error is chained as ``__cause__``
    only under ``SLOTCAP_DEBUG=1``."""
    try:
        yield
    except Exception as exc:
        if is_connection_lost(exc):
            raise connection_lost(exc, "the database call") from None
        error = database_error(exc)
        if error is None:
            raise
        if os.environ.get(DEBUG_ENV):
            raise error from exc
        raise error from None
