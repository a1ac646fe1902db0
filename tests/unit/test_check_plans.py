"""The lean check's plans (adapters/sql/check_plans.py), without a database: an entry's
decisions are the rule's on the snapshots' facts for every held-minutes text, kept per
plan and bounded; plans carry over to a re-read snapshot only when it holds the same
rows under the same statements; many threads share them safely."""

from __future__ import annotations

import datetime as dt
import threading

import attrs
from hypothesis import given
from hypothesis import strategies as st

from slotcap.adapters.sql import check_plans
from slotcap.adapters.sql.check_plans import CheckPlans, Decisions
from slotcap.adapters.sql.store import CatalogueSnapshot
from slotcap.domain.calendar import day_of_week
from slotcap.domain.closures import Closure, applying
from slotcap.domain.defaults import DEFAULT_SERVICES, DEFAULT_TIME_SLOTS
from slotcap.domain.model import Period
from slotcap.domain.rules import check_period_capacity
from slotcap.ports import SchemaState
from slotcap.usecases.availability import period_rule

MONDAY = dt.date(2026, 3, 2)


@attrs.frozen
class _Statements:  # what a CatalogueSnapshot's statements give the plans: the state
    state: SchemaState


EXPANDED, CONTRACTED = _Statements(SchemaState.EXPANDED), _Statements(SchemaState.CONTRACTED)


def _catalogue(statements: object = EXPANDED, **changes: object) -> CatalogueSnapshot:
    services = {s.code: s for s in DEFAULT_SERVICES}
    for code, change in changes.items():
        services[code] = attrs.evolve(services[code], **change)  # type: ignore[arg-type]
    return CatalogueSnapshot(
        statements=statements, read_at=0.0, services=services,  # type: ignore[arg-type]
        slots={(t.day_of_week, t.period): t for t in DEFAULT_TIME_SLOTS}, ledger_filled=True)


def _expected(catalogue: CatalogueSnapshot, closures: tuple[Closure, ...], day: dt.date,
              period: Period, code: str, held: int) -> object:
    service = catalogue.services.get(code)
    slot = catalogue.slots.get((day_of_week(day), period))
    applied = applying(closures, day, period)
    plan = period_rule(service, slot, applied, catalogue.statements.state)
    if not hasattr(plan, "decide"):
        return plan
    return check_period_capacity(service=service, slot=slot, held_minutes=held,
                                 closures=applied)


HALF = Closure(id="h", start_date=MONDAY + dt.timedelta(days=1), reason="half",
               period=Period.MORNING, capacity_minutes=60)
SHUT = Closure(id="s", start_date=MONDAY + dt.timedelta(days=2), reason="설날")


@given(days=st.lists(st.tuples(st.integers(0, 13), st.sampled_from(list(Period)),
                               st.sampled_from(["SKIN_CARE", "WRINKLE_BOTOX", "NOPE"]),
                               st.integers(0, 400)), min_size=1, max_size=40),
       closures=st.sampled_from([(), (HALF,), (HALF, SHUT)]))
def test_an_entry_decides_as_the_rule(days: list[tuple[int, Period, str, int]],
                                      closures: tuple[Closure, ...]) -> None:
    catalogue = _catalogue()
    plans = CheckPlans(catalogue, closures)
    for offset, period, code, held in days:
        day = MONDAY + dt.timedelta(days=offset)
        entry = plans.entries.get((day, period, code, period_rule)) or plans.entry(
            day, period, code, period_rule)
        assert entry is not None
        params, decisions = entry
        assert params == [day.isoformat().encode(), period.value.encode()]
        text = str(held).encode()
        assert decisions[text] == _expected(catalogue, closures, day, period, code, held)
        assert decisions[text] is decisions[text]  # kept: one lookup the next time


def test_a_datetime_is_not_planned() -> None:
    plans = CheckPlans(_catalogue(), ())
    assert plans.entry(dt.datetime(2026, 3, 2, 9), Period.MORNING, "SKIN_CARE",
                       period_rule) is None
    assert plans.entries == {}


def test_days_of_one_weekday_share_a_plan_unless_a_closure_applies() -> None:
    plans = CheckPlans(_catalogue(), (HALF,))
    a = plans.entry(MONDAY, Period.MORNING, "SKIN_CARE", period_rule)
    b = plans.entry(MONDAY + dt.timedelta(days=7), Period.MORNING, "SKIN_CARE", period_rule)
    c = plans.entry(MONDAY + dt.timedelta(days=1), Period.MORNING, "SKIN_CARE", period_rule)
    d = plans.entry(MONDAY + dt.timedelta(days=8), Period.MORNING, "SKIN_CARE", period_rule)
    assert a is not None and b is not None and c is not None and d is not None
    assert a[1] is b[1]  # two Mondays, no closure: one plan
    assert c[1] is not d[1]  # a Tuesday with the override, one without
    assert c[1][b"0"].capacity == 60


def test_plans_carry_over_only_to_the_same_rows_under_the_same_statements() -> None:
    first = CheckPlans(_catalogue(), ())
    first.entry(MONDAY, Period.MORNING, "SKIN_CARE", period_rule)
    same = CheckPlans(_catalogue(), (), first)  # re-read, nothing changed
    assert same.entries is first.entries and same.shared is first.shared
    for changed in (
        CheckPlans(_catalogue(SKIN_CARE={"duration_minutes": 90}), (), first),
        CheckPlans(_catalogue(SKIN_CARE={"is_active": False}), (), first),
        CheckPlans(_catalogue(CONTRACTED), (), first),
        CheckPlans(attrs.evolve(_catalogue(), slots={}), (), first),
        CheckPlans(_catalogue(), (SHUT,), first),
    ):
        assert changed.entries == {} and changed.entries is not first.entries
    slower = CheckPlans(_catalogue(SKIN_CARE={"duration_minutes": 200}), (), first)
    entry = slower.entry(MONDAY, Period.MORNING, "SKIN_CARE", period_rule)
    assert entry is not None and entry[1][b"0"].requested == 210  # duration + buffer


def test_a_new_service_is_not_yet_bookable_while_the_legacy_columns_exist() -> None:
    new = attrs.evolve(DEFAULT_SERVICES[0], id="n", code="NEW_ONE")
    catalogue = _catalogue()
    catalogue = attrs.evolve(catalogue, services={**catalogue.services, "NEW_ONE": new})
    entry = CheckPlans(catalogue, ()).entry(MONDAY, Period.MORNING, "NEW_ONE", period_rule)
    assert entry is not None and entry[1][b"0"].reason == "NOT_YET_BOOKABLE"
    later = attrs.evolve(catalogue, statements=CONTRACTED)  # type: ignore[arg-type]
    entry = CheckPlans(later, ()).entry(MONDAY, Period.MORNING, "NEW_ONE", period_rule)
    assert entry is not None and entry[1][b"0"].allowed


def test_the_memos_are_bounded() -> None:
    plans = CheckPlans(_catalogue(), ())
    decisions = Decisions(plans.entry(MONDAY, Period.MORNING, "SKIN_CARE",
                                      period_rule)[1].plan)  # type: ignore[index]
    for held in range(3 * check_plans.DECISIONS_MAX):
        assert decisions[str(held).encode()].held == held
        assert len(decisions) <= check_plans.DECISIONS_MAX
    for offset in range(check_plans.ENTRIES_MAX + 10):
        plans.entry(MONDAY + dt.timedelta(days=offset), Period.MORNING, "SKIN_CARE",
                    period_rule)
        assert len(plans.entries) <= check_plans.ENTRIES_MAX
    assert len(plans.shared) <= check_plans.PLANS_MAX


def test_many_threads_share_the_plans() -> None:
    catalogue = _catalogue()
    plans = CheckPlans(catalogue, (HALF, SHUT))
    wrong: list[object] = []

    def work(seed: int) -> None:
        for i in range(400):
            day = MONDAY + dt.timedelta(days=(seed + i) % 20)
            period = list(Period)[i % 2]
            code = ("SKIN_CARE", "WRINKLE_BOTOX")[(seed * i) % 2]
            held = (seed * 7 + i * 5) % 300
            entry = plans.entries.get((day, period, code, period_rule)) or plans.entry(
                day, period, code, period_rule)
            assert entry is not None
            got = entry[1][str(held).encode()]
            if got != _expected(catalogue, (HALF, SHUT), day, period, code, held):
                wrong.append((day, period, code, held, got))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
