"""Bring a test database to a schema phase.

``expand(url)`` applies phase 1 through the migration toolkit
(``slotcap.migration.phases.migrate``), then builds the read indexes the phase-3
application reads with (``slotcap.migration.phases.create_read_indexes``: the toolkit
builds them in phase 2, after the backfill). Only if that module cannot be imported does it
apply a minimal phase-1 DDL of its own, of the shape agreed with the toolkit: the plan's
``services`` and ``clinic_time_slots`` (quoted camelCase), the four nullable reservation
columns, a native ``"Period"`` enum on PostgreSQL, and the two new indexes.
``contract(url)`` likewise goes to phase 4 (old columns, limits table and
``ServiceType`` gone; new columns NOT NULL).
"""

from __future__ import annotations

from slotcap.domain.defaults import DEFAULT_SERVICES, DEFAULT_TIME_SLOTS
from slotcap.sql import Dialect, SqlConnection, open_sql

__all__ = ["contract", "expand", "legacy_insert"]


def expand(url: str) -> None:
    """Phase 1 on a legacy database (created from the reference DDL), plus phase 2's
    read indexes (the plan's two reservation indexes and the held-rows partial index)
    and its ledger of held load."""
    try:
        from slotcap.migration.phases import create_read_indexes, migrate
    except ImportError:
        with open_sql(url) as conn:
            _fallback_phase1(conn)
        return
    from slotcap.migration.transitions.common import ensure_ledger

    migrate(url, to="phase1")
    with open_sql(url) as conn:
        create_read_indexes(conn)
        # Phase 2's ledger too (its triggers keep it from here on): the stores read
        # availability from it, as they do in phase 2 and 3.
        ensure_ledger(conn, lambda _line: None)


def contract(url: str) -> None:
    """Phase 4 on an expanded database whose rows all have their new columns filled."""
    try:
        from slotcap.migration.phases import migrate
    except ImportError:
        with open_sql(url) as conn:
            _fallback_phase4(conn)
        return
    migrate(url, to="phase4", confirm=True)


#: The legacy application's own INSERT, verbatim from the reference DDL's comment.
LEGACY_INSERT = (
    'INSERT INTO "reservations" ("id","patientName","phone","birthDate","gender",'
    '"treatmentType","preferredDate","preferredTime","service","updatedAt") '
    "VALUES (%s,'Test Patient','010-1234-5678','1990-01-01','FEMALE','FIRST_VISIT',"
    "%s,%s,%s,CURRENT_TIMESTAMP)"
)


def legacy_insert(
    conn: SqlConnection, rid: str, day: str, time_text: str = "10:00", code: str = "WRINKLE_BOTOX"
) -> None:
    """Insert a reservation exactly as the legacy application does (old columns only)."""
    conn.execute(LEGACY_INSERT, (rid, day, time_text, code))


# -- fallback DDL (used only while slotcap.migration is absent) ---------------------------

_BOOL = {Dialect.POSTGRES: "BOOLEAN", Dialect.SQLITE: "INTEGER"}
_TS = {Dialect.POSTGRES: "TIMESTAMP(3)", Dialect.SQLITE: "TEXT"}
_NOW = {
    Dialect.POSTGRES: "CURRENT_TIMESTAMP",
    Dialect.SQLITE: "(strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now'))",
}


def _fallback_phase1(conn: SqlConnection) -> None:
    d = conn.dialect
    pg = d is Dialect.POSTGRES
    period = '"Period"' if pg else "TEXT CHECK (\"period\" IN ('MORNING', 'AFTERNOON'))"
    true = "true" if pg else "1"
    with conn.transaction():
        if pg:
            conn.execute("""CREATE TYPE "Period" AS ENUM ('MORNING', 'AFTERNOON')""")
        conn.execute(f"""CREATE TABLE "services" (
          "id" TEXT PRIMARY KEY, "code" TEXT UNIQUE NOT NULL, "name" TEXT NOT NULL,
          "nameEn" TEXT, "description" TEXT, "category" TEXT,
          "durationMinutes" INTEGER NOT NULL DEFAULT 30,
          "bufferMinutes" INTEGER NOT NULL DEFAULT 10, "basePrice" INTEGER,
          "isActive" {_BOOL[d]} NOT NULL DEFAULT {true},
          "isVisible" {_BOOL[d]} NOT NULL DEFAULT {true},
          "displayOrder" INTEGER NOT NULL DEFAULT 0,
          "createdAt" {_TS[d]} NOT NULL DEFAULT {_NOW[d]},
          "updatedAt" {_TS[d]} NOT NULL DEFAULT {_NOW[d]}, "deletedAt" {_TS[d]})""")
        conn.execute(f"""CREATE TABLE "clinic_time_slots" (
          "id" TEXT PRIMARY KEY, "dayOfWeek" INTEGER NOT NULL CHECK ("dayOfWeek" BETWEEN 0 AND 6),
          "period" {period} NOT NULL, "startTime" TEXT NOT NULL, "endTime" TEXT NOT NULL,
          "totalMinutes" INTEGER NOT NULL, "isActive" {_BOOL[d]} NOT NULL DEFAULT {true},
          "createdAt" {_TS[d]} NOT NULL DEFAULT {_NOW[d]},
          "updatedAt" {_TS[d]} NOT NULL DEFAULT {_NOW[d]})""")
        conn.execute(
            'CREATE UNIQUE INDEX "clinic_time_slots_dayOfWeek_period_key" '
            'ON "clinic_time_slots" ("dayOfWeek", "period")'
        )
        for column, kind in (
            ("serviceId", 'TEXT REFERENCES "services" ("id")'),
            ("serviceName", "TEXT"),
            ("estimatedDuration", "INTEGER"),
            ("period", period),
        ):
            conn.execute(f'ALTER TABLE "reservations" ADD COLUMN "{column}" {kind}')
        include = ' INCLUDE ("estimatedDuration")' if pg else ""
        extra = "" if pg else ', "estimatedDuration"'
        conn.execute(
            'CREATE INDEX "reservations_preferredDate_period_status_idx" ON "reservations" '
            f'("preferredDate", "period", "status"{extra}){include}'
        )
        conn.execute(
            'CREATE INDEX "reservations_serviceId_preferredDate_status_idx" '
            'ON "reservations" ("serviceId", "preferredDate", "status")'
        )
        _seed(conn)


def _seed(conn: SqlConnection) -> None:
    def flag(value: bool) -> object:
        return value if conn.is_postgres else int(value)

    conn.execute_many(
        'INSERT INTO "services" ("id", "code", "name", "nameEn", "durationMinutes", '
        '"bufferMinutes", "isActive", "displayOrder") VALUES (%s, %s, %s, %s, %s, %s, %s, %s)',
        [
            (s.id, s.code, s.name, s.name_en, s.duration_minutes, s.buffer_minutes,
             flag(s.is_active), s.display_order)
            for s in DEFAULT_SERVICES
        ],
    )
    conn.execute_many(
        'INSERT INTO "clinic_time_slots" ("id", "dayOfWeek", "period", "startTime", '
        '"endTime", "totalMinutes", "isActive") VALUES (%s, %s, %s, %s, %s, %s, %s)',
        [
            (t.id, t.day_of_week, t.period.value, f"{t.start_time:%H:%M}", f"{t.end_time:%H:%M}",
             t.total_minutes, flag(t.is_active))
            for t in DEFAULT_TIME_SLOTS
        ],
    )


def _fallback_phase4(conn: SqlConnection) -> None:
    pg = conn.is_postgres
    with conn.transaction():
        conn.execute('DROP INDEX IF EXISTS "reservations_preferredDate_service_status_idx"')
        conn.execute('ALTER TABLE "reservations" DROP COLUMN "service"')
        conn.execute('ALTER TABLE "reservations" DROP COLUMN "preferredTime"')
        conn.execute('DROP TABLE "service_reservation_limits"')
        if pg:
            conn.execute('DROP TYPE "ServiceType"')
            for column in ("serviceId", "serviceName", "estimatedDuration", "period"):
                conn.execute(f'ALTER TABLE "reservations" ALTER COLUMN "{column}" SET NOT NULL')
