"""slotcap: does a clinic booking fit — and a safe way to migrate the database that knows.

The names below are the public contract (the web app, test suites and benchmarks
import them); they are added to, never renamed.
"""

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

# The public names are loaded on first use (PEP 562), not by `import slotcap`: the CLI's
# `--help` and a web app that needs one name do not pay for every module (issue #23).
# Type checkers see the real imports.
if TYPE_CHECKING:
    from slotcap.bootstrap import App, bootstrap, open_store
    from slotcap.domain.clock import FixedClock, SystemClock
    from slotcap.domain.defaults import DEFAULT_DAILY_LIMITS, DEFAULT_SERVICES, DEFAULT_TIME_SLOTS
    from slotcap.domain.model import (
        ClinicTimeSlot,
        Gender,
        Period,
        Reservation,
        ReservationStatus,
        Service,
        ServiceLimit,
        TreatmentType,
    )
    from slotcap.domain.rollout import Rollout
    from slotcap.domain.rules import (
        Decision,
        Reason,
        check_daily_limit,
        check_period_capacity,
        estimated_duration,
        minutes_held,
    )
    from slotcap.domain.timeparse import ParsedTime, parse_preferred_time
    from slotcap.errors import (
        BookingOutcomeUnknown,
        ConfigurationError,
        DatabaseError,
        DuplicateBooking,
        InvalidRequest,
        InvalidService,
        MigrationError,
        ReservationClosed,
        ReservationExists,
        ReservationFull,
        ReservationNotFound,
        SchemaStateError,
        SlotcapError,
        StoreBusy,
        StoreUnavailable,
        ValidationFailed,
    )
    from slotcap.ports import CalendarEntry, Clock, SchemaState, Store
    from slotcap.usecases import BookingRequest, availability_calendar, book, check_availability

#: Each public name and the module that defines it.
_WHERE: dict[str, str] = {
    'App': 'slotcap.bootstrap',
    'bootstrap': 'slotcap.bootstrap',
    'open_store': 'slotcap.bootstrap',
    'FixedClock': 'slotcap.domain.clock',
    'SystemClock': 'slotcap.domain.clock',
    'DEFAULT_DAILY_LIMITS': 'slotcap.domain.defaults',
    'DEFAULT_SERVICES': 'slotcap.domain.defaults',
    'DEFAULT_TIME_SLOTS': 'slotcap.domain.defaults',
    'ClinicTimeSlot': 'slotcap.domain.model',
    'Gender': 'slotcap.domain.model',
    'Period': 'slotcap.domain.model',
    'Reservation': 'slotcap.domain.model',
    'ReservationStatus': 'slotcap.domain.model',
    'Service': 'slotcap.domain.model',
    'ServiceLimit': 'slotcap.domain.model',
    'TreatmentType': 'slotcap.domain.model',
    'Rollout': 'slotcap.domain.rollout',
    'Decision': 'slotcap.domain.rules',
    'Reason': 'slotcap.domain.rules',
    'check_daily_limit': 'slotcap.domain.rules',
    'check_period_capacity': 'slotcap.domain.rules',
    'estimated_duration': 'slotcap.domain.rules',
    'minutes_held': 'slotcap.domain.rules',
    'ParsedTime': 'slotcap.domain.timeparse',
    'parse_preferred_time': 'slotcap.domain.timeparse',
    'BookingOutcomeUnknown': 'slotcap.errors',
    'ConfigurationError': 'slotcap.errors',
    'DatabaseError': 'slotcap.errors',
    'DuplicateBooking': 'slotcap.errors',
    'InvalidRequest': 'slotcap.errors',
    'InvalidService': 'slotcap.errors',
    'MigrationError': 'slotcap.errors',
    'ReservationClosed': 'slotcap.errors',
    'ReservationExists': 'slotcap.errors',
    'ReservationFull': 'slotcap.errors',
    'ReservationNotFound': 'slotcap.errors',
    'SchemaStateError': 'slotcap.errors',
    'SlotcapError': 'slotcap.errors',
    'StoreBusy': 'slotcap.errors',
    'StoreUnavailable': 'slotcap.errors',
    'ValidationFailed': 'slotcap.errors',
    'CalendarEntry': 'slotcap.ports',
    'Clock': 'slotcap.ports',
    'SchemaState': 'slotcap.ports',
    'Store': 'slotcap.ports',
    'BookingRequest': 'slotcap.usecases',
    'availability_calendar': 'slotcap.usecases',
    'book': 'slotcap.usecases',
    'check_availability': 'slotcap.usecases',
}

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_DAILY_LIMITS",
    "DEFAULT_SERVICES",
    "DEFAULT_TIME_SLOTS",
    "App",
    "BookingOutcomeUnknown",
    "BookingRequest",
    "CalendarEntry",
    "ClinicTimeSlot",
    "Clock",
    "ConfigurationError",
    "DatabaseError",
    "Decision",
    "DuplicateBooking",
    "FixedClock",
    "Gender",
    "InvalidRequest",
    "InvalidService",
    "MigrationError",
    "ParsedTime",
    "Period",
    "Reason",
    "Reservation",
    "ReservationClosed",
    "ReservationExists",
    "ReservationFull",
    "ReservationNotFound",
    "ReservationStatus",
    "Rollout",
    "SchemaState",
    "SchemaStateError",
    "Service",
    "ServiceLimit",
    "SlotcapError",
    "Store",
    "StoreBusy",
    "StoreUnavailable",
    "SystemClock",
    "TreatmentType",
    "ValidationFailed",
    "__version__",
    "availability_calendar",
    "book",
    "bootstrap",
    "check_availability",
    "check_daily_limit",
    "check_period_capacity",
    "estimated_duration",
    "minutes_held",
    "open_store",
    "parse_preferred_time",
]


class _PublicNamespace(types.ModuleType):
    """``slotcap.bootstrap`` is the function, as it always was, even once the module of
    the same name is imported: the import system would otherwise set the package's
    attribute to the submodule (an eager ``from … import bootstrap`` used to win)."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in _WHERE and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _PublicNamespace


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        try:  # a subpackage used as an attribute (`slotcap.usecases` after `import slotcap`)
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(globals()))
