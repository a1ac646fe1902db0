"""Steps both dialects share: the backfill, phase 2's validation, the journal clear,
and the closing checks of a phase."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slotcap.errors import MigrationError
from slotcap.migration import state
from slotcap.migration.backfill import run_backfill
from slotcap.migration.backfill_report import BackfillProgress, BackfillReport
from slotcap.migration.ddl import ledger
from slotcap.migration.ddl.lock_policy import DEFAULT_POLICY, HoldObserver, LockPolicy, locked
from slotcap.migration.ddl.names import LEDGER_PERIODS, RESERVATIONS_TABLE, q
from slotcap.migration.ddl.rollback import clear_batch
from slotcap.migration.engine.steps import StepContext, StepPaused
from slotcap.migration.state import Phase
from slotcap.migration.validation import ValidationReport, validate
from slotcap.sql import Dialect, SqlConnection

__all__ = [
    "backfill_step",
    "batch_lines",
    "check_step",
    "clear_journal_step",
    "create_ledger_step",
    "drop_ledger_step",
    "ensure_ledger",
    "fill_ledger_step",
    "unfilled",
    "validate_phase2_step",
]

#: Extra backfill passes when rows arrived during the first one (legacy writer live).
CATCH_UP_PASSES = 2


def unfilled(conn: SqlConnection) -> int:
    """Rows the backfill has not reached (a legacy-only writer added them meanwhile)."""
    return int(conn.scalar(
        f'SELECT count(*) FROM {q(RESERVATIONS_TABLE)} WHERE "serviceId" IS NULL'  # noqa: S608
    ) or 0)


def batch_lines(progress: Callable[[str], None]) -> Callable[[BackfillProgress], None]:
    """Backfill batch events as text lines for a str-only ``progress``, at most about
    one per tenth of the rows (a million-row table must not print a thousand lines)."""
    last = [-1]

    def on_batch(event: BackfillProgress) -> None:
        total = max(event.rows_total, 1)
        done = event.rows_done
        tenth = min(done * 10 // total, 10)
        if tenth > last[0]:
            last[0] = tenth
            progress(f"backfill: {done:,}/{total:,} rows examined, "
                     f"{event.rows_written:,} written")

    return on_batch


def backfill_detail(backfill: BackfillReport | None) -> dict[str, Any] | None:
    return None if backfill is None else backfill.to_dict()


def backfill_step(conn: SqlConnection, ctx: StepContext) -> None:
    """The backfill, plus catch-up passes for rows a legacy writer added meanwhile.
    Resumable by construction: what needs work is "a new column is NULL"."""
    shown = ctx.backfill_progress or batch_lines(ctx.progress)

    def on_batch(event: BackfillProgress) -> None:
        ctx.batch()
        shown(event)

    for attempt in range(1 + CATCH_UP_PASSES):
        ctx.backfill = run_backfill(conn, batch_size=ctx.batch_size, progress=on_batch)
        ctx.detail[f"pass{attempt + 1}"] = backfill_detail(ctx.backfill)
        if not unfilled(conn):
            break


def paused_message(conn: SqlConnection, result: ValidationReport, stay: str) -> str:
    pending = unfilled(conn)
    if pending:
        return (
            f"{pending} reservation(s) were written without the new columns while the "
            f"backfill ran (a legacy-only writer is live); staying at {stay} — deploy "
            "the dual-writing application, then run migrate to phase2 again"
        )
    if result.needs_review:
        return (
            f"{result.needs_review} reservation(s) await manual review (unreadable "
            f"preferredTime); staying at {stay} — slotcap review export --out review.csv, "
            "fill in the periods, slotcap review import --in review.csv, then run "
            "slotcap migrate --to phase2 again"
        )
    return f"phase 2 checks failed; staying at {stay} — {result.summary()}"


def validate_phase2_step(conn: SqlConnection, ctx: StepContext) -> None:
    """Phase 2's gate: on failure the transition stays open, paused at this step."""
    result = validate(conn, phase=Phase.PHASE2)
    ctx.validation = result
    ctx.detail["passed"] = result.passed
    if not result.passed:
        state.record(conn, Phase.PHASE1, "validate", validation=result.to_dict(),
                     detail={"wanted": "phase2"})
        raise StepPaused(paused_message(conn, result, "phase1"))


def check_step(phase: Phase) -> Callable[[SqlConnection, StepContext], None]:
    """The phase's own checklist, run at the end of its transition."""

    def check(conn: SqlConnection, ctx: StepContext) -> None:
        result = validate(conn, phase=phase)
        ctx.validation = result
        ctx.detail["passed"] = result.passed
        if not result.passed and phase is Phase.PHASE1:
            state.record(conn, phase, "validate", validation=result.to_dict())
            raise MigrationError(f"phase 1 applied but its checks failed — {result.summary()}")

    return check


def clear_journal_step(conn: SqlConnection, ctx: StepContext) -> None:
    """NULL exactly the columns the toolkit filled, batch by batch (short transactions:
    the live application keeps writing)."""
    cleared = 0
    while True:
        with conn.transaction():
            n = clear_batch(conn, ctx.batch_size)
        if not n:
            break
        cleared += n
        ctx.batch()
    ctx.detail["cleared_rows"] = cleared
    ctx.progress(f"rollback phase 2: cleared {cleared} backfilled rows")


# -- the ledger (phase 2) ------------------------------------------------------------------


def create_ledger_step(conn: SqlConnection, ctx: StepContext) -> None:
    """Atomic: the ledger's tables, its frontier row and its triggers (catalogue only;
    CREATE TRIGGER's SHARE ROW EXCLUSIVE on PostgreSQL, under the lock policy)."""
    ledger.create_ledger(conn)


def drop_ledger_step(conn: SqlConnection, ctx: StepContext) -> None:
    """Atomic: triggers first, then the tables (any partial state of the two above)."""
    ledger.drop_ledger(conn)


def fill_ledger_step(conn: SqlConnection, ctx: StepContext) -> None:
    """Count the dates the triggers do not cover yet, batch by batch (each batch one
    short transaction that moves the frontier; resumable: a killed run resumes at the
    frontier). Writers during the fill are counted exactly once (ddl/ledger.py)."""
    batches = 0
    while _fill_one(conn, ctx.batch_size, ctx.lock_policy, ctx.on_hold):
        batches += 1
        ctx.batch()
    ctx.detail["batches"] = batches
    if batches and conn.dialect is Dialect.POSTGRES:
        # Fresh statistics: the readers' plans are two primary-key probes from the start.
        conn.execute(f"ANALYZE {q(LEDGER_PERIODS)}")
        ctx.progress(f"ledger: counted in {batches} batches")


def _fill_one(conn: SqlConnection, batch_size: int, policy: LockPolicy,
              on_hold: HoldObserver | None) -> bool:
    def work(c: SqlConnection) -> bool:
        return ledger.fill_batch(c, batch_size)

    if conn.dialect is Dialect.POSTGRES:
        # The frontier row FOR UPDATE waits for writers in flight (their triggers hold
        # it FOR SHARE) and would queue new ones: a short lock_timeout and retries.
        return locked(conn, work, what="lock the ledger's fill frontier", policy=policy,
                      on_hold=on_hold)
    with conn.transaction():
        return work(conn)


def ensure_ledger(
    conn: SqlConnection, progress: Callable[[str], None], *,
    policy: LockPolicy = DEFAULT_POLICY, on_hold: HoldObserver | None = None,
) -> None:
    """A phase-2 (or phase-4) database made before the ledger existed gets it from
    ``migrate --to`` its phase (the catch-up): created, then filled; a complete one gets
    today's trigger function (a faster one than earlier versions wrote)."""
    if ledger.fill_done(conn):
        ledger.refresh_function(conn)
    else:
        if conn.dialect is Dialect.POSTGRES:
            locked(conn, ledger.create_ledger, what="create the ledger's trigger",
                   policy=policy, on_hold=on_hold)
        else:
            with conn.transaction():
                ledger.create_ledger(conn)
        while _fill_one(conn, 1000, policy, on_hold):
            pass
        if conn.dialect is Dialect.POSTGRES:
            conn.execute(f"ANALYZE {q(LEDGER_PERIODS)}")
        progress("ledger: created and filled")
