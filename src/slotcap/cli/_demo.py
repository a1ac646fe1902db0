"""``slotcap demo``: a legacy database built from the reference DDL, migrated step by step.

The file is marked with an SQLite ``application_id`` so that a later run overwrites a
previous demo but refuses to overwrite anything else (a real database, a document).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

from slotcap.bootstrap import clock_for, store_on
from slotcap.cli._args import UsageError
from slotcap.cli._commands import EXIT_OK, StepPrinter
from slotcap.cli._progress import Bar
from slotcap.cli._render import emit_json, print_table
from slotcap.cli._reports import calendar_rows, print_calendar, print_checks, print_review_rows
from slotcap.demo.data import generate_reservations, insert_limits, insert_reservations
from slotcap.migration import migrate_conn, validate
from slotcap.migration.analyze import analyze
from slotcap.migration.ddl.phase1 import DEFAULT_TIME_ZONE
from slotcap.migration.review import count_pending, pending_review
from slotcap.ports import Clock
from slotcap.schema.legacy import create_legacy_schema
from slotcap.sql import SqlConnection, open_sql
from slotcap.sql.driver_errors import database_errors
from slotcap.usecases import availability_calendar

__all__ = ["DEMO_APPLICATION_ID", "cmd_demo", "is_demo_file"]

#: 'SLCD' — written to the SQLite header so a later demo run knows the file is ours.
DEMO_APPLICATION_ID = 0x534C4344
_SQLITE_MAGIC = b"SQLite format 3\x00"


def is_demo_file(path: Path) -> bool:
    with path.open("rb") as handle:
        if handle.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
            return False
    # Read through SQLite (not the raw header): a WAL file may hold the newest page 1.
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return bool(conn.execute("PRAGMA application_id").fetchone()[0] == DEMO_APPLICATION_ID)
    except sqlite3.DatabaseError:
        return False
    finally:
        conn.close()


def _prepare(path: Path) -> None:
    if path.is_dir():
        raise UsageError(f"--path: {path} is a directory")
    if not path.parent.is_dir():
        raise UsageError(f"--path: directory does not exist: {path.parent}")
    if path.exists() and path.stat().st_size > 0 and not is_demo_file(path):
        raise UsageError(
            f"--path: refusing to overwrite {path}: it is not a slotcap demo database"
        )
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _say(quiet: bool, *lines: str) -> None:
    if not quiet:
        for line in lines:
            print(line)


#: Rows generated and inserted per transaction: the bar moves every ~0.5 s.
_FILL_CHUNK = 2000


def _fill(conn: SqlConnection, args: argparse.Namespace, today: dt.date, *,
          progress: bool) -> None:
    """The demo's reservations, in chunks under a progress bar (100,000 rows take
    ~25 s: never silent). Same seed, same rows, whatever the chunking."""
    rows = generate_reservations(args.rows, seed=args.seed, today=today)
    bar = Bar("generating reservations", args.rows) if progress else None
    done = 0
    try:
        while chunk := list(itertools.islice(rows, _FILL_CHUNK)):
            insert_reservations(conn, chunk)
            done += len(chunk)
            if bar is not None:
                bar.update(done)
    finally:
        if bar is not None:
            bar.finish()


def cmd_demo(args: argparse.Namespace) -> int:
    # The clinic's "today" throughout: the zone phase 1 is about to store (what the
    # server, the operator page and `hours set` then read), unless SLOTCAP_CLINIC_TZ
    # overrides it — a bad setting fails before any file is touched.
    clock = clock_for(None, os.environ, zone=DEFAULT_TIME_ZONE)
    path = Path(args.path).expanduser().absolute()
    _prepare(path)
    url = f"sqlite:///{path}"
    # One connection for the whole demo: the migration runs on it and the store that
    # reads the calendar is built on it by the composition root.
    with database_errors(), open_sql(url) as conn:
        return _demo(args, conn, clock, path, url)


def _demo(
    args: argparse.Namespace, conn: SqlConnection, clock: Clock, path: Path, url: str
) -> int:
    quiet = bool(args.json)
    today = clock.today()
    summary: dict[str, Any] = {"path": str(path), "database": url, "rows": args.rows,
                               "seed": args.seed}

    _say(quiet, "slotcap demo: a clinic's reservation database, migrated step by step",
         f"Database file: {path}", "")
    conn.execute(f"PRAGMA application_id = {DEMO_APPLICATION_ID}")
    create_legacy_schema(conn)
    insert_limits(conn)
    _fill(conn, args, today, progress=not quiet)
    _say(quiet, f"1. Legacy database built from the reference DDL (as production has it): "
         f"{args.rows:,} reservations, free-text preferredTime, 6 daily count limits.", "")

    analysis = analyze(conn, today=today)
    summary["analysis"] = {"distinct_time_formats": analysis.distinct_times,
                           "periods": analysis.periods, "reasons": analysis.reasons}
    if not quiet:
        print(f"2. Analysis (plan step 2.1): {analysis.distinct_times} distinct "
              "preferredTime values. What the parser reads in them:")
        for key, count in analysis.periods.items():
            share = 100.0 * count / max(analysis.total, 1)
            print(f"     {key:<10} {count:>6,}  ({share:.1f}%)")
        print("   The most frequent values:")
        print_table(("preferredTime", "count", "period", "reason"),
                    [(repr(t.text), t.count, t.period or "-", t.reason)
                     for t in analysis.time_formats[:8]], right=(1,), indent="     ")
        print()

    printer = None if quiet else StepPrinter()
    _say(quiet, "3. Phase 1 (expand: new tables, nullable columns) and phase 2 (backfill):")
    sys.stdout.flush()
    migrate_conn(conn, to="phase1", progress=printer)
    phase2 = migrate_conn(conn, to="phase2", progress=printer, backfill_progress=printer)
    if printer is not None:
        printer.finish()
    summary["phase2"] = phase2.to_dict() if hasattr(phase2, "to_dict") else str(phase2)
    _say(quiet, "")

    pending = count_pending(conn)
    examples = pending_review(conn, limit=6)
    # The phase-2 checks ("may it become phase 2?"), whatever phase 2's outcome was.
    report = validate(conn, phase="phase2")
    summary["review"] = {"count": pending, "examples": [r.to_dict() for r in examples]}
    summary["validation"] = report.to_dict()
    if not quiet:
        print(f"4. Manual review: {pending:,} reservation(s) have a preferredTime the parser "
              "will not guess (the plan's ELSE 'MORNING' would have misfiled them):")
        print_review_rows(examples, indent="     ")
        print("   Expected: an operator exports them, fills MORNING/AFTERNOON, imports.")
        print()
        print("5. Validation:")
        print_checks(report.checks, indent="     ")
        if not report.passed:
            print("   (Checks that fail here wait for the manual review above: that is the "
                  "state a real migration is in after its first backfill.)")
        print()

    start = today
    end = today + dt.timedelta(days=6)
    # The store on the migration's own connection, built by the composition root now
    # that the schema it detects exists (closing it leaves the connection open).
    with store_on(conn, clock=clock) as store:
        entries = availability_calendar(store, start, end)
    summary["calendar"] = calendar_rows(entries)
    if quiet:
        emit_json(summary)
        return EXIT_OK
    print(f"6. Availability, {start} .. {end} (minutes; PENDING and CONFIRMED "
          "hold capacity):")
    print_calendar(entries, indent="     ")
    if any(e.is_open and e.booked > e.capacity for e in entries):
        print("     Over 100%: booked under the legacy count rule, which never counted minutes.")
    db = f"--database {url}"
    # scripts/demo runs slotcap from ./.venv, which the user's shell may not have on
    # PATH: it names the executable so that every hint below runs as printed.
    cli = os.environ.get("SLOTCAP_CLI", "slotcap")
    print()
    print("Next, try:")
    for line in (
        f"{cli} analyze {db}",
        f"{cli} review export {db} --out review.csv",
        f"{cli} review import {db} --in review.csv",
        f"{cli} validate {db} --phase phase2",
        f"{cli} migrate {db} --to phase2",
        f"{cli} availability {db} --from {start} --to {end}",
        f"{cli} migrate {db} status",
    ):
        print(f"  {line}")
    return EXIT_OK
