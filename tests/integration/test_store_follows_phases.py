"""A long-lived store follows every migration step, both directions, without a restart.

Stores are opened once, before the step; the step runs through the public toolkit
(``slotcap.migration.phases.migrate`` / ``rollback``). Sequentially on both engines: a
store opened on a legacy database books on the minutes rule once phase 1 is applied;
a store opened at phase 2 books on the minutes rule after phase 4 and on both rules
after its rollback; a store opened at phase 1 books on the legacy rule after the
rollback to legacy. Concurrently, on both engines: four app threads, each with its own
store, book all the time while the step runs in another thread, on the rules the
rollout allows on both sides of the step. Nothing but a legitimate "full" may reach
them, and the final rows must not overbook (every refusal justified by them too).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.integration.store_helpers import build_sql_database, open_sql_store, request

from slotcap.adapters.sql import SqlStore
from slotcap.domain.model import Period
from slotcap.errors import ReservationFull, SchemaStateError
from slotcap.migration.phases import migrate, rollback
from slotcap.ports import SchemaState
from slotcap.sql import open_sql
from slotcap.usecases import book, check_availability

ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
LIMIT = 10  # the default daily limit of every legacy service
CAPACITY = {Period.MORNING: 180, Period.AFTERNOON: 240}  # a weekday's minutes
MINUTES = 40  # WRINKLE_BOTOX: 30 + 10 buffer


def _weekdays(count: int) -> list[dt.date]:
    """Weekdays from next Monday on (always in the future, within a year)."""
    today = dt.date.today()
    day = today + dt.timedelta(days=7 - today.weekday())
    days: list[dt.date] = []
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


DAYS = _weekdays(200)


def _dynamic(day: dt.date, period: Period) -> Callable[[SqlStore], object]:
    body = request(service="WRINKLE_BOTOX", preferred_date=day.isoformat(),
                   period=period.value, preferred_time=None)
    return lambda store: book(store, body, dynamic=True)


def _legacy(day: dt.date) -> Callable[[SqlStore], object]:
    body = request(service="WRINKLE_BOTOX", preferred_date=day.isoformat(), period=None,
                   preferred_time="10:00")
    return lambda store: book(store, body, dynamic=False)


@pytest.fixture(params=ENGINES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'phases.db'}"
    return str(request.getfixturevalue("pg_url"))


# -- one step at a time, both engines -----------------------------------------------------


def test_a_store_opened_on_a_legacy_database_follows_phase1(url: str) -> None:
    build_sql_database(url, SchemaState.LEGACY)
    store = open_sql_store(url)
    with pytest.raises(SchemaStateError):  # truly legacy: the minutes rule cannot run
        _dynamic(DAYS[0], Period.AFTERNOON)(store)
    _legacy(DAYS[0])(store)
    assert migrate(url, to="phase1").ok
    # Same store, no restart, and at once: it had read the catalogue a moment ago (the
    # refusal above), yet it re-reads it before refusing again.
    booked = _dynamic(DAYS[1], Period.AFTERNOON)(store)
    assert store.schema_state is SchemaState.EXPANDED
    assert getattr(booked, "period", None) is Period.AFTERNOON
    assert store.period_facts(DAYS[1], Period.AFTERNOON, "WRINKLE_BOTOX").held_minutes == 40
    assert [s.code for s in store.list_services()]
    _legacy(DAYS[0])(store)
    store.close()


def test_a_store_opened_at_phase2_follows_phase4_and_its_rollback(url: str) -> None:
    build_sql_database(url, SchemaState.EXPANDED)
    assert migrate(url, to="phase2").ok
    store = open_sql_store(url)
    _legacy(DAYS[0])(store)
    _dynamic(DAYS[0], Period.AFTERNOON)(store)
    assert migrate(url, to="phase4", confirm=True).ok
    _dynamic(DAYS[1], Period.AFTERNOON)(store)  # a failing statement re-reads at once
    assert store.schema_state is SchemaState.CONTRACTED
    with pytest.raises(SchemaStateError):  # the count rule is truly gone
        _legacy(DAYS[1])(store)
    assert rollback(url, to="phase2").reached.value == "phase2"
    # The count rule is back for the same store at once, although it read the catalogue
    # (refusing) just before the rollback: a refusal is never made on a cached state.
    assert check_availability(store, DAYS[2], "WRINKLE_BOTOX", dynamic=False).allowed
    _legacy(DAYS[2])(store)
    _dynamic(DAYS[2], Period.AFTERNOON)(store)
    assert SchemaState(store.schema_state) is SchemaState.EXPANDED
    store.close()


def test_a_store_opened_at_phase1_follows_the_rollback_to_legacy(url: str) -> None:
    build_sql_database(url, SchemaState.EXPANDED)
    store = open_sql_store(url)
    _legacy(DAYS[0])(store)
    assert rollback(url, to="legacy").ok
    booked = _legacy(DAYS[1])(store)  # the first statement meets the dropped tables
    assert store.schema_state is SchemaState.LEGACY
    assert getattr(booked, "period", "absent") is None
    with pytest.raises(SchemaStateError):
        _dynamic(DAYS[1], Period.AFTERNOON)(store)
    store.close()


# -- under load, both engines ---------------------------------------------------------------


class App(threading.Thread):
    """One app thread with its own long-lived store: books ``rule`` on the shared day
    sequence (each day until it is full, then the next), a booking every few ms."""

    def __init__(self, url: str, rule: str, name: str) -> None:
        super().__init__(daemon=True, name=name)
        self.store = open_sql_store(url)  # opened before the step starts
        self.rule = rule
        self.stop = threading.Event()
        self.booked = 0
        self.full: list[tuple[dt.date, Period | None]] = []
        self.errors: list[str] = []

    def _attempt(self, day: dt.date, period: Period) -> bool:
        job = _dynamic(day, period) if self.rule == "dynamic" else _legacy(day)
        try:
            job(self.store)
        except ReservationFull:
            self.full.append((day, period if self.rule == "dynamic" else None))
            return False
        except Exception as exc:  # every other failure is a finding
            self.errors.append(f"{type(exc).__name__}: {exc}")
        else:
            self.booked += 1
        return True

    def run(self) -> None:
        try:
            for day in DAYS:
                for period in (Period.MORNING, Period.AFTERNOON):
                    while not self.stop.is_set() and self._attempt(day, period):
                        time.sleep(0.01)
                    if self.rule == "legacy":
                        break  # one daily count per (day, service)
                    if self.stop.is_set():
                        return
                if self.stop.is_set():
                    return
        finally:
            self.store.close()


def _under_load(url: str, rules: list[str], step: Callable[[], object]) -> list[App]:
    apps = [App(url, rule, f"app{i}") for i, rule in enumerate(rules)]
    for app in apps:
        app.start()
    time.sleep(0.4)  # bookings on the schema before the step
    try:
        step()
        time.sleep(1.3)  # and on the schema after it
    finally:
        for app in apps:
            app.stop.set()
        for app in apps:
            app.join(timeout=30)
    return apps


def _assert_no_overbooking(url: str, apps: list[App]) -> None:
    day_sql = 'substr(CAST("preferredDate" AS TEXT), 1, 10)'  # DATE, TIMESTAMP or ISO text
    with open_sql(url) as conn:
        columns = (
            "SELECT column_name::text FROM information_schema.columns "
            "WHERE table_name = 'reservations'"
            if conn.is_postgres
            else "SELECT name FROM pragma_table_info('reservations')"
        )
        cols = {c for (c,) in conn.execute(columns)}
        minutes: Counter[tuple[str, str]] = Counter()
        count: Counter[str] = Counter()
        if "period" in cols:
            for held_day, period, held in conn.execute(
                f'SELECT {day_sql}, CAST("period" AS TEXT), '
                'SUM(COALESCE("estimatedDuration", 40)) FROM "reservations" '
                f'WHERE "period" IS NOT NULL GROUP BY {day_sql}, CAST("period" AS TEXT)'
            ):
                minutes[(held_day, period)] = int(held)
        if "service" in cols:
            for held_day, held in conn.execute(
                f'SELECT {day_sql}, COUNT(*) FROM "reservations" '
                "WHERE CAST(\"service\" AS TEXT) = 'WRINKLE_BOTOX' GROUP BY " + day_sql
            ):
                count[held_day] = int(held)
    dynamic = any(app.rule == "dynamic" for app in apps)
    if dynamic:
        for (held_day, held_period), held in minutes.items():
            assert held <= CAPACITY[Period(held_period)], (held_day, held_period, held)
    legacy_only = all(app.rule == "legacy" for app in apps)
    if legacy_only:
        for held_day, held in count.items():
            assert held <= LIMIT, (held_day, held)
    # Amounts only grow here, so a refusal at any moment is justified by the end state.
    for app in apps:
        for day, period in app.full:
            if period is not None:
                assert minutes[(day.isoformat(), period.value)] + MINUTES > CAPACITY[period]
            elif legacy_only:
                assert count[day.isoformat()] >= LIMIT


def _report(what: str, apps: list[App], seconds: float) -> None:
    booked = sum(a.booked for a in apps)
    full = sum(len(a.full) for a in apps)
    errors = sum(len(a.errors) for a in apps)
    print(f"\n[{what}] step {seconds:.2f}s: booked={booked} full={full} errors={errors}")


def _timed(step: Callable[[], object], into: list[float]) -> Callable[[], object]:
    def run() -> object:
        started = time.perf_counter()
        try:
            return step()
        finally:
            into.append(time.perf_counter() - started)

    return run


def _ride_through(url: str, rule: str, step: Callable[[], object], label: str, *,
                  must_book: bool = True) -> None:
    """Four app threads on ``rule`` while ``step`` runs: no error but "full", no
    overbooking, and (``must_book``) some bookings made."""
    took: list[float] = []
    apps = _under_load(url, [rule] * 4, _timed(step, took))
    _report(label, apps, took[0])
    assert [e for a in apps for e in a.errors] == []
    if must_book:
        assert sum(a.booked for a in apps) > 0
    _assert_no_overbooking(url, apps)


def test_legacy_bookings_ride_through_phase1(url: str) -> None:
    build_sql_database(url, SchemaState.LEGACY)
    _ride_through(url, "legacy", lambda: migrate(url, to="phase1"), "phase1, legacy rule")


def test_legacy_bookings_ride_through_the_rollback_to_legacy(url: str) -> None:
    build_sql_database(url, SchemaState.EXPANDED)
    _ride_through(url, "legacy", lambda: rollback(url, to="legacy"),
                  "rollback to legacy, legacy rule")


def test_dynamic_bookings_ride_through_phase4_and_its_rollback(url: str) -> None:
    build_sql_database(url, SchemaState.EXPANDED)
    assert migrate(url, to="phase2").ok
    _ride_through(url, "dynamic", lambda: migrate(url, to="phase4", confirm=True),
                  "phase4, minutes rule", must_book=False)
    _ride_through(url, "dynamic", lambda: rollback(url, to="phase2"),
                  "rollback of phase4, minutes rule")
