"""``slotcap hours show|set``: the clinic's weekly opening hours.

A thin shell over :mod:`slotcap.usecases.hours`, which validates every value; this
module parses options, opens the store through the composition root and prints. A
refused field is reported under its argument's name (``--start``, ``WEEKDAY``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from slotcap.bootstrap import clock_for
from slotcap.cli._args import fields_as_options, store_of
from slotcap.cli._render import emit_json, print_table
from slotcap.domain.model import ClinicTimeSlot, Period
from slotcap.errors import InvalidHoursDefinition
from slotcap.usecases import hours

__all__ = ["register", "slot_dict"]

Handler = Callable[[argparse.Namespace], int]
#: main's ``_subcommand``: adds a subcommand with ``--database`` and ``--json``.
Subcommand = Callable[[Any, str, Handler, str], argparse.ArgumentParser]

#: The library's field names as the arguments that set them.
_OPTIONS = {
    "weekday": "WEEKDAY", "period": "PERIOD", "start": "--start", "end": "--end",
    "closed": "--closed",
}
#: Monday first, as a clinic's week is read (the schema numbers Sunday 0).
_WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def slot_dict(day_of_week: int, period: Period, slot: ClinicTimeSlot | None) -> dict[str, Any]:
    """One weekly period as ``--json`` prints it; a period without a row is closed."""
    is_open = slot is not None and slot.is_active
    return {
        "weekday": _WEEK[(day_of_week - 1) % 7], "day_of_week": day_of_week,
        "period": period.value, "open": is_open,
        "start": None if slot is None else f"{slot.start_time:%H:%M}",
        "end": None if slot is None else f"{slot.end_time:%H:%M}",
        "capacity_minutes": slot.total_minutes if slot is not None and is_open else 0,
    }


def _describe(slot: ClinicTimeSlot | None) -> str:
    if slot is None or not slot.is_active:
        return "closed"
    return f"open {slot.start_time:%H:%M}-{slot.end_time:%H:%M}, {slot.total_minutes} min"


def cmd_show(args: argparse.Namespace) -> int:
    with store_of(args) as store:
        slots = {(s.day_of_week, s.period): s for s in hours.list_hours(store)}
    week = [(hours.WEEKDAYS[name], period) for name in _WEEK for period in Period]
    rows = [slot_dict(day, period, slots.get((day, period))) for day, period in week]
    if args.json:
        emit_json(rows)
        return 0
    print_table(
        ["weekday", "period", "open", "start", "end", "capacity"],
        [[r["weekday"], r["period"], "yes" if r["open"] else "no", r["start"] or "-",
          r["end"] or "-", r["capacity_minutes"]] for r in rows],
        right=(5,),
    )
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    with fields_as_options(InvalidHoursDefinition, _OPTIONS), store_of(args) as store:
        # The clinic's "today" as the server has it (bootstrap.clock_for), not the machine's.
        clock = clock_for(store)
        change = hours.set_hours(
            store, args.weekday, args.period, start=args.start, end=args.end,
            closed=args.closed, dry_run=args.dry_run, clock=clock,
        )
    day = hours.day_of_week(args.weekday)
    period = Period(args.period.strip().upper())
    over = [{"date": o.day.isoformat(), "period": o.period.value, "held_minutes": o.held_minutes,
             "capacity_minutes": o.capacity} for o in change.over_capacity]
    if args.json:
        emit_json({
            "slot": slot_dict(day, period, change.slot),
            "previous": slot_dict(day, period, change.previous),
            "changed": change.slot != change.previous,
            "saved": change.saved, "dry_run": bool(args.dry_run),
            "window": {"from": change.window_start.isoformat(),
                       "to": change.window_end.isoformat()},
            "over_capacity": over,
        })
        return 0
    name = f"{hours.weekday_name(day)} {period.value}"
    verb = "Would set" if args.dry_run else "Set"
    if change.slot == change.previous:
        verb = "Unchanged"
    print(f"{verb} {name}: {_describe(change.slot)} (was {_describe(change.previous)})")
    if args.dry_run:
        print("dry run: nothing was written")
    if over:
        print(f"warning: {len(over)} upcoming date(s) from {change.window_start} to "
              f"{change.window_end} hold more minutes in {name} than its new capacity "
              f"({change.capacity} min); no booking was cancelled:", file=sys.stderr)
        for o in change.over_capacity:
            print(f"  {o.day.isoformat()}  held {o.held_minutes} min  "
                  f"capacity {o.capacity} min", file=sys.stderr)
    return 0


def register(sub: Any, subcommand: Subcommand) -> None:
    """Add ``hours`` and its actions to the top-level subparsers ``sub``."""
    text = "the clinic's weekly opening hours (needs phase 1)"
    group = sub.add_parser("hours", help=text, description=text)
    actions = group.add_subparsers(dest="hours_command", metavar="ACTION", required=True)
    subcommand(actions, "show", cmd_show, "every weekday's periods, open or closed, and minutes")
    setter = subcommand(actions, "set", cmd_set,
                        "open a weekday's period from --start to --end, or --closed "
                        "(bookings are never cancelled; dates booked over the new "
                        f"capacity in the next {hours.EFFECT_WEEKS} weeks are listed)")
    setter.add_argument("weekday", metavar="WEEKDAY",
                        help="mon..sun (or monday..sunday, any case)")
    setter.add_argument("period", metavar="PERIOD", help="MORNING or AFTERNOON (any case)")
    setter.add_argument("--start", metavar="HH:MM", help="opening time")
    setter.add_argument("--end", metavar="HH:MM", help="closing time (after --start)")
    setter.add_argument("--closed", action="store_true",
                        help="close the period (its row stays, inactive)")
    setter.add_argument("--dry-run", dest="dry_run", action="store_true",
                        help="show the change and its effect; write nothing")
