"""The SQL stores against the in-memory reference, side by side (Hypothesis stateful).

Random bookings under both rules, rows as the legacy application writes them, status
changes, service edits (duration, deactivation, soft delete), slot and limit toggles,
weekly hours changed through ``slotcap.usecases.hours``:
after every step both stores must have taken the same decisions and hold the same
minutes and counts everywhere. Duplicates (a reservation id, a closure id, a service
code used twice) must raise the same error type and code on both.
"""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from tests.builders import ON_TODAY
from tests.integration.store_helpers import (
    MONDAY,
    SATURDAY,
    SUNDAY,
    build_sql_database,
    open_sql_store,
    put,
    request,
    reset_to_defaults,
    row,
)
from tests.strategies.budget import examples

from slotcap.adapters.memory import MemoryStore
from slotcap.adapters.sql import SqlStore
from slotcap.adapters.sqlite import SqliteStore
from slotcap.domain.closures import Closure
from slotcap.domain.defaults import DEFAULT_TIME_SLOTS
from slotcap.domain.model import (
    LEGACY_SERVICE_CODES,
    ClinicTimeSlot,
    Period,
    Reservation,
    ReservationStatus,
)
from slotcap.errors import SlotcapError
from slotcap.ports import Store
from slotcap.sql import open_sql
from slotcap.sql.url import connect_sqlite
from slotcap.usecases import book, check_availability
from slotcap.usecases.hours import list_hours, set_hours

DAYS = st.sampled_from([MONDAY, SATURDAY, SUNDAY])
CODES = st.sampled_from([*LEGACY_SERVICE_CODES, "LASER"])  # LASER is unknown
LEGACY_CODES = st.sampled_from(LEGACY_SERVICE_CODES)
PERIODS = st.sampled_from(Period)
# Read with the clinic's hours: morning, afternoon, "2:30" = 14:30, and unreadable ones.
TIMES = st.sampled_from(["10:00", "15:00", "2:30", "오전 10시", "오후 3시", "아무때나", "12:30"])
#: Quarter hours from 06:00 to 21:00: often overlapping, often touching the seed's hours.
_QUARTERS = st.integers(24, 84).map(lambda q: dt.time(q // 4, q % 4 * 15))


def _stamp_free(r: Reservation) -> Reservation:
    return attrs.evolve(r, created_at=None, updated_at=None, status_changed_at=None)


def _result(call: Callable[[], Any]) -> tuple[str, Any]:
    """("ok", the value) or (the exception's type, its code): comparable across stores."""
    try:
        return "ok", call()
    except Exception as exc:  # whatever it is, the reference must raise the same
        return type(exc).__name__, getattr(exc, "code", None)


def _outcome(call: Callable[[], Reservation]) -> tuple[str, Any]:
    """What a booking did, comparable across stores (timestamps differ by design)."""
    try:
        return "booked", _stamp_free(call())
    except SlotcapError as exc:
        decision = getattr(exc, "decision", None)
        return type(exc).__name__, (exc.code, decision)


class StoresAgree(RuleBasedStateMachine):
    """Set ``url`` (and so ``sql``) before running; each example starts from defaults."""

    url: str
    sql: SqlStore

    def __init__(self) -> None:
        super().__init__()
        self.ref = MemoryStore()
        reset_to_defaults(self.url, self.sql)
        self.ids = (f"h{n}" for n in itertools.count())
        self.known: list[str] = []
        self._closures_init()

    def both(self, call: Callable[[Store], Any]) -> tuple[Any, Any]:
        return call(self.ref), call(self.sql)

    def agree(self, call: Callable[[Store], Any]) -> tuple[str, Any]:
        """``call`` on both stores: the same result, or an error of the same type and
        code on both (the ports' error contract: never a bare ValueError or a driver
        error from one store and a slotcap error from the other)."""
        ref: tuple[str, Any] = _result(lambda: call(self.ref))
        assert ref == _result(lambda: call(self.sql))
        return ref

    # -- bookings -----------------------------------------------------------------------

    def _book(self, dynamic: bool, **body: object) -> None:
        rid = next(self.ids)
        wanted = request(**body)  # one patient for both stores
        ref, sql = self.both(
            lambda s: _outcome(lambda: book(s, wanted, dynamic=dynamic, clock=ON_TODAY,
                                            new_id=lambda: rid))
        )
        assert ref == sql
        if ref[0] == "booked":
            self.known.append(rid)

    @rule(day=DAYS, code=CODES, period=PERIODS)
    def book_dynamic(self, day: dt.date, code: str, period: Period) -> None:
        self._book(True, preferred_date=day.isoformat(), service=code, period=period.value,
                   preferred_time=None)

    @rule(day=DAYS, code=CODES, time=TIMES)
    def book_legacy(self, day: dt.date, code: str, time: str) -> None:
        self._book(False, preferred_date=day.isoformat(), service=code, period=None,
                   preferred_time=time)

    @rule(day=DAYS, code=LEGACY_CODES, backfilled=st.booleans(),
          period=st.none() | PERIODS, minutes=st.none() | st.integers(0, 120))
    def legacy_application_writes(
        self, day: dt.date, code: str, backfilled: bool, period: Period | None, minutes: int | None
    ) -> None:
        """A row the legacy application wrote (old columns only), maybe since backfilled."""
        rid = next(self.ids)
        r = row(day, code=code, period=period, minutes=minutes, new_columns=backfilled, rid=rid)
        self.agree(lambda s: put(s, r))
        self.known.append(rid)
        stored = self.sql.get_reservation(rid)
        assert stored is not None and _stamp_free(stored) == r

    # -- changes ----------------------------------------------------------------------------

    @precondition(lambda self: bool(self.known))
    @rule(data=st.data(), day=DAYS, code=LEGACY_CODES)
    def insert_a_used_id_again(self, data: st.DataObject, day: dt.date, code: str) -> None:
        """A second reservation of one id: ReservationExists on every store."""
        rid = data.draw(st.sampled_from(self.known))
        assert self.agree(lambda s: put(s, row(day, code=code, rid=rid)))[0] \
            == "ReservationExists"

    @rule(code=LEGACY_CODES)
    def add_a_service_with_a_taken_code(self, code: str) -> None:
        """Another service (another id) with a code in use: ServiceExists everywhere."""
        service = self.ref.get_service(code)
        assert service is not None
        other = attrs.evolve(service, id=f"srv_other_{code.lower()}")
        assert self.agree(lambda s: s.save_service(other))[0] == "ServiceExists"

    @precondition(lambda self: bool(self.known))
    @rule(data=st.data(), status=st.sampled_from(ReservationStatus))
    def change_status(self, data: st.DataObject, status: ReservationStatus) -> None:
        rid = data.draw(st.sampled_from(self.known))
        ref, sql = self.both(lambda s: _stamp_free(s.set_status(rid, status, changed_by="관리자")))
        assert ref == sql

    @rule(code=LEGACY_CODES, duration=st.integers(0, 90), buffer=st.integers(0, 20))
    def edit_duration(self, code: str, duration: int, buffer: int) -> None:
        service = self.ref.get_service(code)
        assert service is not None
        changed = attrs.evolve(service, duration_minutes=duration, buffer_minutes=buffer)
        self.agree(lambda s: s.save_service(changed))

    @rule(code=LEGACY_CODES, active=st.booleans(), deleted=st.booleans())
    def toggle_service(self, code: str, active: bool, deleted: bool) -> None:
        service = self.ref.get_service(code)
        assert service is not None
        changed = attrs.evolve(
            service, is_active=active, deleted_at=dt.datetime(2025, 11, 1) if deleted else None
        )
        self.agree(lambda s: s.save_service(changed))

    @rule(slot=st.sampled_from(DEFAULT_TIME_SLOTS), active=st.booleans())
    def toggle_slot(self, slot: ClinicTimeSlot, active: bool) -> None:
        self.both(lambda s: s.save_time_slot(attrs.evolve(slot, is_active=active)))

    @rule(code=LEGACY_CODES, limit=st.integers(0, 4), active=st.booleans())
    def set_limit(self, code: str, limit: int, active: bool) -> None:
        current = self.ref.get_limit(code)
        assert current is not None
        changed = attrs.evolve(current, daily_limit=limit, is_active=active)
        self.both(lambda s: s.save_limit(changed))

    # -- weekly hours (slotcap hours set) ---------------------------------------------------

    @rule(weekday=st.sampled_from(["mon", "sat", "sun"]), period=PERIODS,
          times=st.none() | st.tuples(_QUARTERS, _QUARTERS))
    def change_hours(
        self, weekday: str, period: Period, times: tuple[dt.time, dt.time] | None
    ) -> None:
        """Open, move or close a period through the use case: same outcome, same
        over-capacity dates, same hours on every store."""
        ref, sql = self.both(lambda s: _hours_outcome(s, weekday, period, times))
        assert ref == sql
        assert list_hours(self.ref) == list_hours(self.sql)
    # -- closures and overrides (self-contained: helpers, rules) -------------------------------

    def _closures_init(self) -> None:
        # The SQL database is reused between examples: start without closures.
        for c in self.sql.list_closures():
            self.sql.remove_closure(c.id)
        self.closure_ids = (f"c{n}" for n in itertools.count())
        self.closures_added: dict[str, Closure] = {}

    @rule(day=DAYS, span=st.none() | st.integers(0, 6), period=st.none() | PERIODS,
          rrule=st.none() | st.sampled_from(["FREQ=DAILY", "FREQ=WEEKLY", "FREQ=WEEKLY;COUNT=1"]),
          capacity=st.none() | st.integers(0, 300), reason=st.sampled_from(["설날", "training"]))
    def add_closure(
        self, day: dt.date, span: int | None, period: Period | None, rrule: str | None,
        capacity: int | None, reason: str,
    ) -> None:
        closure = Closure(
            id=next(self.closure_ids), start_date=day,
            end_date=None if span is None else day + dt.timedelta(days=span), period=period,
            rrule=rrule, capacity_minutes=capacity, reason=reason,
        )
        self.agree(lambda s: s.add_closure(closure))
        self.closures_added[closure.id] = closure
        ref, sql = self.both(lambda s: [c.id for c in s.list_closures()])
        assert ref == sql

    @precondition(lambda self: bool(self.closures_added))
    @rule(data=st.data())
    def add_a_closure_again(self, data: st.DataObject) -> None:
        """A closure id saved before (removed since, or not): both stores agree —
        saved again, or ClosureExists on both."""
        closure = self.closures_added[data.draw(st.sampled_from(sorted(self.closures_added)))]
        self.agree(lambda s: s.add_closure(closure))

    @precondition(lambda self: bool(self.closures_added))
    @rule(data=st.data())
    def remove_closure(self, data: st.DataObject) -> None:
        cid = data.draw(st.sampled_from(sorted(self.closures_added)))
        ref, sql = self.both(lambda s: s.remove_closure(cid))
        assert ref == sql

    # -- agreement ----------------------------------------------------------------------------

    @rule(day=DAYS, code=CODES, period=st.none() | PERIODS, dynamic=st.booleans())
    def check(self, day: dt.date, code: str, period: Period | None, dynamic: bool) -> None:
        ref, sql = self.both(
            lambda s: check_availability(s, day, code, period=period, dynamic=dynamic)
        )
        assert ref == sql

    @invariant()
    def same_minutes_everywhere(self) -> None:
        ref, sql = self.both(lambda s: s.calendar(MONDAY, SUNDAY))
        assert ref == sql

    @invariant()
    def same_counts_everywhere(self) -> None:
        for day in (MONDAY, SATURDAY):
            ref, sql = self.both(lambda s: s.daily_facts(day, "SKIN_CARE"))  # noqa: B023
            assert ref == sql


def _hours_outcome(
    store: Store, weekday: str, period: Period, times: tuple[dt.time, dt.time] | None
) -> tuple[Any, ...]:
    """What ``set_hours`` did, comparable across stores."""
    try:
        if times is None:
            change = set_hours(store, weekday, period, closed=True, clock=ON_TODAY)
        else:
            change = set_hours(store, weekday, period, start=times[0], end=times[1],
                               clock=ON_TODAY)
    except SlotcapError as exc:
        return type(exc).__name__, exc.code, getattr(exc, "fields", None)
    return "set", change


def _fast_sqlite(path: Path) -> SqlStore:
    """This test checks logic, not durability: skip the fsync per commit (4x faster)."""

    def connect() -> sqlite3.Connection:
        conn = connect_sqlite(str(path))
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    return SqliteStore(connect)


@pytest.mark.parametrize(
    ("engine", "times"),
    [("sqlite", 0.3), pytest.param("postgresql", 0.25, marks=pytest.mark.postgres)],
)
def test_sql_store_agrees_with_the_memory_store(
    engine: str, times: float, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'agree.db'}"
        if engine == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    build_sql_database(url)
    if engine == "postgresql":
        with open_sql(url) as conn:  # as for SQLite: no flush per commit, same semantics
            conn.execute(f'ALTER DATABASE "{url.rpartition("/")[2]}" SET synchronous_commit = off')
    store = _fast_sqlite(tmp_path / "agree.db") if engine == "sqlite" else open_sql_store(url)
    machine = type("StoresAgreeOn" + engine.title(), (StoresAgree,), {"url": url, "sql": store})
    try:
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=examples(times),
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        store.close()
