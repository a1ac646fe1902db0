"""slotcap: does a clinic booking fit — and a safe way to migrate the database that knows.

The names below are the public contract (the web app, test suites and benchmarks
import them); they are added to, never renamed.
"""

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
