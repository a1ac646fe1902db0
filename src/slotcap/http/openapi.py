"""``GET /openapi.json``: the API described, every endpoint, body and error.

Written by hand next to the handlers (no framework generates it) and held to them by
the end-to-end tests and by Schemathesis, which generates requests from this document
and checks every response against it.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

from slotcap.domain.model import Gender, Period, ReservationStatus, TreatmentType

__all__ = ["openapi_document"]

_TEXT: dict[str, Any] = {"type": "string"}
_DATE: dict[str, Any] = {"type": "string", "format": "date", "example": "2026-12-07"}
_INT: dict[str, Any] = {"type": "integer"}
_NULL_INT: dict[str, Any] = {"type": ["integer", "null"]}
_CLOSED_REASON: dict[str, Any] = {
    "type": ["string", "null"],
    "description": "the reason of a closure covering this date's period (`slotcap closures`)",
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _enum(kind: Any) -> dict[str, Any]:
    return {"type": "string", "enum": [member.value for member in kind]}


def _obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def _json(schema: dict[str, Any], description: str, **headers: Any) -> dict[str, Any]:
    reply: dict[str, Any] = {"description": description,
                             "content": {"application/json": {"schema": schema}}}
    if headers:
        reply["headers"] = headers
    return reply


_RETRY = {"Retry-After": {"description": "seconds to wait before retrying",
                          "schema": {"type": "string"}}}
_CORS = {"Access-Control-Allow-Origin": {"schema": {"type": "string", "enum": ["*"]}}}
#: On every response (``slotcap serve``'s guard).
_NOSNIFF = {"X-Content-Type-Options": {"description": "always `nosniff`",
                                       "schema": {"type": "string", "enum": ["nosniff"]}}}
#: On every ``/api/public/reservations`` answer (a booking's carries its id).
_NO_STORE = {"Cache-Control": {"description": "`no-store` on every "
                               "`/api/public/reservations` answer",
                               "schema": {"type": "string", "enum": ["no-store"]}}}
_REPLAYED = {"Idempotent-Replayed": {
    "description": "`true` when this is the saved first answer of the request's "
    "`Idempotency-Key` (nothing was booked again)",
    "schema": {"type": "string", "enum": ["true"]}}}
_CHALLENGE = {"WWW-Authenticate": {"description": '`Bearer realm="slotcap"`',
                                   "schema": {"type": "string"}}}

_SCHEMAS: dict[str, Any] = {
    "BookingBody": {
        "type": "object",
        "description": "The plan's snake_case body. The dynamic path needs `period` (or a "
        "`preferred_time` that reads as one); the legacy path needs `preferred_time`. "
        "Unknown keys are ignored.",
        "required": ["patient_name", "phone", "birth_date", "gender", "treatment_type",
                     "service", "preferred_date"],
        "properties": {
            "patient_name": {"type": "string", "maxLength": 100},
            "phone": {"type": "string", "example": "010-1234-5678"},
            "email": {"type": ["string", "null"], "maxLength": 254},
            "birth_date": _DATE,
            "gender": _enum(Gender),
            "treatment_type": _enum(TreatmentType),
            "service": {"type": "string", "example": "WRINKLE_BOTOX"},
            "preferred_date": _DATE,
            "preferred_time": {"type": ["string", "null"], "example": "10:00"},
            "period": {"type": ["string", "null"], "enum": [*(p.value for p in Period), None]},
            "notes": {"type": ["string", "null"], "maxLength": 2000},
        },
    },
    "Booked": _obj(
        ["success", "reservation", "message"],
        success={"type": "boolean", "enum": [True]},
        reservation=_obj(
            ["id", "status", "preferred_date", "preferred_time"],
            id=_TEXT, status=_enum(ReservationStatus), preferred_date=_DATE,
            preferred_time={"type": ["string", "null"],
                            "description": "the period (dynamic path) or the patient's "
                            "own time text (legacy path)"},
        ),
        message=_TEXT,
    ),
    "Error": {
        **_obj(["error", "code"], error=_TEXT, code=_TEXT,
               fields={"type": "array", "items": _TEXT,
                       "description": "every field that was refused"},
               details={"type": "object", "additionalProperties": _TEXT,
                        "description": "what is wrong with each field"},
               message=_TEXT, limit=_INT,
               retry_after={**_INT, "description": "429: seconds until a request is "
                            "allowed again (as `Retry-After`)"}),
        "description": "`error` is the plan's wording (`Missing required fields`, `Invalid "
        "date format`, `Invalid field values`, `Invalid request body`, `Invalid JSON`, "
        "`Invalid service type`, `Request body too large`, `Service busy`, `Too many "
        "requests`, ...); `code` is machine-readable (`rate_limited`, "
        "`idempotency_key_reused`, `idempotency_in_progress`, `headers_too_large`, "
        "`body_timeout`, `unauthorized`, `not_found`, `method_not_allowed`, ...).",
    },
    "Full": _obj(
        ["error", "code", "message", "reason", "unit", "remaining"],
        error={"type": "string", "enum": ["Reservation limit reached", "Duplicate booking"]},
        code={"type": "string", "enum": ["reservation_full", "duplicate_booking"]},
        message=_TEXT,
        reason={"type": "string", "description": "the decision's reason: FULL, CLOSED, "
                "NO_LIMIT, LIMIT_INACTIVE; DUPLICATE (`duplicate_booking`: this patient — "
                "phone digits and name — already holds this service on this date)"},
        unit={"type": "string", "enum": ["minutes", "bookings"]},
        remaining=_NULL_INT, requested=_NULL_INT, capacity=_NULL_INT,
        remaining_minutes=_NULL_INT,
        detail={"type": ["string", "null"],
                "description": "CLOSED: the closure's reason (a holiday, staff training)"},
    ),
    "PeriodAvailability": _obj(
        ["period", "is_open", "capacity_minutes", "booked_minutes", "remaining_minutes",
         "fits", "reason", "requested_minutes"],
        period=_enum(Period), is_open={"type": "boolean"}, capacity_minutes=_INT,
        booked_minutes=_INT, remaining_minutes=_INT, closed_reason=_CLOSED_REASON,
        fits={"type": ["boolean", "null"], "description": "null without a service"},
        reason={"type": ["string", "null"]}, requested_minutes=_NULL_INT,
    ),
    "Availability": {
        **_obj(["date", "rule", "service", "available"],
               date=_DATE, rule={"type": "string", "enum": ["dynamic", "legacy"]},
               service={"type": ["string", "null"]},
               available={"type": ["boolean", "null"]},
               periods={"type": "array", "items": _ref("PeriodAvailability"),
                        "description": "dynamic rule: both periods"},
               reason={"type": "string", "description": "legacy rule"},
               daily_count={**_INT, "description": "legacy rule: held bookings"},
               daily_limit={**_NULL_INT, "description": "legacy rule"},
               remaining={**_NULL_INT, "description": "legacy rule: bookings left"}),
    },
    "CalendarEntry": _obj(
        ["date", "period", "is_open", "capacity_minutes", "booked_minutes",
         "remaining_minutes"],
        date=_DATE, period=_enum(Period), is_open={"type": "boolean"},
        capacity_minutes=_INT, booked_minutes=_INT, remaining_minutes=_INT,
        closed_reason=_CLOSED_REASON,
    ),
    "Calendar": _obj(["from", "to", "entries"], **{
        "from": _DATE, "to": _DATE,
        "entries": {"type": "array", "items": _ref("CalendarEntry")},
    }),
    "Service": _obj(
        ["id", "code", "name", "name_en", "duration_minutes", "buffer_minutes",
         "total_minutes", "display_order"],
        id=_TEXT, code=_TEXT, name=_TEXT, name_en={"type": ["string", "null"]},
        duration_minutes=_INT, buffer_minutes=_INT, total_minutes=_INT, display_order=_INT,
    ),
    "Services": _obj(["services"], services={"type": "array", "items": _ref("Service")}),
    "Health": _obj(["status"], status={"type": "string", "enum": ["ok"]}),
    "Ready": _obj(["status"], status={"type": "string", "enum": ["ready", "unavailable"]},
                  schema_state={"type": "string", "enum": ["legacy", "expanded",
                                                           "contracted"]},
                  rules={"type": "array", "items": {"type": "string"}},
                  rollout={"type": "object"}, error=_TEXT, code=_TEXT),
}

_ERROR = _ref("Error")
_BUSY = _json(_ERROR, "the database is busy or unreachable (`store_busy`, "
              "`store_unavailable`), or its schema phase cannot serve this now "
              "(a migration step is running)", **_RETRY)
_INVALID = _json(_ERROR, "missing or invalid parameters, each named in `fields`")
_LIMITED = _json(_ERROR, "over the client's rate limit (`rate_limited`; "
                 "`--rate-limit-bookings`, `--rate-limit-reads`)", **_RETRY)
_HEADERS_TOO_LARGE = _json(_ERROR, "request headers over `--max-header-bytes` "
                           "(`headers_too_large`)")
_IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": False,
                "schema": {"type": "string", "maxLength": 257},
                "description": "IETF httpapi draft: a bare token or a quoted sf-string, "
                "1-255 printable ASCII characters. A retry with the same key and body gets "
                "the first answer again (`Idempotent-Replayed: true`), never a second "
                "booking; kept 24 h (`--idempotency-ttl`)"}
_SUBJECT = {"name": "X-Slotcap-Subject", "in": "header", "required": False,
            "schema": {"type": "string", "maxLength": 200},
            "description": "the rollout's sticky key (a session id); a booking without it "
            "uses the phone number"}


def _query(name: str, schema: dict[str, Any], required: bool, description: str) -> Any:
    return {"name": name, "in": "query", "required": required, "schema": schema,
            "description": description}


def _preflight(summary: str) -> dict[str, Any]:
    return {"summary": summary, "responses": {"204": {"description": "CORS preflight",
                                                      "headers": _CORS}}}


def _version() -> str:
    try:
        return importlib.metadata.version("slotcap")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def _text(media_type: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {media_type: {"schema": {"type": "string"}}}}


#: The operator's routes (mounted by ``slotcap serve``, built by the monitor).
_OPERATOR_ERRORS: dict[str, Any] = {
    "401": _json(_ERROR, "an operator token is configured and the request did not carry "
                 "it as `Authorization: Bearer <token>` (`unauthorized`)", **_CHALLENGE),
    "404": _json(_ERROR, "no operator token is configured and the server listens on a "
                 "non-loopback address: the operator's routes are hidden (`not_found`)"),
    "431": _HEADERS_TOO_LARGE,
}
_OPERATOR: dict[str, Any] = {
    "/metrics": {"get": {
        "summary": "Prometheus metrics: requests by endpoint, rule path and outcome, "
        "latency, the rollout and the phase-3 monitors",
        "security": [{"operatorToken": []}],
        "responses": {"200": _text("text/plain", "the Prometheus text format"),
                      **_OPERATOR_ERRORS}}},
    "/": {"get": {
        "summary": "The operator page: migration phase, rollout, capacity heat map, "
        "the last hour's requests, the catalogue",
        "security": [{"operatorToken": []}],
        "responses": {"200": _text("text/html", "one HTML page, no script"),
                      **_OPERATOR_ERRORS}}},
}


def openapi_document(*, max_body_bytes: int, operator: bool = False) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API (with ``/metrics`` and ``/`` when the
    operator's routes are mounted)."""
    paths: dict[str, Any] = {
        "/api/public/reservations": {
            "post": {
                "summary": "Create a reservation (the plan's route handler)",
                "parameters": [_SUBJECT, _IDEMPOTENCY],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": _ref("BookingBody")}}},
                "responses": {
                    "200": _json(_ref("Booked"), "created (or the replay of a key's first "
                                 "answer)", **_CORS, **_NO_STORE, **_NOSNIFF, **_REPLAYED),
                    "400": _json(_ERROR, "missing fields, invalid dates or values, an "
                                 "unknown or inactive service, JSON that is not an object, "
                                 "a malformed `Idempotency-Key` (named in `fields`)"),
                    "408": _json(_ERROR, "the body did not arrive within `--body-timeout` "
                                 "(`body_timeout`); the connection is closed"),
                    "409": _json({"anyOf": [_ref("Full"), _ERROR]},
                                 "no room left (`reservation_full`: the decision's reason "
                                 "and what remains), the same patient already holds this "
                                 "service on this date (`duplicate_booking`, same shape), or "
                                 "a request with the same `Idempotency-Key` is still in "
                                 "progress (`idempotency_in_progress`, `Error` shape, "
                                 "`Retry-After`)", **_NO_STORE, **_REPLAYED),
                    "413": _json(_ERROR, f"a body over {max_body_bytes} bytes"),
                    "422": _json(_ERROR, "the `Idempotency-Key` was first used with another "
                                 "body (`idempotency_key_reused`)"),
                    "429": _LIMITED,
                    "431": _HEADERS_TOO_LARGE,
                    "503": _BUSY,
                },
            },
            "options": _preflight("CORS preflight"),
        },
        "/api/public/reservations/availability": {
            "get": {
                "summary": "Both periods of a date (dynamic rule) or the daily count "
                "(legacy rule), and whether the service fits",
                "parameters": [
                    _query("date", {"type": "string", "format": "date"}, True, "YYYY-MM-DD"),
                    _query("service", {"type": "string"}, False,
                           "a service code; required on the legacy path"),
                    _SUBJECT,
                ],
                "responses": {"200": _json(_ref("Availability"), "availability",
                                           **_NO_STORE),
                              "400": _INVALID, "429": _LIMITED, "431": _HEADERS_TOO_LARGE,
                              "503": _BUSY},
            },
            "options": _preflight("CORS preflight"),
        },
        "/api/public/reservations/calendar": {
            "get": {
                "summary": "Capacity, booked and remaining minutes of every date and "
                "period in a range (one query; at most 366 days)",
                "parameters": [
                    _query("from", {"type": "string", "format": "date"}, True, "first date"),
                    _query("to", {"type": "string", "format": "date"}, True, "last date"),
                ],
                "responses": {"200": _json(_ref("Calendar"), "the calendar", **_NO_STORE),
                              "400": _INVALID, "429": _LIMITED, "431": _HEADERS_TOO_LARGE,
                              "503": _BUSY},
            },
            "options": _preflight("CORS preflight"),
        },
        "/api/services": {
            "get": {"summary": "The bookable, visible service catalogue, in display order",
                    "responses": {"200": _json(_ref("Services"), "the catalogue"),
                                  "429": _LIMITED, "431": _HEADERS_TOO_LARGE,
                                  "503": _BUSY}},
            "options": _preflight("CORS preflight"),
        },
        "/healthz": {"get": {"summary": "The process is up",
                             "responses": {"200": _json(_ref("Health"), "up")}}},
        "/readyz": {"get": {"summary": "The database answers; the rules its phase serves",
                            "responses": {"200": _json(_ref("Ready"), "ready"),
                                          "503": _json(_ref("Ready"), "database unreachable",
                                                       **_RETRY)}}},
        "/openapi.json": {"get": {"summary": "This document",
                                  "responses": {"200": {"description": "OpenAPI 3.1"}}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "slotcap", "version": _version(),
                 "description": "Clinic bookings by duration-based capacity: the plan's "
                 "public reservation API (docs/server.md)."},
        "paths": {**paths, **(_OPERATOR if operator else {})},
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"operatorToken": {
                "type": "http", "scheme": "bearer",
                "description": "`SLOTCAP_OPERATOR_TOKEN` or `--operator-token-file`"}},
        },
    }
