"""The shadow never changes an answer (#21): two memory stores, one with the shadow on
and one with it off, take the same random bookings under both rules, status changes,
limit and slot edits and availability checks; after every step they have answered
alike and hold the same reservations, and only the shadowing one has records."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import attrs
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from tests.builders import MONDAY, ON_TODAY, request
from tests.strategies.budget import examples

from slotcap.adapters.memory import MemoryStore
from slotcap.domain.defaults import DEFAULT_TIME_SLOTS
from slotcap.domain.model import LEGACY_SERVICE_CODES, ClinicTimeSlot, Period, ReservationStatus
from slotcap.errors import SlotcapError
from slotcap.usecases import book, check_availability
from slotcap.usecases.shadow import shadow_report

DAYS = st.sampled_from([MONDAY, MONDAY + dt.timedelta(days=5), MONDAY + dt.timedelta(days=6)])
CODES = st.sampled_from(LEGACY_SERVICE_CODES)
TIMES = st.sampled_from(["10:00", "15:00", "2:30", "오전 10시", "아무때나"])
_IDS = itertools.count()


def _answer(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        value = call()
    except SlotcapError as exc:
        return type(exc).__name__, getattr(getattr(exc, "decision", None), "reason", None)
    if hasattr(value, "id"):
        return "booked", attrs.evolve(value, created_at=None, updated_at=None,
                                      status_changed_at=None)
    return "answer", value


class ShadowIsInvisible(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.on = MemoryStore()
        self.off = MemoryStore(shadow=False)
        self.booked = 0

    def both(self, call: Callable[[MemoryStore], Any]) -> None:
        a, b = _answer(lambda: call(self.on)), _answer(lambda: call(self.off))
        assert a == b

    @rule(day=DAYS, code=CODES, period=st.sampled_from(Period), dynamic=st.booleans(),
          time=TIMES)
    def booking(self, day: dt.date, code: str, period: Period, dynamic: bool,
                time: str) -> None:
        body = request(service=code, preferred_date=day.isoformat(), preferred_time=time,
                       period=period.value if dynamic else None)
        rid = f"r{next(_IDS)}"
        self.both(lambda s: book(s, body, dynamic=dynamic, clock=ON_TODAY, new_id=lambda: rid))

    @rule(data=st.data(), status=st.sampled_from(ReservationStatus))
    def change_status(self, data: st.DataObject, status: ReservationStatus) -> None:
        ids = sorted(r.id for r in self.on.all_reservations())
        if ids:
            rid = data.draw(st.sampled_from(ids))
            self.both(lambda s: s.set_status(rid, status).status)

    @rule(code=CODES, limit=st.integers(0, 3), active=st.booleans())
    def set_limit(self, code: str, limit: int, active: bool) -> None:
        def change(s: MemoryStore) -> None:
            current = s.get_limit(code)
            assert current is not None
            s.save_limit(attrs.evolve(current, daily_limit=limit, is_active=active))

        self.both(change)

    @rule(slot=st.sampled_from(DEFAULT_TIME_SLOTS), hour=st.integers(10, 13))
    def shorten_slot(self, slot: ClinicTimeSlot, hour: int) -> None:
        if slot.period is Period.MORNING:
            self.both(lambda s: s.save_time_slot(attrs.evolve(slot, end_time=dt.time(hour))))

    @rule(day=DAYS, code=CODES, dynamic=st.booleans(), period=st.none() | st.sampled_from(Period))
    def check(self, day: dt.date, code: str, dynamic: bool, period: Period | None) -> None:
        self.both(lambda s: check_availability(s, day, code, period=period, dynamic=dynamic))

    @invariant()
    def same_reservations_and_only_one_shadow(self) -> None:
        def rows(s: MemoryStore) -> list[Any]:
            return sorted((attrs.evolve(r, created_at=None, updated_at=None,
                                        status_changed_at=None) for r in s.all_reservations()),
                          key=lambda r: r.id)

        assert rows(self.on) == rows(self.off)
        week = (MONDAY, MONDAY + dt.timedelta(days=6))
        assert shadow_report(self.off, *week).by_kind == {}
        assert self.off.shadow.snapshot() == {}
        assert self.on.shadow.failures == 0


def test_the_shadow_never_changes_an_answer() -> None:
    run_state_machine_as_test(
        ShadowIsInvisible,
        settings=settings(max_examples=examples(0.5), stateful_step_count=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow]),
    )
