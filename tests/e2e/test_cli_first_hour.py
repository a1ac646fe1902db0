"""What a new user meets in the first hour (#23 item 7 and the ergonomics): every message
names what the user typed and points somewhere that works."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.e2e.cli_run import run

ROOT = Path(__file__).resolve().parents[2]
NOT_CLINIC = "no reservations table: this is not the clinic's reservation database"


def test_a_bad_url_is_not_told_to_use_memory(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "analyze", "--database", "mysql://x/y")
    assert code == 2
    assert "sqlite:///path.db" in err and "use memory://" not in err


@pytest.mark.parametrize("command", [["analyze"], ["validate"], ["backfill"],
                                     ["review", "export", "--out", "r.csv"]])
def test_an_empty_database_is_named_as_such(
        command: list[str], sql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    if sql_url.startswith("sqlite"):
        Path(sql_url.removeprefix("sqlite:///")).touch()
    code, out, err = run(capsys, *command, "--database", sql_url)
    assert (code, out) == (1, ""), err
    assert NOT_CLINIC in err
    assert "42P01" not in err and "UndefinedTable" not in err and "no such table" not in err


def test_the_demos_lock_file_is_ignored_by_git() -> None:
    for name in ("slotcap-demo.db", "slotcap-demo.db-slotcap.lock", "x.db-journal"):
        done = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", "--no-index",
                               name], check=False)
        assert done.returncode == 0, f"{name} is not ignored by .gitignore"
