"""The service catalogue: list, add, update, deactivate and reactivate services.

Plain functions over a :class:`~slotcap.ports.Store` and plain values; the CLI's
``slotcap services`` is a thin shell over them. Every field is validated here, before
the store sees it, and every problem is reported at once as
:class:`~slotcap.errors.InvalidServiceDefinition` naming the field (never its value).

Deactivating never deletes: the row stays, with ``is_active`` false, so its code stays
taken and reservations made earlier keep their own snapshot of the service's name and
duration (``serviceName``, ``estimatedDuration``); the booking path refuses an inactive
service (``InvalidService``, code ``service_inactive``).

The catalogue lives in phase 1's ``services`` table: before phase 1 every function
raises ``SchemaStateError``, on every store alike.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

import attrs

from slotcap.domain.model import Service
from slotcap.errors import (
    InvalidService,
    InvalidServiceDefinition,
    ServiceExists,
)
from slotcap.ports import SchemaState, Store
from slotcap.usecases._phase1 import require_phase1
from slotcap.usecases.request import bad_character

__all__ = [
    "CODE_PATTERN",
    "MAX_CODE_LENGTH",
    "MAX_DISPLAY_ORDER",
    "MAX_MINUTES",
    "MAX_NAME_LENGTH",
    "UPDATABLE_FIELDS",
    "add_service",
    "bookable_now",
    "bookable_services",
    "deactivate_service",
    "list_services",
    "normal_code",
    "reactivate_service",
    "update_service",
]

#: Upper-case ASCII letters, digits and underscores, starting with a letter (the
#: legacy ``ServiceType`` enum's spelling, e.g. ``WRINKLE_BOTOX``).
CODE_PATTERN = re.compile(r"[A-Z][A-Z0-9_]*")
MAX_CODE_LENGTH = 50
#: A name is one line of at most this many characters.
MAX_NAME_LENGTH = 100
#: Duration and buffer fit in one day (and so in any INTEGER column).
MAX_MINUTES = 24 * 60
MAX_DISPLAY_ORDER = 1_000_000
#: What :func:`update_service` may change; the code is the service's identity and
#: ``is_active`` has its own two functions.
UPDATABLE_FIELDS: frozenset[str] = frozenset(
    {"name", "name_en", "duration_minutes", "buffer_minutes", "display_order"}
)
#: The whole numbers' inclusive bounds: a service takes at least a minute.
_RANGES: dict[str, tuple[int, int]] = {
    "duration_minutes": (1, MAX_MINUTES),
    "buffer_minutes": (0, MAX_MINUTES),
    "display_order": (0, MAX_DISPLAY_ORDER),
}
_ADD_FIELDS = UPDATABLE_FIELDS | {"code"}


def normal_code(value: object) -> object:
    """A service code as typed, in the one case slotcap stores and compares codes in:
    codes are identifiers (``SKIN_CARE``), and every entry point — the booking body, the
    availability query, ``slotcap services … CODE`` — takes them in any case, as PERIOD
    and the other enum values. Anything but text is returned as it is, for the
    validation to name."""
    return value.upper() if isinstance(value, str) else value


def _check_code(value: object) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    if not value:
        return "must not be empty"
    if len(value) > MAX_CODE_LENGTH:
        return f"must be at most {MAX_CODE_LENGTH} characters"
    if CODE_PATTERN.fullmatch(value) is None:
        return ("must be letters A-Z, digits and underscores (any case; stored in "
                "upper case), starting with a letter (e.g. SKIN_CARE)")
    return None


def _clean_name(value: object, *, optional: bool) -> tuple[str | None, str | None]:
    """(the name stripped, None) or (None, the problem)."""
    if value is None and optional:
        return None, None
    if not isinstance(value, str):
        return None, "must be a string"
    text = value.strip()
    if not text:
        return (None, None) if optional else (None, "must not be empty")
    if len(text) > MAX_NAME_LENGTH:
        return None, f"must be at most {MAX_NAME_LENGTH} characters"
    # Control characters, line breaks and lone surrogates (the booking form's rule) and
    # the Unicode line/paragraph separators: a name is one printable line (and
    # PostgreSQL's TEXT cannot hold NUL at all).
    if bad_character(text, multiline=False) is not None or "\u2028" in text or "\u2029" in text:
        return None, "must be one line without control characters"
    return text, None


def _check_int(value: object, low: int, high: int) -> str | None:
    # bool is an int in Python; True minutes is a mistake, not 1.
    if not isinstance(value, int) or isinstance(value, bool):
        return "must be a whole number"
    if not low <= value <= high:
        return f"must be from {low} to {high}, got {value}"
    return None


def _validate(
    values: Mapping[str, object], allowed: frozenset[str] = _ADD_FIELDS
) -> dict[str, Any]:
    """The values cleaned, or ``InvalidServiceDefinition`` naming every bad field."""
    problems: dict[str, str] = {}
    # Any: each value is checked against its field's type in the loop below.
    cleaned: dict[str, Any] = {}
    for field, value in values.items():
        problem: str | None
        if field not in allowed:
            problem = ("cannot be changed here (changeable: "
                       f"{', '.join(sorted(allowed))})")
        elif field == "code":
            problem, cleaned[field] = _check_code(value), value
        elif field in _RANGES:
            problem, cleaned[field] = _check_int(value, *_RANGES[field]), value
        else:  # name, name_en
            cleaned[field], problem = _clean_name(value, optional=field == "name_en")
        if problem is not None:
            problems[field] = problem
    if problems:
        raise InvalidServiceDefinition(problems)
    return cleaned


def _require_catalogue(store: Store) -> None:
    require_phase1(store, "the service catalogue is phase 1's services table")


def _existing(store: Store, code: str) -> Service:
    code = str(normal_code(code.strip() if isinstance(code, str) else code))
    problem = _check_code(code)
    if problem is not None:
        raise InvalidServiceDefinition({"code": problem})
    _require_catalogue(store)
    service = store.get_service(code)
    if service is None or service.deleted_at is not None:
        raise InvalidService(f"unknown service {code!r}", code="unknown_service")
    return service


def list_services(store: Store, *, include_inactive: bool = True) -> list[Service]:
    """The services ordered by display order then code; soft-deleted ones never,
    inactive ones unless ``include_inactive`` is false."""
    _require_catalogue(store)
    services = store.list_services()
    return [s for s in services if include_inactive or s.is_active]


def bookable_now(service: Service, state: SchemaState) -> bool:
    """Whether a patient can book ``service`` in a database at ``state`` — exactly what
    :func:`slotcap.book` accepts: active, not deleted and, while the old NOT NULL
    ``ServiceType`` enum column exists (before phase 4), one of the enum's codes (a new
    code cannot be dual-written into it)."""
    return service.is_bookable and (service.is_legacy or not state.has_legacy_columns)


def bookable_services(store: Store) -> list[Service]:
    """The public catalogue (``GET /api/services``): the visible services a patient can
    book now, in display order. A service added before phase 4 outside the legacy enum
    is not offered until phase 4 makes it bookable — offered and then refused is worse
    than not offered (docs/booking.md, "New services before phase 4")."""
    state = store.schema_state
    return [s for s in list_services(store, include_inactive=False)
            if s.is_visible and bookable_now(s, state)]


def add_service(
    store: Store,
    *,
    code: str,
    name: str,
    name_en: str | None = None,
    duration_minutes: int,
    buffer_minutes: int = 0,
    display_order: int | None = None,
) -> Service:
    """Create an active service and return it as saved.

    ``display_order`` defaults to one after the last service. Raises
    ``InvalidServiceDefinition`` (every bad field), ``ServiceExists`` (the code is
    taken, by an active, inactive or deleted service) or ``SchemaStateError``.
    """
    code = str(normal_code(code)) if isinstance(code, str) else code
    values: dict[str, object] = {
        "code": code, "name": name, "name_en": name_en,
        "duration_minutes": duration_minutes, "buffer_minutes": buffer_minutes,
    }
    if display_order is not None:
        values["display_order"] = display_order
    cleaned = _validate(values)
    _require_catalogue(store)
    every = store.list_services(include_deleted=True)
    if any(s.code == code for s in every):
        raise ServiceExists.for_code(code)
    if display_order is None:
        display_order = max((s.display_order for s in every), default=0) + 1
    # A fresh id every time, never the seed's bare srv_<code>: the store upserts by id,
    # so two concurrent adds of one code must differ in id for the code's UNIQUE
    # constraint to refuse the second (ServiceExists) instead of it overwriting the first.
    service_id = f"srv_{code.lower()}_{uuid.uuid4().hex[:12]}"
    service = Service(
        id=service_id,
        code=code,
        name=str(cleaned["name"]),
        name_en=None if cleaned["name_en"] is None else str(cleaned["name_en"]),
        duration_minutes=duration_minutes,
        buffer_minutes=buffer_minutes,
        display_order=display_order,
        is_active=True,
    )
    # A code taken by another writer between our read and this write: the store
    # raises ServiceExists itself (the port's contract).
    store.save_service(service)
    return service


def update_service(store: Store, code: str, /, **changes: object) -> Service:
    """Change some of ``name``, ``name_en`` (None clears it), ``duration_minutes``,
    ``buffer_minutes``, ``display_order`` of the service ``code``; return it as saved.

    Reservations already made keep their own name and duration snapshot. Raises
    ``InvalidServiceDefinition``, ``InvalidService`` (``unknown_service``) or
    ``SchemaStateError``.
    """
    try:
        cleaned = _validate(changes, UPDATABLE_FIELDS)
    except InvalidServiceDefinition as exc:
        # Name a bad code too, so that every problem is reported at once.
        problem = _check_code(code)
        if problem is None or "code" in exc.fields:
            raise
        raise InvalidServiceDefinition({**exc.fields, "code": problem}) from None
    service = _existing(store, code)
    if not cleaned:
        return service
    updated = attrs.evolve(service, **cleaned)
    if updated != service:
        store.save_service(updated)
    return updated


def deactivate_service(store: Store, code: str) -> Service:
    """Stop new bookings of ``code``; the row and every reservation stay. Idempotent."""
    return _set_active(store, code, False)


def reactivate_service(store: Store, code: str) -> Service:
    """Make a deactivated service bookable again. Idempotent."""
    return _set_active(store, code, True)


def _set_active(store: Store, code: str, active: bool) -> Service:
    service = _existing(store, code)
    if service.is_active is active:
        return service
    updated = attrs.evolve(service, is_active=active)
    store.save_service(updated)
    return updated
