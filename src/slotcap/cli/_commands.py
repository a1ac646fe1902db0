"""The subcommands: each parses nothing, calls one Python API and renders its result.

Exit codes: 0 success; 1 checks failed, rows need review, or the operation was
refused; 2 usage (raised as :class:`UsageError`, handled in ``main``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from slotcap.bootstrap import clock_for, open_store
from slotcap.cli._args import UsageError, resolve_database, resolve_direct_database
from slotcap.cli._render import ProgressPrinter, emit_json, show
from slotcap.cli._reports import (
    calendar_rows,
    print_analysis,
    print_backfill,
    print_calendar,
    print_checks,
    print_migration,
    print_status,
)
from slotcap.migration import migrate, rollback, status, validate
from slotcap.migration.analyze import analyze
from slotcap.migration.backfill import run_backfill
from slotcap.migration.ddl.lock_policy import LockPolicy
from slotcap.migration.engine.runlock import migration_lock
from slotcap.migration.phases import require_clinic_database
from slotcap.migration.review import ReviewRejected, export_review, import_review
from slotcap.migration.validation.report import ValidationReport
from slotcap.sql import open_sql
from slotcap.usecases import availability_calendar

__all__ = [
    "EXIT_ATTENTION",
    "EXIT_INCONSISTENT",
    "EXIT_OK",
    "StepPrinter",
    "cmd_analyze",
    "cmd_availability",
    "cmd_backfill",
    "cmd_migrate",
    "cmd_review_export",
    "cmd_review_import",
    "cmd_validate",
]

EXIT_OK = 0
#: Checks failed, rows need manual review, or a file was refused; ``migrate status``:
#: a transition was interrupted (or paused for review).
EXIT_ATTENTION = 1
#: ``migrate status``: the record and the catalogue disagree.
EXIT_INCONSISTENT = 4

#: Longest calendar the CLI prints (one year and a day, leap years included).
MAX_CALENDAR_DAYS = 366
#: The calendar without --to: a week from --from (or from the clinic's today).
DEFAULT_DAYS = 7


def _progress(args: argparse.Namespace) -> ProgressPrinter | None:
    return None if getattr(args, "quiet", False) else ProgressPrinter()


def cmd_analyze(args: argparse.Namespace) -> int:

    with open_sql(resolve_database(args.database)) as conn:
        require_clinic_database(conn)
        analysis = analyze(conn)
    show(args, analysis, lambda a: print_analysis(a, limit=args.limit))
    return EXIT_OK


def cmd_backfill(args: argparse.Namespace) -> int:

    printer = _progress(args)
    url = resolve_direct_database(args)
    with open_sql(url) as conn, migration_lock(conn):
        require_clinic_database(conn)
        try:
            report = run_backfill(conn, batch_size=args.batch_size, pause=args.pause,
                                  dry_run=args.dry_run, progress=printer,
                                  workers=args.workers, connect=lambda: open_sql(url),
                                  max_rate=args.max_rate)
        finally:
            if printer is not None:
                printer.finish()
    show(args, report, print_backfill)
    if report.needs_review and not report.dry_run:
        if not args.json:
            print(f"\n{report.needs_review:,} reservation(s) need manual review: "
                  "slotcap review export --out review.csv")
        return EXIT_ATTENTION
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:

    with open_sql(resolve_direct_database(args)) as conn:
        require_clinic_database(conn)
        report = validate(conn, phase=args.phase)
    if not report.started:
        message = ("the migration has not started: this is a legacy database with nothing "
                   "to validate; run `slotcap migrate --to phase1` first")
        if args.json:
            emit_json({**report.to_dict(), "started": False, "message": message})
        else:
            print(message)
        return EXIT_ATTENTION
    show(args, report, _print_validation)
    return EXIT_OK if report.passed else EXIT_ATTENTION


def _print_validation(report: ValidationReport) -> None:
    print_checks(report.checks)
    failed = len(report.failed)
    warned = sum(1 for c in report.checks if not c.passed) - failed
    print(f"\n{len(report.checks) - failed - warned} passed, {failed} failed, "
          f"{warned} warning(s); {report.needs_review:,} reservation(s) await review")


def cmd_migrate(args: argparse.Namespace) -> int:

    url = resolve_direct_database(args)
    chosen = [x for x in (args.to, args.rollback_to, args.action) if x]
    if len(chosen) != 1:
        raise UsageError("migrate needs exactly one of --to PHASE, --rollback-to PHASE or status")
    if args.action == "status":
        current = status(url)
        show(args, current, print_status)
        return {"settled": EXIT_OK, "interrupted": EXIT_ATTENTION}.get(
            current.state, EXIT_INCONSISTENT)
    if args.lock_timeout > args.lock_timeout_max:
        raise UsageError("--lock-timeout must not exceed --lock-timeout-max")
    policy = LockPolicy(start=args.lock_timeout, cap=args.lock_timeout_max,
                        budget=args.lock_retry_budget)
    printer = None if args.quiet else StepPrinter()
    # The checkpoint hook is None unless a test's launcher passed one to main().
    hook = getattr(args, "checkpoint", None)
    try:
        if args.rollback_to:
            report = rollback(url, to=args.rollback_to, progress=printer,
                              batch_size=args.batch_size, lock_policy=policy, checkpoint=hook)
        else:
            report = migrate(url, to=args.to, confirm=args.confirm, progress=printer,
                             batch_size=args.batch_size, backfill_progress=printer,
                             lock_policy=policy, checkpoint=hook)
    finally:
        if printer is not None:
            printer.finish()
    show(args, report, print_migration)
    return EXIT_OK if report.ok else EXIT_ATTENTION


class StepPrinter:
    """Progress for ``migrate``: step messages as lines, backfill batches as a bar."""

    def __init__(self) -> None:
        self._bar = ProgressPrinter()

    def __call__(self, event: Any) -> None:
        if isinstance(event, str):
            self._bar.finish()
            print(event, file=sys.stderr, flush=True)
        else:
            self._bar(event)

    def finish(self) -> None:
        self._bar.finish()


def cmd_review_export(args: argparse.Namespace) -> int:

    out = Path(args.out)
    if not out.parent.is_dir():
        raise UsageError(f"--out: directory does not exist: {out.parent}")
    if out.is_dir():
        raise UsageError(f"--out: {out} is a directory; name a file")
    with open_sql(resolve_direct_database(args)) as conn:
        require_clinic_database(conn)
        try:
            result = export_review(conn, out)
        except OSError as exc:
            raise UsageError(f"--out: cannot write {out}: {exc.strerror or exc}") from None
    if args.json:
        emit_json(result.to_dict())
    else:
        print(f"Wrote {result.rows:,} reservation(s) needing review to {result.path} "
              "(UTF-8 with BOM, opens in Excel).")
        if result.rows:
            print("Fill the 'period' column with MORNING or AFTERNOON (blank = decide later), "
                  f"then: slotcap review import --in {result.path}")
    return EXIT_OK


def cmd_review_import(args: argparse.Namespace) -> int:

    source = Path(args.input)
    if not source.is_file():
        raise UsageError(f"--in: no such file: {source}")
    with open_sql(resolve_direct_database(args)) as conn, migration_lock(conn):
        require_clinic_database(conn)
        try:
            result = import_review(conn, source)
        except OSError as exc:
            raise UsageError(f"--in: cannot read {source}: {exc.strerror or exc}") from None
        except ReviewRejected as exc:
            if not args.json:
                raise
            emit_json({"refused": True, "problems": [p.to_dict() for p in exc.problems]})
            return EXIT_ATTENTION
    if args.json:
        emit_json({"refused": False, **result.to_dict()})
    else:
        print(f"Applied {result.applied:,} period(s) in one transaction "
              f"({result.unchanged:,} already set to the same value, {result.blank:,} left blank). "
              f"{result.remaining:,} reservation(s) still without a period.")
    return EXIT_OK


def _check_span(start: dt.date, end: dt.date | None) -> None:
    if end is None:
        return
    if end < start:
        raise UsageError(f"--to ({end}) is before --from ({start})")
    if (end - start).days + 1 > MAX_CALENDAR_DAYS:
        raise UsageError(f"--from/--to span more than {MAX_CALENDAR_DAYS} days")


def cmd_availability(args: argparse.Namespace) -> int:
    # Only a store and its clinic's clock: the rollout of bootstrap() is not used here,
    # so a malformed rollout variable must not stop a calendar. Without --from the
    # calendar starts on the clinic's today (bootstrap.clock_for: the server's date).
    if args.start is not None:
        _check_span(args.start, args.end)
    with open_store(resolve_database(args.database)) as store:
        start = args.start if args.start is not None else clock_for(store).today()
        end = args.end if args.end is not None else start + dt.timedelta(days=DEFAULT_DAYS - 1)
        _check_span(start, end)
        entries = availability_calendar(store, start, end)
    if args.json:
        emit_json(calendar_rows(entries))
    else:
        print_calendar(entries)
    return EXIT_OK
