"""Pooled (PgBouncer, transaction mode) against direct PostgreSQL, in one run; with
``--faults``, what the application sees during a restart and a failover.

    python -m benchmarks.pooled [--quick] [--faults] [--json benchmarks/results/pooled.json]

A scratch phase-1 database on the server of ``--pg-url``; a private PgBouncer 1.18
(``benchmarks/_pooler.py``: ``pool_mode=transaction``, ``--pool-size`` 4) in front
of the same server. Two long-lived stores, as ``slotcap serve`` holds one:
``open_store(direct_url)`` and ``open_store(pooled_url + "?pgbouncer=true")``.

* **availability latency**: ``check_availability(..., dynamic=True)`` on the same keys,
  the two stores interleaved call by call (``_harness.interleave``), one thread;
* **booking throughput**: 8 threads sharing one store book their own periods for a fixed
  time, the direct and the pooled store taking turns (direct, pooled, direct, pooled)
  so that the machine's noise hits both; successful bookings/s and errors.

``--faults`` builds a private primary with a synchronous standby
(``benchmarks/_clusters.py``) and runs 8 threads booking and checking through one store
on the multi-host URL (``target_session_attrs=read-write``) while the primary is
restarted (``pg_ctl restart -m fast``) and then crashes (``stop -m immediate``) and the
standby is promoted: the calls that failed, by error class; how long failures lasted;
the time from the promotion to the first booking; acknowledged bookings missing after.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks._cli import benchmark_parser
from benchmarks._harness import (
    Target,
    finish,
    interleave,
    pg_available,
    render_table,
    run_threads,
    say,
    temp_pg_database,
)
from benchmarks._pooler import pgbouncer_binary, running_pgbouncer
from slotcap import open_store
from slotcap.domain.clock import DayClock
from slotcap.errors import ReservationFull
from slotcap.migration import migrate
from slotcap.ports import Store
from slotcap.schema.legacy import create_legacy_schema
from slotcap.sql import open_sql
from slotcap.usecases.availability import check_availability
from slotcap.usecases.booking import book
from slotcap.usecases.request import BookingRequest

FIRST_DAY = dt.date(2031, 1, 6)  # a Monday, past any generated data
HORIZON = 3650
#: Pooled p50 of an availability check may be at most this many times the direct one.
MAX_LATENCY_RATIO = 3.0


def _request(day: dt.date, period: str, n: int) -> BookingRequest:
    return BookingRequest(
        patient_name=f"부하 시험 {n}", phone=f"010-{1000 + n // 10000 % 9000}-{n % 10000:04d}",
        birth_date="1990-01-01", gender="FEMALE", treatment_type="FIRST_VISIT",
        service="SKIN_CARE", preferred_date=day.isoformat(), period=period)


def _book_one(store: Store, day: dt.date, period: str, n: int) -> bool:
    try:
        book(store, _request(day, period, n), dynamic=True, clock=DayClock(FIRST_DAY),
             horizon_days=HORIZON)
    except ReservationFull:
        return False
    return True


def _throughput(store: Store, first_day: dt.date, clients: int, seconds: float
                ) -> dict[str, Any]:
    """``clients`` threads on one store, each on its own dates: bookings/s, errors."""
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    stop = threading.Event()
    ready = threading.Barrier(clients + 1)

    def client(c: int) -> None:
        mine: Counter[str] = Counter()
        n = c * 1_000_000
        ready.wait()
        day = first_day + dt.timedelta(days=c)
        period = "MORNING"
        while not stop.is_set():
            n += 1
            try:
                if _book_one(store, day, period, n):
                    mine["booked"] += 1
                    continue
            except Exception as exc:  # counted, shown in the table
                mine[type(exc).__name__] += 1
                continue
            # Full: the next period of this client's dates (weekdays only: open both).
            if period == "MORNING":
                period = "AFTERNOON"
            else:
                period = "MORNING"
                day += dt.timedelta(days=clients if (day + dt.timedelta(days=clients))
                                    .weekday() < 5 else clients + 7)
        with lock:
            counts.update(mine)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    elapsed = run_threads(threads, ready, seconds=seconds, stop=stop)
    errors = {k: v for k, v in counts.items() if k != "booked"}
    return {"booked": counts["booked"], "seconds": round(elapsed, 3),
            "per_second": round(counts["booked"] / elapsed, 1), "errors": errors}


def phase1_database(url: str) -> None:
    """The reference legacy schema taken to phase 1 by slotcap's own migration (the
    plan's services and weekly hours)."""
    with open_sql(url) as conn:
        create_legacy_schema(conn)
    report = migrate(url, to="phase1")
    if not report.ok:
        raise RuntimeError(report.message)


def run_pooled(pg_url: str, *, quick: bool, pool_size: int = 4) -> dict[str, Any]:
    checks = 300 if quick else 3000
    seconds = 1.0 if quick else 4.0
    with temp_pg_database(pg_url, "pooled") as direct_url, \
            running_pgbouncer(pg_url, pool_size=pool_size) as pooler:
        phase1_database(direct_url)
        pooled_url = pooler.url(direct_url.rpartition("/")[2])
        with open_store(direct_url) as direct, open_store(pooled_url) as pooled:
            say(f"availability: {checks} checks per store, interleaved")
            days = [FIRST_DAY + dt.timedelta(days=i % 60) for i in range(checks)]
            latency = interleave(
                [(name, _checker(store)) for name, store in
                 (("direct", direct), ("pooled", pooled))], days, warmup=50)
            rounds: dict[str, list[dict[str, Any]]] = {"direct": [], "pooled": []}
            for turn, (name, store) in enumerate(
                    [("direct", direct), ("pooled", pooled)] * 2):
                say(f"booking: {name}, 8 threads, {seconds:g} s")
                first = FIRST_DAY + dt.timedelta(days=365 * (turn + 1))
                rounds[name].append(_throughput(store, first, 8, seconds))
    return {"availability": {k: v.to_dict() for k, v in latency.items()},
            "booking": rounds, "pool_size": pool_size, "clients": 8}


def _checker(store: Store) -> Callable[[dt.date], object]:
    def check(day: dt.date) -> object:
        return check_availability(store, day, "SKIN_CARE", period="MORNING", dynamic=True)
    return check


def _rate(rounds: Sequence[dict[str, Any]]) -> float:
    booked = sum(r["booked"] for r in rounds)
    seconds = sum(r["seconds"] for r in rounds)
    return booked / seconds if seconds else 0.0


def _tables(payload: dict[str, Any]) -> str:
    parts = []
    pooled = payload.get("pooled")
    if pooled:
        lat = pooled["availability"]
        parts.append("Availability check, interleaved (µs)\n" + render_table(
            ["store", "n", "p50", "p99", "mean"],
            [[name, s["n"], s["p50_us"], s["p99_us"], s["mean_us"]] for name, s in lat.items()]))
        rows = []
        for name, rounds in pooled["booking"].items():
            errors: Counter[str] = Counter()
            for r in rounds:
                errors.update(r["errors"])
            rows.append([name, sum(r["booked"] for r in rounds), round(_rate(rounds), 1),
                         ", ".join(f"{k} {v}" for k, v in errors.items()) or "0"])
        parts.append(f"Booking throughput, 8 threads on one store (two rounds each; "
                     f"the pooler has {pooled['pool_size']} server connections)\n"
                     + render_table(["store", "booked", "bookings/s", "errors"], rows))
    faults = payload.get("faults")
    if faults:
        parts.append("Faults, 8 threads on one store, multi-host URL\n" + render_table(
            ["event", "calls", "failed", "by error", "failing for (s)",
             "first booking after (s)", "acknowledged lost"],
            [[name, f["calls"], f["failed"], ", ".join(f"{k} {v}" for k, v in
                                                      f["errors"].items()) or "-",
              f["failing_seconds"], f["first_booking_after"], f.get("lost", "-")]
             for name, f in faults.items()]))
    return "\n\n".join(parts)


def _targets(payload: dict[str, Any]) -> list[Target]:
    found = []
    pooled = payload.get("pooled")
    if pooled:
        lat = pooled["availability"]
        ratio = lat["pooled"]["p50_us"] / lat["direct"]["p50_us"]
        found.append(Target("pooled availability p50 / direct", f"{ratio:.2f}x",
                            f"<= {MAX_LATENCY_RATIO:g}x", ratio <= MAX_LATENCY_RATIO))
        share = _rate(pooled["booking"]["pooled"]) / max(_rate(pooled["booking"]["direct"]), 1e-9)
        # Reported, not judged: the pooler's server connections bound the concurrency of
        # booking transactions by design (docs/runbook.md, connection budgeting).
        found.append(Target("pooled booking throughput / direct", f"{share:.2f}",
                            "(reported)", None))
        errors = sum(sum(r["errors"].values()) for rounds in pooled["booking"].values()
                     for r in rounds)
        found.append(Target("booking errors (both stores)", str(errors), "0", errors == 0))
    faults = payload.get("faults")
    if faults:
        other = sum(v for f in faults.values() for k, v in f["errors"].items()
                    if k not in ("StoreUnavailable", "BookingOutcomeUnknown"))
        found.append(Target("errors other than StoreUnavailable", str(other), "0", other == 0))
        lost = faults["failover"].get("lost", 0)
        found.append(Target("acknowledged bookings lost in failover", str(lost), "0",
                            lost == 0))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = benchmark_parser("pooled", __doc__)
    parser.add_argument("--pool-size", type=int, default=4, dest="pool_size",
                        help="PgBouncer's server connections (default: %(default)s)")
    parser.add_argument("--faults", action="store_true",
                        help="also restart and fail over a private primary/standby pair")
    args = parser.parse_args(argv)
    # psycopg warns (through logging's last resort) about each pipeline a lost connection
    # ended; the table counts those calls already.
    logging.getLogger("psycopg").setLevel(logging.ERROR)
    if not pg_available(args.pg_url):
        say(f"PostgreSQL is not reachable at {args.pg_url}")
        return 1
    if pgbouncer_binary() is None:
        say("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
        return 1
    payload: dict[str, Any] = {"benchmark": "pooled",
                               "pooled": run_pooled(args.pg_url, quick=args.quick,
                                                     pool_size=args.pool_size)}
    if args.faults:
        from benchmarks._fault_run import run_faults

        payload["faults"] = run_faults(quick=args.quick)
    finish(payload, targets_of=_targets, tables_of=_tables, pg_url=args.pg_url,
           json_path=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
