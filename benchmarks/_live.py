"""The live app of the live-migration benchmark (and of its small test-suite version).

``AppTraffic`` runs N threads, each with ONE long-lived store opened before the first
step (``slotcap.open_store``), booking through ``slotcap.book`` on the rules the rollout
allows right now (``traffic.rules``: the main thread changes it between steps) and
reading through ``slotcap.check_availability``. Every operation is recorded with its
start, its latency and — if it raised anything but ``ReservationFull`` (a legitimate
"full" refusal) — the error's type. Nothing is filtered.

``legacy_database`` builds the reference legacy database of N rows with COPY.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections import Counter
from collections.abc import Sequence

import attrs

from benchmarks import _data
from slotcap import BookingRequest, ReservationFull, book, check_availability, open_store
from slotcap.domain.clock import DayClock
from slotcap.domain.timeparse import parse_preferred_time
from slotcap.schema.legacy import create_legacy_schema
from slotcap.sql import open_sql

__all__ = ["AppTraffic", "Op", "StepStats", "legacy_database", "stats"]

#: Bookings go after the generated year, so capacity is there for the whole run.
TODAY = dt.date(2026, 1, 5)
_SERVICES = ("WRINKLE_BOTOX", "VOLUME_LIFTING", "SKIN_CARE", "BODY_CARE")


def legacy_database(url: str, rows: int, seed: int = 7) -> None:
    """The reference legacy DDL, its limits table filled, ``rows`` legacy reservations
    (COPY), then VACUUM ANALYZE: a production database before phase 1."""
    data = _data.generate(rows, seed, backfilled=False)
    # The generator includes texts the parser must refuse (they would pause phase 2 for
    # manual review, a human step): this database was reviewed before its migration.
    at = _data.LEGACY_ROW_COLUMNS.index("preferredTime")
    clean = [row if parse_preferred_time(row[at]).period is not None
             else (*row[:at], "10:00", *row[at + 1:]) for row in data.rows]
    with open_sql(url) as conn:
        create_legacy_schema(conn)
        _data._insert_limits(conn, dt.datetime(2025, 1, 1), True)
        with conn.raw.cursor() as cur, cur.copy(
            f'COPY "reservations" ({_data._quoted(data.columns)}) FROM STDIN'
        ) as copy:
            for row in clean:
                copy.write_row(row)
        conn.execute('VACUUM (ANALYZE) "reservations"')


@attrs.frozen
class Op:
    started: float
    seconds: float
    kind: str
    error: str | None


@attrs.define
class StepStats:
    operations: int
    errors: dict[str, int]
    p99_ms: float
    max_ms: float

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def stats(ops: Sequence[Op], start: float, end: float) -> StepStats:
    """The operations that overlapped [start, end]."""
    window = [o for o in ops if o.started <= end and o.started + o.seconds >= start]
    latencies = sorted(o.seconds for o in window)
    errors = Counter(o.error for o in window if o.error is not None)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
    return StepStats(len(window), dict(errors), round(p99 * 1000, 1),
                     round((latencies[-1] if latencies else 0.0) * 1000, 1))


#: Every booking of the live app is another patient (``next`` is atomic in CPython).
_PATIENTS = itertools.count(1)


class AppTraffic:
    """``threads`` app threads with long-lived stores; ``rules`` is the tuple of booking
    rules (False: the legacy daily count, True: the minutes rule) the rollout allows."""

    def __init__(self, url: str, threads: int = 4, *, pause: float = 0.002) -> None:
        self.rules: tuple[bool, ...] = (False,)
        self.ops: list[Op] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        #: Set: the threads idle (a quiet moment for a latency measurement).
        self.paused = threading.Event()
        self._pause = pause
        # Opened here, before any step: a store that lives through the whole path.
        self._stores = [open_store(url) for _ in range(threads)]
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(threads)]

    def __enter__(self) -> AppTraffic:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)
        for s in self._stores:
            s.close()

    def snapshot(self) -> list[Op]:
        with self._lock:
            return list(self.ops)

    def _record(self, started: float, kind: str, error: str | None) -> None:
        op = Op(started, time.perf_counter() - started, kind, error)
        with self._lock:
            self.ops.append(op)

    def _run(self, index: int) -> None:
        store = self._stores[index]
        n = 0
        while not self._stop.is_set():
            if self.paused.is_set():
                time.sleep(0.01)
                continue
            rules = self.rules
            dynamic = rules[n % len(rules)]
            day = TODAY + dt.timedelta(days=(n * 7 + index) % 360)
            service = _SERVICES[(n + index) % len(_SERVICES)]
            if n % 2:
                request = BookingRequest(
                    # One patient per booking (the duplicate rule refuses a second).
                    patient_name=f"Live App {next(_PATIENTS)}", phone="010-0000-0000",
                    birth_date="1990-01-01",
                    gender="FEMALE", treatment_type="FIRST_VISIT", service=service,
                    preferred_date=day.isoformat(), preferred_time="10:00",
                    period="MORNING")
                kind = "book"
            else:
                kind = "check"
            started = time.perf_counter()
            error = None
            try:
                if kind == "book":
                    book(store, request, dynamic=dynamic, clock=DayClock(TODAY))
                else:
                    check_availability(store, day, service, period="MORNING",
                                       dynamic=dynamic)
            except ReservationFull:
                pass
            except Exception as exc:
                error = type(exc).__name__
            self._record(started, kind, error)
            n += 1
            time.sleep(self._pause)
