"""Phase 2's schema step: the read indexes, built once the backfill is done.

The plan creates the two new reservation indexes in phase 1, before the backfill. Then
every one of the backfill's row updates also writes an entry into each of them (the
updated columns are in their keys, so no HOT update), and index upkeep was most of the
backfill's time at a million rows. Nothing reads them before the dynamic rollout
(phase 3, which needs phase 2 first), so slotcap builds them here, after the backfill
and before phase 2's validation — one pass over the filled table each, concurrently on
PostgreSQL, so the live application keeps writing.

With them comes a partial covering index of the held rows (PENDING/CONFIRMED), which
answers the calendar's per-day sums from a small index alone. Its phase-2 shape also
covers the legacy "service" column (the dual-write period still reads it); phase 4
replaces it with :data:`IDX_HELD_CONTRACTED`, which does not.
"""

from __future__ import annotations

from collections.abc import Callable

from slotcap.migration.ddl import postgres as pg
from slotcap.migration.ddl.lock_policy import DEFAULT_POLICY, LockPolicy
from slotcap.migration.ddl.names import (
    HELD_STATUSES,
    IDX_HELD,
    IDX_HELD_CONTRACTED,
    IDX_PERIOD,
    IDX_SERVICE,
    READ_INDEXES,
    RESERVATIONS_TABLE,
    q,
)
from slotcap.sql import Dialect, SqlConnection

__all__ = ["create_read_indexes", "drop_read_indexes", "held_index_sql", "read_index_sql"]

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    return None


def held_index_sql(dialect: Dialect, *, contracted: bool = False) -> str:
    """What follows ``ON reservations`` for the held-rows index: the phase-2 shape, or
    (``contracted``) phase 4's, without the dropped "service" column."""
    covered = ("estimatedDuration", "serviceId") if contracted else (
        "estimatedDuration", "serviceId", "service")
    if dialect is Dialect.POSTGRES:
        return f'({q("preferredDate", "period")}) INCLUDE ({q(*covered)}) WHERE {HELD_STATUSES}'
    # SQLite has no INCLUDE: the covered columns go last in the key.
    return f'({q("preferredDate", "period", *covered)}) WHERE {HELD_STATUSES}'


def read_index_sql(dialect: Dialect) -> dict[str, str]:
    """Name -> what follows ``ON reservations`` for phase 2's three indexes."""
    # INCLUDE lets the availability SUM be answered from the index alone (PG 11+);
    # SQLite has no INCLUDE, so the column goes last in the key instead.
    period_cols = (
        '("preferredDate", "period", "status") INCLUDE ("estimatedDuration")'
        if dialect is Dialect.POSTGRES
        else '("preferredDate", "period", "status", "estimatedDuration")'
    )
    return {
        IDX_PERIOD: period_cols,
        IDX_SERVICE: '("serviceId", "preferredDate", "status")',
        IDX_HELD: held_index_sql(dialect),
    }


def create_read_indexes(
    conn: SqlConnection, progress: Progress | None = None, *,
    policy: LockPolicy = DEFAULT_POLICY,
) -> list[str]:
    """Build phase 2's read indexes where missing; returns their names. Idempotent.

    PostgreSQL: ``CREATE INDEX CONCURRENTLY`` with slotcap's safe recipe (short
    lock_timeout, retries, an INVALID leftover of an interrupted build dropped and
    rebuilt); the connection must be in autocommit. SQLite: ``CREATE INDEX IF NOT
    EXISTS`` in one transaction. Tests use it to give a phase-1 database the indexes
    the phase-3 application reads with.
    """
    say = progress or _quiet
    if conn.dialect is Dialect.POSTGRES:
        for name, definition in read_index_sql(Dialect.POSTGRES).items():
            pg.create_index_concurrently(conn, name, RESERVATIONS_TABLE, definition, policy=policy)
            say(f"phase2: index {name} built concurrently")
    else:
        with conn.transaction():
            for name, definition in read_index_sql(Dialect.SQLITE).items():
                conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {q(name)} ON {q(RESERVATIONS_TABLE)} {definition}"
                )
        say("phase2: read indexes in place")
    return list(READ_INDEXES)


def drop_read_indexes(conn: SqlConnection, *, policy: LockPolicy = DEFAULT_POLICY) -> None:
    """Drop phase 2's read indexes (either held-index shape) if present. SQLite: in the
    caller's transaction; PostgreSQL: ``DROP INDEX CONCURRENTLY`` (autocommit)."""
    names = (*READ_INDEXES, IDX_HELD_CONTRACTED)
    if conn.dialect is Dialect.POSTGRES:
        for name in names:
            pg.drop_index_concurrently(conn, name, policy=policy)
    else:
        for name in names:
            conn.execute(f"DROP INDEX IF EXISTS {q(name)}")
