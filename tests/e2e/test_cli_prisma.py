"""``slotcap prisma-schema`` as a user runs it (in-process, ``tests/e2e/cli_run.py``):
exit codes, files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import postgres_database
from tests.e2e.cli_run import slotcap
from tests.integration.migration_helpers import seed_legacy

from slotcap.migration import migrate
from slotcap.migration.prisma import PHASES, render, schema_for
from slotcap.schema.legacy import create_legacy_schema
from slotcap.sql import open_sql


@pytest.mark.parametrize("phase", PHASES)
def test_the_schema_goes_to_stdout_without_a_database(phase: str) -> None:
    result = slotcap("prisma-schema", "--phase", phase)
    assert result.returncode == 0, result.stderr
    assert result.stdout == render(schema_for(phase))
    assert result.stderr == ""


def test_output_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "schema.prisma"
    result = slotcap("prisma-schema", "--phase", "phase4", "--output", str(target))
    assert result.returncode == 0, result.stderr
    assert target.read_text(encoding="utf-8") == render(schema_for("phase4"))
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left


@pytest.mark.parametrize("args", [
    ("--phase", "phase3"),
    ("--phase", "phase1"),
    (),
    ("--phase", "phase2", "--provider", "sqlite"),
    ("--phase", "phase2", "--output", "/nonexistent-dir/schema.prisma"),
])
def test_bad_options_exit_2_in_one_message(args: tuple[str, ...]) -> None:
    result = slotcap("prisma-schema", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


def test_output_onto_a_directory_is_refused(tmp_path: Path) -> None:
    result = slotcap("prisma-schema", "--phase", "phase2", "--output", str(tmp_path))
    assert result.returncode == 2
    assert "is a directory" in result.stderr


def test_a_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "legacy.db"
    with open_sql(f"sqlite:///{path}") as conn:
        create_legacy_schema(conn)
    result = slotcap("prisma-schema", "--phase", "phase2", "--database", f"sqlite:///{path}")
    assert result.returncode == 2
    assert "PostgreSQL" in result.stderr


def test_an_unreachable_database_does_not_echo_its_password() -> None:
    result = slotcap("prisma-schema", "--phase", "phase2", "--database",
                     "postgresql://user:s3cr3tpw@127.0.0.1:1/nothing")
    assert result.returncode == 2
    assert "s3cr3tpw" not in result.stdout + result.stderr


@pytest.mark.postgres
def test_database_check_on_a_migrated_database(tmp_path: Path) -> None:
    with postgres_database("prisma_cli") as url:
        with open_sql(url) as conn:
            create_legacy_schema(conn)
            seed_legacy(conn, 12)
        assert migrate(url, to="phase4", confirm=True).ok

        result = slotcap("prisma-schema", "--phase", "phase4", "--database", url, "--json")
        report = json.loads(result.stdout)
        assert report["differences"] == []
        assert result.returncode == 0
        assert report["unannounced"] == []
        assert report["announced_but_absent"] == []
        assert {"kind": "table", "table": "slotcap_archive_schema",
                "name": "slotcap_archive_schema"} in report["not_modelled"]

        # The phase-2 schema is wrong for a contracted database: said, and no file.
        target = tmp_path / "schema.prisma"
        result = slotcap("prisma-schema", "--phase", "phase2", "--database", url,
                         "--output", str(target))
        assert result.returncode == 1
        assert "reservations: column preferredTime is missing" in result.stdout
        assert 'enum "ServiceType": labels None' in result.stdout
        assert not target.exists()
