"""Shadow decisions on the SQL stores (#21), SQLite and PostgreSQL: the issue's example
recorded in phase 1's shadow tables, ``whatif`` on one aggregate, ``migrate status``,
the purge, the rollback to legacy that drops the tables, and concurrent bookings whose
shadow records agree with the order the locks put them in."""

from __future__ import annotations

import concurrent.futures
import datetime as dt

import attrs
from tests.builders import MONDAY, ON_TODAY, request
from tests.integration.store_helpers import open_sql_store

from slotcap.adapters.sql import SqlStore
from slotcap.domain.calendar import day_of_week
from slotcap.domain.defaults import DEFAULT_DAILY_LIMITS
from slotcap.domain.model import Period
from slotcap.errors import ReservationFull
from slotcap.migration import migrate, rollback, status
from slotcap.sql import open_sql
from slotcap.sql.names import SHADOW_TABLES
from slotcap.usecases import book
from slotcap.usecases.shadow import shadow_report
from slotcap.usecases.whatif import whatif


def _clinic(url: str) -> SqlStore:
    store = open_sql_store(url)
    for limit in DEFAULT_DAILY_LIMITS:
        store.save_limit(limit)
    for slot in store.list_time_slots():
        if slot.day_of_week == day_of_week(MONDAY) and slot.period is Period.MORNING:
            store.save_time_slot(attrs.evolve(slot, end_time=dt.time(11, 0)))  # 120 min
    return store


def test_the_issue_example_in_the_shadow_tables(phase1_url: str) -> None:
    with _clinic(phase1_url) as store:
        for _ in range(5):
            book(store, request(period=None, preferred_time="10:00"), dynamic=False,
                 clock=ON_TODAY)
        book(store, request(period=None, preferred_time="아무때나"), dynamic=False,
             clock=ON_TODAY)
    assert tuple(status(phase1_url).shadow_tables) == SHADOW_TABLES
    with open_sql_store(phase1_url) as reader:  # another process's view: the tables
        report = shadow_report(reader, MONDAY, MONDAY)
        assert report.by_kind == {("legacy", "agree"): 3, ("legacy", "control_only"): 2,
                                  ("legacy", "not_shadowable"): 1}
        assert [(m.held_count, m.daily_limit, m.held_minutes, m.capacity_minutes,
                 m.requested_minutes, m.shadow_reason) for m in report.mismatches] == [
            (3, 10, 120, 120, 40, "FULL"), (4, 10, 160, 120, 40, "FULL")]
        assert all(m.decided_at is not None for m in report.mismatches)
        (over,) = whatif(reader, "dynamic", MONDAY - dt.timedelta(days=30),
                         MONDAY + dt.timedelta(days=300)).over
        assert (over.day, over.period, over.held, over.capacity) == (
            MONDAY, Period.MORNING, 240, 120)  # the unreadable one holds in both periods
        assert len(over.reservation_ids) == 3
        assert whatif(reader, "legacy", MONDAY, MONDAY).over == ()
        assert reader.purge_shadow(dt.datetime(2000, 1, 1)) == 0
        assert reader.purge_shadow(dt.datetime(2100, 1, 1)) == 5  # 3 counters + 2 rows
        assert shadow_report(reader, MONDAY, MONDAY).by_kind == {}


def test_the_rollback_to_legacy_drops_the_shadow_tables(phase1_url: str) -> None:
    with _clinic(phase1_url) as store:
        book(store, request(period=None), dynamic=False, clock=ON_TODAY)
        assert shadow_report(store, MONDAY, MONDAY).decisions == 1
        report = rollback(phase1_url, to="legacy")
        assert report.ok, report.message
        assert status(phase1_url).shadow_tables == ()
        store.refresh_schema_state()
        book(store, request(period=None), dynamic=False, clock=ON_TODAY)  # unshadowed
        assert shadow_report(store, MONDAY, MONDAY).decisions == 0
        assert store.shadow.failures == 0


def test_concurrent_bookings_are_shadowed_in_lock_order(phase1_url: str) -> None:
    with _clinic(phase1_url) as store:
        def one(_: int) -> bool:
            try:
                book(store, request(period=None, preferred_time="10:00"), dynamic=False,
                     clock=ON_TODAY)
            except ReservationFull:
                return False
            return True

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            allowed = sum(pool.map(one, range(14)))
        assert allowed == 10  # the count rule's limit
        report = shadow_report(store, MONDAY, MONDAY)
        # The first 3 fit 120 minutes under both rules, the next 7 only under the count
        # rule, the last 4 under neither: the held figures follow the locks' order.
        assert report.by_kind == {("legacy", "agree"): 3 + 4, ("legacy", "control_only"): 7}
        assert sorted(m.held_count or 0 for m in report.mismatches) == list(range(3, 10))
        assert store.shadow.failures == 0


def test_phase2_with_the_ledger_dynamic_control(phase1_url: str) -> None:
    report = migrate(phase1_url, to="phase2")
    assert report.ok, report.message
    with _clinic(phase1_url) as store:
        limit = store.get_limit("WRINKLE_BOTOX")
        assert limit is not None
        store.save_limit(attrs.evolve(limit, daily_limit=1))
        for _ in range(2):
            book(store, request(), dynamic=True, clock=ON_TODAY)
        totals = shadow_report(store, MONDAY, MONDAY)
        assert totals.by_kind == {("dynamic", "agree"): 1, ("dynamic", "control_only"): 1}
        (m,) = totals.mismatches
        # The count read before the scope's own insert, from the ledger's row.
        assert (m.held_count, m.daily_limit, m.held_minutes, m.capacity_minutes) == (
            1, 1, 40, 120)


def test_a_phase1_database_without_the_tables_gets_them(phase1_url: str) -> None:
    with open_sql(phase1_url) as conn:
        for table in SHADOW_TABLES:
            conn.execute(f'DROP TABLE "{table}"')
    assert status(phase1_url).shadow_tables == ()
    with _clinic(phase1_url) as store:  # shadowing nothing, failing nothing
        book(store, request(period=None), dynamic=False, clock=ON_TODAY)
        assert store.shadow.failures == 0
    report = migrate(phase1_url, to="phase1")
    assert report.ok, report.message
    assert tuple(status(phase1_url).shadow_tables) == SHADOW_TABLES


def test_memory_and_sql_purge_alike() -> None:
    from slotcap.adapters.memory import MemoryStore

    store = MemoryStore()
    book(store, request(), dynamic=True, clock=ON_TODAY)
    assert store.purge_shadow(dt.datetime(2000, 1, 1)) == 0
    assert store.purge_shadow(dt.datetime(2100, 1, 1)) == 1
    assert shadow_report(store, MONDAY, MONDAY).decisions == 0


def test_record_after_the_commit(phase1_url: str) -> None:
    with _clinic(phase1_url) as store:
        store.record_shadow_now(MONDAY, "WRINKLE_BOTOX", "legacy", "agree", None)
        store.record_shadow_now(MONDAY, "WRINKLE_BOTOX", "legacy", "agree", None)
        assert shadow_report(store, MONDAY, MONDAY).by_kind == {("legacy", "agree"): 2}


def test_a_shadow_table_gone_behind_the_stores_back_loses_no_booking(phase1_url: str) -> None:
    """A mismatch is written with its booking: PostgreSQL aborts the booking's
    transaction at the failed shadow statement, the shadow trips off and the booking is
    retried without it (never committed as a silent rollback); SQLite undoes the
    statement alone. The buffered agreements' flush fails apart, counted, never raised."""
    with _clinic(phase1_url) as store:
        book(store, request(period=None), dynamic=False, clock=ON_TODAY)  # an agreement
        limit = store.get_limit("WRINKLE_BOTOX")
        assert limit is not None
        store.save_limit(attrs.evolve(limit, daily_limit=1))
        with open_sql(phase1_url) as conn:
            conn.execute(f'DROP TABLE "{SHADOW_TABLES[0]}"')
        made = book(store, request(), dynamic=True, clock=ON_TODAY)  # control_only
        assert store.get_reservation(made.id) is not None
        assert store.shadow.failures == 1
        assert store.flush_shadow() == 0  # the agreement: its table is gone
        assert store.shadow.failures == 2
        assert store.shadow_buffer.waiting == 1  # kept for the next flush
