"""Phase 1, expand: new tables and nullable columns beside the legacy ones.

Nothing here modifies a legacy column or row, and everything is idempotent: tables
and indexes use ``IF NOT EXISTS``, seeds ``ON CONFLICT DO NOTHING``, columns and
constraints are looked up before they are added. The legacy application keeps
inserting old-columns-only rows throughout (every new column is nullable, without a
default that would rewrite the table).

Where slotcap departs from the plan (see docs/migration.md): quoted names in the seed;
PostgreSQL gets the native ``"Period"`` enum now (the plan's phase 2.4 would convert a
TEXT column later with a table rewrite under ACCESS EXCLUSIVE); FK and CHECKs are added
NOT VALID and validated separately; the plan's two reservation indexes come in phase 2,
after the backfill (see :mod:`slotcap.migration.ddl.phase2`).
"""

from __future__ import annotations

from collections.abc import Callable

from slotcap.domain.defaults import DEFAULT_SERVICES, DEFAULT_TIME_SLOTS
from slotcap.migration.ddl import postgres as pg
from slotcap.migration.ddl.names import (
    CK_DURATION,
    CK_PERIOD,
    CLOSURES,
    FK_SERVICE,
    JOURNAL,
    PERIOD_TYPE,
    SERVICES,
    SETTINGS,
    SLOTS,
    q,
)
from slotcap.migration.ddl.utc import UTC_NOW
from slotcap.migration.state import create_state_table
from slotcap.sql import Dialect, SqlConnection
from slotcap.sql.shadow_ddl import SHADOW_DDL

__all__ = [
    "DEFAULT_TIME_ZONE",
    "create_clinic_tables",
    "create_new_tables",
    "new_reservation_columns_sql",
]

Progress = Callable[[str], None]

# -- new tables ---------------------------------------------------------------------------

_SERVICES_PG = f"""CREATE TABLE IF NOT EXISTS {q(SERVICES)} (
  "id"              TEXT PRIMARY KEY,
  "code"            TEXT UNIQUE NOT NULL,
  "name"            TEXT NOT NULL,
  "nameEn"          TEXT,
  "description"     TEXT,
  "category"        TEXT,
  "durationMinutes" INTEGER NOT NULL DEFAULT 30,
  "bufferMinutes"   INTEGER NOT NULL DEFAULT 10,
  "basePrice"       INTEGER,
  "isActive"        BOOLEAN NOT NULL DEFAULT true,
  "isVisible"       BOOLEAN NOT NULL DEFAULT true,
  "displayOrder"    INTEGER NOT NULL DEFAULT 0,
  "createdAt"       TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updatedAt"       TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "deletedAt"       TIMESTAMP(3),
  CONSTRAINT "services_durationMinutes_check" CHECK ("durationMinutes" >= 0),
  CONSTRAINT "services_bufferMinutes_check" CHECK ("bufferMinutes" >= 0)
)"""

# SQLite spelling of the same table, in the legacy file's conventions: booleans are
# INTEGER 0/1, timestamps ISO-8601 TEXT with the same default expression.
_SERVICES_SQLITE = f"""CREATE TABLE IF NOT EXISTS {q(SERVICES)} (
  "id"              TEXT NOT NULL PRIMARY KEY,
  "code"            TEXT NOT NULL UNIQUE,
  "name"            TEXT NOT NULL,
  "nameEn"          TEXT,
  "description"     TEXT,
  "category"        TEXT,
  "durationMinutes" INTEGER NOT NULL DEFAULT 30
                    CONSTRAINT "services_durationMinutes_check" CHECK ("durationMinutes" >= 0),
  "bufferMinutes"   INTEGER NOT NULL DEFAULT 10
                    CONSTRAINT "services_bufferMinutes_check" CHECK ("bufferMinutes" >= 0),
  "basePrice"       INTEGER,
  "isActive"        INTEGER NOT NULL DEFAULT 1 CHECK ("isActive" IN (0, 1)),
  "isVisible"       INTEGER NOT NULL DEFAULT 1 CHECK ("isVisible" IN (0, 1)),
  "displayOrder"    INTEGER NOT NULL DEFAULT 0,
  "createdAt"       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  "updatedAt"       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  "deletedAt"       TEXT
)"""

_SERVICES_INDEXES = (
    f'CREATE INDEX IF NOT EXISTS "services_isActive_isVisible_displayOrder_idx" '
    f'ON {q(SERVICES)} ("isActive", "isVisible", "displayOrder")',
    f'CREATE INDEX IF NOT EXISTS "services_code_idx" ON {q(SERVICES)} ("code")',
)

# "totalMinutes" is derived from the two 'HH:MM' strings; the CHECK keeps the three
# from ever disagreeing (the same expression works in both engines).
_MINUTES = (
    '(CAST(substr("endTime", 1, 2) AS INTEGER) * 60 + CAST(substr("endTime", 4, 2) AS INTEGER))'
    ' - (CAST(substr("startTime", 1, 2) AS INTEGER) * 60'
    ' + CAST(substr("startTime", 4, 2) AS INTEGER))'
)

_SLOTS_PG = f"""CREATE TABLE IF NOT EXISTS {q(SLOTS)} (
  "id"           TEXT PRIMARY KEY,
  "dayOfWeek"    INTEGER NOT NULL,
  "period"       {q(PERIOD_TYPE)} NOT NULL,
  "startTime"    TEXT NOT NULL,
  "endTime"      TEXT NOT NULL,
  "totalMinutes" INTEGER NOT NULL,
  "isActive"     BOOLEAN NOT NULL DEFAULT true,
  "createdAt"    TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updatedAt"    TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT "clinic_time_slots_dayOfWeek_check" CHECK ("dayOfWeek" BETWEEN 0 AND 6),
  CONSTRAINT "clinic_time_slots_period_check" CHECK ("period" IN ('MORNING', 'AFTERNOON')),
  CONSTRAINT "clinic_time_slots_startTime_check"
    CHECK ("startTime" ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
  CONSTRAINT "clinic_time_slots_endTime_check"
    CHECK ("endTime" ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
  CONSTRAINT "clinic_time_slots_totalMinutes_check"
    CHECK ("startTime" < "endTime" AND "totalMinutes" = {_MINUTES})
)"""

_SLOTS_SQLITE = f"""CREATE TABLE IF NOT EXISTS {q(SLOTS)} (
  "id"           TEXT NOT NULL PRIMARY KEY,
  "dayOfWeek"    INTEGER NOT NULL
                 CONSTRAINT "clinic_time_slots_dayOfWeek_check" CHECK ("dayOfWeek" BETWEEN 0 AND 6),
  "period"       TEXT NOT NULL
                 CONSTRAINT "clinic_time_slots_period_check"
                 CHECK ("period" IN ('MORNING', 'AFTERNOON')),
  "startTime"    TEXT NOT NULL CONSTRAINT "clinic_time_slots_startTime_check"
                 CHECK ("startTime" GLOB '[01][0-9]:[0-5][0-9]'
                        OR "startTime" GLOB '2[0-3]:[0-5][0-9]'),
  "endTime"      TEXT NOT NULL CONSTRAINT "clinic_time_slots_endTime_check"
                 CHECK ("endTime" GLOB '[01][0-9]:[0-5][0-9]'
                        OR "endTime" GLOB '2[0-3]:[0-5][0-9]'),
  "totalMinutes" INTEGER NOT NULL,
  "isActive"     INTEGER NOT NULL DEFAULT 1 CHECK ("isActive" IN (0, 1)),
  "createdAt"    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  "updatedAt"    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  CONSTRAINT "clinic_time_slots_totalMinutes_check"
    CHECK ("startTime" < "endTime" AND "totalMinutes" = {_MINUTES})
)"""

_SLOTS_INDEXES = (
    f'CREATE UNIQUE INDEX IF NOT EXISTS "clinic_time_slots_dayOfWeek_period_key" '
    f'ON {q(SLOTS)} ("dayOfWeek", "period")',
    f'CREATE INDEX IF NOT EXISTS "clinic_time_slots_isActive_idx" ON {q(SLOTS)} ("isActive")',
)

# The clinic's closures and capacity overrides by date (docs/capacity.md, "Closures and
# overrides"). "startDate"/"endDate" use the type of reservations."preferredDate" (DATE on
# PostgreSQL, ISO 'YYYY-MM-DD' TEXT on SQLite); "period" NULL = the whole day; "rrule" an
# RFC 5545 RRULE without DTSTART (DTSTART = "startDate"); "capacityMinutes" NULL = closed.
_CLOSURES = {
    Dialect.POSTGRES: f"""CREATE TABLE IF NOT EXISTS {q(CLOSURES)} (
  "id"              TEXT PRIMARY KEY,
  "startDate"       DATE NOT NULL,
  "endDate"         DATE,
  "period"          {q(PERIOD_TYPE)},
  "rrule"           TEXT,
  "capacityMinutes" INTEGER,
  "reason"          TEXT NOT NULL,
  "createdAt"       TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT "clinic_closures_capacityMinutes_check" CHECK ("capacityMinutes" >= 0),
  CONSTRAINT "clinic_closures_endDate_check" CHECK ("endDate" >= "startDate")
)""",
    Dialect.SQLITE: f"""CREATE TABLE IF NOT EXISTS {q(CLOSURES)} (
  "id"              TEXT NOT NULL PRIMARY KEY,
  "startDate"       TEXT NOT NULL,
  "endDate"         TEXT,
  "period"          TEXT CONSTRAINT "clinic_closures_period_check"
                    CHECK ("period" IS NULL OR "period" IN ('MORNING', 'AFTERNOON')),
  "rrule"           TEXT,
  "capacityMinutes" INTEGER,
  "reason"          TEXT NOT NULL,
  "createdAt"       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  CONSTRAINT "clinic_closures_capacityMinutes_check" CHECK ("capacityMinutes" >= 0),
  CONSTRAINT "clinic_closures_endDate_check" CHECK ("endDate" >= "startDate")
)""",
}
_CLOSURES_INDEX = (
    f'CREATE INDEX IF NOT EXISTS "clinic_closures_startDate_idx" ON {q(CLOSURES)} ("startDate")'
)

#: The clinic's settings (key/value); phase 1 seeds the time zone.
_SETTINGS = {
    Dialect.POSTGRES: f"""CREATE TABLE IF NOT EXISTS {q(SETTINGS)} (
  "key"       TEXT PRIMARY KEY,
  "value"     TEXT NOT NULL,
  "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
)""",
    Dialect.SQLITE: f"""CREATE TABLE IF NOT EXISTS {q(SETTINGS)} (
  "key"       TEXT NOT NULL PRIMARY KEY,
  "value"     TEXT NOT NULL,
  "updatedAt" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)""",
}
#: The seeded clinic time zone (an IANA name).
DEFAULT_TIME_ZONE = "Asia/Seoul"
# The seeds write their time stamps as UTC (ddl/utc.py): a CURRENT_TIMESTAMP default
# would store the session's local time, not Prisma's (and slotcap's stores') UTC.
_SEED_SETTINGS = (
    f'INSERT INTO {q(SETTINGS)} ("key", "value", "updatedAt") VALUES (%s, %s, {{now}}) '  # noqa: S608
    "ON CONFLICT DO NOTHING"
)

# The journal of rows whose new columns the toolkit (backfill, review import) filled,
# so that rolling back phase 2 undoes exactly those and never a dual-written row.
# "columns" names the new columns the toolkit filled on the row (comma-separated, e.g.
# "serviceId,serviceName,estimatedDuration"); the rollback NULLs only those, keeping
# what the dual-writing application wrote on the same row. NULL (a journal written
# before the column existed) means all four.
_JOURNAL = {
    Dialect.POSTGRES: f"""CREATE TABLE IF NOT EXISTS {q(JOURNAL)} (
  "reservationId" TEXT PRIMARY KEY,
  "source"        TEXT NOT NULL,
  "recordedAt"    TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "columns"       TEXT
)""",
    Dialect.SQLITE: f"""CREATE TABLE IF NOT EXISTS {q(JOURNAL)} (
  "reservationId" TEXT NOT NULL PRIMARY KEY,
  "source"        TEXT NOT NULL,
  "recordedAt"    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  "columns"       TEXT
)""",
}

# Identifiers are constants and every value is bound (the S608 noqa below).
_SEED_SERVICES = (
    f'INSERT INTO {q(SERVICES)} ("id", "code", "name", "nameEn", "description", "category", '  # noqa: S608
    '"durationMinutes", "bufferMinutes", "basePrice", "isActive", "isVisible", "displayOrder", '
    '"createdAt", "updatedAt") '
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, {now}, {now}) ON CONFLICT DO NOTHING"
)
_SEED_SLOTS = (
    f'INSERT INTO {q(SLOTS)} ("id", "dayOfWeek", "period", "startTime", "endTime", '  # noqa: S608
    '"totalMinutes", "isActive", "createdAt", "updatedAt") '
    "VALUES (%s, %s, %s, %s, %s, %s, %s, {now}, {now}) ON CONFLICT DO NOTHING"
)


def _seed(conn: SqlConnection) -> None:
    # ON CONFLICT DO NOTHING without a target also skips a (dayOfWeek, period) the clinic
    # already configured under another id: a re-run never overwrites the clinic's hours.
    conn.execute_many(
        _SEED_SERVICES.format(now=UTC_NOW[conn.dialect]),
        [
            (s.id, s.code, s.name, s.name_en, s.description, s.category, s.duration_minutes,
             s.buffer_minutes, s.base_price, s.is_active, s.is_visible, s.display_order)
            for s in DEFAULT_SERVICES
        ],
    )
    conn.execute_many(
        _SEED_SLOTS.format(now=UTC_NOW[conn.dialect]),
        [
            (s.id, s.day_of_week, s.period.value, f"{s.start_time:%H:%M}",
             f"{s.end_time:%H:%M}", s.total_minutes, s.is_active)
            for s in DEFAULT_TIME_SLOTS
        ],
    )


def create_new_tables(conn: SqlConnection) -> None:
    """Tables nobody else uses yet: no lock contention, one transaction."""
    pg_side = conn.dialect is Dialect.POSTGRES
    if pg_side and not pg.type_exists(conn, PERIOD_TYPE):
        conn.execute(f"CREATE TYPE {q(PERIOD_TYPE)} AS ENUM ('MORNING', 'AFTERNOON')")
    conn.execute(_SERVICES_PG if pg_side else _SERVICES_SQLITE)
    for stmt in _SERVICES_INDEXES:
        conn.execute(stmt)
    conn.execute(_SLOTS_PG if pg_side else _SLOTS_SQLITE)
    for stmt in _SLOTS_INDEXES:
        conn.execute(stmt)
    create_clinic_tables(conn)
    conn.execute(_JOURNAL[conn.dialect])
    if "columns" not in conn.columns(JOURNAL):  # a journal from before "columns" existed
        conn.execute(f'ALTER TABLE {q(JOURNAL)} ADD COLUMN "columns" TEXT')
    create_state_table(conn)
    _seed(conn)


def create_clinic_tables(conn: SqlConnection) -> None:
    """``clinic_closures``, ``clinic_settings`` (seeded) and the shadow tables, idempotent. Part of
    :func:`create_new_tables`; also run alone by ``migrate`` on a database that reached
    phase 1 before these tables existed (see ``phases._add_clinic_tables``)."""
    conn.execute(_CLOSURES[conn.dialect])
    conn.execute(_CLOSURES_INDEX)
    conn.execute(_SETTINGS[conn.dialect])
    for stmt in SHADOW_DDL[conn.dialect]:
        conn.execute(stmt)
    conn.execute(_SEED_SETTINGS.format(now=UTC_NOW[conn.dialect]),
                 ("timeZone", DEFAULT_TIME_ZONE))


def new_reservation_columns_sql(dialect: Dialect) -> dict[str, str]:
    """Column definitions (after ADD COLUMN) of the four new reservation columns.

    SQLite carries its FK and CHECKs inline (it cannot add constraints later; an
    ADD COLUMN with REFERENCES is allowed because the default is NULL). PostgreSQL adds
    them separately as NOT VALID so that no statement scans under a strong lock.
    """
    if dialect is Dialect.POSTGRES:
        return {
            "serviceId": '"serviceId" TEXT',
            "serviceName": '"serviceName" TEXT',
            "estimatedDuration": '"estimatedDuration" INTEGER',
            "period": f'"period" {q(PERIOD_TYPE)}',
        }
    return {
        "serviceId": f'"serviceId" TEXT CONSTRAINT {q(FK_SERVICE)} '
        f'REFERENCES {q(SERVICES)} ("id") ON DELETE RESTRICT',
        "serviceName": '"serviceName" TEXT',
        "estimatedDuration": f'"estimatedDuration" INTEGER CONSTRAINT {q(CK_DURATION)} '
        'CHECK ("estimatedDuration" >= 0)',
        "period": f'"period" TEXT CONSTRAINT {q(CK_PERIOD)} '
        "CHECK (\"period\" IS NULL OR \"period\" IN ('MORNING', 'AFTERNOON'))",
    }


