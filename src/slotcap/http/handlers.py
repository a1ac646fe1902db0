"""The API's work, framework-free: each function takes the wired :class:`App` and the
request's plain values, does the (blocking) store work and returns a
:class:`~slotcap.http.replies.Reply`. ``app.py`` runs them in worker threads.

The rule (dynamic minutes or legacy count) is the rollout's, sticky per patient: the
subject key is the ``X-Slotcap-Subject`` header when the web app sends one (its session
id), else the patient's phone number (digits only) for a booking. A request without
either (an anonymous availability check) gets the rule everyone gets: dynamic only when
``USE_DYNAMIC_SERVICES`` is on or the percentage is 100. The rule is then narrowed to
what the database's schema phase serves: before phase 1 only the count rule exists,
after phase 4 only the minutes rule.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping

import attrs

from slotcap.bootstrap import App
from slotcap.domain.model import LEGACY_SERVICE_CODES, Period
from slotcap.domain.rules import Reason
from slotcap.domain.schema_state import Rule
from slotcap.errors import (
    DuplicateBooking,
    InvalidRequest,
    InvalidService,
    ReservationFull,
    SlotcapError,
)
from slotcap.http import replies
from slotcap.http.replies import Reply
from slotcap.usecases import (
    DEFAULT_IDEMPOTENCY_TTL,
    BookingRequest,
    availability_calendar,
    book_once,
    bookable_services,
    check_availability,
)
from slotcap.usecases.idempotency import check_key
from slotcap.usecases.request import calendar_date

__all__ = [
    "DYNAMIC",
    "IDEMPOTENCY_HEADER",
    "LEGACY",
    "NO_RULE",
    "REPLAYED_HEADER",
    "Outcome",
    "availability",
    "calendar",
    "create_reservation",
    "guarded",
    "idempotency_key",
    "readiness",
    "rule_for",
    "services",
    "subject_key",
]

#: The metrics' ``rule_path`` label values.
DYNAMIC, LEGACY, NO_RULE = "dynamic", "legacy", "none"
_MAX_SUBJECT = 200
_NON_DIGITS = re.compile(r"\D", re.ASCII)
_LOG = logging.getLogger("slotcap.server")

#: (reply, rule path) — what a handler returns.
Outcome = tuple[Reply, str]


def subject_key(header: str | None, body: object = None) -> str | None:
    """The rollout's key: the header's session id, else the phone's digits."""
    if header is not None and header.strip():
        return header.strip()[:_MAX_SUBJECT]
    if isinstance(body, Mapping):
        phone = body.get("phone")
        if isinstance(phone, str):
            digits = _NON_DIGITS.sub("", phone)[:_MAX_SUBJECT]
            return digits or None
    return None


def rule_for(app: App, key: str | None) -> bool:
    """True for the dynamic (minutes) rule, False for the legacy (count) rule."""
    rollout = app.rollout
    if key is None:
        wanted = rollout.enabled or rollout.percentage >= 100
    else:
        wanted = rollout.uses_dynamic(key)
    rule = app.store.schema_state.rule_for(Rule.MINUTES if wanted else Rule.COUNT)
    return rule is Rule.MINUTES


def _path(dynamic: bool) -> str:
    return DYNAMIC if dynamic else LEGACY


def guarded(work: Callable[[], Outcome], rule_path: str = NO_RULE) -> Outcome:
    """Run ``work``; map slotcap's errors to their replies, anything else to a 500
    whose log line holds the exception's type only (its text may hold patient data)."""
    try:
        return work()
    except Exception as exc:
        reply = replies.for_error(exc)
        if reply is None:
            _LOG.error("internal error: %s (%s)", type(exc).__name__,
                       getattr(exc, "code", "-"))
            reply = replies.internal_error()
        return reply, rule_path


#: The header of an idempotent retry (IETF httpapi draft), and the one of its replay.
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


def idempotency_key(header: str | None) -> str | None:
    """The key of an ``Idempotency-Key`` header: the draft's sf-string (``"…"``, with
    ``\\"`` and ``\\\\`` escapes) or a bare token; 1–255 printable ASCII characters, else
    ``InvalidRequest`` naming the header."""
    if header is None:
        return None
    text = header.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        inner, out, escaped = text[1:-1], [], False
        for ch in inner:
            if escaped:
                if ch not in '"\\':
                    raise InvalidRequest({IDEMPOTENCY_HEADER: "a quoted key may escape only "
                                          "a quote or a backslash"})
                out.append(ch)
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                raise InvalidRequest({IDEMPOTENCY_HEADER: "an unescaped quote inside the key"})
            else:
                out.append(ch)
        if escaped:
            raise InvalidRequest({IDEMPOTENCY_HEADER: "a quoted key ends with a backslash"})
        text = "".join(out)
    elif text.startswith('"'):
        raise InvalidRequest({IDEMPOTENCY_HEADER: "a quoted key without its closing quote"})
    return check_key(text, field=IDEMPOTENCY_HEADER)


def create_reservation(
    app: App, body: object, subject: str | None, key_header: str | None = None,
    *, idempotency_ttl: dt.timedelta = DEFAULT_IDEMPOTENCY_TTL,
) -> Outcome:
    """``POST /api/public/reservations`` with a decoded JSON body (any JSON value:
    one that is not an object is refused naming ``body``) and the request's
    ``Idempotency-Key`` header, if any."""
    dynamic = rule_for(app, subject_key(subject, body)) if isinstance(body, Mapping) else None
    path = NO_RULE if dynamic is None else _path(dynamic)

    def work() -> Outcome:
        key = idempotency_key(key_header)
        request = BookingRequest.from_mapping(body)
        assert dynamic is not None  # noqa: S101 (from_mapping refused a non-object)
        done = book_once(app.store, request, dynamic=dynamic, clock=app.clock,
                         idempotency_key=key, idempotency_ttl=idempotency_ttl)
        if isinstance(done.refusal, ReservationFull):
            reply = replies.full(done.refusal, dynamic=done.dynamic)
        elif isinstance(done.refusal, DuplicateBooking):
            reply = replies.duplicate(done.refusal, dynamic=done.dynamic)
        else:
            assert done.reservation is not None  # noqa: S101 (booked)
            reply = replies.booked(done.reservation, dynamic=done.dynamic)
        if done.replayed:
            reply = attrs.evolve(reply, headers={**reply.headers, REPLAYED_HEADER: "true"})
        return reply, _path(done.dynamic)

    return guarded(work, path)


def _date(params: Mapping[str, str], name: str, problems: dict[str, str]) -> dt.date | None:
    text = params.get(name, "").strip()
    if not text:
        problems[name] = "required"
        return None
    day = calendar_date(text)
    if day is None:
        problems[name] = "must be a date as YYYY-MM-DD"
    return day


def availability(app: App, params: Mapping[str, str], subject: str | None) -> Outcome:
    """``GET /api/public/reservations/availability?date=&service=``."""
    problems: dict[str, str] = {}
    day = _date(params, "date", problems)
    service = params.get("service", "").strip().upper() or None  # codes in any case
    if service is not None and len(service) > 100:
        problems["service"] = "at most 100 characters"
    dynamic = rule_for(app, subject_key(subject))
    if not dynamic and service is None and not problems:
        problems["service"] = "required on the legacy path (the count is per service)"
    if problems:
        raise InvalidRequest(problems)
    assert day is not None  # noqa: S101 (narrowing)
    if dynamic:
        return _dynamic_availability(app, day, service), DYNAMIC
    assert service is not None  # noqa: S101 (narrowing)
    return _legacy_availability(app, day, service), LEGACY


def _unknown(service: str) -> InvalidService:
    return InvalidService(f"unknown service {service!r}", code="unknown_service")


def _dynamic_availability(app: App, day: dt.date, service: str | None) -> Reply:
    store = app.store
    entries = store.calendar(day, day)
    periods = []
    for entry in entries:
        row = replies.calendar_entry(entry)
        del row["date"]
        if service is not None:
            decision = check_availability(store, day, service, period=entry.period,
                                          dynamic=True)
            if decision.reason is Reason.UNKNOWN_SERVICE:
                raise _unknown(service)
            row.update(fits=decision.allowed, reason=decision.reason.value,
                       requested_minutes=decision.requested)
        else:
            row.update(fits=None, reason=None, requested_minutes=None)
        periods.append(row)
    periods.sort(key=lambda row: list(Period).index(Period(row["period"])))
    available = any(row["fits"] for row in periods) if service is not None else None
    return Reply(200, {"date": day.isoformat(), "rule": DYNAMIC, "service": service,
                       "available": available, "periods": periods})


def _legacy_availability(app: App, day: dt.date, service: str) -> Reply:
    if service not in LEGACY_SERVICE_CODES:
        raise _unknown(service)
    facts = app.store.daily_facts(day, service)
    decision = check_availability(app.store, day, service, dynamic=False)
    return Reply(200, {
        "date": day.isoformat(), "rule": LEGACY, "service": service,
        "available": decision.allowed, "reason": decision.reason.value,
        "daily_count": facts.held_count,
        "daily_limit": facts.limit.daily_limit if facts.limit is not None else None,
        "remaining": decision.remaining,
    })


def calendar(app: App, params: Mapping[str, str]) -> Outcome:
    """``GET /api/public/reservations/calendar?from=&to=``: every date's periods."""
    problems: dict[str, str] = {}
    start = _date(params, "from", problems)
    end = _date(params, "to", problems)
    if problems:
        raise InvalidRequest(problems)
    assert start is not None and end is not None  # noqa: S101 (narrowing)
    try:
        entries = availability_calendar(app.store, start, end)
    except InvalidRequest as exc:
        return replies.invalid(exc, rename={"start": "from", "end": "to"}), NO_RULE
    return Reply(200, {"from": start.isoformat(), "to": end.isoformat(),
                       "entries": [replies.calendar_entry(e) for e in entries]}), NO_RULE


def services(app: App) -> Outcome:
    """``GET /api/services``: the public catalogue, in display order — what a patient
    can book now (``usecases.catalogue.bookable_services``)."""
    found = bookable_services(app.store)
    return Reply(200, {"services": [replies.service_body(s) for s in found]}), NO_RULE


def readiness(app: App) -> Reply:
    """``GET /readyz``: the database answers, and which rules its phase serves."""
    try:
        state = app.store.refresh_schema_state()
    except Exception as exc:
        # slotcap's own messages carry no secret and no row (URLs redacted); a foreign
        # exception's text might, so only its type is logged.
        detail = exc.message if isinstance(exc, SlotcapError) else ""
        _LOG.warning("not ready: %s %s", type(exc).__name__, detail)
        return Reply(503, {"status": "unavailable", "error": "database unreachable",
                           "code": getattr(exc, "code", "database_error")},
                     headers={"Retry-After": str(replies.RETRY_AFTER_BUSY)})
    rules = [path for rule, path in ((Rule.COUNT, LEGACY), (Rule.MINUTES, DYNAMIC))
             if state.serves(rule)]
    return Reply(200, {"status": "ready", "schema_state": state.value, "rules": rules,
                       "rollout": {"enabled": app.rollout.enabled,
                                   "percentage": app.rollout.percentage}})
