"""The ledger of held load (phase 2, ``slotcap.migration.ddl.ledger``): kept by the
database's triggers, exact for every writer, read by availability.

* A Hypothesis state machine on each engine writes the way every writer does — slotcap's
  bookings (both rules), rows inserted as they are, the legacy application's old-columns
  INSERT, status changes through the store and by hand, hand-written UPDATEs of the date,
  the period (to NULL too), the duration (to NULL too) and the service, bulk updates,
  deletes — and after every step the ledger equals a recount of the rows, row for row,
  and the store's availability (ledger) equals the full rule over the rows.
* The fill counts rows written while it runs exactly once (writer threads against the
  real PostgreSQL, the fill in small batches), on both engines.
* ``migrate status`` and ``validate`` catch a ledger that differs from the recount;
  ``migrate --to phase2`` gives a phase-2 database without one its ledger.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from tests.builders import ON_TODAY
from tests.integration.migration_helpers import seed_legacy
from tests.integration.schema_helpers import LEGACY_INSERT
from tests.integration.store_helpers import (
    MONDAY,
    SATURDAY,
    build_sql_database,
    open_sql_store,
    put,
    request,
    row,
)

from slotcap.adapters.sql import SqlStore
from slotcap.domain.model import LEGACY_SERVICE_CODES, Period, ReservationStatus
from slotcap.errors import SlotcapError
from slotcap.migration import migrate, status, validate
from slotcap.migration.ddl import ledger
from slotcap.migration.engine.steps import StepContext
from slotcap.migration.transitions.common import create_ledger_step, fill_ledger_step
from slotcap.sql import Dialect, SqlConnection, open_sql
from slotcap.usecases import book

TUESDAY = MONDAY + dt.timedelta(days=1)
DAYS = st.sampled_from([MONDAY, TUESDAY, SATURDAY])
CODES = st.sampled_from(LEGACY_SERVICE_CODES)
PERIODS = st.sampled_from(Period)
STATUSES = st.sampled_from(ReservationStatus)
TIMES = st.sampled_from(["10:00", "15:00", "아무때나"])


class LedgerAgrees(RuleBasedStateMachine):
    """Every writer, then: ledger == recount, and availability from it == the rows."""

    url: str
    store: SqlStore
    conn: SqlConnection

    @initialize()
    def empty(self) -> None:
        self.conn.execute('DELETE FROM "reservations"')
        self.ids: list[str] = []
        self.serial = 0

    def _new_id(self) -> str:
        self.serial += 1
        return f"lg{self.serial}"

    def _date(self, day: dt.date) -> Any:
        return self.store._dialect.date_in(day)

    # -- writers -------------------------------------------------------------------------

    @rule(day=DAYS, code=CODES, period=PERIODS, dynamic=st.booleans(), time=TIMES,
          phone=st.none() | st.sampled_from(["010-1111-2222", "+82 10-1111-2222"]))
    def book(self, day: dt.date, code: str, period: Period, dynamic: bool, time: str,
             phone: str | None) -> None:
        # On PostgreSQL one statement decides (its WHERE must agree with the domain rule:
        # book() raises RuntimeError otherwise); a phone seen before sends it to the
        # careful path (a duplicate, or a sibling when the name differs).
        body: dict[str, object] = {"service": code, "preferred_date": day.isoformat(),
                                   "preferred_time": time, "period": period.value}
        if phone is not None:
            body["phone"] = phone
        rid = self._new_id()
        try:
            book(self.store, request(**body), dynamic=dynamic, clock=ON_TODAY,
                 new_id=lambda: rid)
        except SlotcapError:
            return
        self.ids.append(rid)

    @rule(day=DAYS, code=CODES, period=st.none() | PERIODS,
          minutes=st.none() | st.integers(0, 90), status=STATUSES)
    def insert_as_is(self, day: dt.date, code: str, period: Period | None,
                     minutes: int | None, status: ReservationStatus) -> None:
        rid = self._new_id()
        put(self.store, row(day, code=code, period=period, minutes=minutes, status=status,
                            rid=rid))
        self.ids.append(rid)

    @rule(day=DAYS, code=CODES, time=TIMES)
    def legacy_application_inserts(self, day: dt.date, code: str, time: str) -> None:
        rid = self._new_id()
        self.conn.execute(LEGACY_INSERT, (rid, day.isoformat(), time, code))
        self.ids.append(rid)

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), status=STATUSES, by_store=st.booleans())
    def change_status(self, data: st.DataObject, status: ReservationStatus,
                      by_store: bool) -> None:
        rid = data.draw(st.sampled_from(self.ids))
        if by_store:
            self.store.set_status(rid, status)
        else:
            self.conn.execute('UPDATE "reservations" SET "status" = %s WHERE "id" = %s',
                              (status.value, rid))

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), day=DAYS)
    def move_date(self, data: st.DataObject, day: dt.date) -> None:
        self.conn.execute('UPDATE "reservations" SET "preferredDate" = %s WHERE "id" = %s',
                          (self._date(day), data.draw(st.sampled_from(self.ids))))

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), period=st.none() | PERIODS, minutes=st.none() | st.integers(0, 90))
    def move_period_and_duration(self, data: st.DataObject, period: Period | None,
                                 minutes: int | None) -> None:
        self.conn.execute(
            'UPDATE "reservations" SET "period" = %s, "estimatedDuration" = %s '
            'WHERE "id" = %s',
            (None if period is None else period.value, minutes,
             data.draw(st.sampled_from(self.ids))))

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), code=CODES)
    def change_service(self, data: st.DataObject, code: str) -> None:
        self.conn.execute('UPDATE "reservations" SET "service" = %s WHERE "id" = %s',
                          (code, data.draw(st.sampled_from(self.ids))))

    @rule(day=DAYS, status=STATUSES)
    def bulk_update(self, day: dt.date, status: ReservationStatus) -> None:
        # One statement, many rows (and an update of a column the ledger ignores).
        self.conn.execute(
            'UPDATE "reservations" SET "status" = %s, "notes" = %s WHERE "preferredDate" = %s',
            (status.value, "bulk", self._date(day)))

    @precondition(lambda self: self.ids)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        rid = data.draw(st.sampled_from(self.ids))
        self.conn.execute('DELETE FROM "reservations" WHERE "id" = %s', (rid,))
        self.ids.remove(rid)

    # -- what must hold ------------------------------------------------------------------

    @invariant()
    def ledger_equals_a_recount(self) -> None:
        assert ledger.ledger_recount_problems(self.conn) == {}

    @invariant()
    def availability_from_the_ledger_equals_the_rows(self) -> None:
        # The store's calendar and checks (the ledger, where it can size every row) against
        # the calendar summed over the rows (the full rule), one statement each.
        d = self.store._dialect
        full = {(d.date_out(r[0]), Period(r[1])): int(r[-1]) for r in self.conn.execute(
            self.store._core.current().calendar_full,
            {"first_day": d.date_in(MONDAY), "last_day": d.date_in(SATURDAY)})}
        booked = {(e.day, e.period): e.booked for e in self.store.calendar(MONDAY, SATURDAY)}
        assert booked == full
        for day, period in ((MONDAY, Period.MORNING), (SATURDAY, Period.AFTERNOON)):
            facts = self.store.period_facts(day, period, "SKIN_CARE")
            assert facts.held_minutes == full[day, period], (day, period)


def test_the_ledger_equals_a_recount_after_every_write(sql_url: str) -> None:
    build_sql_database(sql_url)
    conn = open_sql(sql_url)
    if conn.dialect is Dialect.POSTGRES:  # logic, not durability: no WAL flush per commit
        conn.execute(f'ALTER DATABASE "{sql_url.rpartition("/")[2]}" '
                     "SET synchronous_commit = off")
        conn.close()
        conn = open_sql(sql_url)
    store = open_sql_store(sql_url)
    machine = type("LedgerAgreesOn" + conn.dialect.value.title(), (LedgerAgrees,),
                   {"url": sql_url, "store": store, "conn": conn})
    try:
        run_state_machine_as_test(
            machine,
            settings=settings(deadline=None, stateful_step_count=15,
                              suppress_health_check=[HealthCheck.too_slow]),
        )
    finally:
        conn.close()
        store.close()


# -- the fill under concurrent writers ---------------------------------------------------------


def _writer(url: str, stop: threading.Event, days: list[str], counts: dict[str, int],
            seed: int) -> None:
    """Insert, cancel, move and delete rows on every date, old and new, until ``stop``."""
    n = 0
    with open_sql(url) as conn:
        if conn.dialect is Dialect.SQLITE:
            conn.raw.execute("PRAGMA busy_timeout = 5000")
        while not stop.is_set():
            n += 1
            try:
                with conn.transaction():  # BEGIN IMMEDIATE on SQLite
                    _write_some(conn, days, n, seed)
            except Exception as exc:
                # Two writers' transactions that touch the same ledger rows in opposite
                # orders can deadlock (PostgreSQL aborts one); a busy SQLite file can
                # refuse. Either way the transaction rolled back whole: nothing to count.
                if "deadlock" not in str(exc) and "locked" not in str(exc):
                    raise
                counts["refused"] = counts.get("refused", 0) + 1
            time.sleep(0.002)  # an application's pace, not a lock-hogging loop
            counts[f"w{seed}"] = n


def _write_some(conn: SqlConnection, days: list[str], n: int, seed: int) -> None:
    day = days[(n * 7 + seed) % len(days)]
    conn.execute(LEGACY_INSERT, (f"w{seed}_{n}", day, "10:00" if n % 2 else "오후 3시",
                                 LEGACY_SERVICE_CODES[n % 6]))
    if n % 3 == 0:
        conn.execute('UPDATE "reservations" SET "status" = %s WHERE "id" = %s',
                     ("CANCELLED", f"r_{(n * 31 + seed) % 600:06d}"))
    if n % 4 == 0:
        conn.execute('UPDATE "reservations" SET "preferredDate" = %s, "period" = %s, '
                     '"estimatedDuration" = 40 WHERE "id" = %s',
                     (days[(n * 13 + seed) % len(days)], "AFTERNOON",
                      f"r_{(n * 17 + seed) % 600:06d}"))
    if n % 5 == 0:
        conn.execute('DELETE FROM "reservations" WHERE "id" = %s', (f"w{seed}_{n - 3}",))


def test_rows_written_during_the_fill_are_counted_exactly_once(sql_url: str) -> None:
    with open_sql(sql_url) as conn:
        from slotcap.schema.legacy import create_legacy_schema

        create_legacy_schema(conn)
        seed_legacy(conn, 600)
    assert migrate(sql_url, to="phase1").ok
    days = [(dt.date(2025, 11, 25) + dt.timedelta(days=i)).isoformat() for i in range(45)]
    stop = threading.Event()
    counts: dict[str, int] = {}
    writers = [threading.Thread(target=_writer, args=(sql_url, stop, days, counts, s))
               for s in range(3)]
    batches: list[float] = []

    def written() -> int:
        return sum(v for k, v in counts.items() if k != "refused")

    class Counting(StepContext):
        def batch(self) -> None:
            # After every committed batch, let the writers commit something before the
            # next one: rows land both behind and ahead of the moving frontier.
            batches.append(time.monotonic())
            seen, deadline = written(), time.monotonic() + 2
            while written() == seen and time.monotonic() < deadline:
                time.sleep(0.001)

    with open_sql(sql_url) as conn:
        ctx = Counting(transition="test", progress=lambda _line: None, batch_size=7)
        if conn.dialect is Dialect.SQLITE:
            conn.raw.execute("PRAGMA busy_timeout = 5000")
        with conn.transaction():
            create_ledger_step(conn, ctx)
        for w in writers:
            w.start()
        try:
            time.sleep(0.2)  # writers running before the first batch
            before = dict(counts)
            fill_ledger_step(conn, ctx)
            during = {k: counts.get(k, 0) - before.get(k, 0) for k in counts if k != "refused"}
            time.sleep(0.2)  # and after the last
        finally:
            stop.set()
            for w in writers:
                w.join()
        # The fill took many batches and the writers wrote while it ran.
        assert len(batches) >= 10, batches
        assert sum(during.values()) >= len(batches), during
        assert ledger.fill_done(conn)
        assert ledger.ledger_recount_problems(conn) == {}
        held = conn.scalar('SELECT SUM("held") FROM "slotcap_ledger_services"')
        assert held == conn.scalar(
            "SELECT COUNT(*) FROM \"reservations\" WHERE \"status\" IN ('PENDING','CONFIRMED')")


# -- status, validate, catch-up ----------------------------------------------------------------


def test_status_and_validate_recount_the_ledger(sql_url: str) -> None:
    with open_sql(sql_url) as conn:
        from slotcap.schema.legacy import create_legacy_schema

        create_legacy_schema(conn)
        seed_legacy(conn, 120)
    assert migrate(sql_url, to="phase2").ok
    assert status(sql_url).location.state == "settled"
    with open_sql(sql_url) as conn:
        assert validate(conn).passed
        # A hand-edited ledger row (no trigger keeps the ledger itself).
        conn.execute('UPDATE "slotcap_ledger_periods" SET "heldMinutes" = "heldMinutes" + 1 '
                     'WHERE "preferredDate" = (SELECT MIN("preferredDate") '
                     "FROM \"slotcap_ledger_periods\") AND \"period\" = 'MORNING'")
        report = validate(conn)
        check = next(c for c in report.checks if c.name == "ledger_matches_recount")
        assert not check.passed and check.detail == {
            "rows_differing": {"slotcap_ledger_periods": 1}}
    where = status(sql_url).location
    assert where.state == "inconsistent"
    assert any("slotcap_ledger_periods: 1 row(s) differ" in p for p in where.problems)

    # A phase-2 database without its ledger (made before it existed): status names the
    # way out, and that command creates and fills it.
    with open_sql(sql_url) as conn, conn.transaction():
        ledger.drop_ledger(conn)
    where = status(sql_url).location
    assert where.state == "inconsistent"
    assert any("ledger missing" in p and "migrate --to phase2" in p for p in where.problems)
    assert migrate(sql_url, to="phase2").ok
    assert status(sql_url).location.state == "settled"
