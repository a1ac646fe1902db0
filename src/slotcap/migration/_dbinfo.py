"""What the backfill, the analysis and the review read from the database itself.

These tools must work on a database slotcap did not create (the reference DDL plus
phase 1), so everything they need — the services by code, the clinic's hours, the SQL
type of ``period`` — is read from the live catalogue, never assumed.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import attrs

from slotcap.domain.model import ClinicTimeSlot, Period
from slotcap.domain.schema_state import LEGACY_ONLY_COLUMNS, NEW_COLUMNS, NEW_TABLES
from slotcap.errors import MigrationError, SchemaStateError
from slotcap.migration.ddl.names import JOURNAL, RESERVATIONS_TABLE
from slotcap.sql import Dialect, SqlConnection
from slotcap.sql.catalog import Catalog, Part, read_catalog

__all__ = [
    "JOURNAL_TABLE",
    "NEW_COLUMNS",
    "ServiceRow",
    "chunked",
    "database_errors",
    "has_new_columns",
    "iso_date",
    "load_clinic_hours",
    "load_services",
    "merge_columns_sql",
    "period_cast",
    "record_journal",
    "require_expanded",
]

#: The backfill journal (named once, in ddl.names).
JOURNAL_TABLE = JOURNAL

_TYPE_NAME = re.compile(r'^"?[A-Za-z_][A-Za-z0-9_]*"?$')


@attrs.frozen
class ServiceRow:
    """The three values a reservation copies from its service."""

    id: str
    code: str
    name: str
    minutes: int


def has_new_columns(conn: SqlConnection) -> bool:
    return set(NEW_COLUMNS) <= conn.columns("reservations")


def require_expanded(conn: SqlConnection, *, journal: bool = True) -> Catalog:
    """Refuse to run before phase 1 (or after phase 4), naming what is missing; the
    tables and columns read to decide (for :func:`period_cast`, without a second read)."""
    cat = read_catalog(conn, parts=Part.COLUMNS)
    missing = [t for t in (RESERVATIONS_TABLE, *NEW_TABLES) if not cat.has_table(t)]
    if journal and not cat.has_table(JOURNAL_TABLE):
        missing.append(JOURNAL_TABLE)
    if cat.has_table(RESERVATIONS_TABLE):
        missing += [f"{RESERVATIONS_TABLE}.{c}" for c in (*NEW_COLUMNS, *LEGACY_ONLY_COLUMNS)
                    if not cat.has_column(RESERVATIONS_TABLE, c)]
    if missing:
        raise SchemaStateError(
            "the database is not in the expanded state (phase 1 applied, phase 4 not): "
            f"missing {', '.join(missing)}; run `slotcap migrate --to phase1` first"
        )
    return cat


def load_services(conn: SqlConnection) -> tuple[dict[str, ServiceRow], dict[str, ServiceRow]]:
    """Every service (inactive and soft-deleted too: history keeps its service), by
    code and by id."""
    rows = conn.execute(
        'SELECT "id", "code", "name", "durationMinutes", "bufferMinutes" FROM "services"'
    )
    services = [ServiceRow(r[0], r[1], r[2], int(r[3]) + int(r[4])) for r in rows]
    return {s.code: s for s in services}, {s.id: s for s in services}


def _clock(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value
    return dt.time.fromisoformat(str(value).strip())


def load_clinic_hours(conn: SqlConnection) -> list[ClinicTimeSlot]:
    """The clinic's active weekly slots, which the parser uses to read bare hours."""
    rows = conn.execute(
        'SELECT "id", "dayOfWeek", "period", "startTime", "endTime", "isActive" '
        'FROM "clinic_time_slots" ORDER BY "dayOfWeek", "period"'
    )
    slots = []
    for slot_id, day, period, start, end, active in rows:
        if not active:
            continue
        try:
            slots.append(
                ClinicTimeSlot(
                    id=str(slot_id),
                    day_of_week=int(day),
                    period=Period(str(period)),
                    start_time=_clock(start),
                    end_time=_clock(end),
                )
            )
        except ValueError as exc:
            # A malformed slot would make the parser read hours wrongly: stop, name it.
            raise MigrationError(
                f"clinic_time_slots row {slot_id!r} is unreadable: {exc}"
            ) from None
    return slots


def period_cast(conn: SqlConnection, cat: Catalog | None = None) -> str:
    """The SQL type to cast a text period to: ``"Period"`` (slotcap's phase 1 on
    PostgreSQL), or ``text`` where the column is TEXT (the plan's own DDL, SQLite).
    ``cat``: the columns already read (by :func:`require_expanded`), else read now."""
    if conn.dialect is Dialect.SQLITE:
        return "text"
    if cat is None:
        cat = read_catalog(conn, parts=Part.COLUMNS)
    column = cat.columns.get((RESERVATIONS_TABLE, "period"))
    name = None if column is None else column.type
    if not isinstance(name, str) or not _TYPE_NAME.match(name):
        raise SchemaStateError(f"reservations.period has an unexpected type: {name!r}")
    return name


def merge_columns_sql(old: str, new: str) -> str:
    """SQL (both engines) for the union of two journal "columns" lists, in NEW_COLUMNS
    order; NULL (all columns: a journal entry from before the list existed) wins."""
    parts = " || ".join(
        f"CASE WHEN (',' || {old} || ',') LIKE '%%,{col},%%' "
        f"OR (',' || {new} || ',') LIKE '%%,{col},%%' THEN '{col},' ELSE '' END"
        for col in NEW_COLUMNS
    )
    return f"CASE WHEN {old} IS NULL OR {new} IS NULL THEN NULL ELSE rtrim({parts}, ',') END"


def record_journal(
    conn: SqlConnection, ids: Sequence[str], source: str, columns: str | Sequence[str]
) -> None:
    """Note, in the caller's transaction, that ``source`` filled these reservations.

    ``columns`` is the comma-separated list of new columns filled, one for all ``ids``
    or one per id. The journal has one row per reservation; a second fill of the same
    row adds its columns to the entry's list. The backfill keeps an existing entry's
    source. A review decision on a row the backfill already journalled (it filled the
    service columns, abstained on the period) becomes ``review+backfill``: validation
    tells the operator's periods (``review%``) from the parser's by that prefix.
    """
    if not ids:
        return
    per_id = [columns] * len(ids) if isinstance(columns, str) else list(columns)
    if len(per_id) != len(ids):
        raise ValueError("record_journal: one columns list per id")
    merged = merge_columns_sql('j."columns"', 'excluded."columns"')
    if source == "review":
        conflict = (
            "DO UPDATE SET \"source\" = CASE WHEN j.\"source\" NOT LIKE 'review%%' "
            "THEN excluded.\"source\" || '+' || j.\"source\" ELSE j.\"source\" END, "
            f'"columns" = {merged}'
        )
    else:
        conflict = f'DO UPDATE SET "columns" = {merged}'
    insert = f'INSERT INTO "{JOURNAL_TABLE}" AS j ("reservationId", "source", "columns") '
    if conn.dialect is Dialect.POSTGRES:
        conn.execute(
            f"{insert} SELECT i, %s, c FROM unnest(%s::text[], %s::text[]) AS u(i, c) "  # noqa: S608
            f'ON CONFLICT ("reservationId") {conflict}',
            (source, list(ids), per_id),
        )
    else:
        conn.execute_many(
            f'{insert} VALUES (%s, %s, %s) ON CONFLICT ("reservationId") {conflict}',
            [(i, source, c) for i, c in zip(ids, per_id, strict=True)],
        )


def iso_date(value: Any) -> str | None:
    """A DATE as 'YYYY-MM-DD' whichever engine returned it."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)[:10]


def chunked(items: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def database_errors() -> tuple[type[BaseException], ...]:
    """The driver exceptions a batch can fail with (psycopg only when installed)."""
    errors: list[type[BaseException]] = [sqlite3.Error]
    try:
        import psycopg
    except ImportError:
        pass
    else:
        errors.append(psycopg.Error)
    return tuple(errors)
