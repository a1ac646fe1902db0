"""The SQL stores split by role (one file each, small enough to read in one sitting):

* :mod:`.store` — ``SqlCore``: the engine's sessions, the schema state it follows,
  the schema-change retry, the bounded writes;
* :mod:`.part` — ``SqlPart``: what each part sees of the core;
* :mod:`.statements` — every statement, built once per schema shape;
* the parts, each an object over the one core: :mod:`.reads` (availability facts,
  catalogue/hours/limits reads, the checks' snapshots), :mod:`.calendar`,
  :mod:`.booking` (the locked check-and-insert scopes), :mod:`.writes`,
  :mod:`.idempotency`, :mod:`.shadow_sql`, :mod:`.monitoring`;
* :mod:`.rows` — rows ↔ domain records; :mod:`.connections` — connection sources;
* :mod:`.base` — ``SqlStore``, the parts put together. Engines: ``adapters.postgres``,
  ``adapters.sqlite`` (and ``adapters.sql.pg_session`` for PostgreSQL's sessions).
"""

from slotcap.adapters.sql.base import SqlStore
from slotcap.adapters.sql.booking import SqlBooking
from slotcap.adapters.sql.connections import (
    ConnectionSource,
    SharedConnection,
    ThreadLocalConnections,
)
from slotcap.adapters.sql.statements import SchemaInfo, Statements, build_statements
from slotcap.adapters.sql.store import DEFAULT_BUSY_BUDGET, Params, Row, Session, SqlCore

__all__ = [
    "DEFAULT_BUSY_BUDGET",
    "ConnectionSource",
    "Params",
    "Row",
    "SchemaInfo",
    "Session",
    "SharedConnection",
    "SqlBooking",
    "SqlCore",
    "SqlStore",
    "Statements",
    "ThreadLocalConnections",
    "build_statements",
]
