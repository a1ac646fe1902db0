"""``slotcap shadow report`` and ``slotcap whatif`` (docs/rollout.md, "Shadow decisions").

``shadow report [--from D] [--to D] [--json]``: the bookings both rules decided, and
every mismatch, of booked dates ``--from``..``--to`` (default: the last 30 days and the
coming 5 weeks, from the clinic's today). ``whatif --rule dynamic|legacy --from D --to D
[--json] [--show-patients]``: the held reservations of the range replayed under that
rule with today's settings; exit 0 even when something is over. Patient names and
phones only with ``--show-patients`` (as ``closures add``).
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from typing import Any

from slotcap.bootstrap import bootstrap
from slotcap.cli._args import iso_date, resolve_database
from slotcap.cli._render import emit_json, print_table
from slotcap.usecases.shadow import ShadowReport, shadow_report
from slotcap.usecases.whatif import RULES, WhatIf, whatif

__all__ = ["cmd_shadow_report", "cmd_whatif", "register"]

Handler = Callable[[argparse.Namespace], int]
Subcommand = Callable[[Any, str, Handler, str], argparse.ArgumentParser]

#: ``shadow report``'s default range around the clinic's today.
DAYS_BACK, DAYS_AHEAD = 30, 35


def print_shadow(report: ShadowReport) -> None:
    print(f"shadow decisions, booked dates {report.start} to {report.end}: "
          f"{report.decisions} bookings decided by both rules, "
          f"{len(report.mismatches)} mismatches"
          + (f" ({report.not_shadowable} legacy bookings without a period: not shadowable)"
             if report.not_shadowable else ""))
    if report.by_kind:
        print_table(["control", "agreement", "bookings"],
                    [[c, a, n] for (c, a), n in sorted(report.by_kind.items())],
                    right=(2,), indent="  ")
    if report.mismatches:
        print("mismatches (control_only: the control allowed, the other rule would have "
              "refused; shadow_only: the reverse):")
        print_table(["date", "period", "service", "kind", "count"],
                    [[d, p or "-", s, k, n] for d, p, s, k, n in report.groups()],
                    right=(4,), indent="  ")


def cmd_shadow_report(args: argparse.Namespace) -> int:
    url = resolve_database(args.database)
    with bootstrap(url) as app:
        today = app.clock.today()
        start = args.start or today - dt.timedelta(days=DAYS_BACK)
        end = args.end or max(start, today) + dt.timedelta(days=DAYS_AHEAD)
        report = shadow_report(app.store, start, end)
    if args.json:
        emit_json(report.to_dict())
    else:
        print_shadow(report)
    return 0


def print_whatif(result: WhatIf, show_patients: bool) -> None:
    where = "period" if result.rule == "dynamic" else "service"
    print(f"whatif --rule {result.rule}, {result.start} to {result.end}: "
          f"{result.held_rows} held reservations replayed, {len(result.over)} "
          f"{where}s over ({result.unit})")
    if not result.over:
        return
    print_table(["date", where, "held", "capacity", "over by", "reason", "would not fit"],
                [[o.day.isoformat(),
                  (o.period.value if o.period else "-") if result.rule == "dynamic"
                  else o.service or "-",
                  o.held, o.capacity, o.over_by, o.reason, len(o.reservation_ids)]
                 for o in result.over], right=(2, 3, 4, 6), indent="  ")
    for o in result.over:
        if show_patients:
            for rid, name, phone in o.patients:
                print(f"  {o.day} {rid}  {name}  {phone}")
        elif o.reservation_ids:
            print(f"  {o.day} {o.period.value if o.period else o.service}: "
                  f"{', '.join(o.reservation_ids)}")


def cmd_whatif(args: argparse.Namespace) -> int:
    url = resolve_database(args.database)
    with bootstrap(url) as app:
        result = whatif(app.store, args.rule, args.start, args.end,
                        show_patients=args.show_patients)
    if args.json:
        emit_json(result.to_dict())
    else:
        print_whatif(result, args.show_patients)
    return 0


def register(sub: Any, subcommand: Subcommand) -> None:
    """Add ``shadow`` (with ``report``) and ``whatif`` to the top-level subparsers."""
    shadow = sub.add_parser("shadow", help=SHADOW_HELP, description=SHADOW_HELP)
    actions = shadow.add_subparsers(dest="shadow_command", metavar="ACTION", required=True)
    report = subcommand(actions, "report", cmd_shadow_report,
                        "bookings both rules decided and their mismatches, per date, "
                        "period, service and kind")
    report.add_argument("--from", dest="start", type=iso_date, metavar="DATE",
                        help=f"first booked date (default: {DAYS_BACK} days before the "
                        "clinic's today)")
    report.add_argument("--to", dest="end", type=iso_date, metavar="DATE",
                        help=f"last booked date (default: {DAYS_AHEAD} days after today)")
    what = subcommand(sub, "whatif", cmd_whatif, WHATIF_HELP)
    what.add_argument("--rule", required=True, choices=RULES,
                      help="replay under this rule (dynamic: minutes per period; legacy: "
                      "daily count limits)")
    what.add_argument("--from", dest="start", type=iso_date, metavar="DATE", required=True,
                      help="first date")
    what.add_argument("--to", dest="end", type=iso_date, metavar="DATE", required=True,
                      help="last date")
    what.add_argument("--show-patients", action="store_true", dest="show_patients",
                      help="also print the names and phones of the reservations that "
                      "would not fit")


SHADOW_HELP = ("shadow decisions: what the other rule would have decided (phases 1-3; "
               "docs/rollout.md)")
WHATIF_HELP = ("replay a date range's held reservations under one rule with today's "
               "settings: where would they not fit? (exit 0 either way)")
