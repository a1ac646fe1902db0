"""PostgreSQL's transitions, step by step (see :mod:`slotcap.migration.engine.steps`).

Every atomic step that needs a strong lock on ``reservations`` starts with an explicit
``LOCK TABLE … IN <mode> MODE`` (the runner wraps it in ``ddl.lock_policy.locked``: a short
``lock_timeout`` and retries), so its hold time is measurable, and does only catalogue
changes or bounded work under it: copies, refills and counts run in batches or
without the strong lock, before. Phase 4 and its rollback, the longest transitions,
are in :mod:`slotcap.migration.transitions.postgres_phase4`.

Every step is idempotent and tolerates any partial state of its counterpart.
"""

from __future__ import annotations

from slotcap.migration.ddl import archive as archive
from slotcap.migration.ddl import postgres as pg
from slotcap.migration.ddl import rollback as rb
from slotcap.migration.ddl.ledger import drop_ledger, lock_ledger
from slotcap.migration.ddl.names import (
    CK_DURATION,
    FK_SERVICE,
    LEGACY_ONLY_COLUMNS,
    NEW_COLUMNS,
    RESERVATIONS_TABLE,
    SERVICES,
    q,
)
from slotcap.migration.ddl.phase1 import create_new_tables, new_reservation_columns_sql
from slotcap.migration.ddl.phase2 import create_read_indexes, drop_read_indexes
from slotcap.migration.ddl.phase4 import not_null_check_name
from slotcap.migration.engine.steps import Step, StepContext, Transition
from slotcap.migration.state import Phase
from slotcap.migration.transitions.common import (
    backfill_step,
    check_step,
    clear_journal_step,
    create_ledger_step,
    drop_ledger_step,
    fill_ledger_step,
    validate_phase2_step,
)
from slotcap.migration.transitions.postgres_phase4 import CONTRACT_STEPS, RESTORE_STEPS
from slotcap.sql import Dialect, SqlConnection

__all__ = ["transitions"]

_R = q(RESERVATIONS_TABLE)


# -- legacy -> phase1 ----------------------------------------------------------------------


def _p1_tables(conn: SqlConnection, ctx: StepContext) -> None:
    create_new_tables(conn)


def _p1_columns(conn: SqlConnection, ctx: StepContext) -> None:
    pg.lock_table(conn, "ACCESS EXCLUSIVE")
    # Nullable, no default: catalogue-only, no rewrite.
    adds = ", ".join(f"ADD COLUMN IF NOT EXISTS {d}"
                     for d in new_reservation_columns_sql(Dialect.POSTGRES).values())
    conn.execute(f"ALTER TABLE {_R} {adds}")


def _p1_constraints(conn: SqlConnection, ctx: StepContext) -> None:
    pg.lock_table(conn, "ACCESS EXCLUSIVE")
    parts = []
    if pg.constraint_state(conn, RESERVATIONS_TABLE, FK_SERVICE) is None:
        parts.append(f'ADD CONSTRAINT {q(FK_SERVICE)} FOREIGN KEY ("serviceId") '
                     f'REFERENCES {q(SERVICES)} ("id") ON DELETE RESTRICT NOT VALID')
    if pg.constraint_state(conn, RESERVATIONS_TABLE, CK_DURATION) is None:
        parts.append(f'ADD CONSTRAINT {q(CK_DURATION)} CHECK ("estimatedDuration" >= 0) NOT VALID')
    if parts:
        conn.execute(f"ALTER TABLE {_R} {', '.join(parts)}")


def _p1_validate(conn: SqlConnection, ctx: StepContext) -> None:
    # VALIDATE scans under SHARE UPDATE EXCLUSIVE: writers keep going.
    for name in (FK_SERVICE, CK_DURATION):
        pg.validate_constraint(conn, RESERVATIONS_TABLE, name, policy=ctx.lock_policy)


# -- phase1 -> phase2 / phase2 -> phase1 ---------------------------------------------------


def _read_indexes(conn: SqlConnection, ctx: StepContext) -> None:
    ctx.detail["indexes"] = create_read_indexes(conn, ctx.progress, policy=ctx.lock_policy)


def _drop_read_indexes(conn: SqlConnection, ctx: StepContext) -> None:
    drop_read_indexes(conn, policy=ctx.lock_policy)


# -- phase1 -> legacy ----------------------------------------------------------------------


def _drop_new_columns(conn: SqlConnection, ctx: StepContext) -> None:
    lock_ledger(conn)  # normally gone already; locked before reservations if not
    pg.lock_table(conn, "ACCESS EXCLUSIVE")
    drop_ledger(conn)  # its trigger reads the new columns
    conn.execute(
        f"ALTER TABLE {_R} DROP CONSTRAINT IF EXISTS {q(FK_SERVICE)}, "
        f"DROP CONSTRAINT IF EXISTS {q(CK_DURATION)}, "
        + ", ".join(f"DROP CONSTRAINT IF EXISTS {q(not_null_check_name(c))}"
                    for c in (*NEW_COLUMNS, *LEGACY_ONLY_COLUMNS)) + ", "
        + ", ".join(f"DROP COLUMN IF EXISTS {q(col)}" for col in NEW_COLUMNS)
    )


def _drop_phase1_tables(conn: SqlConnection, ctx: StepContext) -> None:
    rb.drop_phase1_tables(conn)


def transitions() -> dict[tuple[Phase, Phase], Transition]:
    L, P1, P2, P4 = Phase.LEGACY, Phase.PHASE1, Phase.PHASE2, Phase.PHASE4
    return {
        (L, P1): Transition(L, P1, (
            Step("create-tables", _p1_tables, atomic=True,
                 what="create services / clinic_time_slots / clinic_closures / clinic_settings"),
            Step("add-columns", _p1_columns, atomic=True, what="add reservation columns"),
            Step("add-constraints", _p1_constraints, atomic=True,
                 what="add reservation constraints"),
            Step("validate-constraints", _p1_validate, atomic=False),
            Step("check", check_step(P1), atomic=False, check=True),
        )),
        (P1, P2): Transition(P1, P2, (
            Step("backfill", backfill_step, atomic=False, always=True),
            Step("read-indexes", _read_indexes, atomic=False),
            Step("ledger", create_ledger_step, atomic=True, what="create the ledger's trigger"),
            Step("fill-ledger", fill_ledger_step, atomic=False),
            Step("validate", validate_phase2_step, atomic=False, check=True),
        )),
        (P2, P4): Transition(P2, P4, CONTRACT_STEPS),
        (P4, P2): Transition(P4, P2, RESTORE_STEPS),
        (P2, P1): Transition(P2, P1, (
            Step("drop-ledger", drop_ledger_step, atomic=True, what="drop the ledger's trigger"),
            Step("drop-read-indexes", _drop_read_indexes, atomic=False),
            Step("clear-journal", clear_journal_step, atomic=False),
        )),
        (P1, L): Transition(P1, L, (
            Step("drop-read-indexes", _drop_read_indexes, atomic=False),
            Step("drop-columns", _drop_new_columns, atomic=True,
                 what="drop the new reservation columns"),
            Step("drop-tables", _drop_phase1_tables, atomic=True, what="drop phase 1 tables"),
        )),
    }

