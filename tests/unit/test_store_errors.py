"""The driver → slotcap error mapping (``slotcap.adapters._errors``), engine by engine."""

from __future__ import annotations

import sqlite3

import pytest

from slotcap.adapters._errors import from_postgres, from_sqlite, is_sqlite_busy
from slotcap.errors import DatabaseError, StoreBusy

psycopg = pytest.importorskip("psycopg")


@pytest.mark.parametrize(
    "error", ["LockNotAvailable", "DeadlockDetected", "SerializationFailure"]
)
def test_postgres_lock_waits_deadlocks_and_serialization_failures_are_busy(error: str) -> None:
    exc = getattr(psycopg.errors, error)("detail with 김하늘 010-1234-5678")
    mapped = from_postgres(exc, "set_status")
    assert isinstance(mapped, StoreBusy)
    assert "김하늘" not in str(mapped) and "set_status" in str(mapped)


def test_postgres_refusals_name_the_condition_not_the_message() -> None:
    exc = psycopg.errors.NotNullViolation(
        'null value in column "phone"\nDETAIL:  Failing row contains (r1, 김하늘, null).'
    )
    mapped = from_postgres(exc, "insert")
    assert isinstance(mapped, DatabaseError)
    assert mapped.code == "constraint_violation"
    assert str(mapped).startswith("insert refused by the database: PostgreSQL NotNullViolation")
    assert "23502" in str(mapped) and "\n" not in str(mapped) and "김하늘" not in str(mapped)
    assert mapped.sqlstate == "23502"
    bad = from_postgres(psycopg.errors.InvalidTextRepresentation('"abc" is bad'), "insert")
    assert bad.code == "invalid_value" and "abc" not in str(bad)
    other = from_postgres(psycopg.errors.InsufficientPrivilege("no"), "insert")
    assert other.code == "database_error"


def test_sqlite_locked_is_busy_and_constraints_keep_their_first_line() -> None:
    assert is_sqlite_busy(sqlite3.OperationalError("database is locked"))
    assert isinstance(from_sqlite(sqlite3.OperationalError("database is locked"), "x"), StoreBusy)
    unique = sqlite3.IntegrityError("UNIQUE constraint failed: reservations.id")
    mapped = from_sqlite(unique, "insert")
    assert isinstance(mapped, DatabaseError)
    assert mapped.code == "constraint_violation"
    assert str(mapped).startswith("insert refused by the database: SQLite IntegrityError")
    assert str(mapped).endswith("UNIQUE constraint failed: reservations.id")
