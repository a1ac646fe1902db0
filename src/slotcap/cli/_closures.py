"""``slotcap closures add|list|remove`` and ``slotcap timezone show|set``.

A thin shell over :mod:`slotcap.usecases.closures`, which validates every field; a
refused field is reported under its option's name (``--capacity``).

``closures add`` lists the PENDING/CONFIRMED bookings the new closure covers, with the
patient's name and phone, so staff can call them: the one place slotcap prints patient
data on purpose — to the operator's terminal (stdout), never to a log or an error.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from slotcap.cli._args import fields_as_options, iso_date, store_of
from slotcap.cli._render import emit_json, print_table
from slotcap.domain.closures import Closure
from slotcap.domain.model import Reservation
from slotcap.errors import InvalidClosure, InvalidTimeZone
from slotcap.usecases import closures as uc

__all__ = ["closure_dict", "register"]

Handler = Callable[[argparse.Namespace], int]
Subcommand = Callable[[Any, str, Handler, str], argparse.ArgumentParser]

_OPTIONS = {
    "start_date": "--date", "end_date": "--to", "period": "--period", "rrule": "--rrule",
    "capacity_minutes": "--capacity", "reason": "--reason",
}


def closure_dict(c: Closure) -> dict[str, Any]:
    return {
        "id": c.id, "start_date": c.start_date.isoformat(),
        "end_date": None if c.end_date is None else c.end_date.isoformat(),
        "period": None if c.period is None else c.period.value, "rrule": c.rrule,
        "capacity_minutes": c.capacity_minutes, "closed": c.closes, "reason": c.reason,
    }


def _booking_dict(r: Reservation) -> dict[str, Any]:
    return {
        "id": r.id, "date": r.preferred_date.isoformat(),
        "period": None if r.period is None else r.period.value,
        "status": r.status.value, "patient_name": r.patient_name, "phone": r.phone,
    }


def _what(c: Closure) -> str:
    when = c.start_date.isoformat()
    if c.end_date is not None:
        when += f"..{c.end_date.isoformat()}"
    if c.rrule is not None:
        when += f" repeating {c.rrule}"
    part = "whole day" if c.period is None else c.period.value
    effect = "CLOSED" if c.closes else f"capacity {c.capacity_minutes} min"
    return f"{when}, {part}: {effect} ({c.reason})"


def cmd_add(args: argparse.Namespace) -> int:
    with fields_as_options(InvalidClosure, _OPTIONS), store_of(args) as store:
        added = uc.add_closure(
            store, start_date=args.date, end_date=args.to, period=args.period,
            rrule=args.rrule, capacity_minutes=args.capacity, reason=args.reason,
        )
    if args.json:
        emit_json({**closure_dict(added.closure),
                   "affected_bookings": [_booking_dict(r) for r in added.affected]})
        return 0
    print(f"Added {added.closure.id}: {_what(added.closure)}")
    if added.affected:
        print(f"\n{len(added.affected)} existing booking(s) on the closed date(s) — "
              "call these patients (PATIENT DATA, for staff only):")
        print_table(
            ["reservation", "date", "period", "status", "name", "phone"],
            [[r.id, r.preferred_date.isoformat(), r.period.value if r.period else "?",
              r.status.value, r.patient_name, r.phone] for r in added.affected],
        )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with fields_as_options(InvalidClosure, _OPTIONS), store_of(args) as store:
        found = uc.list_closures(store, start=args.start, end=args.end)
    if args.json:
        emit_json([closure_dict(c) for c in found])
        return 0
    print_table(
        ["id", "from", "to", "period", "rrule", "capacity", "reason"],
        [[c.id, c.start_date.isoformat(), c.end_date.isoformat() if c.end_date else "",
          c.period.value if c.period else "all day", c.rrule or "",
          "CLOSED" if c.closes else c.capacity_minutes, c.reason] for c in found],
    )
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    with store_of(args) as store:
        uc.remove_closure(store, args.id)
    if args.json:
        emit_json({"removed": args.id})
    else:
        print(f"Removed {args.id}")
    return 0


def cmd_tz_show(args: argparse.Namespace) -> int:
    with store_of(args) as store:
        name = uc.clinic_time_zone(store)
    if args.json:
        emit_json({"time_zone": name})
    else:
        print(name if name is not None else "(not set: SLOTCAP_CLINIC_TZ or the machine's zone)")
    return 0


def cmd_tz_set(args: argparse.Namespace) -> int:
    try:
        uc.valid_time_zone(args.name)  # refuse a bad name before opening anything
    except InvalidTimeZone as exc:  # named as typed: the positional NAME
        raise InvalidTimeZone({"NAME": exc.fields["time_zone"]}) from None
    with store_of(args) as store:
        name = uc.set_clinic_time_zone(store, args.name)
    if args.json:
        emit_json({"time_zone": name})
    else:
        print(f"Clinic time zone: {name}")
    return 0


def register(sub: Any, subcommand: Subcommand) -> None:
    """Add ``closures`` and ``timezone`` to the top-level subparsers ``sub``."""
    closures = sub.add_parser(
        "closures", help="closures and capacity overrides by date (needs phase 1)",
        description="closures and capacity overrides by date (needs phase 1)")
    actions = closures.add_subparsers(dest="closures_command", metavar="ACTION", required=True)
    added = subcommand(actions, "add", cmd_add,
                       "close the clinic (or set a capacity) on a date, range or recurrence")
    added.add_argument("--date", required=True, type=iso_date, metavar="DATE",
                       help="first (or only) date, YYYY-MM-DD")
    added.add_argument("--to", type=iso_date, metavar="DATE",
                       help="last date of a range, or of a recurrence (inclusive)")
    added.add_argument("--period", choices=("morning", "afternoon"),
                       help="one period only (default: the whole day)")
    added.add_argument("--rrule", metavar="RULE",
                       help="RFC 5545 recurrence from --date, e.g. FREQ=WEEKLY;BYDAY=SU "
                       "or FREQ=YEARLY (no DTSTART/UNTIL: use --date/--to)")
    added.add_argument("--capacity", type=int, metavar="MINUTES",
                       help="an override: this capacity instead of closing")
    added.add_argument("--reason", required=True, help="e.g. 'public holiday'")
    listed = subcommand(actions, "list", cmd_list, "list closures and overrides")
    listed.add_argument("--from", dest="start", type=iso_date, metavar="DATE",
                        help="only those falling on or after this date")
    listed.add_argument("--to", dest="end", type=iso_date, metavar="DATE",
                        help="only those falling on or before this date")
    removed = subcommand(actions, "remove", cmd_remove, "delete a closure or override")
    removed.add_argument("id", metavar="ID")

    tz = sub.add_parser("timezone", help="the clinic's time zone (needs phase 1)",
                        description="the clinic's time zone, stored in clinic_settings")
    tz_actions = tz.add_subparsers(dest="timezone_command", metavar="ACTION", required=True)
    subcommand(tz_actions, "show", cmd_tz_show, "print the stored time zone")
    set_tz = subcommand(tz_actions, "set", cmd_tz_set, "store the clinic's IANA time zone")
    set_tz.add_argument("name", metavar="NAME", help="e.g. Asia/Seoul")
