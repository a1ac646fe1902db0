"""``SqlStore``: the store both SQL engines share, composed of its roles."""

from __future__ import annotations

from slotcap.adapters.sql.booking import Booking
from slotcap.adapters.sql.calendar import Calendar
from slotcap.adapters.sql.monitoring import Monitoring
from slotcap.adapters.sql.shadow_sql import ShadowSql
from slotcap.adapters.sql.writes import Writes

__all__ = ["SqlStore"]


class SqlStore(Booking, Calendar, Writes, Monitoring, ShadowSql):
    """The store logic both SQL engines share (reads, the booking scope, writes, the
    schema-state following of :class:`~slotcap.adapters.sql.store.StoreCore`);
    subclasses supply the dialect, connections and locks. A context manager: leaving
    the ``with`` block closes the connections the store opened."""
