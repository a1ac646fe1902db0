"""Plain test data builders shared by unit and integration tests."""

from __future__ import annotations

import datetime as dt

from slotcap.usecases import BookingRequest

__all__ = ["MONDAY", "TODAY", "request"]

#: A Monday: the clinic is open 09-12 (180 min) and 14-18 (240 min).
MONDAY = dt.date(2025, 12, 1)
#: The day the tests pretend it is (``book(..., today=TODAY)``): the Friday before
#: MONDAY, so that MONDAY (and the week after) is inside the booking window.
TODAY = MONDAY - dt.timedelta(days=3)


def request(**overrides: object) -> BookingRequest:
    """A valid booking request for Monday morning; keyword arguments replace fields."""
    body: dict[str, object] = {
        "patient_name": "김하늘",
        "phone": "010-1234-5678",
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
