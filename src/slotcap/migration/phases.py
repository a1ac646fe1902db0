"""Apply and roll back the migration's schema phases; report where a database stands.

``migrate(url, to=...)`` walks every phase between the current one and the target, in
order; ``rollback(url, to=...)`` walks back. The state table records each step, so an
interrupted run resumes where it stopped (every phase is idempotent).

The plan's phase 3 (feature-flagged dual-write rollout) changes no schema: ``phase3``
is accepted as a name for phase 2's schema, and ``validate`` carries its monitor.

Phase 2 also builds the read indexes (the plan's two reservation indexes, which it has
in phase 1, and a partial index of the held rows) once the backfill is done;
``create_read_indexes(conn)`` builds them on their own (tests give a phase-1 database
the indexes the phase-3 application reads with).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from slotcap.errors import MigrationError
from slotcap.migration import state
from slotcap.migration._ddl_names import RESERVATIONS, q
from slotcap.migration._ddl_phase2 import create_read_indexes
from slotcap.migration.catalog import detect_schema_state
from slotcap.migration.state import Phase, detect_phase
from slotcap.migration.validate import ValidationReport, validate
from slotcap.ports import SchemaState
from slotcap.sqldb import SqlConnection, open_sql

__all__ = [
    "MigrationReport",
    "MigrationStatus",
    "Phase",
    "StepResult",
    "create_read_indexes",
    "migrate",
    "migrate_conn",
    "rollback",
    "rollback_conn",
    "status",
    "status_conn",
]

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    return None


@attrs.frozen
class StepResult:
    name: str
    seconds: float
    detail: dict[str, Any] = attrs.Factory(dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "seconds": round(self.seconds, 3), "detail": self.detail}


@attrs.define
class MigrationReport:
    """What a ``migrate`` or ``rollback`` call did and where it stopped."""

    start: Phase
    target: Phase
    reached: Phase
    steps: list[StepResult] = attrs.Factory(list)
    validation: ValidationReport | None = None
    #: Reservations still without a period: the parser abstained, a person decides.
    needs_review: int = 0
    #: The BackfillReport of the last backfill run, if any.
    backfill: Any = None
    message: str = ""

    @property
    def ok(self) -> bool:
        """Whether the target phase was reached."""
        return self.reached is self.target

    def to_dict(self) -> dict[str, Any]:
        backfill = self.backfill
        if backfill is not None and hasattr(backfill, "to_dict"):
            backfill = backfill.to_dict()
        elif backfill is not None and attrs.has(type(backfill)):
            backfill = attrs.asdict(backfill)
        return {
            "start": self.start.value,
            "target": self.target.value,
            "reached": self.reached.value,
            "ok": self.ok,
            "needs_review": self.needs_review,
            "message": self.message,
            "steps": [s.to_dict() for s in self.steps],
            "validation": None if self.validation is None else self.validation.to_dict(),
            "backfill": backfill if backfill is None or isinstance(backfill, dict)
            else repr(backfill),
        }


@attrs.frozen
class MigrationStatus:
    """Where a database stands."""

    phase: Phase
    #: When the current phase was applied or rolled back to (database clock), if recorded.
    applied_at: str | None
    #: Which columns reservations has, read from the catalog.
    schema_state: SchemaState
    #: False when the state table and the columns disagree (see ``problem``).
    consistent: bool
    last_validation: dict[str, Any] | None
    last_validated_at: str | None
    history: list[dict[str, Any]]
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase.value,
            "applied_at": self.applied_at,
            "schema_state": self.schema_state.value,
            "consistent": self.consistent,
            "problem": self.problem,
            "last_validation": self.last_validation,
            "last_validated_at": self.last_validated_at,
            "history": self.history,
        }


@contextmanager
def _timed(report: MigrationReport, name: str, progress: Progress) -> Iterator[dict[str, Any]]:
    detail: dict[str, Any] = {}
    started = time.monotonic()
    progress(f"{name}: starting")
    yield detail
    seconds = time.monotonic() - started
    report.steps.append(StepResult(name, seconds, detail))
    progress(f"{name}: done in {seconds:.2f}s")


# -- forward -------------------------------------------------------------------------------


def _apply_phase1(conn: SqlConnection, report: MigrationReport, progress: Progress) -> bool:
    from slotcap.migration._ddl_phase1 import apply_phase1

    with _timed(report, "phase1", progress) as detail:
        apply_phase1(conn, progress)
        result = validate(conn, phase=Phase.PHASE1)
        detail["validation_passed"] = result.passed
    report.validation = result
    if not result.passed:
        state.record(conn, Phase.PHASE1, "validate", validation=result.to_dict())
        raise MigrationError(f"phase 1 applied but its checks failed — {result.summary()}")
    state.record(conn, Phase.PHASE1, "apply", validation=result.to_dict())
    return True


def _unfilled(conn: SqlConnection) -> int:
    """Rows the backfill has not reached (a legacy-only writer added them meanwhile)."""
    return int(conn.scalar(
        f'SELECT count(*) FROM {q(RESERVATIONS)} WHERE "serviceId" IS NULL'  # noqa: S608
    ) or 0)


#: Extra backfill passes when rows arrived during the first one (legacy writer live).
_CATCH_UP_PASSES = 2


def _backfill_detail(backfill: Any) -> Any:
    to_dict = getattr(backfill, "to_dict", None)
    return to_dict() if callable(to_dict) else repr(backfill)


def _batch_lines(progress: Progress) -> Callable[[Any], None]:
    """Backfill batch events as text lines for a str-only ``progress``, at most about
    one per tenth of the rows (a million-row table must not print a thousand lines)."""
    last = [-1]

    def on_batch(event: Any) -> None:
        total = max(int(getattr(event, "rows_total", 0) or 0), 1)
        done = int(getattr(event, "rows_done", 0) or 0)
        tenth = min(done * 10 // total, 10)
        if tenth > last[0]:
            last[0] = tenth
            progress(f"backfill: {done:,}/{total:,} rows examined, "
                     f"{int(getattr(event, 'rows_written', 0) or 0):,} written")

    return on_batch


def _apply_phase2(
    conn: SqlConnection,
    report: MigrationReport,
    progress: Progress,
    batch_size: int,
    *,
    current: Phase = Phase.PHASE1,
    backfill_progress: Callable[[Any], None] | None = None,
) -> bool:
    """Backfill, build the read indexes, validate, and move to phase 2 when every check
    passes. ``current`` is
    PHASE2 for the catch-up run on a phase-2 database (then nothing moves)."""
    # The backfill fills the new columns and journals each row (and column) it fills.
    from slotcap.migration.backfill import run_backfill

    for attempt in range(1 + _CATCH_UP_PASSES):
        name = "backfill" if attempt == 0 else f"backfill catch-up {attempt}"
        with _timed(report, name, progress) as detail:
            report.backfill = run_backfill(
                conn, batch_size=batch_size,
                progress=backfill_progress or _batch_lines(progress),
            )
            detail["backfill"] = _backfill_detail(report.backfill)
        if not _unfilled(conn):
            break
    # The read indexes after the backfill, not in phase 1 as the plan has it: built
    # before, each of its row updates would also maintain them (see _ddl_phase2).
    with _timed(report, "phase2-indexes", progress) as detail:
        detail["indexes"] = create_read_indexes(conn, progress)
    with _timed(report, "phase2-validate", progress) as detail:
        result = validate(conn, phase=Phase.PHASE2)
        detail["passed"] = result.passed
    report.validation = result
    report.needs_review = result.needs_review
    if not result.passed:
        state.record(conn, current, "validate", validation=result.to_dict(),
                     detail={"wanted": "phase2"})
        stay = current.value
        pending = _unfilled(conn)
        if pending:
            report.message = (
                f"{pending} reservation(s) were written without the new columns while the "
                f"backfill ran (a legacy-only writer is live); staying at {stay} — deploy "
                "the dual-writing application, then run migrate to phase2 again"
            )
        elif result.needs_review:
            report.message = (
                f"{result.needs_review} reservation(s) await manual review (unreadable "
                f"preferredTime); staying at {stay}"
            )
        else:
            report.message = f"phase 2 checks failed; staying at {stay} — {result.summary()}"
        progress(report.message)
        return False
    # A catch-up on a phase-2 database is recorded as a validation: "apply" would move
    # the start of the dual-write monitor's window.
    state.record(conn, Phase.PHASE2, "apply" if current is Phase.PHASE1 else "validate",
                 validation=result.to_dict(),
                 detail={"backfill": _backfill_detail(report.backfill)})
    return True


def _apply_phase4(
    conn: SqlConnection, report: MigrationReport, progress: Progress, *, confirm: bool
) -> bool:
    from slotcap.migration._ddl_phase4 import apply_phase4

    if not confirm:
        raise MigrationError(
            "phase 4 drops the legacy columns, the ServiceType enum and "
            "service_reservation_limits; the legacy application stops working. Run it only "
            "after a stable phase 3 (100% dual-write), and pass confirm=True (--confirm)"
        )
    result = validate(conn, phase=Phase.PHASE2)
    report.validation = result
    report.needs_review = result.needs_review
    if not result.passed:
        state.record(conn, Phase.PHASE2, "validate", validation=result.to_dict(),
                     detail={"wanted": "phase4"})
        raise MigrationError(f"phase 4 refused: validation must pass first — {result.summary()}")
    with _timed(report, "phase4", progress) as detail:
        detail.update(apply_phase4(conn, progress))
    result = validate(conn, phase=Phase.PHASE4)
    report.validation = result
    state.record(conn, Phase.PHASE4, "apply", validation=result.to_dict())
    if not result.passed:
        report.message = f"phase 4 applied; its checks report — {result.summary()}"
    return True


def migrate_conn(
    conn: SqlConnection,
    *,
    to: Phase | str,
    confirm: bool = False,
    progress: Progress | None = None,
    batch_size: int = 1000,
    backfill_progress: Callable[[Any], None] | None = None,
) -> MigrationReport:
    """``migrate`` on an open connection (autocommit; transactions are opened here)."""
    say = progress or _quiet
    target = Phase.parse(to)
    _require_reservations(conn)
    start = detect_phase(conn)
    report = MigrationReport(start=start, target=target, reached=start)
    if target.rank < start.rank:
        raise MigrationError(
            f"the database is at {start.value}; use rollback to go back to {target.value}"
        )
    if target is start and target is Phase.PHASE2:
        # Re-running phase 2 is the catch-up backfill (rows the legacy app wrote since).
        _apply_phase2(conn, report, say, batch_size, current=Phase.PHASE2,
                      backfill_progress=backfill_progress)
        return report
    if target is start and target is Phase.PHASE4:
        # Idempotent: finishes an interrupted phase 4 (its final indexes), else no-op.
        from slotcap.migration._ddl_phase4 import apply_phase4

        with _timed(report, "phase4 (resume)", say) as detail:
            detail.update(apply_phase4(conn, say))
        report.validation = validate(conn)
        row = state.current_phase_row(conn)
        if row is not None and row.phase is not Phase.PHASE4:
            state.record(conn, Phase.PHASE4, "apply", validation=report.validation.to_dict())
        return report
    if target is start:
        report.validation = validate(conn)
        report.message = f"already at {target.value}"
        return report
    for phase in (Phase.PHASE1, Phase.PHASE2, Phase.PHASE4):
        if not start.rank < phase.rank <= target.rank:
            continue
        if phase is Phase.PHASE1:
            done = _apply_phase1(conn, report, say)
        elif phase is Phase.PHASE2:
            done = _apply_phase2(conn, report, say, batch_size,
                                 backfill_progress=backfill_progress)
        else:
            done = _apply_phase4(conn, report, say, confirm=confirm)
        if not done:
            return report
        report.reached = phase
    return report


def migrate(
    url: str,
    *,
    to: Phase | str,
    confirm: bool = False,
    progress: Progress | None = None,
    batch_size: int = 1000,
    backfill_progress: Callable[[Any], None] | None = None,
) -> MigrationReport:
    """Apply every phase from the database's current one up to ``to``, in order.

    Phase 2 stays at phase 1 (``report.ok`` False, ``needs_review`` > 0) while rows
    await manual review; phase 4 refuses without ``confirm=True`` or when validation
    fails (``MigrationError``).

    ``progress`` receives text lines (backfill batches summarised); pass
    ``backfill_progress`` to receive the backfill's ``BackfillProgress`` per batch instead.
    """
    with open_sql(url) as conn:
        return migrate_conn(conn, to=to, confirm=confirm, progress=progress,
                            batch_size=batch_size, backfill_progress=backfill_progress)


# -- backward ------------------------------------------------------------------------------


def rollback_conn(
    conn: SqlConnection,
    *,
    to: Phase | str,
    progress: Progress | None = None,
    batch_size: int = 1000,
) -> MigrationReport:
    from slotcap.migration import _ddl_rollback as rb

    say = progress or _quiet
    target = Phase.parse(to)
    _require_reservations(conn)
    start = detect_phase(conn)
    report = MigrationReport(start=start, target=target, reached=start)
    if target.rank > start.rank:
        raise MigrationError(f"the database is at {start.value}; use migrate to go forward")
    if target is start:
        report.message = f"already at {target.value}"
        return report
    for phase in (Phase.PHASE4, Phase.PHASE2, Phase.PHASE1):
        if not target.rank < phase.rank <= start.rank:
            continue
        if phase is Phase.PHASE4:
            with _timed(report, "rollback phase4 -> phase2", say) as detail:
                detail.update(rb.rollback_phase4(conn, say, batch_size=batch_size))
            state.record(conn, Phase.PHASE2, "rollback", detail=detail)
            report.reached = Phase.PHASE2
        elif phase is Phase.PHASE2:
            with _timed(report, "rollback phase2 -> phase1", say) as detail:
                detail.update(rb.rollback_phase2(conn, say, batch_size=batch_size))
            state.record(conn, Phase.PHASE1, "rollback", detail=detail)
            report.reached = Phase.PHASE1
        else:
            with _timed(report, "rollback phase1 -> legacy", say) as detail:
                detail.update(rb.rollback_phase1(conn, say))
            report.reached = Phase.LEGACY  # the state table went with phase 1
    return report


def rollback(
    url: str, *, to: Phase | str, progress: Progress | None = None, batch_size: int = 1000
) -> MigrationReport:
    """Restore the schema (and data) of an earlier phase exactly; see docs/migration.md."""
    with open_sql(url) as conn:
        return rollback_conn(conn, to=to, progress=progress, batch_size=batch_size)


# -- status --------------------------------------------------------------------------------


def _require_reservations(conn: SqlConnection) -> None:
    if RESERVATIONS not in conn.tables():
        raise MigrationError(
            "no reservations table: this is not the clinic's reservation database"
        )


def status_conn(conn: SqlConnection) -> MigrationStatus:
    _require_reservations(conn)
    schema = detect_schema_state(conn)
    row = state.current_phase_row(conn)
    last = state.last_validation(conn)
    hist = [r.to_dict() for r in state.history(conn, limit=20)]
    problem = None
    try:
        phase = detect_phase(conn)
    except Exception as exc:  # SchemaStateError: report it, do not hide it
        problem = str(exc)
        phase = row.phase if row is not None else Phase.LEGACY
    return MigrationStatus(
        phase=phase,
        applied_at=None if row is None else row.applied_at,
        schema_state=schema,
        consistent=problem is None,
        last_validation=None if last is None else last.validation,
        last_validated_at=None if last is None else last.applied_at,
        history=hist,
        problem=problem,
    )


def status(url: str) -> MigrationStatus:
    """Phase applied, when, the last validation result, and the detected schema state."""
    with open_sql(url) as conn:
        return status_conn(conn)
