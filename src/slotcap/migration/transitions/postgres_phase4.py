"""PostgreSQL's phase 4 and its rollback, step by step (the table is in
:mod:`slotcap.migration.transitions.postgres`).

Phase 4 installs a trigger that keeps the legacy archive in sync before its batched
copy starts, so its final transaction has nothing left to copy or count; NOT NULL is
set from validated ``CHECK (col IS NOT NULL)`` constraints (no scan under the lock).
Its rollback re-creates the legacy columns, refills them from the archive in batches
and sets them NOT NULL the same way. Every step is idempotent and tolerates any
partial state of its counterpart.
"""

from __future__ import annotations

from slotcap.errors import MigrationError
from slotcap.migration.ddl import archive, ledger
from slotcap.migration.ddl import postgres as pg
from slotcap.migration.ddl import rollback as rb
from slotcap.migration.ddl.names import (
    ARCHIVE_LEGACY,
    ARCHIVE_SCHEMA,
    FINAL_INDEXES,
    IDX_HELD,
    IDX_HELD_CONTRACTED,
    IDX_LEGACY_SERVICE,
    LEGACY_ONLY_COLUMNS,
    LIMITS,
    NEW_COLUMNS,
    RESERVATIONS_TABLE,
    SERVICE_TYPE,
    SERVICES,
    SLOTS,
    q,
)
from slotcap.migration.ddl.phase2 import held_index_sql
from slotcap.migration.ddl.phase4 import not_null_check_name
from slotcap.migration.engine.steps import Step, StepContext
from slotcap.migration.state import Phase
from slotcap.migration.transitions.common import (
    check_step,
    create_ledger_step,
    fill_ledger_step,
)
from slotcap.sql import Dialect, SqlConnection

__all__ = ["ARCHIVE_TRIGGER", "CONTRACT_STEPS", "RESTORE_STEPS"]

#: The trigger (and its function) that keeps the legacy archive in sync during phase 4.
ARCHIVE_TRIGGER = "slotcap_archive_legacy_sync"

_R = q(RESERVATIONS_TABLE)


# -- phase2 -> phase4 ----------------------------------------------------------------------


def _refill_legacy(conn: SqlConnection, ctx: StepContext) -> None:
    """After a phase-4 rollback that stopped midway, some legacy values may still be
    NULL: write them back from the archive first (nothing to do otherwise)."""
    flags = pg.not_null_flags(conn, LEGACY_ONLY_COLUMNS)
    if len(flags) < len(LEGACY_ONLY_COLUMNS) or all(flags.values()):
        return
    if ARCHIVE_LEGACY not in conn.tables():
        return
    _refill(conn, ctx)
    rb.fill_remaining_pg(conn)


def _archive_tables(conn: SqlConnection, ctx: StepContext) -> None:
    archive.create_archive_tables(conn)
    if LIMITS in conn.tables():
        archive.archive_limits(conn)
    if pg.type_exists(conn, SERVICE_TYPE):
        labels = conn.execute(
            "SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
            "JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE t.typname = %s AND n.nspname = current_schema() ORDER BY e.enumsortorder",
            (SERVICE_TYPE,),
        )
        archive.save_schema_rows(
            conn, [("enum", SERVICE_TYPE, i, str(r[0])) for i, r in enumerate(labels)]
        )


_A = q(ARCHIVE_LEGACY)
_T = q(ARCHIVE_TRIGGER)

_TRIGGER_FUNCTION = f"""CREATE OR REPLACE FUNCTION {_T}() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $body$
BEGIN
  IF NEW."service" IS NOT NULL AND NEW."preferredTime" IS NOT NULL THEN
    INSERT INTO {_A} ("id", "service", "preferredTime")
    VALUES (NEW."id", CAST(NEW."service" AS TEXT), NEW."preferredTime")
    ON CONFLICT ("id") DO UPDATE SET "service" = excluded."service",
      "preferredTime" = excluded."preferredTime"
    WHERE {_A}."service" IS DISTINCT FROM excluded."service"
       OR {_A}."preferredTime" IS DISTINCT FROM excluded."preferredTime";
  END IF;
  RETURN NULL;
END
$body$"""  # noqa: S608 - identifiers from constants


def _contracted(conn: SqlConnection) -> bool:
    """The legacy columns are gone already: phase 4 is being re-entered after its
    rollback stopped before re-adding them, and the archive still holds every value."""
    return not set(LEGACY_ONLY_COLUMNS) & conn.columns(RESERVATIONS_TABLE)


def _archive_trigger(conn: SqlConnection, ctx: StepContext) -> None:
    if _contracted(conn):
        return
    # CREATE TRIGGER needs SHARE ROW EXCLUSIVE: readers go on, writers wait a moment.
    pg.lock_table(conn, "SHARE ROW EXCLUSIVE")
    conn.execute(_TRIGGER_FUNCTION)
    conn.execute(f"DROP TRIGGER IF EXISTS {_T} ON {_R}")
    conn.execute(
        f'CREATE TRIGGER {_T} AFTER INSERT OR UPDATE OF "id", "service", "preferredTime" '
        f"ON {_R} FOR EACH ROW EXECUTE FUNCTION {_T}()"
    )


def _archive_batches(conn: SqlConnection, ctx: StepContext) -> None:
    # DO NOTHING on conflict: a row the trigger archived is newer than this batch's
    # snapshot of it; the verification step catches every other difference.
    if _contracted(conn):
        return
    copied, last = 0, ""
    while True:
        with conn.transaction():
            rows = conn.execute(
                f'SELECT "id" FROM {_R} WHERE "id" > %s ORDER BY "id" LIMIT %s',  # noqa: S608
                (last, ctx.batch_size),
            )
            if rows:
                first, last = last, str(rows[-1][0])
                conn.execute(
                    f'INSERT INTO {_A} ("id", "service", "preferredTime") '  # noqa: S608
                    f'SELECT "id", CAST("service" AS TEXT), "preferredTime" FROM {_R} '
                    'WHERE "id" > %s AND "id" <= %s AND "service" IS NOT NULL '
                    'AND "preferredTime" IS NOT NULL ON CONFLICT ("id") DO NOTHING',
                    (first, last),
                )
        if not rows:
            break
        copied += len(rows)
        ctx.batch()
    ctx.detail["archived_reservations"] = copied
    ctx.progress(f"phase4: archived {copied} reservations in batches (trigger keeps it in sync)")


_MISMATCHED = (
    f"FROM {_R} r WHERE NOT EXISTS (SELECT 1 FROM {_A} a WHERE a.\"id\" = r.\"id\" "  # noqa: S608
    'AND a."service" = CAST(r."service" AS TEXT) AND a."preferredTime" = r."preferredTime")'
)


def _verify_archive(conn: SqlConnection, ctx: StepContext) -> None:
    """Without the strong lock: copy the rows the archive lacks or has stale, until a
    count finds none; from then on the trigger keeps it so. Recorded for phase 4's
    validation (``legacy_archive_complete``)."""
    if _contracted(conn):
        return
    fixed = 0
    for _attempt in range(5):
        missing = int(conn.scalar(f"SELECT count(*) {_MISMATCHED}") or 0)
        if not missing:
            break
        with conn.transaction():
            fixed += len(conn.execute(
                f'INSERT INTO {_A} ("id", "service", "preferredTime") '
                f'SELECT r."id", CAST(r."service" AS TEXT), r."preferredTime" {_MISMATCHED} '
                'ON CONFLICT ("id") DO UPDATE SET "service" = excluded."service", '
                '"preferredTime" = excluded."preferredTime" RETURNING 1'
            ))
    else:
        raise MigrationError("phase 4: the legacy archive kept falling behind; run again")
    total = int(conn.scalar(f"SELECT count(*) FROM {_R}") or 0)  # noqa: S608
    with conn.transaction():
        conn.execute(f'DELETE FROM {q(ARCHIVE_SCHEMA)} WHERE "kind" = %s AND "name" = %s',  # noqa: S608
                     ("meta", "contract"))
        archive.save_schema_rows(conn, [("meta", "contract", 0,
                                          f'{{"reservations": {total}, "archived": {total}}}')])
    ctx.detail["caught_up"] = fixed
    ctx.progress(f"phase4: archive verified complete ({fixed} rows caught up, no strong lock)")


def _new_checks() -> dict[str, str]:
    return {c: not_null_check_name(c) for c in NEW_COLUMNS}


def _p4_checks(conn: SqlConnection, ctx: StepContext) -> None:
    pg.add_not_null_checks(conn, _new_checks())


def _p4_validate_checks(conn: SqlConnection, ctx: StepContext) -> None:
    pg.validate_not_null_checks(conn, _new_checks(), what="phase 4", policy=ctx.lock_policy,
                                on_hold=ctx.on_hold)


def _p4_set_not_null(conn: SqlConnection, ctx: StepContext) -> None:
    pg.set_not_null(conn, _new_checks())


def _drop_legacy_index(conn: SqlConnection, ctx: StepContext) -> None:
    pg.drop_index_concurrently(conn, IDX_LEGACY_SERVICE, policy=ctx.lock_policy)


def _contracted_held_index(conn: SqlConnection, ctx: StepContext) -> None:
    # DROP COLUMN would drop the phase-2 held index (it covers "service") silently.
    pg.create_index_concurrently(conn, IDX_HELD_CONTRACTED, RESERVATIONS_TABLE,
                                 held_index_sql(Dialect.POSTGRES, contracted=True),
                                 policy=ctx.lock_policy)
    pg.drop_index_concurrently(conn, IDX_HELD, policy=ctx.lock_policy)


def _contract(conn: SqlConnection, ctx: StepContext) -> None:
    """Catalogue only (plus the few limits rows): the archive is complete already and
    the trigger kept it so; no copy and no count under ACCESS EXCLUSIVE."""
    ledger.lock_ledger(conn)  # before reservations: the order a booking takes them in
    pg.lock_table(conn, "ACCESS EXCLUSIVE")
    if LIMITS in conn.tables():
        archive.archive_limits(conn)
    # The ledger's per-service counts go with the legacy column; its minutes stay, kept
    # from the end of this transaction by a trigger that reads no legacy column.
    ledger.contract_ledger(conn)
    conn.execute(f"DROP TRIGGER IF EXISTS {_T} ON {_R}")
    conn.execute(f"DROP FUNCTION IF EXISTS {_T}()")
    conn.execute(f"ALTER TABLE {_R} "
                 + ", ".join(f"DROP COLUMN IF EXISTS {q(col)}" for col in LEGACY_ONLY_COLUMNS))
    conn.execute(f"DROP TABLE IF EXISTS {q(LIMITS)}")
    conn.execute(f"DROP TYPE IF EXISTS {q(SERVICE_TYPE)}")
    ledger.create_ledger(conn)  # the contracted trigger (and tables, if none yet)


def _final_indexes(conn: SqlConnection, ctx: StepContext) -> None:
    for name, columns in FINAL_INDEXES:
        pg.create_index_concurrently(conn, name, RESERVATIONS_TABLE, f"({q(*columns)})",
                                     policy=ctx.lock_policy)


def _vacuum(conn: SqlConnection, ctx: StepContext) -> None:
    # VACUUM takes no lock that blocks the app; it refills the visibility map the
    # table rewrite emptied (index-only scans read the heap until then).
    conn.execute(f"VACUUM (ANALYZE) {_R}")
    for table in (SERVICES, SLOTS):
        conn.execute(f"ANALYZE {q(table)}")


# -- phase4 -> phase2 ----------------------------------------------------------------------


def _drop_archive_trigger(conn: SqlConnection, ctx: StepContext) -> None:
    """Undo what a phase 4 that stopped midway may have left: its trigger and helper
    checks (nothing to do after a complete phase 4)."""
    leftovers = [n for n in _new_checks().values()
                 if pg.constraint_state(conn, RESERVATIONS_TABLE, n) is not None]
    has_trigger = bool(conn.scalar(
        "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
        "AND c.relname = %s AND t.tgname = %s", (RESERVATIONS_TABLE, ARCHIVE_TRIGGER)))
    if leftovers or has_trigger:
        pg.lock_table(conn, "ACCESS EXCLUSIVE" if leftovers else "SHARE ROW EXCLUSIVE")
        conn.execute(f"DROP TRIGGER IF EXISTS {_T} ON {_R}")
        if leftovers:
            conn.execute(f"ALTER TABLE {_R} "
                         + ", ".join(f"DROP CONSTRAINT IF EXISTS {q(n)}" for n in leftovers))
    conn.execute(f"DROP FUNCTION IF EXISTS {_T}()")


def _recreate_legacy(conn: SqlConnection, ctx: StepContext) -> None:
    if conn.columns(RESERVATIONS_TABLE) >= set(LEGACY_ONLY_COLUMNS):
        return  # phase 4 never got to its contract: nothing was dropped
    if ARCHIVE_LEGACY not in conn.tables():
        raise MigrationError(
            f"cannot roll back phase 4: the archive table {ARCHIVE_LEGACY} is gone")
    labels = rb.enum_labels(conn)
    pg.lock_table(conn, "ACCESS EXCLUSIVE")
    rb.recreate_legacy_pg(conn, labels)


def _refill(conn: SqlConnection, ctx: StepContext) -> None:
    if ARCHIVE_LEGACY not in conn.tables():
        return
    filled = 0
    for n in rb.fill_legacy_batches_pg(conn, ctx.batch_size):
        filled += n
        ctx.batch()
    ctx.detail["refilled_rows"] = filled
    ctx.progress(f"{ctx.transition}: legacy columns refilled from the archive for "
                 f"{filled} rows")


def _legacy_checks() -> dict[str, str]:
    return {c: not_null_check_name(c) for c in LEGACY_ONLY_COLUMNS}


def _legacy_not_null_checks(conn: SqlConnection, ctx: StepContext) -> None:
    # From here on an insert without the legacy columns fails (slotcap's stores then
    # re-read the schema and retry as dual-writers).
    pg.add_not_null_checks(conn, _legacy_checks())


def _legacy_validate(conn: SqlConnection, ctx: StepContext) -> None:
    if all(pg.not_null_flags(conn, LEGACY_ONLY_COLUMNS).values()):
        return
    # Rows the contracted application wrote during the batched refill: few.
    late = rb.fill_remaining_pg(conn) if ARCHIVE_LEGACY in conn.tables() else 0
    ctx.detail["late_rows"] = late
    missing = int(conn.scalar(
        f'SELECT count(*) FROM {_R} WHERE "service" IS NULL OR "preferredTime" IS NULL'  # noqa: S608
    ) or 0)
    if missing:
        pg.drop_constraints(conn, RESERVATIONS_TABLE, _legacy_checks().values(),
                            what="drop legacy NOT NULL helper checks",
                            policy=ctx.lock_policy, on_hold=ctx.on_hold)
        raise MigrationError(
            f"rollback phase 4: {missing} reservation(s) have a service outside the legacy "
            "ServiceType enum and cannot be written back; the legacy columns stay nullable "
            "and the rollback can be run again once those rows are dealt with")
    pg.validate_not_null_checks(conn, _legacy_checks(), what="rollback phase 4",
                                policy=ctx.lock_policy, on_hold=ctx.on_hold)


def _legacy_set_not_null(conn: SqlConnection, ctx: StepContext) -> None:
    pg.set_not_null(conn, _legacy_checks())


def _drop_new_not_null(conn: SqlConnection, ctx: StepContext) -> None:
    flags = pg.not_null_flags(conn, NEW_COLUMNS)
    if any(flags.values()):
        pg.lock_table(conn, "ACCESS EXCLUSIVE")
        conn.execute(f"ALTER TABLE {_R} " + ", ".join(
            f"ALTER COLUMN {q(c)} DROP NOT NULL" for c, nn in flags.items() if nn))


def _drop_final_indexes(conn: SqlConnection, ctx: StepContext) -> None:
    for name, _cols in FINAL_INDEXES:
        pg.drop_index_concurrently(conn, name, policy=ctx.lock_policy)


def _legacy_index(conn: SqlConnection, ctx: StepContext) -> None:
    pg.create_index_concurrently(conn, IDX_LEGACY_SERVICE, RESERVATIONS_TABLE,
                                 '("preferredDate", "service", "status")',
                                 policy=ctx.lock_policy)


def _phase2_held_index(conn: SqlConnection, ctx: StepContext) -> None:
    pg.create_index_concurrently(conn, IDX_HELD, RESERVATIONS_TABLE,
                                 held_index_sql(Dialect.POSTGRES), policy=ctx.lock_policy)
    pg.drop_index_concurrently(conn, IDX_HELD_CONTRACTED, policy=ctx.lock_policy)


def _drop_archive(conn: SqlConnection, ctx: StepContext) -> None:
    archive.drop_archive_tables(conn)


#: Phase 2 -> phase 4: archive, NOT NULL by validated checks, then the contract.
CONTRACT_STEPS: tuple[Step, ...] = (
        Step("refill-legacy", _refill_legacy, atomic=False),
        Step("archive-tables", _archive_tables, atomic=True, what="create archive tables"),
        Step("archive-trigger", _archive_trigger, atomic=True, what="install the archive trigger"),
        Step("archive-batches", _archive_batches, atomic=False),
        Step("verify-archive", _verify_archive, atomic=False),
        Step("not-null-checks", _p4_checks, atomic=True, what="add NOT NULL helper checks"),
        Step("validate-not-null", _p4_validate_checks, atomic=False),
        Step("set-not-null", _p4_set_not_null, atomic=True, what="set NOT NULL on the new columns"),
        Step("drop-legacy-index", _drop_legacy_index, atomic=False),
        Step("held-index", _contracted_held_index, atomic=False),
        Step("contract", _contract, atomic=True,
             what="drop legacy columns, limits table and enum; swap the ledger's trigger"),
        Step("fill-ledger", fill_ledger_step, atomic=False),
        Step("final-indexes", _final_indexes, atomic=False),
        Step("vacuum", _vacuum, atomic=False),
        Step("check", check_step(Phase.PHASE4), atomic=False, check=True),
)

#: Phase 4 -> phase 2: the legacy columns back from the archive, NOT NULL again.
RESTORE_STEPS: tuple[Step, ...] = (
        Step("drop-archive-trigger", _drop_archive_trigger, atomic=True,
             what="drop the archive trigger"),
        Step("recreate-legacy", _recreate_legacy, atomic=True,
             what="recreate ServiceType, limits table and legacy columns"),
        Step("refill-batches", _refill, atomic=False),
        Step("legacy-not-null-checks", _legacy_not_null_checks, atomic=True,
             what="add legacy NOT NULL helper checks"),
        Step("refill-remaining", _legacy_validate, atomic=False),
        Step("legacy-set-not-null", _legacy_set_not_null, atomic=True,
             what="set NOT NULL on the legacy columns"),
        Step("drop-new-not-null", _drop_new_not_null, atomic=True,
             what="drop NOT NULL from the new columns"),
        Step("drop-final-indexes", _drop_final_indexes, atomic=False),
        Step("legacy-index", _legacy_index, atomic=False),
        Step("held-index", _phase2_held_index, atomic=False),
        Step("drop-archive", _drop_archive, atomic=True, what="drop archive tables"),
        Step("vacuum", _vacuum, atomic=False),
        Step("ledger", create_ledger_step, atomic=True, what="create the ledger's trigger"),
        Step("fill-ledger", fill_ledger_step, atomic=False),
)
