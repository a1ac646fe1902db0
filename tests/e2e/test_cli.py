"""The ``slotcap`` command line as a user meets it: exit codes, JSON, and no password in
any output. In-process (``tests/e2e/cli_run.py``); a real process where every byte the
process writes is the point (the password tests)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.cli_run import Completed, slotcap, slotcap_process

from slotcap.cli.main import main
from slotcap.demo.data import insert_reservations, legacy_row
from slotcap.schema.legacy import create_legacy_schema
from slotcap.sql import open_sql


def as_json(result: Completed | subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    result = slotcap("demo", "--path", str(path), "--rows", "1500", "--seed", "5")
    assert result.returncode == 0, result.stderr
    assert str(path) in result.stdout
    for marker in ("Analysis", "Manual review", "Validation", "Availability", "Next, try"):
        assert marker in result.stdout
    return path, f"sqlite:///{path}"


def test_demo_builds_an_explorable_database(demo: tuple[Path, str]) -> None:
    path, url = demo
    assert path.is_file()
    analysis = slotcap("analyze", "--database", url, "--json")
    assert analysis.returncode == 0, analysis.stderr
    document = as_json(analysis)
    assert document["totals"]["reservations"] == 1500
    assert document["schema"] == "expanded"
    families = {t["preferredTime"] for t in document["time_formats"]}
    assert {"asap", "10시나 3시"} & families
    assert any("오전" in t for t in families) and any("PM" in t for t in families)

    validation = slotcap("validate", "--database", url, "--phase", "phase2", "--json")
    report = as_json(validation)
    assert report["passed"] is False  # the demo stops where manual review starts
    assert report["needs_review"] > 0
    assert validation.returncode == 1

    today = dt.date.today()
    calendar = slotcap("availability", "--database", url, "--from", today.isoformat(),
                       "--to", (today + dt.timedelta(days=6)).isoformat(), "--json")
    assert calendar.returncode == 0, calendar.stderr
    entries = as_json(calendar)
    assert len(entries) == 14
    assert {e["period"] for e in entries} == {"MORNING", "AFTERNOON"}
    assert all(e["remaining"] == max(e["capacity"] - e["booked"], 0) for e in entries)

    # The demo's phase 2 waits for manual review: the phase1->phase2 transition is paused
    # at its validation step, which status reports (exit 1) with the way on and back.
    status = slotcap("migrate", "--database", url, "status", "--json")
    assert status.returncode == 1, status.stderr
    where = as_json(status)
    assert where["phase"] == "phase1"
    assert (where["state"], where["transition"], where["step"], where["paused"]) == (
        "interrupted", "phase1->phase2", "validate", True)
    assert "slotcap review import" in where["forward"]
    assert where["back"] == "slotcap migrate --rollback-to phase1"


def test_demo_reruns_over_its_own_file_but_refuses_others(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    assert slotcap("demo", "--path", str(path), "--rows", "200").returncode == 0
    again = slotcap("demo", "--path", str(path), "--rows", "200", "--json")
    assert again.returncode == 0, again.stderr
    assert as_json(again)["rows"] == 200
    precious = tmp_path / "notes.db"
    precious.write_text("patient notes, not a demo")
    refused = slotcap("demo", "--path", str(precious))
    assert refused.returncode == 2
    assert "refusing to overwrite" in refused.stderr
    assert precious.read_text() == "patient notes, not a demo"
    other_sqlite = tmp_path / "clinic.db"
    with open_sql(f"sqlite:///{other_sqlite}") as conn:
        create_legacy_schema(conn)
    assert slotcap("demo", "--path", str(other_sqlite)).returncode == 2


def test_demo_default_path_is_in_the_working_directory(tmp_path: Path) -> None:
    result = slotcap("demo", "--rows", "100", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "slotcap-demo.db").is_file()


def test_review_round_trip_through_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    assert slotcap("demo", "--path", str(path), "--rows", "400", "--json").returncode == 0
    url = f"sqlite:///{path}"
    out = tmp_path / "review.csv"
    exported = slotcap("review", "export", "--database", url, "--out", str(out), "--json")
    assert exported.returncode == 0, exported.stderr
    count = as_json(exported)["rows"]
    assert count > 0
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == count

    bad = tmp_path / "bad.csv"
    with bad.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([{**rows[0], "period": "LUNCH"},
                          {**rows[0], "id": "missing", "period": "MORNING"}])
    refused = slotcap("review", "import", "--database", url, "--in", str(bad))
    assert refused.returncode == 1
    assert "line 2" in refused.stderr and "line 3" in refused.stderr
    refused_json = slotcap("review", "import", "--database", url, "--in", str(bad), "--json")
    assert refused_json.returncode == 1
    assert [p["line"] for p in as_json(refused_json)["problems"]] == [2, 3]

    for row in rows:
        row["period"] = "MORNING"
    with out.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    applied = slotcap("review", "import", "--database", url, "--in", str(out), "--json")
    assert applied.returncode == 0, applied.stderr
    assert as_json(applied) == {"refused": False, "applied": count, "unchanged": 0, "blank": 0,
                                "remaining": 0}
    migrated = slotcap("migrate", "--database", url, "--to", "phase2", "--json")
    assert migrated.returncode == 0, migrated.stderr
    assert as_json(migrated)["reached"] == "phase2"
    validated = slotcap("validate", "--database", url)
    assert validated.returncode == 0, validated.stdout
    assert "FAIL" not in validated.stdout


def test_backfill_command_dry_run_and_json(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    with open_sql(url) as conn:
        create_legacy_schema(conn)
        insert_reservations(conn, [legacy_row("r1", preferred_time="3:00 PM"),
                                   legacy_row("r2", preferred_time="asap")])
    not_ready = slotcap("backfill", "--database", url)
    assert not_ready.returncode == 1
    assert "phase1" in not_ready.stderr and "Traceback" not in not_ready.stderr
    assert slotcap("migrate", "--database", url, "--to", "phase1").returncode == 0
    dry = slotcap("backfill", "--database", url, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert as_json(dry)["periods"] == {"MORNING": 0, "AFTERNOON": 1, "abstained": 1}
    assert as_json(dry)["dry_run"] is True
    real = slotcap("backfill", "--database", url, "--batch-size", "1", "--pause", "0")
    assert real.returncode == 1  # one row needs manual review
    assert "need manual review" in real.stdout
    assert "backfill:" in real.stderr  # progress goes to stderr
    env_url = slotcap("backfill", "--json", env={"SLOTCAP_DATABASE_URL": url})
    assert as_json(env_url)["rows_updated"] == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["services"], "one of: list, add"),
        (["analyze"], "--database is required"),
        (["analyze", "--database", "mysql://x/y"], "--database"),
        (["analyze", "--database", "sqlite:///does/not/exist.db"], "no such SQLite"),
        (["availability", "--database", "sqlite:///x.db", "--from", "2025-13-01",
          "--to", "2025-12-01"], "--from"),
        (["availability", "--database", "sqlite:///x.db", "--from", "2025-12-02",
          "--to", "2025-12-01"], "--to"),
        (["backfill", "--database", "sqlite:///x.db", "--batch-size", "0"], "--batch-size"),
        (["backfill", "--database", "sqlite:///x.db", "--pause", "-1"], "--pause"),
        (["backfill", "--database", "sqlite:///x.db", "--workers", "0"], "--workers"),
        (["migrate", "--database", "sqlite:///x.db"], "exactly one"),
        (["migrate", "--database", "sqlite:///x.db", "--to", "phase9"], "--to"),
        (["review", "import", "--database", "sqlite:///x.db", "--in", "nope.csv"], "--in"),
        (["nonsense"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_and_name_the_option(
    args: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SLOTCAP_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.db").touch()
    assert main(args) == 2
    captured = capsys.readouterr()
    assert needle in captured.err
    assert "Traceback" not in captured.err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("demo", "migrate", "analyze", "backfill", "validate", "review",
                    "availability"):
        assert command in out


SECRET_URL = "postgresql://clinic:s3cret@127.0.0.1:1/x?connect_timeout=2"  # noqa: S105


@pytest.mark.parametrize(
    "args",
    [
        ["analyze", "--database", SECRET_URL],
        ["validate", "--database", SECRET_URL, "--json"],
        ["backfill", "--database", SECRET_URL],
        ["migrate", "--database", SECRET_URL, "status"],
        ["migrate", "--database", SECRET_URL, "--to", "phase1"],
        ["availability", "--database", SECRET_URL, "--from", "2025-12-01", "--to", "2025-12-07"],
        ["review", "export", "--database", SECRET_URL, "--out", "r.csv"],
    ],
)
@pytest.mark.subprocess  # every byte the process writes, tracebacks and driver logs too
def test_a_password_never_appears_in_any_output(args: list[str], tmp_path: Path) -> None:
    result = slotcap_process(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "cannot connect" in result.stderr
    assert "s3cret" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.subprocess
def test_password_from_the_environment_is_not_printed_either(tmp_path: Path) -> None:
    result = slotcap_process("validate", env={"SLOTCAP_DATABASE_URL": SECRET_URL},
                             cwd=tmp_path)
    assert result.returncode == 2
    assert "s3cret" not in result.stdout + result.stderr


@pytest.mark.postgres
def test_postgres_migration_through_the_cli(pg_url: str) -> None:
    with open_sql(pg_url) as conn:
        create_legacy_schema(conn)
        insert_reservations(conn, [legacy_row(f"r{i}", preferred_time=t) for i, t in
                                   enumerate(["10:00", "오후 2시", "asap", "2:30 PM"])])
    before = slotcap("analyze", "--database", pg_url, "--json")
    assert as_json(before)["schema"] == "legacy"
    migrated = slotcap("migrate", "--database", pg_url, "--to", "phase2", "--json")
    assert migrated.returncode == 1  # "asap" awaits review: phase 2 is not reached yet
    document = as_json(migrated)
    assert (document["reached"], document["needs_review"]) == ("phase1", 1)
    validate = slotcap("validate", "--database", pg_url, "--json")
    assert validate.returncode == 0, validate.stdout
    assert as_json(validate)["passed"] is True
