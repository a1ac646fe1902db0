"""Read-only availability: one date's decision, or a calendar of a date range."""

from __future__ import annotations

import datetime as dt

from slotcap.domain.closures import Closure
from slotcap.domain.model import LEGACY_SERVICE_CODES, ClinicTimeSlot, Period, Service
from slotcap.domain.rules import (
    CapacityPlan,
    Decision,
    Reason,
    check_daily_limit,
    make_decision,
    plan_period_capacity,
)
from slotcap.errors import InvalidRequest
from slotcap.ports import CalendarEntry, SchemaState, Store
from slotcap.usecases.catalogue import bookable_now, normal_code
from slotcap.usecases.shadow import CHECK_SAMPLE, observe_check

__all__ = ["MAX_CALENDAR_DAYS", "availability_calendar", "check_availability", "period_rule"]

#: A calendar request longer than this is refused: it is a screen, not an export.
MAX_CALENDAR_DAYS = 366
_PERIODS = tuple(Period)
#: Reasons no other period can change: the service's own.
_FINAL = (Reason.UNKNOWN_SERVICE, Reason.SERVICE_INACTIVE, Reason.NOT_YET_BOOKABLE)


def check_availability(
    store: Store,
    day: dt.date,
    service: str,
    *,
    period: Period | str | None = None,
    dynamic: bool,
) -> Decision:
    """Whether ``service`` can be booked on ``day``, without booking it.

    Dynamic (minutes rule): with a ``period``, that period's decision. Without one, the
    first period that fits (MORNING before AFTERNOON); when none fits, the period with
    the most room left, or CLOSED when the clinic is closed all day.

    Legacy (count rule): the daily limit; ``period`` is ignored, as the old app does.

    One round trip per period checked on backfilled data (an indexed aggregate). The answer is
    advice: only :func:`slotcap.book` decides under lock.
    """
    service = str(normal_code(service.strip() if isinstance(service, str) else service))
    # A Period as it is; anything else by its text (this runs once per check).
    if period is None or period.__class__ is Period:
        asked = period
    else:
        try:
            asked = Period(str(period).strip().upper())
        except ValueError:
            if dynamic:
                raise
            asked = None  # the count rule ignores the period, as the old app does
    # The shadow's sample drawn before the round trip (one increment; the code after the
    # reply runs on cold caches), the other rule beside it only on the sampled check, in
    # this process's counters only (never raises).
    try:
        sampled = store.shadow.sampled(CHECK_SAMPLE)
    except Exception:
        sampled = None  # observe_check draws it (and counts its failure)
    if dynamic and asked is not None:  # the common case: one period, its decision
        decision = store.period_decision(day, asked, service, period_rule)
    else:
        decision = _decide(store, day, service, asked, dynamic=dynamic)
    if sampled is not False:
        observe_check(store, day, service, asked, dynamic=dynamic, decision=decision,
                      sampled=sampled)
    return decision


def _decide(
    store: Store, day: dt.date, service: str, period: Period | None, *, dynamic: bool,
) -> Decision:
    if not dynamic:
        if service not in LEGACY_SERVICE_CODES:
            return Decision(allowed=False, reason=Reason.UNKNOWN_SERVICE)
        daily = store.daily_facts(day, service)
        return check_daily_limit(limit=daily.limit, held_count=daily.held_count)

    if period is not None:  # the common case: one period, its decision
        return _period_decision(store, day, period, service)
    decisions = []
    for each in _PERIODS:
        decision = _period_decision(store, day, each, service)
        if decision.allowed or decision.reason in _FINAL:
            return decision
        decisions.append(decision)
    open_ones = [d for d in decisions if d.reason is not Reason.CLOSED]
    if not open_ones:
        return decisions[0]
    return max(open_ones, key=lambda d: d.remaining or 0)


def _period_decision(store: Store, day: dt.date, period: Period, service: str) -> Decision:
    return store.period_decision(day, period, service, period_rule)


_NOT_YET_BOOKABLE = make_decision(False, Reason.NOT_YET_BOOKABLE)


def period_rule(service: Service | None, slot: ClinicTimeSlot | None,
                closures: tuple[Closure, ...], state: SchemaState) -> Decision | CapacityPlan:
    """A check's rule for one period (:data:`slotcap.ports.PeriodRule`, pure): the
    minutes rule, staged (:func:`~slotcap.domain.rules.plan_period_capacity`), after
    what :func:`slotcap.book` would refuse (``service_not_in_legacy_enum``), which never
    "fits": NOT_YET_BOOKABLE."""
    # A legacy code is always bookable_now when bookable: asked first.
    if (service is not None and service.is_bookable and not service.is_legacy
            and not bookable_now(service, state)):
        return _NOT_YET_BOOKABLE
    return plan_period_capacity(service=service, slot=slot, closures=closures)


def availability_calendar(store: Store, start: dt.date, end: dt.date) -> list[CalendarEntry]:
    """Booked, capacity and remaining minutes for every date and period in
    [``start``, ``end``], honouring clinic hours and inactive slots, in one query."""
    problems = {}
    if end < start:
        problems["end"] = f"must not be before start ({start.isoformat()})"
    elif (end - start).days + 1 > MAX_CALENDAR_DAYS:
        problems["end"] = f"a calendar covers at most {MAX_CALENDAR_DAYS} days"
    if problems:
        raise InvalidRequest(problems)
    return store.calendar(start, end)
