"""The in-memory store has no one-statement booking (``Store.deferred_booking``,
``BookingTransaction.book_period`` / ``book_daily``): its deferred scope is its booking
scope, and its scope decides every booking on the careful path. Nor a planned check:
its ``period_decision`` is the rule on its ``period_facts``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from slotcap.domain.model import ClinicTimeSlot, Period, Reservation, Service
from slotcap.domain.rules import Decision, finish_plan
from slotcap.ports import OneTrip, PeriodFacts, PeriodRule, SchemaState

__all__ = ["DecidesByFacts", "NoDeferredBooking", "NoOneTrip"]


class _Books(Protocol):
    def booking(self, day: dt.date, service_code: str, periods: Sequence[Period], *,
                deadline: float | None = None) -> AbstractContextManager[Any]: ...


class NoDeferredBooking:
    """Mixed into ``MemoryStore``: ``deferred_booking`` is ``booking`` (a subclass's
    own ``booking`` included)."""

    def deferred_booking(self: _Books, day: dt.date, service_code: str,
                         periods: Sequence[Period], *, deadline: float | None = None
                         ) -> AbstractContextManager[Any]:
        return self.booking(day, service_code, periods, deadline=deadline)


class _HasFacts(Protocol):
    @property
    def schema_state(self) -> SchemaState: ...

    def period_facts(self, day: dt.date, period: Period, service_code: str
                     ) -> PeriodFacts: ...


class DecidesByFacts:
    """Mixed into ``MemoryStore``: ``period_decision`` is ``rule`` on ``period_facts``
    (``Store.period_decision``)."""

    def period_decision(self: _HasFacts, day: dt.date, period: Period, service_code: str,
                        rule: PeriodRule) -> Decision:
        facts = self.period_facts(day, period, service_code)
        return finish_plan(rule(facts.service, facts.slot, facts.closures,
                                self.schema_state), facts.held_minutes)


class NoOneTrip:
    """Mixed into the memory store's booking scope: no deciding statement here."""

    def book_period(self, period: Period,
                    make: Callable[[Service, ClinicTimeSlot], Reservation]) -> OneTrip | None:
        return None

    def book_daily(self, reservation: Reservation) -> OneTrip | None:
        return None
