"""``GET /metrics``: the server's request counters and latency, the rollout, and the
plan's phase-3 monitors read from the database at scrape time (prometheus-client text
format, its own registry — never the process-global one).

The database part comes from :func:`slotcap.usecases.monitor.rollout_monitor` (one
query) and is kept :attr:`ServerMetrics.DB_MAX_AGE` seconds, so several scrapers or a
short scrape interval cost one query at most that often. Names and labels are listed in
docs/monitor.md.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from slotcap.domain.rollout import Rollout
from slotcap.errors import SlotcapError
from slotcap.http.shadow_panel import ShadowCollector
from slotcap.ports import SchemaState, Store
from slotcap.usecases.monitor import MonitorReport, rollout_monitor

__all__ = ["CONTENT_TYPE", "LATENCY_BUCKETS", "OUTCOMES", "RULE_PATHS", "ServerMetrics"]

#: The Prometheus text format every Prometheus version reads (prometheus-client's
#: CONTENT_TYPE_LATEST moved to 1.0.0 in recent releases; the body is the same here).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: ``rule_path``: which rule served the request ("none": no rule ran, e.g. a read).
RULE_PATHS = ("dynamic", "legacy", "none")
#: ``outcome``: created (201), full (409), invalid (400), busy (503), error (500), ok.
OUTCOMES = ("created", "full", "invalid", "busy", "error", "ok")
#: Seconds; a booking is a few milliseconds, a lock wait up to the busy budget (2 s).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

_WINDOW = 3600.0  # the page's "last hour", seconds
_MINUTE = 60.0
#: The hours of database history a scrape reads (the gap count's window).
MONITOR_HOURS = 24


class ServerMetrics:
    """What the HTTP server records, and the text ``/metrics`` serves.

    Thread-safe: ``observe`` may be called from any worker thread while a scrape runs.
    """

    #: Seconds a scrape reuses the database figures of an earlier scrape.
    DB_MAX_AGE = 15.0

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        #: The clock of the "last hour" window (seconds); tests replace it.
        self.monotonic: Callable[[], float] = time.monotonic
        self._lock = threading.Lock()
        # minute number -> Counter of (rule_path, outcome): the page's last hour.
        self._recent: collections.OrderedDict[int, collections.Counter[tuple[str, str]]] = (
            collections.OrderedDict()
        )
        self._db: tuple[float, MonitorReport | None] | None = None
        r = self.registry
        self._requests = Counter(
            "slotcap_http_requests", "HTTP requests by endpoint, rule path and outcome.",
            ["endpoint", "rule_path", "outcome"], registry=r,
        )
        self._latency = Histogram(
            "slotcap_http_request_duration_seconds", "HTTP request latency by endpoint.",
            ["endpoint"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self._percentage = Gauge(
            "slotcap_rollout_percentage",
            "DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE: the share of sessions on the dynamic rule.",
            registry=r,
        )
        self._enabled = Gauge(
            "slotcap_rollout_enabled",
            "USE_DYNAMIC_SERVICES: 1 when every request uses the dynamic rule.", registry=r,
        )
        self._created = Gauge(
            "slotcap_reservations_created_last_hour",
            "Reservations created in the last complete UTC hour, by path (from the database).",
            ["path"], registry=r,
        )
        self._created_now = Gauge(
            "slotcap_reservations_created_this_hour",
            "Reservations created so far in the current UTC hour, by path (from the database).",
            ["path"], registry=r,
        )
        self._gaps = Gauge(
            "slotcap_dual_write_gap_rows",
            f"Reservations created in the last {MONITOR_HOURS} h lacking new columns while the "
            "schema has them (from the database).", registry=r,
        )
        self._state = Gauge(
            "slotcap_schema_phase",
            "The reservation schema's state: 1 for the current one (legacy: before phase 1, "
            "expanded: phases 1-3, contracted: phase 4).", ["phase"], registry=r,
        )
        self._healthy = Gauge(
            "slotcap_monitor_healthy",
            "1 when `slotcap monitor` finds nothing to look at.", registry=r,
        )
        self._shadow = ShadowCollector(r)  # slotcap_shadow_*: the store's counters
        self._up = Gauge(
            "slotcap_monitor_up", "1 when the database could be read at the last scrape.",
            registry=r,
        )

    # -- recording -------------------------------------------------------------------

    def observe(self, *, endpoint: str, rule_path: str, outcome: str, seconds: float) -> None:
        """Count one finished request. ``endpoint`` is the route template (never the raw
        path: every distinct value is a time series)."""
        if rule_path not in RULE_PATHS:
            raise ValueError(f"rule_path must be one of {', '.join(RULE_PATHS)}: {rule_path!r}")
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}: {outcome!r}")
        self._requests.labels(endpoint, rule_path, outcome).inc()
        self._latency.labels(endpoint).observe(max(seconds, 0.0))
        minute = int(self.monotonic() // _MINUTE)
        with self._lock:
            bucket = self._recent.get(minute)
            if bucket is None:
                bucket = self._recent[minute] = collections.Counter()
                self._forget(minute)
            bucket[(rule_path, outcome)] += 1

    def _forget(self, minute: int) -> None:
        oldest = minute - int(_WINDOW // _MINUTE)
        while self._recent and next(iter(self._recent)) <= oldest:
            self._recent.popitem(last=False)

    def last_hour(self) -> Mapping[tuple[str, str], int]:
        """Requests of the last hour (to the minute) by (rule_path, outcome)."""
        minute = int(self.monotonic() // _MINUTE)
        total: collections.Counter[tuple[str, str]] = collections.Counter()
        with self._lock:
            self._forget(minute)
            for bucket in self._recent.values():
                total.update(bucket)
        return dict(total)

    # -- scraping --------------------------------------------------------------------

    def monitor(self, store: Store, rollout: Rollout, now: dt.datetime) -> MonitorReport | None:
        """The database figures (None when the database cannot be read), reused for
        :attr:`DB_MAX_AGE` seconds."""
        at = self.monotonic()
        cached = self._db
        if cached is not None and at - cached[0] < self.DB_MAX_AGE:
            return cached[1]
        try:
            report: MonitorReport | None = rollout_monitor(
                store, rollout=rollout, now=now, hours=MONITOR_HOURS
            )
        except SlotcapError:
            report = None
        self._db = (at, report)
        return report

    def render(self, store: Store, rollout: Rollout, now: dt.datetime) -> tuple[bytes, str]:
        """The ``/metrics`` body and its content type."""
        self._percentage.set(rollout.percentage)
        self._enabled.set(1 if rollout.enabled else 0)
        report = self.monitor(store, rollout, now)
        self._shadow.store = store
        with self._lock:
            self._up.set(0 if report is None else 1)
            if report is not None:
                self._set_db(report)
            else:
                # Nothing stale: the figures of an earlier scrape are not today's.
                for labelled in (self._created, self._created_now, self._state):
                    labelled.clear()
                self._gaps.set(float("nan"))
                self._healthy.set(0)
            return generate_latest(self.registry), CONTENT_TYPE

    def _set_db(self, report: MonitorReport) -> None:
        previous = report.per_hour[-2] if len(report.per_hour) > 1 else None
        current = report.per_hour[-1]
        for path in ("dynamic", "legacy"):
            self._created.labels(path).set(0 if previous is None else getattr(previous, path))
            self._created_now.labels(path).set(getattr(current, path))
        self._gaps.set(report.dual_write_gaps)
        for state in SchemaState:
            self._state.labels(state.value).set(1 if state is report.schema_state else 0)
        self._healthy.set(1 if report.healthy else 0)
