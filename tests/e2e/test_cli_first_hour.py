"""What a new user meets in the first hour (#23 item 7 and the ergonomics): every message
names what the user typed and points somewhere that works."""

from __future__ import annotations

import argparse
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


@pytest.mark.subprocess
def test_the_demos_lock_file_is_ignored_by_git() -> None:
    for name in ("slotcap-demo.db", "slotcap-demo.db-slotcap.lock", "x.db-journal"):
        done = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", "--no-index",
                               name], check=False)
        assert done.returncode == 0, f"{name} is not ignored by .gitignore"


# -- ergonomics: help, version, "did you mean", options named as typed ---------------------

def test_version_and_a_bare_slotcap(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert (code, out.strip()) == (0, "slotcap 0.1.0")
    code, out, err = run(capsys)
    assert (code, err) == (0, "")
    assert "commands:" in out and "  services " in out and "start here:" in out


def test_every_help_ends_with_examples() -> None:
    from slotcap.cli._help import _children
    from slotcap.cli.main import build_parser

    def walk(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
        return [parser, *(p for child in _children(parser).values() for p in walk(child))]

    parsers = walk(build_parser())
    assert len(parsers) > 25
    for parser in parsers:
        assert "examples:\n  slotcap" in parser.format_help(), parser.prog


@pytest.mark.parametrize(("argv", "said"), [
    (["servics"], "invalid choice: 'servics' (did you mean services?)"),
    (["availability", "--form", "2027-01-01"],
     "unrecognized option: --form (did you mean --from?)"),
    # Unknown options first, in the order typed — not "the following arguments are
    # required" for the option the user did type, misspelled.
    (["services", "add", "--nme", "X", "--duraton", "3", "--code", "A"],
     "unrecognized options: --nme (did you mean --name?); --duraton (did you mean --duration?)"),
    (["services"], "(one of: list, add, update, deactivate, reactivate)"),
])
def test_a_slip_is_named_as_typed_with_the_closest_real_name(
        argv: list[str], said: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert said in err
    assert "required: --from" not in err and "required: --name" not in err


@pytest.mark.parametrize("sql_url", ["sqlite"], indirect=True)
def test_refusals_name_the_flag_and_the_argument_typed(
        phase1_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "migrate", "--to", "phase4", "--database", phase1_url)
    assert code == 1 and "with --confirm" in err and "pass confirm=True" not in err
    code, _, err = run(capsys, "timezone", "set", "Seoul", "--database", phase1_url)
    assert code == 2 and "NAME: not a known IANA time zone" in err and "time_zone:" not in err
    code, out, err = run(capsys, "monitor", "--database", phase1_url)
    assert "with new columns" in out and "old columns only" in out, err
