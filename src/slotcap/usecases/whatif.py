"""``slotcap whatif``: the held reservations (PENDING/CONFIRMED) of a date range replayed
under one rule with today's services, hours, closures and limits — where would they not
fit? The capacity and limits come from the booking's own rule functions
(:func:`~slotcap.domain.rules.check_period_capacity`,
:func:`~slotcap.domain.rules.check_daily_limit`); the load from one aggregate query per
range (``Store.held_load``). Only the dates found over are read row by row, in the order
the rows were created, to name the reservations that would not have fit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import attrs

from slotcap.domain.calendar import day_of_week
from slotcap.domain.closures import Closure, applying
from slotcap.domain.model import ClinicTimeSlot, Period, Reservation, Service, ServiceLimit
from slotcap.domain.rules import (
    check_daily_limit,
    check_period_capacity,
    estimated_duration,
    minutes_for,
)
from slotcap.domain.schema_state import Rule, require
from slotcap.domain.shadow import HeldLoad
from slotcap.errors import InvalidRequest, SchemaStateError
from slotcap.ports import Store

__all__ = ["RULES", "Over", "WhatIf", "whatif"]

RULES = ("dynamic", "legacy")


@attrs.frozen(kw_only=True)
class Over:
    """One date's period (dynamic) or service (legacy) whose held load exceeds what the
    rule allows today: ``held`` and ``capacity`` in minutes (dynamic) or bookings."""

    day: dt.date
    period: Period | None
    service: str | None
    held: int
    capacity: int
    reason: str
    #: The reservations that would not have fit, replayed in the order they were made.
    reservation_ids: tuple[str, ...] = ()
    #: (id, patient name, phone) of those, only when asked (``--show-patients``).
    patients: tuple[tuple[str, str, str], ...] = ()

    @property
    def over_by(self) -> int:
        return self.held - self.capacity

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "date": self.day.isoformat(),
            "period": None if self.period is None else self.period.value,
            "service": self.service, "held": self.held, "capacity": self.capacity,
            "over_by": self.over_by, "reason": self.reason,
            "reservation_ids": list(self.reservation_ids),
        }
        if self.patients:
            out["patients"] = [{"id": i, "patient_name": n, "phone": p}
                               for i, n, p in self.patients]
        return out


@attrs.frozen(kw_only=True)
class WhatIf:
    rule: str
    start: dt.date
    end: dt.date
    unit: str
    held_rows: int
    over: tuple[Over, ...]

    def to_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "from": self.start.isoformat(), "to": self.end.isoformat(),
                "unit": self.unit, "held_rows": self.held_rows,
                "over": [o.to_dict() for o in self.over]}


def whatif(
    store: Store, rule: str, start: dt.date, end: dt.date, *, show_patients: bool = False,
    names: bool = True,
) -> WhatIf:
    """Replay ``start``..``end`` under ``rule`` (``dynamic`` or ``legacy``); ``names``
    False: the aggregate only (no reservation ids, no row read)."""
    if rule not in RULES:
        raise InvalidRequest({"rule": f"must be one of {', '.join(RULES)}"})
    if end < start:
        raise InvalidRequest({"to": f"must not be before from ({start.isoformat()})"})
    require(store.schema_state, Rule.MINUTES if rule == "dynamic" else Rule.COUNT)
    loads = store.held_load(start, end)
    over = _minutes(store, loads) if rule == "dynamic" else _counts(store, loads)
    named = tuple(_named(store, o, rule, show_patients) for o in over) if names else tuple(over)
    return WhatIf(rule=rule, start=start, end=end, held_rows=sum(x.rows for x in loads),
                  unit="minutes" if rule == "dynamic" else "bookings", over=named)


def _closures(store: Store) -> list[Closure]:
    try:
        return store.list_closures()
    except SchemaStateError:
        return []  # before phase 1: none


class _Catalogue:
    def __init__(self, store: Store) -> None:
        services = store.list_services(include_deleted=True)
        self.by_code: dict[str, Service] = {s.code: s for s in services}
        self.by_id: dict[str, Service] = {s.id: s for s in services}
        self.slots: dict[tuple[int, Period], ClinicTimeSlot] = {
            (s.day_of_week, s.period): s for s in store.list_time_slots()}
        self.closures = _closures(store)
        # The rule's capacity is asked with one bookable service (any: its own minutes
        # do not change the capacity the rule finds).
        self.probe = next((s for s in services if s.is_bookable), None)

    def minutes(self, load: HeldLoad) -> int:
        if not load.unsized:
            return load.minutes
        service = self.by_id.get(load.service_id or "") or self.by_code.get(load.service or "")
        each = (estimated_duration(service) if service is not None else
                max((estimated_duration(s) for s in self.by_code.values()), default=0))
        return load.minutes + load.unsized * each

    def capacity(self, day: dt.date, period: Period) -> tuple[int, str]:
        decision = check_period_capacity(
            service=self.probe, slot=self.slots.get((day_of_week(day), period)),
            held_minutes=0, closures=applying(self.closures, day, period))
        return (decision.capacity or 0), decision.reason.value


def _minutes(store: Store, loads: Iterable[HeldLoad]) -> list[Over]:
    cat = _Catalogue(store)
    held: dict[tuple[dt.date, Period], int] = {}
    for load in loads:
        for period in (Period if load.period is None else (load.period,)):
            held[(load.day, period)] = held.get((load.day, period), 0) + cat.minutes(load)
    found = []
    for (day, period), minutes in sorted(held.items(), key=lambda kv: (kv[0][0], kv[0][1] is
                                                                        Period.AFTERNOON)):
        capacity, reason = cat.capacity(day, period)
        if minutes > capacity:
            found.append(Over(day=day, period=period, service=None, held=minutes,
                              capacity=capacity, reason="FULL" if capacity else reason))
    return found


def _counts(store: Store, loads: Iterable[HeldLoad]) -> list[Over]:
    held: dict[tuple[dt.date, str], int] = {}
    for load in loads:
        if load.service is not None:
            held[(load.day, load.service)] = held.get((load.day, load.service), 0) + load.rows
    limits: dict[str, ServiceLimit | None] = {}
    found = []
    for (day, code), rows in sorted(held.items()):
        if code not in limits:
            limits[code] = store.get_limit(code)
        # The rows'th booking fits if the rule allows it with rows - 1 already held.
        decision = check_daily_limit(limit=limits[code], held_count=rows - 1)
        if not decision.allowed:
            capacity = decision.capacity if decision.reason.value == "FULL" else 0
            found.append(Over(day=day, period=None, service=code, held=rows,
                              capacity=capacity or 0, reason=decision.reason.value))
    return found


def _named(store: Store, over: Over, rule: str, show_patients: bool) -> Over:
    rows = sorted(store.held_between(over.day, over.day),
                  key=lambda r: (r.created_at or dt.datetime.min, r.id))
    if rule == "dynamic":
        cat_minutes = _row_minutes(store)
        mine = [r for r in rows if r.period is None or r.period is over.period]
        running, late = 0, []
        for r in mine:
            m = cat_minutes(r)
            if running + m <= over.capacity:  # the minutes rule: exact fit allowed
                running += m
            else:
                late.append(r)
    else:
        late = [r for r in rows if r.service == over.service][over.capacity:]
    return attrs.evolve(
        over, reservation_ids=tuple(r.id for r in late),
        patients=tuple((r.id, r.patient_name, r.phone) for r in late) if show_patients else ())


def _row_minutes(store: Store) -> _RowMinutes:
    services = store.list_services(include_deleted=True)
    return _RowMinutes({s.code: s for s in services}, {s.id: s for s in services})


@attrs.frozen
class _RowMinutes:
    by_code: Mapping[str, Service]
    by_id: Mapping[str, Service]

    def __call__(self, r: Reservation) -> int:
        return minutes_for(r, self.by_code, self.by_id)
