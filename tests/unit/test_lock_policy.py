"""The lock-retry schedule of PostgreSQL migration statements (issue 15)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slotcap.migration.ddl.lock_policy import (
    DEFAULT_POLICY,
    HoldLog,
    LockPolicy,
    _query_line,
)

policies = st.builds(
    lambda start, extra, growth, budget, pause: LockPolicy(
        start=start, cap=start + extra, growth=growth, budget=budget, pause=pause),
    start=st.floats(0.01, 1.0),
    extra=st.floats(0.0, 2.0),
    growth=st.floats(1.0, 3.0),
    budget=st.floats(0.05, 600.0),
    pause=st.floats(0.0, 1.0),
)


@given(policies, st.integers(0, 2**32 - 1))
def test_schedule_timeouts_grow_within_bounds_and_total_stays_in_budget(
    policy: LockPolicy, seed: int
) -> None:
    plan = list(policy.schedule(rng=random.Random(seed)))
    assert plan, "the first try always runs"
    waits = [wait for _pause, wait in plan]
    assert plan[0][0] == 0.0
    assert all(policy.start <= w <= policy.cap for w in waits[1:])
    assert waits[0] <= policy.cap
    assert waits == sorted(waits)
    assert sum(p + w for p, w in plan) <= policy.budget + 1e-9
    assert all(0 <= p <= policy.max_pause for p, _w in plan)


def test_default_schedule_starts_short_and_reaches_the_cap() -> None:
    plan = list(DEFAULT_POLICY.schedule(rng=random.Random(1)))
    assert plan[0] == (0.0, 0.1)
    assert max(w for _p, w in plan) == DEFAULT_POLICY.cap <= 0.5
    assert 50 < len(plan) < 2000  # minutes of short tries, not 8 of 2 s


@given(policies)
def test_weak_statements_wait_longer_per_try(policy: LockPolicy) -> None:
    for _pause, wait in policy.schedule(weak=True, rng=random.Random(0)):
        assert wait <= max(policy.weak_timeout, policy.cap)


def test_a_hold_log_keeps_the_latest_holds_and_their_longest() -> None:
    log = HoldLog(keep=3)
    assert log.holds() == [] and log.longest() == 0.0
    for n in range(5):
        log(f"step {n}", n / 10)
    assert log.holds() == [("step 2", 0.2), ("step 3", 0.3), ("step 4", 0.4)]
    assert log.longest() == 0.4


@pytest.mark.parametrize(("start", "cap", "budget"), [(0.0, 0.5, 1.0), (0.6, 0.5, 1.0),
                                              (0.1, 0.5, 0.0)])
def test_nonsense_policies_are_refused(start: float, cap: float, budget: float) -> None:
    with pytest.raises(ValueError, match="lock"):
        LockPolicy(start=start, cap=cap, budget=budget)


@given(st.text())
def test_blocker_query_line_is_one_short_line_without_literals(query: str) -> None:
    line = _query_line(query)
    assert "\n" not in line and "\r" not in line and len(line) <= 60


def test_blocker_query_line_masks_string_literals() -> None:
    line = _query_line("SELECT * FROM reservations WHERE \"patientName\" = 'Kim O''Hara'\n"
                       "AND x = 1")
    assert "Kim" not in line and "Hara" not in line
    assert line.startswith("SELECT * FROM reservations")
