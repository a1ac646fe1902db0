"""Building stores in a given schema state, and the rows and requests tests book.

Every SQL database starts as the reference legacy DDL and reaches its state through the
migration toolkit (``schema_helpers``), exactly as production does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.builders import MONDAY, request
from tests.conftest import postgres_database
from tests.integration.schema_helpers import contract, expand

from slotcap.adapters.sql import SqlStore
from slotcap.domain.defaults import DEFAULT_DAILY_LIMITS, DEFAULT_SERVICES, DEFAULT_TIME_SLOTS
from slotcap.domain.model import Period, Reservation, ReservationStatus
from slotcap.ports import SchemaState
from slotcap.schema.legacy import create_legacy_schema
from slotcap.sql import open_sql

__all__ = [
    "MONDAY",
    "SATURDAY",
    "SUNDAY",
    "build_sql_database",
    "open_sql_store",
    "postgres_database",
    "put",
    "request",
    "reset_to_defaults",
    "row",
]

SATURDAY = dt.date(2025, 12, 6)  # 09-13 only (240 min)
SUNDAY = dt.date(2025, 12, 7)  # closed


def open_sql_store(url: str, **options: Any) -> SqlStore:
    """The store ``slotcap.open_store`` would build for ``url``, with ``options``
    (psycopg is imported only for a PostgreSQL URL, as ``open_store`` does)."""
    if url.startswith("sqlite:///"):
        from slotcap.adapters.sqlite import SqliteStore

        return SqliteStore.open(url[len("sqlite:///") :], **options)
    from slotcap.adapters.postgres import PostgresStore

    return PostgresStore.open(url, **options)


def build_sql_database(url: str, state: SchemaState = SchemaState.EXPANDED) -> None:
    """The reference legacy database brought to ``state``; while the count rule exists
    its limits are the in-memory store's defaults (so both start out the same)."""
    with open_sql(url) as conn:
        create_legacy_schema(conn)
    if state is not SchemaState.LEGACY:
        expand(url)
    if state is SchemaState.CONTRACTED:
        contract(url)
        return
    store = open_sql_store(url)
    try:
        for limit in DEFAULT_DAILY_LIMITS:
            store.save_limit(limit)
    finally:
        store.close()


def reset_to_defaults(url: str, store: SqlStore) -> None:
    """An expanded database back to its starting point, much faster than a new one:
    no reservations, and the default services, hours and limits."""
    keep = [s.id for s in DEFAULT_SERVICES]
    with open_sql(url) as conn:
        conn.execute('DELETE FROM "reservations"')
        marks = ", ".join(["%s"] * len(keep))
        conn.execute(f'DELETE FROM "services" WHERE "id" NOT IN ({marks})', keep)
        seeded = [s.id for s in DEFAULT_TIME_SLOTS]  # a period opened since (e.g. Sunday)
        conn.execute(f'DELETE FROM "clinic_time_slots" WHERE "id" NOT IN '
                     f'({", ".join(["%s"] * len(seeded))})', seeded)
    for service in DEFAULT_SERVICES:
        store.save_service(service)
    for slot in DEFAULT_TIME_SLOTS:
        store.save_time_slot(slot)
    for limit in DEFAULT_DAILY_LIMITS:
        store.save_limit(limit)


_counter = iter(range(1, 1_000_000_000))


def row(
    day: dt.date = MONDAY,
    *,
    code: str = "WRINKLE_BOTOX",
    period: Period | None = Period.MORNING,
    minutes: int | None = None,
    status: ReservationStatus = ReservationStatus.CONFIRMED,
    new_columns: bool = True,
    rid: str | None = None,
) -> Reservation:
    """A reservation row. ``new_columns=False`` is what the legacy application writes:
    service code and free-text time only (``period`` and ``minutes`` are then ignored)."""
    return Reservation(
        id=rid or f"row{next(_counter)}",
        patient_name="김하늘",
        phone="010-1234-5678",
        birth_date=dt.date(1990, 1, 1),
        gender="FEMALE",
        treatment_type="FIRST_VISIT",
        preferred_date=day,
        status=status,
        service=code,
        preferred_time="10:00",
        service_id=f"srv_{code.lower()}" if new_columns else None,
        service_name=code.title() if new_columns else None,
        estimated_duration=minutes if new_columns else None,
        period=period if new_columns else None,
    )


def put(store: Any, *rows: Reservation) -> None:
    """Insert rows as they are (no capacity check), each in its own booking scope."""
    for r in rows:
        with store.booking(r.preferred_date, r.service or "", []) as tx:
            tx.insert(r)
