"""``slotcap prisma-schema`` as a user runs it (in-process, ``tests/e2e/cli_run.py``):
exit codes, files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from tests.conftest import postgres_database
from tests.e2e.cli_run import slotcap
from tests.integration.migration_helpers import seed_legacy

from slotcap.migration import migrate
from slotcap.migration.prisma import PHASES, config_ts, render, schema_for
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


def test_json_prints_a_json_document() -> None:
    """Regression (#23 item 7): --json printed the Prisma text with exit 0."""
    result = slotcap("prisma-schema", "--phase", "phase2", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document == {"phase": "phase2", "prisma": 7, "provider": "postgresql",
                        "schema": render(schema_for("phase2")), "config": None,
                        "output": None, "config_out": None}


def test_written_files_are_ordinary_files(tmp_path: Path) -> None:
    """Regression (#23 item 7): schema.prisma was written mode 0600 (mkstemp's); a new
    file gets 0666 less the umask, a replaced one keeps its mode."""
    schema, config = tmp_path / "schema.prisma", tmp_path / "prisma.config.ts"
    old = os.umask(0o022)
    try:
        result = slotcap("prisma-schema", "--phase", "phase2", "--output", str(schema),
                         "--config-out", str(config))
    finally:
        os.umask(old)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(schema.stat().st_mode) == 0o644
    assert stat.S_IMODE(config.stat().st_mode) == 0o644
    schema.chmod(0o664)
    assert slotcap("prisma-schema", "--phase", "phase4", "--output", str(schema)).returncode == 0
    assert stat.S_IMODE(schema.stat().st_mode) == 0o664
    assert schema.read_text(encoding="utf-8") == render(schema_for("phase4"))


def test_config_out_names_the_schema_relative_to_itself(tmp_path: Path) -> None:
    (tmp_path / "prisma").mkdir()
    result = slotcap("prisma-schema", "--phase", "phase4", "--output",
                     str(tmp_path / "prisma" / "schema.prisma"), "--config-out",
                     str(tmp_path / "prisma.config.ts"), "--json")
    assert result.returncode == 0, result.stderr
    config = (tmp_path / "prisma.config.ts").read_text(encoding="utf-8")
    assert config == config_ts("phase4", schema="prisma/schema.prisma")
    assert json.loads(result.stdout)["config"] == config
    assert 'schema: "prisma/schema.prisma"' in config
    assert 'path: "prisma/migrations"' in config and "url: process.env.DATABASE_URL," in config


def test_prisma_6_keeps_the_url_and_refuses_a_config() -> None:
    result = slotcap("prisma-schema", "--phase", "phase2", "--prisma", "6")
    assert result.returncode == 0, result.stderr
    assert result.stdout == render(schema_for("phase2"), prisma=6)
    assert 'url      = env("DATABASE_URL")' in result.stdout
    refused = slotcap("prisma-schema", "--phase", "phase2", "--prisma", "6",
                      "--config-out", "prisma.config.ts")
    assert refused.returncode == 2 and "--config-out" in refused.stderr


@pytest.mark.parametrize("args", [
    ("--phase", "phase3"),
    ("--phase", "phase1"),
    (),
    ("--phase", "phase2", "--provider", "sqlite"),
    ("--phase", "phase2", "--output", "/nonexistent-dir/schema.prisma"),
    ("--phase", "phase2", "--prisma", "5"),
    ("--phase", "phase2", "--config-out", "/nonexistent-dir/prisma.config.ts"),
    ("--phase", "phase2", "--output", "same.ts", "--config-out", "same.ts"),
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
