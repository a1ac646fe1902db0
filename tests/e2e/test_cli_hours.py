"""``slotcap hours``: the weekly hours from the command line, on both SQL engines —
show/set/close, ``--dry-run``, ``--json``, exit codes, one-line errors naming the
argument, the warning for dates booked over the new capacity (nothing cancelled), and
the change seen by ``slotcap availability``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from tests.builders import request
from tests.e2e.cli_run import run, slotcap_process

from slotcap import book, bootstrap
from slotcap.domain.clock import DayClock
from slotcap.domain.model import ReservationStatus


def as_json(text: str) -> Any:
    return json.loads(text)


def next_tuesday() -> dt.date:
    """The first Tuesday after today (UTC, the clinic's zone in these tests)."""
    today = dt.datetime.now(dt.UTC).date()
    return today + dt.timedelta(days=(1 - today.weekday()) % 7 or 7)


@pytest.fixture
def phase1_url(phase1_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The shared phase-1 database, with "today" taken in UTC (the dates below are)."""
    monkeypatch.setenv("SLOTCAP_CLINIC_TZ", "UTC")
    return phase1_url


def test_before_phase_1_hours_are_refused_in_one_line(
    legacy_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "hours", "show", "--database", legacy_url)
    assert code == 1 and out == ""
    assert err.startswith("slotcap: error [schema_state]: ")
    assert "phase 1" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "hours", "set", "tue", "MORNING", "--database", legacy_url,
                       "--start", "09:00", "--end", "11:00")
    assert code == 1 and "[schema_state]" in err


def test_show_lists_every_weekday_and_period(
    phase1_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "hours", "show", "--database", phase1_url, "--json")
    assert code == 0, err
    week = as_json(out)
    assert len(week) == 14 and week[0]["weekday"] == "mon" and week[-1]["weekday"] == "sun"
    assert week[0] == {"weekday": "mon", "day_of_week": 1, "period": "MORNING", "open": True,
                       "start": "09:00", "end": "12:00", "capacity_minutes": 180}
    assert week[11] == {"weekday": "sat", "day_of_week": 6, "period": "AFTERNOON",
                        "open": False, "start": None, "end": None, "capacity_minutes": 0}
    assert [w["day_of_week"] for w in week[::2]] == [1, 2, 3, 4, 5, 6, 0]
    code, out, err = run(capsys, "hours", "show", "--database", phase1_url)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["weekday", "period", "open", "start", "end", "capacity"]
    assert lines[-1].split() == ["sun", "AFTERNOON", "no", "-", "-", "0"]


def test_tuesday_afternoon_changed_and_seen_in_availability(
    phase1_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--database", phase1_url)
    tuesday = next_tuesday().isoformat()
    code, out, err = run(capsys, "hours", "set", "tue", "afternoon", *db, "--start", "13:30",
                         "--end", "19:00", "--dry-run")
    assert code == 0, err
    assert out.splitlines() == [
        "Would set Tuesday AFTERNOON: open 13:30-19:00, 330 min "
        "(was open 14:00-18:00, 240 min)",
        "dry run: nothing was written",
    ]
    code, out, err = run(capsys, "hours", "set", "Tuesday", "AFTERNOON", *db,
                         "--start", "13:30", "--end", "19:00")
    assert (code, err) == (0, "")
    assert out.startswith("Set Tuesday AFTERNOON: open 13:30-19:00, 330 min")
    code, out, err = run(capsys, "availability", *db, "--from", tuesday, "--to", tuesday,
                         "--json")
    assert code == 0, err
    assert [(r["period"], r["capacity"]) for r in as_json(out)] == [
        ("MORNING", 180), ("AFTERNOON", 330)]
    code, out, err = run(capsys, "hours", "set", "tue", "afternoon", *db, "--start", "13:30",
                         "--end", "19:00", "--json")
    assert code == 0, err
    unchanged = as_json(out)
    assert (unchanged["changed"], unchanged["saved"]) == (False, False)


def test_shrinking_below_the_bookings_warns_and_cancels_nothing(
    phase1_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tuesday = next_tuesday()
    today = dt.datetime.now(dt.UTC).date()
    with bootstrap(phase1_url, env={}) as app:
        ids = [book(app.store, request(preferred_date=tuesday.isoformat(), period="AFTERNOON",
                                       preferred_time=None, service="SKIN_CARE"),
                    dynamic=True, clock=DayClock(today)).id for _ in range(2)]  # 140 min
    db = ("--database", phase1_url)
    code, out, err = run(capsys, "hours", "set", "tue", "AFTERNOON", *db, "--start", "14:00",
                         "--end", "15:00")
    assert code == 0
    assert out.startswith("Set Tuesday AFTERNOON: open 14:00-15:00, 60 min")
    assert err.splitlines() == [
        f"warning: 1 upcoming date(s) from {today} to {today + dt.timedelta(days=55)} hold "
        "more minutes in Tuesday AFTERNOON than its new capacity (60 min); no booking was "
        "cancelled:",
        f"  {tuesday}  held 140 min  capacity 60 min",
    ]
    assert "김하늘" not in out + err and "010" not in out + err
    code, out, err = run(capsys, "hours", "set", "tue", "AFTERNOON", *db, "--closed", "--json")
    assert (code, err) == (0, "")
    closed = as_json(out)
    assert closed["slot"] == {"weekday": "tue", "day_of_week": 2, "period": "AFTERNOON",
                              "open": False, "start": "14:00", "end": "15:00",
                              "capacity_minutes": 0}
    assert closed["over_capacity"] == [{"date": tuesday.isoformat(), "period": "AFTERNOON",
                                        "held_minutes": 140, "capacity_minutes": 0}]
    assert closed["window"] == {"from": today.isoformat(),
                                "to": (today + dt.timedelta(days=55)).isoformat()}
    with bootstrap(phase1_url, env={}) as app:
        for rid in ids:
            kept = app.store.get_reservation(rid)
            assert kept is not None and kept.status is ReservationStatus.PENDING


def test_refusals_name_the_argument_with_exit_2(
    phase1_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--database", phase1_url)
    cases: list[tuple[tuple[str, ...], set[str]]] = [
        (("funday", "MORNING", "--start", "09:00", "--end", "10:00"), {"WEEKDAY"}),
        (("mon", "EVENING", "--start", "09:00", "--end", "10:00"), {"PERIOD"}),
        (("mon", "MORNING", "--start", "9", "--end", "24:00"), {"--start", "--end"}),
        (("mon", "MORNING", "--start", "11:00", "--end", "10:00"), {"--end"}),
        (("mon", "MORNING", "--start", "09:00", "--end", "14:30"), {"--end"}),  # overlap
        (("mon", "AFTERNOON", "--start", "11:00", "--end", "18:00"), {"--start"}),
        (("mon", "MORNING", "--closed", "--start", "09:00"), {"--start"}),
        (("mon", "MORNING"), {"--start", "--end"}),
    ]
    before = run(capsys, "hours", "show", *db, "--json")[1]
    for args, named in cases:
        code, out, err = run(capsys, "hours", "set", *args, *db)
        assert (code, out) == (2, ""), args
        assert err.startswith("slotcap: error [invalid_hours]: invalid hours: "), err
        assert len(err.strip().splitlines()) == 1
        shown = {name for name in ("WEEKDAY", "PERIOD", "--start", "--end", "--closed")
                 if f"{name}: " in err}
        assert shown == named, (args, err)
    assert run(capsys, "hours", "show", *db, "--json")[1] == before
    code, _, err = run(capsys, "hours", "set", "mon", *db)
    assert code == 2 and "PERIOD" in err  # argparse: a missing positional
    code, _, err = run(capsys, "hours", "set", "postgresql://u:s3cret@h/db", "MORNING",
                       "--closed", *db)
    assert code == 2 and "s3cret" not in err


@pytest.mark.subprocess
def test_the_console_script_runs_hours(phase1_url: str) -> None:
    result = slotcap_process("hours", "set", "sun", "morning", "--start", "10:00", "--end",
                             "13:00", "--database", phase1_url, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["slot"]["capacity_minutes"] == 180
    shown = slotcap_process("hours", "show", "--database", phase1_url)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[-2].split() == ["sun", "MORNING", "yes", "10:00",
                                                     "13:00", "180"]
