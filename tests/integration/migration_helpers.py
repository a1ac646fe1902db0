"""Shared helpers of the migration toolkit's tests (phases, validation, live traffic)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from slotcap.sql import SqlConnection

__all__ = [
    "DUAL_INSERT",
    "LEGACY_INSERT",
    "READABLE_TIMES",
    "all_rows",
    "dual_insert",
    "legacy_checksum",
    "legacy_insert",
    "seed_legacy",
]

#: The legacy application's INSERT, verbatim from the reference DDL's comment (with
#: the id, date, time and service bound).
LEGACY_INSERT = (
    'INSERT INTO "reservations" ("id","patientName","phone","birthDate","gender",'
    '"treatmentType","preferredDate","preferredTime","service","updatedAt") '
    "VALUES (%s,'Test Patient','010-1234-5678','1990-01-01','FEMALE','FIRST_VISIT',"
    "%s,%s,%s,CURRENT_TIMESTAMP)"
)

#: What the phase-3 application writes: old and new columns.
DUAL_INSERT = (
    'INSERT INTO "reservations" ("id","patientName","phone","birthDate","gender",'
    '"treatmentType","preferredDate","preferredTime","service","updatedAt",'
    '"serviceId","serviceName","estimatedDuration","period") '
    "VALUES (%s,'Dual Writer','010-0000-0000','1985-05-05','MALE','FOLLOW_UP',"
    "%s,%s,%s,CURRENT_TIMESTAMP,%s,%s,%s,%s)"
)

#: preferredTime values every reasonable reading agrees on (no review needed).
READABLE_TIMES = ("09:00", "10:30", "14:00", "16:30", "9:00 AM", "3:00 PM", "오전 10시",
                  "오후 3시", "11:00")
_CODES = ("WRINKLE_BOTOX", "VOLUME_LIFTING", "SKIN_CARE", "REMOVAL_PROCEDURE", "BODY_CARE",
          "OTHER_CONSULTATION")


def legacy_insert(conn: SqlConnection, rid: str, day: str = "2025-12-01",
                  time_text: str = "10:00", code: str = "WRINKLE_BOTOX") -> None:
    conn.execute(LEGACY_INSERT, (rid, day, time_text, code))


def dual_insert(conn: SqlConnection, rid: str, *, period: str = "AFTERNOON",
                code: str = "SKIN_CARE") -> None:
    name, minutes = {"SKIN_CARE": ("피부케어", 70), "WRINKLE_BOTOX": ("주름/보톡스", 40)}[code]
    conn.execute(
        DUAL_INSERT,
        (rid, "2025-12-02", "14:00" if period == "AFTERNOON" else "09:00", code,
         f"srv_{code.lower()}", name, minutes, period),
    )


def seed_legacy(conn: SqlConnection, n: int, *, prefix: str = "r",
                times: tuple[str, ...] = READABLE_TIMES) -> list[str]:
    """``n`` legacy rows with varied services, dates and readable time formats; also the
    six limit rows the legacy app has."""
    ids = [f"{prefix}_{i:06d}" for i in range(n)]
    start = dt.date(2025, 12, 1)
    with conn.transaction():
        conn.execute_many(
            LEGACY_INSERT,
            [
                (rid, (start + dt.timedelta(days=i % 30)).isoformat(), times[i % len(times)],
                 _CODES[i % len(_CODES)])
                for i, rid in enumerate(ids)
            ],
        )
        if not conn.scalar('SELECT count(*) FROM "service_reservation_limits"'):
            conn.execute_many(
                'INSERT INTO "service_reservation_limits" ("id","serviceType","dailyLimit",'
                '"isActive","updatedAt") VALUES (%s,%s,%s,%s,CURRENT_TIMESTAMP)',
                [(f"lim_{c.lower()}", c, 5 + i, i != 5) for i, c in enumerate(_CODES)],
            )
    return ids


def all_rows(conn: SqlConnection, table: str) -> list[dict[str, Any]]:
    """Every row as {column: text}, ordered by the first key column — independent of the
    physical column order (which PostgreSQL cannot restore after phase 4's rollback)."""
    cols = sorted(conn.columns(table))
    key = "id" if "id" in cols else cols[0]
    select = ", ".join(f'CAST("{c}" AS TEXT)' for c in cols)
    rows = conn.execute(f'SELECT {select} FROM "{table}" ORDER BY "{key}"')
    return [dict(zip(cols, r, strict=True)) for r in rows]


def legacy_checksum(conn: SqlConnection) -> str:
    """Hash of (id, service, preferredTime) of every reservation."""
    digest = hashlib.sha256()
    for rid, service, time_text in conn.execute(
        'SELECT "id", CAST("service" AS TEXT), "preferredTime" FROM "reservations" ORDER BY "id"'
    ):
        digest.update(f"{rid}\x1f{service}\x1f{time_text}\x1e".encode())
    return digest.hexdigest()
