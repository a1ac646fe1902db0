"""ServerMetrics: the request counters and latency, the page's last hour, and the
database figures read at scrape time (prometheus-client text format, own registry)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import attrs
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from slotcap.adapters.memory import MemoryStore
from slotcap.domain.model import Period, Reservation
from slotcap.domain.rollout import Rollout
from slotcap.errors import DatabaseError
from slotcap.http.metrics import CONTENT_TYPE, ServerMetrics
from slotcap.ports import CreatedCounts, SchemaState

NOW = dt.datetime(2026, 3, 2, 10, 25, tzinfo=dt.UTC)


def samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(body: bytes, name: str, **labels: str) -> float:
    return samples(body)[(name, tuple(sorted(labels.items())))]


def _row(rid: str, at: dt.datetime, *, new: bool) -> Reservation:
    return Reservation(
        id=rid, patient_name="김하늘", phone="010-1234-5678", birth_date=dt.date(1990, 1, 1),
        gender="FEMALE", treatment_type="FIRST_VISIT", preferred_date=dt.date(2026, 3, 9),
        service="SKIN_CARE", preferred_time="10:00",
        service_id="srv_skin_care" if new else None, service_name="피부" if new else None,
        estimated_duration=70 if new else None, period=Period.MORNING if new else None,
        created_at=at.replace(tzinfo=None), updated_at=at.replace(tzinfo=None),
    )


def _store(*rows: Reservation, state: SchemaState = SchemaState.EXPANDED) -> MemoryStore:
    store = MemoryStore(schema_state=state)
    for r in rows:
        with store.booking(r.preferred_date, "SKIN_CARE", []) as tx:
            tx.insert(r)
    return store


def test_requests_are_counted_by_endpoint_path_and_outcome() -> None:
    m = ServerMetrics()
    for outcome in ("created", "created", "full"):
        m.observe(endpoint="/api/reservations", rule_path="dynamic", outcome=outcome,
                  seconds=0.004)
    m.observe(endpoint="/api/reservations", rule_path="legacy", outcome="busy", seconds=2.1)
    body, content_type = m.render(MemoryStore(), Rollout(percentage=25), NOW)
    assert content_type == CONTENT_TYPE and "version=0.0.4" in content_type
    total = "slotcap_http_requests_total"
    assert value(body, total, endpoint="/api/reservations", rule_path="dynamic",
                 outcome="created") == 2
    assert value(body, total, endpoint="/api/reservations", rule_path="dynamic",
                 outcome="full") == 1
    assert value(body, total, endpoint="/api/reservations", rule_path="legacy",
                 outcome="busy") == 1
    hist = "slotcap_http_request_duration_seconds"
    assert value(body, hist + "_count", endpoint="/api/reservations") == 4
    assert value(body, hist + "_sum", endpoint="/api/reservations") == pytest.approx(2.112)
    assert value(body, hist + "_bucket", endpoint="/api/reservations", le="0.005") == 3
    assert value(body, "slotcap_rollout_percentage") == 25
    assert value(body, "slotcap_rollout_enabled") == 0


@pytest.mark.parametrize(("rule_path", "outcome"), [("dynamc", "ok"), ("none", "teapot")])
def test_an_unknown_label_value_is_refused(rule_path: str, outcome: str) -> None:
    with pytest.raises(ValueError, match="must be one of"):
        ServerMetrics().observe(endpoint="/", rule_path=rule_path, outcome=outcome, seconds=0)


def test_each_instance_has_its_own_registry() -> None:
    a, b = ServerMetrics(), ServerMetrics()
    a.observe(endpoint="/", rule_path="none", outcome="ok", seconds=0.001)
    body, _ = b.render(MemoryStore(), Rollout(), NOW)
    assert b"slotcap_http_requests_total{" not in body
    assert REGISTRY.get_sample_value("slotcap_rollout_percentage") is None


def test_the_last_hour_forgets_older_requests() -> None:
    m = ServerMetrics()
    clock = [10_000.0]
    m.monotonic = lambda: clock[0]
    m.observe(endpoint="/", rule_path="dynamic", outcome="created", seconds=0.01)
    clock[0] += 1800
    m.observe(endpoint="/", rule_path="dynamic", outcome="created", seconds=0.01)
    m.observe(endpoint="/", rule_path="legacy", outcome="full", seconds=0.01)
    assert m.last_hour() == {("dynamic", "created"): 2, ("legacy", "full"): 1}
    clock[0] += 1850  # the first request is now more than an hour old
    assert m.last_hour() == {("dynamic", "created"): 1, ("legacy", "full"): 1}
    clock[0] += 3600
    assert m.last_hour() == {}


def test_the_database_figures_come_from_the_monitor() -> None:
    store = _store(
        _row("a", NOW - dt.timedelta(minutes=5), new=True),
        _row("b", NOW - dt.timedelta(minutes=10), new=False),
        _row("c", NOW - dt.timedelta(hours=1), new=True),
        _row("d", NOW - dt.timedelta(hours=30), new=False),  # outside every window
    )
    body, _ = ServerMetrics().render(store, Rollout(enabled=True), NOW)
    assert value(body, "slotcap_reservations_created_this_hour", path="dynamic") == 1
    assert value(body, "slotcap_reservations_created_this_hour", path="legacy") == 1
    assert value(body, "slotcap_reservations_created_last_hour", path="dynamic") == 1
    assert value(body, "slotcap_reservations_created_last_hour", path="legacy") == 0
    assert value(body, "slotcap_dual_write_gap_rows") == 1
    assert value(body, "slotcap_schema_phase", phase="expanded") == 1
    assert value(body, "slotcap_schema_phase", phase="legacy") == 0
    assert value(body, "slotcap_monitor_healthy") == 0
    assert value(body, "slotcap_monitor_up") == 1
    assert value(body, "slotcap_rollout_enabled") == 1


@attrs.define
class CountingStore:
    inner: MemoryStore
    calls: int = 0
    fail: bool = False

    def created_per_hour(self, since: dt.datetime, until: dt.datetime) -> CreatedCounts:
        self.calls += 1
        if self.fail:
            raise DatabaseError("the database is unreachable")
        return self.inner.created_per_hour(since, until)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_scrape_reuses_recent_database_figures_and_survives_a_failure() -> None:
    m = ServerMetrics()
    clock = [500.0]
    m.monotonic = lambda: clock[0]
    store = CountingStore(_store(state=SchemaState.LEGACY))
    m.render(store, Rollout(), NOW)
    m.render(store, Rollout(), NOW)
    assert store.calls == 1
    clock[0] += m.DB_MAX_AGE
    store.fail = True
    body, _ = m.render(store, Rollout(), NOW)
    assert store.calls == 2
    assert value(body, "slotcap_monitor_up") == 0
    assert value(body, "slotcap_monitor_healthy") == 0
    assert value(body, "slotcap_rollout_percentage") == 0  # the rest still renders
    # No figure of the earlier scrape is served as if it were current.
    assert not [k for k in samples(body) if k[0].startswith("slotcap_schema_phase")]
    assert math.isnan(value(body, "slotcap_dual_write_gap_rows"))
