"""Phase 4, contract: archive, require the new columns, drop the legacy schema.

The PostgreSQL steps live in :mod:`slotcap.migration.transitions.postgres`
(``phase2->phase4``): archive tables, a trigger that keeps the legacy archive in sync,
the batched copy and a verification without the strong lock, the NOT NULL recipe
(``CHECK … NOT VALID`` → ``VALIDATE`` → ``SET NOT NULL`` proven from the checks), the
index swaps concurrently, and a final catalogue-only transaction that drops the
trigger, the two columns, the limits table and the enum.

SQLite cannot drop NOT NULL columns' neighbours or add NOT NULL in place, so it uses
the documented 12-step table rebuild, in one IMMEDIATE transaction
(:func:`contract_sqlite`). Shared here: the contracted column list and the helper
checks' names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slotcap.errors import MigrationError
from slotcap.migration.ddl import archive as archive
from slotcap.migration.ddl.ledger import contract_ledger, create_ledger
from slotcap.migration.ddl.names import (
    CK_DURATION,
    CK_PERIOD,
    FINAL_INDEXES,
    FK_SERVICE,
    IDX_HELD,
    IDX_HELD_CONTRACTED,
    IDX_LEGACY_SERVICE,
    LEGACY_ONLY_COLUMNS,
    LIMITS,
    NEW_COLUMNS,
    RESERVATIONS_TABLE,
    SERVICES,
    q,
)
from slotcap.migration.ddl.phase2 import held_index_sql
from slotcap.sql import Dialect, SqlConnection

__all__ = ["CONTRACTED_COLUMNS", "contract_sqlite", "not_null_check_name"]

Progress = Callable[[str], None]

_NEW_TABLE = "reservations__slotcap_new"

#: reservations after phase 4, in order (SQLite rebuild; also the set PostgreSQL must have).
CONTRACTED_COLUMNS = (
    "id", "patientName", "phone", "email", "birthDate", "gender", "treatmentType",
    "preferredDate", "status", "notes", "adminNotes", "createdAt", "updatedAt",
    "statusChangedAt", "statusChangedBy", *NEW_COLUMNS,
)

_STATUS_VALUES = "'PENDING', 'CONFIRMED', 'CANCELLED', 'COMPLETED', 'NO_SHOW'"
_NOW = "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"

# The legacy columns exactly as the reference DDL declares them, minus the two removed,
# plus the new ones now NOT NULL with their constraints inline.
_CONTRACTED_SQLITE = f"""CREATE TABLE {q(_NEW_TABLE)} (
  "id"                TEXT NOT NULL PRIMARY KEY,
  "patientName"       TEXT NOT NULL,
  "phone"             TEXT NOT NULL,
  "email"             TEXT,
  "birthDate"         TEXT NOT NULL,
  "gender"            TEXT NOT NULL CHECK ("gender" IN ('MALE', 'FEMALE')),
  "treatmentType"     TEXT NOT NULL CHECK ("treatmentType" IN ('FIRST_VISIT', 'FOLLOW_UP')),
  "preferredDate"     TEXT NOT NULL,
  "status"            TEXT NOT NULL DEFAULT 'PENDING' CHECK ("status" IN ({_STATUS_VALUES})),
  "notes"             TEXT,
  "adminNotes"        TEXT,
  "createdAt"         TEXT NOT NULL DEFAULT {_NOW},
  "updatedAt"         TEXT NOT NULL,
  "statusChangedAt"   TEXT NOT NULL DEFAULT {_NOW},
  "statusChangedBy"   TEXT,
  "serviceId"         TEXT NOT NULL CONSTRAINT {q(FK_SERVICE)}
                      REFERENCES {q(SERVICES)} ("id") ON DELETE RESTRICT,
  "serviceName"       TEXT NOT NULL,
  "estimatedDuration" INTEGER NOT NULL CONSTRAINT {q(CK_DURATION)} CHECK ("estimatedDuration" >= 0),
  "period"            TEXT NOT NULL CONSTRAINT {q(CK_PERIOD)}
                      CHECK ("period" IN ('MORNING', 'AFTERNOON'))
)"""


def not_null_check_name(column: str) -> str:
    return f"slotcap_{column}_not_null"


def _final_index_sql(name: str, columns: tuple[str, ...], *, concurrently: bool) -> str:
    how = "CONCURRENTLY IF NOT EXISTS" if concurrently else "IF NOT EXISTS"
    return f"CREATE INDEX {how} {q(name)} ON {q(RESERVATIONS_TABLE)} ({q(*columns)})"


def _require_columns(conn: SqlConnection) -> bool:
    """Refuse to contract a table with columns slotcap does not know: a rebuild would
    drop them silently, and the rollback could not restore them. Returns whether the
    legacy columns are still there (False: an interrupted phase 4 is being resumed)."""
    have = conn.columns(RESERVATIONS_TABLE)
    expected = set(CONTRACTED_COLUMNS) | set(LEGACY_ONLY_COLUMNS)
    if have == set(CONTRACTED_COLUMNS):
        return False
    if have != expected:
        raise MigrationError(
            "phase 4 refused: reservations has unexpected columns "
            f"{sorted(have - expected)} / lacks {sorted(expected - have)}"
        )
    return True


def _null_counts(conn: SqlConnection) -> dict[str, int]:
    parts = ", ".join(f"count(*) - count({q(c)})" for c in NEW_COLUMNS)
    row = conn.execute(f"SELECT {parts} FROM {q(RESERVATIONS_TABLE)}")[0]  # noqa: S608
    return {c: int(n) for c, n in zip(NEW_COLUMNS, row, strict=True)}


# -- SQLite --------------------------------------------------------------------------------


def contract_sqlite(conn: SqlConnection) -> dict[str, Any]:
    """The whole SQLite contract, inside the caller's (IMMEDIATE) transaction."""
    # The ledger's per-service counts go with the legacy column, and its triggers with
    # the old table; its minutes stay, exact (this transaction holds every writer off).
    contract_ledger(conn)
    if not _require_columns(conn):
        create_ledger(conn)
        return {"note": "already contracted"}
    nulls = {c: n for c, n in _null_counts(conn).items() if n}
    if nulls:
        raise MigrationError(f"phase 4 refused: rows without new values {nulls}")
    archive.create_archive_tables(conn)
    copied, last = 0, ""
    while True:
        n, last = archive.archive_reservations_batch(conn, last, 5000)
        if not n:
            break
        copied += n
    limits = archive.archive_limits(conn)
    archive.record_contract(conn)
    # The exact CREATE text of every table and index removed or rebuilt, so that the
    # rollback recreates them byte for byte.
    saved = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name IN (%s, %s) "
        "AND sql IS NOT NULL ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, name",
        (RESERVATIONS_TABLE, LIMITS),
    )
    archive.save_schema_rows(
        conn, [(str(t), str(n), i, str(s)) for i, (t, n, _tb, s) in enumerate(saved)]
    )
    kept_indexes = [
        str(s) for t, n, tbl, s in saved
        if t == "index" and tbl == RESERVATIONS_TABLE and n not in (IDX_LEGACY_SERVICE, IDX_HELD)
    ]
    # The 12-step rebuild: new table, copy, drop, rename, indexes.
    conn.execute(_CONTRACTED_SQLITE)
    cols = q(*CONTRACTED_COLUMNS)
    conn.execute(
        f"INSERT INTO {q(_NEW_TABLE)} ({cols}) SELECT {cols} FROM {q(RESERVATIONS_TABLE)}"  # noqa: S608
    )
    conn.execute(f"DROP TABLE {q(RESERVATIONS_TABLE)}")
    conn.execute(f"ALTER TABLE {q(_NEW_TABLE)} RENAME TO {q(RESERVATIONS_TABLE)}")
    for sql in kept_indexes:
        conn.execute(sql)
    for name, columns in FINAL_INDEXES:
        conn.execute(_final_index_sql(name, columns, concurrently=False))
    # The held-rows index without the dropped "service" column.
    conn.execute(
        f"CREATE INDEX IF NOT EXISTS {q(IDX_HELD_CONTRACTED)} ON {q(RESERVATIONS_TABLE)} "
        + held_index_sql(Dialect.SQLITE, contracted=True)
    )
    conn.execute(f"DROP TABLE {q(LIMITS)}")
    broken = conn.execute("SELECT count(*) FROM pragma_foreign_key_check(%s)",
                          (RESERVATIONS_TABLE,))
    if broken[0][0]:
        raise MigrationError(f"phase 4: {broken[0][0]} reservation(s) reference no service")
    create_ledger(conn)  # the contracted triggers (and tables, if there were none)
    return {"archived_reservations": copied, "archived_limits": limits}


# -- PostgreSQL ----------------------------------------------------------------------------


