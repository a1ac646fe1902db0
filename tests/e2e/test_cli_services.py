"""``slotcap services``: the catalogue from the command line, on both SQL engines —
exit codes, one-line errors naming the option, ``--json``, and no password echoed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.e2e.cli_run import run, slotcap_process


def as_json(text: str) -> Any:
    return json.loads(text)


def test_before_phase_1_services_are_refused_in_one_line(
    legacy_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "services", "list", "--database", legacy_url)
    assert code == 1 and out == ""
    assert err.startswith("slotcap: error [schema_state]: ")
    assert "phase 1" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "services", "add", "--database", legacy_url, "--code", "NEW",
                       "--name", "새", "--duration", "30")
    assert code == 1 and "[schema_state]" in err


def test_the_catalogue_round_trip(phase1_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    db = ("--database", phase1_url)
    code, out, err = run(capsys, "services", "list", *db, "--json")
    assert code == 0, err
    assert [s["code"] for s in as_json(out)][:2] == ["WRINKLE_BOTOX", "VOLUME_LIFTING"]

    code, out, err = run(capsys, "services", "add", *db, "--code", "LASER", "--name", "레이저",
                         "--name-en", "Laser", "--duration", "25", "--buffer", "5", "--json")
    assert code == 0, err
    added = as_json(out)
    assert added.pop("id").startswith("srv_laser_")
    assert added == {
        "code": "LASER", "name": "레이저", "name_en": "Laser",
        "duration_minutes": 25, "buffer_minutes": 5, "display_order": 7, "is_active": True,
        "in_legacy_enum": False, "bookable_now": False,
    }
    assert "레이저" in out  # Korean unescaped

    code, out, err = run(capsys, "services", "update", *db, "LASER", "--duration", "40",
                         "--name-en", "")
    assert code == 0, err
    assert out.startswith("Updated LASER: 레이저, 40 min + 5 min buffer")

    code, out, err = run(capsys, "services", "deactivate", *db, "LASER")
    assert (code, out.split(":")[0]) == (0, "Deactivated LASER"), err
    code, out, _ = run(capsys, "services", "list", *db, "--json")
    assert "LASER" not in {s["code"] for s in as_json(out)}
    code, out, _ = run(capsys, "services", "list", *db, "--all")
    assert code == 0
    laser = next(line for line in out.splitlines() if line.startswith("LASER"))
    assert laser.split()[-1] == "no" and "40" in laser.split()

    code, out, err = run(capsys, "services", "reactivate", *db, "LASER", "--json")
    assert code == 0 and as_json(out)["is_active"] is True, err
    assert as_json(out)["name_en"] is None


def test_refusals_have_the_clis_exit_codes(
    phase1_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--database", phase1_url)
    code, _, err = run(capsys, "services", "add", *db, "--code", "SKIN_CARE", "--name", "x",
                       "--duration", "30")
    assert code == 1 and err.startswith("slotcap: error [service_exists]: ")

    code, _, err = run(capsys, "services", "add", *db, "--code", "bad code", "--name", " ",
                       "--duration", "0", "--buffer", "-1")
    assert code == 2 and err.startswith("slotcap: error [invalid_service_definition]: ")
    for option in ("--code", "--name", "--duration", "--buffer"):
        assert option in err
    assert len(err.strip().splitlines()) == 1

    code, _, err = run(capsys, "services", "deactivate", *db, "NOPE")
    assert code == 1 and "[unknown_service]" in err
    code, _, err = run(capsys, "services", "update", *db, "SKIN_CARE")
    assert code == 2 and "[usage]" in err and "--duration" in err
    code, _, err = run(capsys, "services", "add", *db, "--code", "X", "--name", "x",
                       "--duration", "ten")
    assert code == 2 and "--duration" in err
    code, _, err = run(capsys, "services", "update", *db, "skin_care", "--order", "-1")
    assert code == 2 and "CODE" in err and "--order" in err


def test_the_database_comes_from_the_environment_and_secrets_stay_out(
    phase1_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLOTCAP_DATABASE_URL", raising=False)
    code, _, err = run(capsys, "services", "list")
    assert code == 2 and "[usage]" in err and "SLOTCAP_DATABASE_URL" in err
    monkeypatch.setenv("SLOTCAP_DATABASE_URL", phase1_url)
    code, out, err = run(capsys, "services", "list")
    assert code == 0 and "WRINKLE_BOTOX" in out, err
    # A URL slipped in as the CODE is refused without being repeated.
    code, out, err = run(capsys, "services", "deactivate", "postgresql://u:s3cret@h/db")
    assert code == 2 and "s3cret" not in out + err and "postgresql" not in err


@pytest.mark.subprocess
def test_the_console_script_runs_services(phase1_url: str) -> None:
    result = slotcap_process("services", "list", "--database", phase1_url, "--json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 6


def test_adding_a_code_outside_the_legacy_enum_says_when_it_becomes_bookable(
        phase1_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    # #23: the README's `services add --code LASER_TONING` said only "active".
    code, out, err = run(capsys, "services", "add", "--database", phase1_url, "--code",
                         "LASER_TONING", "--name", "레이저 토닝", "--duration", "30")
    assert code == 0, err
    assert "active; not bookable before phase 4" in out
    assert "slotcap migrate --to phase4" in out
    code, out, err = run(capsys, "services", "list", "--database", phase1_url)
    laser = next(line for line in out.splitlines() if line.startswith("LASER_TONING"))
    assert laser.rstrip().endswith("after phase 4")
