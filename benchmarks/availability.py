"""Availability check latency per store and table size; the calendar against 62 checks.

    python -m benchmarks.availability --sizes 10000,100000,1000000 \\
        --json benchmarks/results/availability.json --chart docs/benchmarks-chart.png

For every table size the same generated year (``benchmarks._data``) is loaded into the
in-memory store, a SQLite file and a scratch PostgreSQL database. On each store these
candidates run round-robin on the same random upcoming (date, service, period) keys,
with one warm connection shared by all of them:

* ``slotcap dynamic`` — ``check_availability(store, day, service, period=…, dynamic=True)``
  (the minutes rule: one ``period_facts`` query);
* ``slotcap legacy`` — the same with ``dynamic=False`` (the count rule: ``daily_facts``);
* ``plan baseline`` — the migration plan's ``canCreateReservationDynamic`` (§3.3)
  written faithfully: service by id, slot by (dayOfWeek, period), every PENDING /
  CONFIRMED reservation of the date and period, ``estimatedDuration || 0`` summed in
  Python — three queries on the same connection (SQL stores only);
* ``floor`` — ``SELECT 1`` on the same connection (an empty function call in memory).

Then ``availability_calendar`` over 31 days against the 62 single checks (31 dates × 2
periods) that a calendar screen would otherwise make.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import random
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks import _data
from benchmarks._cli import benchmark_parser
from benchmarks._explain import StoreStatements
from benchmarks._harness import (
    Stats,
    Target,
    finish,
    interleave,
    parse_sizes,
    pg_available,
    render_table,
    say,
    temp_pg_database,
)
from slotcap.adapters.postgres import PostgresStore
from slotcap.adapters.sqlite import SqliteStore
from slotcap.domain.calendar import day_of_week
from slotcap.domain.model import Period
from slotcap.ports import Store
from slotcap.sql.url import connect_postgres, connect_sqlite
from slotcap.usecases.availability import availability_calendar, check_availability

STORES = ("memory", "sqlite", "postgres")
DYNAMIC = "slotcap dynamic"
LEGACY = "slotcap legacy"
BASELINE = "plan baseline"
FLOOR = "floor"
#: Diagnostic (PostgreSQL): the dynamic check's own statement run directly on the
#: connection — what the check costs without slotcap's Python around it.
SQL_ONLY = "slotcap SQL alone"
#: Diagnostic (PostgreSQL): SELECT 1 on one cursor kept open, as the store now keeps
#: its cursor (the floor opens a new one per call, as ``conn.execute`` does).
FLOOR_CURSOR = "floor, reused cursor"
CALENDAR = "calendar (1 call)"
CHECKS_62 = "62 checks"
CALENDAR_DAYS = 31
CALENDAR_SERVICE = "WRINKLE_BOTOX"
#: Issue 11's target: the PostgreSQL check's p50 over SELECT 1's, at 1M rows.
MAX_OVER_FLOOR = 1.5

Key = _data.CheckKey
Fn = Callable[[Key], object]
#: A loaded store, its candidates, and what to report about the load.
Setup = Iterator[tuple[Store, list[tuple[str, Fn]], dict[str, Any]]]


# -- the plan's baseline (migration-strategy.md §3.3, canCreateReservationDynamic) ------


def plan_baseline(execute: Callable[[str, Sequence[Any]], list[Any]], mark: str) -> Fn:
    """``canCreateReservationDynamic(tx, date, serviceId, period)``, query for query.

    ``execute(sql, params)`` runs one statement on the benchmark's connection and
    returns its rows; ``mark`` is the driver's placeholder (``%s`` or ``?``).
    """
    service_sql = (
        'SELECT "durationMinutes", "bufferMinutes", "isActive" FROM "services" '
        f'WHERE "id" = {mark} LIMIT 1'
    )
    slot_sql = (
        'SELECT "totalMinutes", "isActive" FROM "clinic_time_slots" '
        f'WHERE "dayOfWeek" = {mark} AND "period" = {mark} LIMIT 1'
    )
    held_sql = (
        'SELECT "estimatedDuration" FROM "reservations" '
        f'WHERE "preferredDate" = {mark} AND "period" = {mark} '
        f'AND "status" IN ({mark}, {mark})'
    )

    def check(key: Key) -> bool:
        # 1. Get service details (the caller passed the service's id).
        service = execute(service_sql, (f"srv_{key.service.lower()}",))
        if not service or not service[0][2]:
            return False
        # 2. Get clinic time slot for this day + period (getDay(): 0 = Sunday).
        slot = execute(slot_sql, (day_of_week(key.day), key.period.value))
        if not slot or not slot[0][1]:
            return False
        # 3. Total booked time: every PENDING/CONFIRMED row, `estimatedDuration || 0`.
        held = execute(held_sql, (key.day.isoformat(), key.period.value, "PENDING", "CONFIRMED"))
        booked = sum((row[0] or 0) for row in held)
        # 4. Does this service fit?
        return bool(booked + service[0][0] + service[0][1] <= slot[0][0])

    return check


# -- candidates per store --------------------------------------------------------------------


def _slotcap_candidates(store: Store) -> list[tuple[str, Fn]]:
    def dynamic(key: Key) -> object:
        return check_availability(store, key.day, key.service, period=key.period, dynamic=True)

    def legacy(key: Key) -> object:
        return check_availability(store, key.day, key.service, dynamic=False)

    return [(DYNAMIC, dynamic), (LEGACY, legacy)]


def _calendar_candidates(store: Store) -> list[tuple[str, Callable[[dt.date], object]]]:
    def calendar(start: dt.date) -> object:
        return availability_calendar(store, start, start + dt.timedelta(days=CALENDAR_DAYS - 1))

    def checks(start: dt.date) -> object:
        return [
            check_availability(
                store, start + dt.timedelta(days=d), CALENDAR_SERVICE, period=p, dynamic=True
            )
            for d in range(CALENDAR_DAYS)
            for p in Period
        ]

    return [(CALENDAR, calendar), (CHECKS_62, checks)]


@contextlib.contextmanager
def _memory(data: _data.GeneratedData) -> Setup:
    store, steps = _data.load_memory(data)

    def empty(key: Key) -> object:
        return None

    try:
        yield store, [*_slotcap_candidates(store), (FLOOR, empty)], {"load_seconds": steps}
    finally:
        store.close()


@contextlib.contextmanager
def _sqlite(data: _data.GeneratedData) -> Setup:
    with tempfile.TemporaryDirectory(prefix="slotcap_bench_") as folder:
        path = str(Path(folder) / "bench.db")
        steps = _data.load_sqlite(path, data)
        conn = connect_sqlite(path)
        store = SqliteStore.from_connection(conn)

        def execute(sql: str, params: Sequence[Any]) -> list[Any]:
            return conn.execute(sql, params).fetchall()

        def floor(key: Key) -> object:
            return conn.execute("SELECT 1").fetchall()

        extra = {"load_seconds": steps, "plan": _sqlite_plan(conn, store)}
        try:
            yield store, [
                *_slotcap_candidates(store),
                (BASELINE, plan_baseline(execute, "?")),
                (FLOOR, floor),
            ], extra
        finally:
            store.close()
            conn.close()


@contextlib.contextmanager
def _postgres(data: _data.GeneratedData, server: str) -> Setup:
    with temp_pg_database(server, "avail") as url:
        steps = _data.load_postgres(url, data)
        conn = connect_postgres(url, autocommit=True)
        store = PostgresStore.from_connection(conn)

        def execute(sql: str, params: Sequence[Any]) -> list[Any]:
            return conn.execute(sql, params).fetchall()

        def floor(key: Key) -> object:
            return conn.execute("SELECT 1").fetchall()

        statements = StoreStatements(store)

        def sql_only(key: Key) -> object:
            sql, params = statements.period_facts(key.day, key.period, key.service)
            return conn.execute(sql, params).fetchall()

        kept = conn.cursor()

        def floor_cursor(key: Key) -> object:
            return kept.execute("SELECT 1").fetchall()

        try:
            extra = {"load_seconds": steps, "plan": _pg_plan(conn, store)}
            yield store, [
                *_slotcap_candidates(store),
                (BASELINE, plan_baseline(execute, "%s")),
                (FLOOR, floor),
                (SQL_ONLY, sql_only),
                (FLOOR_CURSOR, floor_cursor),
            ], extra
        finally:
            store.close()
            conn.close()


def _pg_plan(conn: Any, store: PostgresStore) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the dynamic check's query on a full upcoming date."""
    day = _data.TODAY + dt.timedelta(days=6)  # a Tuesday
    sql, params = StoreStatements(store).period_facts(day, Period.AFTERNOON, "SKIN_CARE")
    rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params).fetchall()
    return "\n".join(str(r[0]) for r in rows)


def _sqlite_plan(conn: sqlite3.Connection, store: SqliteStore) -> str:
    """EXPLAIN QUERY PLAN of the dynamic check's statement."""
    day = _data.TODAY + dt.timedelta(days=6)
    try:
        sql, params = StoreStatements(store).period_facts(day, Period.AFTERNOON, "SKIN_CARE")
        rows = conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    except Exception as exc:  # diagnostics must not fail the benchmark
        return f"unavailable: {type(exc).__name__}: {exc}"
    return "\n".join(str(r[-1]) for r in rows)


# -- the run -----------------------------------------------------------------------------------


def _ratio(a: Stats | None, b: Stats | None, attr: str = "p50") -> float | None:
    if a is None or b is None:
        return None
    denominator = getattr(b, attr)
    return getattr(a, attr) / denominator if denominator else None


def run(
    sizes: Sequence[int],
    stores: Sequence[str],
    *,
    checks: int,
    warmup: int,
    calendar_reps: int,
    seed: int,
    pg_server: str,
) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    calendars: list[dict[str, Any]] = []
    keys = _data.check_keys(checks + warmup, seed + 1)
    rng = random.Random(seed + 2)
    last_start = _data.YEAR_END - dt.timedelta(days=CALENDAR_DAYS - 1)
    span = (last_start - _data.TODAY).days
    starts = [
        _data.TODAY + dt.timedelta(days=rng.randint(0, span))
        for _ in range(calendar_reps + max(1, calendar_reps // 10))
    ]
    datasets: dict[int, _data.GeneratedData] = {}
    for size in sizes:
        say(f"[availability] generating {size:,} reservations …")
        data = _data.generate(size, seed, backfilled=True)
        say(f"[availability]   {len(data.rows):,} rows in {data.seconds:.1f}s; "
            f"max held/capacity = {_max_fill(data):.2f}")
        datasets[size] = data
    for name in stores:
        # Every size of one store is loaded at once and measured in one interleaved
        # run, so that "flat from 10k to 1M" compares figures taken side by side.
        with contextlib.ExitStack() as stack:
            loaded: dict[int, tuple[Store, list[tuple[str, Fn]], dict[str, Any]]] = {}
            for size in sizes:
                say(f"[availability] {name} @ {size:,}: loading …")
                if name == "memory":
                    setup = _memory(datasets[size])
                elif name == "sqlite":
                    setup = _sqlite(datasets[size])
                else:
                    setup = _postgres(datasets[size], pg_server)
                loaded[size] = stack.enter_context(setup)
            candidates = [
                (f"{label}@{size}", fn)
                for size, (_, own, _) in loaded.items()
                for label, fn in own
            ]
            calendar_candidates = [
                (f"{label}@{size}", fn)
                for size, (store, _, _) in loaded.items()
                for label, fn in _calendar_candidates(store)
            ]
            gc.collect()
            gc.freeze()  # the loaded rows are long-lived: keep them out of timed GCs
            try:
                say(f"[availability] {name}: {checks:,} checks × {len(candidates)} candidates …")
                stats = interleave(candidates, keys, warmup=warmup)
                say(f"[availability] {name}: calendar × {calendar_reps} × "
                    f"{len(calendar_candidates)} candidates …")
                cal = interleave(
                    calendar_candidates, starts, warmup=len(starts) - calendar_reps
                )
            finally:
                gc.unfreeze()
            for size, (_, _, extra) in loaded.items():
                own_stats = _of_size(stats, size)
                own_cal = _of_size(cal, size)
                results.append(_result(size, name, own_stats, extra))
                calendars.append({
                    "size": size, "store": name,
                    "candidates": {k: v.to_dict() for k, v in own_cal.items()},
                    "checks_over_calendar_p50": _round(
                        _ratio(own_cal[CHECKS_62], own_cal[CALENDAR])
                    ),
                })
        gc.collect()
    return {
        "benchmark": "availability",
        "params": {
            "sizes": list(sizes), "stores": list(stores), "checks": checks,
            "warmup": warmup, "calendar_reps": calendar_reps, "seed": seed,
            "today": _data.TODAY.isoformat(),
        },
        "results": results,
        "calendar": calendars,
    }


def _of_size(stats: dict[str, Stats], size: int) -> dict[str, Stats]:
    suffix = f"@{size}"
    return {k.removesuffix(suffix): v for k, v in stats.items() if k.endswith(suffix)}


def _max_fill(data: _data.GeneratedData) -> float:
    capacity = {(p.day, p.period): p.capacity for p in _data.open_periods()}
    return max((m / capacity[k] for k, m in data.held.items()), default=0.0)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _result(
    size: int, store: str, stats: dict[str, Stats], extra: dict[str, Any]
) -> dict[str, Any]:
    return {
        "size": size,
        "store": store,
        "candidates": {k: v.to_dict() for k, v in stats.items()},
        "ratios": {
            "dynamic_over_floor_p50": _round(_ratio(stats.get(DYNAMIC), stats.get(FLOOR))),
            "dynamic_over_floor_p99": _round(
                _ratio(stats.get(DYNAMIC), stats.get(FLOOR), "p99")
            ),
            "legacy_over_floor_p50": _round(_ratio(stats.get(LEGACY), stats.get(FLOOR))),
            "sql_alone_over_floor_p50": _round(_ratio(stats.get(SQL_ONLY), stats.get(FLOOR))),
            "dynamic_over_floor_cursor_p50": _round(
                _ratio(stats.get(DYNAMIC), stats.get(FLOOR_CURSOR))
            ),
            "baseline_over_dynamic_p50": _round(_ratio(stats.get(BASELINE), stats.get(DYNAMIC))),
            "baseline_over_dynamic_p99": _round(
                _ratio(stats.get(BASELINE), stats.get(DYNAMIC), "p99")
            ),
        },
        **extra,
    }


# -- targets, tables, chart ------------------------------------------------------------------


def _p50(payload: dict[str, Any], store: str, size: int, candidate: str) -> float | None:
    for r in payload["results"]:
        if r["store"] == store and r["size"] == size and candidate in r["candidates"]:
            return float(r["candidates"][candidate]["p50_us"])
    return None


def targets(payload: dict[str, Any]) -> list[Target]:
    found = []
    pg_sizes = sorted({r["size"] for r in payload["results"] if r["store"] == "postgres"})
    if not pg_sizes:
        return [Target("PostgreSQL check within 1.5× of SELECT 1 at 1M", "not run", "≤ 1.5×", None),
                Target("PostgreSQL check flat 10k → 1M (p50)", "not run", "≤ 1.5×", None)]
    big, small = pg_sizes[-1], pg_sizes[0]
    dyn_big = _p50(payload, "postgres", big, DYNAMIC)
    floor_big = _p50(payload, "postgres", big, FLOOR)
    if dyn_big is not None and floor_big:
        ratio = dyn_big / floor_big
        found.append(Target(
            f"PostgreSQL check (dynamic) p50 within {MAX_OVER_FLOOR}× of SELECT 1 at {big:,} rows",
            f"{ratio:.2f}× ({dyn_big:.0f} µs vs {floor_big:.0f} µs)",
            f"≤ {MAX_OVER_FLOOR}× at 1,000,000 rows",
            ratio <= MAX_OVER_FLOOR if big >= 1_000_000 else None,
        ))
    dyn_small = _p50(payload, "postgres", small, DYNAMIC)
    if dyn_big is not None and dyn_small and big > small:
        ratio = dyn_big / dyn_small
        found.append(Target(
            f"PostgreSQL check flat: p50 at {big:,} / p50 at {small:,}",
            f"{ratio:.2f}× ({dyn_big:.0f} µs vs {dyn_small:.0f} µs)",
            "≤ 1.5× from 10,000 to 1,000,000 rows",
            ratio <= 1.5 if (big >= 1_000_000 and small <= 10_000) else None,
        ))
    found.extend(_calendar_flat(payload, "sqlite", "SQLite"))
    return found


def _calendar_flat(payload: dict[str, Any], store: str, label: str) -> list[Target]:
    """The 31-day calendar's p50 at the largest size over the smallest (same run)."""
    by_size = {c["size"]: c["candidates"][CALENDAR]["p50_us"]
               for c in payload["calendar"] if c["store"] == store}
    if len(by_size) < 2:
        return []
    small, big = min(by_size), max(by_size)
    ratio = by_size[big] / by_size[small] if by_size[small] else float("inf")
    return [Target(
        f"{label} calendar flat: p50 at {big:,} / p50 at {small:,}",
        f"{ratio:.2f}× ({by_size[big] / 1000:.2f} ms vs {by_size[small] / 1000:.2f} ms)",
        "≤ 1.5× from 10,000 to 1,000,000 rows",
        ratio <= 1.5 if (big >= 1_000_000 and small <= 10_000) else None,
    )]


def tables(payload: dict[str, Any]) -> str:
    rows = []
    for r in payload["results"]:
        c = r["candidates"]
        ratios = r["ratios"]
        floor = c[FLOOR]["p50_us"]
        for name in (DYNAMIC, LEGACY, BASELINE, FLOOR, SQL_ONLY, FLOOR_CURSOR):
            if name not in c:
                continue
            rows.append((
                r["store"], r["size"], name, c[name]["p50_us"], c[name]["p99_us"],
                _x(c[name]["p50_us"] / floor if floor else None) if name != FLOOR else "",
                _x(ratios["baseline_over_dynamic_p50"]) if name == BASELINE else "",
            ))
    checks = render_table(
        ["store", "rows", "candidate", "p50 µs", "p99 µs", "p50 / floor", "baseline / slotcap"],
        rows,
    )
    cal_rows = []
    for c in payload["calendar"]:
        cand = c["candidates"]
        cal_rows.append((
            c["store"], c["size"], cand[CALENDAR]["p50_us"] / 1000, cand[CALENDAR]["p99_us"] / 1000,
            cand[CHECKS_62]["p50_us"] / 1000, cand[CHECKS_62]["p99_us"] / 1000,
            _x(c["checks_over_calendar_p50"]),
        ))
    calendar = render_table(
        ["store", "rows", "calendar p50 ms", "calendar p99 ms", "62 checks p50 ms",
         "62 checks p99 ms", "62 checks / calendar"],
        cal_rows,
    )
    return f"Availability check latency\n\n{checks}\n\n31-day calendar\n\n{calendar}"


def _x(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def chart(payload: dict[str, Any], path: str) -> None:
    """Latency (p50, with p99 dashed) against table size, one panel per store."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("[availability] matplotlib is not installed: no chart "
            "(pip install matplotlib, or the 'bench' extra)")
        return
    stores = [s for s in STORES if any(r["store"] == s for r in payload["results"])]
    fig, axes = plt.subplots(1, len(stores), figsize=(5.2 * len(stores), 4.4), squeeze=False)
    styles = {
        DYNAMIC: ("tab:blue", "o"), LEGACY: ("tab:green", "s"),
        BASELINE: ("tab:red", "^"), FLOOR: ("tab:gray", "x"),
    }
    for ax, store in zip(axes[0], stores, strict=True):
        results = sorted((r for r in payload["results"] if r["store"] == store),
                         key=lambda r: r["size"])
        for name, (color, marker) in styles.items():
            points = [
                (r["size"], r["candidates"][name]) for r in results if name in r["candidates"]
            ]
            if not points:
                continue
            xs = [p[0] for p in points]
            label = "floor" if name == FLOOR else name
            ax.plot(xs, [p[1]["p50_us"] for p in points], color=color, marker=marker,
                    label=f"{label} p50")
            ax.plot(xs, [p[1]["p99_us"] for p in points], color=color, linestyle="--",
                    alpha=0.5, label=f"{label} p99")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title({"memory": "in-memory", "sqlite": "SQLite",
                      "postgres": "PostgreSQL"}[store])
        ax.set_xlabel("reservations in the table")
        ax.set_ylabel("latency per check (µs)")
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0][-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize="small")
    fig.suptitle("Availability check latency against table size (one warm connection; "
                 "floor = SELECT 1, or an empty call in memory)")
    fig.tight_layout(rect=(0, 0.14, 1, 0.95))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    say(f"[availability] chart written to {path}")


# -- command line ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = benchmark_parser("availability", __doc__)
    parser.add_argument("--sizes", type=parse_sizes, default=None,
                        help="table sizes (default 10000,100000; --quick 2000)")
    parser.add_argument("--stores", default=",".join(STORES),
                        help="comma-separated subset of memory,sqlite,postgres")
    parser.add_argument("--checks", type=int, default=None,
                        help="timed checks per candidate (default 2000; --quick 60)")
    parser.add_argument("--calendar-reps", type=int, default=None,
                        help="timed calendar / 62-check rounds (default 30; --quick 3)")
    parser.add_argument("--chart", metavar="PNG", help="draw the latency chart here")
    parser.add_argument("--chart-from", metavar="JSON",
                        help="only redraw --chart from an earlier --json file")
    args = parser.parse_args(argv)

    if args.chart_from:
        payload = json.loads(Path(args.chart_from).read_text(encoding="utf-8"))
        chart(payload, args.chart or "docs/benchmarks-chart.png")
        return 0

    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    unknown = set(stores) - set(STORES)
    if unknown:
        parser.error(f"unknown store(s): {', '.join(sorted(unknown))}")
    if "postgres" in stores and not pg_available(args.pg_url):
        say("[availability] PostgreSQL not reachable at --pg-url: skipping it")
        stores.remove("postgres")
    sizes = args.sizes or ([2000] if args.quick else [10_000, 100_000])
    checks = args.checks or (60 if args.quick else 2000)
    calendar_reps = args.calendar_reps or (3 if args.quick else 30)
    warmup = max(10, checks // 20)

    payload = run(sizes, stores, checks=checks, warmup=warmup, calendar_reps=calendar_reps,
                  seed=args.seed, pg_server=args.pg_url)
    finish(payload, targets_of=targets, tables_of=tables,
           pg_url=args.pg_url if "postgres" in stores else None, json_path=args.json)
    if args.chart:
        chart(payload, args.chart)
    return 0


if __name__ == "__main__":
    sys.exit(main())
