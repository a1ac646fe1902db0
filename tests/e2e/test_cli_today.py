"""One "today" for every command (#23 defect 6): the clinic's, from the composition root
(bootstrap.clock_for) — SLOTCAP_CLINIC_TZ, else the zone `timezone set` stored, else the
machine's. `hours set` and `demo` used the machine's zone while the server used the stored
one: at 16:01 UTC `hours set --dry-run` started its window on 12-07 while the server
refused 12-07 as past.

The machine's zone is set (TZ, tzset) to one whose date differs from the clinic's at
this very moment, so each test would catch a command reading the machine's date.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.cli_run import run

from slotcap.migration.ddl.phase1 import DEFAULT_TIME_ZONE

#: UTC+14 and UTC-11: 25 hours apart, so their dates differ at every instant.
AHEAD, BEHIND = "Pacific/Kiritimati", "Pacific/Pago_Pago"


def _today(zone: str) -> dt.date:
    return dt.datetime.now(zoneinfo.ZoneInfo(zone)).date()


@pytest.fixture
def machine_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's zone for the test: set by the test through ``set_machine``."""
    monkeypatch.delenv("SLOTCAP_CLINIC_TZ", raising=False)
    yield
    monkeypatch.undo()
    time.tzset()


def _set_machine(monkeypatch: pytest.MonkeyPatch, zone: str) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()


def _one_of(*dates: dt.date) -> set[str]:
    # The instant can cross a midnight between the command and the check.
    return {d.isoformat() for d in dates}


@pytest.mark.parametrize("sql_url", ["sqlite"], indirect=True)
def test_hours_set_and_availability_use_the_stored_zone_not_the_machines(
        phase1_url: str, machine_zone: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _set_machine(monkeypatch, BEHIND)
    db = ("--database", phase1_url)
    assert run(capsys, "timezone", "set", *db, AHEAD)[0] == 0
    before = _today(AHEAD)
    code, out, err = run(capsys, "hours", "set", *db, "tue", "afternoon", "--start", "14:00",
                         "--end", "18:00", "--dry-run", "--json")
    assert code == 0, err
    assert json.loads(out)["window"]["from"] in _one_of(before, _today(AHEAD))
    code, out, err = run(capsys, "availability", *db, "--json")
    assert code == 0, err
    dates = [row["date"] for row in json.loads(out)]
    assert dates[0] in _one_of(before, _today(AHEAD)) and len(set(dates)) == 7


def test_the_demo_uses_the_zone_its_phase1_stores(
        tmp_path: Path, machine_zone: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    clinic = _today(DEFAULT_TIME_ZONE)
    # Whichever far zone is on another date than the clinic right now.
    _set_machine(monkeypatch, AHEAD if _today(AHEAD) != clinic else BEHIND)
    code, out, err = run(capsys, "demo", "--path", str(tmp_path / "d.db"), "--rows", "200",
                         "--json")
    assert code == 0, err
    first = json.loads(out)["calendar"][0]["date"]
    assert first in _one_of(clinic, _today(DEFAULT_TIME_ZONE))
