"""The issue's example end to end (#21): ``slotcap serve`` at 0 % (every booking on the
count rule), 5 Botox bookings into a 120-minute Monday morning — the count rule allows
all 5, the minutes rule would have allowed 3: 2 mismatches in ``slotcap shadow report``,
in ``/metrics`` and on the operator page (read from its HTML: the panel is server-side
HTML, no script), and ``slotcap whatif --rule dynamic`` shows 200 of 120 minutes. With
``serve --no-shadow`` nothing is recorded. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from tests.e2e.cli_run import slotcap
from tests.e2e.server_process import booking_body, monday_ahead, parse_prometheus, running_server
from tests.integration.store_helpers import build_sql_database

from slotcap.ports import SchemaState

RESERVATIONS_PATH = "/api/public/reservations"

pytestmark = pytest.mark.subprocess  # `slotcap serve`


@pytest.fixture
def db(sql_url: str) -> str:
    """An expanded (phase-1) database whose Monday mornings are 09:00-11:00."""
    build_sql_database(sql_url, SchemaState.EXPANDED)
    done = slotcap("hours", "set", "mon", "morning", "--start", "09:00", "--end", "11:00",
                   "--database", sql_url)
    assert done.returncode == 0, done.stderr
    return sql_url


def _five(server_url: str, day: object) -> list[int]:
    return [httpx.post(server_url + RESERVATIONS_PATH, timeout=30,
                       json=booking_body(day, preferred_time="10:00")).status_code  # type: ignore[arg-type]
            for _ in range(5)]


def test_the_issue_example(db: str, tmp_path: Path) -> None:
    day = monday_ahead()
    with running_server(db, tmp_path) as server:
        assert _five(server.url(""), day) == [200] * 5  # the count rule: limit 10
        samples = parse_prometheus(httpx.get(server.url("/metrics"), timeout=30).text)
        page = httpx.get(server.url("/"), timeout=30).text
    def decisions(agreement: str) -> float:
        return samples[("slotcap_shadow_decisions_total",
                        frozenset({("control", "legacy"), ("agreement", agreement)}))]

    assert (decisions("agree"), decisions("control_only"), decisions("shadow_only")) == (3, 2, 0)
    assert f'data-date="{day.isoformat()}" data-mismatches="2"' in page
    assert 'id="shadow-total">5 bookings shadowed, 2 mismatches' in page

    done = slotcap("shadow", "report", "--from", day.isoformat(), "--to", day.isoformat(),
                   "--json", "--database", db)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["from"], report["to"], report["decisions"]) == (
        day.isoformat(), day.isoformat(), 5)
    assert [(m["date"], m["period"], m["service"], m["control"], m["control_allowed"],
             m["shadow_allowed"]) for m in report["mismatches"]] == [
        (day.isoformat(), "MORNING", "WRINKLE_BOTOX", "legacy", True, False)] * 2
    assert "010-" not in done.stdout

    done = slotcap("whatif", "--rule", "dynamic", "--from", day.isoformat(), "--to",
                   day.isoformat(), "--json", "--database", db)
    assert done.returncode == 0, done.stderr
    (over,) = json.loads(done.stdout)["over"]
    assert (over["date"], over["period"], over["held"], over["capacity"], over["over_by"]) == (
        day.isoformat(), "MORNING", 200, 120, 80)
    assert len(over["reservation_ids"]) == 2 and "patients" not in over
    text = slotcap("whatif", "--rule", "dynamic", "--from", day.isoformat(), "--to",
                   day.isoformat(), "--show-patients", "--database", db)
    assert text.returncode == 0 and "Test Patient" in text.stdout

    done = slotcap("monitor", "--database", db)
    assert "bookings the other rule would have decided differently" in done.stdout
    assert f"next date over its minutes: {day.isoformat()}" in done.stdout


def test_no_shadow(db: str, tmp_path: Path) -> None:
    day = monday_ahead()
    with running_server(db, tmp_path, args=("--no-shadow",)) as server:
        assert _five(server.url(""), day) == [200] * 5
    done = slotcap("shadow", "report", "--json", "--database", db)
    assert json.loads(done.stdout)["decisions"] == 0
