"""A booking decided by one statement, where the store can (docs/stores.md, "Which path
a booking takes"): PostgreSQL with phase 2's ledger sends BEGIN, the locks, one
``INSERT … SELECT … WHERE <fits>`` and COMMIT as one pipeline, and returns the figures
the statement decided on. :mod:`slotcap.usecases.booking` runs the same domain rule on
those figures; a refusal on them stands only when they are exact and complete
(``OneTrip.final``), otherwise the careful path decides, in the same scope.

The careful path (the booking's locks, then one statement per fact) is taken when a
request carries an ``Idempotency-Key``, on stores without a one-statement decision
(the in-memory store, SQLite, PostgreSQL before phase 2's ledger), and when the
statement could not decide alone: the ledger does not size every row of the date or
its fill has not reached it, a closure could apply, a held row of the same service and
date has this patient's phone digits (the duplicate rule needs the full identity), or
the service / slot rows differ from the store's catalogue snapshot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

from slotcap.domain.calendar import hh_mm
from slotcap.domain.model import ClinicTimeSlot, Period, Reservation, Service
from slotcap.domain.rules import check_daily_limit, check_period_capacity
from slotcap.ports import BookingTransaction, OneTrip, Store
from slotcap.usecases.request import ValidBooking

__all__ = ["deciding", "scope", "time_text"]


def scope(store: Store, careful: bool, day: dt.date, code: str, periods: Sequence[Period],
          deadline: float) -> AbstractContextManager[BookingTransaction]:
    """The booking scope: one whose locks may go with a deciding statement, unless
    ``careful`` (an Idempotency-Key) or the store has none."""
    opener = store.booking if careful else store.deferred_booking
    return opener(day, code, periods, deadline=deadline)


def deciding(tx: BookingTransaction, period: Period | None,
             make: Callable[[Service, ClinicTimeSlot], Reservation] | None = None,
             reservation: Reservation | None = None) -> OneTrip | None:
    """The deciding statement's outcome when it settles the booking — inserted, or
    figures on which the domain rule refuses — else None (the careful path decides).
    The minutes rule with ``period`` and ``make``, the count rule with ``reservation``."""
    if reservation is not None:
        done = tx.book_daily(reservation)
        if done is None or done.daily is None:
            return None
        fits = check_daily_limit(limit=done.daily.limit, held_count=done.daily.held_count)
    elif period is not None and make is not None:
        done = tx.book_period(period, make)
        if done is None or done.period is None:
            return None
        f = done.period
        fits = check_period_capacity(service=f.service, slot=f.slot,
                                     held_minutes=f.held_minutes, closures=f.closures)
    else:
        return None
    if done.inserted and not fits.allowed:
        raise RuntimeError(  # the statement's WHERE and the domain rule disagree: a bug
            "the one-statement booking inserted a row the domain rule refuses")
    if done.inserted or (done.final and not fits.allowed):
        return done
    return None  # not settled (or it fits yet was not inserted: a stale snapshot)


def time_text(valid: ValidBooking, period: Period, slot: ClinicTimeSlot | None) -> str | None:
    """The old preferredTime: the patient's own words when they agree with the period;
    otherwise the period's opening time (the plan's 09:00 / 14:00)."""
    if valid.preferred_time is not None and valid.time_period is period:
        return valid.preferred_time
    return None if slot is None else hh_mm(slot.start_time)
