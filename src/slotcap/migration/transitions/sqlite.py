"""SQLite's transitions (see :mod:`slotcap.migration.engine.steps`): every schema change is
one IMMEDIATE transaction (SQLite has transactional DDL and one writer at a time), so
a step is either all done or not at all; only the backfill and the journal clear run
as batches, each its own transaction."""

from __future__ import annotations

import sqlite3

from slotcap.errors import MigrationError
from slotcap.migration.ddl import archive as archive
from slotcap.migration.ddl.ledger import create_ledger, drop_ledger
from slotcap.migration.ddl.names import LEGACY_ONLY_COLUMNS, NEW_COLUMNS, RESERVATIONS_TABLE, q
from slotcap.migration.ddl.phase1 import create_new_tables, new_reservation_columns_sql
from slotcap.migration.ddl.phase2 import drop_read_indexes, read_index_sql
from slotcap.migration.ddl.phase4 import contract_sqlite
from slotcap.migration.ddl.rollback import drop_phase1_tables, rebuild_legacy_sqlite
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
from slotcap.sql import Dialect, SqlConnection

__all__ = ["transitions"]


def _expand(conn: SqlConnection, ctx: StepContext) -> None:
    # ADD COLUMN is a schema-only change in SQLite: milliseconds whatever the table size.
    create_new_tables(conn)
    existing = conn.columns(RESERVATIONS_TABLE)
    for name, definition in new_reservation_columns_sql(Dialect.SQLITE).items():
        if name not in existing:  # ADD COLUMN has no IF NOT EXISTS in SQLite
            conn.execute(f"ALTER TABLE {q(RESERVATIONS_TABLE)} ADD COLUMN {definition}")


def _read_indexes(conn: SqlConnection, ctx: StepContext) -> None:
    for name, definition in read_index_sql(Dialect.SQLITE).items():
        conn.execute(
            f"CREATE INDEX IF NOT EXISTS {q(name)} ON {q(RESERVATIONS_TABLE)} {definition}")


def _drop_read_indexes(conn: SqlConnection, ctx: StepContext) -> None:
    drop_read_indexes(conn)


def _contract(conn: SqlConnection, ctx: StepContext) -> None:
    ctx.detail.update(contract_sqlite(conn))


def _analyze(conn: SqlConnection, ctx: StepContext) -> None:
    conn.execute("ANALYZE")


def _rebuild(conn: SqlConnection, ctx: StepContext) -> None:
    if conn.columns(RESERVATIONS_TABLE) >= set(LEGACY_ONLY_COLUMNS):
        # Phase 4 stopped before its (atomic) contract: only its archive may be there.
        archive.drop_archive_tables(conn)
        return
    ctx.detail["refilled_rows"] = rebuild_legacy_sqlite(conn)
    # The ledger's triggers went with the contracted table: the full ledger, empty, and
    # its triggers now, in this transaction (fill-ledger counts it), so that no write
    # goes uncounted until then.
    create_ledger(conn)


def _drop_phase1(conn: SqlConnection, ctx: StepContext) -> None:
    if sqlite3.sqlite_version_info < (3, 35, 0):
        raise MigrationError("rolling back phase 1 on SQLite needs SQLite 3.35+ (DROP COLUMN)")
    drop_ledger(conn)  # nor one a trigger uses
    drop_read_indexes(conn)  # SQLite cannot drop a column an index uses
    have = conn.columns(RESERVATIONS_TABLE)
    # Reverse order of addition: SQLite edits the stored CREATE TABLE text, which then
    # reads exactly as the reference DDL wrote it.
    for col in reversed(NEW_COLUMNS):
        if col in have:
            conn.execute(f"ALTER TABLE {q(RESERVATIONS_TABLE)} DROP COLUMN {q(col)}")
    drop_phase1_tables(conn)


def transitions() -> dict[tuple[Phase, Phase], Transition]:
    L, P1, P2, P4 = Phase.LEGACY, Phase.PHASE1, Phase.PHASE2, Phase.PHASE4
    return {
        (L, P1): Transition(L, P1, (
            Step("expand", _expand, atomic=True),
            Step("check", check_step(P1), atomic=False, check=True),
        )),
        (P1, P2): Transition(P1, P2, (
            Step("backfill", backfill_step, atomic=False, always=True),
            Step("read-indexes", _read_indexes, atomic=True),
            Step("ledger", create_ledger_step, atomic=True),
            Step("fill-ledger", fill_ledger_step, atomic=False),
            Step("validate", validate_phase2_step, atomic=False, check=True),
        )),
        (P2, P4): Transition(P2, P4, (
            Step("contract", _contract, atomic=True),
            Step("fill-ledger", fill_ledger_step, atomic=False),
            Step("analyze", _analyze, atomic=False),
            Step("check", check_step(P4), atomic=False, check=True),
        )),
        (P4, P2): Transition(P4, P2, (
            Step("rebuild", _rebuild, atomic=True),
            Step("analyze", _analyze, atomic=False),
            Step("ledger", create_ledger_step, atomic=True),
            Step("fill-ledger", fill_ledger_step, atomic=False),
        )),
        (P2, P1): Transition(P2, P1, (
            Step("drop-ledger", drop_ledger_step, atomic=True),
            Step("drop-read-indexes", _drop_read_indexes, atomic=True),
            Step("clear-journal", clear_journal_step, atomic=False),
        )),
        (P1, L): Transition(P1, L, (
            Step("drop-phase1", _drop_phase1, atomic=True),
        )),
    }
