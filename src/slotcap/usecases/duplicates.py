"""The duplicate-booking rule: one patient, one booking of a service per date.

A PENDING/CONFIRMED booking with the same phone digits and the same name (NFC,
case-folded, spaces collapsed: :mod:`slotcap.domain.patients`), on the same date, of
the same service refuses another, whatever its period (``DuplicateBooking``). A sibling
(same phone, another name) and a rebooking after a cancellation are allowed. Decided
under the booking's (date, service) lock, so concurrent copies give exactly one booking.
"""

from __future__ import annotations

from slotcap.domain.patients import patient_identity
from slotcap.errors import DuplicateBooking
from slotcap.ports import BookingTransaction
from slotcap.usecases.request import ValidBooking

__all__ = ["duplicate_of"]


def duplicate_of(tx: BookingTransaction, valid: ValidBooking) -> DuplicateBooking | None:
    """Under the (date, service) lock: this patient already holds this service that
    day (any period). The message names no patient."""
    me = patient_identity(valid.patient_name, valid.phone)
    day, code = valid.preferred_date, valid.service_code
    if any(patient_identity(name, phone) == me for name, phone in tx.held_patients(day, code)):
        return DuplicateBooking(
            f"{day.isoformat()} {code}: this patient already holds a booking of this "
            "service on this date (cancel it first to book again)")
    return None
