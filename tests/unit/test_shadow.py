"""Shadow decisions (#21) on the memory store: the comparison, the example of the issue
(Botox at 0 %: the count rule lets 5 into a 120-minute morning, the minutes rule 3),
the switch, a shadow that fails, ``whatif``, and the property that a rule's own
bookings replayed under it are never over."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.builders import MONDAY, ON_TODAY, request
from tests.strategies.budget import examples

from slotcap.adapters.memory import MemoryStore
from slotcap.domain.calendar import day_of_week
from slotcap.domain.defaults import DEFAULT_TIME_SLOTS
from slotcap.domain.model import Period
from slotcap.domain.rules import Decision, Reason
from slotcap.domain.shadow import Agreement, ShadowCounters, agreement
from slotcap.errors import ReservationFull, SlotcapError, StoreBusy
from slotcap.ports import SchemaState
from slotcap.usecases import book
from slotcap.usecases.availability import check_availability
from slotcap.usecases.shadow import CHECK_SAMPLE, observe, shadow_report
from slotcap.usecases.whatif import whatif


def _short_mornings(**options: Any) -> MemoryStore:
    """Mondays' mornings 09:00-11:00: 120 minutes (3 Botox of 30 + 10)."""
    slots = [attrs.evolve(s, end_time=dt.time(11, 0))
             if s.day_of_week == day_of_week(MONDAY) and s.period is Period.MORNING else s
             for s in DEFAULT_TIME_SLOTS]
    return MemoryStore(time_slots=slots, **options)


def _set_limit(store: MemoryStore, code: str, limit: int) -> None:
    current = store.get_limit(code)
    assert current is not None
    store.save_limit(attrs.evolve(current, daily_limit=limit))


def _five_legacy(store: MemoryStore) -> None:
    for _ in range(5):
        book(store, request(period=None, preferred_time="10:00"), dynamic=False, clock=ON_TODAY)


@pytest.mark.parametrize(("control", "shadow", "expected"), [
    (True, True, Agreement.AGREE), (False, False, Agreement.AGREE),
    (True, False, Agreement.CONTROL_ONLY), (False, True, Agreement.SHADOW_ONLY),
])
def test_agreement(control: bool, shadow: bool, expected: Agreement) -> None:
    assert agreement(control, shadow) is expected


def test_counters_count_and_snapshot() -> None:
    counters = ShadowCounters()
    counters.count("booking", "legacy", "agree")
    counters.count("booking", "legacy", "agree")
    counters.failed()
    assert counters.snapshot() == {("booking", "legacy", "agree"): 2}
    assert counters.failures == 1


def test_the_issue_example_two_mismatches() -> None:
    store = _short_mornings()
    _five_legacy(store)  # every one allowed by the count rule (limit 10)
    report = shadow_report(store, MONDAY, MONDAY)
    assert report.decisions == 5
    assert report.by_kind == {("legacy", "agree"): 3, ("legacy", "control_only"): 2}
    assert [m.held_minutes for m in report.mismatches] == [120, 160]
    first = report.mismatches[0].to_dict()
    assert {k: first[k] for k in ("date", "period", "service", "control", "control_allowed",
                                  "shadow_allowed")} == {
        "date": MONDAY.isoformat(), "period": "MORNING", "service": "WRINKLE_BOTOX",
        "control": "legacy", "control_allowed": True, "shadow_allowed": False}
    assert first["capacity_minutes"] == 120 and first["held_count"] == 3
    assert "patient" not in str(first) and "010-" not in str(first)
    over = whatif(store, "dynamic", MONDAY, MONDAY).over
    assert [(o.period, o.held, o.capacity, o.over_by) for o in over] == [
        (Period.MORNING, 200, 120, 80)]
    assert len(over[0].reservation_ids) == 2 and not over[0].patients


def test_dynamic_control_shadowed_by_the_count_rule() -> None:
    store = _short_mornings()
    _set_limit(store, "WRINKLE_BOTOX", 1)
    for _ in range(2):
        book(store, request(), dynamic=True, clock=ON_TODAY)
    report = shadow_report(store, MONDAY, MONDAY)
    assert report.by_kind == {("dynamic", "agree"): 1, ("dynamic", "control_only"): 1}
    (m,) = report.mismatches
    assert (m.held_count, m.daily_limit, m.held_minutes, m.capacity_minutes) == (1, 1, 40, 120)
    book(store, request(), dynamic=True, clock=ON_TODAY)  # the third fits: 120 minutes
    with pytest.raises(ReservationFull):
        book(store, request(), dynamic=True, clock=ON_TODAY)
    kinds = shadow_report(store, MONDAY, MONDAY).by_kind
    assert kinds[("dynamic", "agree")] == 2  # full under both rules: they agree


def test_switched_off_nothing_is_recorded() -> None:
    store = _short_mornings(shadow=False)
    _five_legacy(store)
    assert shadow_report(store, MONDAY, MONDAY).decisions == 0
    assert store.shadow.snapshot() == {}


@pytest.mark.parametrize("state", [SchemaState.LEGACY, SchemaState.CONTRACTED])
def test_only_where_both_rules_run(state: SchemaState) -> None:
    store = _short_mornings(schema_state=state)
    book(store, request(period=None) if state is SchemaState.LEGACY else request(),
         dynamic=state is SchemaState.CONTRACTED, clock=ON_TODAY)
    assert store.shadow.snapshot() == {}


def test_legacy_time_without_a_period_is_not_shadowable() -> None:
    store = _short_mornings()
    book(store, request(period=None, preferred_time="아무때나"), dynamic=False, clock=ON_TODAY)
    report = shadow_report(store, MONDAY, MONDAY)
    assert (report.decisions, report.not_shadowable, report.mismatches) == (0, 1, ())


@attrs.define
class _Broken:
    """A booking scope whose shadow reads fail (``aborted``: and take its transaction
    down with them, as a failed statement does on PostgreSQL)."""

    aborted: bool = False

    def daily_facts(self, *_: object) -> Any:
        raise RuntimeError("boom")

    def usable(self) -> bool:
        return not self.aborted


_VALID = attrs.make_class("V", ["preferred_date", "service_code", "period"])(
    MONDAY, "WRINKLE_BOTOX", Period.MORNING)
_ALLOWED = Decision(allowed=True, reason=Reason.AVAILABLE)


def test_a_failing_shadow_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    store = _short_mornings()
    observe(store, _Broken(), _VALID, dynamic=True, decision=_ALLOWED)  # type: ignore[arg-type]
    assert store.shadow.failures == 1 and store.shadow.active
    assert "RuntimeError" in caplog.text and "boom" not in caplog.text


def test_a_shadow_that_aborted_the_transaction_trips_and_retries() -> None:
    store = _short_mornings()
    with pytest.raises(StoreBusy):  # book() runs the attempt again, without the shadow
        observe(store, _Broken(aborted=True), _VALID, dynamic=True,  # type: ignore[arg-type]
                decision=_ALLOWED)
    assert store.shadow.failures == 1 and not store.shadow.active
    book(store, request(), dynamic=True, clock=ON_TODAY)
    assert store.shadow.snapshot() == {}  # tripped: not asked


def test_availability_checks_are_sampled_into_counters() -> None:
    store = _short_mornings()
    for _ in range(CHECK_SAMPLE * 3):
        check_availability(store, MONDAY, "WRINKLE_BOTOX", dynamic=True)
    assert store.shadow.snapshot() == {("check", "dynamic", "agree"): 3}
    assert shadow_report(store, MONDAY, MONDAY).decisions == 0  # not in the tables


def test_whatif_legacy_and_patients() -> None:
    store = _short_mornings()
    for _ in range(3):
        book(store, request(), dynamic=True, clock=ON_TODAY)
    _set_limit(store, "WRINKLE_BOTOX", 2)
    (over,) = whatif(store, "legacy", MONDAY, MONDAY, show_patients=True).over
    assert (over.service, over.held, over.capacity, over.over_by) == ("WRINKLE_BOTOX", 3, 2, 1)
    assert [p[0] for p in over.patients] == list(over.reservation_ids)
    assert over.patients[0][1] == "김하늘"
    with pytest.raises(SlotcapError):
        whatif(store, "neither", MONDAY, MONDAY)


_BODY = st.fixed_dictionaries({
    "service": st.sampled_from(["WRINKLE_BOTOX", "BODY_CARE", "OTHER_CONSULTATION"]),
    "preferred_date": st.sampled_from([MONDAY, MONDAY + dt.timedelta(days=5)]).map(str),
    "preferred_time": st.sampled_from(["10:00", "15:00", "아무때나"]),
    "period": st.sampled_from(["MORNING", "AFTERNOON"]),
})


@settings(max_examples=examples(0.5), deadline=None)
@given(dynamic=st.booleans(), bodies=st.lists(_BODY, max_size=25),
       limit=st.integers(0, 6))
def test_replaying_a_rules_own_bookings_is_never_over(
    dynamic: bool, bodies: list[dict[str, Any]], limit: int,
) -> None:
    store = _short_mornings()
    for code in ("WRINKLE_BOTOX", "BODY_CARE", "OTHER_CONSULTATION"):
        _set_limit(store, code, limit)
    for body in bodies:
        if not dynamic:
            body = {**body, "period": None}
        with contextlib.suppress(ReservationFull):
            book(store, request(**body), dynamic=dynamic, clock=ON_TODAY)
    rule = "dynamic" if dynamic else "legacy"
    result = whatif(store, rule, MONDAY, MONDAY + dt.timedelta(days=6))
    assert result.over == ()
    assert result.held_rows == len(store.held_between(MONDAY, MONDAY + dt.timedelta(days=6)))
