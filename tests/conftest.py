"""Shared fixtures: fresh SQLite files and fresh PostgreSQL databases.

PostgreSQL is found through ``SLOTCAP_TEST_POSTGRES_URL`` (default: the project's
server, ``postgresql://postgres@127.0.0.1:5432/test``). Each test that asks for one
gets its own database, created and dropped here. Without a server the PostgreSQL
tests skip with a loud reason — except in CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from benchmarks._harness import temp_pg_database
from hypothesis import HealthCheck, settings

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
settings.register_profile("fast", max_examples=15,
                          suppress_health_check=[HealthCheck.too_slow])


def hypothesis_profile(fast: bool = False) -> str:
    """The profile this run uses (see ``PROFILE_ENV``)."""
    chosen = os.environ.get(PROFILE_ENV)
    if chosen:
        return chosen
    if fast:
        return "fast"
    return "ci" if IN_CI else "dev"


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
    """Skip loudly when PostgreSQL is missing; fail in CI."""
    global _PG_PROBLEM, _PG_CHECKED
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
def postgres_database(label: str = "db") -> Iterator[str]:
    """A new, empty PostgreSQL database (skipped loudly without a server, failed in CI),
    dropped on exit; for fixtures of any scope. Made by the project's one recipe,
    ``benchmarks._harness.temp_pg_database``."""
    require_postgres()
    with temp_pg_database(PG_URL, label, prefix="slotcap_t") as url:
        yield url


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
    """An empty database of each SQL engine in turn."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'slotcap.db'}"
    else:
        yield request.getfixturevalue("pg_url")


@pytest.fixture
def legacy_url(sql_url: str) -> str:
    """A database of each engine made from exactly the reference legacy DDL."""
    with open_sql(sql_url) as conn:
        create_legacy_schema(conn)
    return sql_url


@pytest.fixture
def phase1_url(legacy_url: str) -> str:
    """``legacy_url`` taken to phase 1 by slotcap's own migration (what the clinic
    administration commands need)."""
    report = migrate(legacy_url, to="phase1")
    assert report.ok, report.message
    return legacy_url
