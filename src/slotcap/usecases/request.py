"""The reservation POST body and its validation.

``BookingRequest`` holds the body as the web app received it (strings, maybe missing,
maybe anything at all: the body is untrusted JSON). ``validate_request`` turns it into a
``ValidBooking`` or raises one ``InvalidRequest`` naming *every* bad field at once — for
any input whatsoever; no other exception escapes.

Text must be text that every store can hold: NUL, lone surrogates (``"\\ud800"`` is valid
JSON but not encodable as UTF-8) and control characters are refused (``notes`` may hold
newlines and tabs). Dates must fall in a window around "today" — the caller's clock's
(``slotcap.ports.Clock``: the clinic's, as ``book`` passes it). Messages never repeat a
patient's name, phone, email or birth date.

``preferred_time`` is parsed here, once per request, with the clinic's own hours when
the caller supplies them; the result rides along in ``ValidBooking.time_period`` so
that nothing downstream parses the same text again.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

import attrs

from slotcap.domain.model import ClinicTimeSlot, Gender, Period, TreatmentType
from slotcap.domain.timeparse import parse_preferred_time
from slotcap.errors import ConfigurationError, InvalidRequest
from slotcap.ports import Clock

__all__ = [
    "DEFAULT_HORIZON_DAYS",
    "BookingRequest",
    "ValidBooking",
    "bad_character",
    "calendar_date",
    "validate_request",
]

# Korean numbers: mobile 010-1234-5678, Seoul 02-123-4567, regional 031-123-4567, or +82.
# ASCII digits only: \d alone also matches Arabic-Indic or full-width digits.
_PHONE = re.compile(r"^(?:\+82[- ]?|0)\d{1,2}[- ]?\d{3,4}[- ]?\d{4}$", re.ASCII)
# Deliberately loose: one @, a dot in the domain, no spaces. Deliverability is the
# mail server's business; rejecting a real address is worse than accepting an odd one.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_MAX_NAME = 100
_MAX_SHORT = 100  # phone, gender, treatment type, service code, period, dates
_MAX_EMAIL = 254
_MAX_NOTES = 2000
_MAX_TIME_TEXT = 200
_EARLIEST_BIRTH = dt.date(1900, 1, 1)
#: How far ahead a booking may be made unless the caller says otherwise.
DEFAULT_HORIZON_DAYS = 365
#: How much of a refused non-patient value a message shows.
_SHOWN = 40

#: The clinic's opening hours, asked for only once the rest of a request is valid (so
#: nothing reaches the store for a bad request); None means the plan's default hours.
HoursSource = Callable[[], Iterable[ClinicTimeSlot] | None]

_E = TypeVar("_E", Gender, TreatmentType, Period)


@attrs.frozen(kw_only=True)
class BookingRequest:
    """The public reservation POST body (snake_case, as the web form sends it).

    Fields hold whatever the body held; ``validate_request`` judges them.
    """

    patient_name: object = None
    phone: object = None
    email: object = None
    birth_date: object = None
    gender: object = None
    treatment_type: object = None
    service: object = None
    preferred_date: object = None
    preferred_time: object = None
    period: object = None
    notes: object = None

    @classmethod
    def from_mapping(cls, body: object) -> BookingRequest:
        """Build from a decoded JSON body; unknown keys are ignored, values of any type
        are kept so that validation can name them. A body that is not a JSON object
        (a list, a string, a number, null) raises ``InvalidRequest`` naming ``body``."""
        if not isinstance(body, Mapping):
            raise InvalidRequest({"body": f"must be a JSON object of booking fields, "
                                          f"got {_kind(body)}"})
        names = {field.name for field in attrs.fields(cls)}
        return cls(**{key: value for key, value in body.items()
                      if isinstance(key, str) and key in names})


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
    #: The period ``preferred_time`` reads as (with the clinic's hours), or None when
    #: it is absent, unreadable or ambiguous. The one parse of the request.
    time_period: Period | None = None


def _kind(value: object) -> str:
    """What a JSON value is, in the words of the JSON spec."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__


def _shown(text: str) -> str:
    """A refused (non-patient) value, quoted and cut short."""
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "…")


_SUSPECT = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def bad_character(text: str, *, multiline: bool) -> str | None:
    """What is wrong with the characters of ``text``, or None."""
    if _SUSPECT.search(text) is None:
        # The common case in one C-level scan: no control character (category Cc is
        # exactly U+0000-U+001F and U+007F-U+009F) and no surrogate. The loop below,
        # one unicodedata lookup per character, was a fifth of a booking's client CPU.
        return None
    for index, ch in enumerate(text):
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            return f"contains an unpaired surrogate (U+{code:04X})"
        if unicodedata.category(ch) != "Cc":
            continue
        if multiline and (ch in "\n\t" or (ch == "\r" and text[index + 1 : index + 2] == "\n")):
            continue
        return f"contains a control character (U+{code:04X})"
    return None


def _text(
    value: object, field: str, problems: dict[str, str], *, limit: int,
    multiline: bool = False,
) -> str | None:
    """Stripped text, or None when missing/blank/refused (the refusal is recorded)."""
    if value is None:
        return None
    if not isinstance(value, str):
        problems[field] = f"must be text, got {_kind(value)}"
        return None
    bad = bad_character(value, multiline=multiline)
    if bad is not None:
        problems[field] = bad
        return None
    stripped = value.strip()
    if len(stripped) > limit:
        problems[field] = f"at most {limit} characters"
        return None
    return stripped or None


def _required(value: object, field: str, problems: dict[str, str], *, limit: int) -> str | None:
    text = _text(value, field, problems, limit=limit)
    if text is None and field not in problems:
        problems[field] = "required"
    return text


def _date(value: object, field: str, problems: dict[str, str], *, show: bool) -> dt.date | None:
    if isinstance(value, dt.datetime):
        problems[field] = "must be a calendar date (YYYY-MM-DD), not a timestamp"
        return None
    if isinstance(value, dt.date):
        return value
    if value is not None and not isinstance(value, str):
        problems[field] = f"must be a date as YYYY-MM-DD (text), got {_kind(value)}"
        return None
    text = _required(value, field, problems, limit=_MAX_SHORT)
    if text is None:
        return None
    day = calendar_date(text)
    if day is None:
        problems[field] = "must be a date as YYYY-MM-DD" + (f", got {_shown(text)}" if show else "")
    return day


def calendar_date(text: str) -> dt.date | None:
    """``text`` as a plain ISO calendar date (``YYYY-MM-DD``, ASCII digits), else None.

    Nothing looser: a UTC timestamp would shift the day, and ``date.fromisoformat``
    alone also takes week dates and ``YYYYMMDD``."""
    if _ISO_DATE.fullmatch(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return None
    return None


def _choice(
    value: object, field: str, kind: type[_E], problems: dict[str, str], *, required: bool
) -> _E | None:
    text = (_required if required else _text)(value, field, problems, limit=_MAX_SHORT)
    if text is None:
        return None
    try:
        return kind(text.upper())
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        problems[field] = f"must be one of {allowed}, got {_shown(text)}"
        return None


def validate_request(
    request: object,
    *,
    dynamic: bool,
    clock: Clock,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    hours: HoursSource | None = None,
) -> ValidBooking:
    """Check every field; raise one ``InvalidRequest`` listing all problems.

    ``request`` is a :class:`BookingRequest` or a decoded JSON body (anything else is
    refused as ``body``). ``clock.today()`` (the clinic's date) anchors the windows:
    ``preferred_date`` from today to ``horizon_days`` ahead, ``birth_date`` from
    1900-01-01 to today.

    The dynamic path needs a ``period``; when it is absent, a ``preferred_time`` the
    parser reads confidently supplies it (that is reading, not guessing). The legacy
    path needs ``preferred_time``, as the live application does.

    ``hours`` supplies the clinic's opening hours for reading bare hours ("8:00" in a
    clinic open until 21:00 is 20:00); it is called at most once, and only when every
    other field is valid. ``preferred_time`` is parsed exactly once.
    """
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or horizon_days < 0:
        raise ConfigurationError(f"horizon_days must be a whole number >= 0, got {horizon_days!r}")
    if not isinstance(request, BookingRequest):
        request = BookingRequest.from_mapping(request)
    today = clock.today()
    try:
        last_day = today + dt.timedelta(days=horizon_days)
    except OverflowError:
        last_day = dt.date.max
    problems: dict[str, str] = {}
    name = _required(request.patient_name, "patient_name", problems, limit=_MAX_NAME)
    phone = _required(request.phone, "phone", problems, limit=_MAX_SHORT)
    if phone is not None and not _PHONE.match(phone):
        problems["phone"] = "not a phone number (e.g. 010-1234-5678)"
    email = _text(request.email, "email", problems, limit=_MAX_EMAIL)
    if email is not None and not _EMAIL.match(email):
        problems["email"] = "not an email address"
    birth = _date(request.birth_date, "birth_date", problems, show=False)
    if birth is not None and not _EARLIEST_BIRTH <= birth <= today:
        problems["birth_date"] = f"must be between {_EARLIEST_BIRTH.isoformat()} and today " \
                                 f"({today.isoformat()})"
    gender = _choice(request.gender, "gender", Gender, problems, required=True)
    treatment = _choice(
        request.treatment_type, "treatment_type", TreatmentType, problems, required=True
    )
    service = _required(request.service, "service", problems, limit=_MAX_SHORT)
    if service is not None:
        service = service.upper()  # codes in any case, as PERIOD (catalogue.normal_code)
    day = _date(request.preferred_date, "preferred_date", problems, show=True)
    if day is not None and not today <= day <= last_day:
        problems["preferred_date"] = (
            f"must be between today ({today.isoformat()}) and {last_day.isoformat()} "
            f"({horizon_days} days ahead), got {day.isoformat()}"
        )
    period = _choice(request.period, "period", Period, problems, required=False)
    time_text = _text(request.preferred_time, "preferred_time", problems, limit=_MAX_TIME_TEXT)
    notes = _text(request.notes, "notes", problems, limit=_MAX_NOTES, multiline=True)

    time_period = None
    if time_text is not None and "preferred_time" not in problems:
        # The clinic's hours only for a request that is otherwise good: a bad one must
        # not reach the store, and its period is read with the default hours just to
        # say whether it is missing.
        slots = hours() if hours is not None and not problems else None
        time_period = parse_preferred_time(time_text, hours=slots).period
    if dynamic and period is None and "period" not in problems:
        if time_period is not None:
            period = time_period
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
        time_period=time_period,
    )
