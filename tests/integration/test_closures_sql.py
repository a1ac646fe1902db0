"""Closures, overrides and the clinic's time zone on SQLite and PostgreSQL: the same
behaviour as on the memory store, refused before phase 1, CLOSED in checks, bookings and
the calendar, and other stores seeing a closure within their snapshot age."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.builders import MONDAY, TODAY, request

from slotcap import FixedClock, ReservationFull, SchemaStateError, book, bootstrap
from slotcap.domain.model import Period
from slotcap.domain.rules import Reason
from slotcap.errors import ClosureNotFound
from slotcap.migration import migrate, rollback
from slotcap.migration.location import locate
from slotcap.sql import open_sql
from slotcap.usecases import availability_calendar, check_availability
from slotcap.usecases import closures as uc

CLOCK = FixedClock(dt.datetime(2025, 11, 28, 9, tzinfo=dt.UTC), day=TODAY)


def test_before_phase_1_closures_are_refused_and_checks_work(legacy_url: str) -> None:
    with bootstrap(legacy_url, env={}, clock=CLOCK) as app:
        for call in (
            lambda: uc.add_closure(app.store, start_date=MONDAY, reason="x"),
            lambda: uc.list_closures(app.store),
            lambda: uc.remove_closure(app.store, "x"),
            lambda: uc.set_clinic_time_zone(app.store, "Asia/Seoul"),
        ):
            with pytest.raises(SchemaStateError, match="phase 1"):
                call()
        assert app.store.clinic_time_zone() is None
        # The checks run as before (this empty legacy database has no daily limits).
        decision = check_availability(app.store, MONDAY, "WRINKLE_BOTOX", dynamic=False)
        assert decision.reason is Reason.NO_LIMIT


def test_phase_1_seeds_the_time_zone_and_it_can_be_changed(phase1_url: str) -> None:
    with bootstrap(phase1_url, env={}, clock=CLOCK) as app:
        assert uc.clinic_time_zone(app.store) == "Asia/Seoul"
        uc.set_clinic_time_zone(app.store, "America/New_York")
    with bootstrap(phase1_url, env={}, clock=CLOCK) as app:
        assert uc.clinic_time_zone(app.store) == "America/New_York"


def test_a_closed_date_refuses_checks_bookings_and_shows_in_the_calendar(
    phase1_url: str,
) -> None:
    with bootstrap(phase1_url, env={}, clock=CLOCK) as app:
        store = app.store
        kept = book(store, request(phone="010-1234-5678"), dynamic=True, clock=CLOCK)
        added = uc.add_closure(store, start_date=MONDAY, reason="설날")
        assert [r.id for r in added.affected] == [kept.id]
        assert added.affected[0].phone == "010-1234-5678"
        decision = check_availability(store, MONDAY, "WRINKLE_BOTOX", dynamic=True)
        assert decision.reason is Reason.CLOSED and decision.detail == "설날"
        with pytest.raises(ReservationFull, match="설날"):
            book(store, request(), dynamic=True, clock=CLOCK)
        entries = availability_calendar(store, MONDAY, MONDAY + dt.timedelta(days=1))
        closed = [e for e in entries if e.day == MONDAY]
        assert [e.closed_reason for e in closed] == ["설날", "설날"]
        assert all(e.capacity == 0 and not e.is_open for e in closed)
        assert all(e.closed_reason is None and e.is_open for e in entries if e.day != MONDAY)
        assert [c.id for c in uc.list_closures(store)] == [added.closure.id]
        uc.remove_closure(store, added.closure.id)
        with pytest.raises(ClosureNotFound):
            uc.remove_closure(store, added.closure.id)
        assert check_availability(store, MONDAY, "WRINKLE_BOTOX", dynamic=True).allowed


def test_overrides_and_recurrences_round_trip(phase1_url: str) -> None:
    with bootstrap(phase1_url, env={}, clock=CLOCK) as app:
        store = app.store
        weekly = uc.add_closure(store, start_date=MONDAY, rrule="FREQ=WEEKLY",
                                end_date=MONDAY + dt.timedelta(days=30),
                                period=Period.AFTERNOON, capacity_minutes=60,
                                reason="one doctor").closure
        assert store.list_closures() == [attrs_equal(weekly, store.list_closures()[0])]
        next_week = MONDAY + dt.timedelta(days=7)
        d = check_availability(store, next_week, "WRINKLE_BOTOX", period=Period.AFTERNOON,
                               dynamic=True)
        assert d.capacity == 60
        d = check_availability(store, next_week + dt.timedelta(days=1), "WRINKLE_BOTOX",
                               period=Period.AFTERNOON, dynamic=True)
        assert d.capacity == 240


def attrs_equal(expected: object, stored: object) -> object:
    """The stored closure equals the added one except for the database's createdAt."""
    import attrs

    assert attrs.evolve(stored, created_at=None) == expected  # type: ignore[misc]
    return stored


def test_another_store_sees_a_closure_in_a_booking_at_once(phase1_url: str) -> None:
    with bootstrap(phase1_url, env={}, clock=CLOCK) as a, \
            bootstrap(phase1_url, env={}, clock=CLOCK) as b:
        assert check_availability(b.store, MONDAY, "WRINKLE_BOTOX", dynamic=True).allowed
        uc.add_closure(a.store, start_date=MONDAY, reason="staff training")
        with pytest.raises(ReservationFull, match="staff training"):
            book(b.store, request(), dynamic=True, clock=CLOCK)


def test_rollback_to_legacy_drops_the_tables(phase1_url: str) -> None:
    with bootstrap(phase1_url, env={}, clock=CLOCK) as app:
        uc.add_closure(app.store, start_date=MONDAY, reason="x")
    report = rollback(phase1_url, to="legacy")
    assert report.ok, report.message
    with bootstrap(phase1_url, env={}, clock=CLOCK) as app:
        assert app.store.clinic_time_zone() is None
        with pytest.raises(SchemaStateError):
            app.store.list_closures()


@pytest.mark.parametrize("phase", ["phase1", "phase2"])
def test_a_database_from_before_the_clinic_tables_is_located_and_completed(
    legacy_url: str, phase: str
) -> None:
    assert migrate(legacy_url, to=phase).ok
    with open_sql(legacy_url) as conn:  # as an older slotcap left phase 1
        conn.execute('DROP TABLE "clinic_closures"')
        conn.execute('DROP TABLE "clinic_settings"')
        where = locate(conn)
    assert where.state == "inconsistent"
    assert "clinic_closures" in where.problems[0] and "clinic_settings" in where.problems[0]
    with bootstrap(legacy_url, env={}, clock=CLOCK) as app:  # the stores work meanwhile
        assert app.store.clinic_time_zone() is None
        assert check_availability(app.store, MONDAY, "WRINKLE_BOTOX", dynamic=True).allowed
    report = migrate(legacy_url, to=phase)
    assert report.ok, report.message
    with open_sql(legacy_url) as conn:
        assert locate(conn).state == "settled"
    with bootstrap(legacy_url, env={}, clock=CLOCK) as app:
        assert uc.clinic_time_zone(app.store) == "Asia/Seoul"


def test_a_clinic_table_left_at_legacy_is_located(legacy_url: str) -> None:
    assert migrate(legacy_url, to="phase1").ok
    assert rollback(legacy_url, to="legacy").ok
    with open_sql(legacy_url) as conn:
        assert locate(conn).state == "settled"
        conn.execute('CREATE TABLE "clinic_settings" ("key" TEXT PRIMARY KEY)')
        where = locate(conn)
    assert where.state == "inconsistent" and "clinic_settings" in " ".join(where.problems)
