"""Shared fixtures: fresh SQLite files and fresh PostgreSQL databases, Hypothesis
profiles, markers set from what a test uses, and ``--fast``.

PostgreSQL is found through ``SLOTCAP_TEST_POSTGRES_URL`` (default: the project's
server, ``postgresql://postgres@127.0.0.1:5432/test``). Each test that asks for one
gets its own database, created and dropped here (``tests/pgdb.py``: names unique to
this process, ``synchronous_commit = off``, dropped in batches: each ``DROP DATABASE``
costs the server a checkpoint). ``legacy_url`` and ``phase1_url`` copy a
template made once per session (``CREATE DATABASE … TEMPLATE``; on SQLite, a file
copy) instead of loading the DDL and migrating for every test. Without a server the
PostgreSQL tests skip with a loud reason — except in CI (``CI=true``), where that is a
failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from hypothesis import HealthCheck, settings
from tests.pgdb import create_database, drop_database, drop_pending, scratch_database

from slotcap.migration import migrate
from slotcap.schema.legacy import create_legacy_schema
from slotcap.sql import open_sql

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = os.environ.get("SLOTCAP_TEST_POSTGRES_URL", DEFAULT_PG_URL)
IN_CI = os.environ.get("CI", "").lower() == "true"
NO_PSYCOPG = "psycopg is not installed (pip install -e '.[postgres,dev]')"

# -- Hypothesis profiles ----------------------------------------------------------------
#: Names a profile explicitly; otherwise ``fast`` under ``pytest --fast``, ``ci`` under
#: ``CI=true``, ``dev`` elsewhere. A test that needs more or fewer examples derives its
#: number from the profile (``tests.strategies.budget.examples``), never a literal.
PROFILE_ENV = "SLOTCAP_HYPOTHESIS_PROFILE"
# dev and ci run as many examples as the suite always did (Hypothesis's 100, times what
# each test asks for); ci also keeps no example database between runs and prints the
# blob that reproduces a failure. fast is for the two-minute answer (scripts/test --fast).
settings.register_profile("dev", max_examples=100)
settings.register_profile("ci", max_examples=100, database=None, print_blob=True)
settings.register_profile("fast", max_examples=10, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])


def hypothesis_profile(fast: bool = False) -> str:
    """The profile this run uses (see ``PROFILE_ENV``)."""
    chosen = os.environ.get(PROFILE_ENV)
    if chosen:
        return chosen
    if fast:
        return "fast"
    return "ci" if IN_CI else "dev"


# Once: test modules import this file again as ``tests.conftest`` (pytest loaded it as
# ``conftest``), which must not put back the ``dev``/``ci`` profile after ``--fast``
# chose ``fast`` (it did: every module collected after the first such import ran its
# property tests with ten times the fast budget).
if settings.get_current_profile_name() not in ("dev", "ci", "fast"):
    settings.load_profile(hypothesis_profile())


def _postgres_problem() -> str | None:
    if _psycopg_missing():
        return NO_PSYCOPG
    import psycopg

    try:
        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"cannot reach PostgreSQL at SLOTCAP_TEST_POSTGRES_URL: {type(exc).__name__}"
    return None


_PG_PROBLEM: str | None = None
_PG_CHECKED = False


def missing(what: str, message: str) -> NoReturn:
    """The one way a test gives up on something the machine lacks: a loud skip on a
    developer's machine, a failure in CI (``CI=true``), where nothing may be skipped."""
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(f"SKIPPING {what} — {message}")


def require_postgres() -> None:
    """Skip loudly when PostgreSQL is missing; fail in CI. A test that gets here must be
    marked ``postgres`` (else ``--fast`` would select it): unmarked, it fails."""
    global _PG_PROBLEM, _PG_CHECKED
    _require_marker("postgres", "reaches the PostgreSQL server")
    if not _PG_CHECKED:
        _PG_PROBLEM = _postgres_problem()
        _PG_CHECKED = True
    if _PG_PROBLEM is not None:
        missing("POSTGRESQL TESTS", f"PostgreSQL tests need a server: {_PG_PROBLEM}")


def require_psycopg() -> None:
    """For tests that need the driver but no server: skip loudly without it; fail in CI."""
    if _psycopg_missing():
        missing("PSYCOPG TESTS", NO_PSYCOPG)


def _psycopg_missing() -> bool:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return True
    return False


# -- markers, set from what a test uses -----------------------------------------------------
#: What ``--fast`` leaves out: everything that needs a PostgreSQL server, Node or a
#: browser, the ``slow`` crash sweeps (kill points: minutes of real SIGKILLs), and real
#: processes (``slotcap serve``, the console script, SIGKILLs): what is left is unit,
#: SQLite integration and in-process end-to-end.
NOT_FAST = ("postgres", "node", "browser", "slow", "subprocess")
#: Fixtures whose use marks a test. Besides: a fixture parametrized with "postgresql"
#: (``sql_url`` and so ``legacy_url``/``phase1_url``, a module's engine fixture) marks
#: that case ``postgres``; a directly parametrized "postgresql" case is marked by hand
#: (``pytest.param("postgresql", marks=pytest.mark.postgres)``).
FIXTURE_MARKS: dict[str, tuple[str, ...]] = {"pg_url": ("postgres",)}
#: Programs whose start marks a test, beyond ``subprocess``.
PROGRAM_MARKS = {"node": "node", "chromium": "browser", "chromium-browser": "browser"}

_CURRENT: pytest.Item | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fast", action="store_true",
        help="slotcap: deselect the tests marked " + ", ".join(NOT_FAST) + " (no PostgreSQL "
        "server, Node or browser needed) and use the 'fast' Hypothesis profile",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--fast"):
        settings.load_profile(hypothesis_profile(fast=True))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The scratch databases still queued for dropping (``tests/pgdb.py``) dropped."""
    drop_pending()


def pytest_report_header(config: pytest.Config) -> str:
    fast = " (--fast: not " + " or ".join(NOT_FAST) + ")" if config.getoption("--fast") else ""
    return f"slotcap: hypothesis profile {settings.get_current_profile_name()!r}{fast}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for fixture, marks in FIXTURE_MARKS.items():
            if fixture in used:
                for mark in marks:
                    item.add_marker(mark)
        if item.get_closest_marker("node") or item.get_closest_marker("browser"):
            item.add_marker("subprocess")
        callspec = getattr(item, "callspec", None)
        if callspec is not None:
            direct = _directly_parametrized(item)
            if any(value == "postgresql" and name not in direct
                   for name, value in callspec.params.items()):
                item.add_marker("postgres")
    if not config.getoption("--fast"):
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        (drop if any(item.get_closest_marker(m) for m in NOT_FAST) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _directly_parametrized(item: pytest.Item) -> set[str]:
    """The test's own parameters (``parametrize`` without ``indirect``), as opposed to
    its fixtures' parameters."""
    direct: set[str] = set()
    for mark in item.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs["argnames"]
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        indirect = mark.kwargs.get("indirect", False)
        direct.update(n for n in names
                      if not (indirect is True
                              or (isinstance(indirect, list | tuple) and n in indirect)))
    return direct


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    global _CURRENT
    _CURRENT = item
    try:
        return (yield)
    finally:
        _CURRENT = None


def _require_marker(name: str, what: str) -> None:
    """A test that does ``what`` without the marker ``name`` fails, naming the marker:
    selections by marker (``--fast``, ``-m 'not subprocess'``) then never hold it."""
    item = _CURRENT
    if item is not None and item.get_closest_marker(name) is None:
        pytest.fail(f"{item.nodeid} {what} but is not marked {name!r}: add "
                    f"@pytest.mark.{name} (or use a fixture that sets it, tests/conftest.py)",
                    pytrace=False)


_popen_init = subprocess.Popen.__init__


def _guarded_popen_init(self: subprocess.Popen[Any], args: Any, *rest: Any,
                        **kwargs: Any) -> None:
    program = args if isinstance(args, str | bytes | os.PathLike) else args[0]
    name = os.path.basename(os.fsdecode(program))
    _require_marker("subprocess", f"starts a process ({name})")
    if name in PROGRAM_MARKS:
        _require_marker(PROGRAM_MARKS[name], f"starts {name}")
    _popen_init(self, args, *rest, **kwargs)


subprocess.Popen.__init__ = _guarded_popen_init  # type: ignore[method-assign]


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """A test module that imports psycopg at its top cannot even be collected without
    it: skip that module loudly, as ``require_postgres`` skips a test (fail in CI)."""
    report: pytest.CollectReport = yield
    if (
        report.failed
        and not IN_CI
        and isinstance(collector, pytest.Module)
        and "psycopg" in str(report.longrepr)
        and _psycopg_missing()
    ):
        report.outcome = "skipped"
        report.longrepr = (
            str(collector.path), 0,
            f"Skipped: SKIPPING POSTGRESQL TESTS — this module needs psycopg: {NO_PSYCOPG}",
        )
    return report


@contextlib.contextmanager
def postgres_database(label: str = "db", *, template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database, empty or a copy of the database of the URL
    ``template`` (skipped loudly without a server, failed in CI), dropped on exit; for
    fixtures of any scope (``tests/pgdb.py``)."""
    require_postgres()
    with scratch_database(PG_URL, label, template=template) as url:
        yield url


# -- templates: the legacy DDL and phase 1, made once per session ------------------------
LEGACY, PHASE1 = "legacy", "phase1"


class Templates:
    """Per engine, a database made from exactly the reference legacy DDL and one taken
    from there to phase 1 by slotcap's own migration; each made on first use, once per
    pytest session, and dropped (PostgreSQL) at its end. Tests get copies."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._made: dict[tuple[str, str], str] = {}

    def url(self, engine: str, at: str) -> str:
        key = (engine, at)
        if key not in self._made:
            source = None if at == LEGACY else self.url(engine, LEGACY)
            if engine == "sqlite":
                url = f"sqlite:///{self.root / f'{at}.db'}"
                if source is not None:
                    shutil.copyfile(_sqlite_path(source), _sqlite_path(url))
            else:
                if not any(e == "postgresql" for e, _ in self._made):
                    _drop_orphaned_templates()
                url = create_database(PG_URL, at, prefix="slotcap_tpl", template=source)
            self._made[key] = url  # dropped at the end even if the step below fails
            _advance(url, at)
            if engine == "postgresql":
                _wait_until_idle(url)
        return self._made[key]

    def copy_sqlite(self, at: str, url: str) -> None:
        """The SQLite file of ``url`` made a copy of the template at ``at``."""
        shutil.copyfile(_sqlite_path(self.url("sqlite", at)), _sqlite_path(url))

    def drop_all(self) -> None:
        for (engine, _at), url in self._made.items():
            if engine == "postgresql":
                drop_database(PG_URL, url)
        self._made.clear()


def _drop_orphaned_templates() -> None:
    """Templates of a pytest process that died before its end (``slotcap_tpl_<pid>_…``
    of a pid no longer running here): only for a server on this machine."""
    import psycopg

    host = (psycopg.conninfo.conninfo_to_dict(PG_URL).get("host") or "localhost")
    if host not in ("localhost", "127.0.0.1", "::1") and not str(host).startswith("/"):
        return
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        names = [row[0] for row in admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'slotcap\\_tpl\\_%'")]
    for name in names:
        pid = name.split("_")[2]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            drop_database(PG_URL, f"/{name}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def _advance(url: str, at: str) -> None:
    """A database made at the previous state taken to ``at``: the legacy DDL on an empty
    database; phase 1 by slotcap's own migration."""
    if at == LEGACY:
        with open_sql(url) as conn:
            create_legacy_schema(conn)
    else:
        report = migrate(url, to=PHASE1)
        assert report.ok, report.message


def _wait_until_idle(url: str) -> None:
    """A template is copied only without sessions: wait for ours to have left."""
    import time

    import psycopg

    name = url.rpartition("/")[2]
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        deadline = time.monotonic() + 10
        while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                            (name,)).fetchone() != (0,):
            assert time.monotonic() < deadline, f"sessions stay on the template {name}"
            time.sleep(0.02)


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    made = Templates(tmp_path_factory.mktemp("templates"))
    try:
        yield made
    finally:
        made.drop_all()


#: url -> the template state a database was copied at (``legacy_url``/``phase1_url``
#: then have nothing left to do).
_COPIED_AT: dict[str, str] = {}


def _wanted_state(request: pytest.FixtureRequest) -> str | None:
    """The state the test's fixtures will bring its ``sql_url`` to, if any."""
    names = request.fixturenames
    if PHASE1 + "_url" in names:
        return PHASE1
    if LEGACY + "_url" in names:
        return LEGACY
    return None


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped after the test."""
    with postgres_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a new, empty SQLite file."""
    return f"sqlite:///{tmp_path / 'slotcap.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of each SQL engine in turn: empty, unless the test also uses
    ``legacy_url``/``phase1_url``; then it is already a copy of that template (the same
    database those fixtures return, as when they built it in place)."""
    at = _wanted_state(request)
    if at is None:
        if request.param == "sqlite":
            yield f"sqlite:///{tmp_path / 'slotcap.db'}"
        else:
            yield request.getfixturevalue("pg_url")
        return
    made: Templates = request.getfixturevalue("templates")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'slotcap.db'}"
            made.copy_sqlite(at, url)
        else:
            require_postgres()
            url = stack.enter_context(
                postgres_database(at, template=made.url("postgresql", at)))
        _COPIED_AT[url] = at
        stack.callback(_COPIED_AT.pop, url, None)
        yield url


@pytest.fixture
def legacy_url(sql_url: str) -> str:
    """A database of each engine made from exactly the reference legacy DDL (a copy of
    the session's template made so)."""
    if sql_url not in _COPIED_AT:
        _advance(sql_url, LEGACY)
    return sql_url


@pytest.fixture
def phase1_url(legacy_url: str) -> str:
    """``legacy_url`` taken to phase 1 by slotcap's own migration (what the clinic
    administration commands need): a copy of the session's template taken so."""
    if _COPIED_AT.get(legacy_url) != PHASE1:
        _advance(legacy_url, PHASE1)
    return legacy_url
