"""Every table, column, index, constraint and type name the migration toolkit touches.

Names are constants so that SQL built with them is never built from input: the only
strings formatted into SQL text anywhere in ``slotcap.migration`` come from here (and
go through :func:`slotcap.sql.quote_ident`). They are Prisma's quoted camelCase names
— the plan's unquoted ``durationMinutes`` would be folded to ``durationminutes``.
"""

from __future__ import annotations

from typing import Final

from slotcap.domain import schema_state
from slotcap.sql import names as sql_names
from slotcap.sql import quote_ident
from slotcap.sql.names import LEDGER_FILL, LEDGER_PERIODS, LEDGER_SERVICES, LEDGER_TABLES

__all__ = [
    "ARCHIVE_LEGACY",
    "ARCHIVE_LIMITS",
    "ARCHIVE_SCHEMA",
    "CK_DURATION",
    "CK_PERIOD",
    "CLINIC_TABLES",
    "CLOSURES",
    "FINAL_INDEXES",
    "FK_SERVICE",
    "HELD_STATUSES",
    "IDEMPOTENCY_KEYS",
    "IDX_HELD",
    "IDX_HELD_CONTRACTED",
    "IDX_LEGACY_SERVICE",
    "IDX_PERIOD",
    "IDX_SERVICE",
    "JOURNAL",
    "KEPT_TABLES",
    "LEDGER_FILL",
    "LEDGER_FUNCTIONS",
    "LEDGER_PERIODS",
    "LEDGER_SERVICES",
    "LEDGER_TABLES",
    "LEDGER_TABLES_CONTRACTED",
    "LEDGER_TRIGGERS",
    "LEGACY_ONLY_COLUMNS",
    "LIMITS",
    "NEW_COLUMNS",
    "PERIOD_TYPE",
    "READ_INDEXES",
    "RESERVATIONS_TABLE",
    "SERVICES",
    "SERVICE_TYPE",
    "SETTINGS",
    "SHADOW_TABLES",
    "SLOTS",
    "STATE",
    "q",
]

RESERVATIONS_TABLE: Final = sql_names.RESERVATIONS_TABLE
SERVICES: Final = "services"
SLOTS: Final = "clinic_time_slots"
LIMITS: Final = "service_reservation_limits"
#: Phase 1 (expand) also creates the clinic's closures/overrides by date and its
#: settings (the time zone); both are dropped by the rollback to legacy.
CLOSURES: Final = "clinic_closures"
SETTINGS: Final = "clinic_settings"

#: slotcap's own bookkeeping; every ``slotcap_*`` table goes at rollback to legacy.
STATE: Final = "slotcap_migration_state"
JOURNAL: Final = "slotcap_backfill_journal"
ARCHIVE_LEGACY: Final = "slotcap_archive_reservation_legacy"
ARCHIVE_LIMITS: Final = "slotcap_archive_service_reservation_limits"
#: Phase 4's record of the schema it removed (SQLite table/index SQL, PG enum labels).
ARCHIVE_SCHEMA: Final = "slotcap_archive_schema"

#: ``slotcap serve``'s Idempotency-Key records: made by the stores on first use in any
#: phase, legacy included; no transition creates, changes or drops it (a rollback to
#: legacy keeps it, so a retry across a rollback still finds its first answer).
IDEMPOTENCY_KEYS: Final = sql_names.IDEMPOTENCY_KEYS
#: Phase 1's shadow decisions (docs/rollout.md): created with the clinic tables, dropped
#: by the rollback to legacy; phase 4 keeps them (its report still reads them).
SHADOW_TABLES: Final = sql_names.SHADOW_TABLES
#: Phase 1's tables a database that reached it earlier gets from ``migrate``.
CLINIC_TABLES: Final = (CLOSURES, SETTINGS, *SHADOW_TABLES)
#: Tables every phase keeps as they are (``migrate status`` lists those present).
KEPT_TABLES: Final = (IDEMPOTENCY_KEYS,)
#: The ledger (phase 2): its tables come from slotcap.sql.names (the stores read them).
#: PostgreSQL keeps it with one row trigger and two functions (the trigger's, and the
#: helper applying one row's share); SQLite with three triggers (insert/update/delete).
#: (The helper applied one row's share until the trigger's function wrote it inline;
#: its name stays, for the DROP of a database made then.)
LEDGER_FUNCTIONS: Final = ("slotcap_ledger_sync", "slotcap_ledger_apply")
#: After phase 4 the ledger is its (date, period) minutes and the fill's frontier: the
#: per-service counts go with the legacy "service" column (docs/capacity.md).
LEDGER_TABLES_CONTRACTED: Final = (LEDGER_PERIODS, LEDGER_FILL)
LEDGER_TRIGGERS: Final = ("slotcap_ledger_sync", "slotcap_ledger_update", "slotcap_ledger_delete")

#: PostgreSQL enum types (Prisma's names).
PERIOD_TYPE: Final = "Period"
SERVICE_TYPE: Final = "ServiceType"

#: The legacy columns phase 4 removes, and the new ones phases 1–4 add (defined once,
#: in the domain's schema-state rule).
LEGACY_ONLY_COLUMNS: Final = schema_state.LEGACY_ONLY_COLUMNS
NEW_COLUMNS: Final = schema_state.NEW_COLUMNS

FK_SERVICE: Final = "reservations_serviceId_fkey"
CK_DURATION: Final = "reservations_estimatedDuration_check"
#: SQLite only: PostgreSQL's native ``"Period"`` type already restricts the values.
CK_PERIOD: Final = "reservations_period_check"

IDX_PERIOD: Final = "reservations_preferredDate_period_status_idx"
IDX_SERVICE: Final = "reservations_serviceId_preferredDate_status_idx"
IDX_LEGACY_SERVICE: Final = "reservations_preferredDate_service_status_idx"
#: Partial covering index of the held (PENDING/CONFIRMED) rows, for the calendar. Its
#: phase-2 shape covers the legacy "service" column too; phase 4 drops that column, so
#: it replaces the index with IDX_HELD_CONTRACTED (same rows, without "service").
IDX_HELD: Final = "reservations_held_preferredDate_period_idx"
IDX_HELD_CONTRACTED: Final = "reservations_held_preferredDate_period_p4_idx"
#: The partial indexes' predicate, written exactly so: SQLite uses a partial index only
#: when the query's WHERE contains this very term.
HELD_STATUSES: Final = "\"status\" IN ('PENDING','CONFIRMED')"

#: The read indexes phase 2 builds once the backfill is done (the plan has the first two
#: in phase 1; built after the backfill, its million row updates skip their upkeep).
READ_INDEXES: Final = (IDX_PERIOD, IDX_SERVICE, IDX_HELD)

#: Plan 4.5: the indexes phase 4 adds (name, columns).
FINAL_INDEXES: Final = (
    (
        "reservations_preferredDate_period_serviceId_status_idx",
        ("preferredDate", "period", "serviceId", "status"),
    ),
    ("reservations_createdAt_status_idx", ("createdAt", "status")),
)


def q(*names: str) -> str:
    """Quote one or more identifiers, comma-separated: ``q("a", "b")`` → ``"a", "b"``."""
    return ", ".join(quote_ident(name) for name in names)
