"""The phase-3 monitor on the in-memory store: the per-hour law, gaps by phase, the
findings and the report's JSON."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies.budget import examples
from tests.strategies.monitor import created_reservations, shape_of

from slotcap.adapters.memory import MemoryStore
from slotcap.domain.model import Reservation
from slotcap.domain.rollout import Rollout
from slotcap.ports import SchemaState
from slotcap.usecases.monitor import FULL_REFUSALS_NOTE, MAX_HOURS, rollout_monitor

NOW = dt.datetime(2026, 3, 2, 10, 25, 7, 123000, tzinfo=dt.UTC)
OFF = Rollout()


def _store(rows: list[Reservation], state: SchemaState = SchemaState.EXPANDED) -> MemoryStore:
    store = MemoryStore(schema_state=state)
    for r in rows:
        with store.booking(r.preferred_date, r.service or "", []) as tx:
            tx.insert(r)
    return store


def _window(hours: int) -> tuple[dt.datetime, dt.datetime]:
    end = NOW.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    return end - dt.timedelta(hours=hours), end


def _naive(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(tzinfo=None)


@settings(max_examples=examples(0.6), deadline=None)
@given(rows=created_reservations(around=NOW), hours=st.integers(1, 30),
       state=st.sampled_from(SchemaState))
def test_per_hour_counts_sum_to_the_rows_created_in_the_window(
    rows: list[Reservation], hours: int, state: SchemaState
) -> None:
    report = rollout_monitor(_store(rows, state), rollout=OFF, now=NOW, hours=hours)
    start, end = _window(hours)
    stored = [state.keep_columns(r) for r in rows]
    inside = [r for r in stored
              if r.created_at is not None and _naive(start) <= r.created_at < _naive(end)]
    # One entry per whole hour of the window, consecutive, ending with now's hour.
    assert len(report.per_hour) == hours
    assert [h.hour_start for h in report.per_hour] == [
        start + dt.timedelta(hours=i) for i in range(hours)]
    assert report.created == len(inside)
    for h in report.per_hour:
        first = _naive(h.hour_start)
        mine = [r for r in inside if r.created_at is not None
                and first <= r.created_at < first + dt.timedelta(hours=1)]
        assert h.dynamic == sum(shape_of(r) == "complete" for r in mine)
        assert h.legacy == len(mine) - h.dynamic
    incomplete = [r for r in inside if shape_of(r) != "complete"]
    if state.has_new_columns:
        assert report.dual_write_gaps == len(incomplete) == sum(h.legacy for h in report.per_hour)
        assert report.gaps_period_only == sum(shape_of(r) == "no_period" for r in inside)
    else:
        assert report.dual_write_gaps == report.gaps_period_only == 0
        assert all(h.dynamic == 0 for h in report.per_hour)
    assert report.healthy == (report.dual_write_gaps == 0 and not report.findings)
    json.dumps(report.to_dict())  # serialisable as is


@settings(max_examples=examples(0.3), deadline=None)
@given(rows=created_reservations(around=NOW, max_size=15), hours=st.integers(1, 30))
def test_a_longer_window_never_counts_fewer(rows: list[Reservation], hours: int) -> None:
    store = _store(rows)
    short = rollout_monitor(store, rollout=OFF, now=NOW, hours=hours)
    longer = rollout_monitor(store, rollout=OFF, now=NOW, hours=hours + 1)
    assert longer.created >= short.created
    assert longer.per_hour[1:] == short.per_hour
    assert longer.dual_write_gaps >= short.dual_write_gaps


def test_dual_write_gaps_are_named_with_what_to_do() -> None:
    old, no_period = _two_gap_rows()
    report = rollout_monitor(_store([old, no_period]), rollout=OFF, now=NOW, hours=1)
    assert not report.healthy
    assert report.headline() == "look at this: 1 finding"
    (finding,) = report.findings
    assert "2 reservations" in finding
    assert "slotcap backfill" in finding and "slotcap review export" in finding
    assert report.dual_write_gaps == 2 and report.gaps_period_only == 1


def _two_gap_rows() -> list[Reservation]:
    import attrs

    at = _naive(NOW)
    base = Reservation(
        id="old", patient_name="김하늘", phone="010-1234-5678",
        birth_date=dt.date(1990, 1, 1), gender="FEMALE", treatment_type="FIRST_VISIT",
        preferred_date=dt.date(2026, 3, 9), service="SKIN_CARE", preferred_time="10:00",
        created_at=at, updated_at=at,
    )
    no_period = attrs.evolve(base, id="np", service_id="srv_skin_care", service_name="피부",
                             estimated_duration=70)
    return [base, no_period]


def test_a_legacy_schema_has_no_gaps_and_refuses_a_rollout() -> None:
    store = _store(_two_gap_rows(), SchemaState.LEGACY)
    quiet = rollout_monitor(store, rollout=OFF, now=NOW, hours=2)
    assert quiet.healthy and quiet.dual_write_gaps == 0
    assert quiet.per_hour[-1].legacy == 2 and quiet.per_hour[-1].dynamic == 0
    assert any("before phase 1" in n for n in quiet.notes)
    rolled = rollout_monitor(store, rollout=Rollout(percentage=5), now=NOW, hours=2)
    assert not rolled.healthy
    assert "5%" in rolled.findings[0] and "phase 1" in rolled.findings[0]


@pytest.mark.parametrize(("rollout", "healthy"), [
    (Rollout(enabled=True), True),
    (Rollout(percentage=100), True),
    (Rollout(percentage=99), False),
    (OFF, False),
])
def test_after_phase_4_every_booking_must_be_dynamic(rollout: Rollout, healthy: bool) -> None:
    report = rollout_monitor(MemoryStore(schema_state=SchemaState.CONTRACTED),
                             rollout=rollout, now=NOW)
    assert report.healthy is healthy
    if not healthy:
        assert "USE_DYNAMIC_SERVICES=true" in report.findings[0]


def test_the_report_says_full_refusals_are_not_in_the_database() -> None:
    report = rollout_monitor(MemoryStore(), rollout=Rollout(percentage=25), now=NOW)
    assert report.healthy and report.headline() == "healthy"
    data = report.to_dict()
    assert data["full_refusals"] is None and FULL_REFUSALS_NOTE in data["notes"]
    assert data["rollout"] == {"enabled": False, "percentage": 25, "dynamic_share": 25}
    assert data["status"] == "healthy" and data["schema_state"] == "expanded"
    assert data["window_start"] == "2026-03-01T11:00:00+00:00"
    assert len(data["per_hour"]) == 24


@pytest.mark.parametrize("hours", [0, -1, MAX_HOURS + 1])
def test_a_window_outside_the_limits_is_refused(hours: int) -> None:
    with pytest.raises(ValueError, match="hours"):
        rollout_monitor(MemoryStore(), rollout=OFF, now=NOW, hours=hours)


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        rollout_monitor(MemoryStore(), rollout=OFF, now=NOW.replace(tzinfo=None))


def test_now_in_another_zone_means_the_same_hours() -> None:
    seoul = NOW.astimezone(dt.timezone(dt.timedelta(hours=9)))
    store = _store(_two_gap_rows())
    assert (rollout_monitor(store, rollout=OFF, now=seoul).per_hour
            == rollout_monitor(store, rollout=OFF, now=NOW).per_hour)


def test_the_window_includes_its_first_instant_and_excludes_its_end() -> None:
    import attrs

    start, end = _window(3)
    (row, _) = _two_gap_rows()
    ms = dt.timedelta(milliseconds=1)
    rows = [attrs.evolve(row, id=f"r{i}", created_at=_naive(at), service_id="s",
                         service_name="n", estimated_duration=40, period=None)
            for i, at in enumerate([start - ms, start, end - ms, end])]
    report = rollout_monitor(_store(rows), rollout=OFF, now=NOW, hours=3)
    assert [h.total for h in report.per_hour] == [1, 0, 1]
    assert report.dual_write_gaps == report.gaps_period_only == 2
