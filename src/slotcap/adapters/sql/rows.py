"""Rows ↔ domain records for the SQL stores (values converted by the dialect)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from slotcap.domain.closures import Closure, normalise_rrule
from slotcap.domain.model import ClinicTimeSlot, Period, Reservation, Service, ServiceLimit
from slotcap.sql.dialect import DialectRules

__all__ = [
    "closure_of", "closure_params", "limit_of", "reservation_of", "reservation_params",
    "service_of", "slot_of",
]


def service_of(d: DialectRules, row: Sequence[Any]) -> Service | None:
    (sid, code, name, name_en, description, category, duration, buffer, price, active,
     visible, order, deleted) = row
    if sid is None:
        return None
    return Service(
        id=sid, code=code, name=name, name_en=name_en, description=description,
        category=category, duration_minutes=int(duration), buffer_minutes=int(buffer),
        base_price=None if price is None else int(price), is_active=bool(active),
        is_visible=bool(visible), display_order=int(order),
        deleted_at=d.timestamp_out(deleted),
    )


def _clock(value: Any) -> dt.time:
    return value if isinstance(value, dt.time) else dt.time.fromisoformat(str(value).strip())


def slot_of(row: Sequence[Any]) -> ClinicTimeSlot | None:
    sid, dow, period, start, end, active = row
    if sid is None:
        return None
    return ClinicTimeSlot(
        id=sid, day_of_week=int(dow), period=Period(period), start_time=_clock(start),
        end_time=_clock(end), is_active=bool(active),
    )


def limit_of(row: Sequence[Any]) -> ServiceLimit | None:
    lid, code, daily, active = row
    if lid is None:
        return None
    return ServiceLimit(id=lid, service_code=code, daily_limit=int(daily), is_active=bool(active))


def reservation_of(d: DialectRules, columns: Sequence[str], row: Sequence[Any]) -> Reservation:
    v = dict(zip(columns, row, strict=True))
    return Reservation(
        id=v["id"], patient_name=v["patientName"], phone=v["phone"], email=v.get("email"),
        birth_date=d.date_out(v["birthDate"]), gender=v["gender"],
        treatment_type=v["treatmentType"], preferred_date=d.date_out(v["preferredDate"]),
        status=v["status"], notes=v.get("notes"), admin_notes=v.get("adminNotes"),
        service=v.get("service"), preferred_time=v.get("preferredTime"),
        service_id=v.get("serviceId"), service_name=v.get("serviceName"),
        estimated_duration=v.get("estimatedDuration"), period=v.get("period"),
        created_at=d.timestamp_out(v.get("createdAt")),
        updated_at=d.timestamp_out(v.get("updatedAt")),
        status_changed_at=d.timestamp_out(v.get("statusChangedAt")),
        status_changed_by=v.get("statusChangedBy"),
    )


def reservation_params(
    d: DialectRules, columns: Sequence[str], r: Reservation, now: dt.datetime
) -> dict[str, Any]:
    """The row of ``r`` for ``columns``; a missing timestamp is ``now``."""

    def ts(value: dt.datetime | None) -> Any:
        return d.timestamp_in(value if value is not None else now)

    every: dict[str, Any] = {
        "id": r.id, "patientName": r.patient_name, "phone": r.phone, "email": r.email,
        "birthDate": d.birth_date_in(r.birth_date), "gender": r.gender.value,
        "treatmentType": r.treatment_type.value,
        "preferredDate": d.date_in(r.preferred_date), "status": r.status.value,
        "notes": r.notes, "adminNotes": r.admin_notes, "createdAt": ts(r.created_at),
        "updatedAt": ts(r.updated_at), "statusChangedAt": ts(r.status_changed_at),
        "statusChangedBy": r.status_changed_by, "service": r.service,
        "preferredTime": r.preferred_time, "serviceId": r.service_id,
        "serviceName": r.service_name, "estimatedDuration": r.estimated_duration,
        "period": None if r.period is None else r.period.value,
    }
    return {c: every[c] for c in columns}


def closure_of(d: DialectRules, row: Sequence[Any]) -> Closure:
    cid, start, end, period, rrule, capacity, reason, created = row
    return Closure(
        id=cid, start_date=d.date_out(start), end_date=None if end is None else d.date_out(end),
        # Normalised: a row written by hand (lower case, an RRULE: prefix) still reads.
        period=None if period is None else Period(period),
        rrule=None if rrule is None else normalise_rrule(rrule),
        capacity_minutes=None if capacity is None else int(capacity), reason=reason,
        created_at=d.timestamp_out(created),
    )


def closure_params(d: DialectRules, c: Closure, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": c.id, "startDate": d.date_in(c.start_date),
        "endDate": None if c.end_date is None else d.date_in(c.end_date),
        "period": None if c.period is None else c.period.value, "rrule": c.rrule,
        "capacityMinutes": c.capacity_minutes, "reason": c.reason,
        "createdAt": d.timestamp_in(c.created_at if c.created_at is not None else now),
    }
