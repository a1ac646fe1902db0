"""``slotcap closures`` and ``slotcap timezone`` from the command line, on both SQL
engines: the issue's "done when" (a new user closes the clinic on a holiday with
commands only and sees CLOSED in ``slotcap availability``), exit codes and --json."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from tests.e2e.cli_run import run, slotcap_process


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return slotcap_process(*args)


@pytest.mark.subprocess
def test_a_new_user_closes_a_holiday_and_availability_says_closed(legacy_url: str) -> None:
    db = ("--database", legacy_url)
    refused = cli("closures", "add", *db, "--date", "2027-02-08", "--reason", "설날")
    assert refused.returncode == 1 and "[schema_state]" in refused.stderr
    assert cli("migrate", "--to", "phase1", *db).returncode == 0
    added = cli("closures", "add", *db, "--date", "2027-02-08", "--reason", "설날")
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("Added clo_")
    shown = cli("availability", *db, "--from", "2027-02-07", "--to", "2027-02-09")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    holiday = [line for line in lines if line.startswith("2027-02-08")]
    assert len(holiday) == 2 and all("CLOSED: 설날" in line for line in holiday)
    assert not any("CLOSED" in line for line in lines if line.startswith("2027-02-09"))


def test_closures_round_trip_as_json(
    phase1_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--database", phase1_url)
    code, out, err = run(capsys, "closures", "add", *db, "--date", "2027-01-02", "--rrule",
                         "FREQ=WEEKLY;BYDAY=SA", "--period", "morning", "--capacity", "60",
                         "--reason", "one doctor on Saturdays", "--json")
    assert code == 0, err
    added: dict[str, Any] = json.loads(out)
    cid = added.pop("id")
    assert added == {
        "start_date": "2027-01-02", "end_date": None, "period": "MORNING",
        "rrule": "FREQ=WEEKLY;BYDAY=SA", "capacity_minutes": 60, "closed": False,
        "reason": "one doctor on Saturdays", "affected_bookings": [],
    }
    code, out, _ = run(capsys, "closures", "list", *db, "--from", "2027-01-03", "--to",
                       "2027-01-08", "--json")
    assert code == 0 and json.loads(out) == []
    code, out, _ = run(capsys, "closures", "list", *db, "--from", "2027-01-03", "--json")
    assert code == 0 and [c["id"] for c in json.loads(out)] == [cid]
    code, out, _ = run(capsys, "availability", *db, "--from", "2027-01-09", "--to",
                       "2027-01-09", "--json")
    rows = json.loads(out)
    morning = rows[0]
    assert (morning["period"], morning["capacity"], morning["closed_reason"]) == (
        "MORNING", 60, None)
    code, out, _ = run(capsys, "closures", "remove", *db, cid)
    assert code == 0 and cid in out
    code, _, err = run(capsys, "closures", "remove", *db, cid)
    assert code == 1 and "[closure_not_found]" in err


def test_bad_options_exit_2_naming_each(
    phase1_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--database", phase1_url)
    code, out, err = run(capsys, "closures", "add", *db, "--date", "2027-01-05", "--to",
                         "2027-01-01", "--rrule", "FREQ=WEEKLY;UNTIL=20270101",
                         "--capacity", "-5", "--reason", " ")
    assert code == 2 and out == ""
    for option in ("--to", "--rrule", "--capacity", "--reason"):
        assert option in err
    code, _, err = run(capsys, "closures", "add", *db, "--date", "2027-13-01", "--reason", "x")
    assert code == 2
    code, out, _ = run(capsys, "closures", "list", *db, "--json")
    assert json.loads(out) == []  # nothing half-written


def test_timezone_show_and_set(phase1_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    db = ("--database", phase1_url)
    code, out, _ = run(capsys, "timezone", "show", *db)
    assert code == 0 and out.strip() == "Asia/Seoul"
    code, _, err = run(capsys, "timezone", "set", *db, "Mars/Olympus")
    assert code == 2 and "[invalid_time_zone]" in err
    code, out, _ = run(capsys, "timezone", "set", *db, "America/New_York", "--json")
    assert code == 0 and json.loads(out) == {"time_zone": "America/New_York"}
    code, out, _ = run(capsys, "timezone", "show", *db)
    assert out.strip() == "America/New_York"
