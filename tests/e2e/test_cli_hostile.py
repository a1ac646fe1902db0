"""Hostile input at the command line: every URL mistake keeps its password out of the
output (also with ``SLOTCAP_DEBUG=1``), every broken review file is refused whole with
its line numbers and leaves the database byte-for-byte unchanged, and database errors
are one line without the row's values. The CLI in-process (``tests/e2e/cli_run.py``);
with ``SLOTCAP_DEBUG=1`` a real process, whose driver logging starts untouched."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from tests.conftest import missing
from tests.e2e.cli_run import slotcap, slotcap_process

from slotcap.demo.data import insert_reservations, legacy_row
from slotcap.migration import migrate
from slotcap.migration.backfill import run_backfill
from slotcap.sql import SqlConnection, open_sql

SECRET = "Zq7SecretPW"  # noqa: S105 (a fake password the output must never show)
PATIENT_NAME = "김비밀"
PATIENT_PHONE = "010-9876-5432"



def error_lines(stderr: str) -> list[str]:
    """The error lines (``slotcap: error …``, ``slotcap migrate: error: …``)."""
    return [line for line in stderr.splitlines() if re.match(r"slotcap( \w+)*: error", line)]


# -- database URLs ------------------------------------------------------------------------

UNREACHABLE = "127.0.0.1:1"
URL_MISTAKES = [
    pytest.param(["migrate", "status", f"postgresql://u:{SECRET}@{UNREACHABLE}/db"], {},
                 "not repeated", id="positional-after-status"),
    pytest.param(["migrate", f"postgresql://u:{SECRET}@{UNREACHABLE}/db"], {},
                 "not repeated", id="positional-as-action"),
    pytest.param(["analyze", f"postgres://u:{SECRET}@{UNREACHABLE}/db"], {},
                 "not repeated", id="positional-analyze"),
    pytest.param(["analyze", f"--databse=postgresql://u:{SECRET}@{UNREACHABLE}/db"], {},
                 "not repeated", id="misspelled-option"),
    pytest.param(["analyze", "--database", f"postgresql://u:{SECRET}@[::1/db"], {},
                 "brackets", id="ipv6-missing-bracket"),
    pytest.param(["analyze", "--database", f"postgresql://u:{SECRET}@host:99999/db"], {},
                 "port", id="port-out-of-range"),
    pytest.param(["analyze", "--database", f"postgresql://u:{SECRET}@host:port/db"], {},
                 "port", id="port-not-a-number"),
    pytest.param(["analyze", "--database", f"mysql://u:{SECRET}@host/db"], {},
                 "unsupported", id="unknown-scheme"),
    pytest.param(["analyze", "--database", f"host=127.0.0.1 port=1 password={SECRET}"], {},
                 "key=value", id="libpq-dsn"),
    pytest.param(["analyze", "--database", f"postgresql://u:{SECRET}#1@{UNREACHABLE}/db"], {},
                 "percent-encoded", id="hash-in-password"),
    pytest.param(["analyze", "--database", f"postgresql://u:{SECRET}/1@{UNREACHABLE}/db"], {},
                 "percent-encoded", id="slash-in-password"),
    pytest.param(["analyze", "--database",
                  f"postgresql://u@{UNREACHABLE}/db?password={SECRET}&connect_timeout=2"], {},
                 "cannot connect", id="password-in-query"),
    pytest.param(["analyze", "--database",
                  f"postgresql://u:{SECRET.replace('S', '%53')}@{UNREACHABLE}/db"], {},
                 "cannot connect", id="percent-encoded-password"),
    pytest.param(["validate"], {"SLOTCAP_DATABASE_URL": f"postgresql://u:{SECRET}@[::1/db"},
                 "brackets", id="malformed-in-environment"),
    pytest.param(["review", "export", "--database", f"postgresql://u:{SECRET}@h:0/db",
                  "--out", "r.csv"], {}, "port", id="review-export-port-zero"),
]


@pytest.mark.parametrize("debug", [False, pytest.param(True, marks=pytest.mark.subprocess)],
                         ids=["plain", "debug"])
@pytest.mark.parametrize(("args", "env", "needle"), URL_MISTAKES)
def test_url_mistakes_exit_2_with_one_clear_line_and_no_password(
    args: list[str], env: dict[str, str], needle: str, debug: bool, tmp_path: Path
) -> None:
    # With SLOTCAP_DEBUG=1, a process of its own: the driver's logging as a user's
    # process has it (an in-process run inherits what earlier runs set up).
    run = slotcap_process if debug else slotcap
    result = run(*args, env={**env, **({"SLOTCAP_DEBUG": "1"} if debug else {})},
                 cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert SECRET not in output
    assert SECRET.replace("S", "%53") not in output
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert needle in lines[0]
    if not debug:
        assert "Traceback" not in result.stderr


def test_a_positional_url_is_not_echoed_even_without_a_password(tmp_path: Path) -> None:
    result = slotcap("migrate", "status", "postgresql://clinic-db.internal/prod", cwd=tmp_path)
    assert result.returncode == 2
    assert "clinic-db.internal" not in result.stderr
    assert "--database" in result.stderr


# -- review import: every broken file is refused whole --------------------------------------

REVIEW_IDS = ("r0", "r1", "r2", "r3")


def _patient_row(rid: str, preferred_time: str) -> tuple[object, ...]:
    row = list(legacy_row(rid, preferred_time=preferred_time, preferred_date="2025-12-01"))
    row[1], row[2] = PATIENT_NAME, PATIENT_PHONE
    return tuple(row)


@pytest.fixture
def review_url(legacy_url: str) -> str:
    """Phase 1, backfilled: r0-r3 await review, ok1 has period MORNING."""
    with open_sql(legacy_url) as conn:
        insert_reservations(conn, [_patient_row(rid, "asap") for rid in REVIEW_IDS]
                            + [_patient_row("ok1", "10:00")])
        migrate(legacy_url, to="phase1")
        run_backfill(conn)
    return legacy_url


def checksum(conn: SqlConnection) -> str:
    """Every column of every reservation and journal row."""
    rows = conn.execute('SELECT * FROM "reservations" ORDER BY "id"')
    journal = conn.execute('SELECT * FROM "slotcap_backfill_journal" ORDER BY 1')
    return hashlib.sha256(repr((rows, journal)).encode()).hexdigest()


BROKEN_FILES: list[tuple[str, bytes, list[int], str]] = [
    ("unknown period in the first row", b"id,period\nr0,LUNCH\nr1,MORNING\nr2,AFTERNOON\n",
     [2], "invalid period"),
    ("repeated period column", b"id,period,period\nr0,MORNING,AFTERNOON\n", [1],
     "2 'period' columns"),
    ("repeated id column", b"id,id,period\nr0,r1,MORNING\n", [1], "2 'id' columns"),
    ("repeated id", b"id,period\nr0,MORNING\nr1,MORNING\nr0,MORNING\n", [4],
     "duplicate id (first on line 2)"),
    ("unknown id", b"id,period\nr0,MORNING\nnope,AFTERNOON\n", [3], "unknown reservation id"),
    ("period already different", b"id,period\nr0,MORNING\nok1,AFTERNOON\n", [3],
     "already MORNING"),
    ("saved as CP949", "id,period\nr0,MORNING\nr1,오전\n".encode("cp949"), [3], "not UTF-8"),
    ("saved as UTF-16", "id,period\r\nr0,MORNING\r\n".encode("utf-16"), [1], "not UTF-8"),
    ("text after a closing quote", b'id,period\nr0,MORNING\n"r1"x,AFTERNOON\nr2,MORNING\n',
     [3], "unreadable CSV"),
    ("quote never closed", b'id,period\nr0,MORNING\nr1,"AFTERNOON\nr2,MORNING\n', [3],
     "unreadable CSV"),
    ("more fields than the header", b"id,period\nr0,MORNING\nr1,MORNING,extra\n", [3],
     "more fields"),
    ("fewer fields than the header", b"id,note,period\nr0,x,MORNING\nr1\n", [3],
     "fewer fields"),
    ("empty file", b"", [1], "empty"),
    ("no period column", b"id,Period\nr0,MORNING\n", [1], "missing column"),
    ("every problem at once",
     "\ufeffid,period\nr0,EVENING\nr1,MORNING\nghost,MORNING\nr1,AFTERNOON\n".encode(),
     [2, 4, 5], "invalid period"),
]


def test_every_broken_review_file_is_refused_and_nothing_changes(
    review_url: str, tmp_path: Path
) -> None:
    with open_sql(review_url) as conn:
        before = checksum(conn)
    failures = []
    for name, content, lines, needle in BROKEN_FILES:
        path = tmp_path / "review.csv"
        path.write_bytes(content)
        result = slotcap("review", "import", "--database", review_url, "--in", str(path))
        with open_sql(review_url) as conn:
            after = checksum(conn)
        reported = [line for line in result.stderr.splitlines() if line.startswith("  line ")]
        problems = [
            result.returncode != 1 and f"exit {result.returncode}",
            "[review_rejected]" not in result.stderr and "no review_rejected code",
            "nothing was written" not in result.stderr and "does not say nothing was written",
            needle not in result.stderr and f"no {needle!r}",
            [int(line.split()[1].rstrip(":")) for line in reported] != lines
            and f"lines {reported}, expected {lines}",
            after != before and "the database changed",
            "Traceback" in result.stderr and "a traceback",
        ]
        if any(problems):
            failures.append(f"{name}: {[p for p in problems if p]}\n{result.stderr}")
    assert not failures, "\n".join(failures)
    # The good file still goes in afterwards, in one transaction.
    good = tmp_path / "good.csv"
    good.write_text("id,period\nr0,MORNING\nr1,오후\nr2,\n", encoding="utf-8-sig")
    applied = slotcap("review", "import", "--database", review_url, "--in", str(good))
    assert applied.returncode == 0, applied.stderr
    assert "Applied 2 period(s)" in applied.stdout


@pytest.mark.parametrize("target", ["directory", "full-device"])
def test_an_export_that_cannot_be_written_exits_2(
    review_url: str, tmp_path: Path, target: str
) -> None:
    if target == "full-device" and not Path("/dev/full").exists():
        missing("THE FULL-DEVICE CASE", "no /dev/full on this system")
    out = tmp_path if target == "directory" else Path("/dev/full")
    result = slotcap("review", "export", "--database", review_url, "--out", str(out))
    assert result.returncode == 2, result.stderr
    (line,) = error_lines(result.stderr)
    assert line.startswith("slotcap: error [usage]: --out")


# -- database errors ---------------------------------------------------------------------------


def _refuse_periods(url: str) -> None:
    """A rule of the database's own that the review import runs into."""
    with open_sql(url) as conn:
        if conn.is_postgres:
            conn.execute('ALTER TABLE "reservations" ADD CONSTRAINT "period_frozen" '
                         'CHECK ("period" IS NULL) NOT VALID')
        else:
            conn.execute('CREATE TRIGGER "period_frozen" BEFORE UPDATE OF "period" ON '
                         '"reservations" BEGIN SELECT RAISE(ABORT, '
                         "'period_frozen: periods are frozen'); END")


def test_a_database_error_is_one_line_without_the_row(review_url: str, tmp_path: Path) -> None:
    _refuse_periods(review_url)
    path = tmp_path / "review.csv"
    path.write_text("id,period\nr0,MORNING\nr1,AFTERNOON\n", encoding="utf-8")
    with open_sql(review_url) as conn:
        before = checksum(conn)

    result = slotcap("review", "import", "--database", review_url, "--in", str(path))
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr  # exactly one line
    assert result.stderr.startswith("slotcap: error [constraint_violation]: ")
    assert "period_frozen" in result.stderr
    if review_url.startswith("postgresql"):
        assert "SQLSTATE 23514" in result.stderr and 'table "reservations"' in result.stderr
    for value in (PATIENT_NAME, PATIENT_PHONE, "DETAIL", "Failing row"):
        assert value not in result.stderr

    debug = slotcap("review", "import", "--database", review_url, "--in", str(path),
                    env={"SLOTCAP_DEBUG": "1"})
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr
    if review_url.startswith("postgresql"):
        assert "CheckViolation" in debug.stderr
        assert "Failing row contains (***)" in debug.stderr  # the full error, values hidden
    for value in (PATIENT_NAME, PATIENT_PHONE):
        assert value not in debug.stderr
    with open_sql(review_url) as conn:
        assert checksum(conn) == before
