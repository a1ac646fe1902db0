"""What the HTTP API answers: plain ``Reply`` values built from slotcap's results and
errors, in the shapes of the plan's route handler (``app/api/public/reservations``).

No web framework here: ``app.py`` turns a :class:`Reply` into a response. Every error
body has ``error`` (the plan's wording) and ``code`` (machine-readable); field errors
name the fields (``fields``) and say what is wrong with each (``details``). Nothing a
client sent about the patient (name, phone, email, birth date) is repeated: the
validation messages never hold those values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from slotcap.domain.model import Reservation, Service
from slotcap.domain.rules import Decision
from slotcap.errors import (
    DuplicateBooking,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InvalidRequest,
    InvalidService,
    ReservationFull,
    SchemaStateError,
    StoreBusy,
    StoreUnavailable,
)
from slotcap.ports import CalendarEntry

__all__ = [
    "BOOKED_MESSAGE",
    "FULL_MESSAGE",
    "RETRY_AFTER_BUSY",
    "RETRY_AFTER_SCHEMA",
    "Reply",
    "booked",
    "busy",
    "calendar_entry",
    "duplicate",
    "for_error",
    "full",
    "in_progress",
    "internal_error",
    "invalid",
    "invalid_json",
    "invalid_service",
    "key_reused",
    "not_found",
    "schema_state",
    "service_body",
    "too_large",
    "unavailable",
]

#: The plan's success and "full" messages, verbatim.
BOOKED_MESSAGE = "예약이 성공적으로 접수되었습니다."
FULL_MESSAGE = "해당 날짜/시간대의 예약이 마감되었습니다."
#: Seconds a client is told to wait (``Retry-After``) when the store is busy, and when
#: the database's schema phase cannot serve the request (a migration step is running).
RETRY_AFTER_BUSY = 1
RETRY_AFTER_SCHEMA = 30
#: Problems that mean "missing", as ``validate_request`` words them.
_MISSING = "required"
#: The plan's order of required fields (its ``missingFields`` keeps it).
_PLAN_ORDER = ("patient_name", "phone", "birth_date", "gender", "treatment_type", "service",
               "preferred_date", "period", "preferred_time")
_DATE_FIELDS = frozenset({"birth_date", "preferred_date", "date", "from", "to"})


@attrs.frozen
class Reply:
    """One response: status, JSON body, extra headers, and the metrics outcome
    (``created``, ``full``, ``invalid``, ``busy``, ``error`` or ``ok``)."""

    status: int
    body: Any
    outcome: str = "ok"
    headers: Mapping[str, str] = attrs.field(factory=dict)


def booked(reservation: Reservation, *, dynamic: bool) -> Reply:
    """200, as the plan returns it: ``preferred_time`` is the period on the dynamic
    path and the patient's own text on the legacy one."""
    shown = reservation.period.value if dynamic and reservation.period is not None \
        else reservation.preferred_time
    return Reply(200, {
        "success": True,
        "reservation": {
            "id": reservation.id,
            "status": reservation.status.value,
            "preferred_date": reservation.preferred_date.isoformat(),
            "preferred_time": shown,
        },
        "message": BOOKED_MESSAGE,
    }, outcome="created")


def _is_missing(problem: str) -> bool:
    return problem == _MISSING or problem.startswith(_MISSING + " ")


def invalid(error: InvalidRequest, *, rename: Mapping[str, str] | None = None) -> Reply:
    """400 naming every bad field (in the plan's order). Missing fields first, as the
    plan checks them first: ``{"error": "Missing required fields", "fields": [...]}``;
    then bad dates (``Invalid date format``) and other bad values (``Invalid field
    values``).
    ``rename`` maps the library's field names to the API's (``end`` → ``to``)."""
    names = rename or {}
    details = {names.get(field, field): problem for field, problem in error.fields.items()}
    missing = sorted((field for field, problem in details.items() if _is_missing(problem)),
                     key=_plan_order)
    if missing:
        return _bad("Missing required fields", "missing_fields", missing, details)
    if "body" in details:
        return _bad("Invalid request body", "invalid_body", ["body"], details)
    fields = sorted(details, key=_plan_order)
    if any(field in _DATE_FIELDS for field in fields):
        return _bad("Invalid date format", "invalid_date", fields, details)
    return _bad("Invalid field values", "invalid_request", fields, details)


def _plan_order(field: str) -> tuple[int, str]:
    return (_PLAN_ORDER.index(field) if field in _PLAN_ORDER else len(_PLAN_ORDER), field)


def _bad(error: str, code: str, fields: list[str], details: Mapping[str, str]) -> Reply:
    return Reply(400, {"error": error, "code": code, "fields": fields,
                       "details": dict(details)}, outcome="invalid")


def invalid_json(problem: str) -> Reply:
    return _bad("Invalid JSON", "invalid_json", ["body"], {"body": problem})


def too_large(limit: int) -> Reply:
    return Reply(413, {"error": "Request body too large", "code": "body_too_large",
                       "message": f"the body may hold at most {limit} bytes",
                       "limit": limit}, outcome="invalid")


def invalid_service(error: InvalidService) -> Reply:
    """400, the plan's ``Invalid service type``, naming the field."""
    return Reply(400, {"error": "Invalid service type", "code": error.code,
                       "fields": ["service"], "details": {"service": error.message},
                       "message": error.message}, outcome="invalid")


def full(error: ReservationFull, *, dynamic: bool) -> Reply:
    """409 with the plan's message, the decision's reason and what is left (minutes
    on the dynamic path, bookings on the legacy one)."""
    decision: Decision = error.decision
    return Reply(409, {
        "error": "Reservation limit reached",
        "code": error.code,
        "message": FULL_MESSAGE,
        "reason": decision.reason.value,
        "unit": "minutes" if dynamic else "bookings",
        "remaining": decision.remaining,
        "requested": decision.requested,
        "capacity": decision.capacity,
        "remaining_minutes": decision.remaining if dynamic else None,
        "detail": decision.detail,
    }, outcome="full")


def duplicate(error: DuplicateBooking, *, dynamic: bool) -> Reply:
    """409 in the plan's 409 shape: this patient already holds this service that day."""
    return Reply(409, {
        "error": "Duplicate booking", "code": error.code, "message": error.message,
        "reason": "DUPLICATE", "unit": "minutes" if dynamic else "bookings",
        "remaining": None, "requested": None, "capacity": None, "remaining_minutes": None,
        "detail": None,
    }, outcome="full")


def key_reused(error: IdempotencyKeyReused) -> Reply:
    """422: the Idempotency-Key was first used with another body."""
    return Reply(422, {"error": "Idempotency-Key reused", "code": error.code,
                       "message": error.message, "fields": ["Idempotency-Key"],
                       "details": {"Idempotency-Key": "first used with another request"}},
                 outcome="invalid")


def in_progress(error: IdempotencyInProgress) -> Reply:
    """409: a request with the same key is still being processed."""
    return Reply(409, {"error": "Request in progress", "code": error.code,
                       "message": error.message},
                 outcome="busy", headers={"Retry-After": str(RETRY_AFTER_BUSY)})


def not_found(status: int, allow: str | None = None) -> Reply:
    """404 / 405 under ``/api``, in the JSON error shape."""
    if status == 405:
        return Reply(405, {"error": "Method not allowed", "code": "method_not_allowed",
                           "message": f"allowed: {allow}" if allow else "not allowed here"},
                     outcome="invalid", headers={"Allow": allow} if allow else {})
    return Reply(404, {"error": "Not found", "code": "not_found",
                       "message": "no such endpoint (GET /openapi.json lists them)"},
                 outcome="invalid")


def busy(error: StoreBusy) -> Reply:
    return Reply(503, {"error": "Service busy", "code": error.code,
                       "message": "the database is busy; retry shortly"},
                 outcome="busy", headers={"Retry-After": str(RETRY_AFTER_BUSY)})


def unavailable(error: StoreUnavailable) -> Reply:
    """503: the database could not be reached (restart, failover, lost connection), or a
    booking's outcome is unknown (``booking_outcome_unknown``: retry with the same
    ``Idempotency-Key``)."""
    return Reply(503, {"error": "Service unavailable", "code": error.code,
                       "message": error.message},
                 outcome="busy", headers={"Retry-After": str(RETRY_AFTER_BUSY)})


def schema_state(error: SchemaStateError) -> Reply:
    """503: the database's schema phase cannot serve this now (a phase is being
    applied or rolled back, or the database is not migrated that far yet)."""
    return Reply(503, {"error": "Not available in this schema phase", "code": error.code,
                       "message": error.message},
                 outcome="busy", headers={"Retry-After": str(RETRY_AFTER_SCHEMA)})


def internal_error() -> Reply:
    # No details: the plan's handler echoes error.message here, which can hold SQL or
    # a patient's data; the server's log has the exception's type.
    return Reply(500, {"error": "Internal server error", "code": "internal"},
                 outcome="error")


#: The slotcap errors the API answers as such, first match wins (a subclass before its
#: base); any other exception is an internal error.
_ERROR_REPLIES: tuple[tuple[type[Exception], Callable[[Any], Reply]], ...] = (
    (InvalidRequest, invalid),
    (InvalidService, invalid_service),
    (IdempotencyKeyReused, key_reused),
    (IdempotencyInProgress, in_progress),
    (StoreBusy, busy),
    (StoreUnavailable, unavailable),
    (SchemaStateError, schema_state),
)


def for_error(error: Exception) -> Reply | None:
    """The reply to ``error`` when the API answers it as such (400, 409, 422, 503),
    None when it is an internal error (500)."""
    for kind, reply in _ERROR_REPLIES:
        if isinstance(error, kind):
            return reply(error)
    return None


def calendar_entry(entry: CalendarEntry) -> dict[str, Any]:
    return {
        "date": entry.day.isoformat(),
        "period": entry.period.value,
        "is_open": entry.is_open,
        "capacity_minutes": entry.capacity,
        "booked_minutes": entry.booked,
        "remaining_minutes": entry.remaining,
        "closed_reason": entry.closed_reason,
    }


def service_body(service: Service) -> dict[str, Any]:
    return {
        "id": service.id,
        "code": service.code,
        "name": service.name,
        "name_en": service.name_en,
        "duration_minutes": service.duration_minutes,
        "buffer_minutes": service.buffer_minutes,
        "total_minutes": service.duration_minutes + service.buffer_minutes,
        "display_order": service.display_order,
    }
