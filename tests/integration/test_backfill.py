"""run_backfill on both engines: every field, parse-once, dry run, idempotence,
catch-up, never overwriting the application's values, the journal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from slotcap.demo.data import generate_reservations, insert_reservations, legacy_row
from slotcap.domain.defaults import DEFAULT_SERVICES
from slotcap.domain.model import ClinicTimeSlot
from slotcap.domain.timeparse import ParsedTime, parse_preferred_time
from slotcap.errors import SchemaStateError
from slotcap.migration import backfill as backfill_module
from slotcap.migration import migrate
from slotcap.migration.backfill import run_backfill
from slotcap.migration.backfill_report import BackfillProgress
from slotcap.sql import SqlConnection, open_sql

SERVICE = {s.code: s for s in DEFAULT_SERVICES}
LEGACY = ('"id", "patientName", "phone", "email", "birthDate", "gender", "treatmentType", '
          '"preferredDate", "preferredTime", "status", "notes", "adminNotes", "createdAt", '
          '"updatedAt", "service", "statusChangedAt", "statusChangedBy"')


def table(conn: SqlConnection) -> list[tuple[Any, ...]]:
    """Every column of every reservation, comparable across runs."""
    return [
        tuple(str(v) if v is not None else None for v in row)
        for row in conn.execute(
            f'SELECT {LEGACY}, "serviceId", "serviceName", "estimatedDuration", '
            'CAST("period" AS TEXT) FROM "reservations" ORDER BY "id"'
        )
    ]


def journal(conn: SqlConnection) -> dict[str, str]:
    return dict(conn.execute(
        'SELECT "reservationId", "source" FROM "slotcap_backfill_journal"'))


def new_columns(conn: SqlConnection, rid: str) -> tuple[Any, ...]:
    return tuple(conn.execute(
        'SELECT "serviceId", "serviceName", "estimatedDuration", CAST("period" AS TEXT) '
        'FROM "reservations" WHERE "id" = %s', (rid,))[0])


def expanded(url: str, rows: list[tuple[Any, ...]]) -> SqlConnection:
    conn = open_sql(url)
    insert_reservations(conn, rows)
    migrate(url, to="phase1")
    return conn


@pytest.fixture
def conn(legacy_url: str) -> Iterator[SqlConnection]:
    rows = [
        legacy_row("r01", preferred_time="10:00", service="WRINKLE_BOTOX"),
        legacy_row("r02", preferred_time="오후 3시", service="SKIN_CARE"),
        legacy_row("r03", preferred_time="asap", service="BODY_CARE"),
        legacy_row("r04", preferred_time="2:30 PM", service="VOLUME_LIFTING"),
        legacy_row("r05", preferred_time="오전 9시 반", service="REMOVAL_PROCEDURE"),
        legacy_row("r06", preferred_time="10시나 3시", service="OTHER_CONSULTATION"),
    ]
    connection = expanded(legacy_url, rows)
    yield connection
    connection.close()


def expected_period(text: str, conn: SqlConnection) -> str | None:
    from slotcap.migration._dbinfo import load_clinic_hours

    parsed = parse_preferred_time(text, hours=load_clinic_hours(conn))
    return None if parsed.period is None or parsed.ambiguous else parsed.period.value


def test_fills_every_field_and_leaves_legacy_columns_alone(conn: SqlConnection) -> None:
    before = table(conn)
    report = run_backfill(conn, batch_size=2)
    after = table(conn)
    for old, new in zip(before, after, strict=True):
        assert old[:17] == new[:17]  # legacy columns byte for byte
        code, text = new[14], new[8]
        service = SERVICE[str(code)]
        assert new[17:20] == (service.id, service.name,
                              str(service.duration_minutes + service.buffer_minutes))
        assert new[20] == expected_period(str(text), conn)
    assert expected_period("10:00", conn) == "MORNING"
    assert expected_period("오후 3시", conn) == "AFTERNOON"
    assert new_columns(conn, "r03")[3] is None  # unreadable: never guessed
    assert new_columns(conn, "r06")[3] is None  # two different times: never guessed
    assert report.rows_scanned == 6
    assert report.rows_updated == 6
    assert report.filled["serviceId"] == 6
    assert report.periods["abstained"] == sum(1 for row in after if row[20] is None)
    assert journal(conn) == {f"r0{i}": "backfill" for i in range(1, 7)}


def test_parses_each_distinct_value_once(legacy_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    times = ["10:00", "오후 3시", "asap", "2:30 PM", "Morning"]
    rows = [legacy_row(f"r{i:04d}", preferred_time=times[i % len(times)]) for i in range(400)]
    conn = expanded(legacy_url, rows)
    calls: list[tuple[str, tuple[ClinicTimeSlot, ...]]] = []

    def spy(text: str, *, hours: Any = None) -> ParsedTime:
        calls.append((text, tuple(hours or ())))
        return parse_preferred_time(text, hours=hours)

    monkeypatch.setattr(backfill_module, "parse_preferred_time", spy)
    report = run_backfill(conn, batch_size=37)
    assert sorted(text for text, _ in calls) == sorted(times)
    assert report.distinct_times_parsed == len(times)
    assert report.batches == 11
    # The clinic's own hours from the database are what the parser is given.
    assert all(len(hours) == 11 for _, hours in calls)
    conn.close()


def test_reads_hours_from_the_database(conn: SqlConnection,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    conn.execute('UPDATE "clinic_time_slots" SET "isActive" = %s WHERE "dayOfWeek" = 6',
                 (False,))
    seen: list[Any] = []

    def spy(text: str, *, hours: Any = None) -> ParsedTime:
        seen.append(tuple(hours))
        return parse_preferred_time(text, hours=hours)

    monkeypatch.setattr(backfill_module, "parse_preferred_time", spy)
    run_backfill(conn)
    assert seen
    assert all(len(h) == 10 and all(s.day_of_week != 6 for s in h) for h in seen)


def test_dry_run_writes_nothing_and_reports_what_it_would(conn: SqlConnection) -> None:
    before = table(conn)
    dry = run_backfill(conn, dry_run=True, batch_size=4)
    assert table(conn) == before
    assert journal(conn) == {}
    real = run_backfill(conn, batch_size=4)
    assert dry.dry_run and not real.dry_run
    for field in ("rows_scanned", "rows_updated", "filled", "periods", "services",
                  "abstain_reasons", "unknown_services"):
        assert getattr(dry, field) == getattr(real, field), field
    assert {s.id for s in dry.abstain_samples} == {"r03", "r06"}


def test_idempotent(conn: SqlConnection) -> None:
    run_backfill(conn)
    first, first_journal = table(conn), journal(conn)
    again = run_backfill(conn)
    assert table(conn) == first
    assert journal(conn) == first_journal
    assert again.rows_updated == 0
    assert again.rows_scanned == 2  # the two abstentions are looked at again, not written


def test_abstentions_do_not_loop(legacy_url: str) -> None:
    rows = [legacy_row(f"r{i:03d}", preferred_time="asap") for i in range(30)]
    conn = expanded(legacy_url, rows)
    run_backfill(conn, batch_size=1)
    report = run_backfill(conn, batch_size=1)
    assert report.rows_scanned == 30
    assert report.batches == 30
    conn.close()


def test_catches_up_rows_the_legacy_app_wrote_later(conn: SqlConnection) -> None:
    run_backfill(conn)
    # The legacy application keeps inserting old-columns-only rows, before and after
    # the cursor's position.
    insert_reservations(conn, [legacy_row("a00", preferred_time="16:30", service="BODY_CARE"),
                               legacy_row("z99", preferred_time="9:00 AM")])
    report = run_backfill(conn)
    assert report.rows_updated == 2
    assert new_columns(conn, "a00") == ("srv_body_care", "바디케어", 60, "AFTERNOON")
    assert new_columns(conn, "z99")[3] == "MORNING"
    assert journal(conn)["a00"] == "backfill"


def test_never_overwrites_values_the_application_wrote(conn: SqlConnection) -> None:
    # The dual-writing app stored these; the backfill must fill only what is NULL.
    conn.execute('UPDATE "reservations" SET "serviceId" = %s, "serviceName" = %s, '
                 '"estimatedDuration" = %s, "period" = %s WHERE "id" = %s',
                 ("srv_wrinkle_botox", "주름/보톡스 (old name)", 35, "AFTERNOON", "r01"))
    conn.execute('UPDATE "reservations" SET "period" = %s WHERE "id" = %s', ("MORNING", "r03"))
    run_backfill(conn)
    assert new_columns(conn, "r01") == ("srv_wrinkle_botox", "주름/보톡스 (old name)", 35,
                                        "AFTERNOON")
    assert new_columns(conn, "r03") == ("srv_body_care", "바디케어", 60, "MORNING")
    assert "r01" not in journal(conn)  # nothing was filled there
    assert journal(conn)["r03"] == "backfill"  # its service columns were


def test_unknown_service_left_null_and_reported(legacy_url: str) -> None:
    conn = expanded(legacy_url, [legacy_row("r1", service="BODY_CARE", preferred_time="11:00"),
                                 legacy_row("r2", service="SKIN_CARE")])
    conn.execute('DELETE FROM "services" WHERE "code" = %s', ("BODY_CARE",))
    report = run_backfill(conn)
    assert report.unknown_services == {"BODY_CARE": 1}
    assert new_columns(conn, "r1")[:3] == (None, None, None)
    assert new_columns(conn, "r1")[3] == "MORNING"  # the period is still filled
    assert report.needs_review == 1
    conn.close()


def test_progress_reports_rows_rate_and_eta(legacy_url: str) -> None:
    rows = list(generate_reservations(250, seed=3, today=dt.date(2025, 6, 1)))
    conn = expanded(legacy_url, rows)
    seen: list[BackfillProgress] = []
    run_backfill(conn, batch_size=100, progress=seen.append)
    assert [p.rows_done for p in seen] == [100, 200, 250]
    assert all(p.rows_total == 250 for p in seen)
    assert seen[-1].eta_seconds == 0
    assert seen[-1].rows_per_second > 0
    conn.close()


def test_refuses_a_database_without_phase1(legacy_url: str) -> None:
    with open_sql(legacy_url) as conn, pytest.raises(SchemaStateError, match="phase1"):
        run_backfill(conn)


def test_rejects_nonsense_arguments(conn: SqlConnection) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        run_backfill(conn, batch_size=0)
    with pytest.raises(ValueError, match="pause"):
        run_backfill(conn, pause=-1)


@pytest.mark.postgres
def test_parallel_workers_fill_exactly_what_one_worker_fills(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_sql(pg_url) as setup:
        from slotcap.schema.legacy import create_legacy_schema

        create_legacy_schema(setup)
    rows = list(generate_reservations(2500, seed=11, today=dt.date(2025, 6, 1)))
    conn = expanded(pg_url, rows)
    calls: list[str] = []

    def spy(text: str, *, hours: Any = None) -> ParsedTime:
        calls.append(text)
        return parse_preferred_time(text, hours=hours)

    monkeypatch.setattr(backfill_module, "parse_preferred_time", spy)
    opened: list[SqlConnection] = []

    def connect() -> SqlConnection:
        opened.append(open_sql(pg_url))
        return opened[-1]

    seen: list[BackfillProgress] = []
    report = run_backfill(conn, batch_size=200, workers=3, connect=connect,
                          progress=seen.append)
    assert len(opened) == 2
    assert all(c.raw.closed for c in opened)
    assert len(calls) == len(set(calls)) == report.distinct_times_parsed  # once per run
    assert report.rows_scanned == report.rows_updated == 2500
    assert [p.rows_done for p in seen] == sorted(p.rows_done for p in seen)
    assert seen[-1].rows_done == 2500
    assert sum(report.periods.values()) == 2500
    for row in table(conn):
        service = SERVICE[str(row[14])]
        assert row[17:20] == (service.id, service.name,
                              str(service.duration_minutes + service.buffer_minutes))
        assert row[20] == expected_period(str(row[8]), conn)
    assert len(journal(conn)) == 2500
    conn.close()


def test_workers_need_a_way_to_connect(legacy_url: str) -> None:
    conn = expanded(legacy_url, [legacy_row("r1")])
    if conn.dialect.value == "sqlite":
        # One writer at a time: SQLite walks the table with one connection anyway.
        assert run_backfill(conn, workers=4).rows_updated == 1
    else:
        with pytest.raises(ValueError, match="connect"):
            run_backfill(conn, workers=2)
    with pytest.raises(ValueError, match="workers"):
        run_backfill(conn, workers=0)
    conn.close()
