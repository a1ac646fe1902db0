"""PostgreSQL and SQLite differences as data: one frozen :class:`DialectRules` value per
engine, read by the connection wrapper, the catalogue and the stores' statements.

Everything is written once in psycopg's pyformat (``%s`` positional, ``%(name)s``
named, ``%%`` a literal percent); :meth:`DialectRules.native` turns such text into the
driver's own style once (SQLite: ``?`` and ``:name``), so a statement built at store
start-up costs nothing per call. Value conversions (dates, timestamps, booleans) are
plain functions held by the value, not methods of subclasses that copy each other.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import re
from collections.abc import Callable
from typing import Any

import attrs

__all__ = [
    "POSTGRES_RULES", "SQLITE_RULES", "Dialect", "DialectRules", "rules_of", "to_sqlite_style",
]


class Dialect(enum.StrEnum):
    """Which engine a connection speaks (the value is the URL scheme's engine name)."""

    SQLITE = "sqlite"
    POSTGRES = "postgresql"


# %(name)s, %s or %% — in one left-to-right pass, so "%%s" stays a literal "%s".
_PYFORMAT = re.compile(r"%\((\w+)\)s|%s|%%")


def _sqlite_token(match: re.Match[str]) -> str:
    name = match.group(1)
    if name is not None:
        return f":{name}"
    return "?" if match.group(0) == "%s" else "%"


@functools.lru_cache(maxsize=1024)
def to_sqlite_style(sql: str) -> str:
    """pyformat → sqlite3's style: ``%(name)s`` → ``:name``, ``%s`` → ``?``,
    ``%%`` → ``%`` (cached: the same texts come back on every call)."""
    return _PYFORMAT.sub(_sqlite_token, sql)


def _same(sql: str) -> str:
    return sql


def _as_is(value: dt.date) -> Any:
    return value  # psycopg adapts dates itself


def _pg_date_out(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _naive_utc(value: dt.datetime) -> dt.datetime:
    # TIMESTAMP(3) without zone holds UTC (Prisma's convention).
    if value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _pg_timestamp_out(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def _sqlite_date_out(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _sqlite_timestamp_in(value: dt.datetime) -> Any:
    return _naive_utc(value).isoformat(timespec="milliseconds") + "Z"


def _sqlite_timestamp_out(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    parsed = dt.datetime.fromisoformat(str(value))
    return _naive_utc(parsed)


def _iso(value: dt.date) -> Any:
    return value.isoformat()


def _midnight(value: dt.date) -> Any:
    return dt.datetime.combine(value, dt.time())


@attrs.frozen
class DialectRules:
    """One engine's SQL and value differences. Templates take ``{}`` for an expression."""

    dialect: Dialect
    #: pyformat text → the driver's placeholder style.
    native: Callable[[str], str]
    #: "WITH" or "WITH RECURSIVE": what opens a statement whose CTE refers to itself.
    with_keyword: str
    #: An enum-typed expression as text (SQLite's enums are TEXT with CHECKs).
    as_text: str
    #: 0 = Sunday … 6 = Saturday, like ``slotcap.domain.calendar.day_of_week``.
    day_of_week: str
    #: A CTE ``days("day")`` of every date from %(first_day)s to %(last_day)s.
    days_cte: str
    #: What opens a transaction that will write (SQLite takes the write lock up front).
    begin_write: str
    #: Bind and read values.
    date_in: Callable[[dt.date], Any]
    date_out: Callable[[Any], dt.date]
    timestamp_in: Callable[[dt.datetime], Any]
    timestamp_out: Callable[[Any], dt.datetime | None]
    #: ``birthDate`` is a TIMESTAMP on PostgreSQL, ISO text on SQLite (as the app writes).
    birth_date_in: Callable[[dt.date], Any]
    bool_in: Callable[[bool], Any]
    #: Whether one statement may count and insert under the booking's lock (a CTE with
    #: a data-modifying statement); SQLite runs the two statements under its write lock.
    insert_in_cte: bool

    def text(self, expr: str) -> str:
        return self.as_text.format(expr)

    def dow(self, expr: str) -> str:
        return self.day_of_week.format(expr)


POSTGRES_RULES = DialectRules(
    dialect=Dialect.POSTGRES,
    native=_same,
    with_keyword="WITH",
    as_text="{}::text",
    day_of_week="EXTRACT(DOW FROM {})::int",
    days_cte=(
        'days AS (SELECT g::date AS "day" FROM generate_series('
        "CAST(%(first_day)s AS date), CAST(%(last_day)s AS date), interval '1 day') AS g)"
    ),
    begin_write="BEGIN",
    date_in=_as_is,
    date_out=_pg_date_out,
    timestamp_in=_naive_utc,
    timestamp_out=_pg_timestamp_out,
    birth_date_in=_midnight,
    bool_in=bool,
    insert_in_cte=True,
)

SQLITE_RULES = DialectRules(
    dialect=Dialect.SQLITE,
    native=to_sqlite_style,
    with_keyword="WITH RECURSIVE",
    as_text="{}",
    day_of_week="CAST(strftime('%%w', {}) AS INTEGER)",
    days_cte=(
        'days("day") AS (SELECT date(%(first_day)s) UNION ALL '
        'SELECT date("day", \'+1 day\') FROM days WHERE "day" < %(last_day)s)'
    ),
    begin_write="BEGIN IMMEDIATE",
    date_in=_iso,
    date_out=_sqlite_date_out,
    timestamp_in=_sqlite_timestamp_in,
    timestamp_out=_sqlite_timestamp_out,
    birth_date_in=_iso,
    bool_in=int,
    insert_in_cte=False,
)


def rules_of(dialect: Dialect) -> DialectRules:
    return POSTGRES_RULES if dialect is Dialect.POSTGRES else SQLITE_RULES
