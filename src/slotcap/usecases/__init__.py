"""Use cases: take a store (the ports) and plain values; hold no SQL."""

from slotcap.usecases.availability import availability_calendar, check_availability
from slotcap.usecases.booking import book
from slotcap.usecases.request import BookingRequest, ValidBooking, validate_request

__all__ = [
    "BookingRequest",
    "ValidBooking",
    "availability_calendar",
    "book",
    "check_availability",
    "validate_request",
]
