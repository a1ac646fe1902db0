"""The composition root, the injected clock, the store as a context manager, and the
booking path's single parse with the store's own clinic hours."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable

import attrs
import pytest
from tests.builders import ON_TODAY, TODAY, request

import slotcap.usecases.request as request_module
from slotcap import (
    DEFAULT_TIME_SLOTS,
    App,
    ClinicTimeSlot,
    ConfigurationError,
    FixedClock,
    InvalidRequest,
    Period,
    ReservationStatus,
    SchemaState,
    Store,
    SystemClock,
    book,
    bootstrap,
    open_store,
)
from slotcap.adapters.memory import MemoryStore
from slotcap.domain.timeparse import ParsedTime, parse_preferred_time

#: Afternoons until 21:00: "8:00" is 20:00 there, but ambiguous in the plan's 14-18.
EVENING_SLOTS = [
    attrs.evolve(slot, end_time=dt.time(21)) if slot.period is Period.AFTERNOON else slot
    for slot in DEFAULT_TIME_SLOTS
]
NOON = dt.datetime(2025, 11, 28, 3, 4, 5, 678_901, tzinfo=dt.UTC)


def _counting_parser(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real: Callable[..., ParsedTime] = parse_preferred_time

    def counted(text: str, **kwargs: object) -> ParsedTime:
        calls.append(text)
        return real(text, **kwargs)

    monkeypatch.setattr(request_module, "parse_preferred_time", counted)
    return calls


def test_dynamic_path_reads_bare_hours_with_the_stores_clinic_hours() -> None:
    store = MemoryStore(time_slots=EVENING_SLOTS)
    stored = book(store, request(period=None, preferred_time="8:00"), dynamic=True, clock=ON_TODAY)
    assert stored.period is Period.AFTERNOON
    assert stored.preferred_time == "8:00"  # the patient's words agree with the period
    # The plan's default hours cannot read it: the same request on them is refused.
    with pytest.raises(InvalidRequest) as refused:
        book(MemoryStore(), request(period=None, preferred_time="8:00"),
             dynamic=True, clock=ON_TODAY)
    assert "period" in refused.value.fields


def test_dynamic_path_keeps_words_that_agree_under_the_stores_hours() -> None:
    store = MemoryStore(time_slots=EVENING_SLOTS)
    stored = book(store, request(period="AFTERNOON", preferred_time="8:00"),
                  dynamic=True, clock=ON_TODAY)
    assert stored.preferred_time == "8:00"


@pytest.mark.parametrize("dynamic", [True, False])
@pytest.mark.parametrize("period", ["MORNING", None])
def test_the_parser_runs_once_per_booking(
    monkeypatch: pytest.MonkeyPatch, dynamic: bool, period: str | None
) -> None:
    calls = _counting_parser(monkeypatch)
    book(MemoryStore(), request(period=period, preferred_time="10:00"),
         dynamic=dynamic, clock=ON_TODAY)
    assert calls == ["10:00"]


def test_a_bad_request_never_asks_the_store_for_its_hours() -> None:
    class NoHours(MemoryStore):
        def list_time_slots(self) -> list[ClinicTimeSlot]:
            raise AssertionError("the store was read for an invalid request")

    with pytest.raises(InvalidRequest):
        book(NoHours(), request(phone="nope", period=None), dynamic=True, clock=ON_TODAY)


def test_the_clock_stamps_the_reservation_and_sets_today() -> None:
    clock = FixedClock(NOON, day=TODAY)
    stored = book(MemoryStore(), request(), dynamic=True, clock=clock)
    # Naive UTC, millisecond precision: what the database's TIMESTAMP(3) holds.
    assert stored.created_at == dt.datetime(2025, 11, 28, 3, 4, 5, 678_000)
    assert stored.updated_at == stored.status_changed_at == stored.created_at
    # "today" comes from the clock: a day before it is outside the window.
    with pytest.raises(InvalidRequest):
        book(MemoryStore(), request(preferred_date=(TODAY - dt.timedelta(days=1)).isoformat()),
             dynamic=True, clock=clock)


def test_the_memory_store_stamps_status_changes_with_its_clock() -> None:
    clock = FixedClock(NOON)
    with bootstrap("memory://", env={}, clock=clock) as app:
        stored = book(app.store, request(), dynamic=True, clock=app.clock)
        changed = app.store.set_status(stored.id, ReservationStatus.CONFIRMED)
    assert changed.status_changed_at == dt.datetime(2025, 11, 28, 3, 4, 5, 678_000)


def test_clocks() -> None:
    now = SystemClock().now()
    assert now.tzinfo is not None and now.utcoffset() == dt.timedelta(0)
    assert SystemClock(dt.timezone(dt.timedelta(hours=9))).today() == (
        dt.datetime.now(dt.UTC) + dt.timedelta(hours=9)
    ).date()
    assert FixedClock(dt.datetime(2025, 1, 1, 23)).today() == dt.date(2025, 1, 1)
    assert FixedClock(dt.datetime(2025, 1, 1, 23)).now().tzinfo is dt.UTC


def test_stores_are_context_managers_closed_by_their_owner() -> None:
    closed: list[bool] = []

    class Tracked(MemoryStore):
        def close(self) -> None:
            closed.append(True)

    with Tracked() as store:
        assert isinstance(store, Store)
    assert closed == [True]
    with open_store("memory://") as opened:
        assert isinstance(opened, MemoryStore)


def test_bootstrap_wires_store_clock_and_rollout_from_configuration() -> None:
    env = {"SLOTCAP_DATABASE_URL": "memory://", "USE_DYNAMIC_SERVICES": "true",
           "SLOTCAP_CLINIC_TZ": "Asia/Seoul"}
    with bootstrap(env=env) as app:
        assert isinstance(app, App)
        assert isinstance(app.store, MemoryStore)
        assert app.rollout.uses_dynamic("anyone")
        assert app.clock == SystemClock(app.clock.tz) and app.clock.tz is not None  # type: ignore[attr-defined]
    fake = MemoryStore(schema_state=SchemaState.CONTRACTED)
    app = bootstrap(env={}, store=fake, clock=FixedClock(NOON))
    assert app.store is fake and app.clock.now() == NOON
    assert not app.rollout.uses_dynamic("anyone")


@pytest.mark.parametrize(
    ("env", "code"),
    [
        ({}, "no_database"),
        ({"SLOTCAP_DATABASE_URL": "memory://", "SLOTCAP_CLINIC_TZ": "Mars/Olympus"},
         "configuration"),
        ({"SLOTCAP_DATABASE_URL": "memory://", "DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE": "lots"},
         "configuration"),
    ],
)
def test_bootstrap_refuses_bad_configuration(env: dict[str, str], code: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        bootstrap(env=env)
    assert refused.value.code == code


def test_ids_stay_injectable() -> None:
    counter = itertools.count(1)
    stored = book(MemoryStore(), request(), dynamic=True, clock=ON_TODAY,
                  new_id=lambda: f"r{next(counter)}")
    assert stored.id == "r1"
