"""Apply and roll back the migration's schema phases; report where a database stands.

``migrate(url, to=...)`` walks every phase between the current one and the target, in
order; ``rollback(url, to=...)`` walks back. Each move between two phases is a
:class:`~slotcap.migration.engine.steps.Transition` of named steps, journaled by
:mod:`~slotcap.migration.engine.runner`: a killed run is resumed by the same command (from
the first step not recorded done) or undone by the inverse command (the inverse
transition from its start). The whole run holds the database's migration lock
(:mod:`~slotcap.migration.engine.runlock`), so a second run is refused at once.

The plan's phase 3 (feature-flagged dual-write rollout) changes no schema: ``phase3``
is accepted as a name for phase 2's schema, and ``validate`` carries its monitor.

Phase 2 also builds the read indexes (the plan's two, and a partial index of the held
rows) once the backfill is done; ``create_read_indexes(conn)`` builds them alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Any, TypedDict, Unpack

import attrs

from slotcap.errors import MigrationError, SchemaStateError
from slotcap.migration import state
from slotcap.migration.backfill_report import BackfillProgress
from slotcap.migration.catalog import snapshot
from slotcap.migration.ddl.lock_policy import DEFAULT_POLICY, HoldObserver, LockPolicy
from slotcap.migration.ddl.names import CLINIC_TABLES, KEPT_TABLES, SHADOW_TABLES, q
from slotcap.migration.ddl.phase1 import create_clinic_tables
from slotcap.migration.ddl.phase2 import create_read_indexes
from slotcap.migration.engine.runlock import migration_lock
from slotcap.migration.engine.runner import OnStep, run_transition
from slotcap.migration.engine.steps import Checkpoint, StepContext, StepPaused, Transition
from slotcap.migration.location import INTERRUPTED, locate
from slotcap.migration.report import MigrationReport, MigrationStatus, StepResult
from slotcap.migration.state import Phase, detect_phase
from slotcap.migration.transitions import transition
from slotcap.migration.transitions.common import (
    backfill_detail,
    backfill_step,
    ensure_ledger,
    paused_message,
    unfilled,
)
from slotcap.migration.validation import validate
from slotcap.ports import SchemaState
from slotcap.sql import Dialect, SqlConnection, open_sql
from slotcap.sql.driver_errors import database_errors
from slotcap.sql.names import RESERVATIONS_TABLE

__all__ = [
    "NOT_THE_CLINIC_DATABASE",
    "MigrateOptions",
    "RollbackOptions",
    "create_read_indexes",
    "migrate",
    "migrate_conn",
    "require_clinic_database",
    "rollback",
    "rollback_conn",
    "status",
    "status_conn",
]

Progress = Callable[[str], None]
#: Receives the backfill's per-batch events.
OnBackfillBatch = Callable[[BackfillProgress], None]


class RollbackOptions(TypedDict, total=False):
    """The keywords of :func:`rollback_conn` besides ``to``: what :func:`rollback` passes on."""
    progress: Progress | None
    batch_size: int
    lock_policy: LockPolicy
    on_hold: HoldObserver | None
    checkpoint: Checkpoint | None


class MigrateOptions(RollbackOptions, total=False):
    """The keywords of :func:`migrate_conn` besides ``to``: what :func:`migrate` passes on."""
    confirm: bool
    backfill_progress: OnBackfillBatch | None


def _quiet(_message: str) -> None: ...


def _on_step(report: MigrationReport, progress: Progress, t: Transition) -> OnStep:
    def done(name: str, seconds: float, detail: dict[str, Any]) -> None:
        report.steps.append(StepResult(f"{t.name}:{name}", seconds, dict(detail)))
        progress(f"{t.name}: {name} done in {seconds:.2f}s")

    return done


# -- planning ------------------------------------------------------------------------------


def _walk(start: Phase, end: Phase) -> list[tuple[Phase, Phase]]:
    """Adjacent (from, to) pairs from ``start`` to ``end``."""
    order = list(Phase)
    i, j = order.index(start), order.index(end)
    step = 1 if j >= i else -1
    return [(order[k], order[k + step]) for k in range(i, j, step)]


@attrs.frozen
class _Leg:
    start: Phase
    end: Phase
    #: Steps already done (resuming an interrupted run); None: start afresh.
    done: tuple[str, ...] | None = None


def _plan(conn: SqlConnection, target: Phase) -> tuple[Phase, list[_Leg], bool]:
    """(the phase to report as the start, the transitions to run, whether it was
    settled). Interrupted, the start is where the first transition to run starts: the
    interrupted one's start when it is resumed, its target when it is reversed."""
    pending = state.open_transition(conn)
    if pending is None:
        start = detect_phase(conn)
        return start, [_Leg(a, b) for a, b in _walk(start, target)], True
    a, b = pending.start, pending.end
    if (target.rank - a.rank) * (b.rank - a.rank) > 0:
        # The same direction: finish the interrupted transition, then go on.
        return a, [_Leg(a, b, pending.done), *(_Leg(x, y) for x, y in _walk(b, target))], False
    # The other way: the inverse transition from its start, then on from there.
    return b, [_Leg(b, a), *(_Leg(x, y) for x, y in _walk(a, target))], False


def _interrupted_hint(conn: SqlConnection) -> str:
    return f" ({where.summary()})" if (where := locate(conn)).state == INTERRUPTED else ""


# -- forward -------------------------------------------------------------------------------


_GATE_SAMPLE = 5


def _phase4_gate(conn: SqlConnection, report: MigrationReport) -> None:
    """Phase 4 starts only from a phase 2 whose checks pass; a refusal says which rows
    stand in the way and how to deal with them."""
    result = validate(conn, phase=Phase.PHASE2)
    report.validation = result
    report.needs_review = result.needs_review
    if result.passed:
        return
    state.record(conn, Phase.PHASE2, "validate", validation=result.to_dict(),
                 detail={"wanted": "phase4"})
    hints: list[str] = []
    if result.needs_review:
        ids = [str(r[0]) for r in conn.execute(
            f'SELECT "id" FROM {q(RESERVATIONS_TABLE)} WHERE "period" IS NULL '  # noqa: S608
            'AND "serviceId" IS NOT NULL ORDER BY "id" LIMIT %s', (_GATE_SAMPLE,))]
        more = ", ..." if result.needs_review > len(ids) else ""
        hints.append(
            f"{result.needs_review} reservation(s) have a preferredTime the parser could "
            f"not read (ids {', '.join(ids)}{more}): run `slotcap review export --out "
            "review.csv`, fill in each row's period, `slotcap review import --in "
            "review.csv`, then run this command again"
        )
    pending = unfilled(conn)
    if pending:
        hints.append(
            f"{pending} reservation(s) lack the new columns (written by a legacy-only "
            "writer): deploy the dual-writing application, run `slotcap migrate --to "
            "phase2` (the catch-up backfill), then this command again"
        )
    hint = ("; " + "; ".join(hints)) if hints else ""
    raise MigrationError(
        f"phase 4 refused: validation must pass first — {result.summary()}{hint}"
    )


def _catch_up_phase2(conn: SqlConnection, report: MigrationReport, base: StepContext) -> None:
    """``migrate --to phase2`` on a phase-2 database: the catch-up backfill for rows a
    legacy writer added, then the checks. Recorded as a validation: "apply" would move
    the start of the dual-write monitor's window."""
    ctx = attrs.evolve(base, transition="phase2 catch-up", step="backfill", details={})
    say = ctx.progress
    started = time.monotonic()
    backfill_step(conn, ctx)
    report.steps.append(StepResult("backfill", time.monotonic() - started, ctx.detail))
    report.backfill = ctx.backfill
    create_read_indexes(conn, say, policy=ctx.lock_policy)
    ensure_ledger(conn, say, policy=ctx.lock_policy, on_hold=ctx.on_hold)
    result = validate(conn, phase=Phase.PHASE2)
    report.validation = result
    report.needs_review = result.needs_review
    state.record(conn, Phase.PHASE2, "validate", validation=result.to_dict(),
                 detail={"backfill": backfill_detail(report.backfill)})
    if not result.passed:
        report.message = paused_message(conn, result, "phase2")
        say(report.message)


def _run_legs(
    conn: SqlConnection, report: MigrationReport, legs: list[_Leg], base: StepContext, *,
    settled: bool = True,
) -> None:
    say = base.progress
    for index, leg in enumerate(legs):
        t = transition(conn.dialect, leg.start, leg.end)
        # The full gate for a phase 4 that starts from a settled phase 2; one resumed
        # or reversed from an interrupted state is guarded by its NOT NULL step.
        if (leg.start, leg.end) == (Phase.PHASE2, Phase.PHASE4) and leg.done is None \
                and (index > 0 or settled):
            _phase4_gate(conn, report)
        ctx = attrs.evolve(base, transition=t.name, details={})
        say(f"{t.name}: " + (f"resuming after {', '.join(leg.done)}" if leg.done
                            else "starting"))
        try:
            run_transition(conn, t, ctx, done=leg.done, on_step=_on_step(report, say, t))
        except StepPaused as paused:
            report.validation = ctx.validation
            report.needs_review = 0 if ctx.validation is None else ctx.validation.needs_review
            report.message = paused.message
            say(report.message)
            return
        finally:
            if ctx.backfill is not None:
                report.backfill = ctx.backfill
        if ctx.validation is not None:
            report.validation = ctx.validation
            report.needs_review = ctx.validation.needs_review
            if leg.end is Phase.PHASE4 and not ctx.validation.passed:
                report.message = (
                    f"phase 4 applied; its checks report — {ctx.validation.summary()}")
        report.reached = leg.end


def _move(
    conn: SqlConnection, target: Phase, *, forward: bool, confirm: bool, base: StepContext
) -> MigrationReport:
    """``migrate`` (``forward``) and ``rollback``: one run under the migration lock;
    ``base`` is what every step's context starts from (progress, policy, hooks)."""
    _require_reservations(conn.tables())
    with migration_lock(conn):
        start, legs, settled = _plan(conn, target)
        report = MigrationReport(start=start, target=target, reached=start)
        if forward and any(leg.end.rank < leg.start.rank for leg in legs):
            raise MigrationError(
                f"the database is at {start.value}{_interrupted_hint(conn)}; use "
                f"rollback to go back to {target.value}"
            )
        if not forward and any(leg.end.rank > leg.start.rank for leg in legs):
            raise MigrationError(
                f"the database is at {start.value}{_interrupted_hint(conn)}; use migrate "
                "to go forward"
            )
        if forward and any(leg.end is Phase.PHASE4 for leg in legs) and not confirm:
            raise MigrationError(
                "phase 4 drops the legacy columns, the ServiceType enum and "
                "service_reservation_limits; the legacy application stops working. Run it "
                "only after a stable phase 3 (100% dual-write), with --confirm "
                "(from Python: confirm=True)"
            )
        if not legs and forward and target.rank >= Phase.PHASE1.rank:
            _add_clinic_tables(conn, base)
        if not legs:
            if not forward:
                report.message = f"already at {target.value}"
            elif target is Phase.PHASE2:
                # Re-running phase 2 is the catch-up backfill (rows the legacy app wrote).
                _catch_up_phase2(conn, report, base)
            else:
                if target is Phase.PHASE4:  # a phase-4 database made before it kept a ledger
                    ensure_ledger(conn, base.progress, policy=base.lock_policy,
                                  on_hold=base.on_hold)
                report.validation = validate(conn, phase=target)
                report.message = f"already at {target.value}"
            return report
        _run_legs(conn, report, legs, base, settled=settled)
        return report


def migrate_conn(
    conn: SqlConnection,
    *,
    to: Phase | str,
    confirm: bool = False,
    progress: Progress | None = None,
    batch_size: int = 1000,
    backfill_progress: OnBackfillBatch | None = None,
    lock_policy: LockPolicy = DEFAULT_POLICY,
    on_hold: HoldObserver | None = None,
    checkpoint: Checkpoint | None = None,
) -> MigrationReport:
    """Apply every phase from the database's current one up to ``to``, in order, on an
    open connection (autocommit; transactions are opened here).

    Phase 2 stays paused at its validation (``report.ok`` False, ``needs_review`` > 0)
    while rows await manual review; phase 4 refuses without ``confirm=True`` or when
    validation fails (``MigrationError``). An interrupted run is resumed.

    ``progress`` receives text lines (backfill batches summarised); pass
    ``backfill_progress`` to receive the backfill's ``BackfillProgress`` per batch instead.
    ``lock_policy`` (PostgreSQL): how lock-taking statements wait and retry; ``on_hold``
    hears each strong lock's hold time; ``checkpoint`` every step boundary and batch.
    """
    base = StepContext(transition="", progress=progress or _quiet, batch_size=batch_size,
                       backfill_progress=backfill_progress, lock_policy=lock_policy,
                       on_hold=on_hold, checkpoint=checkpoint)
    return _move(conn, Phase.parse(to), forward=True, confirm=confirm, base=base)


def rollback_conn(
    conn: SqlConnection,
    *,
    to: Phase | str,
    progress: Progress | None = None,
    batch_size: int = 1000,
    lock_policy: LockPolicy = DEFAULT_POLICY,
    on_hold: HoldObserver | None = None,
    checkpoint: Checkpoint | None = None,
) -> MigrationReport:
    """Restore the schema (and data) of an earlier phase exactly, on an open
    connection; see docs/migration.md (the keywords are :func:`migrate_conn`'s)."""
    base = StepContext(transition="", progress=progress or _quiet, batch_size=batch_size,
                       lock_policy=lock_policy, on_hold=on_hold, checkpoint=checkpoint)
    return _move(conn, Phase.parse(to), forward=False, confirm=False, base=base)


def migrate(url: str, *, to: Phase | str, **options: Unpack[MigrateOptions]) -> MigrationReport:
    """:func:`migrate_conn` on a connection opened for ``url`` (the same keywords)."""
    with database_errors(), open_sql(url) as conn:
        return migrate_conn(conn, to=to, **options)


def rollback(url: str, *, to: Phase | str, **options: Unpack[RollbackOptions]) -> MigrationReport:
    """:func:`rollback_conn` on a connection opened for ``url`` (the same keywords)."""
    with database_errors(), open_sql(url) as conn:
        return rollback_conn(conn, to=to, **options)


# -- status --------------------------------------------------------------------------------


#: What every command says of a database without the reservations table (not "UndefinedTable").
NOT_THE_CLINIC_DATABASE = "no reservations table: this is not the clinic's reservation database"


def _require_reservations(tables: Collection[str]) -> None:
    if RESERVATIONS_TABLE not in tables:
        raise MigrationError(NOT_THE_CLINIC_DATABASE)


def require_clinic_database(conn: SqlConnection) -> None:
    """``MigrationError`` unless ``conn``'s database has the reservations table: what
    ``analyze``, ``validate``, ``backfill`` and ``review`` check first, as ``migrate`` does."""
    _require_reservations(snapshot(conn).tables)


def status_conn(conn: SqlConnection) -> MigrationStatus:
    # One catalogue read serves the table check, the schema state and the location.
    cat = snapshot(conn)
    _require_reservations(cat.tables)
    try:
        schema: SchemaState | None = cat.schema_state()
    except SchemaStateError:
        schema = None
    row = state.current_phase_row(conn)
    last = state.last_validation(conn)
    hist = [r.to_dict() for r in state.history(conn, limit=20, steps=False)]
    where = locate(conn, catalog=cat)
    return MigrationStatus(
        location=where,
        applied_at=None if row is None else row.applied_at,
        schema_state=schema,
        last_validation=None if last is None else last.validation,
        last_validated_at=None if last is None else last.applied_at,
        history=hist,
        kept_tables=tuple(t for t in KEPT_TABLES if t in cat.tables),
        shadow_tables=tuple(t for t in SHADOW_TABLES if t in cat.tables),
    )


def status(url: str) -> MigrationStatus:
    """Where the database stands: settled (and true), interrupted (with the commands
    that go forward and back) or inconsistent (with what differs)."""
    with database_errors(), open_sql(url) as conn:
        return status_conn(conn)


def _add_clinic_tables(conn: SqlConnection, ctx: StepContext) -> None:
    """A phase-1 database made before a clinic table existed gets it from ``migrate
    --to`` its own phase or a later one: one transaction, under the lock policy."""
    missing = [t for t in CLINIC_TABLES if t not in conn.tables()]
    if not missing:
        return
    if conn.dialect is Dialect.POSTGRES:
        ctx.locked(conn, create_clinic_tables, what=f"create {', '.join(missing)}", weak=True)
    else:
        with conn.transaction():
            create_clinic_tables(conn)
    ctx.progress(f"created {', '.join(missing)} (phase 1's clinic tables, added in this version)")
