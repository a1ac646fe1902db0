"""Ports: what the use cases need from storage, as ``typing.Protocol``.

Adapters (``slotcap.adapters.*``) implement them and hold every line of SQL. The use
cases only ever see these protocols and the pure records in ``slotcap.domain``.

Two shapes of read on purpose:

* *facts* (``period_facts``, ``daily_facts``): everything one decision needs, gathered
  in a single round trip once the data is backfilled (an indexed aggregate in SQL; a
  second one only while rows of that date lack a duration or a period) — the check is
  the hot path of the web app;
* *booking transactions* (``booking``): a scope in which the check and the insert are
  atomic. The adapter serialises scopes that touch the same (date, period) or
  (date, service) by taking locks in one fixed order — periods in ``Period`` order,
  then the service — so two requests can never both see the last free minutes.
"""

from __future__ import annotations

from slotcap.domain.schema_state import SchemaState
from slotcap.ports.protocols import (
    BookingTransaction,
    Clock,
    LimitRepository,
    MigrationStatusReader,
    OneTripBooking,
    PeriodRule,
    ReservationRepository,
    ServiceCatalog,
    Store,
    TimeSlotRepository,
)
from slotcap.ports.records import (
    DEFAULT_BUSY_BUDGET,
    CalendarEntry,
    ClosesOnExit,
    CreatedCounts,
    CreatedHour,
    DailyFacts,
    IdempotencyRecord,
    MigrationView,
    OneTrip,
    PeriodFacts,
)

__all__ = [
    "DEFAULT_BUSY_BUDGET",
    "BookingTransaction",
    "CalendarEntry",
    "Clock",
    "ClosesOnExit",
    "CreatedCounts",
    "CreatedHour",
    "DailyFacts",
    "IdempotencyRecord",
    "LimitRepository",
    "MigrationStatusReader",
    "MigrationView",
    "OneTrip",
    "OneTripBooking",
    "PeriodFacts",
    "PeriodRule",
    "ReservationRepository",
    "SchemaState",
    "ServiceCatalog",
    "Store",
    "TimeSlotRepository",
]
