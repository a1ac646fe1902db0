"""The plan's seed data: six services and eleven weekly opening periods."""

from __future__ import annotations

import datetime as dt

from slotcap.domain.model import ClinicTimeSlot, Period, Service, ServiceLimit

__all__ = ["DEFAULT_DAILY_LIMITS", "DEFAULT_SERVICES", "DEFAULT_TIME_SLOTS"]


def _service(order: int, code: str, name: str, name_en: str, duration: int, buffer: int) -> Service:
    return Service(
        id=f"srv_{code.lower()}",
        code=code,
        name=name,
        name_en=name_en,
        duration_minutes=duration,
        buffer_minutes=buffer,
        display_order=order,
    )


#: The plan's Phase 1 seed (ids, codes, Korean names, duration + buffer minutes).
DEFAULT_SERVICES: tuple[Service, ...] = (
    _service(1, "WRINKLE_BOTOX", "주름/보톡스", "Wrinkle / Botox", 30, 10),
    _service(2, "VOLUME_LIFTING", "볼륨/리프팅", "Volume / Lifting", 45, 15),
    _service(3, "SKIN_CARE", "피부케어", "Skin care", 60, 10),
    _service(4, "REMOVAL_PROCEDURE", "제거시술", "Removal procedure", 40, 10),
    _service(5, "BODY_CARE", "바디케어", "Body care", 50, 10),
    _service(6, "OTHER_CONSULTATION", "기타 상담", "Other consultation", 20, 5),
)


def _slot(day: int, period: Period, start: str, end: str) -> ClinicTimeSlot:
    return ClinicTimeSlot(
        id=f"slot_{day}_{period.value.lower()}",
        day_of_week=day,
        period=period,
        start_time=dt.time.fromisoformat(start),
        end_time=dt.time.fromisoformat(end),
    )


#: Mon–Fri 09:00–12:00 and 14:00–18:00, Saturday 09:00–13:00, Sunday closed: 11 slots.
DEFAULT_TIME_SLOTS: tuple[ClinicTimeSlot, ...] = (
    *(
        slot
        for day in range(1, 6)
        for slot in (
            _slot(day, Period.MORNING, "09:00", "12:00"),
            _slot(day, Period.AFTERNOON, "14:00", "18:00"),
        )
    ),
    _slot(6, Period.MORNING, "09:00", "13:00"),
)


#: Legacy per-service daily count limits for the in-memory store and the demo. The plan
#: does not give production's values (its 6 rows are site configuration); 10 a day per
#: service is a placeholder an operator replaces with ``save_limit``.
DEFAULT_DAILY_LIMITS: tuple[ServiceLimit, ...] = tuple(
    ServiceLimit(id=f"limit_{s.code.lower()}", service_code=s.code, daily_limit=10)
    for s in DEFAULT_SERVICES
)
