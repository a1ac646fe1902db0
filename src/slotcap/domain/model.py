"""Domain records: the vocabulary every other layer speaks.

Frozen attrs classes, validated on construction, so an invalid record cannot exist.
Python attribute names are snake_case; the adapters map them to the database's
quoted camelCase names (``durationMinutes``) and nothing else does.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import attrs

from slotcap.domain.calendar import DayOfWeek

__all__ = [
    "HOLDING_STATUSES",
    "LEGACY_SERVICE_CODES",
    "ClinicTimeSlot",
    "Gender",
    "Period",
    "Reservation",
    "ReservationStatus",
    "Service",
    "ServiceLimit",
    "TreatmentType",
]


class Period(enum.StrEnum):
    """Half-day booking period. Values are the strings stored in the database."""

    MORNING = "MORNING"
    AFTERNOON = "AFTERNOON"


class ReservationStatus(enum.StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"
    COMPLETED = "COMPLETED"
    NO_SHOW = "NO_SHOW"

    @property
    def holds_capacity(self) -> bool:
        """Only bookings still to happen occupy the clinic's time."""
        return self in HOLDING_STATUSES


#: Statuses that hold capacity (minutes or daily count).
HOLDING_STATUSES: frozenset[ReservationStatus] = frozenset(
    {ReservationStatus.PENDING, ReservationStatus.CONFIRMED}
)


class Gender(enum.StrEnum):
    MALE = "MALE"
    FEMALE = "FEMALE"


class TreatmentType(enum.StrEnum):
    FIRST_VISIT = "FIRST_VISIT"
    FOLLOW_UP = "FOLLOW_UP"


#: The legacy ``ServiceType`` enum. Until phase 4 the old ``service`` column is NOT NULL
#: and typed by this enum, so only these codes can be dual-written.
LEGACY_SERVICE_CODES: tuple[str, ...] = (
    "WRINKLE_BOTOX",
    "VOLUME_LIFTING",
    "SKIN_CARE",
    "REMOVAL_PROCEDURE",
    "BODY_CARE",
    "OTHER_CONSULTATION",
)


def _non_negative(_instance: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value}")


def _non_empty(_instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value or not value.strip():
        raise ValueError(f"{attribute.name} must not be empty")


@attrs.frozen(kw_only=True)
class Service:
    """A row of the ``services`` table (every column of the plan's DDL)."""

    id: str = attrs.field(validator=_non_empty)
    code: str = attrs.field(validator=_non_empty)
    name: str = attrs.field(validator=_non_empty)
    name_en: str | None = None
    description: str | None = None
    category: str | None = None
    duration_minutes: int = attrs.field(default=30, validator=_non_negative)
    buffer_minutes: int = attrs.field(default=10, validator=_non_negative)
    base_price: int | None = None
    is_active: bool = True
    is_visible: bool = True
    display_order: int = 0
    deleted_at: dt.datetime | None = None

    @property
    def is_bookable(self) -> bool:
        """Active and not soft-deleted."""
        return self.is_active and self.deleted_at is None

    @property
    def is_legacy(self) -> bool:
        """Whether the code exists in the legacy ``ServiceType`` enum."""
        return self.code in LEGACY_SERVICE_CODES


def _check_time_slot(instance: ClinicTimeSlot) -> None:
    if instance.end_time <= instance.start_time:
        raise ValueError(
            f"end_time {instance.end_time:%H:%M} must be after "
            f"start_time {instance.start_time:%H:%M}"
        )


def _day_of_week(_instance: object, _attribute: attrs.Attribute[Any], value: int) -> None:
    if not 0 <= value <= 6:
        raise ValueError(f"day_of_week must be 0 (Sunday) .. 6 (Saturday), got {value}")


@attrs.frozen(kw_only=True)
class ClinicTimeSlot:
    """One weekly opening period. ``day_of_week`` is 0 = Sunday … 6 = Saturday.

    ``total_minutes`` is derived from the start and end times and never entered twice.
    """

    id: str = attrs.field(validator=_non_empty)
    day_of_week: DayOfWeek = attrs.field(validator=_day_of_week)
    period: Period = attrs.field(converter=Period)
    start_time: dt.time
    end_time: dt.time
    is_active: bool = True

    def __attrs_post_init__(self) -> None:
        _check_time_slot(self)

    @property
    def total_minutes(self) -> int:
        start = self.start_time.hour * 60 + self.start_time.minute
        end = self.end_time.hour * 60 + self.end_time.minute
        return end - start

    def contains(self, clock: dt.time) -> bool:
        """Whether ``clock`` lies within [start, end)."""
        return self.start_time <= clock < self.end_time


@attrs.frozen(kw_only=True)
class ServiceLimit:
    """A row of the legacy ``service_reservation_limits`` table."""

    service_code: str = attrs.field(validator=_non_empty)
    daily_limit: int = attrs.field(validator=_non_negative)
    is_active: bool = True
    id: str | None = None


@attrs.frozen(kw_only=True)
class Reservation:
    """A reservation with both the legacy and the new columns.

    Legacy: ``service`` (ServiceType code) and ``preferred_time`` (free text).
    New: ``service_id``, ``service_name``, ``estimated_duration`` and ``period``.
    Either side may be ``None`` depending on the schema phase and on who wrote the row.
    """

    id: str = attrs.field(validator=_non_empty)
    patient_name: str
    phone: str
    birth_date: dt.date
    gender: Gender = attrs.field(converter=Gender)
    treatment_type: TreatmentType = attrs.field(converter=TreatmentType)
    preferred_date: dt.date
    status: ReservationStatus = attrs.field(
        default=ReservationStatus.PENDING, converter=ReservationStatus
    )
    email: str | None = None
    notes: str | None = None
    admin_notes: str | None = None
    # legacy columns
    service: str | None = None
    preferred_time: str | None = None
    # new columns
    service_id: str | None = None
    service_name: str | None = None
    estimated_duration: int | None = attrs.field(default=None, validator=_non_negative)
    period: Period | None = attrs.field(
        default=None, converter=attrs.converters.optional(Period)
    )
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    status_changed_at: dt.datetime | None = None
    status_changed_by: str | None = None

    @property
    def holds_capacity(self) -> bool:
        return self.status.holds_capacity
