"""PostgreSQL's safe-DDL recipes, shared by every phase, run under the lock policy
(:mod:`slotcap.migration.ddl.lock_policy`).

Long work runs under weak locks: ``CREATE INDEX CONCURRENTLY`` (``SHARE UPDATE
EXCLUSIVE``; an interrupted build leaves an INVALID index that is dropped and rebuilt
here), constraints added ``NOT VALID`` (no scan) then ``VALIDATE CONSTRAINT`` (a scan
that does not block writes), and ``SET NOT NULL`` only once a validated
``CHECK (col IS NOT NULL)`` lets PostgreSQL 12+ skip the scan.
"""

from __future__ import annotations

from collections.abc import Iterable

from slotcap.errors import MigrationError
from slotcap.migration.ddl.lock_policy import (
    DEFAULT_POLICY,
    Again,
    HoldObserver,
    LockPolicy,
    execute_with_lock_timeout,
    locked,
    with_lock_retries,
)
from slotcap.migration.ddl.names import RESERVATIONS_TABLE, q
from slotcap.sql import SqlConnection

__all__ = [
    "add_not_null_checks",
    "constraint_state",
    "create_index_concurrently",
    "drop_constraints",
    "drop_index_concurrently",
    "index_state",
    "lock_table",
    "not_null_flags",
    "set_not_null",
    "type_exists",
    "validate_constraint",
    "validate_not_null_checks",
]


def lock_table(conn: SqlConnection, mode: str, table: str = RESERVATIONS_TABLE) -> None:
    """``LOCK TABLE ... IN <mode> MODE``, first in a step's transaction: its hold time
    is then the hold time of the lock (measurable, bounded by the lock policy)."""
    conn.execute(f"LOCK TABLE {q(table)} IN {mode} MODE")


def not_null_flags(
    conn: SqlConnection, columns: tuple[str, ...], table: str = RESERVATIONS_TABLE
) -> dict[str, bool]:
    """column -> attnotnull, for those of ``columns`` that exist."""
    rows = conn.execute(
        "SELECT a.attname, a.attnotnull FROM pg_attribute a JOIN pg_class c ON c.oid = "
        "a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = "
        "current_schema() AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped",
        (table,),
    )
    return {str(name): bool(nn) for name, nn in rows if name in columns}


def type_exists(conn: SqlConnection, name: str) -> bool:
    return bool(
        conn.scalar(
            "SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE t.typname = %s AND n.nspname = current_schema()",
            (name,),
        )
    )


def constraint_state(conn: SqlConnection, table: str, name: str) -> bool | None:
    """None when absent, else whether the constraint is validated."""
    rows = conn.execute(
        "SELECT c.convalidated FROM pg_constraint c "
        "JOIN pg_class t ON t.oid = c.conrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = current_schema() AND t.relname = %s AND c.conname = %s",
        (table, name),
    )
    return bool(rows[0][0]) if rows else None


def validate_constraint(
    conn: SqlConnection, table: str, name: str, *, policy: LockPolicy = DEFAULT_POLICY
) -> None:
    """``VALIDATE CONSTRAINT`` unless already valid: a scan under SHARE UPDATE EXCLUSIVE,
    which lets inserts and updates continue."""
    if constraint_state(conn, table, name) is False:
        sql = f"ALTER TABLE {q(table)} VALIDATE CONSTRAINT {q(name)}"
        locked(conn, lambda c: c.execute(sql), what=f"validate {name}", policy=policy,
               weak=True)


def index_state(conn: SqlConnection, name: str) -> bool | None:
    """None when absent, else whether the index is valid (an interrupted CONCURRENTLY
    build leaves an invalid one behind that still slows every write)."""
    rows = conn.execute(
        "SELECT i.indisvalid FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relname = %s",
        (name,),
    )
    return bool(rows[0][0]) if rows else None


def drop_index_concurrently(
    conn: SqlConnection, name: str, *, policy: LockPolicy = DEFAULT_POLICY
) -> None:
    sql = f"DROP INDEX CONCURRENTLY IF EXISTS {q(name)}"
    with_lock_retries(
        conn, lambda wait: execute_with_lock_timeout(conn, sql, wait),
        what=f"drop index {name}", policy=policy, weak=True,
    )


def create_index_concurrently(
    conn: SqlConnection,
    name: str,
    table: str,
    definition: str,
    *,
    policy: LockPolicy = DEFAULT_POLICY,
) -> None:
    """Build ``name`` without blocking writes; ``definition`` is the column list part
    (built from constants). An INVALID leftover of an interrupted run is dropped first:
    ``IF NOT EXISTS`` alone would keep it forever."""
    sql = f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {q(name)} ON {q(table)} {definition}"

    def attempt(wait: float) -> Again | None:
        state = index_state(conn, name)
        if state is True:
            return None
        if state is False:
            drop_index_concurrently(conn, name, policy=policy)
        execute_with_lock_timeout(conn, sql, wait)
        return None if index_state(conn, name) is True else Again.AGAIN

    with_lock_retries(conn, attempt, what=f"create index {name}", policy=policy, weak=True)


# -- helper checks (the NOT NULL recipe's steps live in transitions.postgres) ------


def drop_constraints(
    conn: SqlConnection, table: str, names: Iterable[str], *, what: str,
    policy: LockPolicy = DEFAULT_POLICY, on_hold: HoldObserver | None = None,
) -> None:
    """Take helper checks away again (a NULL was found: nothing stays half-applied)."""
    clauses = ", ".join(f"DROP CONSTRAINT IF EXISTS {q(n)}" for n in names)
    locked(conn, lambda c: c.execute(f"ALTER TABLE {q(table)} {clauses}"), what=what,
           policy=policy, on_hold=on_hold)


# -- NOT NULL without a scan under the lock (phase 4 and its rollback) --------------


def add_not_null_checks(conn: SqlConnection, checks: dict[str, str]) -> None:
    """``CHECK (col IS NOT NULL) NOT VALID`` (column -> check name) on reservations,
    for the columns not yet NOT NULL: no scan under the lock."""
    have = not_null_flags(conn, tuple(checks))
    parts = [
        f"ADD CONSTRAINT {q(name)} CHECK ({q(col)} IS NOT NULL) NOT VALID"
        for col, name in checks.items()
        if not have.get(col, True) and constraint_state(conn, RESERVATIONS_TABLE, name) is None
    ]
    if parts:
        lock_table(conn, "ACCESS EXCLUSIVE")
        conn.execute(f"ALTER TABLE {q(RESERVATIONS_TABLE)} {', '.join(parts)}")


def set_not_null(conn: SqlConnection, checks: dict[str, str]) -> None:
    """SET NOT NULL from the validated checks, then drop the checks."""
    have = not_null_flags(conn, tuple(checks))
    present = [n for n in checks.values()
               if constraint_state(conn, RESERVATIONS_TABLE, n) is not None]
    todo = [c for c in checks if not have.get(c, True)]
    if not todo and not present:
        return
    lock_table(conn, "ACCESS EXCLUSIVE")
    if todo:
        # PostgreSQL 12+ proves NOT NULL from the validated checks: no scan under the
        # lock — but only while the checks exist, so they are dropped by a second
        # statement (in one ALTER TABLE the drop would run first and force the scan).
        conn.execute(f"ALTER TABLE {q(RESERVATIONS_TABLE)} "
                     + ", ".join(f"ALTER COLUMN {q(c)} SET NOT NULL" for c in todo))
    if present:
        conn.execute(f"ALTER TABLE {q(RESERVATIONS_TABLE)} "
                     + ", ".join(f"DROP CONSTRAINT IF EXISTS {q(n)}" for n in present))


def validate_not_null_checks(
    conn: SqlConnection, checks: dict[str, str], *, what: str,
    policy: LockPolicy = DEFAULT_POLICY, on_hold: HoldObserver | None = None,
) -> None:
    try:
        for name in checks.values():
            validate_constraint(conn, RESERVATIONS_TABLE, name, policy=policy)
    except MigrationError:
        raise
    except Exception as exc:
        # Re-raised as a MigrationError: the driver's error (a CheckViolation, or
        # whatever the server says) means a NULL is there; take the helper checks
        # away again and say why.
        drop_constraints(conn, RESERVATIONS_TABLE, checks.values(), what=f"drop {what} checks",
                         policy=policy, on_hold=on_hold)
        raise MigrationError(
            f"{what}: a column still has NULLs ({type(exc).__name__}); is every writer "
            "dual-writing? Run the catch-up backfill and retry"
        ) from exc
