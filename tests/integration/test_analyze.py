"""The plan's step 2.1 analysis on legacy and expanded databases, both engines."""

from __future__ import annotations

import datetime as dt
import json

from slotcap.demo.data import insert_reservations, legacy_row
from slotcap.migration import migrate
from slotcap.migration.analyze import analyze
from slotcap.migration.backfill import run_backfill
from slotcap.sql import open_sql

TODAY = dt.date(2025, 12, 1)


def seed(url: str) -> None:
    rows = [
        legacy_row("a1", preferred_time="10:00", preferred_date="2025-12-01"),   # Monday
        legacy_row("a2", preferred_time="10:00", preferred_date="2025-12-03",
                   status="CANCELLED"),
        legacy_row("a3", preferred_time="10:00", preferred_date="2025-11-28", service="SKIN_CARE"),
        legacy_row("a4", preferred_time="오후 3시", preferred_date="2025-12-02",
                   service="SKIN_CARE"),
        legacy_row("a5", preferred_time="asap", preferred_date="2025-12-07"),    # Sunday
        legacy_row("a6", preferred_time=" ", preferred_date="2031-01-06", service="BODY_CARE"),
        legacy_row("a7", preferred_time="09:30", preferred_date="2019-03-04"),
    ]
    with open_sql(url) as conn:
        insert_reservations(conn, rows)


def test_legacy_database(legacy_url: str) -> None:
    seed(legacy_url)
    with open_sql(legacy_url) as conn:
        result = analyze(conn, today=TODAY)
    assert result.schema == "legacy"
    assert result.unfilled is None
    assert result.total == 7
    assert result.distinct_times == 5
    assert (result.earliest_date, result.latest_date) == ("2019-03-04", "2031-01-06")
    assert result.statuses == {"CANCELLED": 1, "PENDING": 6}
    top = result.time_formats[0]
    assert (top.text, top.count, top.active_count) == ("10:00", 3, 2)
    assert (top.earliest, top.latest) == ("2025-11-28", "2025-12-03")
    assert (top.period, top.clock) == ("MORNING", "10:00")
    by_text = {t.text: t for t in result.time_formats}
    assert by_text["asap"].period is None and by_text["asap"].reason
    assert sum(result.periods.values()) == 7
    assert result.periods["abstained"] >= 2  # "asap" and the blank one
    services = {s.code: s for s in result.services}
    assert services["WRINKLE_BOTOX"].count == 4
    assert services["WRINKLE_BOTOX"].percentage == round(400 / 7, 2)
    assert all(s.known for s in result.services)
    anomalies = result.anomalies
    assert anomalies["empty_time"] == {"count": 1, "sample_ids": ["a6"]}
    assert anomalies["date_out_of_range"]["count"] == 2
    assert anomalies["date_out_of_range"]["sample_ids"] == ["a6", "a7"]
    assert anomalies["closed_day"]["count"] == 1
    assert anomalies["closed_day"]["dates"] == {"2025-12-07": 1}
    assert anomalies["unknown_service"]["count"] == 0
    document = json.loads(json.dumps(result.to_dict(), ensure_ascii=False))
    assert document["totals"]["reservations"] == 7
    assert "patientName" not in json.dumps(document)


def test_expanded_database_reports_progress(legacy_url: str) -> None:
    seed(legacy_url)
    migrate(legacy_url, to="phase1")
    with open_sql(legacy_url) as conn:
        before = analyze(conn, today=TODAY)
        conn.execute('DELETE FROM "services" WHERE "code" = %s', ("BODY_CARE",))
        unknown = analyze(conn, today=TODAY)
        run_backfill(conn)
        after = analyze(conn, today=TODAY)
    assert before.schema == "expanded"
    assert before.hours_source == "clinic_time_slots"
    assert before.unfilled == {"serviceId": 7, "serviceName": 7, "estimatedDuration": 7,
                               "period": 7}
    assert after.unfilled is not None
    assert after.unfilled["serviceId"] == 1  # a6: BODY_CARE has no services row
    assert after.unfilled["period"] == after.periods["abstained"]
    assert unknown.anomalies["unknown_service"] == {"count": 1, "codes": ["BODY_CARE"]}
