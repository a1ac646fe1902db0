"""`slotcap serve` while its PostgreSQL restarts and while it fails over to a promoted
synchronous standby — on a private primary/standby pair (benchmarks/_clusters.py),
never the shared server. Clients book and read all along; what they get is counted.

The module's tests run in file order on one pair: the restart first, then the failover
(which leaves the old primary dead).
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import attrs
import httpx
import psycopg
import pytest
from benchmarks._clusters import Pair, pg_bin, primary_with_standby
from tests.conftest import missing, require_postgres
from tests.e2e.server_process import Server, booking_body, monday_ahead, running_server
from tests.integration.store_helpers import build_sql_database

from slotcap.ports import SchemaState

#: Private PostgreSQL clusters (initdb, pg_ctl) and a real `slotcap serve`.
pytestmark = [pytest.mark.postgres, pytest.mark.subprocess]

DATABASE = "clinic"
DYNAMIC = {"USE_DYNAMIC_SERVICES": "true"}
RESERVATIONS_PATH = "/api/public/reservations"
AVAILABILITY = RESERVATIONS_PATH + "/availability"


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    require_postgres()  # psycopg, and the same loud skip / CI failure without it
    if pg_bin() is None:
        missing("FAILOVER TESTS", "PostgreSQL's server binaries (initdb, pg_ctl) are missing")
    with primary_with_standby() as started:
        with psycopg.connect(started.primary.url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {DATABASE}")
        build_sql_database(started.primary.url(DATABASE), SchemaState.EXPANDED)
        yield started


@attrs.define
class Answer:
    at: float
    kind: str
    status: int
    reservation: str | None


@attrs.define
class Load:
    """``clients`` threads alternating a booking and an availability read until stopped;
    every answer recorded (its time, kind, status, and the id of a booking)."""

    server: Server
    clients: int = 8
    answers: list[Answer] = attrs.field(factory=list)
    _stop: threading.Event = attrs.field(factory=threading.Event)
    _threads: list[threading.Thread] = attrs.field(factory=list)
    _lock: threading.Lock = attrs.field(factory=threading.Lock)
    _serial: Iterator[int] = attrs.field(factory=itertools.count)

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._client) for _ in range(self.clients)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _client(self) -> None:
        with httpx.Client(base_url=self.server.base_url, timeout=30) as http:
            while not self._stop.is_set():
                self._record(*one_request(http, next(self._serial)))

    def _record(self, kind: str, reply: httpx.Response) -> None:
        body = reply.json() if reply.headers.get("content-type", "").startswith(
            "application/json") else {}
        with self._lock:
            self.answers.append(Answer(time.monotonic(), kind, reply.status_code,
                                       body.get("id") if kind == "book" else None))

    def statuses(self) -> Counter[int]:
        return Counter(a.status for a in self.answers)

    def booked(self) -> set[str]:
        return {a.reservation for a in self.answers
                if a.kind == "book" and a.status == 200 and a.reservation}


def one_request(http: httpx.Client, n: int) -> tuple[str, httpx.Response]:
    # Many dates and periods: most bookings fit, so a 200 is the common answer.
    day = monday_ahead(2 + n % 40) + dt.timedelta(days=n // 40 % 5)
    if n % 2:
        return "read", http.get(AVAILABILITY, params={"date": day.isoformat(),
                                                     "service": "SKIN_CARE"})
    return "book", http.post(RESERVATIONS_PATH, json=booking_body(
        day, service="SKIN_CARE", period=("MORNING", "AFTERNOON")[n // 2 % 2],
        phone=f"010-{1000 + n // 10000 % 9000}-{n % 10000:04d}"))


def burst(server: Server, size: int) -> Counter[int]:
    """``size`` requests at once (more than the server's threads): every worker thread
    serves one, so a thread still holding a dead connection would answer 5xx."""
    barrier = threading.Barrier(size)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def one(n: int) -> None:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            barrier.wait()
            _, reply = one_request(http, 900_000 + n)
        with lock:
            statuses[reply.status_code] += 1

    threads = [threading.Thread(target=one, args=(n,)) for n in range(size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def saved(url: str, ids: set[str]) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT id FROM reservations WHERE id = ANY(%s)",
                            (sorted(ids),)).fetchall()
    return {row[0] for row in rows}


def watch_readiness(server: Server, stop: threading.Event, seen: list[int],
                    bodies: list[str]) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        while not stop.is_set():
            reply = http.get("/readyz")
            seen.append(reply.status_code)
            if reply.status_code != 200:
                bodies.append(reply.text)
            time.sleep(0.02)


def test_a_restart_answers_503_only_and_every_thread_heals(pair: Pair, tmp_path: Path) -> None:
    with running_server(pair.primary.url(DATABASE), tmp_path, env=DYNAMIC,
                        args=["--threads", "8"]) as server:
        assert httpx.get(server.url("/readyz"), timeout=30).status_code == 200
        load = Load(server)
        load.start()
        ready: list[int] = []
        bodies: list[str] = []
        stop_watching = threading.Event()
        watcher = threading.Thread(target=watch_readiness,
                                   args=(server, stop_watching, ready, bodies))
        watcher.start()
        time.sleep(1.0)
        pair.primary.ctl("restart", "-m", "fast")
        time.sleep(1.0)
        load.stop()
        stop_watching.set()
        watcher.join()
        # /readyz: 503 while the server was down, ready again after (ready before: above).
        assert 503 in ready and ready[-1] == 200, (ready, bodies[:1])
        assert set(ready) <= {200, 503}
        statuses = load.statuses()
        # The outage was seen, and answered 503 (with Retry-After), never another 5xx.
        assert statuses[503] > 0, statuses
        assert {s for s in statuses if s >= 500} == {503}, statuses
        assert statuses[200] > 0
        # Every worker thread healed: a burst wider than the pool, no 5xx at all.
        healed = burst(server, 16)
        assert {s for s in healed if s >= 500} == set(), healed
        assert "Traceback" not in server.stderr()
    booked = load.booked()
    assert saved(pair.primary.url(DATABASE), booked) == booked  # nothing acknowledged lost


def test_a_promoted_standby_serves_within_seconds_and_nothing_is_lost(
    pair: Pair, tmp_path: Path
) -> None:
    """The primary crashes (immediate stop), the synchronous standby is promoted; the
    server's multi-host URL (target_session_attrs=read-write) finds it by itself."""
    # The restart test before this one may have filled the periods the load books: start
    # empty, so a 200 after the promotion is possible (DELETE, not TRUNCATE: the ledger's
    # row triggers keep up).
    with psycopg.connect(pair.primary.url(DATABASE), autocommit=True) as conn:
        conn.execute("DELETE FROM reservations")
    with running_server(pair.url(DATABASE), tmp_path, env=DYNAMIC,
                        args=["--threads", "8"]) as server:
        load = Load(server)
        load.start()
        time.sleep(1.0)
        pair.primary.ctl("stop", "-m", "immediate")
        pair.standby.ctl("promote")
        promoted = time.monotonic()
        deadline = promoted + 15
        while time.monotonic() < deadline and not any(
                a.at > promoted and a.kind == "book" and a.status == 200
                for a in list(load.answers)):
            time.sleep(0.05)
        time.sleep(1.0)
        load.stop()
        statuses = load.statuses()
        assert {s for s in statuses if s >= 500} <= {503}, statuses
        first_booking = min((a.at for a in load.answers
                             if a.at > promoted and a.kind == "book" and a.status == 200),
                            default=None)
        assert first_booking is not None, statuses
        assert first_booking - promoted < 5.0
        assert "Traceback" not in server.stderr()
    booked = load.booked()
    # Synchronous replication: every acknowledged booking is on the promoted standby.
    assert saved(pair.standby.url(DATABASE), booked) == booked
