"""The lean check's plans: what a check decides with, prepared before its round trip.

Once the ledger's fill is complete a check reads one row, and everything else it
decides with comes from the store's catalogue and closures snapshots: the service, the
weekly slot, the closures of the date and the schema state. A :class:`CheckPlans` holds,
for one pair of snapshots, per (date, period, service code, rule) asked: the
statement's encoded parameters and a :class:`Decisions` — the rule's staged answer
(:data:`slotcap.ports.PeriodRule`) for that service, slot, closures and state, and the
decisions it gave, by the held minutes as the server sent them (text). After the reply
a check then does one dictionary lookup: the code after the round trip runs on caches
the wait left cold (docs/benchmarks.md, section 9), so what it touches is what counts.

Why this is exact: a rule is pure, and a :class:`Decisions` is keyed by every input of
its decisions — the plan pins the service, the slot, the closures that apply, the state
and the rule; the key is the held minutes, read from the database on every check.
Nothing here caches an answer of the database. Plans follow the snapshots: a new
catalogue or closures snapshot starts new plans, unless it holds the same rows under the
same statements (re-read each second, mostly unchanged), where the plans carry over.

Bounded (each dictionary emptied when full) and thread-safe: dictionary reads and
writes are atomic, and two threads that build the same entry at once build equal ones
(decisions are frozen records, safe to share).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable

from slotcap.adapters._closures import closures_for
from slotcap.adapters.sql.store import CatalogueSnapshot
from slotcap.domain.calendar import day_of_week
from slotcap.domain.closures import Closure
from slotcap.domain.model import Period
from slotcap.domain.rules import CapacityPlan, Decision, finish_plan
from slotcap.ports import PeriodRule

__all__ = ["CheckPlans", "Decisions", "Entry"]

#: Most decisions one plan keeps (distinct held minutes of its periods: tens, mostly).
DECISIONS_MAX = 256
#: Most (date, period, code, rule) entries, and most distinct plans, per snapshot pair.
ENTRIES_MAX = 8192
PLANS_MAX = 1024


class Decisions(dict[bytes, Decision]):
    """One plan's decisions by held minutes (the ledger row's text): ``decisions[b"70"]``
    is ``finish_plan(plan, 70)``, built on first sight."""

    __slots__ = ("plan",)

    def __init__(self, plan: Decision | CapacityPlan) -> None:
        super().__init__()
        self.plan = plan

    def __missing__(self, minutes: bytes) -> Decision:
        decision = finish_plan(self.plan, int(minutes))  # ValueError below 0, as the rule
        if len(self) >= DECISIONS_MAX:
            self.clear()
        self[minutes] = decision
        return decision


#: A check's entry: the lean statement's parameters (the date's ISO text, the period's
#: name, encoded) and its plan's decisions.
Entry = tuple[list[bytes], Decisions]


class CheckPlans:
    """The plans of one catalogue snapshot and one closures snapshot (the objects, as
    ``SqlReads.lean_snapshots`` gives them)."""

    __slots__ = ("catalogue", "closures", "entries", "shared", "source", "state")

    def __init__(self, catalogue: CatalogueSnapshot, closures: tuple[Closure, ...],
                 previous: CheckPlans | None = None, *, source: object = None) -> None:
        self.catalogue = catalogue
        self.closures = closures
        #: The store's closures snapshot record these closures came from (its
        #: identity tells the store its plans are still those of its snapshots).
        self.source = source
        self.state = catalogue.statements.state
        self.entries: dict[tuple[Hashable, ...], Entry]
        self.shared: dict[tuple[Hashable, ...], Decisions]
        if previous is not None and previous.holds(catalogue, closures):
            self.entries, self.shared = previous.entries, previous.shared
        else:
            self.entries, self.shared = {}, {}

    def holds(self, catalogue: CatalogueSnapshot, closures: tuple[Closure, ...]) -> bool:
        """Whether these plans hold for ``catalogue`` and ``closures``: the same rows
        under the same statements (hence the same schema state)."""
        mine = self.catalogue
        return (mine.statements is catalogue.statements
                and mine.services == catalogue.services and mine.slots == catalogue.slots
                and self.closures == closures)

    def entry(self, day: dt.date, period: Period, code: str, rule: PeriodRule
              ) -> Entry | None:
        """The entry of ``entries[(day, period, code, rule)]``, made and kept; None
        where the lean path does not answer (a ``day`` that is not a plain date)."""
        if day.__class__ is not dt.date:
            return None
        key = (day, period, code, rule)
        period = Period(period)
        dow = day_of_week(day)
        applied = closures_for(self.closures, day, period)
        shared_key = (code, dow, period, applied, rule)
        decisions = self.shared.get(shared_key)
        if decisions is None:
            catalogue = self.catalogue
            decisions = Decisions(rule(catalogue.services.get(code),
                                       catalogue.slots.get((dow, period)), applied,
                                       self.state))
            if len(self.shared) >= PLANS_MAX:
                self.shared.clear()
            self.shared[shared_key] = decisions
        made = ([day.isoformat().encode(), period.value.encode()], decisions)
        if len(self.entries) >= ENTRIES_MAX:
            self.entries.clear()
        self.entries[key] = made
        return made
