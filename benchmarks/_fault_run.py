"""``python -m benchmarks.pooled --faults``: 8 threads book and check through one store on a
private primary/standby pair's multi-host URL while the primary restarts, then crashes
and the standby is promoted. What the application saw, per event."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections import Counter
from typing import Any

import attrs

from benchmarks._clusters import Pair, primary_with_standby
from benchmarks._harness import say
from slotcap import open_store
from slotcap.domain.clock import DayClock
from slotcap.errors import ReservationFull
from slotcap.ports import Store
from slotcap.usecases.availability import check_availability
from slotcap.usecases.booking import book
from slotcap.usecases.request import BookingRequest

__all__ = ["run_faults"]

DATABASE = "clinic"
FIRST_DAY = dt.date(2031, 1, 6)


@attrs.frozen
class Call:
    began: float
    ended: float
    kind: str
    outcome: str  # "ok", "full" or the error's class name
    reservation: str | None = None


@attrs.define
class Recorder:
    store: Store
    threads: int = 8
    calls: list[Call] = attrs.field(factory=list)
    _stop: threading.Event = attrs.field(factory=threading.Event)
    _lock: threading.Lock = attrs.field(factory=threading.Lock)
    _serial: itertools.count[int] = attrs.field(factory=itertools.count)
    _workers: list[threading.Thread] = attrs.field(factory=list)

    def start(self) -> None:
        self._workers = [threading.Thread(target=self._work) for _ in range(self.threads)]
        for worker in self._workers:
            worker.start()

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join()

    def _work(self) -> None:
        while not self._stop.is_set():
            n = next(self._serial)
            # Weekdays over ten years, 4 bookings fit per period: none runs out of room.
            day = FIRST_DAY + dt.timedelta(days=7 * (n // 2 % 500) + n // 1000 % 5)
            began = time.monotonic()
            reservation = None
            kind = "book" if n % 2 else "check"
            try:
                if kind == "book":
                    reservation = book(self.store, BookingRequest(
                        patient_name="장애 시험", phone=f"010-{1000 + n // 10000 % 9000}-"
                        f"{n % 10000:04d}", birth_date="1990-01-01", gender="FEMALE",
                        treatment_type="FIRST_VISIT", service="SKIN_CARE",
                        preferred_date=day.isoformat(), period=("MORNING", "AFTERNOON")[n % 4 // 2],
                    ), dynamic=True, clock=DayClock(FIRST_DAY), horizon_days=3650).id
                else:
                    check_availability(self.store, day, "SKIN_CARE", period="MORNING",
                                       dynamic=True)
                outcome = "ok"
            except ReservationFull:
                outcome = "full"
            except Exception as exc:  # what the application would see: counted
                outcome = type(exc).__name__
            with self._lock:
                self.calls.append(Call(began, time.monotonic(), kind, outcome, reservation))

    def since(self, start: float, end: float) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if start <= c.began < end]

    def booked(self) -> set[str]:
        with self._lock:
            return {c.reservation for c in self.calls if c.reservation}


def _summary(calls: list[Call], back_at: float) -> dict[str, Any]:
    failed = [c for c in calls if c.outcome not in ("ok", "full")]
    first_booking = min((c.ended for c in calls
                         if c.kind == "book" and c.outcome == "ok" and c.began >= back_at),
                        default=None)
    return {
        "calls": len(calls), "failed": len(failed),
        "errors": dict(Counter(c.outcome for c in failed)),
        "failing_seconds": round(max(c.ended for c in failed) - min(c.began for c in failed), 3)
        if failed else 0.0,
        "first_booking_after": None if first_booking is None
        else round(first_booking - back_at, 3),
    }


def _missing(pair: Pair, ids: set[str]) -> int:
    import psycopg

    with psycopg.connect(pair.standby.url(DATABASE)) as conn:
        rows = conn.execute("SELECT id FROM reservations WHERE id = ANY(%s)",
                            (sorted(ids),)).fetchall()
    return len(ids - {row[0] for row in rows})


def run_faults(*, quick: bool) -> dict[str, Any]:
    import psycopg

    from benchmarks.pooled import phase1_database

    settle = 0.5 if quick else 1.5
    say("faults: a primary with a synchronous standby")
    with primary_with_standby() as pair:
        with psycopg.connect(pair.primary.url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {DATABASE}")
        phase1_database(pair.primary.url(DATABASE))
        with open_store(pair.url(DATABASE)) as store:
            recorder = Recorder(store)
            recorder.start()
            try:
                time.sleep(settle)
                say("faults: pg_ctl restart -m fast")
                restart_began = time.monotonic()
                pair.primary.ctl("restart", "-m", "fast")
                restarted = time.monotonic()
                time.sleep(settle * 2 + 1)
                say("faults: the primary crashes (stop -m immediate), the standby is promoted")
                crash = time.monotonic()
                pair.primary.ctl("stop", "-m", "immediate")
                pair.standby.ctl("promote")
                promoted = time.monotonic()
                time.sleep(settle * 2 + 2)
            finally:
                recorder.stop()
            result = {
                "restart": _summary(recorder.since(restart_began, crash), restarted),
                "failover": _summary(recorder.since(crash, time.monotonic()), promoted),
            }
            result["restart"]["down_seconds"] = round(restarted - restart_began, 3)
            result["failover"]["promote_seconds"] = round(promoted - crash, 3)
            result["failover"]["lost"] = _missing(pair, recorder.booked())
    return result
