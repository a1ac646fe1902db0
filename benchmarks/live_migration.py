"""What a live app sees while an operator runs every migration step (issue 15).

    python -m benchmarks.live_migration [--sizes 30000,300000] [--quick] [--json FILE]

For each size: a PostgreSQL database of N legacy reservations built from the reference
legacy DDL (COPY), then 4 app threads, each with ONE store opened before phase 1
(``slotcap.open_store``), booking through ``slotcap.book`` on the rules the rollout
allows in that step (legacy rule before phase 2; both at phase 2; the minutes rule
around phase 4) and reading through ``slotcap.check_availability``, while the main
thread runs the real library steps: phase 1, backfill, phase 2, phase 4 and the
rollbacks phase4→phase2→phase1→legacy. Per step: app operations, app-visible errors
by type (``ReservationFull`` is an answer, not an error; nothing else is filtered), p99
and max app latency, the longest strong-lock hold (a ``HoldLog`` passed to the step) and the
step's time. Then the availability check's p50 against ``SELECT 1`` right after phase 2.

Second scenario (on the same database, back at legacy): a session idle in transaction
on ``reservations`` for 8 s while phase 1 starts, and again while phase 4 starts.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from benchmarks._cli import benchmark_parser
from benchmarks._harness import (
    Target,
    finish,
    parse_sizes,
    pg_available,
    render_table,
    say,
    temp_pg_database,
)
from benchmarks._live import TODAY, AppTraffic, legacy_database, stats
from slotcap import check_availability, open_store
from slotcap.errors import SlotcapError
from slotcap.migration import MigrationReport, migrate, rollback
from slotcap.migration.backfill import run_backfill
from slotcap.migration.ddl.lock_policy import DEFAULT_POLICY, HoldLog, HoldObserver
from slotcap.migration.engine.runlock import migration_lock
from slotcap.migration.throttle import DEFAULT_PAUSE
from slotcap.sql import open_sql

__all__ = ["main", "run_idle_scenario", "run_path"]

THREADS = 4
STALL_GOAL = 0.5
#: Seconds between phase 1 and the backfill (see run_path).
DUAL_WRITE_WAIT = 1.5
LEGACY, BOTH, DYNAMIC = (False,), (False, True), (True,)


def _backfill(url: str, _on_hold: HoldObserver | None = None) -> None:
    # As `slotcap backfill` runs it: the default pause, automatic back-off.
    with open_sql(url) as conn, migration_lock(conn):
        run_backfill(conn, pause=DEFAULT_PAUSE)


#: A step's action: the URL and who hears its strong locks' hold times.
Action = Callable[[str, HoldObserver], object]
#: (step, the rules the rollout allows on both sides of it, the action, rules after it)
STEPS: list[tuple[str, tuple[bool, ...], Action, tuple[bool, ...]]] = [
    ("phase1", LEGACY, lambda u, h: migrate(u, to="phase1", on_hold=h), LEGACY),
    ("backfill", LEGACY, _backfill, LEGACY),
    ("phase2", LEGACY, lambda u, h: migrate(u, to="phase2", on_hold=h), BOTH),
    ("phase4", DYNAMIC, lambda u, h: migrate(u, to="phase4", confirm=True, on_hold=h), DYNAMIC),
    ("rollback phase4→phase2", DYNAMIC, lambda u, h: rollback(u, to="phase2", on_hold=h), BOTH),
    ("rollback phase2→phase1", LEGACY, lambda u, h: rollback(u, to="phase1", on_hold=h),
     LEGACY),
    ("rollback phase1→legacy", LEGACY, lambda u, h: rollback(u, to="legacy", on_hold=h),
     LEGACY),
]


def _step(app: AppTraffic, url: str, name: str, action: Action,
          settle: float) -> dict[str, Any]:
    log = HoldLog()
    started = time.perf_counter()
    outcome = "completed"
    try:
        report = action(url, log)
        if isinstance(report, MigrationReport):
            outcome = f"at {report.reached.value}" + ("" if report.ok else " (paused)")
    except SlotcapError as exc:
        outcome = f"stopped: {exc.code}"
    ended = time.perf_counter()
    time.sleep(settle)
    window = stats(app.snapshot(), started, ended)
    holds = log.holds()
    longest = max(holds, key=lambda h: h[1]) if holds else ("", 0.0)
    return {
        "step": name, "outcome": outcome, "operations": window.operations,
        "errors": window.errors, "p99_ms": window.p99_ms, "max_ms": window.max_ms,
        "longest_hold_ms": round(longest[1] * 1000, 1), "longest_hold_what": longest[0],
        "seconds": round(ended - started, 2),
    }


def _availability(url: str, reps: int) -> dict[str, float]:
    """p50 of the availability check (minutes rule, a day inside the data) against a
    ``SELECT 1`` round trip, interleaved, app paused."""
    store = open_store(url)
    conn = psycopg.connect(url, autocommit=True)
    day = TODAY.replace(year=2025, month=6, day=2)
    checks: list[int] = []
    floors: list[int] = []
    try:
        for i in range(reps + 20):
            t = time.perf_counter_ns()
            check_availability(store, day, "WRINKLE_BOTOX", period="MORNING", dynamic=True)
            c = time.perf_counter_ns() - t
            t = time.perf_counter_ns()
            conn.execute("SELECT 1").fetchone()
            f = time.perf_counter_ns() - t
            if i >= 20:
                checks.append(c)
                floors.append(f)
    finally:
        store.close()
        conn.close()
    check_us = statistics.median(checks) / 1000
    floor_us = statistics.median(floors) / 1000
    return {"check_p50_us": round(check_us, 1), "select1_p50_us": round(floor_us, 1),
            "ratio": round(check_us / floor_us, 2)}


def run_path(url: str, *, threads: int = THREADS, settle: float = 0.5,
             availability_reps: int = 500) -> dict[str, Any]:
    """Every step and back with the app running; the availability figure after phase 2."""
    rows: list[dict[str, Any]] = []
    availability: dict[str, float] = {}
    with AppTraffic(url, threads) as app:
        time.sleep(settle)
        for name, during, action, after in STEPS:
            app.rules = during
            say(f"[live_migration] {name} …")
            rows.append(_step(app, url, name, action, settle))
            app.rules = after
            if name == "phase1":
                # Long-lived stores notice phase 1 within a second (they re-read the
                # catalogue at most that often) and dual-write from then on; the
                # operator starts the backfill once the app dual-writes.
                time.sleep(DUAL_WRITE_WAIT)
            if name == "phase2":
                app.paused.set()
                time.sleep(0.2)
                availability = _availability(url, availability_reps)
                app.paused.clear()
    return {"steps": rows, "availability_after_phase2": availability}


def _hold_reader(url: str, seconds: float) -> threading.Thread:
    conn = psycopg.connect(url, autocommit=False, application_name="idle report")
    conn.execute('SELECT count(*) FROM "reservations"')

    def end() -> None:
        time.sleep(seconds)
        conn.rollback()
        conn.close()

    thread = threading.Thread(target=end, daemon=True)
    thread.start()
    return thread


def run_idle_scenario(url: str, *, hold: float = 8.0, threads: int = THREADS,
                      settle: float = 0.5) -> list[dict[str, Any]]:
    """An idle-in-transaction reader for ``hold`` s while phase 1 starts, and again
    while phase 4 starts (backfill and phase 2 in between, not measured)."""
    rows = []
    with AppTraffic(url, threads) as app:
        time.sleep(settle)
        reader = _hold_reader(url, hold)
        time.sleep(0.1)
        rows.append(_step(app, url, "phase1 (idle reader)",
                          lambda u, h: migrate(u, to="phase1", on_hold=h), settle))
        reader.join()
        time.sleep(DUAL_WRITE_WAIT)
        _backfill(url)
        migrate(url, to="phase2")
        app.rules = DYNAMIC
        reader = _hold_reader(url, hold)
        time.sleep(0.1)
        rows.append(_step(app, url, "phase4 (idle reader)",
                          lambda u, h: migrate(u, to="phase4", confirm=True, on_hold=h),
                          settle))
        reader.join()
    for row in rows:
        row["reader_seconds"] = hold
    return rows


def run(sizes: Sequence[int], *, pg_server: str, hold: float, seed: int) -> dict[str, Any]:
    results = []
    for size in sizes:
        with temp_pg_database(pg_server, "live") as url:
            say(f"[live_migration] loading {size:,} legacy reservations …")
            t = time.perf_counter()
            legacy_database(url, size, seed)
            say(f"[live_migration] loaded in {time.perf_counter() - t:.1f} s")
            path = run_path(url)
            idle = run_idle_scenario(url, hold=hold)
        results.append({"size": size, **path, "idle": idle})
    return {"benchmark": "live_migration", "threads": THREADS,
            "lock_policy": {"start": DEFAULT_POLICY.start,
                            "cap": DEFAULT_POLICY.cap,
                            "budget": DEFAULT_POLICY.budget},
            "results": results}


def _errors_text(errors: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(errors.items())) or "0"


def tables(payload: dict[str, Any]) -> str:
    out = []
    for result in payload["results"]:
        out.append(f"{result['size']:,} reservations, {payload['threads']} app threads")
        out.append(render_table(
            ["step", "outcome", "app ops", "app errors", "p99 ms", "max ms",
             "longest strong-lock hold ms", "step s"],
            [[r["step"], r["outcome"], r["operations"], _errors_text(r["errors"]),
              r["p99_ms"], r["max_ms"], r["longest_hold_ms"], r["seconds"]]
             for r in result["steps"] + result["idle"]]))
        a = result["availability_after_phase2"]
        out.append(f"availability check right after phase 2: p50 {a['check_p50_us']} µs "
                   f"vs SELECT 1 {a['select1_p50_us']} µs ({a['ratio']}×)")
        out.append("")
    return "\n".join(out).rstrip()


def targets(payload: dict[str, Any]) -> list[Target]:
    found = []
    results = payload["results"]
    for result in results:
        size = result["size"]
        steps = result["steps"]
        errors = sum(sum(r["errors"].values()) for r in steps)
        found.append(Target(f"{size:,} rows: app-visible errors, whole path and back",
                            str(errors), "0", errors == 0))
        worst = max(r["max_ms"] for r in steps)
        found.append(Target(f"{size:,} rows: longest app stall, whole path",
                            f"{worst} ms", f"≤ {STALL_GOAL * 1000:.0f} ms",
                            worst <= STALL_GOAL * 1000))
        idle = result["idle"]
        idle_errors = sum(sum(r["errors"].values()) for r in idle)
        idle_worst = max(r["max_ms"] for r in idle)
        found.append(Target(f"{size:,} rows: idle reader — app stall, errors",
                            f"{idle_worst} ms, {idle_errors} errors",
                            f"≤ {STALL_GOAL * 1000:.0f} ms, 0 errors",
                            idle_worst <= STALL_GOAL * 1000 and idle_errors == 0))
    if len(results) >= 2:
        small, big = results[0], results[-1]
        s = max(r["max_ms"] for r in small["steps"])
        b = max(r["max_ms"] for r in big["steps"])
        found.append(Target(
            f"longest stall does not grow: {small['size']:,} → {big['size']:,} rows",
            f"{s} ms → {b} ms", f"both ≤ {STALL_GOAL * 1000:.0f} ms",
            max(s, b) <= STALL_GOAL * 1000))
        sh = max(r["longest_hold_ms"] for r in small["steps"])
        bh = max(r["longest_hold_ms"] for r in big["steps"])
        found.append(Target(
            f"longest strong-lock hold: {small['size']:,} → {big['size']:,} rows",
            f"{sh} ms → {bh} ms", "no growth with the table (≤ 2× + 50 ms)",
            bh <= 2 * sh + 50))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = benchmark_parser("live_migration", __doc__)
    parser.add_argument("--sizes", type=parse_sizes, default=None,
                        help="table sizes (default 300000; --quick 30000)")
    parser.add_argument("--hold", type=float, default=8.0,
                        help="seconds the idle reader holds its transaction (default 8)")
    args = parser.parse_args(argv)
    if not pg_available(args.pg_url):
        say("[live_migration] PostgreSQL not reachable at --pg-url")
        return 2
    sizes = args.sizes or ([30_000] if args.quick else [300_000])
    payload = run(sizes, pg_server=args.pg_url, hold=args.hold, seed=args.seed)
    finish(payload, targets_of=targets, tables_of=tables, pg_url=args.pg_url,
           json_path=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
