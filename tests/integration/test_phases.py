"""Phases 1, 2 and 4 applied and rolled back on real databases of both engines.

Every rollback must leave the catalog and every row exactly as before the phase; the
legacy columns must never change; the legacy application's INSERT must keep working
until phase 4 (and fail cleanly after it).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from tests.integration.migration_helpers import (
    all_rows,
    dual_insert,
    legacy_checksum,
    legacy_insert,
    seed_legacy,
)

from slotcap.errors import MigrationError
from slotcap.migration import Phase, migrate, rollback, snapshot, status, validate
from slotcap.migration.catalog import Catalog
from slotcap.migration.ddl.names import IDX_HELD, IDX_HELD_CONTRACTED, READ_INDEXES
from slotcap.ports import SchemaState
from slotcap.sql import open_sql
from slotcap.sql.names import LEDGER_TABLES

TABLES = ("reservations", "service_reservation_limits")
#: The legacy "service" column in an index definition (either engine's quoting).
_SERVICE_COLUMN = re.compile(r'[\s(,"]service[",)\s]')


def _state(url: str) -> tuple[Catalog, dict[str, list[dict[str, Any]]], str]:
    with open_sql(url) as conn:
        data = {t: all_rows(conn, t) for t in conn.tables() if t in (*TABLES, "services",
                                                                      "clinic_time_slots")}
        checksum = legacy_checksum(conn) if "service" in conn.columns("reservations") else ""
        return snapshot(conn), data, checksum


def _assert_same(before: Catalog, after: Catalog) -> None:
    assert after.diff(before) == []
    assert after == before


@pytest.fixture
def seeded_url(legacy_url: str) -> str:
    with open_sql(legacy_url) as conn:
        seed_legacy(conn, 60)
    return legacy_url


def test_phase1_then_rollback_restores_catalog_and_rows(seeded_url: str) -> None:
    cat0, data0, sum0 = _state(seeded_url)

    report = migrate(seeded_url, to="phase1")
    assert report.ok
    assert report.reached is Phase.PHASE1
    assert report.validation is not None and report.validation.passed
    with open_sql(seeded_url) as conn:
        assert legacy_checksum(conn) == sum0
        cat1 = snapshot(conn)
        assert {"services", "clinic_time_slots", "slotcap_migration_state",
                "slotcap_backfill_journal"} <= set(cat1.tables)
        assert conn.scalar('SELECT count(*) FROM "services"') == 6
        assert conn.scalar('SELECT count(*) FROM "clinic_time_slots"') == 11
        assert conn.scalar(
            'SELECT "totalMinutes" FROM "clinic_time_slots" WHERE "id" = %s', ("slot_6_morning",)
        ) == 240
    st = status(seeded_url)
    assert st.phase is Phase.PHASE1
    assert st.schema_state is SchemaState.EXPANDED
    assert st.consistent and st.last_validation is not None

    report = rollback(seeded_url, to="legacy")
    assert report.reached is Phase.LEGACY
    cat2, data2, sum2 = _state(seeded_url)
    _assert_same(cat0, cat2)
    assert data2 == data0
    assert sum2 == sum0
    assert status(seeded_url).phase is Phase.LEGACY


def test_phase1_is_idempotent(seeded_url: str) -> None:
    migrate(seeded_url, to="phase1")
    cat1, data1, _ = _state(seeded_url)
    # A crash after the DDL but before the state row: the next run redoes phase 1.
    with open_sql(seeded_url) as conn:
        conn.execute('DELETE FROM "slotcap_migration_state"')
        assert status(seeded_url).phase is Phase.LEGACY
    assert migrate(seeded_url, to="phase1").ok
    again = migrate(seeded_url, to="phase1")  # already there: a no-op
    assert again.ok and again.steps == []
    cat2, data2, _ = _state(seeded_url)
    _assert_same(cat1, cat2)
    assert data2 == data1


@pytest.mark.postgres
def test_phase2_replaces_an_invalid_index_left_by_an_interrupted_run(pg_url: str) -> None:
    with open_sql(pg_url) as conn:
        from slotcap.schema.legacy import create_legacy_schema

        create_legacy_schema(conn)
        seed_legacy(conn, 40)
        # An interrupted CREATE INDEX CONCURRENTLY leaves an INVALID index behind; a
        # failing unique build under the same name reproduces exactly that.
        with pytest.raises(Exception, match="could not create unique index"):
            conn.execute(
                'CREATE UNIQUE INDEX CONCURRENTLY "reservations_preferredDate_period_status_idx" '
                'ON "reservations" ("service")'
            )
        assert snapshot(conn).indexes["reservations_preferredDate_period_status_idx"][2] is False
    # Phase 1 leaves it alone (the read indexes are phase 2's, after the backfill).
    assert migrate(pg_url, to="phase1").ok
    with open_sql(pg_url) as conn:
        assert snapshot(conn).indexes["reservations_preferredDate_period_status_idx"][2] is False
    assert migrate(pg_url, to="phase2").ok
    with open_sql(pg_url) as conn:
        _table, definition, valid = snapshot(conn).indexes[
            "reservations_preferredDate_period_status_idx"
        ]
    assert valid
    assert 'INCLUDE ("estimatedDuration")' in definition
    assert "UNIQUE" not in definition


def test_legacy_insert_works_until_phase4_and_fails_after(seeded_url: str) -> None:
    migrate(seeded_url, to="phase1")
    with open_sql(seeded_url) as conn:
        legacy_insert(conn, "live_p1")
    report = migrate(seeded_url, to="phase2")
    assert report.ok, report.message
    with open_sql(seeded_url) as conn:
        legacy_insert(conn, "live_p2")
    # The phase-3 application dual-writes; the legacy row above needs the catch-up.
    assert migrate(seeded_url, to="phase2").ok
    assert migrate(seeded_url, to="phase4", confirm=True).ok
    with open_sql(seeded_url) as conn:
        with pytest.raises(Exception, match=r"(?i)service|preferredTime"):
            legacy_insert(conn, "live_p4")
        assert conn.scalar('SELECT count(*) FROM "reservations" WHERE "id" = %s',
                           ("live_p4",)) == 0


def test_phase2_then_rollback_restores_exactly_the_phase1_rows(seeded_url: str) -> None:
    migrate(seeded_url, to="phase1")
    cat1, data1, sum1 = _state(seeded_url)

    report = migrate(seeded_url, to="phase2", batch_size=17)
    assert report.ok, report.message
    assert report.needs_review == 0
    assert report.validation is not None and report.validation.passed
    with open_sql(seeded_url) as conn:
        assert conn.scalar('SELECT count(*) FROM "reservations" WHERE "period" IS NULL') == 0
        assert legacy_checksum(conn) == sum1
        # The phase-3 application writes both sides; the rollback must keep its row.
        dual_insert(conn, "dual_1")
        cat2 = snapshot(conn)
    # Phase 2's schema changes: the read indexes, built after the backfill, and the
    # ledger (its tables, their keys, its triggers on reservations).
    ledger = set(LEDGER_TABLES)
    assert {n for n in set(cat2.indexes) - set(cat1.indexes)
            if cat2.indexes[n][0] not in ledger} == set(READ_INDEXES)
    assert set(cat2.tables) - set(cat1.tables) == ledger
    assert {k: v for k, v in cat2.columns.items() if k[0] not in ledger} == cat1.columns
    assert {k: v for k, v in cat2.constraints.items() if k[0] not in ledger} \
        == cat1.constraints and cat2.enums == cat1.enums
    assert {t for t, _d in cat2.triggers.values()} == {"reservations"}
    assert status(seeded_url).phase is Phase.PHASE2
    # Idempotent: the catch-up run finds the indexes in place and changes nothing.
    assert migrate(seeded_url, to="phase2").ok
    with open_sql(seeded_url) as conn:
        _assert_same(cat2, snapshot(conn))

    assert rollback(seeded_url, to="phase1").reached is Phase.PHASE1
    cat3, data3, _ = _state(seeded_url)
    _assert_same(cat1, cat3)
    dual_row = next(r for r in data3["reservations"] if r["id"] == "dual_1")
    assert dual_row["serviceId"] == "srv_skin_care" and dual_row["period"] == "AFTERNOON"
    data3["reservations"] = [r for r in data3["reservations"] if r["id"] != "dual_1"]
    assert data3 == data1
    with open_sql(seeded_url) as conn:
        assert conn.scalar('SELECT count(*) FROM "slotcap_backfill_journal"') == 0
    assert status(seeded_url).phase is Phase.PHASE1


def test_phase2_stays_at_phase1_while_rows_await_review(seeded_url: str) -> None:
    migrate(seeded_url, to="phase1")
    with open_sql(seeded_url) as conn:
        legacy_insert(conn, "unreadable_1", time_text="아무때나")
        legacy_insert(conn, "unreadable_2", time_text="??")
    report = migrate(seeded_url, to="phase2")
    assert not report.ok
    assert report.reached is Phase.PHASE1
    assert report.needs_review == 2
    assert "manual review" in report.message
    with open_sql(seeded_url) as conn:
        # Never the plan's ELSE 'MORNING': the unreadable rows keep a NULL period.
        assert conn.execute(
            'SELECT "id" FROM "reservations" WHERE "period" IS NULL ORDER BY "id"'
        ) == [("unreadable_1",), ("unreadable_2",)]
    st = status(seeded_url)
    assert st.phase is Phase.PHASE1
    assert st.last_validation is not None and st.last_validation["needs_review"] == 2

    # A person decides (what the review import does), then phase 2 is reached.
    with open_sql(seeded_url) as conn:
        cast = "::\"Period\"" if conn.is_postgres else ""
        conn.execute(f'UPDATE "reservations" SET "period" = %s{cast} '
                     'WHERE "id" IN (%s, %s)', ("MORNING", "unreadable_1", "unreadable_2"))
        # The review import journals its decision over the backfill's entry.
        conn.execute_many(
            'INSERT INTO "slotcap_backfill_journal" AS j ("reservationId", "source") '
            "VALUES (%s, 'review') ON CONFLICT (\"reservationId\") "
            "DO UPDATE SET \"source\" = 'review+' || j.\"source\"",
            [("unreadable_1",), ("unreadable_2",)],
        )
    assert migrate(seeded_url, to="phase2").ok


def test_rollback_to_legacy_from_phase1_with_or_without_the_read_indexes(
    seeded_url: str,
) -> None:
    cat0, data0, sum0 = _state(seeded_url)
    migrate(seeded_url, to="phase1")
    with open_sql(seeded_url) as conn:
        assert not set(READ_INDEXES) & set(snapshot(conn).indexes)  # phase 2 builds them
        legacy_insert(conn, "unreadable_1", time_text="아무때나")
    # Phase 2 stops at validation (a row awaits review): the indexes are built already.
    report = migrate(seeded_url, to="phase2")
    assert not report.ok and report.reached is Phase.PHASE1
    with open_sql(seeded_url) as conn:
        assert set(READ_INDEXES) <= set(snapshot(conn).indexes)
        conn.execute('DELETE FROM "reservations" WHERE "id" = %s', ("unreadable_1",))
    assert rollback(seeded_url, to="legacy").reached is Phase.LEGACY
    cat1, data1, sum1 = _state(seeded_url)
    _assert_same(cat0, cat1)
    assert (data1, sum1) == (data0, sum0)


def test_phase4_refuses_without_confirm_and_when_validation_fails(seeded_url: str) -> None:
    assert migrate(seeded_url, to="phase2").ok
    cat2, _data2, _ = _state(seeded_url)
    with pytest.raises(MigrationError, match="confirm"):
        migrate(seeded_url, to="phase4")
    # A legacy-only writer is still live after phase 2: the dual-write check fails.
    with open_sql(seeded_url) as conn:
        legacy_insert(conn, "late_legacy")
    with pytest.raises(MigrationError, match="dual_write_since_phase2"):
        migrate(seeded_url, to="phase4", confirm=True)
    with open_sql(seeded_url) as conn:
        assert snapshot(conn) == cat2  # nothing was touched
    assert status(seeded_url).phase is Phase.PHASE2


def test_phase4_then_rollback_restores_phase2_from_the_archive(seeded_url: str) -> None:
    assert migrate(seeded_url, to="phase2").ok
    cat2, data2, sum2 = _state(seeded_url)

    report = migrate(seeded_url, to="phase4", confirm=True)
    assert report.ok, report.message
    assert report.validation is not None and report.validation.passed, (
        report.validation.summary() if report.validation else ""
    )
    with open_sql(seeded_url) as conn:
        cat4 = snapshot(conn)
        assert not cat4.has_column("reservations", "service")
        assert not cat4.has_column("reservations", "preferredTime")
        assert "service_reservation_limits" not in cat4.tables
        assert "ServiceType" not in cat4.enums
        assert not cat4.columns[("reservations", "period")].nullable
        assert "reservations_preferredDate_service_status_idx" not in cat4.indexes
        assert {"reservations_preferredDate_period_serviceId_status_idx",
                "reservations_createdAt_status_idx"} <= set(cat4.indexes)
        # The held-rows index covered "service" (DROP COLUMN would drop it): phase 4
        # rebuilt it without that column; the rollback restores the phase-2 shape.
        assert _SERVICE_COLUMN.search(cat2.indexes[IDX_HELD][1])
        assert IDX_HELD not in cat4.indexes
        _t, held4, valid4 = cat4.indexes[IDX_HELD_CONTRACTED]
        assert valid4 and not _SERVICE_COLUMN.search(held4)
        assert "estimatedDuration" in held4 and "PENDING" in held4 and "CONFIRMED" in held4
        assert {"reservations_preferredDate_period_status_idx",
                "reservations_serviceId_preferredDate_status_idx"} <= set(cat4.indexes)
        assert conn.scalar('SELECT count(*) FROM "slotcap_archive_reservation_legacy"') == 60
        assert conn.scalar(
            'SELECT count(*) FROM "slotcap_archive_service_reservation_limits"'
        ) == 6
    assert status(seeded_url).schema_state is SchemaState.CONTRACTED

    report = rollback(seeded_url, to="phase2")
    assert report.reached is Phase.PHASE2
    cat5, data5, sum5 = _state(seeded_url)
    _assert_same(cat2, cat5)
    assert data5 == data2
    assert sum5 == sum2
    with open_sql(seeded_url) as conn:
        legacy_insert(conn, "after_rollback")  # the legacy app works again
        assert validate(conn).phase is Phase.PHASE2


def test_rows_written_after_phase4_survive_its_rollback(seeded_url: str) -> None:
    assert migrate(seeded_url, to="phase2").ok
    assert migrate(seeded_url, to="phase4", confirm=True).ok
    with open_sql(seeded_url) as conn:
        conn.execute(
            'INSERT INTO "reservations" ("id","patientName","phone","birthDate","gender",'
            '"treatmentType","preferredDate","updatedAt","serviceId","serviceName",'
            '"estimatedDuration","period") VALUES (%s,\'New App\',\'010\',\'1990-01-01\','
            "'FEMALE','FIRST_VISIT','2025-12-03',CURRENT_TIMESTAMP,'srv_body_care','바디케어',"
            "60,'AFTERNOON')",
            ("new_only",),
        )
    rollback(seeded_url, to="phase2")
    with open_sql(seeded_url) as conn:
        row = conn.execute(
            'SELECT CAST("service" AS TEXT), "preferredTime", CAST("period" AS TEXT) '
            'FROM "reservations" WHERE "id" = %s', ("new_only",)
        )
    assert row == [("BODY_CARE", "14:00", "AFTERNOON")]


def _transitions(report: Any) -> list[str]:
    """The transitions a report's steps belong to, in order ("<from>-><to>:<step>")."""
    out: list[str] = []
    for step in report.steps:
        name = step.name.split(":")[0]
        if not out or out[-1] != name:
            out.append(name)
    return out


def test_full_walk_keeps_legacy_columns_and_returns_to_the_start(seeded_url: str) -> None:
    cat0, data0, sum0 = _state(seeded_url)
    sums = [sum0]
    for target in ("phase1", "phase2"):
        assert migrate(seeded_url, to=target).ok
        sums.append(_state(seeded_url)[2])
    assert migrate(seeded_url, to="phase4", confirm=True).ok
    with open_sql(seeded_url) as conn:
        archived = conn.execute(
            'SELECT "id", "service", "preferredTime" FROM "slotcap_archive_reservation_legacy" '
            'ORDER BY "id"'
        )
        before = [(r["id"], r["service"], r["preferredTime"]) for r in data0["reservations"]]
        assert sorted(archived) == sorted(before)
    report = rollback(seeded_url, to="legacy")
    assert _transitions(report) == ["phase4->phase2", "phase2->phase1", "phase1->legacy"]
    cat9, data9, sum9 = _state(seeded_url)
    assert set(sums) == {sum0}
    assert sum9 == sum0
    _assert_same(cat0, cat9)
    assert data9 == data0


def test_migrate_refuses_to_go_backwards_and_rollback_forwards(seeded_url: str) -> None:
    migrate(seeded_url, to="phase1")
    with pytest.raises(MigrationError, match="rollback"):
        migrate(seeded_url, to="legacy")
    with pytest.raises(MigrationError, match="migrate"):
        rollback(seeded_url, to="phase2")
    with pytest.raises(MigrationError, match="unknown phase"):
        migrate(seeded_url, to="phase9")


def test_one_call_walks_every_phase_in_order_and_reports_progress(seeded_url: str) -> None:
    lines: list[str] = []
    report = migrate(seeded_url, to="phase4", confirm=True, progress=lines.append)
    assert report.ok and report.start is Phase.LEGACY and report.reached is Phase.PHASE4
    assert _transitions(report) == ["legacy->phase1", "phase1->phase2", "phase2->phase4"]
    assert "phase1->phase2:backfill" in [s.name for s in report.steps]
    assert any(line.startswith("backfill: 60/60 rows examined") for line in lines)
    assert all(isinstance(line, str) for line in lines)
    history = status(seeded_url).history
    assert [(h["phase"], h["action"]) for h in reversed(history)
            if h["action"] in ("apply", "rollback")] == [
        ("phase1", "apply"), ("phase2", "apply"), ("phase4", "apply"),
    ]
    as_dict = report.to_dict()
    assert as_dict["reached"] == "phase4" and as_dict["ok"] is True
