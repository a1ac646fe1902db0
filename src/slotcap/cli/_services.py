"""``slotcap services list|add|update|deactivate|reactivate``: the service catalogue.

A thin shell over :mod:`slotcap.usecases.catalogue`, which validates every field; this
module parses options, opens the store through the composition root and prints. A
refused field is reported under its option's name (``--duration``), not the Python one.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from slotcap.cli._args import UsageError, fields_as_options, store_of
from slotcap.cli._render import emit_json, print_table
from slotcap.domain.model import Service
from slotcap.errors import InvalidServiceDefinition
from slotcap.ports import SchemaState
from slotcap.usecases import catalogue

__all__ = ["register", "service_dict"]

Handler = Callable[[argparse.Namespace], int]
#: main's ``_subcommand``: adds a subcommand with ``--database`` and ``--json``.
Subcommand = Callable[[Any, str, Handler, str], argparse.ArgumentParser]

#: The library's field names as the options that set them.
_OPTIONS = {
    "name": "--name", "name_en": "--name-en", "duration_minutes": "--duration",
    "buffer_minutes": "--buffer", "display_order": "--order",
}


def service_dict(service: Service, state: SchemaState | None = None) -> dict[str, Any]:
    """A service as ``--json`` prints it (snake_case keys); with the database's
    ``state``, also whether a patient can book it now."""
    found = {
        "id": service.id, "code": service.code, "name": service.name,
        "name_en": service.name_en, "duration_minutes": service.duration_minutes,
        "buffer_minutes": service.buffer_minutes, "display_order": service.display_order,
        "is_active": service.is_active,
        # Before phase 4 only the legacy enum's codes can be booked (dual-written).
        "in_legacy_enum": service.is_legacy,
    }
    if state is not None:
        found["bookable_now"] = catalogue.bookable_now(service, state)
    return found


def _not_bookable_yet(service: Service, state: SchemaState) -> str:
    if not service.is_active or catalogue.bookable_now(service, state):
        return ""
    return (f"; not bookable before phase 4 — the legacy ServiceType enum column cannot "
            f"hold {service.code}, so patients are not offered it (GET /api/services) "
            "until `slotcap migrate --to phase4`")


def _as_options(code_option: str) -> AbstractContextManager[None]:
    return fields_as_options(InvalidServiceDefinition, {**_OPTIONS, "code": code_option})


def _print_one(args: argparse.Namespace, verb: str, service: Service,
               state: SchemaState) -> int:
    if args.json:
        emit_json(service_dict(service, state))
    else:
        english = f" ({service.name_en})" if service.name_en else ""
        active = "active" if service.is_active else "inactive"
        print(f"{verb} {service.code}: {service.name}{english}, "
              f"{service.duration_minutes} min + {service.buffer_minutes} min buffer, "
              f"order {service.display_order}, {active}{_not_bookable_yet(service, state)}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with store_of(args) as store:
        services = catalogue.list_services(store, include_inactive=args.all)
        state = store.schema_state
    if args.json:
        emit_json([service_dict(s, state) for s in services])
        return 0
    print_table(
        ["code", "name", "name_en", "duration", "buffer", "order", "active", "bookable"],
        [[s.code, s.name, s.name_en, s.duration_minutes, s.buffer_minutes, s.display_order,
          "yes" if s.is_active else "no",
          "yes" if catalogue.bookable_now(s, state) else
          "after phase 4" if s.is_active else "no"] for s in services],
        right=(3, 4, 5),
    )
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    with _as_options("--code"), store_of(args) as store:
        service = catalogue.add_service(
            store, code=args.code, name=args.name, name_en=args.name_en,
            duration_minutes=args.duration_minutes, buffer_minutes=args.buffer_minutes,
            display_order=args.display_order,
        )
        state = store.schema_state
    return _print_one(args, "Added", service, state)


def cmd_update(args: argparse.Namespace) -> int:
    changes = {field: getattr(args, field) for field in _OPTIONS
               if getattr(args, field) is not None}
    if not changes:
        raise UsageError("services update needs at least one of "
                         f"{', '.join(_OPTIONS.values())}")
    if changes.get("name_en") == "":
        changes["name_en"] = None  # --name-en '' clears the English name
    with _as_options("CODE"), store_of(args) as store:
        service = catalogue.update_service(store, args.code, **changes)
        state = store.schema_state
    return _print_one(args, "Updated", service, state)


def cmd_deactivate(args: argparse.Namespace) -> int:
    with _as_options("CODE"), store_of(args) as store:
        service = catalogue.deactivate_service(store, args.code)
        state = store.schema_state
    return _print_one(args, "Deactivated", service, state)


def cmd_reactivate(args: argparse.Namespace) -> int:
    with _as_options("CODE"), store_of(args) as store:
        service = catalogue.reactivate_service(store, args.code)
        state = store.schema_state
    return _print_one(args, "Reactivated", service, state)


def _fields(parser: argparse.ArgumentParser, *, adding: bool) -> None:
    parser.add_argument("--name", required=adding, help="Korean name")
    parser.add_argument("--name-en", dest="name_en",
                        help="English name" + ("" if adding else " ('' clears it)"))
    parser.add_argument("--duration", dest="duration_minutes", type=int, required=adding,
                        metavar="MINUTES", help=f"1 to {catalogue.MAX_MINUTES}")
    parser.add_argument("--buffer", dest="buffer_minutes", type=int,
                        default=0 if adding else None, metavar="MINUTES",
                        help=f"after each visit, 0 to {catalogue.MAX_MINUTES}"
                        + (" (default: 0)" if adding else ""))
    parser.add_argument("--order", dest="display_order", type=int, metavar="K",
                        help="display order" + (" (default: after the last)" if adding else ""))


def register(sub: Any, subcommand: Subcommand) -> None:
    """Add ``services`` and its actions to the top-level subparsers ``sub``."""
    services = sub.add_parser("services", help="the service catalogue (needs phase 1)",
                              description="the service catalogue (needs phase 1)")
    actions = services.add_subparsers(dest="services_command", metavar="ACTION", required=True)
    listed = subcommand(actions, "list", cmd_list, "list the services (active ones; --all)")
    listed.add_argument("--all", action="store_true", help="include inactive services")
    added = subcommand(actions, "add", cmd_add, "add a service")
    added.add_argument("--code", required=True,
                       help="A-Z, 0-9 and _, starting with a letter, at most "
                       f"{catalogue.MAX_CODE_LENGTH} characters")
    _fields(added, adding=True)
    updated = subcommand(actions, "update", cmd_update, "change a service's names or minutes")
    updated.add_argument("code", metavar="CODE")
    _fields(updated, adding=False)
    for name, handler, text in (
        ("deactivate", cmd_deactivate, "stop new bookings of a service (nothing is deleted)"),
        ("reactivate", cmd_reactivate, "make a deactivated service bookable again"),
    ):
        subcommand(actions, name, handler, text).add_argument("code", metavar="CODE")
