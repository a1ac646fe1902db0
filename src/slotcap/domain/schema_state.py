"""The one rule that names a reservation schema's state from its columns and tables.

Used by the stores (``adapters._sql.SchemaInfo.state``) and by the migration toolkit
(``migration.catalog.detect_schema_state``), so that both always agree on which rules
a database can serve.
"""

from __future__ import annotations

import enum
from collections.abc import Collection

from slotcap.errors import SchemaStateError
from slotcap.ports import SchemaState

__all__ = ["LEGACY_COLUMNS", "NEW_COLUMNS", "NEW_TABLES", "Rule", "require", "schema_state"]

#: The columns phase 4 removes, the ones phases 1–4 add, and phase 1's new tables.
LEGACY_COLUMNS: tuple[str, ...] = ("service", "preferredTime")
NEW_COLUMNS: tuple[str, ...] = ("serviceId", "serviceName", "estimatedDuration", "period")
NEW_TABLES: tuple[str, ...] = ("services", "clinic_time_slots")


def schema_state(columns: Collection[str], tables: Collection[str]) -> SchemaState:
    """LEGACY: every legacy column (a half-done phase 1 still counts as legacy: nothing
    reads the new columns until they are all there); EXPANDED: every legacy and every
    new column, and the new tables; CONTRACTED: every new column and table and no
    legacy column. Anything else is a schema slotcap did not make."""
    old = all(c in columns for c in LEGACY_COLUMNS)
    some_old = any(c in columns for c in LEGACY_COLUMNS)
    new = all(c in columns for c in NEW_COLUMNS) and all(t in tables for t in NEW_TABLES)
    if old and new:
        return SchemaState.EXPANDED
    if old:
        return SchemaState.LEGACY
    if new and not some_old:
        return SchemaState.CONTRACTED
    raise SchemaStateError(
        "reservations has neither the legacy columns (service, preferredTime) nor the "
        "new ones with their tables: this schema was not made by slotcap"
    )


class Rule(enum.Enum):
    """The two booking rules a database may serve."""

    #: The legacy per-service daily count limit (needs the legacy columns).
    COUNT = "count"
    #: The minutes-per-period rule (needs the new columns and tables).
    MINUTES = "minutes"


def require(state: SchemaState, rule: Rule) -> None:
    """The one policy of which rule may run in which state: raise ``SchemaStateError``
    if a database in ``state`` cannot serve ``rule``. Every store (the memory one
    included) and the booking use case ask this, so they refuse alike."""
    if rule is Rule.MINUTES and not state.has_new_columns:
        raise SchemaStateError(
            "the minutes rule needs the new columns: apply phase 1 first "
            f"(schema state is {state.value})"
        )
    if rule is Rule.COUNT and not state.has_legacy_columns:
        raise SchemaStateError(
            f"the daily count rule was removed in phase 4 (schema state is {state.value})"
        )
