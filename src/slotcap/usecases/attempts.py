"""One booking's retry loop state: the one budget every layer's retries share.

A booking (:func:`slotcap.usecases.booking.book_once`) is one loop of attempts. An
attempt turned away by a busy database (``StoreBusy``: the store's own lock retries
ran out, or a deadlock, serialization failure or lock wait inside the transaction) is
tried again after a jittered pause while the store's ``busy_budget`` lasts; an attempt
refused for the schema state (``SchemaStateError``) is tried again on the state the
store sees now when that state changed, at most ``SCHEMA_CHANGES`` times. The budget's
deadline goes to the store (``store.booking(..., deadline=)``), whose lock waits and
pauses end by it: no attempt of any layer starts past it. The worst case this gives is
stated, term by term, in docs/stores.md ("Busy databases").
"""

from __future__ import annotations

import attrs

from slotcap.backoff import Budget
from slotcap.domain.model import ClinicTimeSlot
from slotcap.domain.schema_state import RECHECK_SECONDS, Rule
from slotcap.ports import SchemaState, Store

__all__ = ["SCHEMA_CHANGES", "Attempts"]

#: Schema changes one booking follows before it gives up (phase-4 rollback: a few).
SCHEMA_CHANGES = 4


@attrs.define
class Attempts:
    """One booking's attempts: the schema state the next one starts from, its one
    :class:`Budget` (the store's ``busy_budget``: every layer's retries share its
    deadline) and the schema changes followed so far."""

    store: Store
    budget: Budget
    state: SchemaState
    changes: int = 0

    def clinic_hours(self) -> list[ClinicTimeSlot] | None:
        # Called by validate_request only for an otherwise valid request. A legacy
        # store first looks whether phase 1 has come (see usecases/booking.py), so the first
        # bookings after it read bare hours with the clinic's own hours too.
        self.legacy_recheck()
        # A legacy database has no clinic_time_slots yet: the plan's default hours then.
        return self.store.list_time_slots() if self.state.serves(Rule.MINUTES) else None

    def legacy_recheck(self) -> None:
        # Nothing tells a legacy store that phase 1 expanded the schema, and from then
        # on its bookings must dual-write (a legacy-only row pauses phase 2): re-read
        # the catalogue, at most every RECHECK_SECONDS; the legacy-only rows it books
        # meanwhile are the backfill's.
        if self.state is SchemaState.LEGACY:
            self.state = self.store.refresh_schema_state(max_age=RECHECK_SECONDS)

    def again_after_busy(self) -> bool:
        """After ``StoreBusy``: pause and go again while the budget lasts."""
        if not self.budget.retry():
            return False
        self.state = self.store.schema_state
        return True

    def again_after_refusal(self) -> bool:
        """After ``SchemaStateError`` for the state the attempt started from: go again on
        the state the store sees now if it moved (the store re-read it on a failing
        statement, or re-reads it now: never refuse on a cached state, however recently
        read), at most ``SCHEMA_CHANGES`` times and never past the deadline."""
        now = self.store.schema_state
        if now is self.state:
            now = self.store.refresh_schema_state()
        self.changes += 1
        if now is self.state or self.changes > SCHEMA_CHANGES or self.budget.spent():
            return False
        self.state = now
        return True
