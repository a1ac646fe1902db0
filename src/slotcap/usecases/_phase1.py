"""The rule the clinic-administration use cases share: their tables are phase 1's.

The SQL stores refuse on their own before phase 1; the memory store keeps services,
hours and closures in every state, so the rule is stated once here and every store
refuses alike.
"""

from __future__ import annotations

from slotcap.domain.schema_state import RECHECK_SECONDS, Rule
from slotcap.errors import SchemaStateError
from slotcap.ports import Store

__all__ = ["require_phase1"]


def require_phase1(store: Store, holds: str) -> None:
    """Raise ``SchemaStateError`` before phase 1; ``holds`` says which of phase 1's
    tables the caller needs ("the weekly hours are phase 1's clinic_time_slots table")."""
    state = store.refresh_schema_state(max_age=RECHECK_SECONDS)
    if not state.serves(Rule.MINUTES):  # phase 1's tables came with the minutes rule
        raise SchemaStateError(
            f"{holds}: apply phase 1 first "
            f"(slotcap migrate --to phase1; schema state is {state.value})"
        )
