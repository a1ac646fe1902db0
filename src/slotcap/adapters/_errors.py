"""Moved to :mod:`slotcap.sql.errors` (one SQL layer); kept as a re-export."""

from slotcap.sql.errors import (
    PG_BUSY_SQLSTATES,
    from_postgres,
    from_sqlite,
    is_postgres_busy,
    is_sqlite_busy,
)

__all__ = [
    "PG_BUSY_SQLSTATES",
    "from_postgres",
    "from_sqlite",
    "is_postgres_busy",
    "is_sqlite_busy",
]
