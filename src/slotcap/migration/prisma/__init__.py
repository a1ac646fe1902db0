"""The Prisma schema of a migrated database, for the web application's team.

``slotcap prisma-schema --phase phase2|phase4`` prints a ``schema.prisma`` whose models
describe exactly what slotcap's migration leaves in a PostgreSQL database after phase 2
(expanded and backfilled) or phase 4 (contracted). Pure: no database, no I/O; the output
is a function of the phase alone, already in ``prisma format``'s layout.

What Prisma's schema language cannot express — INCLUDE and partial indexes, CHECK
constraints, slotcap's own ``slotcap_*`` tables — is listed by :func:`not_expressed`;
``prisma migrate diff`` reports those as drift, which is expected and must not be
"fixed" (docs/prisma.md). tests/integration/test_prisma_engine.py has Prisma's own schema
engine validate the output.
"""

from __future__ import annotations

from slotcap.migration.prisma.config import config_ts, schema_path
from slotcap.migration.prisma.model import (
    DEFAULT_PRISMA,
    PRISMA_VERSIONS,
    Column,
    Enum,
    Index,
    Model,
    NotExpressed,
    Relation,
    Schema,
    check_prisma,
    render,
)
from slotcap.migration.prisma.schema import (
    CLOSURES,
    PHASES,
    PROVIDERS,
    SETTINGS,
    not_expressed,
    schema_for,
)

__all__ = [
    "CLOSURES",
    "DEFAULT_PRISMA",
    "PHASES",
    "PRISMA_VERSIONS",
    "PROVIDERS",
    "SETTINGS",
    "Column",
    "Enum",
    "Index",
    "Model",
    "NotExpressed",
    "Relation",
    "Schema",
    "check_prisma",
    "config_ts",
    "not_expressed",
    "render",
    "schema_for",
    "schema_path",
]
