"""Booking throughput on PostgreSQL with concurrent clients, and an overbooking audit.

    python -m benchmarks.booking --json benchmarks/results/booking.json

A scratch database is built as for the availability benchmark (legacy DDL, phase 1,
a generated year of background reservations), then for 1, 8 and 32 clients — threads,
each with its own store (``slotcap.open_store(url)``, so its own connection) — every
client calls ``slotcap.book(store, request, dynamic=True)`` as fast as it can for a
fixed time:

* **different periods**: each client books its own dates (dates far after the
  generated year, dealt out round-robin to the clients), moving to its next open
  period when the current one answers FULL. No two clients ever want the same locks;
* **same period**: all clients book the same (date, period); when one is refused
  with FULL, everyone moves on to the next period. Every booking then waits for the
  period's advisory lock: the serialised case.

Reported: successful bookings/s, attempts/s (a FULL refusal is an attempt), p50/p99
latency of successful bookings and of all attempts, errors, the number of (date,
period)s whose PENDING/CONFIRMED minutes exceed the slot's total (SQL, must be 0), and
single-row INSERT commits/s with as many clients right after (``--ledger``: phase 2's
ledger filled first, so bookings are decided by one statement).

``--end-state`` (with ``--ledger``): after those runs, "different periods" again for each
client count with the shadow off (phase 2, ``SLOTCAP_SHADOW=off``) and on again (the
first run after the load may share the cores with its autovacuum), then — the database
migrated to phase 4 (the migration's end: the ledger kept, no legacy columns, no count
rule, no shadow) — once more; each with its own INSERT floor right after.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from benchmarks import _data
from benchmarks._booking_floor import INSERT_PHASE4, insert_floor, overbooked
from benchmarks._cli import add_background_argument, benchmark_parser, postgres_missing
from benchmarks._harness import (
    Stats,
    Target,
    finish,
    render_table,
    run_threads,
    say,
    summarize,
    temp_pg_database,
)
from slotcap import open_store
from slotcap.domain.calendar import date_range, day_of_week
from slotcap.domain.clock import DayClock
from slotcap.domain.defaults import DEFAULT_TIME_SLOTS
from slotcap.domain.model import Period
from slotcap.domain.rules import Reason
from slotcap.errors import ReservationFull, SlotcapError
from slotcap.migration import migrate
from slotcap.migration.transitions.common import ensure_ledger
from slotcap.sql import open_sql
from slotcap.usecases.booking import book
from slotcap.usecases.request import BookingRequest

MODES = ("different periods", "same period")
#: Bookings go to dates after the generated year, so they start from empty periods.
FIRST_BOOKING_DAY = dt.date(2030, 1, 1)
#: Each run books from its own start day on, within this many days (the booking window).
RUN_SPAN_DAYS = 3652
#: Services booked, cycled per client (all in the legacy enum, so dual-writable).
SERVICES = ("WRINKLE_BOTOX", "SKIN_CARE", "OTHER_CONSULTATION", "REMOVAL_PROCEDURE")
#: Issue 11's target: successful bookings/s with 8 clients on different periods.
MIN_RATE = 1500


def _open_targets(start: dt.date) -> Iterator[tuple[dt.date, Period]]:
    """Every open (date, period) from ``start`` on, in order."""
    open_slots = {(s.day_of_week, s.period) for s in DEFAULT_TIME_SLOTS if s.is_active}
    for day in date_range(start, start + dt.timedelta(days=365 * 30)):
        for period in Period:
            if (day_of_week(day), period) in open_slots:
                yield day, period


def _client_targets(start: dt.date, client: int, clients: int) -> Iterator[tuple[dt.date, Period]]:
    """Client ``client``'s own dates: every ``clients``-th date from ``start``."""
    open_slots = {(s.day_of_week, s.period) for s in DEFAULT_TIME_SLOTS if s.is_active}
    for offset in itertools.count(client, clients):
        day = start + dt.timedelta(days=offset)
        for period in Period:
            if (day_of_week(day), period) in open_slots:
                yield day, period


class _SharedCursor:
    """The same-period mode's current target: whoever sees FULL moves everyone on."""

    def __init__(self, start: dt.date) -> None:
        self._targets = list(itertools.islice(_open_targets(start), 20_000))
        self._index = 0
        self._lock = threading.Lock()

    def current(self) -> tuple[int, tuple[dt.date, Period]]:
        with self._lock:
            return self._index, self._targets[self._index]

    def full(self, seen: int) -> None:
        with self._lock:
            if self._index == seen:
                self._index += 1


@dataclasses.dataclass
class _ClientResult:
    booked_ns: list[int] = dataclasses.field(default_factory=list)
    refused_ns: list[int] = dataclasses.field(default_factory=list)
    errors: dict[str, int] = dataclasses.field(default_factory=dict)


def _request(day: dt.date, period: Period, service: str, n: int, client: int = 0
             ) -> BookingRequest:  # another patient each time (no careful duplicate path)
    return BookingRequest(
        patient_name=f"부하 시험 {n}", phone=f"010-{1000 + client}-{n % 10000:04d}",
        birth_date="1990-01-01",
        gender="FEMALE", treatment_type="FIRST_VISIT", service=service,
        preferred_date=day.isoformat(), period=period.value,
    )


def _client(
    url: str,
    mode: str,
    client: int,
    clients: int,
    start_day: dt.date,
    shared: _SharedCursor,
    ready: threading.Barrier,
    stop: threading.Event,
    out: _ClientResult,
    shadow: bool = True,
) -> None:
    store = open_store(url)
    store.shadow.enabled = shadow  # as bootstrap does for SLOTCAP_SHADOW
    try:
        # Warm: open the connection and read the schema before the clock starts.
        store.period_facts(start_day, Period.MORNING, SERVICES[0])
        own = _client_targets(start_day, client, clients)
        target = next(own)
        first = client % len(SERVICES)
        services = itertools.cycle(SERVICES[first:] + SERVICES[:first])
        ready.wait()
        clock = time.perf_counter_ns
        n = 0
        while not stop.is_set():
            seen = -1
            if mode == "same period":
                seen, target = shared.current()
            day, period = target
            n += 1
            began = clock()
            try:
                book(store, _request(day, period, next(services), n, client), dynamic=True,
                     clock=DayClock(start_day), horizon_days=RUN_SPAN_DAYS)
            except ReservationFull as exc:
                out.refused_ns.append(clock() - began)
                decision = exc.decision
                if getattr(decision, "reason", None) is Reason.FULL:
                    if mode == "same period":
                        shared.full(seen)
                    else:
                        target = next(own)
                continue
            except SlotcapError as exc:
                out.errors[type(exc).__name__] = out.errors.get(type(exc).__name__, 0) + 1
                continue
            out.booked_ns.append(clock() - began)
    finally:
        store.close()


def _run_one(
    url: str, mode: str, clients: int, seconds: float, start_day: dt.date, shadow: bool = True
) -> dict[str, Any]:
    results = [_ClientResult() for _ in range(clients)]
    shared = _SharedCursor(start_day)
    ready = threading.Barrier(clients + 1)
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_client,
            args=(url, mode, i, clients, start_day, shared, ready, stop, results[i], shadow),
            name=f"client-{i}", daemon=True,
        )
        for i in range(clients)
    ]
    wall = run_threads(threads, ready, seconds=seconds, stop=stop)
    booked = [ns for r in results for ns in r.booked_ns]
    attempts = booked + [ns for r in results for ns in r.refused_ns]
    errors: dict[str, int] = {}
    for r in results:
        for k, v in r.errors.items():
            errors[k] = errors.get(k, 0) + v
    booked_stats: Stats | None = summarize(booked) if booked else None
    attempt_stats: Stats | None = summarize(attempts) if attempts else None
    return {
        "mode": mode,
        "clients": clients,
        "seconds": round(wall, 3),
        "booked": len(booked),
        "refused_full": len(attempts) - len(booked),
        "errors": errors,
        "bookings_per_s": round(len(booked) / wall, 1),
        "attempts_per_s": round(len(attempts) / wall, 1),
        "booked_latency": None if booked_stats is None else booked_stats.to_dict(),
        "attempt_latency": None if attempt_stats is None else attempt_stats.to_dict(),
    }


def _measure(url: str, mode: str, clients: int, seconds: float, start_day: dt.date,
             state: str, *, shadow: bool = True, insert: str | None = None) -> dict[str, Any]:
    say(f"[booking] {state}: {mode}, {clients} client(s), {seconds:g}s …")
    result = _run_one(url, mode, clients, seconds, start_day, shadow)
    result["state"] = state
    result.update(overbooked(url))
    floor_day = start_day + dt.timedelta(days=3000)  # the floor, right after
    result["insert_commits_per_s"] = insert_floor(url, clients, seconds, floor_day, insert)
    result["ratio"] = round(result["bookings_per_s"]
                            / max(result["insert_commits_per_s"], 1e-9), 3)
    say(f"[booking]   {result['bookings_per_s']:.0f} bookings/s, "
        f"{result['attempts_per_s']:.0f} attempts/s, ratio {result['ratio']:.2f}×, "
        f"overbooked periods: {result['overbooked_periods']}")
    return result


def run(
    *, clients: Sequence[int], seconds: float, background: int, seed: int, pg_server: str,
    ledger: bool = False, end_state: bool = False,
) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    with temp_pg_database(pg_server, "booking") as url:
        say(f"[booking] loading {background:,} background reservations …")
        data = _data.generate(background, seed, backfilled=True)
        load = _data.load_postgres(url, data)
        del data
        if ledger:  # phase 2's ledger: bookings decided by one statement
            with open_sql(url) as conn:
                ensure_ledger(conn, say)
        # Each configuration books its own, untouched decade.
        starts = itertools.count(0)
        state = "phase 2" if ledger else "phase 1"

        def start() -> dt.date:
            return FIRST_BOOKING_DAY + dt.timedelta(days=3653 * next(starts))

        for mode in MODES:
            for n in clients:
                runs.append(_measure(url, mode, n, seconds, start(), state))
        if end_state:
            for n in clients:  # the first run after the load may pay its vacuum: again
                runs.append(_measure(url, MODES[0], n, seconds, start(),
                                     f"{state}, shadow off", shadow=False))
                runs.append(_measure(url, MODES[0], n, seconds, start(), f"{state}, again"))
            say("[booking] migrating to phase 4 …")
            migrate(url, to="phase4", confirm=True)
            for n in clients:
                runs.append(_measure(url, MODES[0], n, seconds, start(), "phase 4",
                                     insert=INSERT_PHASE4))
    return {
        "benchmark": "booking",
        "params": {"clients": list(clients), "seconds": seconds, "background_rows": background,
                   "seed": seed, "ledger": ledger, "end_state": end_state},
        "load_seconds": load,
        "runs": runs,
    }


def targets(payload: dict[str, Any]) -> list[Target]:
    found = []
    eight = next((r for r in payload["runs"]
                  if r["mode"] == "different periods" and r["clients"] == 8), None)
    end = next((r for r in payload["runs"] if r.get("state") == "phase 4"
                and r["clients"] == 8), None)
    if end is not None:
        found.append(Target("bookings/s ÷ INSERT commits/s, 8 clients, phase 4",
                            f"{end['ratio']:.2f}×", "≥ 0.5×", end["ratio"] >= 0.5))
    if eight is not None:
        found.append(Target(
            "bookings/s with 8 clients on different periods",
            f"{eight['bookings_per_s']:.0f}/s (p99 "
            f"{(eight['booked_latency'] or {}).get('p99_us', 0) / 1000:.1f} ms)",
            f"≥ {MIN_RATE:,}/s", eight["bookings_per_s"] >= MIN_RATE,
        ))
        found.append(Target("bookings/s ÷ INSERT commits/s, 8 clients, own dates",
                            f"{eight['ratio']:.2f}×", "≥ 0.5×", eight["ratio"] >= 0.5))
    worst = max((r["overbooked_periods"] for r in payload["runs"]), default=None)
    found.append(Target(
        "overbooked periods after every run (SQL audit)",
        "not run" if worst is None else str(worst), "0",
        None if worst is None else worst == 0,
    ))
    return found


def tables(payload: dict[str, Any]) -> str:
    rows = []
    for r in payload["runs"]:
        b = r["booked_latency"] or {}
        a = r["attempt_latency"] or {}
        rows.append((
            r.get("state", "-"), r["mode"], r["clients"], r["bookings_per_s"], r["attempts_per_s"],
            b.get("p50_us", 0) / 1000, b.get("p99_us", 0) / 1000, a.get("p99_us", 0) / 1000,
            r["booked"], r["refused_full"], sum(r["errors"].values()), r["overbooked_periods"],
            r.get("insert_commits_per_s", "-"), f"{r.get('ratio', 0):.2f}×",
        ))
    return "Booking throughput (PostgreSQL)\n\n" + render_table(
        ["state", "mode", "clients", "bookings/s", "attempts/s", "booked p50 ms", "booked p99 ms",
         "attempt p99 ms", "booked", "refused FULL", "errors", "overbooked",
         "INSERT commits/s", "bookings ÷ INSERTs"],
        rows,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = benchmark_parser("booking", __doc__)
    parser.add_argument("--clients", default="1,8,32", help="client counts (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="seconds per configuration (default 5; --quick 1)")
    add_background_argument(parser)
    parser.add_argument("--ledger", action="store_true", help="fill phase 2's ledger first")
    parser.add_argument("--end-state", action="store_true", dest="end_state",
                        help="then different periods with the shadow off, and at phase 4")
    args = parser.parse_args(argv)
    if (missing := postgres_missing(args, "booking")) is not None:
        return missing
    clients = [int(c) for c in args.clients.split(",") if c.strip()]
    payload = run(
        clients=clients,
        seconds=args.seconds or (1.0 if args.quick else 5.0),
        background=args.background if args.background is not None else (
            2000 if args.quick else 100_000),
        seed=args.seed,
        pg_server=args.pg_url,
        ledger=args.ledger,
        end_state=args.end_state,
    )
    finish(payload, targets_of=targets, tables_of=tables, pg_url=args.pg_url,
           json_path=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
