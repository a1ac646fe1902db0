"""Phase 4, contract: archive, require the new columns, drop the legacy schema.

PostgreSQL, in steps that never hold a strong lock for long:

1. archive the limits table, the enum labels and the old index definition; copy
   (id, service, preferredTime) of every reservation in keyset batches;
2. NOT NULL on the four new columns: ``CHECK (col IS NOT NULL) NOT VALID`` →
   ``VALIDATE`` (no write blocking) → ``SET NOT NULL`` (PG 12+ uses the validated
   check: no scan under ACCESS EXCLUSIVE) → drop the helper checks;
3. ``DROP INDEX CONCURRENTLY`` the old (preferredDate, service, status) index; the
   held-rows partial index, which covers "service", is rebuilt without it first
   (``IDX_HELD_CONTRACTED``) — DROP COLUMN would otherwise drop it silently;
4. one short transaction: final archive catch-up of rows written since step 1, drop
   the two columns (catalog-only), the limits table and the ``"ServiceType"`` enum —
   without CASCADE, so an unknown dependent fails the step instead of vanishing;
5. the plan's 4.5 indexes CONCURRENTLY, then ANALYZE.

SQLite cannot drop NOT NULL columns' neighbours or add NOT NULL in place, so it uses
the documented 12-step table rebuild, in one IMMEDIATE transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from slotcap.errors import MigrationError
from slotcap.migration import _ddl_archive as archive
from slotcap.migration import _ddl_pg as pg
from slotcap.migration._ddl_names import (
    CK_DURATION,
    CK_PERIOD,
    FINAL_INDEXES,
    FK_SERVICE,
    IDX_HELD,
    IDX_HELD_CONTRACTED,
    IDX_LEGACY_SERVICE,
    LEGACY_COLUMNS,
    LIMITS,
    NEW_COLUMNS,
    RESERVATIONS,
    SERVICE_TYPE,
    SERVICES,
    SLOTS,
    q,
)
from slotcap.migration._ddl_phase2 import held_index_sql
from slotcap.sqldb import Dialect, SqlConnection

__all__ = ["CONTRACTED_COLUMNS", "apply_phase4", "contract_sqlite", "not_null_check_name"]

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


#: Timings of the last PostgreSQL contract, reported in the phase's step detail.
_LAST_TIMINGS: dict[str, float] = {}


def not_null_check_name(column: str) -> str:
    return f"slotcap_{column}_not_null"


def _final_index_sql(name: str, columns: tuple[str, ...], *, concurrently: bool) -> str:
    how = "CONCURRENTLY IF NOT EXISTS" if concurrently else "IF NOT EXISTS"
    return f"CREATE INDEX {how} {q(name)} ON {q(RESERVATIONS)} ({q(*columns)})"


def _require_columns(conn: SqlConnection) -> bool:
    """Refuse to contract a table with columns slotcap does not know: a rebuild would
    drop them silently, and the rollback could not restore them. Returns whether the
    legacy columns are still there (False: an interrupted phase 4 is being resumed)."""
    have = conn.columns(RESERVATIONS)
    expected = set(CONTRACTED_COLUMNS) | set(LEGACY_COLUMNS)
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
    row = conn.execute(f"SELECT {parts} FROM {q(RESERVATIONS)}")[0]  # noqa: S608
    return {c: int(n) for c, n in zip(NEW_COLUMNS, row, strict=True)}


# -- SQLite --------------------------------------------------------------------------------


def contract_sqlite(conn: SqlConnection) -> dict[str, Any]:
    """The whole SQLite contract, inside the caller's (IMMEDIATE) transaction."""
    if not _require_columns(conn):
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
        (RESERVATIONS, LIMITS),
    )
    archive.save_schema_rows(
        conn, [(str(t), str(n), i, str(s)) for i, (t, n, _tb, s) in enumerate(saved)]
    )
    kept_indexes = [
        str(s) for t, n, tbl, s in saved
        if t == "index" and tbl == RESERVATIONS and n not in (IDX_LEGACY_SERVICE, IDX_HELD)
    ]
    # The 12-step rebuild: new table, copy, drop, rename, indexes.
    conn.execute(_CONTRACTED_SQLITE)
    cols = q(*CONTRACTED_COLUMNS)
    conn.execute(
        f"INSERT INTO {q(_NEW_TABLE)} ({cols}) SELECT {cols} FROM {q(RESERVATIONS)}"  # noqa: S608
    )
    conn.execute(f"DROP TABLE {q(RESERVATIONS)}")
    conn.execute(f"ALTER TABLE {q(_NEW_TABLE)} RENAME TO {q(RESERVATIONS)}")
    for sql in kept_indexes:
        conn.execute(sql)
    for name, columns in FINAL_INDEXES:
        conn.execute(_final_index_sql(name, columns, concurrently=False))
    # The held-rows index without the dropped "service" column.
    conn.execute(
        f"CREATE INDEX IF NOT EXISTS {q(IDX_HELD_CONTRACTED)} ON {q(RESERVATIONS)} "
        + held_index_sql(Dialect.SQLITE, contracted=True)
    )
    conn.execute(f"DROP TABLE {q(LIMITS)}")
    broken = conn.execute("SELECT count(*) FROM pragma_foreign_key_check(%s)", (RESERVATIONS,))
    if broken[0][0]:
        raise MigrationError(f"phase 4: {broken[0][0]} reservation(s) reference no service")
    return {"archived_reservations": copied, "archived_limits": limits}


def _apply_sqlite(conn: SqlConnection, progress: Progress) -> dict[str, Any]:
    with conn.transaction():
        detail = contract_sqlite(conn)
    conn.execute("ANALYZE")
    progress(f"phase4: archived {detail.get('archived_reservations', 0)} reservations; "
             "table rebuilt")
    return detail


# -- PostgreSQL ----------------------------------------------------------------------------


def _archive_postgres(conn: SqlConnection, progress: Progress, batch: int) -> tuple[int, Any]:
    def prepare(c: SqlConnection) -> Any:
        archive.create_archive_tables(c)
        archive.archive_limits(c)
        labels = c.execute(
            "SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
            "JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE t.typname = %s AND n.nspname = current_schema() ORDER BY e.enumsortorder",
            (SERVICE_TYPE,),
        )
        archive.save_schema_rows(
            c, [("enum", SERVICE_TYPE, i, str(r[0])) for i, r in enumerate(labels)]
        )
        return archive.updated_mark(c)

    mark = pg.locked(conn, prepare, what="create archive tables")
    copied, last = 0, ""
    while True:
        # One short transaction per batch: row reads, no table lock held between.
        with conn.transaction():
            n, last = archive.archive_reservations_batch(conn, last, batch)
        if not n:
            break
        copied += n
    # A first catch-up without any lock, so that the one under the lock is tiny.
    with conn.transaction():
        next_mark = archive.updated_mark(conn)
        caught_up = archive.archive_reservations_since(conn, mark)
    progress(f"phase4: archived {copied} reservations (+{caught_up} caught up, no lock)")
    return copied, next_mark


def _set_not_null_postgres(conn: SqlConnection, progress: Progress) -> None:
    checks = {c: not_null_check_name(c) for c in NEW_COLUMNS}
    pg.add_not_null_checks(conn, RESERVATIONS, checks, what="add NOT NULL helper checks")
    try:
        for name in checks.values():
            pg.validate_constraint(conn, RESERVATIONS, name)
    except Exception as exc:
        # A NULL slipped in (a legacy writer is still live): take the helper checks away
        # again, so that nothing stays half-contracted, and say why.
        pg.drop_constraints(
            conn, RESERVATIONS, checks.values(), what="drop NOT NULL helper checks"
        )
        raise MigrationError(
            f"phase 4: a new column still has NULLs ({type(exc).__name__}); is every "
            "writer dual-writing? Run the catch-up backfill and retry"
        ) from exc

    pg.set_not_null(conn, RESERVATIONS, checks, what="set NOT NULL on the new columns")
    progress("phase4: new columns NOT NULL (validated checks, no scan under the lock)")


def _apply_postgres(conn: SqlConnection, progress: Progress, batch: int) -> dict[str, Any]:
    started = time.monotonic()
    copied = caught_up = 0
    if _require_columns(conn):
        copied, caught_up = _contract_postgres(conn, progress, batch)
    for name, columns in FINAL_INDEXES:
        pg.create_index_concurrently(conn, name, RESERVATIONS, f"({q(*columns)})")
    _replace_held_index(conn)  # resuming an interrupted contract: make sure
    for table in (RESERVATIONS, SERVICES, SLOTS):
        conn.execute(f"ANALYZE {q(table)}")
    progress("phase4: final indexes built, tables analysed")
    return {
        "archived_reservations": copied,
        "caught_up": caught_up,
        "seconds": round(time.monotonic() - started, 3),
        **_LAST_TIMINGS,
    }


def _replace_held_index(conn: SqlConnection) -> None:
    """Phase 2's held-rows index covers "service", and DROP COLUMN would drop it with
    the column: build the contracted shape first (concurrently, while the old one still
    serves the calendar), then drop the old one concurrently."""
    pg.create_index_concurrently(
        conn, IDX_HELD_CONTRACTED, RESERVATIONS, held_index_sql(Dialect.POSTGRES, contracted=True)
    )
    pg.drop_index_concurrently(conn, IDX_HELD)


def _contract_postgres(conn: SqlConnection, progress: Progress, batch: int) -> tuple[int, int]:
    copied, mark = _archive_postgres(conn, progress, batch)
    _set_not_null_postgres(conn, progress)
    pg.drop_index_concurrently(conn, IDX_LEGACY_SERVICE)
    _replace_held_index(conn)

    def contract(c: SqlConnection) -> int:
        # ACCESS EXCLUSIVE first (the DROP COLUMN needs it anyway): from here on no row
        # can be written, so the catch-up and the count below see the final table and
        # the archive is complete when the columns go. Taking it later (at the DROP)
        # would let inserts slip in between the catch-up and the drop.
        c.execute(f"LOCK TABLE {q(RESERVATIONS)} IN ACCESS EXCLUSIVE MODE")
        caught_up = 0
        if c.columns(RESERVATIONS) >= set(LEGACY_COLUMNS):
            caught_up = archive.archive_reservations_since(c, mark)
        if LIMITS in c.tables():
            archive.archive_limits(c)
        counts = archive.record_contract(c)
        if counts["archived"] != counts["reservations"]:
            raise MigrationError(f"phase 4: the archive is incomplete ({counts}); nothing dropped")
        c.execute(
            f"ALTER TABLE {q(RESERVATIONS)} "
            + ", ".join(f"DROP COLUMN IF EXISTS {q(col)}" for col in LEGACY_COLUMNS)
        )
        c.execute(f"DROP TABLE IF EXISTS {q(LIMITS)}")
        c.execute(f"DROP TYPE IF EXISTS {q(SERVICE_TYPE)}")
        return caught_up

    locked_at = time.monotonic()
    caught_up = pg.locked(conn, contract, what="drop legacy columns, limits table and enum")
    # Includes any lock waits and retries; an upper bound of the writers' pause.
    _LAST_TIMINGS["contract_transaction_seconds"] = round(time.monotonic() - locked_at, 3)
    progress(f"phase4: legacy schema dropped ({caught_up} rows caught up in the archive)")
    return copied, caught_up


def apply_phase4(conn: SqlConnection, progress: Progress, *, batch: int = 5000) -> dict[str, Any]:
    if conn.dialect is Dialect.POSTGRES:
        return _apply_postgres(conn, progress, batch)
    return _apply_sqlite(conn, progress)
