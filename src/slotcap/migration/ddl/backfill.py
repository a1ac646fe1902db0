"""The backfill's SQL: select a keyset batch, write it, split the key space.

Kept apart from :mod:`slotcap.migration.backfill` (which decides *what* to write) so
each side reads on its own. A fill is a plain tuple
``(id, serviceId, serviceName, estimatedDuration, period)`` where None means "leave
the column as it is".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from slotcap.migration._dbinfo import (
    JOURNAL_TABLE,
    NEW_COLUMNS,
    merge_columns_sql,
    record_journal,
)
from slotcap.sql import Dialect, SqlConnection

__all__ = [
    "JOURNAL_SOURCE",
    "NEEDS_WORK",
    "Fill",
    "count_needing_work",
    "filled_columns",
    "select_batch",
    "split_points",
    "write_batch",
]

JOURNAL_SOURCE = "backfill"

#: Rows that still need work. Rows the parser abstained on match too (their period
#: stays NULL): each run looks at them once, the keyset cursor only moves forward.
NEEDS_WORK = (
    '("serviceId" IS NULL OR "serviceName" IS NULL '
    'OR "estimatedDuration" IS NULL OR "period" IS NULL)'
)

Fill = tuple[str, str | None, str | None, int | None, str | None]

_MERGE = merge_columns_sql('j."columns"', 'excluded."columns"')


def select_batch(
    conn: SqlConnection,
    *,
    after: str | None,
    low: str | None,
    high: str | None,
    limit: int,
    lock: bool,
) -> list[Any]:
    """The next ``limit`` rows needing work with ``id`` > ``after`` (or ≥ ``low`` at the
    start of a range) and < ``high``, in primary-key order."""
    conditions = [NEEDS_WORK]
    params: list[Any] = []
    if after is not None:
        conditions.append('"id" > %s')
        params.append(after)
    elif low is not None:
        conditions.append('"id" >= %s')
        params.append(low)
    if high is not None:
        conditions.append('"id" < %s')
        params.append(high)
    # FOR NO KEY UPDATE (the lock an UPDATE takes anyway) keeps what we read stable
    # until our UPDATE, so the journal names exactly the rows this batch filled.
    suffix = " FOR NO KEY UPDATE" if lock and conn.dialect is Dialect.POSTGRES else ""
    return conn.execute(
        'SELECT "id", "service", "preferredTime", "serviceId", "serviceName", '  # noqa: S608
        '"estimatedDuration", "period" FROM "reservations" '
        f'WHERE {" AND ".join(conditions)} ORDER BY "id" LIMIT %s{suffix}',
        (*params, limit),
    )


def filled_columns(fill: Fill) -> str:
    """The journal's "columns" entry for a fill: the new columns it sets, in order."""
    return ",".join(c for c, v in zip(NEW_COLUMNS, fill[1:], strict=True) if v is not None)


def write_batch(conn: SqlConnection, fills: Sequence[Fill], cast: str) -> None:
    """Fill NULL columns only and journal the rows, in the caller's transaction.

    A fill names only columns that were NULL when the batch was read, and the batch's
    rows stay locked until the commit (PostgreSQL: FOR NO KEY UPDATE; SQLite: one
    writer), so the journal's "columns" are exactly the ones this batch wrote.
    """
    if conn.dialect is Dialect.POSTGRES:
        # One round trip per batch: the batch travels as one JSON parameter (psycopg
        # dumps a str for free; arrays of 1000 values cost milliseconds in Python), is
        # joined on the primary key, and the rows updated are journalled by the same
        # statement. COALESCE keeps any value that is already there.
        conn.execute(
            "WITH v AS (SELECT e->>0 AS id, e->>1 AS sid, e->>2 AS sname, "  # noqa: S608
            "(e->>3)::int AS minutes, e->>4 AS period, e->>5 AS cols "
            "FROM json_array_elements(%s::json) e), "
            'u AS (UPDATE "reservations" AS r SET '
            '"serviceId" = COALESCE(r."serviceId", v.sid), '
            '"serviceName" = COALESCE(r."serviceName", v.sname), '
            '"estimatedDuration" = COALESCE(r."estimatedDuration", v.minutes), '
            f'"period" = COALESCE(r."period", v.period::{cast}) '
            'FROM v WHERE r."id" = v.id RETURNING r."id", v.cols) '
            f'INSERT INTO "{JOURNAL_TABLE}" AS j ("reservationId", "source", "columns") '
            'SELECT u."id", %s, u.cols FROM u ON CONFLICT ("reservationId") '
            f'DO UPDATE SET "columns" = {_MERGE}',
            (json.dumps([[*f, filled_columns(f)] for f in fills], ensure_ascii=False),
             JOURNAL_SOURCE),
        )
        return
    # SQLite is in-process: executemany costs no round trips.
    conn.execute_many(
        'UPDATE "reservations" SET '
        '"serviceId" = COALESCE("serviceId", %s), '
        '"serviceName" = COALESCE("serviceName", %s), '
        '"estimatedDuration" = COALESCE("estimatedDuration", %s), '
        '"period" = COALESCE("period", %s) '
        'WHERE "id" = %s',
        [(*f[1:], f[0]) for f in fills],
    )
    record_journal(conn, [f[0] for f in fills], JOURNAL_SOURCE,
                   [filled_columns(f) for f in fills])


def count_needing_work(conn: SqlConnection) -> int:
    return int(conn.scalar(f'SELECT COUNT(*) FROM "reservations" WHERE {NEEDS_WORK}') or 0)  # noqa: S608


def split_points(conn: SqlConnection, total: int, parts: int) -> list[str]:
    """Ids that cut the rows needing work into ``parts`` ranges of about equal size."""
    points: list[str] = []
    for k in range(1, parts):
        point = conn.scalar(
            f'SELECT "id" FROM "reservations" WHERE {NEEDS_WORK} '  # noqa: S608
            'ORDER BY "id" LIMIT 1 OFFSET %s',
            (k * total // parts,),
        )
        # Ids are unique, so the points rise in the database's own collation order
        # (which is the order the keyset walk uses); only a tiny table repeats one.
        if point is not None and str(point) not in points:
            points.append(str(point))
    return points
