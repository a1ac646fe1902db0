"""Quoted identifiers and the column lists, once.

The reservation columns a phase adds or removes come from
:mod:`slotcap.domain.schema_state` (the rule that names a schema's state reads the same
tuples); the rest are the columns the stores read and write, in a stable order (a
statement's text, and so its prepared-statement cache key, never changes).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from slotcap.domain.schema_state import LEGACY_ONLY_COLUMNS, NEW_COLUMNS, NEW_TABLES

__all__ = [
    "CLOSURE_COLUMNS",
    "COMMON_RESERVATION_COLUMNS",
    "HOLDING_LIST",
    "IDEMPOTENCY_KEYS",
    "LEDGER_FILL",
    "LEDGER_PERIODS",
    "LEDGER_SERVICES",
    "LEDGER_TABLES",
    "LEGACY_ONLY_COLUMNS",
    "LIMIT_COLUMNS",
    "NEW_COLUMNS",
    "NEW_TABLES",
    "RESERVATIONS_TABLE",
    "SERVICE_COLUMNS",
    "SHADOW_DECISIONS",
    "SHADOW_MISMATCHES",
    "SHADOW_TABLES",
    "SLOT_COLUMNS",
    "STORE_TABLES",
    "column_list",
    "named_placeholders",
    "qualified",
    "quote_ident",
]

RESERVATIONS_TABLE = "reservations"
#: The ``Idempotency-Key`` records of ``slotcap serve`` (``book(..., idempotency_key=)``):
#: created by the stores on first use in every phase, legacy included; not a migration
#: artifact, so no rollback drops it.
IDEMPOTENCY_KEYS = "slotcap_idempotency_keys"

#: The ledger of held load (phase 2 and 3; docs/capacity.md "The ledger"), kept by
#: triggers on reservations: per (date, period) held minutes and unsized rows, per
#: (date, legacy service) held rows, and the fill's frontier.
LEDGER_PERIODS = "slotcap_ledger_periods"
LEDGER_SERVICES = "slotcap_ledger_services"
LEDGER_FILL = "slotcap_ledger_fill"
LEDGER_TABLES: tuple[str, ...] = (LEDGER_PERIODS, LEDGER_SERVICES, LEDGER_FILL)

#: Shadow decisions (phase 1 to 4; docs/rollout.md): bookings shadowed per (booked
#: date, service, control rule, agreement), and each mismatch with both rules' figures.
SHADOW_DECISIONS = "slotcap_shadow_decisions"
SHADOW_MISMATCHES = "slotcap_shadow_mismatches"
SHADOW_TABLES: tuple[str, ...] = (SHADOW_DECISIONS, SHADOW_MISMATCHES)

#: The tables the stores read.
STORE_TABLES: tuple[str, ...] = (
    RESERVATIONS_TABLE,
    "services",
    "clinic_time_slots",
    "service_reservation_limits",
    # Phase 1's closures and settings: read where present, never required.
    "clinic_closures",
    "clinic_settings",
    # The ledger: read where present (and filled), else the rows are summed.
    *LEDGER_TABLES,
    *SHADOW_TABLES,
)

CLOSURE_COLUMNS: tuple[str, ...] = (
    "id", "startDate", "endDate", "period", "rrule", "capacityMinutes", "reason", "createdAt",
)

SERVICE_COLUMNS: tuple[str, ...] = (
    "id", "code", "name", "nameEn", "description", "category", "durationMinutes",
    "bufferMinutes", "basePrice", "isActive", "isVisible", "displayOrder", "deletedAt",
)
SLOT_COLUMNS: tuple[str, ...] = (
    "id", "dayOfWeek", "period", "startTime", "endTime", "isActive",
)
LIMIT_COLUMNS: tuple[str, ...] = ("id", "serviceType", "dailyLimit", "isActive")
COMMON_RESERVATION_COLUMNS: tuple[str, ...] = (
    "id", "patientName", "phone", "email", "birthDate", "gender", "treatmentType",
    "preferredDate", "status", "notes", "adminNotes", "createdAt", "updatedAt",
    "statusChangedAt", "statusChangedBy",
)

#: The statuses that hold capacity, as a SQL list written term for term as phase 2's
#: partial held-rows index predicate (``migration.ddl.names.HELD_STATUSES``): SQLite
#: uses a partial index only when the query's WHERE contains that very term, list order
#: included (sorted, the SQLite calendar walked the whole table's date range). A fixed
#: text also keeps the prepared-statement cache key stable.
HOLDING_LIST = "('PENDING','CONFIRMED')"

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote_ident(name: str) -> str:
    """Quote an identifier (camelCase survives); refuse anything but a plain name."""
    if not _IDENT.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return f'"{name}"'


def qualified(alias: str, columns: Sequence[str]) -> str:
    """``r."id", r."phone"``: columns of one alias, quoted."""
    return ", ".join(f"{alias}.{quote_ident(c)}" for c in columns)


def column_list(columns: Sequence[str]) -> str:
    return ", ".join(quote_ident(c) for c in columns)


def named_placeholders(columns: Sequence[str]) -> str:
    """``%(id)s, %(phone)s``: one named pyformat placeholder per column."""
    return ", ".join(f"%({c})s" for c in columns)
