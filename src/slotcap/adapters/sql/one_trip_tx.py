"""The booking scope's one-statement decisions (``BookingTransaction.book_period`` /
``book_daily``, :class:`slotcap.ports.OneTripBooking`) and the figures they leave for
the other rule (``last_figures``; docs/stores.md, "Which path a booking takes").

``last_figures``: the :class:`~slotcap.ports.OneTrip` of this scope's last deciding
statement, or None. ``tx.period_facts`` / ``tx.daily_facts`` asked afterwards for the
same date, service (and period) answer from it without another round trip — the
figures as they were under the locks, before this scope's insert. The statement may
have committed already (one pipeline): a caller that wants to write something
afterwards (the shadow decisions' mismatch record) does it in its own short write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slotcap.adapters.sql.one_trip import DAILY_AT, SERVICE_AT, SLOT_AT, deciding_sql, phone_tail
from slotcap.adapters.sql.rows import reservation_params
from slotcap.adapters.sql.statements import Statements
from slotcap.adapters.sql.store import Row, Session
from slotcap.domain.calendar import day_of_week, hh_mm
from slotcap.domain.model import ClinicTimeSlot, Period, Reservation, Service
from slotcap.domain.patients import phone_digits
from slotcap.domain.rules import estimated_duration
from slotcap.ports import DailyFacts, OneTrip
from slotcap.ports.records import make_period_facts

if TYPE_CHECKING:
    from slotcap.adapters.sql.booking import SqlBookings

__all__ = ["OneTripMixin"]

#: The deciding statements per statements object (one schema shape) and rule.
_SQL: dict[tuple[int, bool], tuple[Statements, str | None]] = {}


def _sql_for(store: SqlBookings, st: Statements, legacy: bool) -> str | None:
    key = (id(st), legacy)
    found = _SQL.get(key)
    if found is None or found[0] is not st:
        if len(_SQL) > 64:
            _SQL.clear()
        found = _SQL[key] = (st, deciding_sql(store.dialect, st, legacy=legacy))
    return found[1]


def _inserted(rows: list[Row]) -> bool:
    return bool(rows and rows[0][-1])


class OneTripMixin:
    """Mixed into :class:`~slotcap.adapters.sql.booking.SqlBooking`."""

    _bookings: SqlBookings
    _session: Session
    _day: dt.date
    _code: str
    _period: Period | None = None
    last_figures: OneTrip | None

    def _known(self, day: dt.date, code: str) -> OneTrip | None:
        known = self.last_figures
        if known is None or day != self._day or code != self._code:
            return None
        return known

    def book_period(
        self, period: Period, make: Callable[[Service, ClinicTimeSlot], Reservation]
    ) -> OneTrip | None:
        """The minutes rule's booking in one statement, the row built by ``make`` from
        the store's catalogue snapshot (the statement inserts only if the service and
        slot rows are still those). None: not here (no ledger, not PostgreSQL, the
        snapshot's service or slot cannot book): take the careful path."""
        store, session = self._bookings, self._session
        outside = getattr(session, "outside", None)
        plain = outside() if outside is not None else None
        if plain is None:
            return None
        st = store.current()
        sql = _sql_for(store, st, False)
        if sql is None:
            return None
        catalogue = store.catalogue_now(plain)
        day, code = self._day, self._code
        service = catalogue.services.get(code)
        slot = catalogue.slots.get((day_of_week(day), period))
        if (catalogue.statements is not st or service is None or not service.is_bookable
                or slot is None or not slot.is_active
                or (st.state.has_legacy_columns and not service.is_legacy)):
            return None
        reservation = make(service, slot)
        extra = {
            "s_id": service.id, "s_name": service.name, "s_dur": service.duration_minutes,
            "s_buf": service.buffer_minutes, "t_id": slot.id,
            "t_start": hh_mm(slot.start_time), "t_end": hh_mm(slot.end_time),
            "needed": estimated_duration(service), "capacity": slot.total_minutes,
        }
        return self._decide(st, sql, reservation, period, extra, legacy=False)

    def book_daily(self, reservation: Reservation) -> OneTrip | None:
        """The count rule's booking in one statement (None: take the careful path)."""
        if getattr(self._session, "outside", None) is None:
            return None
        st = self._bookings.current()
        sql = _sql_for(self._bookings, st, True)
        if sql is None or not st.schema.accepts_legacy_code(self._code):
            return None
        return self._decide(st, sql, reservation, reservation.period, {}, legacy=True)

    def _decide(self, st: Statements, sql: str, reservation: Reservation,
                period: Period | None, extra: dict[str, Any], *, legacy: bool
                ) -> OneTrip | None:
        store, day, code = self._bookings, self._day, self._code
        d = store.dialect
        value = None if period is None else period.value
        r = reservation
        # "now" fills a missing timestamp only; a booking's row carries all three.
        now = (r.created_at if r.created_at is not None and r.updated_at is not None
               and r.status_changed_at is not None else store.now())
        params = reservation_params(d, st.reservation_columns, r, now)  # a new dict
        params.update(extra)
        params.update(day=d.date_in(day), period=value, slot_period=value, code=code,
                      limit_code=code, dow=day_of_week(day),
                      tail=phone_tail(phone_digits(r.phone)))
        one_trip = getattr(self._session, "one_trip", None)
        if one_trip is None:
            return None
        rows = one_trip(sql, params, _inserted)
        if rows is None:
            return None  # the schema moved: the careful path follows it
        (row,) = rows
        minutes, unknown, filled, closures, suspects = map(int, row[:SERVICE_AT])
        facts = None
        if period is not None and unknown == 0 and closures == 0:
            facts = make_period_facts(store.service_record(row[SERVICE_AT:SLOT_AT]),
                                      store.slot_record(row[SLOT_AT:DAILY_AT]), minutes, ())
        daily = None
        if st.state.has_legacy_columns and filled:
            daily = DailyFacts(limit=store.limit_record(row[DAILY_AT + 1:DAILY_AT + 5]),
                               held_count=int(row[DAILY_AT]))
        final = suspects == 0 and (daily is not None if legacy else facts is not None)
        self._period = period
        self.last_figures = OneTrip(inserted=_inserted(rows), final=final,
                                    reservation=reservation, period=facts, daily=daily)
        return self.last_figures
