"""Manual review on both engines: export, the operator's edits, an all-or-nothing import."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from slotcap.demo.data import insert_reservations, legacy_row
from slotcap.errors import DatabaseError
from slotcap.migration import Phase, migrate, rollback
from slotcap.migration.backfill import run_backfill
from slotcap.migration.review import (
    EXPORT_COLUMNS,
    ReviewRejected,
    export_review,
    import_review,
    pending_review,
)
from slotcap.sql import SqlConnection, open_sql

UNREADABLE = ("asap", "10시나 3시", "9:75", "상관없음")


@pytest.fixture
def conn(legacy_url: str) -> Iterator[SqlConnection]:
    connection = open_sql(legacy_url)
    rows = [legacy_row(f"r{i}", preferred_time=text, preferred_date=f"2025-12-0{i + 1}")
            for i, text in enumerate(UNREADABLE)]
    rows += [legacy_row("ok1", preferred_time="10:00"), legacy_row("ok2", preferred_time="15:30")]
    insert_reservations(connection, rows)
    migrate(legacy_url, to="phase1")
    run_backfill(connection)
    yield connection
    connection.close()


def periods(conn: SqlConnection) -> dict[str, Any]:
    return dict(conn.execute('SELECT "id", CAST("period" AS TEXT) FROM "reservations"'))


def journal(conn: SqlConnection) -> dict[str, str]:
    return dict(conn.execute('SELECT "reservationId", "source" FROM "slotcap_backfill_journal"'))


def write_csv(path: Path, header: list[str], rows: list[list[str]], *, bom: bool = True) -> None:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def read_export(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_export_lists_every_row_without_a_period(conn: SqlConnection, tmp_path: Path) -> None:
    out = tmp_path / "review.csv"
    result = export_review(conn, out)
    assert result.rows == 4
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Korean correctly
    assert "10시나 3시".encode() in raw
    rows = read_export(out)
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert [r["id"] for r in rows] == ["r0", "r1", "r2", "r3"]  # by date
    assert [r["preferredTime"] for r in rows] == list(UNREADABLE)
    assert all(r["period"] == "" and r["reason"] for r in rows)
    assert rows[0]["preferredDate"] == "2025-12-01"
    assert rows[0]["service"] == "WRINKLE_BOTOX"


def test_round_trip_applies_decisions_in_one_go(conn: SqlConnection, tmp_path: Path) -> None:
    out = tmp_path / "review.csv"
    export_review(conn, out)
    rows = read_export(out)
    decisions = {"r0": "MORNING", "r1": "afternoon", "r2": "오후", "r3": ""}
    for row in rows:
        row["period"] = decisions[row["id"]]
    write_csv(out, list(EXPORT_COLUMNS), [[r[c] for c in EXPORT_COLUMNS] for r in rows])
    result = import_review(conn, out)
    assert (result.applied, result.unchanged, result.blank, result.remaining) == (3, 0, 1, 1)
    stored = periods(conn)
    assert (stored["r0"], stored["r1"], stored["r2"], stored["r3"]) == (
        "MORNING", "AFTERNOON", "AFTERNOON", None)
    # The backfill had journalled these rows (it filled their service columns).
    assert {journal(conn)[i] for i in ("r0", "r1", "r2")} == {"review+backfill"}
    assert journal(conn)["r3"] == "backfill"
    assert [r.id for r in pending_review(conn)] == ["r3"]
    # Importing the same file again changes nothing and is not an error.
    again = import_review(conn, out)
    assert (again.applied, again.unchanged, again.blank) == (0, 3, 1)


def test_review_of_an_application_row_is_journalled_as_review(conn: SqlConnection,
                                                              tmp_path: Path) -> None:
    # A row the dual-writing app wrote (all but the period), never seen by the backfill.
    insert_reservations(conn, [legacy_row("app1", preferred_time="아무때나")])
    conn.execute('UPDATE "reservations" SET "serviceId" = %s, "serviceName" = %s, '
                 '"estimatedDuration" = %s WHERE "id" = %s',
                 ("srv_wrinkle_botox", "주름/보톡스", 40, "app1"))
    path = tmp_path / "r.csv"
    write_csv(path, ["id", "period"], [["app1", "MORNING"]], bom=False)
    assert import_review(conn, path).applied == 1
    assert journal(conn)["app1"] == "review"


def test_phase2_rollback_clears_only_the_columns_the_toolkit_filled(
    legacy_url: str, tmp_path: Path
) -> None:
    with open_sql(legacy_url) as c:
        insert_reservations(c, [legacy_row("bf1", preferred_time="asap"),
                                legacy_row("ok1", preferred_time="10:00")])
    migrate(legacy_url, to="phase1")
    with open_sql(legacy_url) as c:
        run_backfill(c)  # bf1: service columns filled, period abstained
        # The dual-writing app wrote this row's service columns, but no period.
        insert_reservations(c, [legacy_row("app1", preferred_time="아무때나")])
        c.execute('UPDATE "reservations" SET "serviceId" = %s, "serviceName" = %s, '
                  '"estimatedDuration" = %s WHERE "id" = %s',
                  ("srv_wrinkle_botox", "주름/보톡스", 40, "app1"))
        path = tmp_path / "r.csv"
        write_csv(path, ["id", "period"], [["app1", "MORNING"], ["bf1", "AFTERNOON"]])
        assert import_review(c, path).applied == 2
        listed: dict[Any, Any] = dict(c.execute(
            'SELECT "reservationId", "columns" FROM "slotcap_backfill_journal"'))
    assert listed == {
        "app1": "period",
        "bf1": "serviceId,serviceName,estimatedDuration,period",
        "ok1": "serviceId,serviceName,estimatedDuration,period",
    }
    assert migrate(legacy_url, to="phase2").ok
    assert rollback(legacy_url, to="phase1").reached is Phase.PHASE1
    with open_sql(legacy_url) as c:
        rows = {r[0]: r[1:] for r in c.execute(
            'SELECT "id", "serviceId", "serviceName", "estimatedDuration", '
            'CAST("period" AS TEXT) FROM "reservations"')}
    # The app's own values stay; only the period the review set is undone.
    assert rows["app1"] == ("srv_wrinkle_botox", "주름/보톡스", 40, None)
    assert rows["bf1"] == rows["ok1"] == (None, None, None, None)


def test_a_second_fill_adds_its_columns_to_the_journal_entry(conn: SqlConnection) -> None:
    # r0's service columns came from the backfill; the operator later sets its period.
    cast = '::"Period"' if conn.is_postgres else ""
    conn.execute(f'UPDATE "reservations" SET "period" = NULL{cast} WHERE "id" = %s', ("ok1",))
    conn.execute('UPDATE "slotcap_backfill_journal" SET "columns" = %s '
                 'WHERE "reservationId" = %s', ("serviceId,serviceName,estimatedDuration", "ok1"))
    run_backfill(conn)  # fills ok1's period again
    assert conn.scalar('SELECT "columns" FROM "slotcap_backfill_journal" '
                       'WHERE "reservationId" = %s', ("ok1",)) == (
        "serviceId,serviceName,estimatedDuration,period")


def test_refuses_the_whole_file_with_line_numbers(conn: SqlConnection, tmp_path: Path) -> None:
    before_periods, before_journal = periods(conn), journal(conn)
    path = tmp_path / "bad.csv"
    write_csv(path, ["id", "preferredTime", "period"], [
        ["r0", "asap", "MORNING"],          # line 2: fine on its own
        ["r1", "10시나 3시", "EVENING"],    # line 3: invalid value
        ["nope", "?", "AFTERNOON"],         # line 4: unknown id
        ["r0", "asap", "AFTERNOON"],        # line 5: duplicate
        ["ok1", "10:00", "AFTERNOON"],      # line 6: already MORNING
        ["r2", "9:75", ""],                 # line 7: blank: not an error
    ])
    with pytest.raises(ReviewRejected) as caught:
        import_review(conn, path)
    problems = caught.value.problems
    assert [p.line for p in problems] == [3, 4, 5, 6]
    assert "EVENING" in problems[0].message
    assert "unknown" in problems[1].message
    assert "duplicate" in problems[2].message and "line 2" in problems[2].message
    assert "already MORNING" in problems[3].message
    assert "line 3" in str(caught.value)
    assert caught.value.code == "review_rejected"
    # Nothing was written, not even line 2.
    assert periods(conn) == before_periods
    assert journal(conn) == before_journal


def test_refuses_a_file_without_the_needed_columns(conn: SqlConnection, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    write_csv(path, ["reservation", "Period"], [["r0", "MORNING"]])
    with pytest.raises(ReviewRejected, match="missing column") as caught:
        import_review(conn, path)
    assert caught.value.problems[0].line == 1


def test_refuses_a_file_that_is_not_utf8(conn: SqlConnection, tmp_path: Path) -> None:
    path = tmp_path / "cp949.csv"
    path.write_bytes("id,period\nr0,오전\n".encode("cp949"))
    with pytest.raises(ReviewRejected, match="UTF-8"):
        import_review(conn, path)
    assert periods(conn)["r0"] is None


def test_multiline_cells_keep_line_numbers_right(conn: SqlConnection, tmp_path: Path) -> None:
    path = tmp_path / "multi.csv"
    write_csv(path, ["id", "note", "period"], [
        ["r0", "first\nsecond line", "MORNING"],   # lines 2-3
        ["r1", "x", "NOON"],                       # line 4
    ])
    with pytest.raises(ReviewRejected) as caught:
        import_review(conn, path)
    assert [p.line for p in caught.value.problems] == [4]


def test_a_database_error_rolls_the_file_back_as_one_line(conn: SqlConnection,
                                                          tmp_path: Path) -> None:
    # A rule of the database's own, which the import runs into on its second row.
    if conn.is_postgres:
        conn.execute('ALTER TABLE "reservations" ADD CONSTRAINT "no_r1_period" '
                     'CHECK ("id" <> \'r1\' OR "period" IS NULL) NOT VALID')
    else:
        conn.execute('CREATE TRIGGER "no_r1_period" BEFORE UPDATE OF "period" ON '
                     '"reservations" WHEN NEW."id" = \'r1\' BEGIN '
                     "SELECT RAISE(ABORT, 'no_r1_period'); END")
    before_periods, before_journal = periods(conn), journal(conn)
    path = tmp_path / "r.csv"
    write_csv(path, ["id", "period"], [["r0", "MORNING"], ["r1", "AFTERNOON"]])
    with pytest.raises(DatabaseError) as caught:
        import_review(conn, path)
    assert "no_r1_period" in caught.value.message
    assert "\n" not in caught.value.message
    assert "테스트 환자" not in caught.value.message  # the row's patient name
    assert caught.value.__cause__ is not None
    assert periods(conn) == before_periods  # r0 was not written either
    assert journal(conn) == before_journal
