"""How fast the backfill may go: a pause, a rate cap, and back-off when the app suffers.

After each batch the backfill asks :meth:`Throttle.after_batch` how long to sleep
(outside any transaction). Three things decide it, gh-ost style:

* ``pause``: a small pause between batches, always;
* ``max_rate``: rows per second across every worker — the sleep that keeps the run's
  average at or below it;
* back-off: when the batch itself took longer than ``slow_batch`` seconds (the table
  is busy), or — PostgreSQL — when other sessions than slotcap's migration are waiting
  for locks (``pg_stat_activity.wait_event_type = 'Lock'``, probed at most every
  ``probe_every`` seconds), the pause is doubled (up to ``max_backoff``); once things
  are calm it shrinks again by a quarter per batch, so the rate recovers gradually.

``state()`` tells the progress line the current rate and whether (and why) it throttles.
"""

from __future__ import annotations

import threading
import time

import attrs

from slotcap.sql import Dialect, SqlConnection

__all__ = ["DEFAULT_PAUSE", "Throttle", "app_lock_waiters"]

#: Seconds between batches by default: room for the app's own transactions.
DEFAULT_PAUSE = 0.02
#: The least pause a back-off starts from when ``pause`` is 0.
_BACKOFF_FLOOR = 0.05


def app_lock_waiters(conn: SqlConnection) -> int:
    """Sessions other than slotcap's migration waiting for a lock right now (PostgreSQL)."""
    return int(conn.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND pid <> pg_backend_pid() AND application_name <> 'slotcap migrate'") or 0)


@attrs.define
class Throttle:
    pause: float = DEFAULT_PAUSE
    max_rate: float | None = None
    slow_batch: float = 0.5
    lock_waiters: int = 1
    probe_every: float = 0.5
    max_backoff: float = 5.0
    #: The current extra pause of the back-off (0: not backing off) and why.
    backoff: float = 0.0
    reason: str | None = None
    started: float = attrs.field(factory=time.monotonic)
    rows: int = 0
    last_rate: float = 0.0
    _probed_at: float = 0.0
    _waiters: int = 0
    _lock: threading.Lock = attrs.field(factory=threading.Lock)

    def __attrs_post_init__(self) -> None:
        if self.pause < 0 or (self.max_rate is not None and self.max_rate <= 0):
            raise ValueError("pause must be >= 0 and max_rate > 0")

    def _suffering(self, conn: SqlConnection, batch_seconds: float) -> str | None:
        if batch_seconds > self.slow_batch:
            return f"batch took {batch_seconds:.2f} s"
        if conn.dialect is Dialect.POSTGRES:
            now = time.monotonic()
            if now - self._probed_at >= self.probe_every:
                self._probed_at = now
                self._waiters = app_lock_waiters(conn)
            if self._waiters >= self.lock_waiters:
                return f"{self._waiters} app session(s) waiting for locks"
        return None

    def after_batch(self, conn: SqlConnection, rows: int, batch_seconds: float) -> float:
        """Record a batch of ``rows`` that took ``batch_seconds``; the seconds to sleep."""
        with self._lock:
            self.rows += rows
            self.last_rate = rows / batch_seconds if batch_seconds > 0 else 0.0
            why = self._suffering(conn, batch_seconds)
            if why is not None:
                self.backoff = min(self.max_backoff,
                                   max(self.backoff * 2, max(self.pause, _BACKOFF_FLOOR)))
                self.reason = why
            elif self.backoff:
                self.backoff *= 0.75  # recover gradually
                if self.backoff < _BACKOFF_FLOOR / 2:
                    self.backoff, self.reason = 0.0, None
            sleep = self.pause + self.backoff
            if self.max_rate is not None:
                # The sleep that brings the run's average down to max_rate.
                due = self.started + self.rows / self.max_rate
                sleep = max(sleep, due - time.monotonic())
            return sleep

    def state(self) -> tuple[float, str | None]:
        """(rows/s since the start, why it throttles or None)."""
        with self._lock:
            elapsed = time.monotonic() - self.started
            rate = self.rows / elapsed if elapsed > 0 else 0.0
            why = self.reason if self.backoff else None
            if why is None and self.max_rate is not None and rate >= 0.9 * self.max_rate:
                why = f"at --max-rate {self.max_rate:g} rows/s"
            return rate, why
