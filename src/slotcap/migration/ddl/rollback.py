"""Rollbacks' building blocks: each restores the previous phase's schema and data.

Every identifier is quoted (the plan's unquoted ``DROP COLUMN IF EXISTS serviceId``
targets ``serviceid`` and silently does nothing) and nothing uses CASCADE (an unknown
dependent should stop the rollback, not disappear with it). The steps that use these
are in :mod:`slotcap.migration.transitions.postgres` / ``sqlite``:

* phase 4 → 2 rebuilds the legacy columns, limits table and enum from the archive;
* phase 2 → 1 clears exactly the columns the toolkit filled on each row it filled
  (the journal's "columns"), never a value the dual-writing application wrote;
* phase 1 → legacy drops everything phase 1 added, slotcap's own tables included.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from slotcap.domain.model import LEGACY_SERVICE_CODES
from slotcap.errors import MigrationError
from slotcap.migration.ddl import archive as archive
from slotcap.migration.ddl import postgres as pg
from slotcap.migration.ddl.names import (
    ARCHIVE_LEGACY,
    ARCHIVE_LIMITS,
    ARCHIVE_SCHEMA,
    CLOSURES,
    JOURNAL,
    LEGACY_ONLY_COLUMNS,
    LIMITS,
    NEW_COLUMNS,
    PERIOD_TYPE,
    RESERVATIONS_TABLE,
    SERVICE_TYPE,
    SERVICES,
    SETTINGS,
    SHADOW_TABLES,
    SLOTS,
    STATE,
    q,
)
from slotcap.migration.ddl.phase4 import CONTRACTED_COLUMNS
from slotcap.sql import Dialect, SqlConnection

__all__ = [
    "clear_batch",
    "drop_phase1_tables",
    "enum_labels",
    "fill_legacy_batches_pg",
    "fill_remaining_pg",
    "rebuild_legacy_sqlite",
    "recreate_legacy_pg",
]

Progress = Callable[[str], None]

_OLD_TABLE = "reservations__slotcap_old"
_LABEL = re.compile(r"^[A-Z][A-Z0-9_]*$")

# What the legacy application wrote for a row created after phase 4 (no archive row):
# the plan's own dual-write convention (route.ts: MORNING → '09:00', else '14:00').
_DERIVED_TIME = "CASE CAST(r.\"period\" AS TEXT) WHEN 'MORNING' THEN '09:00' ELSE '14:00' END"

_LIMITS_PG = f"""CREATE TABLE IF NOT EXISTS {q(LIMITS)} (
  "id"          TEXT NOT NULL,
  "serviceType" {q(SERVICE_TYPE)} NOT NULL,
  "dailyLimit"  INTEGER NOT NULL,
  "isActive"    BOOLEAN NOT NULL DEFAULT true,
  "createdAt"   TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updatedAt"   TIMESTAMP(3) NOT NULL,
  CONSTRAINT "service_reservation_limits_pkey" PRIMARY KEY ("id")
)"""

_LIMIT_COLUMNS = ("id", "serviceType", "dailyLimit", "isActive", "createdAt", "updatedAt")


# -- phase 1 -> legacy ---------------------------------------------------------------------

_SLOTCAP_TABLES = (JOURNAL, STATE, ARCHIVE_SCHEMA, ARCHIVE_LIMITS, ARCHIVE_LEGACY)
# Not names.KEPT_TABLES (the Idempotency-Key records): they serve every phase, legacy
# included, and a retry across a rollback must still find its first answer.


def drop_phase1_tables(conn: SqlConnection) -> None:
    # The closures table uses the "Period" type: dropped before it.
    for table in (*_SLOTCAP_TABLES, *SHADOW_TABLES, CLOSURES, SETTINGS, SLOTS, SERVICES):
        conn.execute(f"DROP TABLE IF EXISTS {q(table)}")
    if conn.dialect is Dialect.POSTGRES:
        conn.execute(f"DROP TYPE IF EXISTS {q(PERIOD_TYPE)}")


# -- phase 2 -> phase 1 --------------------------------------------------------------------

def _listed(col: str, columns: str) -> str:
    """SQL: whether the journal's ``columns`` names ``col`` (NULL: every column)."""
    return f"({columns} IS NULL OR (',' || {columns} || ',') LIKE '%%,{col},%%')"


#: PostgreSQL: NULL exactly the columns the journal lists, keep the rest.
_CLEAR_LISTED = ", ".join(
    f"{q(col)} = CASE WHEN {_listed(col, 'b.' + q('columns'))} THEN NULL ELSE r.{q(col)} END"
    for col in NEW_COLUMNS
)


def _columns_of(listed: object) -> tuple[str, ...]:
    """The journal's "columns" value as new-column names (NULL: all four)."""
    if listed is None:
        return NEW_COLUMNS
    names = {part.strip() for part in str(listed).split(",")}
    return tuple(col for col in NEW_COLUMNS if col in names)


def clear_batch(conn: SqlConnection, limit: int) -> int:
    if conn.dialect is Dialect.POSTGRES:
        # One statement: the same batch of journal rows is cleared and deleted, even if
        # the journal grows meanwhile.
        rows = conn.execute(
            f'WITH batch AS (SELECT "reservationId", "columns" FROM {q(JOURNAL)} '  # noqa: S608
            'ORDER BY "reservationId" LIMIT %s FOR UPDATE), '
            f"cleared AS (UPDATE {q(RESERVATIONS_TABLE)} r SET {_CLEAR_LISTED} FROM batch b "
            'WHERE r."id" = b."reservationId" RETURNING r."id") '
            f"DELETE FROM {q(JOURNAL)} j USING batch b "
            'WHERE j."reservationId" = b."reservationId" RETURNING 1',
            (limit,),
        )
        return len(rows)
    entries = conn.execute(
        f'SELECT "reservationId", "columns" FROM {q(JOURNAL)} '  # noqa: S608
        'ORDER BY "reservationId" LIMIT %s',
        (limit,),
    )
    if not entries:
        return 0
    by_columns: dict[tuple[str, ...], list[str]] = {}
    for rid, listed in entries:
        by_columns.setdefault(_columns_of(listed), []).append(str(rid))
    for columns, ids in by_columns.items():
        if not columns:
            continue
        clear = ", ".join(f"{q(col)} = NULL" for col in columns)
        marks = ", ".join(["%s"] * len(ids))
        conn.execute(f'UPDATE {q(RESERVATIONS_TABLE)} SET {clear} WHERE "id" IN ({marks})', ids)  # noqa: S608
    ids = [str(e[0]) for e in entries]
    marks = ", ".join(["%s"] * len(ids))
    conn.execute(f'DELETE FROM {q(JOURNAL)} WHERE "reservationId" IN ({marks})', ids)  # noqa: S608
    return len(ids)


# -- phase 4 -> phase 2 --------------------------------------------------------------------


def enum_labels(conn: SqlConnection) -> list[str]:
    labels = [d for _n, _p, d in archive.schema_rows(conn, "enum")] or list(LEGACY_SERVICE_CODES)
    bad = [label for label in labels if not _LABEL.match(label)]
    if bad:  # labels become SQL literals below: accept only plain upper-case names
        raise MigrationError(f"unexpected ServiceType labels in the archive: {bad}")
    return labels


def recreate_legacy_pg(c: SqlConnection, labels: list[str]) -> None:
    """The enum, the limits table (rows from the archive) and the legacy columns,
    nullable; catalogue changes and a handful of limits rows."""
    if not pg.type_exists(c, SERVICE_TYPE):
        literals = ", ".join(f"'{label}'" for label in labels)
        c.execute(f"CREATE TYPE {q(SERVICE_TYPE)} AS ENUM ({literals})")
    c.execute(_LIMITS_PG)
    c.execute(
        'CREATE UNIQUE INDEX IF NOT EXISTS "service_reservation_limits_serviceType_key" '
        f'ON {q(LIMITS)} ("serviceType")'
    )
    if ARCHIVE_LIMITS in c.tables():
        c.execute(
            f"INSERT INTO {q(LIMITS)} ({q(*_LIMIT_COLUMNS)}) "  # noqa: S608
            f'SELECT "id", CAST("serviceType" AS {q(SERVICE_TYPE)}), "dailyLimit", '
            f'"isActive", "createdAt", "updatedAt" FROM {q(ARCHIVE_LIMITS)} ON CONFLICT DO NOTHING'
        )
    c.execute(
        f"ALTER TABLE {q(RESERVATIONS_TABLE)} "
        f'ADD COLUMN IF NOT EXISTS "service" {q(SERVICE_TYPE)}, '
        'ADD COLUMN IF NOT EXISTS "preferredTime" TEXT'
    )


def fill_legacy_batches_pg(conn: SqlConnection, batch: int) -> Iterator[int]:
    """Refill service/preferredTime from the archive (rows written after phase 4: from
    the row's service code and period), keyset batch by batch; yields each committed
    batch's count."""
    last = ""
    while True:
        with conn.transaction():
            ids = conn.execute(
                f'SELECT "id" FROM {q(RESERVATIONS_TABLE)} WHERE "id" > %s '  # noqa: S608
                'ORDER BY "id" LIMIT %s',
                (last, batch),
            )
            if not ids:
                return
            first_excl, last = last, str(ids[-1][0])
            rows = conn.execute(
                f"UPDATE {q(RESERVATIONS_TABLE)} r SET "  # noqa: S608
                f'"service" = CAST(a."service" AS {q(SERVICE_TYPE)}), '
                '"preferredTime" = a."preferredTime" '
                f'FROM {q(ARCHIVE_LEGACY)} a WHERE a."id" = r."id" '
                'AND r."id" > %s AND r."id" <= %s AND r."service" IS NULL RETURNING 1',
                (first_excl, last),
            )
            derived = conn.execute(
                f"UPDATE {q(RESERVATIONS_TABLE)} r SET "  # noqa: S608
                f'"service" = CAST(s."code" AS {q(SERVICE_TYPE)}), '
                f'"preferredTime" = {_DERIVED_TIME} '
                f'FROM {q(SERVICES)} s WHERE s."id" = r."serviceId" '
                'AND r."id" > %s AND r."id" <= %s AND r."service" IS NULL '
                f"AND s.\"code\" IN (SELECT unnest(enum_range(NULL::{q(SERVICE_TYPE)}))::text) "
                "RETURNING 1",
                (first_excl, last),
            )
        yield len(rows) + len(derived)


def fill_remaining_pg(conn: SqlConnection) -> int:
    """One pass over the rows still without legacy values (few: written by the
    contracted application during the batched refill)."""
    with conn.transaction():
        rows = conn.execute(
            f"UPDATE {q(RESERVATIONS_TABLE)} r SET "  # noqa: S608
            f'"service" = CAST(a."service" AS {q(SERVICE_TYPE)}), '
            '"preferredTime" = a."preferredTime" '
            f'FROM {q(ARCHIVE_LEGACY)} a WHERE a."id" = r."id" AND r."service" IS NULL '
            "RETURNING 1"
        )
        derived = conn.execute(
            f"UPDATE {q(RESERVATIONS_TABLE)} r SET "  # noqa: S608
            f'"service" = CAST(s."code" AS {q(SERVICE_TYPE)}), '
            f'"preferredTime" = {_DERIVED_TIME} '
            f'FROM {q(SERVICES)} s WHERE s."id" = r."serviceId" AND r."service" IS NULL '
            f"AND s.\"code\" IN (SELECT unnest(enum_range(NULL::{q(SERVICE_TYPE)}))::text) "
            "RETURNING 1"
        )
    return len(rows) + len(derived)


def rebuild_legacy_sqlite(conn: SqlConnection) -> int:
    """The SQLite phase-4 rollback, inside the caller's (IMMEDIATE) transaction;
    returns the rows rebuilt."""
    rows = conn.execute(
        f'SELECT "kind", "name", "definition" FROM {q(ARCHIVE_SCHEMA)} '  # noqa: S608
        "WHERE \"kind\" IN ('table', 'index') ORDER BY \"position\""
    )
    tables = {n: d for k, n, d in rows if k == "table"}
    indexes = [(n, d) for k, n, d in rows if k == "index"]
    prefix = f"CREATE TABLE {q(RESERVATIONS_TABLE)}"
    old_sql = tables.get(RESERVATIONS_TABLE, "")
    if not old_sql.startswith(prefix) or LIMITS not in tables:
        raise MigrationError("cannot roll back phase 4: the archived schema is incomplete")
    conn.execute(tables[LIMITS])
    conn.execute(
        f"INSERT INTO {q(LIMITS)} ({q(*_LIMIT_COLUMNS)}) "  # noqa: S608
        f"SELECT {q(*_LIMIT_COLUMNS)} FROM {q(ARCHIVE_LIMITS)}"
    )
    conn.execute(f"CREATE TABLE {q(_OLD_TABLE)}{old_sql[len(prefix):]}")
    kept = q(*CONTRACTED_COLUMNS)
    conn.execute(
        f"INSERT INTO {q(_OLD_TABLE)} ({kept}, {q(*LEGACY_ONLY_COLUMNS)}) "
        + "SELECT "
        + ", ".join(f"r.{q(c)}" for c in CONTRACTED_COLUMNS)
        + f', COALESCE(a."service", s."code"), COALESCE(a."preferredTime", {_DERIVED_TIME}) '
        f"FROM {q(RESERVATIONS_TABLE)} r LEFT JOIN {q(ARCHIVE_LEGACY)} a ON a.\"id\" = r.\"id\" "
        f'LEFT JOIN {q(SERVICES)} s ON s."id" = r."serviceId"'
    )
    count = int(conn.scalar(f"SELECT count(*) FROM {q(_OLD_TABLE)}") or 0)  # noqa: S608
    conn.execute(f"DROP TABLE {q(RESERVATIONS_TABLE)}")
    conn.execute(f"ALTER TABLE {q(_OLD_TABLE)} RENAME TO {q(RESERVATIONS_TABLE)}")
    for _name, sql in indexes:
        conn.execute(sql)
    archive.drop_archive_tables(conn)
    return count


