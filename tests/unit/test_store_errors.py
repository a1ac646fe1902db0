"""The driver → slotcap error mapping (``slotcap.sql.errors``), engine by engine."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from slotcap.errors import DatabaseError, StoreBusy
from slotcap.sql.connection import SqlConnection, open_sql
from slotcap.sql.errors import from_postgres, from_sqlite, is_sqlite_busy

# Without psycopg this module cannot be collected: tests/conftest.py turns that into a
# loud skip on a developer's machine and a failure in CI.


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


# -- the one connection wrapper (slotcap.sql.connection) -----------------------------------


def test_pyformat_becomes_sqlite_style_once_and_literally() -> None:
    from slotcap.sql.dialect import to_sqlite_style

    assert to_sqlite_style("a = %s AND b = %(name)s AND strftime('%%w', c) <> '%%s'") == (
        "a = ? AND b = :name AND strftime('%w', c) <> '%s'"
    )


class _Undo(Exception):
    pass


def _insert_and_fail(conn: SqlConnection) -> None:
    conn.execute("INSERT INTO t VALUES (%s)", (2,))
    raise _Undo


def test_a_savepoint_undoes_only_its_own_work(tmp_path: Path) -> None:
    with open_sql(f"sqlite:///{tmp_path / 'x.db'}") as conn:
        conn.execute("CREATE TABLE t (v INTEGER)")
        with conn.transaction():
            conn.execute("INSERT INTO t VALUES (%(v)s)", {"v": 1})
            with pytest.raises(_Undo), conn.savepoint():
                _insert_and_fail(conn)
        assert conn.execute("SELECT v FROM t") == [(1,)]


def test_a_locked_sqlite_file_leaves_the_wrapper_as_store_busy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with open_sql(url) as holder, open_sql(url) as waiter:
        holder.execute("CREATE TABLE t (v INTEGER)")
        waiter.raw.execute("PRAGMA busy_timeout = 1")
        with holder.transaction():
            holder.execute("INSERT INTO t VALUES (%s)", (1,))
            with (
                pytest.raises(StoreBusy, match="write"),
                waiter.busy_as_store_busy("write"),
                waiter.transaction(),
            ):
                pass
