"""``slotcap monitor`` as a user runs it (in-process), on both SQL engines: exit 0
healthy and 1 look at this, ``--json``, the rollout read from the environment, and
one-line usage errors (exit 2) that never echo a password."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.e2e.cli_run import Completed, slotcap
from tests.integration.schema_helpers import legacy_insert
from tests.integration.store_helpers import build_sql_database

from slotcap.ports import SchemaState
from slotcap.sql import open_sql


def monitor(*args: str, env: dict[str, str] | None = None) -> Completed:
    return slotcap("monitor", *args, env=env,
                   unset=("USE_DYNAMIC_SERVICES", "DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE"))


def as_json(done: Completed) -> Any:
    return json.loads(done.stdout)


@pytest.fixture
def expanded(sql_url: str) -> str:
    build_sql_database(sql_url, SchemaState.EXPANDED)
    return sql_url


def test_healthy_then_a_legacy_writer_makes_it_look_at_this(expanded: str) -> None:
    done = monitor("--database", expanded, env={"DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE": "25"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "healthy"
    assert "schema state: expanded" in lines
    assert "rollout: 25% dynamic (DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE=25)" in lines
    assert "dual-write gaps: 0" in lines
    assert any("FULL refusals: not recorded in the database" in line for line in lines)

    with open_sql(expanded) as conn:  # the old app, still deployed, inserts a row now
        legacy_insert(conn, "old-app-1", "2025-12-01")
    done = monitor("--database", expanded, "--hours", "2", "--json",
                   env={"SLOTCAP_DATABASE_URL": "sqlite:///ignored.db"})
    assert done.returncode == 1, done.stderr
    report = as_json(done)
    assert report["status"] == "look_at_this" and not report["healthy"]
    assert report["dual_write_gaps"] == 1 and report["created"] == 1
    assert len(report["per_hour"]) == 2 and report["per_hour"][-1]["legacy"] == 1
    assert report["rollout"] == {"enabled": False, "percentage": 0, "dynamic_share": 0}
    assert "slotcap backfill" in report["findings"][0]
    assert report["full_refusals"] is None

    text = monitor("--database", expanded, "--hours", "2")
    assert text.returncode == 1
    assert text.stdout.startswith("look at this: 1 finding\n  - dual-write gaps: 1 ")


def test_the_database_can_come_from_the_environment(expanded: str) -> None:
    done = monitor("--json", env={"SLOTCAP_DATABASE_URL": expanded,
                                  "USE_DYNAMIC_SERVICES": "true"})
    assert done.returncode == 0, done.stderr
    assert as_json(done)["rollout"]["dynamic_share"] == 100
    assert len(as_json(done)["per_hour"]) == 24


def test_a_legacy_database_with_a_rollout_is_a_finding(legacy_url: str) -> None:
    done = monitor("--database", legacy_url, env={"USE_DYNAMIC_SERVICES": "true"})
    assert done.returncode == 1
    assert "phase 1" in done.stdout and "schema state: legacy" in done.stdout


@pytest.mark.parametrize(("args", "env", "says"), [
    (("--hours", "0"), {}, "--hours: must be from 1 to 192"),
    (("--hours", "many"), {}, "--hours: not a whole number"),
    ((), {"DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE": "lots"}, "DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE"),
])
def test_usage_errors_exit_2_in_one_line(
    expanded: str, args: tuple[str, ...], env: dict[str, str], says: str
) -> None:
    done = monitor("--database", expanded, *args, env=env)
    assert done.returncode == 2
    assert says in done.stderr and done.stdout == ""


def test_no_password_is_echoed() -> None:
    url = "postgresql://postgres:s3cr3t-pw@127.0.0.1:1/nowhere"
    done = monitor("--database", url)
    assert done.returncode == 2, done.stderr
    assert "s3cr3t-pw" not in done.stderr + done.stdout
    assert len(done.stderr.strip().splitlines()) == 1
