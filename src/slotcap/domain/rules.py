"""Capacity rules: pure decisions on plain values.

Two rules live side by side during the rollout:

* the **minutes rule** (new): a booking fits a date's period when the minutes already
  held there plus the new service's duration + buffer stay within the period's total;
* the **count rule** (legacy): a booking fits when the service's PENDING/CONFIRMED
  count for the date is below its daily limit.

How held minutes are counted (``minutes_held``), conservatively:

* only PENDING and CONFIRMED reservations hold capacity;
* a reservation without ``estimated_duration`` (written by the legacy path before the
  backfill) holds its service's duration + buffer — never 0, which is what the plan's
  ``|| 0`` would count;
* a reservation whose ``period`` is unknown (the parser abstained; it awaits manual
  review) holds its minutes in **both** periods of its date. It can only be in one of
  them, so counting it in both can refuse a booking that would have fitted, but can
  never let a period overbook. Review resolves it and frees the other period.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable, Mapping, Sequence

import attrs

from slotcap.domain.closures import Closure, effective
from slotcap.domain.model import ClinicTimeSlot, Period, Reservation, Service, ServiceLimit
from slotcap.domain.slot_init import slot_setters

__all__ = [
    "CapacityPlan",
    "Decision",
    "Reason",
    "check_daily_limit",
    "check_period_capacity",
    "estimated_duration",
    "finish_plan",
    "make_decision",
    "minutes_for",
    "minutes_held",
    "period_started",
    "plan_period_capacity",
]


class Reason(enum.StrEnum):
    """Why a decision came out as it did (machine-readable)."""

    AVAILABLE = "AVAILABLE"
    FULL = "FULL"
    CLOSED = "CLOSED"
    SERVICE_INACTIVE = "SERVICE_INACTIVE"
    UNKNOWN_SERVICE = "UNKNOWN_SERVICE"
    LIMIT_INACTIVE = "LIMIT_INACTIVE"
    NO_LIMIT = "NO_LIMIT"
    #: In the catalogue but not bookable yet: a code outside the legacy ServiceType enum
    #: while the old NOT NULL enum column exists (before phase 4; docs/booking.md).
    NOT_YET_BOOKABLE = "NOT_YET_BOOKABLE"


@attrs.frozen(kw_only=True)
class Decision:
    """The outcome of a capacity check.

    ``remaining`` is what is left *before* this booking: minutes for the minutes rule,
    bookings for the count rule; ``None`` where no capacity applies (closed, unknown).
    ``capacity``/``held``/``requested`` are in the same unit, for display and audit.
    """

    allowed: bool
    reason: Reason
    remaining: int | None = None
    capacity: int | None = None
    held: int | None = None
    requested: int | None = None
    #: Why, in words, where a rule has them: a closure's reason ("설날") with CLOSED.
    detail: str | None = None


_DECISION_FIELDS = ("allowed", "reason", "remaining", "capacity", "held", "requested", "detail")


def _decision_maker() -> Callable[..., Decision]:
    """``Decision(allowed=…, …)`` by its slots' setters (``object.__new__`` and one
    descriptor call per field): the same frozen, equal, hashable object at about half
    the cost of attrs' keyword ``__init__`` — a check builds one on its hot path. Only
    while :func:`~slotcap.domain.slot_init.slot_setters` allows (tests/unit/test_rules.py);
    else the class's own ``__init__``."""
    setters = slot_setters(Decision, _DECISION_FIELDS)
    if setters is None:
        def made(allowed: bool, reason: Reason, remaining: int | None = None,
                 capacity: int | None = None, held: int | None = None,
                 requested: int | None = None, detail: str | None = None) -> Decision:
            return Decision(allowed=allowed, reason=reason, remaining=remaining,
                            capacity=capacity, held=held, requested=requested, detail=detail)
        return made
    new = object.__new__
    a, r, m, c, h, q, d = setters

    def fast(allowed: bool, reason: Reason, remaining: int | None = None,
             capacity: int | None = None, held: int | None = None,
             requested: int | None = None, detail: str | None = None) -> Decision:
        decision: Decision = new(Decision)
        a(decision, allowed)
        r(decision, reason)
        m(decision, remaining)
        c(decision, capacity)
        h(decision, held)
        q(decision, requested)
        d(decision, detail)
        return decision
    return fast


#: ``make_decision(allowed, reason, remaining, capacity, held, requested, detail)``:
#: a :class:`Decision`, positionally, built cheaply (:func:`_decision_maker`).
make_decision = _decision_maker()


def estimated_duration(service: Service) -> int:
    """Minutes a booking of ``service`` occupies: duration + buffer."""
    if service.duration_minutes < 0 or service.buffer_minutes < 0:
        # Service validates on construction; this guards evolved/evolve()d copies too.
        raise ValueError(
            f"service {service.code}: negative duration ({service.duration_minutes}) "
            f"or buffer ({service.buffer_minutes})"
        )
    return service.duration_minutes + service.buffer_minutes


def minutes_for(
    reservation: Reservation,
    services_by_code: Mapping[str, Service],
    services_by_id: Mapping[str, Service] | None = None,
) -> int:
    """Minutes one reservation holds (see the module docstring).

    Missing ``estimated_duration`` falls back to the service's duration + buffer, found
    by ``service_id`` first, then by the legacy code. If neither is known, the longest
    service in the catalogue is assumed: over-counting refuses a booking, under-counting
    overbooks a clinic.
    """
    if reservation.estimated_duration is not None:
        return reservation.estimated_duration
    service = None
    if services_by_id is not None and reservation.service_id is not None:
        service = services_by_id.get(reservation.service_id)
    if service is None and reservation.service is not None:
        service = services_by_code.get(reservation.service)
    if service is not None:
        return estimated_duration(service)
    return max((estimated_duration(s) for s in services_by_code.values()), default=0)


def minutes_held(
    reservations: Iterable[Reservation],
    *,
    day: dt.date,
    period: Period,
    services_by_code: Mapping[str, Service],
    services_by_id: Mapping[str, Service] | None = None,
) -> int:
    """Minutes held in ``day``'s ``period`` by PENDING/CONFIRMED reservations."""
    return sum(
        minutes_for(r, services_by_code, services_by_id)
        for r in reservations
        if r.holds_capacity
        and r.preferred_date == day
        and (r.period is None or r.period == period)
    )


@attrs.frozen
class CapacityPlan:
    """The minutes rule for one service, slot and closures, the held minutes still to
    come (:func:`plan_period_capacity`): ``needed`` minutes fit when held + needed <=
    ``capacity``."""

    needed: int
    capacity: int

    def decide(self, held_minutes: int) -> Decision:
        """:func:`check_period_capacity`'s decision for ``held_minutes`` (>= 0)."""
        needed, capacity = self.needed, self.capacity
        fits = held_minutes + needed <= capacity
        return make_decision(fits, Reason.AVAILABLE if fits else Reason.FULL,
                             max(capacity - held_minutes, 0), capacity, held_minutes, needed)


def plan_period_capacity(
    *,
    service: Service | None,
    slot: ClinicTimeSlot | None,
    closures: Sequence[Closure] = (),
) -> Decision | CapacityPlan:
    """:func:`check_period_capacity` staged: all of it that does not depend on the held
    minutes. The decision itself where they cannot change it (unknown or inactive
    service, closed), else a :class:`CapacityPlan` to finish with them
    (:func:`finish_plan`)."""
    if service is None:
        return make_decision(False, Reason.UNKNOWN_SERVICE)
    needed = estimated_duration(service)
    if not service.is_bookable:
        return make_decision(False, Reason.SERVICE_INACTIVE, None, None, None, needed)
    opening = slot.total_minutes if slot is not None and slot.is_active else None
    # No closures (the common case): the weekly slot alone, without building anything.
    applied = effective(opening, closures) if closures else None
    if applied is not None and applied.closed_reason is None:
        return CapacityPlan(needed, applied.capacity)
    if opening is None or applied is not None:
        return make_decision(False, Reason.CLOSED, None, None, None, needed,
                             None if applied is None else applied.closed_reason)
    return CapacityPlan(needed, opening)


def finish_plan(plan: Decision | CapacityPlan, held_minutes: int) -> Decision:
    """A staged rule's decision (:func:`plan_period_capacity`) for ``held_minutes``."""
    if held_minutes < 0:
        raise ValueError(f"held_minutes must be >= 0, got {held_minutes}")
    return plan.decide(held_minutes) if isinstance(plan, CapacityPlan) else plan


def check_period_capacity(
    *,
    service: Service | None,
    slot: ClinicTimeSlot | None,
    held_minutes: int,
    closures: Sequence[Closure] = (),
) -> Decision:
    """The minutes rule. Exact fit is allowed; one minute more is not.

    ``slot`` is the clinic's opening for the date's weekday and period (``None`` when
    the clinic has none: closed). ``closures`` are those that apply to that date and
    period (``slotcap.domain.closures.applying``): a closure answers CLOSED with its
    reason in ``detail``, an override replaces the slot's capacity (the smallest wins).
    Checks run in the order a patient would want them explained: unknown service,
    inactive service, closed, full.
    """
    if held_minutes < 0:  # first, as before any catalogue fact is looked at
        raise ValueError(f"held_minutes must be >= 0, got {held_minutes}")
    plan = plan_period_capacity(service=service, slot=slot, closures=closures)
    return plan.decide(held_minutes) if isinstance(plan, CapacityPlan) else plan


def check_daily_limit(*, limit: ServiceLimit | None, held_count: int) -> Decision:
    """The legacy count rule: allowed when PENDING/CONFIRMED count < daily limit.

    No limit row, or an inactive one, refuses the booking: that is what the live
    application does today (``if (!limit || !limit.isActive) return false``), and the
    rollout must not change the legacy path's behaviour.
    """
    if held_count < 0:
        raise ValueError(f"held_count must be >= 0, got {held_count}")
    if limit is None:
        return Decision(allowed=False, reason=Reason.NO_LIMIT, held=held_count, requested=1)
    if not limit.is_active:
        return Decision(
            allowed=False,
            reason=Reason.LIMIT_INACTIVE,
            held=held_count,
            capacity=limit.daily_limit,
            requested=1,
        )
    fits = held_count < limit.daily_limit
    return Decision(
        allowed=fits,
        reason=Reason.AVAILABLE if fits else Reason.FULL,
        remaining=max(limit.daily_limit - held_count, 0),
        capacity=limit.daily_limit,
        held=held_count,
        requested=1,
    )


def period_started(local_now: dt.datetime, day: dt.date, slot: ClinicTimeSlot) -> bool:
    """The same-day cut-off: whether ``day``'s ``slot`` has begun at ``local_now`` (the
    clinic's wall clock). An earlier date has; a later one has not; today's has from its
    start time on (a booking at 09:00 sharp for a 09:00 period is refused)."""
    today = local_now.date()
    if day != today:
        return day < today
    return local_now.time().replace(tzinfo=None) >= slot.start_time
