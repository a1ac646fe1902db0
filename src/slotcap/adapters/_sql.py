"""Moved to :mod:`slotcap.adapters.sql` (the store split by role) and :mod:`slotcap.sql`
(the one SQL layer); kept as a re-export for existing imports."""

from slotcap.adapters.sql import (
    DEFAULT_BUSY_BUDGET,
    ConnectionSource,
    Params,
    Row,
    SchemaInfo,
    Session,
    SharedConnection,
    SqlBooking,
    SqlStore,
    Statements,
    ThreadLocalConnections,
    build_statements,
)
from slotcap.adapters.sql.rows import utcnow

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
    "utcnow",
]
