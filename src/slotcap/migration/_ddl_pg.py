"""PostgreSQL's safe-DDL recipes, shared by every phase.

A live reservations table must never queue behind a DDL statement: an ``ALTER TABLE``
waiting for ``ACCESS EXCLUSIVE`` blocks every later reader and writer of the table
for as long as it waits. So every statement that takes a strong lock runs with a short
``lock_timeout`` and, when it times out, the whole (small) transaction is rolled back
and retried after a backoff — the app sees at most ``lock_timeout`` of delay per try.

Long work runs under weak locks: ``CREATE INDEX CONCURRENTLY`` (``SHARE UPDATE
EXCLUSIVE``; an interrupted build leaves an INVALID index that is dropped and rebuilt
here), constraints added ``NOT VALID`` (no scan) then ``VALIDATE CONSTRAINT`` (a scan
that does not block writes), and ``SET NOT NULL`` only once a validated
``CHECK (col IS NOT NULL)`` lets PostgreSQL 12+ skip the scan.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

import attrs

from slotcap.errors import MigrationError
from slotcap.migration._ddl_names import q
from slotcap.sqldb import SqlConnection

__all__ = [
    "LockPolicy",
    "add_not_null_checks",
    "constraint_state",
    "create_index_concurrently",
    "drop_constraints",
    "drop_index_concurrently",
    "index_state",
    "locked",
    "set_not_null",
    "type_exists",
    "validate_constraint",
]

T = TypeVar("T")


@attrs.frozen
class LockPolicy:
    """How long one try may wait for a lock, and how often to try."""

    timeout: str = "2s"
    attempts: int = 8
    backoff: float = 0.2
    max_backoff: float = 5.0

    def sleep(self, attempt: int) -> None:
        # Exponential backoff with jitter, so competing retries do not line up.
        delay = min(self.backoff * (2**attempt), self.max_backoff)
        time.sleep(delay * (0.5 + random.random() / 2))  # noqa: S311 - jitter, not crypto


DEFAULT_POLICY = LockPolicy()


def _is_lock_failure(exc: BaseException) -> bool:
    import psycopg.errors

    return isinstance(exc, psycopg.errors.LockNotAvailable | psycopg.errors.DeadlockDetected)


def locked(
    conn: SqlConnection,
    work: Callable[[SqlConnection], T],
    *,
    what: str,
    policy: LockPolicy = DEFAULT_POLICY,
) -> T:
    """Run ``work`` in one transaction under ``lock_timeout``, retrying lock failures."""
    for attempt in range(policy.attempts):
        try:
            with conn.transaction():
                # set_config(..., true) is SET LOCAL: it ends with the transaction.
                conn.execute("SELECT set_config('lock_timeout', %s, true)", (policy.timeout,))
                return work(conn)
        except Exception as exc:
            if not _is_lock_failure(exc):
                raise
            policy.sleep(attempt)
    raise MigrationError(
        f"{what}: the table stayed locked by other sessions for {policy.attempts} tries "
        f"of {policy.timeout}; nothing was changed by this step — run the command again later"
    )


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
        locked(conn, lambda c: c.execute(sql), what=f"validate {name}", policy=policy)


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


def _with_session_lock_timeout(conn: SqlConnection, sql: str, policy: LockPolicy) -> None:
    # CONCURRENTLY cannot run in a transaction block, so no SET LOCAL: set and reset.
    conn.execute("SELECT set_config('lock_timeout', %s, false)", (policy.timeout,))
    try:
        conn.execute(sql)
    finally:
        conn.execute("RESET lock_timeout")


def drop_index_concurrently(
    conn: SqlConnection, name: str, *, policy: LockPolicy = DEFAULT_POLICY
) -> None:
    sql = f"DROP INDEX CONCURRENTLY IF EXISTS {q(name)}"
    for attempt in range(policy.attempts):
        try:
            _with_session_lock_timeout(conn, sql, policy)
            return
        except Exception as exc:
            if not _is_lock_failure(exc):
                raise
            policy.sleep(attempt)
    raise MigrationError(f"drop index {name}: lock not available after {policy.attempts} tries")


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
    for attempt in range(policy.attempts):
        state = index_state(conn, name)
        if state is True:
            return
        if state is False:
            drop_index_concurrently(conn, name, policy=policy)
        try:
            _with_session_lock_timeout(conn, sql, policy)
        except Exception as exc:
            if not _is_lock_failure(exc):
                raise
            policy.sleep(attempt)
            continue
        if index_state(conn, name) is True:
            return
    raise MigrationError(
        f"create index {name}: not built after {policy.attempts} tries (the table stayed "
        "busy); an invalid leftover, if any, is dropped on the next run"
    )


# -- SET NOT NULL without a scan under ACCESS EXCLUSIVE ---------------------------------
# The recipe: CHECK (col IS NOT NULL) NOT VALID (catalog only) -> VALIDATE CONSTRAINT
# (scans under SHARE UPDATE EXCLUSIVE, writers keep going) -> SET NOT NULL, which
# PostgreSQL 12+ proves from the validated check without a scan -> drop the checks.
# ``checks`` maps each column to its helper constraint's name.


def add_not_null_checks(
    conn: SqlConnection, table: str, checks: Mapping[str, str], *, what: str
) -> None:
    """Step 1: the NOT VALID checks that are not there yet, under the short lock."""

    def add(c: SqlConnection) -> None:
        parts = [
            f"ADD CONSTRAINT {q(name)} CHECK ({q(col)} IS NOT NULL) NOT VALID"
            for col, name in checks.items()
            if constraint_state(c, table, name) is None
        ]
        if parts:
            c.execute(f"ALTER TABLE {q(table)} {', '.join(parts)}")

    locked(conn, add, what=what)


def drop_constraints(conn: SqlConnection, table: str, names: Iterable[str], *, what: str) -> None:
    """Take helper checks away again (a NULL was found: nothing stays half-applied)."""
    clauses = ", ".join(f"DROP CONSTRAINT IF EXISTS {q(n)}" for n in names)
    locked(conn, lambda c: c.execute(f"ALTER TABLE {q(table)} {clauses}"), what=what)


def set_not_null(conn: SqlConnection, table: str, checks: Mapping[str, str], *, what: str) -> None:
    """Last step, after every check validated: SET NOT NULL and drop the checks, at once."""
    clauses = [f"ALTER COLUMN {q(col)} SET NOT NULL" for col in checks] + [
        f"DROP CONSTRAINT IF EXISTS {q(n)}" for n in checks.values()
    ]
    locked(conn, lambda c: c.execute(f"ALTER TABLE {q(table)} {', '.join(clauses)}"), what=what)
