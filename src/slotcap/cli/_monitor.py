"""``slotcap monitor [--hours N] [--json]``: the plan's phase-3 monitoring, from the
database itself (docs/monitor.md).

A thin shell over :func:`slotcap.usecases.monitor.rollout_monitor`: the store, the
clock and the rollout settings come from the composition root (the rollout from this
process's ``USE_DYNAMIC_SERVICES`` / ``DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE``: run it with
the application's environment). Exit code 0 healthy, 1 look at this.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from slotcap.bootstrap import bootstrap
from slotcap.cli._args import resolve_database
from slotcap.cli._render import emit_json, paint, print_table
from slotcap.usecases.monitor import MAX_HOURS, MonitorReport, rollout_monitor
from slotcap.usecases.shadow import shadow_glance

__all__ = ["cmd_monitor", "print_report", "register"]

Handler = Callable[[argparse.Namespace], int]
#: main's ``_subcommand``: adds a subcommand with ``--database`` and ``--json``.
Subcommand = Callable[[Any, str, Handler, str], argparse.ArgumentParser]

EXIT_HEALTHY = 0
EXIT_LOOK = 1


def _hours(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= MAX_HOURS:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_HOURS}, got {value}")
    return value


def print_report(report: MonitorReport) -> None:
    print(paint(report.headline(), "green" if report.healthy else "yellow"))
    for finding in report.findings:
        print(f"  - {finding}")
    rollout = (
        "USE_DYNAMIC_SERVICES=true (every booking on the dynamic rule)"
        if report.rollout_enabled
        else f"DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE={report.rollout_percentage}"
    )
    print(f"schema state: {report.schema_state.value}")
    print(f"rollout: {report.dynamic_share}% dynamic ({rollout})")
    dynamic = sum(h.dynamic for h in report.per_hour)
    print(f"reservations created in the last {report.hours} h (UTC hours, the current one "
          f"partial): {report.created} ({dynamic} written with every new column, "
          f"{report.created - dynamic} without — the legacy app's)")
    print_table(
        ["hour (UTC)", "with new columns", "old columns only", "total"],
        [[h.hour_start.strftime("%Y-%m-%d %H:00"), h.dynamic, h.legacy, h.total]
         for h in report.per_hour],
        right=(1, 2, 3), indent="  ",
    )
    gaps = str(report.dual_write_gaps)
    if report.gaps_period_only:
        gaps += f" ({report.gaps_period_only} without a period only)"
    print(f"dual-write gaps: {gaps}")
    for note in report.notes:
        print(f"note: {note}")


def cmd_monitor(args: argparse.Namespace) -> int:
    url = resolve_database(args.database)
    with bootstrap(url) as app:
        report = rollout_monitor(
            app.store, rollout=app.rollout, now=app.clock.now(), hours=args.hours
        )
        glance = shadow_glance(app.store, app.clock.now(), app.clock.today(), args.hours)
    if args.json:
        emit_json({**report.to_dict(), "shadow": glance})
    else:
        print_report(report)
        if glance is not None:
            print(f"shadow: in the last {glance['hours']} h, {glance['mismatches']} bookings "
                  "the other rule would have decided differently; next date over its "
                  f"minutes: {glance['next_over_date'] or 'none in the coming 5 weeks'}")
    return EXIT_HEALTHY if report.healthy else EXIT_LOOK


def register(sub: Any, subcommand: Subcommand) -> None:
    """Add ``monitor`` to the top-level subparsers ``sub``."""
    parser = subcommand(
        sub, "monitor", cmd_monitor,
        "phase-3 monitoring from the database: reservations per hour by path, dual-write "
        "gaps, rollout settings (exit 0 healthy, 1 look at this)",
    )
    parser.add_argument("--hours", type=_hours, default=24, metavar="N",
                        help=f"whole UTC hours to look back, the current one included "
                        f"(1 to {MAX_HOURS}, default 24)")


