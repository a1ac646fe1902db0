"""The reservation POST body and its validation.

``BookingRequest`` holds the body as the web app received it (strings, maybe missing).
``validate_request`` turns it into a ``ValidBooking`` or raises one ``InvalidRequest``
naming *every* bad field at once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any, TypeVar

import attrs

from slotcap.domain.model import Gender, Period, TreatmentType
from slotcap.domain.timeparse import parse_preferred_time
from slotcap.errors import InvalidRequest

__all__ = ["BookingRequest", "ValidBooking", "validate_request"]

# Korean numbers: mobile 010-1234-5678, Seoul 02-123-4567, regional 031-123-4567, or +82.
_PHONE = re.compile(r"^(?:\+82[- ]?|0)\d{1,2}[- ]?\d{3,4}[- ]?\d{4}$")
# Deliberately loose: one @, a dot in the domain, no spaces. Deliverability is the
# mail server's business; rejecting a real address is worse than accepting an odd one.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAX_NAME = 100
_MAX_NOTES = 2000
_MAX_TIME_TEXT = 200
_EARLIEST_BIRTH = dt.date(1900, 1, 1)

RawDate = str | dt.date | None
_E = TypeVar("_E", Gender, TreatmentType, Period)


@attrs.frozen(kw_only=True)
class BookingRequest:
    """The public reservation POST body (snake_case, as the web form sends it)."""

    patient_name: str | None = None
    phone: str | None = None
    email: str | None = None
    birth_date: RawDate = None
    gender: str | None = None
    treatment_type: str | None = None
    service: str | None = None
    preferred_date: RawDate = None
    preferred_time: str | None = None
    period: str | None = None
    notes: str | None = None

    @classmethod
    def from_mapping(cls, body: Mapping[str, Any]) -> BookingRequest:
        """Build from a decoded JSON body; unknown keys are ignored, non-string values
        are kept so that validation can name them."""
        names = {field.name for field in attrs.fields(cls)}
        return cls(**{key: value for key, value in body.items() if key in names})


@attrs.frozen(kw_only=True)
class ValidBooking:
    patient_name: str
    phone: str
    email: str | None
    birth_date: dt.date
    gender: Gender
    treatment_type: TreatmentType
    service_code: str
    preferred_date: dt.date
    preferred_time: str | None
    period: Period | None
    notes: str | None


def _text(value: object) -> str | None:
    """Stripped text, or None for missing/blank. Non-strings are returned as-is so the
    caller can report them as malformed."""
    if value is None:
        return None
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    return None


def _missing(value: object) -> str:
    return "required" if value is None or isinstance(value, str) else "must be text"


def _date(value: object, field: str, problems: dict[str, str]) -> dt.date | None:
    if isinstance(value, dt.datetime):
        problems[field] = "must be a calendar date (YYYY-MM-DD), not a timestamp"
        return None
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    if text is None:
        problems[field] = _missing(value)
        return None
    try:
        # Only the plain ISO calendar date: a UTC timestamp here would shift the day.
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        problems[field] = f"must be a date as YYYY-MM-DD, got {text!r}"
        return None


def _required(value: object, field: str, problems: dict[str, str]) -> str | None:
    text = _text(value)
    if text is None:
        problems[field] = _missing(value)
    return text


def _choice(
    value: object, field: str, kind: type[_E], problems: dict[str, str], *, required: bool
) -> _E | None:
    text = _text(value)
    if text is None:
        if required or (value is not None and not isinstance(value, str)):
            problems[field] = _missing(value)
        return None
    try:
        return kind(text.upper())
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        problems[field] = f"must be one of {allowed}, got {text!r}"
        return None


def validate_request(request: BookingRequest, *, dynamic: bool) -> ValidBooking:
    """Check every field; raise one ``InvalidRequest`` listing all problems.

    The dynamic path needs a ``period``; when it is absent, a ``preferred_time`` the
    parser reads confidently supplies it (that is reading, not guessing). The legacy
    path needs ``preferred_time``, as the live application does.
    """
    problems: dict[str, str] = {}
    name = _required(request.patient_name, "patient_name", problems)
    if name is not None and len(name) > _MAX_NAME:
        problems["patient_name"] = f"at most {_MAX_NAME} characters"
    phone = _required(request.phone, "phone", problems)
    if phone is not None and not _PHONE.match(phone):
        problems["phone"] = f"not a phone number (e.g. 010-1234-5678), got {phone!r}"
    email = _text(request.email)
    if request.email is not None and not isinstance(request.email, str):
        problems["email"] = "must be text"
    elif email is not None and not _EMAIL.match(email):
        problems["email"] = f"not an email address, got {email!r}"
    birth = _date(request.birth_date, "birth_date", problems)
    if birth is not None and not _EARLIEST_BIRTH <= birth <= dt.date.today():
        problems["birth_date"] = f"must be between 1900-01-01 and today, got {birth.isoformat()}"
    gender = _choice(request.gender, "gender", Gender, problems, required=True)
    treatment = _choice(
        request.treatment_type, "treatment_type", TreatmentType, problems, required=True
    )
    service = _required(request.service, "service", problems)
    day = _date(request.preferred_date, "preferred_date", problems)
    period = _choice(request.period, "period", Period, problems, required=False)
    time_text = _text(request.preferred_time)
    if request.preferred_time is not None and not isinstance(request.preferred_time, str):
        problems["preferred_time"] = "must be text"
    elif time_text is not None and len(time_text) > _MAX_TIME_TEXT:
        problems["preferred_time"] = f"at most {_MAX_TIME_TEXT} characters"
    notes = _text(request.notes)
    if notes is not None and len(notes) > _MAX_NOTES:
        problems["notes"] = f"at most {_MAX_NOTES} characters"

    if dynamic and period is None and "period" not in problems:
        parsed = parse_preferred_time(time_text) if time_text else None
        if parsed is not None and parsed.period is not None:
            period = parsed.period
        else:
            problems["period"] = "required (MORNING or AFTERNOON) for a dynamic booking"
    if not dynamic and time_text is None and "preferred_time" not in problems:
        problems["preferred_time"] = "required"

    if problems:
        raise InvalidRequest(problems)
    assert name is not None and phone is not None and birth is not None  # noqa: S101 (narrowing)
    assert gender is not None and treatment is not None and service is not None  # noqa: S101
    assert day is not None  # noqa: S101
    return ValidBooking(
        patient_name=name,
        phone=phone,
        email=email,
        birth_date=birth,
        gender=gender,
        treatment_type=treatment,
        service_code=service,
        preferred_date=day,
        preferred_time=time_text,
        period=period,
        notes=notes,
    )
