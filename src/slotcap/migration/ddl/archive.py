"""Phase 4's archive: the legacy data and schema it removes, kept in the database.

Phase 4 drops ``reservations."service"``/``"preferredTime"``, the limits table and the
``"ServiceType"`` enum. Before anything is dropped their content is copied here, and
the rollback to phase 2 rebuilds them from these tables (the plan calls phase 4
irreversible; with the archive it is not). The tables stay after phase 4 until an
operator drops them.
"""

from __future__ import annotations

import json

from slotcap.migration.ddl.names import (
    ARCHIVE_LEGACY,
    ARCHIVE_LIMITS,
    ARCHIVE_SCHEMA,
    LIMITS,
    RESERVATIONS_TABLE,
    q,
)
from slotcap.sql import Dialect, SqlConnection

__all__ = [
    "archive_limits",
    "archive_reservations_batch",
    "contract_record",
    "create_archive_tables",
    "drop_archive_tables",
    "record_contract",
    "save_schema_rows",
    "schema_rows",
]

_TS = {Dialect.POSTGRES: "TIMESTAMP(3)", Dialect.SQLITE: "TEXT"}
_BOOL = {Dialect.POSTGRES: "BOOLEAN", Dialect.SQLITE: "INTEGER"}


def create_archive_tables(conn: SqlConnection) -> None:
    ts, boolean = _TS[conn.dialect], _BOOL[conn.dialect]
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {q(ARCHIVE_LEGACY)} ("
        '"id" TEXT NOT NULL PRIMARY KEY, "service" TEXT NOT NULL, "preferredTime" TEXT NOT NULL)'
    )
    # Every column of the limits table; the enum as its text.
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {q(ARCHIVE_LIMITS)} ("
        '"id" TEXT NOT NULL PRIMARY KEY, "serviceType" TEXT NOT NULL, '
        f'"dailyLimit" INTEGER NOT NULL, "isActive" {boolean} NOT NULL, '
        f'"createdAt" {ts} NOT NULL, "updatedAt" {ts} NOT NULL)'
    )
    # kind: 'table' / 'index' (SQLite CREATE text, PG index definition) or 'enum'
    # (PG labels, one row per label in sort order).
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {q(ARCHIVE_SCHEMA)} ("
        '"kind" TEXT NOT NULL, "name" TEXT NOT NULL, "position" INTEGER NOT NULL, '
        '"definition" TEXT NOT NULL, PRIMARY KEY ("kind", "name", "position"))'
    )


def drop_archive_tables(conn: SqlConnection) -> None:
    for table in (ARCHIVE_SCHEMA, ARCHIVE_LIMITS, ARCHIVE_LEGACY):
        conn.execute(f"DROP TABLE IF EXISTS {q(table)}")


_UPSERT_LEGACY = (
    'ON CONFLICT ("id") DO UPDATE SET "service" = excluded."service", '
    '"preferredTime" = excluded."preferredTime"'
)


def archive_reservations_batch(conn: SqlConnection, after: str, limit: int) -> tuple[int, str]:
    """Copy the next ``limit`` reservations by id after ``after``; return (count, last id).

    Keyset pagination: each batch is one short statement, whatever the table size.
    """
    rows = conn.execute(
        f'SELECT "id" FROM {q(RESERVATIONS_TABLE)} WHERE "id" > %s ORDER BY "id" LIMIT %s',  # noqa: S608
        (after, limit),
    )
    if not rows:
        return 0, after
    last = str(rows[-1][0])
    conn.execute(
        f'INSERT INTO {q(ARCHIVE_LEGACY)} ("id", "service", "preferredTime") '  # noqa: S608
        f'SELECT "id", CAST("service" AS TEXT), "preferredTime" FROM {q(RESERVATIONS_TABLE)} '
        f'WHERE "id" > %s AND "id" <= %s {_UPSERT_LEGACY}',
        (after, last),
    )
    return len(rows), last


_UPSERT_CHANGED = (
    f"{_UPSERT_LEGACY} WHERE {q(ARCHIVE_LEGACY)}.\"service\" IS DISTINCT FROM "
    f'excluded."service" OR {q(ARCHIVE_LEGACY)}."preferredTime" IS DISTINCT FROM '
    'excluded."preferredTime"'
)


def record_contract(conn: SqlConnection) -> dict[str, int]:
    """Count, in the dropping transaction, the reservations and those the archive lacks
    (0, or the caller aborts), and keep the counts for the phase-4 validation."""
    total = int(conn.scalar(f"SELECT count(*) FROM {q(RESERVATIONS_TABLE)}") or 0)  # noqa: S608
    missing = int(conn.scalar(
        f'SELECT count(*) FROM {q(RESERVATIONS_TABLE)} r WHERE NOT EXISTS '  # noqa: S608
        f'(SELECT 1 FROM {q(ARCHIVE_LEGACY)} a WHERE a."id" = r."id")'
    ) or 0)
    counts = {"reservations": total, "archived": total - missing}
    conn.execute(
        f'DELETE FROM {q(ARCHIVE_SCHEMA)} WHERE "kind" = %s AND "name" = %s',  # noqa: S608
        ("meta", "contract"),
    )
    save_schema_rows(conn, [("meta", "contract", 0, json.dumps(counts))])
    return counts


def contract_record(conn: SqlConnection) -> dict[str, int] | None:
    """What :func:`record_contract` noted, if phase 4 got that far."""
    if ARCHIVE_SCHEMA not in conn.tables():
        return None
    rows = schema_rows(conn, "meta")
    found = [d for n, _p, d in rows if n == "contract"]
    return {k: int(v) for k, v in json.loads(found[0]).items()} if found else None


def archive_limits(conn: SqlConnection) -> int:
    conn.execute(
        f'INSERT INTO {q(ARCHIVE_LIMITS)} ("id", "serviceType", "dailyLimit", "isActive", '  # noqa: S608
        '"createdAt", "updatedAt") SELECT "id", CAST("serviceType" AS TEXT), "dailyLimit", '
        # WHERE true: SQLite cannot otherwise tell the upsert's ON from a join's ON.
        f'"isActive", "createdAt", "updatedAt" FROM {q(LIMITS)} WHERE true '
        'ON CONFLICT ("id") DO UPDATE SET "serviceType" = excluded."serviceType", '
        '"dailyLimit" = excluded."dailyLimit", "isActive" = excluded."isActive", '
        '"createdAt" = excluded."createdAt", "updatedAt" = excluded."updatedAt"'
    )
    return int(conn.scalar(f"SELECT count(*) FROM {q(ARCHIVE_LIMITS)}") or 0)  # noqa: S608


def save_schema_rows(conn: SqlConnection, rows: list[tuple[str, str, int, str]]) -> None:
    conn.execute_many(
        f'INSERT INTO {q(ARCHIVE_SCHEMA)} ("kind", "name", "position", "definition") '  # noqa: S608
        "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
        rows,
    )


def schema_rows(conn: SqlConnection, kind: str) -> list[tuple[str, int, str]]:
    """(name, position, definition) of one kind, in saved order."""
    return [
        (str(n), int(p), str(d))
        for n, p, d in conn.execute(
            f'SELECT "name", "position", "definition" FROM {q(ARCHIVE_SCHEMA)} '  # noqa: S608
            'WHERE "kind" = %s ORDER BY "position", "name"',
            (kind,),
        )
    ]
