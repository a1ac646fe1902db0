"""Which URL a migration command runs on: --direct-url, SLOTCAP_DIRECT_DATABASE_URL, else
--database — never a pooled one (Prisma's directUrl)."""

from __future__ import annotations

import argparse

import pytest

from slotcap.cli._args import DIRECT_DATABASE_ENV, resolve_direct_database
from slotcap.errors import ConfigurationError, UsageError
from slotcap.migration.ddl.lock_policy import configure_session
from slotcap.migration.engine.runlock import migration_lock
from slotcap.sql.connection import SqlConnection
from slotcap.sql.dialect import Dialect

POOLED = "postgresql://app:Zq7pw@pgbouncer:6432/clinic?pgbouncer=true"
DIRECT = "postgresql://app:Zq7pw@db1:5432,db2:5432/clinic?target_session_attrs=read-write"


def args(database: str | None = None, direct: str | None = None) -> argparse.Namespace:
    return argparse.Namespace(database=database, direct_url=direct)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DIRECT_DATABASE_ENV, raising=False)
    monkeypatch.delenv("SLOTCAP_DATABASE_URL", raising=False)


def test_the_direct_url_wins_then_the_environment_then_the_database() -> None:
    assert resolve_direct_database(args(POOLED, DIRECT)) == DIRECT
    assert resolve_direct_database(args(DIRECT)) == DIRECT


def test_the_environment_supplies_the_direct_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DIRECT_DATABASE_ENV, DIRECT)
    assert resolve_direct_database(args(POOLED)) == DIRECT


@pytest.mark.parametrize(
    ("given", "names"),
    [
        (args(POOLED), "--direct-url"),
        (args(POOLED, POOLED), "--direct-url: this URL goes through a pooler"),
        (args(None, "memory://"), "--direct-url: memory://"),
        (args(None, "postgresql://u:Zq7pw@h:0/db"), "--direct-url: malformed"),
    ],
)
def test_a_pooled_or_unusable_url_is_refused_in_one_line(
    given: argparse.Namespace, names: str
) -> None:
    with pytest.raises(UsageError) as refused:
        resolve_direct_database(given)
    message = refused.value.message
    assert names in message and "Zq7pw" not in message and "\n" not in message


def test_the_run_lock_refuses_a_pooled_connection_before_any_statement() -> None:
    class NoStatements:
        def execute(self, *_: object) -> None:
            raise AssertionError("no statement may run on a pooled connection")

    conn = SqlConnection(NoStatements(), Dialect.POSTGRES, pooled=True)
    with pytest.raises(ConfigurationError, match="SLOTCAP_DIRECT_DATABASE_URL"), \
            migration_lock(conn):
        raise AssertionError("the lock was granted")
    with pytest.raises(ConfigurationError, match="--direct-url"):
        configure_session(conn)
