"""Use cases: take a store (the ports) and plain values; hold no SQL."""

from slotcap.usecases.availability import availability_calendar, check_availability
from slotcap.usecases.booking import book, book_once
from slotcap.usecases.catalogue import (
    add_service,
    bookable_services,
    deactivate_service,
    list_services,
    reactivate_service,
    update_service,
)
from slotcap.usecases.hours import HoursChange, OverCapacity, list_hours, set_hours
from slotcap.usecases.idempotency import DEFAULT_IDEMPOTENCY_TTL, BookingOutcome
from slotcap.usecases.request import BookingRequest, ValidBooking, validate_request

__all__ = [
    "DEFAULT_IDEMPOTENCY_TTL",
    "BookingOutcome",
    "BookingRequest",
    "HoursChange",
    "OverCapacity",
    "ValidBooking",
    "add_service",
    "availability_calendar",
    "book",
    "book_once",
    "bookable_services",
    "check_availability",
    "deactivate_service",
    "list_hours",
    "list_services",
    "reactivate_service",
    "set_hours",
    "update_service",
    "validate_request",
]
