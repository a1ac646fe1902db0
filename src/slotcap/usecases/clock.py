"""The clinic's clock for a store: "today" in the time zone stored in the store's
``clinic_settings`` (phase 1 on), the machine's zone where none is stored.

What :func:`slotcap.bootstrap.clinic_clock` wires into ``App.clock``, and what the use
cases fall back to when a caller passes no ``clock`` (``slotcap.book(store, request,
dynamic=...)``): so a booking's "today" is the clinic's either way, never the machine's
when the clinic's zone is known.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import zoneinfo

from slotcap.domain.clock import ZonedClock
from slotcap.errors import SlotcapError
from slotcap.ports import Clock, Store

__all__ = ["ZONE_MAX_AGE", "clinic_clock"]


#: Seconds the clinic's stored time zone is reused before it is read again.
ZONE_MAX_AGE = 60.0


class _StoredZone:
    """The clinic's stored time zone, read at most every :data:`ZONE_MAX_AGE` seconds.
    A failed read keeps the last zone known (the machine's before any): "today" must
    not fail a booking because the settings row could not be read this second."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._zone: dt.tzinfo | None = None
        self._read_at = -ZONE_MAX_AGE

    def __call__(self) -> dt.tzinfo | None:
        with self._lock:
            if time.monotonic() - self._read_at < ZONE_MAX_AGE:
                return self._zone
            self._read_at = time.monotonic()
            try:
                name = self._store.clinic_time_zone()
                self._zone = None if name is None else zoneinfo.ZoneInfo(name)
            except (SlotcapError, zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
                pass  # documented: keep the last zone known
            return self._zone


def clinic_clock(store: Store) -> Clock:
    """The system clock, its "today" in the time zone stored in ``store``'s
    ``clinic_settings`` (the machine's zone where none is stored)."""
    return ZonedClock(_StoredZone(store))
