"""Create the pre-migration database from the reference DDL shipped in this package.

The files are byte-for-byte copies of ``shared/reference/legacy-schema.*.sql``: the
demo and the tests build exactly the database production has, not one slotcap
would have designed.
"""

from __future__ import annotations

from importlib import resources

from slotcap.sql import Dialect, SqlConnection

__all__ = ["create_legacy_schema", "legacy_ddl"]


def legacy_ddl(dialect: Dialect) -> str:
    name = "legacy.postgres.sql" if dialect is Dialect.POSTGRES else "legacy.sqlite.sql"
    return resources.files("slotcap.schema").joinpath(name).read_text(encoding="utf-8")


def _statements(script: str) -> list[str]:
    """Split the reference script on ';' at line ends, dropping comment-only chunks."""
    body = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("--"))
    return [stmt.strip() for stmt in body.split(";") if stmt.strip()]


def create_legacy_schema(conn: SqlConnection) -> None:
    """Run the reference DDL in one transaction on an empty database."""
    with conn.transaction():
        for statement in _statements(legacy_ddl(conn.dialect)):
            conn.execute(statement)
