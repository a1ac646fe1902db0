"""The in-memory store is thread-safe: 16 threads never overbook one period."""

from __future__ import annotations

import datetime as dt
import threading

from tests.builders import ON_TODAY, patient_phone

from slotcap import BookingRequest, ReservationFull, ServiceLimit, book, open_store
from slotcap.adapters.memory import MemoryStore

MONDAY = dt.date(2025, 12, 1)
THREADS = 16


def _race(store: MemoryStore, *, dynamic: bool) -> int:
    barrier = threading.Barrier(THREADS)
    successes: list[int] = []
    lock = threading.Lock()

    def attempt() -> None:
        phone = patient_phone()  # sixteen patients: the race is for capacity
        barrier.wait()
        try:
            book(
                store,
                BookingRequest(
                    patient_name="p", phone=phone, birth_date="1991-02-03",
                    gender="FEMALE", treatment_type="FIRST_VISIT", service="REMOVAL_PROCEDURE",
                    preferred_date=MONDAY.isoformat(), preferred_time="3:00 PM",
                    period="AFTERNOON",
                ),
                dynamic=dynamic, clock=ON_TODAY,
            )
        except ReservationFull:
            return
        with lock:
            successes.append(1)

    threads = [threading.Thread(target=attempt) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(successes)


def test_sixteen_threads_fill_a_period_exactly() -> None:
    store = open_store("memory://")
    assert isinstance(store, MemoryStore)
    # Monday afternoon: 240 minutes; removal procedure 40 + 10 = 50 → 4 fit.
    assert _race(store, dynamic=True) == 4
    held = sum(r.estimated_duration or 0 for r in store.all_reservations())
    assert held == 200


def test_sixteen_threads_respect_the_daily_limit_exactly() -> None:
    store = MemoryStore()
    store.save_limit(ServiceLimit(service_code="REMOVAL_PROCEDURE", daily_limit=5))
    assert _race(store, dynamic=False) == 5
