"""SIGKILL the real ``slotcap migrate`` at named step boundaries of every transition
(through ``tests.killpoint_launcher --kill-at``, which installs the checkpoint hook
the shipped CLI lacks), then: ``migrate status`` says "interrupted during <transition>
at sub-step <step>"; the same command finishes it and the inverse command undoes it,
each ending with the schema and the domain data of an uninterrupted run. The killed
command is a real process; status, the rerun and the inverse run the same CLI
in-process (``tests/e2e/cli_run.py``).

A database at phase 1 or later carries the operator's rows made at phase 1 (closures,
an override, a time zone): every later step and its rollback must keep them, phase 1's
rollback drops their tables. A few labels per transition, on both engines; the lead's
harness sweeps every label and timed kills on larger tables.

Each label is killed once: its two cases (rerun, inverse) each get a copy of the killed
database (the SQLite file with the write-ahead log the kill left; on PostgreSQL,
``CREATE DATABASE … TEMPLATE`` once the killed run's backend is gone), and each copy
is at a phase made once from the seeded database by slotcap's own migration.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import PG_URL, require_postgres
from tests.e2e.cli_run import Completed, slotcap_process
from tests.e2e.cli_run import slotcap as slotcap_here
from tests.integration.migration_helpers import all_rows, seed_legacy
from tests.integration.store_helpers import open_sql_store
from tests.pgdb import scratch_database

from slotcap.migration import migrate, snapshot
from slotcap.migration.engine.runlock import migration_lock
from slotcap.migration.state import Phase
from slotcap.migration.transitions import transition
from slotcap.schema.legacy import create_legacy_schema
from slotcap.sql import Dialect, open_sql
from slotcap.usecases.closures import add_closure, set_clinic_time_zone

ROWS = 1200
BATCH = "150"
DOMAIN_TABLES = ("reservations", "services", "clinic_time_slots", "service_reservation_limits",
                 "clinic_closures", "clinic_settings")
#: Set by the database at seed time: differs between two databases seeded apart.
_CLOCK_COLUMNS = {"services": ("createdAt", "updatedAt"),
                  "clinic_time_slots": ("createdAt", "updatedAt"),
                  "clinic_closures": ("createdAt",),
                  "clinic_settings": ("updatedAt",)}

COMMAND = {
    (Phase.LEGACY, Phase.PHASE1): ["--to", "phase1"],
    (Phase.PHASE1, Phase.PHASE2): ["--to", "phase2"],
    (Phase.PHASE2, Phase.PHASE4): ["--to", "phase4", "--confirm"],
    (Phase.PHASE4, Phase.PHASE2): ["--rollback-to", "phase2"],
    (Phase.PHASE2, Phase.PHASE1): ["--rollback-to", "phase1"],
    (Phase.PHASE1, Phase.LEGACY): ["--rollback-to", "legacy"],
}

# -- databases ------------------------------------------------------------------------------


class Databases:
    """Copies of one seeded legacy database of one engine, or of it at a later phase
    with the operator's rows, all dropped at the end (a copy, so that the rows' own
    timestamps are equal in every one). Each phase is reached once, by slotcap's own
    migration, and copied from there (``CREATE DATABASE … TEMPLATE``; on SQLite, a file
    copy); so is a killed database, which both directions of a case copy."""

    def __init__(self, dialect: str, root: Path) -> None:
        self.dialect = dialect
        self.root = root
        # PostgreSQL copies come from the tests' scratch-database recipe; each is
        # dropped when the stack closes (drop_all).
        self._made = contextlib.ExitStack()
        golden = self._new(None)
        with open_sql(golden) as conn:
            create_legacy_schema(conn)
            seed_legacy(conn, ROWS)
        #: The database every copy at a phase is made from (set by the engine fixture
        #: for phase 1 and later: with the operator's rows).
        self.at: dict[Phase, str] = {Phase.LEGACY: golden}
        #: label -> the database a real run was SIGKILLed in (never touched since).
        self.killed: dict[str, str] = {}

    def _new(self, template: str | None) -> str:
        if self.dialect == "sqlite":
            path = self.root / f"slotcap_kp_{uuid.uuid4().hex[:10]}.db"
            if template is not None:
                # With the write-ahead log a killed writer may have left: the copy is
                # the killed database itself, as its next opener finds it.
                source = template.removeprefix("sqlite:///")
                shutil.copyfile(source, path)
                for sidecar in ("-wal", "-journal"):
                    if Path(source + sidecar).exists():
                        shutil.copyfile(source + sidecar, f"{path}{sidecar}")
            return f"sqlite:///{path}"
        return self._made.enter_context(
            scratch_database(PG_URL, "kp", template=template))

    def new(self, at: Phase = Phase.LEGACY) -> str:
        """A copy of the seeded legacy database, or (any other ``at``) of it at ``at``
        with the operator's rows."""
        return self._new(self.at[at])

    def copy(self, url: str) -> str:
        return self._new(url)

    def drop_all(self) -> None:
        if self.dialect == "sqlite":
            shutil.rmtree(self.root, ignore_errors=True)
            return
        self._made.close()


def add_operator_rows(url: str) -> None:
    """What an operator adds at phase 1 (``slotcap closures add``, ``slotcap timezone
    set``): a yearly closure, an afternoon override with a capacity, another time zone.
    Fixed ids, so that every copy holds the same rows."""
    store = open_sql_store(url)
    try:
        add_closure(store, start_date=dt.date(2025, 12, 25), reason="성탄절",
                    rrule="FREQ=YEARLY", new_id=lambda: "clo_kp_yearly")
        add_closure(store, start_date=dt.date(2025, 12, 1), end_date=dt.date(2025, 12, 5),
                    period="afternoon", capacity_minutes=120, reason="one doctor",
                    new_id=lambda: "clo_kp_override")
        set_clinic_time_zone(store, "Asia/Tokyo")
    finally:
        store.close()


def seeded(dbs: Databases, at: Phase) -> str:
    """A copy at ``at`` (as slotcap's migration took it there); at phase 1 or later,
    with the operator's rows."""
    return dbs.new(at)


def fingerprint(url: str) -> tuple[Any, dict[str, Any]]:
    """The whole schema (indexes with validity, constraints, triggers) and the data of
    the domain tables, independent of physical column order."""
    with open_sql(url) as conn:
        cat = snapshot(conn)
        tables = conn.tables()
        data = {}
        for table in DOMAIN_TABLES:
            if table in tables:
                drop = _CLOCK_COLUMNS.get(table, ())
                data[table] = [{k: v for k, v in row.items() if k not in drop}
                               for row in all_rows(conn, table)]
    return cat, data


#: An uninterrupted run's fingerprint by (phase, whether the operator's rows were added).
Refs = dict[tuple[Phase, bool], tuple[Any, dict[str, Any]]]


@pytest.fixture(scope="module")
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Databases, Refs]]:
    """The engine's database factory and the uninterrupted run's fingerprints: phase 1
    as migrated (the legacy->phase1 scenario's end), then with the operator's rows,
    phases 2 and 4 reached from there."""
    if request.param == "postgresql":
        require_postgres()
    dbs = Databases(request.param, tmp_path_factory.mktemp(f"kill_{request.param}"))
    try:
        url = dbs.new()
        refs: Refs = {(Phase.LEGACY, False): fingerprint(url)}
        refs[Phase.LEGACY, True] = refs[Phase.LEGACY, False]  # phase 1's rollback drops them
        assert migrate(url, to=Phase.PHASE1).ok
        refs[Phase.PHASE1, False] = fingerprint(url)
        add_operator_rows(url)
        refs[Phase.PHASE1, True] = fingerprint(url)
        dbs.at[Phase.PHASE1] = url  # the template of every phase 1 copy
        for before, phase in ((Phase.PHASE1, Phase.PHASE2), (Phase.PHASE2, Phase.PHASE4)):
            url = dbs.new(before)
            assert migrate(url, to=phase, confirm=True).ok
            refs[phase, True] = fingerprint(url)
            dbs.at[phase] = url
        # The references really differ by those rows (else nothing below could fail).
        for phase in (Phase.PHASE1, Phase.PHASE2, Phase.PHASE4):
            data = refs[phase, True][1]
            assert {r["id"] for r in data["clinic_closures"]} == {"clo_kp_yearly",
                                                                  "clo_kp_override"}
            assert [r["value"] for r in data["clinic_settings"]] == ["Asia/Tokyo"]
        bare = refs[Phase.PHASE1, False][1]
        assert bare["clinic_closures"] == []
        assert [r["value"] for r in bare["clinic_settings"]] == ["Asia/Seoul"]
        yield dbs, refs
    finally:
        dbs.drop_all()


# -- the CLI --------------------------------------------------------------------------------


def slotcap(url: str, *args: str) -> Completed:
    """``slotcap migrate --database url *args``, in-process."""
    return slotcap_here("migrate", "--database", url, *args)


def killed_at(url: str, label: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``slotcap migrate --database url *args`` as a real process that SIGKILLs itself
    at the checkpoint ``label``."""
    return slotcap_process("migrate", "--database", url, *args, kill_at=label)


def killed_copy(dbs: Databases, start: Phase, end: Phase, label: str) -> str:
    """A copy of a database in which the real ``slotcap migrate`` from ``start`` to
    ``end`` was SIGKILLed at ``label``: the kill happens once per label (the first of
    its two directions), each direction gets its own copy of the killed database."""
    if label not in dbs.killed:
        url = seeded(dbs, start)
        killed = killed_at(url, label, *COMMAND[(start, end)], "--batch-size", BATCH,
                           "--quiet")
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        wait_for_backends_gone(url)
        dbs.killed[label] = url
    return dbs.copy(dbs.killed[label])


def wait_for_backends_gone(url: str) -> None:
    """A killed client's backend leaves once it notices (client_connection_check_interval)."""
    if not url.startswith("postgresql"):
        return
    dbname = url.rpartition("/")[2]
    with open_sql(PG_URL) as admin:
        deadline = time.monotonic() + 10
        while admin.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                           (dbname,)):
            assert time.monotonic() < deadline, "the killed run's backend did not go away"
            time.sleep(0.05)


def expected_step(dialect: Dialect, start: Phase, end: Phase, label: str) -> str:
    _name, step, kind = label.split("#")[0].split(":")
    names = transition(dialect, start, end).step_names()
    if kind == "after":
        i = names.index(step)
        return names[i + 1] if i + 1 < len(names) else step
    return step


def assert_same(url: str, ref: tuple[Any, dict[str, Any]]) -> None:
    cat, data = fingerprint(url)
    assert cat.diff(ref[0]) == []
    assert cat == ref[0]
    for table in DOMAIN_TABLES:
        assert data.get(table) == ref[1].get(table), f"{table} differs"
    assert data.keys() == ref[1].keys()


L, P1, P2, P4 = Phase.LEGACY, Phase.PHASE1, Phase.PHASE2, Phase.PHASE4

#: (from, to, label, engines). Labels name a step of that engine's transition.
_CASES = [
    (L, P1, "legacy->phase1:expand:before", "sqlite"),
    (L, P1, "legacy->phase1:check:before", "sqlite"),
    (L, P1, "legacy->phase1:add-columns:before", "postgresql"),
    (L, P1, "legacy->phase1:validate-constraints:after", "postgresql"),
    (P1, P2, "phase1->phase2:backfill:batch#3", "both"),
    (P1, P2, "phase1->phase2:read-indexes:after", "both"),
    # The ledger's batched fill (a settled phase 2 also has a recount that must match:
    # ``status`` checks it below).
    (P1, P2, "phase1->phase2:fill-ledger:batch#2", "both"),
    (P2, P4, "phase2->phase4:contract:before", "both"),
    (P2, P4, "phase2->phase4:contract:after", "both"),
    (P2, P4, "phase2->phase4:archive-batches:batch#2", "postgresql"),
    (P2, P4, "phase2->phase4:verify-archive:after", "postgresql"),
    (P2, P4, "phase2->phase4:set-not-null:after", "postgresql"),
    (P2, P4, "phase2->phase4:final-indexes:after", "postgresql"),
    (P4, P2, "phase4->phase2:rebuild:after", "sqlite"),
    (P4, P2, "phase4->phase2:recreate-legacy:after", "postgresql"),
    (P4, P2, "phase4->phase2:refill-batches:batch#2", "postgresql"),
    (P4, P2, "phase4->phase2:legacy-set-not-null:after", "postgresql"),
    (P4, P2, "phase4->phase2:drop-new-not-null:after", "postgresql"),
    (P4, P2, "phase4->phase2:held-index:before", "postgresql"),
    (P4, P2, "phase4->phase2:fill-ledger:before", "postgresql"),
    # Phase 4 keeps the ledger's minutes; its rollback counts both parts afresh. Killed
    # mid-count: the rerun finishes it, the inverse contracts a half-filled ledger and
    # phase 4's own fill-ledger step finishes it (status recounts both ends).
    (P4, P2, "phase4->phase2:fill-ledger:batch#2", "both"),
    (P2, P1, "phase2->phase1:drop-read-indexes:after", "both"),
    (P2, P1, "phase2->phase1:clear-journal:batch#2", "both"),
    (P1, L, "phase1->legacy:drop-phase1:before", "sqlite"),
    (P1, L, "phase1->legacy:drop-read-indexes:after", "postgresql"),
    (P1, L, "phase1->legacy:drop-columns:after", "postgresql"),
]
CASES = [
    (engine, start, end, label)
    for engine in ("sqlite", "postgresql")
    for start, end, label, engines in _CASES
    if engines in ("both", engine)
]


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize("direction", ["rerun", "inverse"])
@pytest.mark.parametrize(("engine", "start", "end", "label"), CASES,
                         ids=[f"{c[0]}-{c[3]}" for c in CASES], indirect=["engine"])
def test_killed_step_reports_and_recovers_both_ways(
    engine: tuple[Databases, Refs],
    start: Phase, end: Phase, label: str, direction: str,
) -> None:
    dbs, refs = engine
    url = killed_copy(dbs, start, end, label)
    dialect = Dialect(dbs.dialect)

    status = slotcap(url, "status", "--json")
    where = json.loads(status.stdout)
    assert status.returncode == 1, status.stdout
    assert where["state"] == "interrupted"
    assert where["transition"] == f"{start.value}->{end.value}"
    assert where["step"] == expected_step(dialect, start, end, label)
    assert where["phase"] == start.value
    assert where["forward"].split() == ["slotcap", "migrate", *COMMAND[(start, end)]]
    assert where["back"].split() == ["slotcap", "migrate", *COMMAND[(end, start)]]

    args = COMMAND[(start, end)] if direction == "rerun" else COMMAND[(end, start)]
    finished = slotcap(url, *args, "--batch-size", BATCH, "--quiet")
    assert finished.returncode == 0, finished.stderr + finished.stdout
    # The operator's rows exist iff the scenario started at phase 1 or later.
    assert_same(url, refs[end if direction == "rerun" else start, start is not L])
    settled = slotcap(url, "status", "--json")
    assert json.loads(settled.stdout)["state"] == "settled", settled.stdout
    assert settled.returncode == 0
    if (start, end, direction) == (P1, L, "rerun"):
        # The closures tables went with phase 1: applying it again starts them afresh.
        assert migrate(url, to=P1).ok
        assert_same(url, refs[P1, False])


# -- refusals and edge cases -----------------------------------------------------------------


@pytest.mark.subprocess  # the real processes' exit codes while another holds the lock
def test_a_second_run_is_refused_at_once(sql_url: str) -> None:
    with open_sql(sql_url) as conn:
        create_legacy_schema(conn)
        seed_legacy(conn, 20)
    with open_sql(sql_url) as holder, migration_lock(holder):
        started = time.monotonic()
        second = slotcap_process("migrate", "--database", sql_url, "--to", "phase1")
        assert time.monotonic() - started < 10
        assert second.returncode == 2
        assert "migration_busy" in second.stderr
        assert second.stderr.count("\n") == 1  # one line
        backfill = slotcap_process("backfill", "--database", sql_url)
        assert backfill.returncode == 2 and "migration_busy" in backfill.stderr
    assert slotcap(sql_url, "--to", "phase1", "--quiet").returncode == 0


def test_validate_on_a_legacy_database_says_not_started(legacy_url: str) -> None:
    result = slotcap_here("validate", "--database", legacy_url)
    assert result.returncode == 1
    assert "has not started" in result.stdout


def test_phase4_gate_names_the_unreadable_rows_and_the_way_to_review(sql_url: str) -> None:
    with open_sql(sql_url) as conn:
        create_legacy_schema(conn)
        seed_legacy(conn, 30)
    assert migrate(sql_url, to="phase2").ok
    with open_sql(sql_url) as conn:
        # Written by a legacy-only writer after phase 2, with a time nobody can read;
        # the catch-up backfill fills its service and leaves its period to a person.
        for rid in ("zz_unreadable_1", "zz_unreadable_2"):
            conn.execute(
                'INSERT INTO "reservations" ("id","patientName","phone","birthDate","gender",'
                '"treatmentType","preferredDate","preferredTime","service","updatedAt") '
                "VALUES (%s,'X','010','1990-01-01','FEMALE','FIRST_VISIT','2025-12-01',"
                "'아무때나','SKIN_CARE',CURRENT_TIMESTAMP)", (rid,))
    migrate(sql_url, to="phase2")
    gate = slotcap(sql_url, "--to", "phase4", "--confirm", "--quiet")
    assert gate.returncode == 1
    assert "2 reservation(s) have a preferredTime the parser could not read" in gate.stderr
    assert "zz_unreadable_1, zz_unreadable_2" in gate.stderr
    assert "slotcap review export" in gate.stderr and "slotcap review import" in gate.stderr
    status = slotcap(sql_url, "status", "--json")
    assert json.loads(status.stdout)["state"] == "settled"  # nothing was started


@pytest.mark.subprocess
def test_phase4_trigger_keeps_the_archive_in_sync_until_the_contract(pg_url: str) -> None:
    """PostgreSQL: writes between the archive trigger and the contract reach the
    archive without any catch-up under the strong lock; the trigger is in the catalogue
    while phase 4 is under way and gone once it is done."""
    with open_sql(pg_url) as conn:
        create_legacy_schema(conn)
        seed_legacy(conn, 300)
    assert migrate(pg_url, to="phase2").ok
    label = "phase2->phase4:archive-batches:batch#1"
    assert killed_at(pg_url, label, "--to", "phase4", "--confirm", "--batch-size", "100",
                     "--quiet").returncode == -signal.SIGKILL
    wait_for_backends_gone(pg_url)
    with open_sql(pg_url) as conn:
        assert "slotcap_archive_legacy_sync" in snapshot(conn).triggers
        # The dual-writing application keeps going: an edit and a new booking.
        conn.execute('UPDATE "reservations" SET "preferredTime" = %s WHERE "id" = %s',
                     ("16:30", "r_000299"))
        conn.execute(
            'INSERT INTO "reservations" ("id","patientName","phone","birthDate","gender",'
            '"treatmentType","preferredDate","preferredTime","service","updatedAt",'
            '"serviceId","serviceName","estimatedDuration","period") VALUES '
            "(%s,'Y','010','1990-01-01','MALE','FOLLOW_UP','2025-12-03','14:00','SKIN_CARE',"
            "CURRENT_TIMESTAMP,'srv_skin_care','피부케어',70,'AFTERNOON')", ("zz_new",))
        archived: dict[str, str] = dict(conn.execute(
            'SELECT "id", "preferredTime" FROM "slotcap_archive_reservation_legacy" '
            'WHERE "id" IN (%s, %s)', ("r_000299", "zz_new")))
        assert archived == {"r_000299": "16:30", "zz_new": "14:00"}  # by the trigger
    assert slotcap(pg_url, "--to", "phase4", "--confirm", "--quiet").returncode == 0
    with open_sql(pg_url) as conn:  # the archive's trigger gone; the ledger's kept
        assert set(snapshot(conn).triggers) == {"slotcap_ledger_sync"}
    assert slotcap(pg_url, "--rollback-to", "phase2", "--quiet").returncode == 0
    with open_sql(pg_url) as conn:
        assert dict(conn.execute(
            'SELECT "id", "preferredTime" FROM "reservations" WHERE "id" IN (%s, %s)',
            ("r_000299", "zz_new"))) == {"r_000299": "16:30", "zz_new": "14:00"}
        assert conn.scalar('SELECT count(*) FROM "reservations" WHERE "service" IS NULL '
                           'OR "preferredTime" IS NULL') == 0


def test_status_reports_a_catalogue_that_contradicts_the_record(sql_url: str) -> None:
    with open_sql(sql_url) as conn:
        create_legacy_schema(conn)
        seed_legacy(conn, 20)
    assert migrate(sql_url, to="phase2").ok
    with open_sql(sql_url) as conn:  # changed by hand, outside slotcap
        conn.execute('DROP INDEX "reservations_serviceId_preferredDate_status_idx"')
    status = slotcap(sql_url, "status", "--json")
    where = json.loads(status.stdout)
    assert status.returncode == 4
    assert (where["state"], where["phase"]) == ("inconsistent", "phase2")
    assert any("reservations_serviceId_preferredDate_status_idx" in p for p in where["problems"])
