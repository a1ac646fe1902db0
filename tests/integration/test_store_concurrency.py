"""Sixteen threads, each with its own store and connection, start together and book the
same date: exactly as many succeed as fit, under either rule and under both at once.

For the mixed run the commit order is read back from the database (PostgreSQL: the
``xmin`` of each inserted row — a transaction id is assigned at its first write, which
happens after the locks are granted, so it follows lock order; SQLite: the ``rowid``,
assigned under the database write lock) and replayed: every dynamic success had room at
its point, every legacy success was under the limit at its point, and every refusal is
justified by the final state (no cancellations here, so held amounts only grow).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
from tests.builders import ON_TODAY
from tests.integration.store_helpers import MONDAY, build_sql_database, open_sql_store, request

from slotcap.domain.model import Period, Reservation, ServiceLimit
from slotcap.errors import ReservationFull
from slotcap.ports import Store
from slotcap.sql import open_sql
from slotcap.usecases import book

ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
THREADS = 16
CAPACITY = 240  # Monday afternoon, 14:00-18:00
MINUTES = 40  # WRINKLE_BOTOX: 30 + 10 buffer

Job = Callable[[Store], Reservation]


@pytest.fixture(params=ENGINES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = (
        f"sqlite:///{tmp_path / 'race.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    build_sql_database(url)
    return url


@attrs.frozen
class Outcome:
    kind: str
    booked: Reservation | None
    error: BaseException | None


def race(url: str, jobs: list[tuple[str, Job]]) -> list[Outcome]:
    """Run each job in its own thread on its own store, all released at once."""
    barrier = threading.Barrier(len(jobs))
    outcomes: list[Outcome | None] = [None] * len(jobs)

    def worker(i: int, kind: str, job: Job) -> None:
        store = open_sql_store(url)  # opens this thread's connection before the start
        try:
            barrier.wait()
            try:
                outcomes[i] = Outcome(kind, job(store), None)
            except Exception as exc:
                outcomes[i] = Outcome(kind, None, exc)
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(i, k, j)) for i, (k, j) in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    done = [o for o in outcomes if o is not None]
    assert len(done) == len(jobs)
    unexpected = [o.error for o in done if o.error and not isinstance(o.error, ReservationFull)]
    assert unexpected == []  # refusals only: no StoreBusy, no deadlock, no driver error
    return done


def dynamic(i: int, service: str = "WRINKLE_BOTOX") -> tuple[str, Job]:
    body = request(service=service, period="AFTERNOON", preferred_time=None)
    return "dynamic", lambda s: book(s, body, dynamic=True, clock=ON_TODAY,
                                     new_id=lambda: f"d{i:02}")


def legacy(i: int) -> tuple[str, Job]:
    body = request(period=None, preferred_time="15:00")  # the afternoon, read with hours
    return "legacy", lambda s: book(s, body, dynamic=False, clock=ON_TODAY,
                                    new_id=lambda: f"l{i:02}")


def set_limit(url: str, limit: int) -> None:
    store = open_sql_store(url)
    store.save_limit(ServiceLimit(service_code="WRINKLE_BOTOX", daily_limit=limit))
    store.close()


def commit_order(url: str) -> list[str]:
    """Reservation ids in the order their bookings held the locks."""
    with open_sql(url) as conn:
        order = 'xmin::text::bigint' if conn.is_postgres else '"rowid"'
        return [r[0] for r in conn.execute(f'SELECT "id" FROM "reservations" ORDER BY {order}')]


def report(what: str, url: str, outcomes: list[Outcome], capacity: str) -> None:
    engine = url.split(":", 1)[0]
    wins = sum(o.booked is not None for o in outcomes)
    # Quoted in docs/stores.md: (attempts, successes, capacity).
    print(f"\n[{engine}] {what}: attempts={len(outcomes)} successes={wins} capacity={capacity}")


def test_minutes_rule_books_exactly_what_fits(url: str) -> None:
    outcomes = race(url, [dynamic(i) for i in range(THREADS)])
    report("minutes rule", url, outcomes, f"{CAPACITY} min / {MINUTES} = {CAPACITY // MINUTES}")
    assert sum(o.booked is not None for o in outcomes) == CAPACITY // MINUTES
    store = open_sql_store(url)
    assert store.period_facts(MONDAY, Period.AFTERNOON, "WRINKLE_BOTOX").held_minutes == CAPACITY
    store.close()


def test_count_rule_books_exactly_the_limit(url: str) -> None:
    set_limit(url, 5)
    outcomes = race(url, [legacy(i) for i in range(THREADS)])
    report("count rule", url, outcomes, "daily limit 5")
    assert sum(o.booked is not None for o in outcomes) == 5
    store = open_sql_store(url)
    assert store.daily_facts(MONDAY, "WRINKLE_BOTOX").held_count == 5
    store.close()


def test_both_rules_at_once_replay_in_commit_order(url: str) -> None:
    """Half the threads on each rule, in the same afternoon: the legacy ones book
    WRINKLE_BOTOX (40 min) under a daily limit of 4, the dynamic ones OTHER_CONSULTATION
    (25 min) under the minutes rule — which must see the legacy bookings' minutes."""
    limit, short = 4, 25
    set_limit(url, limit)
    jobs = [job for i in range(THREADS // 2)
            for job in (dynamic(i, "OTHER_CONSULTATION"), legacy(i))]
    outcomes = race(url, jobs)
    kind = {o.booked.id: o.kind for o in outcomes if o.booked is not None}
    order = commit_order(url)
    assert sorted(order) == sorted(kind)

    minutes = count = 0
    for rid in order:  # every success had room at its point in the serial order
        if kind[rid] == "dynamic":
            assert minutes + short <= CAPACITY, (rid, minutes)
            minutes += short
        else:
            assert count < limit, (rid, count)
            count += 1
            minutes += MINUTES
    for o in outcomes:  # every refusal is justified by the final state
        if o.booked is None:
            assert (minutes + short > CAPACITY) if o.kind == "dynamic" else (count >= limit)
    wins = {k: sum(v == k for v in kind.values()) for k in ("dynamic", "legacy")}
    report("mixed rules", url, outcomes,
           f"{CAPACITY} min for dynamic (25-min service), daily limit {limit} for legacy "
           f"(40-min service); won: {wins['dynamic']} dynamic, {wins['legacy']} legacy, "
           f"{minutes} min held")
    assert count == limit  # 8 legacy attempts, and nothing else counts for their code
