"""Plain test data builders shared by unit and integration tests."""

from __future__ import annotations

import datetime as dt
import itertools

from slotcap.domain.clock import DayClock
from slotcap.usecases import BookingRequest

__all__ = ["MONDAY", "ON_TODAY", "TODAY", "patient_phone", "request"]

#: A Monday: the clinic is open 09-12 (180 min) and 14-18 (240 min).
MONDAY = dt.date(2025, 12, 1)
#: The day the tests pretend it is (``book(..., clock=ON_TODAY)``): the Friday before
#: MONDAY, so that MONDAY (and the week after) is inside the booking window.
TODAY = MONDAY - dt.timedelta(days=3)
#: The system clock with "today" pinned to TODAY (timestamps stay real).
ON_TODAY = DayClock(TODAY)
#: Each request is another patient unless a test names one (the duplicate-booking rule
#: refuses a second booking of one patient, service and date).
_PATIENTS = itertools.count(1)


def patient_phone() -> str:
    """A phone number no other :func:`request` has used in this run."""
    n = next(_PATIENTS)
    return f"010-{5000 + n // 10_000 % 5000:04d}-{n % 10_000:04d}"


def request(**overrides: object) -> BookingRequest:
    """A valid booking request for Monday morning; keyword arguments replace fields.
    Each call is another patient (its own phone) unless ``phone`` is given."""
    body: dict[str, object] = {
        "patient_name": "김하늘",
        "phone": overrides.pop("phone") if "phone" in overrides else patient_phone(),
        "email": "sky@example.com",
        "birth_date": "1990-01-01",
        "gender": "FEMALE",
        "treatment_type": "FIRST_VISIT",
        "service": "WRINKLE_BOTOX",
        "preferred_date": MONDAY.isoformat(),
        "preferred_time": "10:00",
        "period": "MORNING",
    }
    body.update(overrides)
    return BookingRequest.from_mapping(body)
