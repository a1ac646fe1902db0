"""What only the SQL stores do: live with the legacy application's own INSERT, follow
the operator's phases without a restart, report busy locks, run on connections the
application owns, and keep passwords out of messages."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from benchmarks._explain import StoreStatements
from tests.builders import ON_TODAY
from tests.conftest import require_psycopg
from tests.integration.schema_helpers import contract, legacy_insert
from tests.integration.store_helpers import (
    MONDAY,
    build_sql_database,
    open_sql_store,
    put,
    request,
    row,
)

from slotcap.adapters.postgres import PostgresStore, advisory_lock_keys
from slotcap.adapters.sqlite import SqliteStore
from slotcap.domain.defaults import DEFAULT_SERVICES
from slotcap.domain.model import Period
from slotcap.domain.rules import minutes_for
from slotcap.errors import ConfigurationError, SchemaStateError, StoreBusy
from slotcap.ports import SchemaState, Store
from slotcap.sql import open_sql
from slotcap.usecases import book

M, A = Period.MORNING, Period.AFTERNOON


@pytest.fixture
def expanded_url(sql_url: str) -> str:
    build_sql_database(sql_url, SchemaState.EXPANDED)
    return sql_url


@pytest.fixture
def store(expanded_url: str) -> Iterator[Store]:
    store = open_sql_store(expanded_url)
    yield store
    store.close()


def state_of(store: Store) -> SchemaState:
    """Read afresh each time (a bare property read would be narrowed by mypy)."""
    return store.schema_state


def held(store: Store, day: dt.date = MONDAY) -> dict[Period, int]:
    return {p: store.period_facts(day, p, "SKIN_CARE").held_minutes for p in Period}


# -- the legacy application's INSERT -------------------------------------------------------


def test_legacy_insert_keeps_working_on_the_expanded_schema(
    expanded_url: str, store: Store
) -> None:
    with open_sql(expanded_url) as conn:
        legacy_insert(conn, "r_1", "2025-12-01")  # the reference DDL's own statement
        legacy_insert(conn, "r_2", "2025-12-01", "3 PM", "SKIN_CARE")
    stored = store.get_reservation("r_1")
    assert stored is not None
    assert (stored.service, stored.preferred_time, stored.period, stored.service_id) == (
        "WRINKLE_BOTOX", "10:00", None, None,
    )
    assert store.daily_facts(MONDAY, "WRINKLE_BOTOX").held_count == 1
    # Neither has a period or a duration yet: each holds its service's minutes in both.
    assert held(store) == {M: 40 + 70, A: 40 + 70}


def test_a_row_whose_service_is_unknown_holds_the_longest_service(
    expanded_url: str, store: Store
) -> None:
    with open_sql(expanded_url) as conn:
        conn.execute("""DELETE FROM "services" WHERE "code" = 'BODY_CARE'""")
        legacy_insert(conn, "r_1", "2025-12-01", code="BODY_CARE")
    services = {s.code: s for s in DEFAULT_SERVICES if s.code != "BODY_CARE"}
    reservation = store.get_reservation("r_1")
    assert reservation is not None
    assert held(store)[M] == minutes_for(reservation, services) == 70


# -- following the phases ------------------------------------------------------------------


def test_a_live_store_follows_phase_4_and_its_rollback(expanded_url: str, store: Store) -> None:
    from slotcap.migration.phases import rollback

    put(store, row(code="SKIN_CARE", period=M, minutes=70))
    assert state_of(store) is SchemaState.EXPANDED
    contract(expanded_url)  # the operator runs phase 4; the store is not told

    # The first booking meets the dropped column, re-reads the schema and carries on.
    first = book(store, request(service="SKIN_CARE"), dynamic=True, clock=ON_TODAY)
    assert state_of(store) is SchemaState.CONTRACTED
    assert store.get_reservation(first.id) is not None
    with pytest.raises(SchemaStateError):
        store.daily_facts(MONDAY, "SKIN_CARE")

    rollback(expanded_url, to="phase2")  # and takes phase 4 back
    # A reservation carrying both column sets is dual-written again after the NOT NULL
    # (or CHECK) violation on the re-added legacy column makes the store re-read.
    second = row(code="SKIN_CARE", period=M, minutes=70)
    put(store, second)
    assert state_of(store) is SchemaState.EXPANDED
    stored = store.get_reservation(second.id)
    assert stored is not None
    assert attrs.evolve(stored, created_at=None, updated_at=None, status_changed_at=None) == second
    assert store.daily_facts(MONDAY, "SKIN_CARE").held_count == 3
    assert held(store)[M] == 210


def test_a_live_store_follows_phase_1_rollback(expanded_url: str, store: Store) -> None:
    from slotcap.migration.phases import rollback

    assert store.period_facts(MONDAY, M, "SKIN_CARE").held_minutes == 0
    rollback(expanded_url, to="legacy")
    with pytest.raises(SchemaStateError):
        store.period_facts(MONDAY, M, "SKIN_CARE")
    assert store.schema_state is SchemaState.LEGACY
    stored = book(store, request(period=None), dynamic=False, clock=ON_TODAY)
    assert store.get_reservation(stored.id) is not None


@pytest.mark.postgres
def test_a_prepared_plan_outlived_by_a_type_change_is_replanned(pg_url: str) -> None:
    import psycopg

    build_sql_database(pg_url)
    store = PostgresStore.open(pg_url)
    put(store, r := row())
    for _ in range(6):  # psycopg prepares a statement on its fifth execution
        assert store.get_reservation(r.id) is not None
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute('ALTER TABLE "reservations" ALTER COLUMN "serviceName" TYPE varchar(200)')
    stored = store.get_reservation(r.id)  # "cached plan must not change result type"
    assert stored is not None and stored.service_name == r.service_name
    store.close()


def test_refresh_schema_state_is_public(expanded_url: str, store: Store) -> None:
    assert isinstance(store, PostgresStore | SqliteStore)
    contract(expanded_url)
    assert store.refresh_schema_state() is SchemaState.CONTRACTED


def test_a_database_without_reservations_is_refused(sql_url: str) -> None:
    with pytest.raises(SchemaStateError, match="no reservations table"):
        open_sql_store(sql_url)


# -- busy ----------------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_reports_busy_after_bounded_retries(pg_url: str) -> None:
    import psycopg

    build_sql_database(pg_url)
    store = PostgresStore.open(pg_url, lock_timeout=0.1, busy_budget=0.4)
    key = advisory_lock_keys(MONDAY, "SKIN_CARE", [A])[0]
    with psycopg.connect(pg_url) as holder:  # a transaction holding the afternoon's lock
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [key])
        started = time.monotonic()
        with pytest.raises(StoreBusy) as busy, store.booking(MONDAY, "SKIN_CARE", [A]):
            pass
        waited = time.monotonic() - started
        # Another period of the same date is not blocked.
        with store.booking(MONDAY, "WRINKLE_BOTOX", [M]) as tx:
            assert tx.period_facts(MONDAY, M, "WRINKLE_BOTOX").held_minutes == 0
    assert busy.value.code == "store_busy"
    assert 0.3 <= waited < 3
    with store.booking(MONDAY, "SKIN_CARE", [A]):  # free again
        pass
    store.close()


@pytest.mark.postgres
def test_a_lock_wait_inside_the_booking_is_busy_too(pg_url: str) -> None:
    import psycopg

    build_sql_database(pg_url)
    store = PostgresStore.open(pg_url, lock_timeout=0.2, busy_budget=0.2)
    with psycopg.connect(pg_url) as admin:  # editing the service row, not yet committed
        admin.execute("""SELECT 1 FROM "services" WHERE "code" = 'SKIN_CARE' FOR UPDATE""")
        # The insert's foreign-key check must share-lock that row: it waits, then gives up.
        with pytest.raises(StoreBusy):
            put(store, row(code="SKIN_CARE"))
    put(store, row(code="SKIN_CARE"))
    assert store.daily_facts(MONDAY, "SKIN_CARE").held_count == 1
    store.close()


def test_sqlite_reports_busy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    build_sql_database(url)
    store = SqliteStore.open(tmp_path / "busy.db", busy_timeout=0.1)
    other = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreBusy), store.booking(MONDAY, "SKIN_CARE", [A]):
            pass
        assert store.period_facts(MONDAY, A, "SKIN_CARE").held_minutes == 0  # WAL: reads go on
    finally:
        other.execute("ROLLBACK")
        other.close()
        store.close()


# -- on the application's own connections --------------------------------------------------


def _book_from_threads(store: Store, threads: int = 4, tag: str = "t") -> list[BaseException]:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(3):
                put(store, row(code="SKIN_CARE", period=M, minutes=10, rid=f"{tag}{n}_{i}"))
                store.period_facts(MONDAY, A, "SKIN_CARE")
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return errors


def test_sqlite_store_on_the_applications_connection(tmp_path: Path) -> None:
    build_sql_database(f"sqlite:///{tmp_path / 'app.db'}")
    # Python's default (legacy) transaction mode and a Row factory, as an app might have.
    conn = sqlite3.connect(tmp_path / "app.db", check_same_thread=False)
    conn.row_factory = sqlite3.Row
    store = SqliteStore.from_connection(conn)
    assert _book_from_threads(store) == []
    assert held(store)[M] == 120
    store.close()
    assert conn.execute("SELECT COUNT(*) FROM reservations").fetchone()[0] == 12  # still open
    conn.close()


@pytest.mark.postgres
def test_postgres_store_on_the_applications_connection(pg_url: str) -> None:
    import psycopg
    from psycopg.rows import dict_row

    build_sql_database(pg_url)
    # Not autocommit, dict rows: the store must neither leave transactions open nor care.
    with psycopg.connect(pg_url, row_factory=dict_row) as conn:
        store = PostgresStore.from_connection(conn)
        assert _book_from_threads(store) == []
        assert held(store)[M] == 120
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


class _TinyPool:
    """What psycopg_pool.ConnectionPool offers the store: ``connection()``."""

    def __init__(self, url: str) -> None:
        import psycopg

        self._idle = [psycopg.connect(url, autocommit=True) for _ in range(2)]
        self._lock = threading.Lock()
        self._free = threading.Semaphore(2)
        self.borrowed = 0

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        with self._free:
            with self._lock:
                conn = self._idle.pop()
                self.borrowed += 1
            try:
                yield conn
            finally:
                with self._lock:
                    self._idle.append(conn)

    def close(self) -> None:
        for conn in self._idle:
            conn.close()


@pytest.mark.postgres
def test_postgres_store_on_a_pool_and_on_a_factory(pg_url: str) -> None:
    import psycopg

    build_sql_database(pg_url)
    pool = _TinyPool(pg_url)
    store = PostgresStore(pool)
    assert _book_from_threads(store) == []
    assert held(store)[M] == 120 and pool.borrowed > 12
    store.close()
    pool.close()

    opened: list[Any] = []

    def factory() -> Any:
        opened.append(psycopg.connect(pg_url))
        return opened[-1]

    store = PostgresStore(factory)
    assert _book_from_threads(store, threads=3, tag="f") == []
    assert len(opened) == 4  # one per thread, plus the opening thread's
    store.close()
    assert all(c.closed for c in opened)


def test_a_wrong_connection_argument_is_refused() -> None:
    require_psycopg()
    with pytest.raises(ConfigurationError):
        PostgresStore(42)  # type: ignore[arg-type]


def test_a_failed_connection_never_shows_the_password() -> None:
    require_psycopg()
    with pytest.raises(ConfigurationError) as failed:
        PostgresStore.open("postgresql://clinic:s3cr3t-pw@127.0.0.1:1/clinic?connect_timeout=2")
    assert "s3cr3t-pw" not in str(failed.value)
    assert "clinic:***@127.0.0.1:1" in str(failed.value)


# -- locks and plans -----------------------------------------------------------------------


def test_lock_keys_are_stable_and_ordered() -> None:
    both = advisory_lock_keys(MONDAY, "SKIN_CARE", [A, M, A])
    assert both == advisory_lock_keys(MONDAY, "SKIN_CARE", [M, A])
    assert len(both) == 3 and both[:1] == advisory_lock_keys(MONDAY, "SKIN_CARE", [M])[:1]
    assert advisory_lock_keys(MONDAY, "SKIN_CARE", [])[0] == both[-1]
    # Stable across processes and releases: other tools may take the same lock.
    assert both[-1] == advisory_lock_keys(dt.date(2025, 12, 1), "SKIN_CARE", [])[0]
    assert all(-(2**63) <= k < 2**63 for k in both)


def test_sqlite_period_facts_uses_the_period_index(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    build_sql_database(url)
    store = SqliteStore.open(tmp_path / "plan.db")
    built = StoreStatements(store)
    statements = [
        built.period_facts(MONDAY, M, "SKIN_CARE"),
        built.period_facts_booking(MONDAY, M, "SKIN_CARE"),
        built.period_facts_fallback(MONDAY, M, "SKIN_CARE"),
    ]
    conn = sqlite3.connect(tmp_path / "plan.db")
    plan, locked_plan, full_plan = (
        "\n".join(r[-1] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
        for sql, params in statements
    )
    conn.close()
    store.close()
    # With phase 2's ledger the check's and the booking's statements are one primary-key
    # search of the ledger (and the one-row frontier), never the reservations; the full
    # rule, run when the ledger cannot size a row, probes the period index twice
    # (period = P, period IS NULL).
    ledger_pk = "SEARCH l USING INDEX sqlite_autoindex_slotcap_ledger_periods_1"
    assert ledger_pk in plan and ledger_pk in locked_plan, plan + locked_plan
    assert " r " not in plan + locked_plan, plan + locked_plan
    assert full_plan.count("reservations_preferredDate_period_status_idx") == 2, full_plan
    assert "SCAN r" not in full_plan, full_plan


def test_held_term_is_phase_2_partial_index_predicate() -> None:
    # SQLite uses a partial index only when the query's WHERE holds the index
    # predicate's very term, list order included: one text for both, same statuses.
    from slotcap.domain.model import HOLDING_STATUSES
    from slotcap.migration.ddl.names import HELD_STATUSES
    from slotcap.sql.names import HOLDING_LIST

    assert f'"status" IN {HOLDING_LIST}' == HELD_STATUSES
    assert {s.value for s in HOLDING_STATUSES} == set(HOLDING_LIST.strip("()").replace(
        "'", "").split(","))
