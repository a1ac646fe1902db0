""""Now" as the migration writes it into a zone-less timestamp: UTC, as Prisma does.

Prisma fills ``@default(now())`` and ``@updatedAt`` itself, in UTC, into
``TIMESTAMP(3)`` columns that carry no zone; a column DEFAULT of ``CURRENT_TIMESTAMP``
instead stores the session's *local* time (15:55 UTC is stored as 00:55 on a database
whose ``TimeZone`` is Asia/Seoul). So whatever slotcap writes into such a column —
the seeded catalogue's ``createdAt``/``updatedAt``, the migration record's
``appliedAt`` — is written explicitly as UTC, and every "since" it compares with
``createdAt`` is a UTC instant (docs/prisma.md, "Time stamps"). SQLite's columns are
ISO-8601 text that slotcap always writes with a ``Z``.
"""

from __future__ import annotations

from typing import Final

from slotcap.sql import Dialect

__all__ = ["UTC_NOW", "window_start"]

#: The current transaction's time as a zone-less UTC value, in pyformat SQL.
UTC_NOW: Final = {
    Dialect.POSTGRES: "(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')",
    Dialect.SQLITE: "strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now')",
}


def window_start(dialect: Dialect, recorded: str) -> str:
    """The earliest ``createdAt`` a row written at or after the instant the SQL
    expression ``recorded`` (a zone-less timestamp) can carry, whichever convention wrote
    each side: UTC (Prisma, slotcap) or the session's local time (a ``CURRENT_TIMESTAMP``
    default, and slotcap's own records before it wrote UTC). On PostgreSQL that is the
    least of the value read as UTC, as local time converted to UTC, and converted to
    local time: it opens at most the zone's offset early, never late. The rows it takes
    in early were created before the recorded step — for phase 2, rows its validation
    proved complete."""
    if dialect is not Dialect.POSTGRES:
        return recorded
    return (f"LEAST({recorded}, CAST({recorded} AS timestamptz) AT TIME ZONE 'UTC', "
            f"CAST(({recorded}) AT TIME ZONE 'UTC' AS timestamp))")
