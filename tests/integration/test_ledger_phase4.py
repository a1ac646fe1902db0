"""The ledger after phase 4 (docs/capacity.md, "The ledger"): the (date, period) minutes
kept by a trigger that reads no legacy column, exact for every writer; checked by
``status``/``validate``; its per-service counts recounted by phase 4's rollback.

* The state machine of ``test_ledger`` on a contracted database: bookings, rows inserted
  as they are, status changes through the store and by hand, hand-written UPDATEs of the
  date, the period, the duration and the service, bulk updates, deletes — after every
  step the ledger equals a recount and availability from it equals the rows.
* Phase 4 keeps the minutes the triggers counted up to its contract (no recount), swaps
  the trigger, drops the per-service table; its rollback counts both parts again.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule, run_state_machine_as_test
from tests.integration.migration_helpers import seed_legacy
from tests.integration.store_helpers import build_sql_database, open_sql_store, put, row
from tests.integration.test_ledger import CODES, DAYS, PERIODS, STATUSES, LedgerAgrees

from slotcap.domain.model import ReservationStatus
from slotcap.migration import migrate, rollback, status, validate
from slotcap.migration.ddl import ledger
from slotcap.ports import SchemaState
from slotcap.sql import Dialect, open_sql
from slotcap.sql.names import LEDGER_FILL, LEDGER_PERIODS, LEDGER_SERVICES

_MINUTES = st.integers(0, 90)


class ContractedLedgerAgrees(LedgerAgrees):
    """The same writers on phase 4's columns: no legacy column, period and duration NOT
    NULL (the rules that wrote NULLs or the legacy columns are left out)."""

    legacy_application_inserts = None  # type: ignore[assignment]

    @rule(day=DAYS, code=CODES, period=PERIODS, minutes=_MINUTES, status=STATUSES)
    def insert_as_is(self, day: dt.date, code: str, period: object, minutes: int,
                     status: ReservationStatus) -> None:
        rid = self._new_id()
        put(self.store, row(day, code=code, period=period, minutes=minutes,  # type: ignore[arg-type]
                            status=status, rid=rid))
        self.ids.append(rid)

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), period=PERIODS, minutes=_MINUTES)
    def move_period_and_duration(self, data: st.DataObject, period: object,
                                 minutes: int) -> None:
        self.conn.execute(
            'UPDATE "reservations" SET "period" = %s, "estimatedDuration" = %s '
            'WHERE "id" = %s',
            (getattr(period, "value", period), minutes, data.draw(st.sampled_from(self.ids))))

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), code=CODES)
    def change_service(self, data: st.DataObject, code: str) -> None:
        # The new columns only (what a contracted application writes when a booking changes
        # service): the minutes move with the duration.
        self.conn.execute(
            'UPDATE "reservations" SET "serviceId" = %s, "serviceName" = %s, '
            '"estimatedDuration" = "estimatedDuration" + 5 WHERE "id" = %s',
            (f"srv_{code.lower()}", code.title(), data.draw(st.sampled_from(self.ids))))


def test_the_contracted_ledger_equals_a_recount_after_every_write(sql_url: str) -> None:
    build_sql_database(sql_url, SchemaState.CONTRACTED)
    conn = open_sql(sql_url)
    assert ledger.contracted(conn) and ledger.fill_done(conn)
    assert LEDGER_SERVICES not in conn.tables()
    if conn.dialect is Dialect.POSTGRES:  # logic, not durability: no WAL flush per commit
        conn.execute(f'ALTER DATABASE "{sql_url.rpartition("/")[2]}" '
                     "SET synchronous_commit = off")
        conn.close()
        conn = open_sql(sql_url)
    store = open_sql_store(sql_url)
    assert store._core.current().uses_ledger  # the read path uses the contracted ledger
    machine = type("ContractedLedgerOn" + conn.dialect.value.title(),
                   (ContractedLedgerAgrees,), {"url": sql_url, "store": store, "conn": conn})
    try:
        run_state_machine_as_test(
            machine,
            settings=settings(deadline=None, stateful_step_count=15,
                              suppress_health_check=[HealthCheck.too_slow]),
        )
    finally:
        conn.close()
        store.close()


def _ledger_rows(url: str) -> list[tuple[object, ...]]:
    with open_sql(url) as conn:
        return [tuple(r) for r in conn.execute(
            f'SELECT CAST("preferredDate" AS TEXT), CAST("period" AS TEXT), "heldMinutes", '
            f'"unsized" FROM "{LEDGER_PERIODS}" WHERE "heldMinutes" <> 0 OR "unsized" <> 0 '
            'ORDER BY 1, 2')]


def test_phase4_keeps_the_minutes_and_its_rollback_recounts_both_parts(sql_url: str) -> None:
    with open_sql(sql_url) as conn:
        from slotcap.schema.legacy import create_legacy_schema

        create_legacy_schema(conn)
        seed_legacy(conn, 300)
    assert migrate(sql_url, to="phase2").ok
    before = _ledger_rows(sql_url)
    assert before
    assert migrate(sql_url, to="phase4", confirm=True).ok
    # The same rows, not a recount: the contract kept them as the triggers left them.
    assert _ledger_rows(sql_url) == before
    assert status(sql_url).location.state == "settled"
    with open_sql(sql_url) as conn:
        assert ledger.fill_done(conn) and LEDGER_SERVICES not in conn.tables()
        check = next(c for c in validate(conn).checks if c.name == "ledger_matches_recount")
        assert check.passed and check.phase == "phase4"
        # A hand-edited ledger row: status and validate catch it after phase 4 too.
        conn.execute(f'UPDATE "{LEDGER_PERIODS}" SET "heldMinutes" = "heldMinutes" + 1 '
                     f'WHERE "preferredDate" = (SELECT MIN("preferredDate") FROM '
                     f'"{LEDGER_PERIODS}") AND "period" = \'MORNING\'')
        check = next(c for c in validate(conn).checks if c.name == "ledger_matches_recount")
        assert not check.passed
    where = status(sql_url).location
    assert where.state == "inconsistent"
    assert any(f"{LEDGER_PERIODS}: 1 row(s) differ" in p for p in where.problems)

    # Phase 4's rollback counts the legacy part again (and the minutes, afresh).
    assert rollback(sql_url, to="phase2").ok
    assert status(sql_url).location.state == "settled"
    with open_sql(sql_url) as conn:
        assert not ledger.contracted(conn) and ledger.fill_done(conn)
        assert ledger.ledger_recount_problems(conn) == {}
        held = conn.scalar(f'SELECT SUM("held") FROM "{LEDGER_SERVICES}"')
        assert held == conn.scalar(
            "SELECT COUNT(*) FROM \"reservations\" WHERE \"status\" IN ('PENDING','CONFIRMED')")

    # A phase-4 database without its ledger (made before phase 4 kept it): status names
    # the way out, and that command creates and fills it.
    assert migrate(sql_url, to="phase4", confirm=True).ok
    with open_sql(sql_url) as conn, conn.transaction():
        ledger.drop_ledger(conn)
    where = status(sql_url).location
    assert where.state == "inconsistent"
    assert any("ledger missing" in p and "migrate --to phase4" in p for p in where.problems)
    assert migrate(sql_url, to="phase4", confirm=True).ok
    assert status(sql_url).location.state == "settled"
    with open_sql(sql_url) as conn:
        assert LEDGER_FILL in conn.tables() and ledger.ledger_recount_problems(conn) == {}


def test_the_trigger_reads_no_search_path(pg_url: str) -> None:
    # Its function names every table by its schema (no SET search_path on it): a writer
    # whose search_path lacks the schema is still counted.
    build_sql_database(pg_url, SchemaState.CONTRACTED)
    with open_sql(pg_url) as conn:
        schema = conn.scalar("SELECT current_schema()")
        conn.execute("SET search_path = pg_catalog")
        conn.execute(
            f'INSERT INTO "{schema}"."reservations" ("id", "patientName", "phone", '
            '"birthDate", "gender", "treatmentType", "preferredDate", "updatedAt", '
            '"serviceId", "serviceName", "estimatedDuration", "period", "status") VALUES '
            "('sp1', 'Y', '010', '1990-01-01', 'MALE', 'FOLLOW_UP', '2026-03-02', "
            "CURRENT_TIMESTAMP, 'srv_skin_care', 'Skin', 70, 'MORNING', 'CONFIRMED')")
        conn.execute(f'SET search_path = "{schema}"')
        assert conn.scalar(f'SELECT "heldMinutes" FROM "{LEDGER_PERIODS}" WHERE '
                           "\"preferredDate\" = '2026-03-02' AND \"period\" = 'MORNING'") == 70
        assert ledger.ledger_recount_problems(conn) == {}


def test_the_catch_up_installs_todays_trigger_function(pg_url: str) -> None:
    # A complete ledger made by an earlier version (its function had SET search_path):
    # ``migrate --to`` its phase replaces the function, nothing else.
    build_sql_database(pg_url)
    proconfig = ("SELECT p.proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = "
                 "p.pronamespace WHERE p.proname = 'slotcap_ledger_sync' "
                 "AND n.nspname = current_schema()")
    with open_sql(pg_url) as conn:
        conn.execute('ALTER FUNCTION "slotcap_ledger_sync"() SET search_path FROM CURRENT')
        assert conn.scalar(proconfig) is not None
    assert migrate(pg_url, to="phase2").ok
    with open_sql(pg_url) as conn:
        assert conn.scalar(proconfig) is None
        assert ledger.fill_done(conn) and ledger.ledger_recount_problems(conn) == {}


def test_a_ledger_without_its_triggers_is_counted_again(sql_url: str) -> None:
    # The contract keeps the minutes only while the triggers kept them. SQLite's rollback
    # rebuilds the table (its triggers go with the old one): the rebuild step installs
    # the full ledger's right away, so that a write before the rollback's fill — or an
    # inverse run to phase 4 — is counted.
    from tests.integration.schema_helpers import LEGACY_INSERT

    from slotcap.migration.ddl.phase4 import contract_sqlite
    from slotcap.migration.engine.steps import StepContext
    from slotcap.migration.state import Phase
    from slotcap.migration.transitions import transition
    from slotcap.migration.transitions.common import fill_ledger_step

    build_sql_database(sql_url)
    with open_sql(sql_url) as conn:
        assert ledger._has_triggers(conn)
        if conn.dialect is Dialect.POSTGRES:
            conn.execute('DROP TRIGGER "slotcap_ledger_sync" ON "reservations"')
            assert not ledger._has_triggers(conn)
            return
        ctx = StepContext(transition="test", progress=lambda _line: None, batch_size=50)
        # A ledger whose triggers were dropped, then a write nobody counted.
        for name in ("slotcap_ledger_sync", "slotcap_ledger_update", "slotcap_ledger_delete"):
            conn.execute(f'DROP TRIGGER "{name}"')
        conn.execute(LEGACY_INSERT, ("uncounted", "2026-03-02", "10:00", "SKIN_CARE"))
        conn.execute('UPDATE "reservations" SET "serviceId" = %s, "serviceName" = %s, '
                     '"estimatedDuration" = 70, "period" = %s WHERE "id" = %s',
                     ("srv_skin_care", "Skin", "MORNING", "uncounted"))
        with conn.transaction():
            contract_sqlite(conn)
        fill_ledger_step(conn, ctx)
        assert ledger._has_triggers(conn) and ledger.ledger_recount_problems(conn) == {}
        # The rollback's rebuild step, then a write before its fill.
        rebuild = transition(Dialect.SQLITE, Phase.PHASE4, Phase.PHASE2).steps[0]
        with conn.transaction():
            rebuild.run(conn, ctx)
        assert ledger._has_triggers(conn) and not ledger.contracted(conn)
        conn.execute(LEGACY_INSERT, ("after_rebuild", "2026-03-02", "15:00", "SKIN_CARE"))
        fill_ledger_step(conn, ctx)
        assert ledger.fill_done(conn) and ledger.ledger_recount_problems(conn) == {}
