"""The check's hot-path records built by their slots (domain/rules.py ``make_decision``,
ports/records.py ``make_period_facts``) are the objects their classes build — equal,
hashed alike, frozen — and ``check_period_capacity`` answers exactly what it answered
when it built its ``Decision`` by keyword: for arbitrary ledger figures, services,
slots and closures (a reference copy of that rule is below)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from slotcap.domain import rules
from slotcap.domain.closures import Closure, applying, effective
from slotcap.domain.model import ClinicTimeSlot, Period, Service
from slotcap.domain.rules import Decision, Reason, check_period_capacity, make_decision
from slotcap.ports import PeriodFacts
from slotcap.ports.records import make_period_facts

DAY = dt.date(2026, 3, 2)


def _reference(*, service: Service | None, slot: ClinicTimeSlot | None, held_minutes: int,
               closures: Sequence[Closure] = ()) -> Decision:
    """``check_period_capacity`` as it was before this change (keyword Decisions)."""
    if held_minutes < 0:
        raise ValueError(held_minutes)
    if service is None:
        return Decision(allowed=False, reason=Reason.UNKNOWN_SERVICE)
    needed = rules.estimated_duration(service)
    if not service.is_bookable:
        return Decision(allowed=False, reason=Reason.SERVICE_INACTIVE, requested=needed)
    opening = slot.total_minutes if slot is not None and slot.is_active else None
    applied = effective(opening, closures) if closures else None
    if applied is not None and applied.closed_reason is None:
        capacity = applied.capacity
    elif opening is None or applied is not None:
        return Decision(allowed=False, reason=Reason.CLOSED, requested=needed,
                        detail=None if applied is None else applied.closed_reason)
    else:
        capacity = opening
    fits = held_minutes + needed <= capacity
    return Decision(allowed=fits, reason=Reason.AVAILABLE if fits else Reason.FULL,
                    remaining=max(capacity - held_minutes, 0), capacity=capacity,
                    held=held_minutes, requested=needed)


services = st.one_of(st.none(), st.builds(
    Service, id=st.just("srv"), code=st.sampled_from(["SKIN_CARE", "NEW_ONE"]),
    name=st.just("n"), duration_minutes=st.integers(0, 300),
    buffer_minutes=st.integers(0, 60), is_active=st.booleans(),
    deleted_at=st.sampled_from([None, dt.datetime(2026, 1, 1)])))


@st.composite
def slots(draw: st.DrawFn) -> ClinicTimeSlot | None:
    if draw(st.booleans()):
        return None
    start = draw(st.integers(0, 22 * 60))
    end = draw(st.integers(start + 1, 24 * 60 - 1))
    return ClinicTimeSlot(id="s", day_of_week=1, period=draw(st.sampled_from(list(Period))),
                          start_time=dt.time(start // 60, start % 60),
                          end_time=dt.time(end // 60, end % 60), is_active=draw(st.booleans()))


closure = st.builds(
    Closure, id=st.sampled_from(["a", "b", "c"]), start_date=st.just(DAY),
    reason=st.sampled_from(["설날", "staff"]),
    period=st.sampled_from([None, *Period]),
    capacity_minutes=st.one_of(st.none(), st.integers(0, 600)))


@given(service=services, slot=slots(), held=st.integers(0, 2000),
       closures=st.lists(closure, max_size=3), period=st.sampled_from(list(Period)))
def test_the_rule_answers_as_before(service: Service | None, slot: ClinicTimeSlot | None,
                                    held: int, closures: list[Closure],
                                    period: Period) -> None:
    applied = applying(closures, DAY, period)
    mine = check_period_capacity(service=service, slot=slot, held_minutes=held,
                                 closures=applied)
    before = _reference(service=service, slot=slot, held_minutes=held, closures=applied)
    assert mine == before and hash(mine) == hash(before) and repr(mine) == repr(before)
    # and from the lean path's facts, built by their slots
    facts = make_period_facts(service, slot, held, applied)
    assert facts == PeriodFacts(service=service, slot=slot, held_minutes=held,
                                closures=applied)
    assert check_period_capacity(service=facts.service, slot=facts.slot,
                                 held_minutes=facts.held_minutes,
                                 closures=facts.closures) == before


def test_a_negative_figure_is_still_refused() -> None:
    with pytest.raises(ValueError, match="held_minutes"):
        check_period_capacity(service=None, slot=None, held_minutes=-1)


@given(allowed=st.booleans(), reason=st.sampled_from(list(Reason)),
       figures=st.lists(st.one_of(st.none(), st.integers(-5, 5000)), min_size=4,
                        max_size=4),
       detail=st.one_of(st.none(), st.text(max_size=5)))
def test_a_decision_by_its_slots_is_the_decision(
    allowed: bool, reason: Reason, figures: list[int | None], detail: str | None
) -> None:
    remaining, capacity, held, requested = figures
    made = make_decision(allowed, reason, remaining, capacity, held, requested, detail)
    plain = Decision(allowed=allowed, reason=reason, remaining=remaining,
                     capacity=capacity, held=held, requested=requested, detail=detail)
    assert made == plain and hash(made) == hash(plain) and repr(made) == repr(plain)
    assert attrs.evolve(made, held=1) == attrs.evolve(plain, held=1)
    assert attrs.asdict(made) == attrs.asdict(plain)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        made.allowed = not allowed  # type: ignore[misc]
    assert make_decision(allowed, reason) == Decision(allowed=allowed, reason=reason)


def test_the_fast_builders_are_on_for_todays_fields() -> None:
    assert tuple(f.name for f in attrs.fields(Decision)) == rules._DECISION_FIELDS
    assert make_decision.__name__ == "fast"
    assert make_period_facts.__name__ == "fast"
    facts = make_period_facts(None, None, 0, ())
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        facts.held_minutes = 1  # type: ignore[misc]


@given(service=services, slot=slots(), held=st.integers(0, 2000),
       closures=st.lists(closure, max_size=3), period=st.sampled_from(list(Period)))
def test_the_staged_rule_is_the_rule(service: Service | None, slot: ClinicTimeSlot | None,
                                     held: int, closures: list[Closure],
                                     period: Period) -> None:
    """plan_period_capacity + finish_plan (the lean check's plan, then its reply) decide
    as check_period_capacity; a plan's decision for held minutes is the plan's alone."""
    applied = applying(closures, DAY, period)
    plan = rules.plan_period_capacity(service=service, slot=slot, closures=applied)
    expected = _reference(service=service, slot=slot, held_minutes=held, closures=applied)
    assert rules.finish_plan(plan, held) == expected
    if isinstance(plan, Decision):  # the held minutes cannot change it
        assert expected == _reference(service=service, slot=slot, held_minutes=held + 7,
                                      closures=applied)
    with pytest.raises(ValueError, match="held_minutes"):
        rules.finish_plan(plan, -1)
