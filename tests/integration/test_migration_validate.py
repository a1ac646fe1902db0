"""``validate``: the plan's checklists catch what they are for, and never write."""

from __future__ import annotations

import pytest
from tests.integration.migration_helpers import all_rows, dual_insert, legacy_insert, seed_legacy

from slotcap.migration import Phase, migrate, snapshot, validate
from slotcap.sql import open_sql


@pytest.fixture
def phase2_url(legacy_url: str) -> str:
    with open_sql(legacy_url) as conn:
        seed_legacy(conn, 40)
    assert migrate(legacy_url, to="phase2").ok
    return legacy_url


def _check(url: str, name: str, phase: Phase | None = None) -> tuple[bool, dict[str, object]]:
    with open_sql(url) as conn:
        report = validate(conn, phase=phase)
    found = next(c for c in report.checks if c.name == name)
    return found.passed, found.detail


def test_legacy_database_has_nothing_to_check(legacy_url: str) -> None:
    with open_sql(legacy_url) as conn:
        report = validate(conn)
    assert report.phase is Phase.LEGACY
    assert report.checks == [] and report.passed


def test_phase2_report_lists_the_plans_checks(phase2_url: str) -> None:
    with open_sql(phase2_url) as conn:
        report = validate(conn)
    assert report.phase is Phase.PHASE2 and report.passed, report.summary()
    names = {c.name for c in report.checks}
    assert {
        "services_cover_service_type", "clinic_time_slots_present", "service_foreign_key",
        "new_reservation_indexes", "new_columns_nullable", "old_fields_populated",
        "all_rows_migrated", "period_distribution", "service_mapping_matches",
        "duration_and_name_match", "old_fields_intact", "backfill_period_matches_parser",
        "dual_write_since_phase2",
    } <= names
    as_dict = report.to_dict()
    assert as_dict["passed"] is True and len(as_dict["checks"]) == len(report.checks)


def test_validate_never_writes(phase2_url: str) -> None:
    with open_sql(phase2_url) as conn:
        before = snapshot(conn), {t: all_rows(conn, t) for t in sorted(conn.tables())}
        validate(conn)
        validate(conn, phase=Phase.PHASE4)
        after = snapshot(conn), {t: all_rows(conn, t) for t in sorted(conn.tables())}
    assert before == after


def test_catches_the_plans_else_morning_fallback(phase2_url: str) -> None:
    # What the plan's 2.2 SQL does with a value it cannot read: files it under MORNING.
    with open_sql(phase2_url) as conn:
        legacy_insert(conn, "bad_1", time_text="아무때나")
        cast = '::"Period"' if conn.is_postgres else ""
        conn.execute(
            'UPDATE "reservations" SET "serviceId" = %s, "serviceName" = %s, '
            f'"estimatedDuration" = %s, "period" = %s{cast} WHERE "id" = %s',
            ("srv_wrinkle_botox", "주름/보톡스", 40, "MORNING", "bad_1"),
        )
        conn.execute('INSERT INTO "slotcap_backfill_journal" ("reservationId", "source") '
                     "VALUES (%s, 'backfill')", ("bad_1",))
    passed, detail = _check(phase2_url, "backfill_period_matches_parser")
    assert not passed
    assert detail["unreadable_with_period"] == 1


def test_catches_a_wrong_service_mapping(phase2_url: str) -> None:
    with open_sql(phase2_url) as conn:
        conn.execute('UPDATE "reservations" SET "serviceId" = %s WHERE "id" = %s',
                     ("srv_body_care", "r_000000"))  # r_000000 is WRINKLE_BOTOX
    passed, detail = _check(phase2_url, "service_mapping_matches")
    assert not passed and detail["mismatched_rows"] == 1


def test_catches_a_wrong_duration_on_a_backfilled_row(phase2_url: str) -> None:
    with open_sql(phase2_url) as conn:
        conn.execute('UPDATE "reservations" SET "estimatedDuration" = 5 WHERE "id" = %s',
                     ("r_000001",))
    passed, detail = _check(phase2_url, "duration_and_name_match")
    assert not passed and detail["duration_mismatch"] == 1


def test_dual_write_monitor_and_catch_up(phase2_url: str) -> None:
    with open_sql(phase2_url) as conn:
        dual_insert(conn, "dual_ok")
    assert _check(phase2_url, "dual_write_since_phase2")[0]
    with open_sql(phase2_url) as conn:
        legacy_insert(conn, "legacy_late")  # a writer that does not dual-write yet
    passed, detail = _check(phase2_url, "dual_write_since_phase2")
    assert not passed
    assert detail["old_without_new"] == 1 and detail["total"] == 2
    # migrate to phase2 again = the catch-up backfill
    report = migrate(phase2_url, to="phase2")
    assert report.ok, report.message
    assert _check(phase2_url, "dual_write_since_phase2")[0]


def test_would_phase2_pass_on_a_phase1_database(legacy_url: str) -> None:
    with open_sql(legacy_url) as conn:
        seed_legacy(conn, 10)
    migrate(legacy_url, to="phase1")
    passed, detail = _check(legacy_url, "all_rows_migrated", Phase.PHASE2)
    assert not passed and detail["total"] == 10 and detail["has_serviceId"] == 0
