"""The SQL stores split by role (one file each, small enough to read in one sitting):

* :mod:`.store` — lifecycle, engine hooks, following the schema state;
* :mod:`.statements` — every statement, built once per schema shape;
* :mod:`.reads` — availability facts, calendar, catalogue/hours/limits reads;
* :mod:`.booking` — the locked check-and-insert scope;
* :mod:`.writes` — catalogue, hours, limits and status writes;
* :mod:`.rows` — rows ↔ domain records; :mod:`.connections` — connection sources;
* :mod:`.base` — ``SqlStore``, the roles composed. Engines: ``adapters.postgres``,
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
from slotcap.adapters.sql.store import DEFAULT_BUSY_BUDGET, Params, Row, Session

__all__ = [
    "DEFAULT_BUSY_BUDGET",
    "ConnectionSource",
    "Params",
    "Row",
    "SchemaInfo",
    "Session",
    "SharedConnection",
    "SqlBooking",
    "SqlStore",
    "Statements",
    "ThreadLocalConnections",
    "build_statements",
]
