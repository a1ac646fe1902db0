"""The SQL stores' period decisions (``Store.period_decision``): :class:`SqlChecks`, the
reads with a check's decision on the lean path's plans (:mod:`.check_plans`)."""

from __future__ import annotations

import datetime as dt
import time

from slotcap.adapters.sql.check_plans import CheckPlans, Entry
from slotcap.adapters.sql.reads import SqlReads
from slotcap.adapters.sql.store import SqlCore
from slotcap.adapters.sql.wire import PoolerMet, lean_decision
from slotcap.domain.model import Period
from slotcap.domain.rules import Decision, finish_plan
from slotcap.ports import PeriodRule
from slotcap.sql.connection import SqlConnection

__all__ = ["SqlChecks"]


class SqlChecks(SqlReads):
    """:class:`SqlReads` and ``Store.period_decision``: on PostgreSQL once the ledger's
    fill is complete, the ledger row read through libpq and the decision from the plan
    of the fresh snapshots (:mod:`.check_plans`) — one dictionary lookup after the
    reply; in every other case (:meth:`lean_snapshots` None, :func:`.wire.lean_decision`
    None) the regular path's facts, decided here with the same rule."""

    def __init__(self, core: SqlCore) -> None:
        super().__init__(core)
        #: The lean checks' plans for the current snapshots; replaced when they are.
        self._plans: CheckPlans | None = None

    def period_decision(
        self, day: dt.date, period: Period, code: str, rule: PeriodRule
    ) -> Decision:
        """``finish_plan(rule(service, slot, closures, schema_state), held_minutes)`` on
        :meth:`period_facts`' facts, the held minutes read on every call."""
        held = self.held
        sc = None if held is None else held()
        plans = None
        if sc is not None:
            # The check's hot path, one frame: the plans kept where they are still those
            # of the store's snapshots — the same snapshot objects, the schema shape and
            # the snapshots' ages as lean_snapshots tests them (its other conditions
            # hold for the snapshots' lifetime: true when the plans were made) — else
            # _lean_plans; then _lean_decision, inline.
            plans, snap = self._plans, self._closures
            if (plans is None or plans.source is not snap or snap is None
                    or plans.catalogue is not self._catalogue or not self._lean
                    or plans.catalogue.statements is not self._core.statements):
                plans = self._lean_plans()
            else:
                now = time.monotonic()
                if (now - plans.catalogue.read_at >= self.CATALOGUE_MAX_AGE
                        or now - snap[1] >= self.CLOSURES_MAX_AGE):
                    plans = None
        if sc is not None and plans is not None:
            try:
                entry: Entry | None = plans.entries[(day, period, code, rule)]
            except KeyError:
                entry = plans.entry(day, period, code, rule)
            if entry is not None:
                try:
                    decision = lean_decision(sc, *entry)
                except PoolerMet as met:
                    self._is_schema_change(met)  # the engine's pooler hook: prepare no more
                    decision = None
                if decision is not None:
                    return decision
        with self._session() as session:
            if self._lean and (sc := self.lean_connection(session)) is not None and (
                    plans := self._lean_plans()) is not None and (
                    decision := self._lean_decision(sc, plans, day, period, code, rule)
            ) is not None:
                return decision
            facts = self.checked_facts(session, day, period, code)
            closures = self.closures_now(session)
            if closures:
                facts = self._closed_facts(facts, closures, day, period)
        return finish_plan(rule(facts.service, facts.slot, facts.closures,
                                self._current().state), facts.held_minutes)

    def _lean_decision(
        self, sc: SqlConnection, plans: CheckPlans, day: dt.date, period: Period, code: str,
        rule: PeriodRule,
    ) -> Decision | None:
        """:func:`.wire.lean_decision` on ``sc`` with ``plans``' entry, else None."""
        try:
            entry: Entry | None = plans.entries[(day, period, code, rule)]
        except KeyError:
            entry = plans.entry(day, period, code, rule)
        if entry is None:
            return None
        try:
            return lean_decision(sc, *entry)
        except PoolerMet as met:
            self._is_schema_change(met)
            return None

    def _lean_plans(self) -> CheckPlans | None:
        """The plans of :meth:`lean_snapshots`' snapshots, made on their first use (or
        carried over: :class:`.check_plans.CheckPlans`); None where it gives none."""
        snap = self._closures  # the record lean_snapshots reads (kept: another thread may
        fresh = self.lean_snapshots()  # replace it meanwhile, then they are not kept)
        if fresh is None:
            return None
        catalogue, closures = fresh
        plans = self._plans
        if (plans is None or plans.catalogue is not catalogue or plans.closures is not closures
                or plans.source is not snap):
            plans = CheckPlans(catalogue, closures, plans, source=snap)
            if snap is not None and snap[2] is closures:
                self._plans = plans
        return plans
