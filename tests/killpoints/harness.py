"""Kill ``slotcap migrate`` with SIGKILL at many points and check both ways out.

For one dialect the harness builds, once, a database of ``rows`` reservations at every
phase (legacy, phase1, phase2, phase4) by uninterrupted runs of the real CLI; their
fingerprints (catalogue snapshot + every row of the domain tables) are the truth.

A *scenario* is one command from one phase (``--to phase4 --confirm`` from phase2, …)
and its inverse. For each scenario the harness

1. runs the command uninterrupted on a copy through ``tests.killpoint_launcher --log``,
   which lists every checkpoint label the runner passes (before/after each step, after
   each committed batch) and measures how long the command takes;
2. for every chosen kill point — a label (``--kill-at label`` or ``label#N``: the
   launcher's checkpoint hook SIGKILLs the process there) or a time (the harness
   SIGKILLs the process after a delay spread over the command's duration) — runs the
   command on a fresh copy of the start database, kills it, and on PostgreSQL also
   terminates its server backends;
3. asks ``slotcap migrate status --json``: it must answer, must not call the database
   inconsistent, and when it says "settled at P" the catalogue must be P's exactly;
4. copies the killed database and runs the same command on the killed database and the
   inverse on the copy: both must exit 0 and end with exactly the fingerprint of the
   target phase and of the start phase respectively; then drops both.

Nothing here knows how a phase is built: it drives the CLI as an operator would. The
killed command and the timed reference run are real processes (a real SIGKILL; the
runner's checkpoint log), forked by the launcher's fork server
(``tests.killpoint_launcher.run``: slotcap imported once, not per run); the references,
``status`` and the rerun and inverse after a kill run the same CLI in this process
(``slotcap.cli.main.main``), each thread's output captured on its own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
from tests import killpoint_launcher
from tests.killpoint_launcher import launcher_env
from tests.pgdb import drop_database, drop_databases

from slotcap.migration.catalog import Catalog, snapshot
from slotcap.schema.legacy import create_legacy_schema
from slotcap.sql import SqlConnection, open_sql

__all__ = [
    "PHASES",
    "SCENARIOS",
    "KillPoint",
    "Outcome",
    "Scenario",
    "Sweep",
    "choose_points",
    "databases",
    "distinct_points",
    "run_dialect",
]

PHASES = ("legacy", "phase1", "phase2", "phase4")

#: Domain tables whose every row must come back; slotcap's own tables (journal, state,
#: archive) carry timestamps of the run and are compared by schema only.
DOMAIN_TABLES = ("reservations", "services", "clinic_time_slots", "service_reservation_limits",
                 "clinic_closures", "clinic_settings")
#: Seed timestamps of the new tables are "when phase 1 ran": equal in meaning, not value.
_RUN_TIMESTAMPS = {("services", "createdAt"), ("services", "updatedAt"),
                   ("clinic_time_slots", "createdAt"), ("clinic_time_slots", "updatedAt"),
                   ("clinic_closures", "createdAt"), ("clinic_settings", "updatedAt")}

_CODES = ("WRINKLE_BOTOX", "VOLUME_LIFTING", "SKIN_CARE", "REMOVAL_PROCEDURE", "BODY_CARE",
          "OTHER_CONSULTATION")
#: Times every reading agrees on, so phase 2 needs no manual review.
_TIMES = ("09:00", "10:30", "14:00", "16:30", "9:00 AM", "3:00 PM", "오전 10시", "오후 3시",
          "11:00", "2:30 PM")
_STATUSES = ("PENDING", "CONFIRMED", "CONFIRMED", "CANCELLED", "COMPLETED", "NO_SHOW")
_LEGACY_INSERT = (
    'INSERT INTO "reservations" ("id","patientName","phone","birthDate","gender",'
    '"treatmentType","preferredDate","preferredTime","service","status","updatedAt") '
    "VALUES (%s,%s,%s,'1990-01-01','FEMALE','FIRST_VISIT',%s,%s,%s,%s,CURRENT_TIMESTAMP)"
)


@attrs.frozen
class Scenario:
    name: str
    start: str
    args: tuple[str, ...]
    target: str
    inverse: tuple[str, ...]

    @property
    def path(self) -> tuple[str, ...]:
        """Every phase the command may settle at on its way (start and target included)."""
        lo, hi = sorted((PHASES.index(self.start), PHASES.index(self.target)))
        return PHASES[lo:hi + 1]


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("phase1", "legacy", ("--to", "phase1"), "phase1", ("--rollback-to", "legacy")),
    Scenario("phase2", "phase1", ("--to", "phase2"), "phase2", ("--rollback-to", "phase1")),
    Scenario("phase4", "phase2", ("--to", "phase4", "--confirm"), "phase4",
             ("--rollback-to", "phase2")),
    Scenario("rollback-phase4", "phase4", ("--rollback-to", "phase2"), "phase2",
             ("--to", "phase4", "--confirm")),
    Scenario("rollback-phase2", "phase2", ("--rollback-to", "phase1"), "phase1",
             ("--to", "phase2")),
    Scenario("rollback-phase1", "phase1", ("--rollback-to", "legacy"), "legacy",
             ("--to", "phase1")),
    Scenario("rollback-to-legacy", "phase2", ("--rollback-to", "legacy"), "legacy",
             ("--to", "phase2")),
)


@attrs.frozen
class KillPoint:
    """A checkpoint label (``label`` or ``label#N``) or a delay in seconds."""

    label: str | None = None
    delay: float | None = None

    def describe(self) -> str:
        return self.label if self.label is not None else f"after {self.delay:.2f}s"


@attrs.frozen
class Outcome:
    dialect: str
    scenario: str
    point: str
    killed: bool
    status: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@attrs.frozen
class Fingerprint:
    catalog: Catalog
    data: str

    def differences(self, other: Fingerprint) -> list[str]:
        out = self.catalog.diff(other.catalog)
        if self.data != other.data:
            out.append("domain-table data differs")
        return out


# -- databases -------------------------------------------------------------------------------


class Databases:
    """Create, copy and drop databases of one dialect."""

    dialect: str

    def new_url(self) -> str:
        raise NotImplementedError

    def clone(self, url: str) -> str:
        raise NotImplementedError

    def after_kill(self, url: str) -> None:
        """What else dies with the client (PostgreSQL: its server backends)."""

    def release(self, url: str) -> None:
        """A database no longer needed: removed now or soon (before :meth:`cleanup`)."""

    def cleanup(self) -> None:
        raise NotImplementedError


class SqliteDatabases(Databases):
    dialect = "sqlite"

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="slotcap-kill-"))

    def new_url(self) -> str:
        return f"sqlite:///{self._dir / f'{uuid.uuid4().hex[:10]}.db'}"

    def clone(self, url: str) -> str:
        # The backup API reads through the WAL a killed writer left behind.
        new = self.new_url()
        src = sqlite3.connect(url.removeprefix("sqlite:///"))
        dst = sqlite3.connect(new.removeprefix("sqlite:///"))
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        return new

    def release(self, url: str) -> None:
        path = url.removeprefix("sqlite:///")
        for name in (path, path + "-wal", path + "-shm", path + "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)

    def cleanup(self) -> None:
        for path in self._dir.iterdir():
            path.unlink()
        self._dir.rmdir()


class PostgresDatabases(Databases):
    dialect = "postgresql"

    def __init__(self, admin_url: str) -> None:
        import psycopg

        self._admin_url = admin_url
        self._admin = psycopg.connect(admin_url, autocommit=True)
        self._names: list[str] = []
        self._lock = threading.Lock()

    def _url(self, name: str) -> str:
        base, _, _ = self._admin_url.rpartition("/")
        return f"{base}/{name}"

    def _create(self, template: str | None) -> str:
        name = f"slotcap_k_{uuid.uuid4().hex[:12]}"
        # Names are generated here (hex), never taken from input.
        sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        for attempt in range(20):
            try:
                self._admin.execute(sql)
                break
            except Exception as exc:  # template still in use by a dying backend
                if "being accessed by other users" not in str(exc) or attempt == 19:
                    raise
                time.sleep(0.1)
        with self._lock:
            self._names.append(name)
        # As every scratch database of the tests (tests/pgdb.py): commits stop waiting
        # for the WAL flush. What a kill proves does not change: the client dies, the
        # server does not, so nothing committed is lost either way.
        self._admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        return self._url(name)

    def new_url(self) -> str:
        return self._create(None)

    def clone(self, url: str) -> str:
        source = url.rpartition("/")[2]
        self._terminate(source)
        return self._create(source)

    def _terminate(self, name: str) -> None:
        self._admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        for _ in range(100):
            left = self._admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                "AND pid <> pg_backend_pid()",
                (name,),
            ).fetchone()
            if not left or not left[0]:
                return
            time.sleep(0.05)

    def after_kill(self, url: str) -> None:
        # SIGKILL leaves the server backend running its statement until it notices;
        # "the client and its server backend both killed", as an operator's crash is.
        self._terminate(url.rpartition("/")[2])

    def release(self, url: str) -> None:
        # Queued and dropped in batches (tests/pgdb.py): each DROP DATABASE makes the
        # server checkpoint; concurrent ones share checkpoints.
        name = url.rpartition("/")[2]
        with self._lock:
            self._names.remove(name)
        drop_database(self._admin_url, self._url(name))

    def cleanup(self) -> None:
        # All at once, on many connections (tests/pgdb.py).
        self._admin.close()
        drop_databases(self._admin_url, [self._url(name) for name in self._names])


# -- the real CLI ------------------------------------------------------------------------------


def _cli_env(url: str) -> dict[str, str]:
    return launcher_env({**os.environ, "SLOTCAP_DATABASE_URL": url})


def run_cli(url: str, *args: str, kill_at: str | None = None, log: str | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``slotcap *args`` on ``url`` as a real process, through the test launcher that
    installs the checkpoint hook (``kill_at``: SIGKILL there; ``log``: list labels),
    forked by its fork server (slotcap imported once, not per run)."""
    return killpoint_launcher.run(*args, env=_cli_env(url), kill_at=kill_at, log=log,
                                  timeout=timeout)


class _ThreadStream(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` while in-process runs go on: each thread that is in
    one writes to its own buffer, every other write goes where it went before."""

    def __init__(self, name: str, before: Any) -> None:
        self.name, self.before = name, before

    def _target(self) -> Any:
        return getattr(_captures, self.name, None) or self.before

    def write(self, text: str) -> int:
        return int(self._target().write(text))

    def flush(self) -> None:
        self._target().flush()


_captures = threading.local()
_streams_lock = threading.Lock()
_streams_users = 0
_streams_before: tuple[Any, Any] = (sys.stdout, sys.stderr)


@contextlib.contextmanager
def _captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    global _streams_users
    out, err = io.StringIO(), io.StringIO()
    with _streams_lock:
        if _streams_users == 0:
            global _streams_before
            _streams_before = sys.stdout, sys.stderr
            sys.stdout = _ThreadStream("stdout", sys.stdout)
            sys.stderr = _ThreadStream("stderr", sys.stderr)
        _streams_users += 1
    _captures.stdout, _captures.stderr = out, err
    try:
        yield out, err
    finally:
        _captures.stdout = _captures.stderr = None
        with _streams_lock:
            _streams_users -= 1
            if _streams_users == 0:
                # Not ``sys.stdout.before``: ``slotcap.cli.main`` swaps the streams for
                # its guarded wrappers and back, and two threads' swaps can interleave,
                # leaving one run's wrapper (around our _ThreadStream) in place.
                sys.stdout, sys.stderr = _streams_before


def run_cli_here(url: str, command: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``slotcap <command> --database url *args`` in this process (``main``, no
    checkpoint hook): what the real process would exit with and write."""
    from slotcap.cli._process import quiet_driver_logs
    from slotcap.cli.main import main

    quiet_driver_logs()  # as the console script does once (idempotent)
    argv = [command, "--database", url, *args]
    with _captured() as (out, err):
        code = main(argv)
    return subprocess.CompletedProcess(["slotcap", *argv], code, out.getvalue(),
                                       err.getvalue())


def migrate(url: str, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """``slotcap migrate *args`` in this process."""
    return run_cli_here(url, "migrate", *args)


def status(url: str) -> tuple[dict[str, Any] | None, str]:
    done = run_cli_here(url, "migrate", "status", "--json")
    try:
        return json.loads(done.stdout), ""
    except ValueError:
        return None, f"status exit {done.returncode}: {done.stderr.strip()[-300:]}"


def _must(done: subprocess.CompletedProcess[str], what: str) -> None:
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {done.returncode}): "
                           f"{done.stderr.strip()[-800:]}")


# -- fingerprints ------------------------------------------------------------------------------


def fingerprint(url: str) -> Fingerprint:
    with open_sql(url) as conn:
        catalog = snapshot(conn)
        digest = hashlib.sha256()
        tables = conn.tables()
        for table in DOMAIN_TABLES:
            if table not in tables:
                continue
            columns = sorted(c for c in conn.columns(table) if (table, c) not in _RUN_TIMESTAMPS)
            select = ", ".join(f'CAST("{c}" AS TEXT)' for c in columns)
            digest.update(f"{table}:{','.join(columns)}\n".encode())
            order = "key" if table == "clinic_settings" else "id"
            for row in conn.execute(f'SELECT {select} FROM "{table}" ORDER BY "{order}"'):
                digest.update(repr(row).encode())
    return Fingerprint(catalog, digest.hexdigest())


# -- the reference databases -----------------------------------------------------------------


def _seed(conn: SqlConnection, rows: int) -> None:
    start = dt.date(2026, 1, 5)
    params = [
        (f"r_{i:07d}", f"Patient {i}", f"010-{i % 10000:04d}-{(i * 7) % 10000:04d}",
         (start + dt.timedelta(days=i % 60)).isoformat(), _TIMES[i % len(_TIMES)],
         _CODES[i % len(_CODES)], _STATUSES[i % len(_STATUSES)])
        for i in range(rows)
    ]
    with conn.transaction():
        conn.execute_many(_LEGACY_INSERT, params)
        conn.execute_many(
            'INSERT INTO "service_reservation_limits" ("id","serviceType","dailyLimit",'
            '"isActive","updatedAt") VALUES (%s,%s,%s,%s,CURRENT_TIMESTAMP)',
            [(f"lim_{c.lower()}", c, 5 + i, i != 5) for i, c in enumerate(_CODES)],
        )


def build_references(dbs: Databases, rows: int) -> dict[str, str]:
    """One database per phase, each made by uninterrupted runs of the real CLI."""
    legacy = dbs.new_url()
    with open_sql(legacy) as conn:
        create_legacy_schema(conn)
        _seed(conn, rows)
    urls = {"legacy": legacy}
    previous = legacy
    for phase, args in (("phase1", ("--to", "phase1")), ("phase2", ("--to", "phase2")),
                        ("phase4", ("--to", "phase4", "--confirm"))):
        url = dbs.clone(previous)
        _must(migrate(url, args), f"building the {phase} reference")
        urls[phase] = previous = url
    return urls


# -- kill points -------------------------------------------------------------------------------


def _numbered(labels: Sequence[str]) -> list[str]:
    """Batch labels repeat; the N-th pass of a repeated label is ``label#N``."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if label.split(":")[-1] != "batch" else f"{label}#{seen[label]}")
    return out


def distinct_points(labels: Sequence[str]) -> list[str]:
    """Every checkpoint once: each label, and of a label passed once per batch its
    first and its last pass (``label#1``, ``label#N``)."""
    numbered = _numbered(labels)
    last: dict[str, str] = {}
    for point in numbered:
        last[point.partition("#")[0]] = point
    out: list[str] = []
    for point in numbered:
        base, _, nth = point.partition("#")
        if not nth or nth == "1" or last[base] == point:
            out.append(point)
    return out


def choose_points(labels: Sequence[str], seconds: float, *, most: int | None,
                  timed: int, seed: int, distinct: bool = False) -> list[KillPoint]:
    """Every label (``most`` None) or ``most`` of them spread evenly, always with the
    first and the last; or (``distinct``) every checkpoint once (:func:`distinct_points`);
    plus ``timed`` kills at times spread over the run."""
    points = distinct_points(labels) if distinct else _numbered(labels)
    if not distinct and most is not None and len(points) > most:
        step = (len(points) - 1) / max(most - 1, 1)
        points = [points[round(i * step)] for i in range(most)]
    chosen = [KillPoint(label=p) for p in dict.fromkeys(points)]
    rng = random.Random(seed)
    for i in range(timed):
        # Spread over the run: slot i of `timed`, jittered inside the slot.
        chosen.append(KillPoint(delay=seconds * (i + rng.random()) / max(timed, 1)))
    return chosen


def _run_killed(url: str, scenario: Scenario, point: KillPoint) -> bool:
    """Run the scenario's command and kill it at ``point``; whether it died by SIGKILL."""
    if point.label is not None:
        done = run_cli(url, "migrate", *scenario.args, kill_at=point.label)
        return done.returncode == -signal.SIGKILL
    assert point.delay is not None
    # ``python -m slotcap.cli migrate …``, forked ready to run: the delay is spent in
    # the command, not in the interpreter's start-up.
    proc = killpoint_launcher.start("migrate", *scenario.args, env=_cli_env(url),
                                    hooked=False)
    try:
        proc.wait(timeout=point.delay)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(timeout=600) == -signal.SIGKILL
    return False


def check_point(dbs: Databases, refs: dict[str, str], truth: dict[str, Fingerprint],
                scenario: Scenario, point: KillPoint) -> Outcome:
    problems: list[str] = []
    url = dbs.clone(refs[scenario.start])
    killed = _run_killed(url, scenario, point)
    dbs.after_kill(url)
    answer, error = status(url)
    said = "no answer"
    if answer is None:
        problems.append(f"status did not answer: {error}")
    else:
        state = str(answer.get("state"))
        said = f"{state} {answer.get('phase')}"
        if state == "interrupted":
            said += f" during {answer.get('transition')} at {answer.get('step')}"
        if state not in ("settled", "interrupted"):
            problems.append(f"status says {state}: {answer.get('problem') or answer}")
        if state == "settled":
            phase = str(answer.get("phase"))
            if phase not in scenario.path:
                problems.append(f"status settled at {phase}, off the path {scenario.path}")
            else:
                diff = fingerprint(url).catalog.diff(truth[phase].catalog)
                if diff:
                    problems.append(f"status says settled at {phase} but the schema is not "
                                    f"{phase}'s: {diff[:3]}")
    # The rerun on the killed database itself, the inverse on a copy of it made first.
    copy = dbs.clone(url)
    for args, goal, what, target in ((scenario.args, scenario.target, "rerun", url),
                                     (scenario.inverse, scenario.start, "inverse", copy)):
        done = migrate(target, args)
        if done.returncode != 0:
            problems.append(f"{what} exit {done.returncode}: {done.stderr.strip()[-300:]}")
            continue
        diff = fingerprint(target).differences(truth[goal])
        if diff:
            problems.append(f"{what} ended unlike an uninterrupted {goal}: {diff[:3]}")
    dbs.release(url)
    dbs.release(copy)
    return Outcome(dbs.dialect, scenario.name, point.describe(), killed, said, tuple(problems))


def reference_run(dbs: Databases, refs: dict[str, str], truth: dict[str, Fingerprint],
                  scenario: Scenario) -> tuple[list[str], float]:
    """The command uninterrupted: its checkpoint labels and its duration."""
    url = dbs.clone(refs[scenario.start])
    with tempfile.NamedTemporaryFile("r", suffix=".labels", delete=False) as log:
        path = log.name
    try:
        started = time.monotonic()
        done = run_cli(url, "migrate", *scenario.args, log=path)
        seconds = time.monotonic() - started
        _must(done, f"{scenario.name} uninterrupted")
        labels = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    finally:
        os.unlink(path)
    diff = fingerprint(url).differences(truth[scenario.target])
    dbs.release(url)
    if diff:
        raise RuntimeError(f"{scenario.name}: an uninterrupted run differs from the "
                           f"{scenario.target} reference: {diff[:3]}")
    if not labels:
        raise RuntimeError(f"{scenario.name}: the runner reported no checkpoint "
                           "(tests.killpoint_launcher --log)")
    return labels, seconds


@contextlib.contextmanager
def databases(dialect: str, admin_url: str | None) -> Iterator[Databases]:
    dbs: Databases
    if dialect == "sqlite":
        dbs = SqliteDatabases()
    else:
        if admin_url is None:
            raise ValueError("PostgreSQL needs an admin URL")
        dbs = PostgresDatabases(admin_url)
    try:
        yield dbs
    finally:
        dbs.cleanup()


class Sweep:
    """The reference databases of one dialect, built once, and the sweep of a scenario."""

    def __init__(self, dbs: Databases, rows: int) -> None:
        self.dbs = dbs
        self.refs = build_references(dbs, rows)
        self.truth = {phase: fingerprint(url) for phase, url in self.refs.items()}

    def points(self, scenario: Scenario, *, most: int | None, timed: int,
               seed: int = 1, distinct: bool = False) -> list[KillPoint]:
        return self.points_and_labels(scenario, most=most, timed=timed, seed=seed,
                                      distinct=distinct)[0]

    def points_and_labels(self, scenario: Scenario, *, most: int | None, timed: int,
                          seed: int = 1, distinct: bool = False,
                          ) -> tuple[list[KillPoint], list[str]]:
        """The chosen kill points and every checkpoint label an uninterrupted run passed."""
        labels, seconds = reference_run(self.dbs, self.refs, self.truth, scenario)
        return choose_points(labels, seconds, most=most, timed=timed, seed=seed,
                             distinct=distinct), labels

    def run(self, jobs: Sequence[tuple[Scenario, KillPoint]], *, workers: int = 2,
            report: Callable[[Outcome], None] | None = None) -> list[Outcome]:
        def one(job: tuple[Scenario, KillPoint]) -> Outcome:
            return check_point(self.dbs, self.refs, self.truth, *job)

        outcomes: list[Outcome] = []
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for outcome in pool.map(one, jobs):
                outcomes.append(outcome)
                if report is not None:
                    report(outcome)
        return outcomes


def run_dialect(
    dialect: str,
    *,
    rows: int,
    scenarios: Sequence[Scenario] = SCENARIOS,
    most: int | None,
    timed: int,
    workers: int = 2,
    admin_url: str | None = None,
    seed: int = 1,
    report: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Every chosen kill point of every scenario on one dialect; the outcomes."""
    with databases(dialect, admin_url) as dbs:
        sweep = Sweep(dbs, rows)
        jobs = [(scenario, point) for scenario in scenarios
                for point in sweep.points(scenario, most=most, timed=timed, seed=seed)]
        return sweep.run(jobs, workers=workers, report=report)
