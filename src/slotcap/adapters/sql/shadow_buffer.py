"""The SQL stores' buffer of shadow decision counts (issue 21, "Shadow cost"): the
bookings on which both rules agree (the common case) and the not-shadowable ones are
counted here, in the process, and written to ``slotcap_shadow_decisions`` in batches —
one upsert per (booked date, service, control, agreement) with the summed count — by a
background thread every :data:`FLUSH_SECONDS` or once :data:`FLUSH_SIZE` decisions are
waiting, whichever comes first, and on ``store.close()`` / ``store.flush_shadow()``.
Never on a booking's critical path, never raising into one: a failed write is counted
(``store.shadow.failures``), logged without patient data, and its counts kept for the
next flush.

The buffered keys are agreements and not-shadowable ones, whose rows no booking's
transaction writes (a mismatch's count row has its own agreement): a flush waits for
no booking, only for another process's flush of the same rows, and every flush upserts
in key order, so two cannot deadlock.

What a crash can lose: the counts not yet flushed (at most :data:`FLUSH_SECONDS` of
agreements, per process). Mismatches — the operator's evidence — and their own counts
are never buffered: they are written with the booking (docs/rollout.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping

__all__ = ["FLUSH_SECONDS", "FLUSH_SIZE", "Key", "ShadowBuffer"]

_LOG = logging.getLogger("slotcap.shadow")

#: Seconds between two flushes of the waiting counts (at most).
FLUSH_SECONDS = 5.0
#: Waiting decisions that wake the flusher before its interval.
FLUSH_SIZE = 500
#: (booked date, service code, control, agreement)
Key = tuple[dt.date, str, str, str]
Sink = Callable[[Mapping[Key, int]], None]


class ShadowBuffer:
    """Thread-safe counts waiting for :meth:`flush`; a daemon thread, started with the
    first count, flushes them on the timer and the size threshold. ``sink`` writes one
    batch (it may raise); it is held weakly when it is a bound method, so an unclosed
    store can still be collected (its thread then ends)."""

    def __init__(self, sink: Sink, *, on_failure: Callable[[], None] = lambda: None,
                 interval: float = FLUSH_SECONDS, size: int = FLUSH_SIZE) -> None:
        self._sink: Callable[[], Sink | None]
        if hasattr(sink, "__self__"):
            self._sink = weakref.WeakMethod(sink)
        else:
            self._sink = lambda: sink
        self._on_failure = on_failure
        self.interval = interval
        self.size = size
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one batch at a time, in order
        self._wake = threading.Event()
        self._counts: dict[Key, int] = {}
        self._waiting = 0
        self._thread: threading.Thread | None = None
        self._closed = False

    def add(self, keys: Iterable[Key]) -> None:
        """Count one decision per key (cheap: a dict update under a lock)."""
        with self._lock:
            for key in keys:
                self._counts[key] = self._counts.get(key, 0) + 1
                self._waiting += 1
            full = self._waiting >= self.size
            if self._thread is None and not self._closed and self._waiting:
                self._thread = threading.Thread(target=_run, args=(weakref.ref(self),),
                                                name="slotcap-shadow-flush", daemon=True)
                self._thread.start()
        if full:
            self._wake.set()

    @property
    def waiting(self) -> int:
        """Decisions counted and not yet written."""
        with self._lock:
            return self._waiting

    def flush(self) -> int:
        """Write the waiting counts now (one batch); how many decisions were written.
        Never raises: a failed batch is counted, logged and kept for the next flush."""
        with self._flushing:
            with self._lock:
                batch, self._counts, self._waiting = self._counts, {}, 0
            if not batch:
                return 0
            sink = self._sink()
            if sink is None:
                return 0
            try:
                sink(batch)
            except Exception as exc:
                with self._lock:
                    for key, n in batch.items():
                        self._counts[key] = self._counts.get(key, 0) + n
                        self._waiting += n
                self._on_failure()
                _LOG.warning("shadow counts not written (%s); %d decisions kept for the "
                             "next flush", type(exc).__name__, sum(batch.values()))
                return 0
            return sum(batch.values())

    def close(self) -> None:
        """Stop the thread and write what is waiting (``store.close()``)."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(self.interval, 1.0) * 2)
        self.flush()

    def _tick(self) -> bool:
        """One round of the thread: wait, flush; False once closed."""
        self._wake.wait(self.interval)
        self._wake.clear()
        if self._closed:
            return False
        self.flush()
        return True


def _run(ref: weakref.ReferenceType[ShadowBuffer]) -> None:
    while True:
        buffer = ref()
        if buffer is None:
            return
        try:
            if not buffer._tick():
                return
        except Exception as exc:  # flush() does not raise; the thread must not die
            buffer._on_failure()
            _LOG.warning("shadow flusher: %s", type(exc).__name__)
        del buffer  # hold no reference while waiting
