"""The one rule that names a reservation schema's state from its columns and tables.

Applied to one catalogue snapshot (``slotcap.sql.catalog.Catalog.schema_state``) by
both the stores and the migration toolkit (``migrate status``), so that they always
agree on which rules a database can serve.
"""

from __future__ import annotations

import enum
from collections.abc import Collection

import attrs

from slotcap.domain.model import Reservation
from slotcap.errors import SchemaStateError

__all__ = [
    "LEGACY_ONLY_COLUMNS",
    "NEW_COLUMNS",
    "NEW_TABLES",
    "RECHECK_SECONDS",
    "Rule",
    "SchemaState",
    "require",
    "schema_state",
]


class SchemaState(enum.StrEnum):
    """Which columns the reservation database has, i.e. which rules it can serve."""

    #: Before phase 1: old columns only. Count rule only; new fields are not written.
    LEGACY = "legacy"
    #: Phases 1–3: old and new columns side by side. Both rules; bookings dual-write.
    EXPANDED = "expanded"
    #: After phase 4: new columns only. Minutes rule only.
    CONTRACTED = "contracted"

    @property
    def has_legacy_columns(self) -> bool:
        return self is not SchemaState.CONTRACTED

    @property
    def has_new_columns(self) -> bool:
        return self is not SchemaState.LEGACY

    def serves(self, rule: Rule) -> bool:
        """The one policy of which booking rule runs in which state: the count rule
        needs the legacy columns (gone after phase 4), the minutes rule the new ones
        (from phase 1). The booking, the HTTP handlers, readiness and the clinic's
        administration (phase 1's tables) all ask this; :func:`require` raises on it."""
        return self.has_new_columns if rule is Rule.MINUTES else self.has_legacy_columns

    def rule_for(self, wanted: Rule) -> Rule:
        """``wanted`` when this state serves it, else the one rule it serves (before
        phase 1 only the count rule exists, after phase 4 only the minutes rule)."""
        if self.serves(wanted):
            return wanted
        return Rule.COUNT if wanted is Rule.MINUTES else Rule.MINUTES

    def keep_columns(self, reservation: Reservation) -> Reservation:
        """The reservation with only the columns a database in this state has."""
        if not self.has_new_columns:
            return attrs.evolve(
                reservation,
                service_id=None,
                service_name=None,
                estimated_duration=None,
                period=None,
            )
        if not self.has_legacy_columns:
            return attrs.evolve(reservation, service=None, preferred_time=None)
        return reservation


#: The columns phase 4 removes, the ones phases 1–4 add, and phase 1's new tables.
LEGACY_ONLY_COLUMNS: tuple[str, ...] = ("service", "preferredTime")
NEW_COLUMNS: tuple[str, ...] = ("serviceId", "serviceName", "estimatedDuration", "period")
NEW_TABLES: tuple[str, ...] = ("services", "clinic_time_slots")


def schema_state(columns: Collection[str], tables: Collection[str]) -> SchemaState:
    """LEGACY: every legacy column (a half-done phase 1 still counts as legacy: nothing
    reads the new columns until they are all there); EXPANDED: every legacy and every
    new column, and the new tables; CONTRACTED: every new column and table and no
    legacy column. Anything else is a schema slotcap did not make."""
    old = all(c in columns for c in LEGACY_ONLY_COLUMNS)
    some_old = any(c in columns for c in LEGACY_ONLY_COLUMNS)
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


#: Seconds a store's cached schema state is trusted before a legacy store's booking
#: (to notice phase 1 and start dual-writing) or a change to the clinic's
#: administration (phase 1's tables) re-reads the catalogue.
RECHECK_SECONDS = 1.0


class Rule(enum.Enum):
    """The two booking rules a database may serve."""

    #: The legacy per-service daily count limit (needs the legacy columns).
    COUNT = "count"
    #: The minutes-per-period rule (needs the new columns and tables).
    MINUTES = "minutes"


def require(state: SchemaState, rule: Rule) -> None:
    """:meth:`SchemaState.serves`, enforced: raise ``SchemaStateError`` (saying what
    to do) if a database in ``state`` cannot serve ``rule``. Every store (the memory one
    included) and the booking use case ask this, so they refuse alike."""
    if state.serves(rule):
        return
    if rule is Rule.MINUTES:
        raise SchemaStateError(
            "the minutes rule needs the new columns: apply phase 1 first "
            f"(schema state is {state.value})"
        )
    raise SchemaStateError(
        f"the daily count rule was removed in phase 4 (schema state is {state.value})"
    )
