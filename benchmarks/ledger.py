"""Phase 2's ledger of held load: availability against ``SELECT 1`` at growing table
sizes, and what its triggers cost a write.

    python -m benchmarks.ledger --sizes 30000,300000,3000000

Per size, one generated year (``benchmarks._data``, backfilled rows) is loaded into a
scratch PostgreSQL database (COPY, phase 2's read indexes, VACUUM ANALYZE) and the
migration's own ledger steps create and fill the ledger. Then, twice — right after the
fill (the ledger's rows never vacuumed; the fill ANALYZEs it) and after ``VACUUM
(ANALYZE)`` — these candidates run round-robin on the same random upcoming keys:

* ``check`` — ``slotcap.open_store(url)`` + ``check_availability(..., dynamic=True)``:
  the public API, the ledger's one primary-key row (the catalogue from the store's
  snapshot, as before);
* ``rows sum, SQL alone`` — for comparison, the statement the check ran before the
  ledger (one probe of the date's held rows), on a kept cursor;
* ``ledger row, SQL alone`` — the check's own statement once the fill is complete (the
  ledger row by its primary key) on a kept cursor: what the database does for a check;
* ``row + frontier, SQL alone`` — the statement before the fill is complete (the
  frontier and the ledger row, two primary-key probes), on a kept cursor;
* ``ledger row, libpq alone`` — the same statement as the check runs it (the lean
  path, ``slotcap.adapters.sql.wire.ledger_row``: prepared once, ``exec_prepared``
  with encoded text parameters) on a third connection: the round trip a check cannot
  go below; the check's distance from it is slotcap's Python;
* ``floor`` — ``SELECT 1`` on a kept cursor of another connection;
* ``calendar 35 days, first sight`` — ``availability_calendar`` over 35 days, each
  range decoded (the lean calendar's decode memo bypassed: what a range the store has
  not seen lately costs); ``calendar 35 days, repeat`` — the same call on the same
  store with its memo, over 8 ranges in turn (each asked again: a screen reloaded,
  patients looking at the same weeks) — the database is still asked every time, the
  70 entries built once per distinct reply; ``calendar range, libpq alone`` — its one
  statement as the lean calendar runs it (``wire_range.ledger_range``, the range's held
  minutes as a list). In their own round-robin with the floor.

Writes: single-row INSERT commits/s (autocommit, one client per database) on two
databases of one server, the ledger's trigger enabled on one and disabled on the other,
alternating insert by insert, with ``synchronous_commit`` on (a real commit) and off
(the CPU cost alone); the slowdown is the median of the rounds' own ratios (and their
range). First at phase 2 (a dual-written row; the trigger
keeps minutes and per-service counts), then the same database contracted to phase 4
(the trigger keeps the minutes alone). Also the trigger's own server time per row
(EXPLAIN ANALYZE of a 3,000-row INSERT … SELECT, rolled back): CPU alone, least noisy.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import re
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from benchmarks import _data
from benchmarks._cli import benchmark_parser
from benchmarks._harness import (
    ORDERS,
    Target,
    finish,
    interleave,
    parse_sizes,
    pg_available,
    render_table,
    say,
    temp_pg_database,
)
from slotcap import open_store
from slotcap.adapters.sql.held_sql import LEDGER_HELD, LEDGER_ROW, period_held_sql
from slotcap.adapters.sql.wire import ledger_row
from slotcap.adapters.sql.wire_range import ledger_range
from slotcap.migration.phases import migrate
from slotcap.migration.transitions.common import ensure_ledger
from slotcap.schema.legacy import create_legacy_schema
from slotcap.sql import open_sql
from slotcap.sql.connection import SqlConnection
from slotcap.sql.dialect import Dialect
from slotcap.sql.url import connect_postgres
from slotcap.usecases.availability import availability_calendar, check_availability

Key = _data.CheckKey
CHECK, ROWS, FLOOR = "check", "rows sum, SQL alone", "floor"
CALENDAR, CALENDAR_FIRST = "calendar 35 days, repeat", "calendar 35 days, first sight"
LEDGER_SQL, LEDGER_WIRE = "ledger row, SQL alone", "ledger row, libpq alone"
RANGE_WIRE = "calendar range, libpq alone"
FRONTIER_SQL = "row + frontier, SQL alone"
CHECK_GOAL, CALENDAR_GOAL, WRITE_GOAL = 1.2, 1.5, 0.15
TRIGGER = "slotcap_ledger_sync"
_INSERT = (
    'INSERT INTO "reservations" ("id","patientName","phone","birthDate","gender",'
    '"treatmentType","preferredDate","preferredTime","service","updatedAt",'
    '"serviceId","serviceName","estimatedDuration","period","status") '
    "VALUES (%s,'Bench','010-0000-0000','1985-05-05','MALE','FOLLOW_UP',"
    "%s,'10:00','SKIN_CARE',CURRENT_TIMESTAMP,'srv_skin_care','피부케어',70,'MORNING',"
    "'CONFIRMED')"
)


def _measure(url: str, keys: list[Key], checks: int, warmup: int, order: str
             ) -> dict[str, Any]:
    store = open_store(url)
    floor_conn = connect_postgres(url)
    floor_conn.autocommit = True
    kept = floor_conn.cursor()
    rows_conn = connect_postgres(url)
    rows_conn.autocommit = True
    rows_cur = rows_conn.cursor()
    rows_sql = period_held_sql()
    ledger_cur = rows_conn.cursor()
    frontier_cur = rows_conn.cursor()
    wire_conn = connect_postgres(url)
    wire_conn.autocommit = True
    wire_sc = SqlConnection(wire_conn, Dialect.POSTGRES)

    def floor(_k: Key) -> object:
        kept.execute("SELECT 1")
        return kept.fetchall()

    def check(k: Key) -> object:
        return check_availability(store, k.day, k.service, period=k.period, dynamic=True)

    def rows(k: Key) -> object:
        rows_cur.execute(rows_sql, {"day": k.day, "period": k.period.value})
        return rows_cur.fetchall()

    def sql_row(k: Key) -> object:
        ledger_cur.execute(LEDGER_ROW, {"day": k.day, "period": k.period.value})
        return ledger_cur.fetchall()

    def with_frontier(k: Key) -> object:
        frontier_cur.execute(LEDGER_HELD, {"day": k.day, "period": k.period.value})
        return frontier_cur.fetchall()

    def lean_row(k: Key) -> object:
        return ledger_row(wire_sc, k.day, k.period)

    part = store._calendar  # type: ignore[attr-defined]  # diagnostics: the SQL store's
    memo = part.memo
    repeated = itertools.cycle([k.day for k in keys[:8]])

    def calendar(_k: Key) -> object:  # memo on: 8 ranges in turn, each seen before
        day = next(repeated)
        return availability_calendar(store, day, day + dt.timedelta(days=34))

    def first_sight(k: Key) -> object:  # memo bypassed: every reply decoded
        part.memo = None
        try:
            return availability_calendar(store, k.day, k.day + dt.timedelta(days=34))
        finally:
            part.memo = memo

    def lean_range(k: Key) -> object:
        return ledger_range(wire_sc, k.day, k.day + dt.timedelta(days=34))

    try:
        point = interleave([(CHECK, check), (LEDGER_SQL, sql_row), (LEDGER_WIRE, lean_row),
                            (FRONTIER_SQL, with_frontier), (ROWS, rows), (FLOOR, floor)],
                           keys[:checks + warmup], warmup=warmup, order=order)
        span = max(checks // 10, 20)
        cal = interleave([(CALENDAR_FIRST, first_sight), (CALENDAR, calendar),
                          (RANGE_WIRE, lean_range), (FLOOR, floor)],
                         keys[:span + warmup], warmup=warmup, order=order)
    finally:
        store.close()
        floor_conn.close()
        rows_conn.close()
        wire_conn.close()
    out = {name: s.to_dict() for name, s in point.items()}
    out[CALENDAR] = cal[CALENDAR].to_dict()
    out[CALENDAR_FIRST] = cal[CALENDAR_FIRST].to_dict()
    out[RANGE_WIRE] = cal[RANGE_WIRE].to_dict()
    out["calendar floor"] = cal[FLOOR].to_dict()
    return out


def _size_run(server: str, size: int, seed: int, checks: int, order: str
              ) -> dict[str, Any]:
    warmup = max(20, checks // 20)
    keys = _data.check_keys(checks + warmup, seed)
    with temp_pg_database(server, f"ledger{size}") as url:
        data = _data.generate(size, seed)
        say(f"[ledger] {size:,} rows: loading")
        steps = _data.load_postgres(url, data)
        started = time.perf_counter()
        with open_sql(url) as conn:
            ensure_ledger(conn, say)
        steps["ledger"] = time.perf_counter() - started
        say(f"[ledger] {size:,} rows: measuring right after the fill")
        fresh = _measure(url, keys, checks, warmup, order)
        with open_sql(url) as conn:
            conn.execute("VACUUM (ANALYZE)")
        say(f"[ledger] {size:,} rows: measuring vacuumed")
        vacuumed = _measure(url, keys, checks, warmup, order)
    return {"size": size, "load_seconds": steps, "after_fill": fresh, "vacuumed": vacuumed}


_INSERT_P4 = _INSERT.replace('"preferredTime","service",', "").replace(",'10:00','SKIN_CARE',", ",")
#: The trigger's own time per row, from the server: EXPLAIN ANALYZE of a 3,000-row
#: INSERT … SELECT (its "Trigger … time=" line; rolled back) — CPU only, no client,
#: network or commit in it, so far less noisy than commits/s on a shared machine.
_BULK = 3000


def _trigger_us(conn: Any, sql: str, tag: str) -> float:
    values = sql.split("VALUES (%s,", 1)[1].replace("%s", "DATE '2026-01-01' + (g * 37 % 365)")
    bulk = (sql.split("VALUES", 1)[0] + f"SELECT 't{tag}_' || g, {values[:-1]} "
            f"FROM generate_series(1, {_BULK}) g")
    conn.execute("BEGIN")
    try:
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (ANALYZE) " + bulk).fetchall())
    finally:
        conn.execute("ROLLBACK")
    found = re.search(rf"Trigger {TRIGGER}: time=([\d.]+) calls=(\d+)", plan)
    return 0.0 if found is None else float(found.group(1)) * 1000 / int(found.group(2))


def _write_rounds(conns: dict[str, Any], sql: str, rounds: int, per_round: int,
                  rng: random.Random, first: int) -> dict[str, Any]:
    """Single-row INSERT commits on two databases of the same server, one with the
    trigger and one without, *alternating insert by insert* (which goes first alternates
    per round): load that comes and goes on a shared machine falls on both alike. Per
    round, commits/s of each from the round's total time; the slowdown is the median of
    the rounds' own ratios, with their range."""
    rates: dict[str, list[float]] = {mode: [] for mode in conns}
    n = first
    for r in range(rounds):
        spent = dict.fromkeys(conns, 0.0)
        order = list(conns) if r % 2 == 0 else list(conns)[::-1]
        for _ in range(per_round):
            day = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(365))
            n += 1
            for mode in order:
                began = time.perf_counter()
                conns[mode].execute(sql, (f"b{n}", day))
                spent[mode] += time.perf_counter() - began
        for mode in conns:
            rates[mode].append(per_round / spent[mode])
    slower = sorted(1 - w / wo for w, wo in zip(rates["with trigger"],
                                                 rates["without trigger"], strict=True))
    return {**{mode: round(statistics.median(v), 1) for mode, v in rates.items()},
            "slower_median": round(statistics.median(slower), 4),
            "slower_range": [round(slower[0], 4), round(slower[-1], 4)], "rounds": rounds}


def _clean(url: str) -> None:
    """Every row is the benchmark's: delete them and zero the ledger (the trigger was
    off on one side), so that phase 4's gate finds ledger == recount."""
    with open_sql(url) as c:
        c.execute(f'ALTER TABLE "reservations" DISABLE TRIGGER "{TRIGGER}"')
        c.execute('DELETE FROM "reservations"')
        c.execute(f'ALTER TABLE "reservations" ENABLE TRIGGER "{TRIGGER}"')
        for table in ("slotcap_ledger_periods", "slotcap_ledger_services"):
            c.execute(f'DELETE FROM "{table}"')


def _writes(server: str, rounds: int, per_round: int, seed: int) -> dict[str, Any]:
    """Phase 2's trigger (minutes and per-service counts), then phase 4's (minutes only)
    once both databases are contracted; per phase, ``synchronous_commit`` on and off."""
    rng = random.Random(seed)
    out: dict[str, Any] = {}
    with temp_pg_database(server, "ledgerw") as on_url, \
            temp_pg_database(server, "ledgerwo") as off_url:
        urls = {"with trigger": on_url, "without trigger": off_url}
        for url in urls.values():
            with open_sql(url) as c:
                create_legacy_schema(c)
            migrate(url, to="phase2")
        n = 0
        for phase, sql in (("phase2", _INSERT), ("phase4", _INSERT_P4)):
            if phase == "phase4":
                for url in urls.values():
                    _clean(url)
                    migrate(url, to="phase4", confirm=True)
            conns = {mode: connect_postgres(url) for mode, url in urls.items()}
            try:
                for conn in conns.values():
                    conn.autocommit = True
                conns["without trigger"].execute(
                    f'ALTER TABLE "reservations" DISABLE TRIGGER "{TRIGGER}"')
                for sync in ("on", "off"):
                    for conn in conns.values():
                        conn.execute(f"SET synchronous_commit = {sync}")
                    say(f"[ledger] writes, {phase}, synchronous_commit={sync}")
                    out[f"{phase}, synchronous_commit={sync}"] = _write_rounds(
                        conns, sql, rounds, per_round, rng, n)
                    n += rounds * per_round
                out[f"{phase}, trigger µs/row"] = round(statistics.median(
                    _trigger_us(conns["with trigger"], sql, f"{phase}{r}") for r in range(5)), 1)
            finally:
                for conn in conns.values():
                    conn.close()
    return out


def _ratio(run: dict[str, Any], name: str, floor: str = FLOOR) -> float:
    return float(run[name]["p50_us"]) / float(run[floor]["p50_us"])


def targets(payload: dict[str, Any]) -> list[Target]:
    found = []
    for size in payload["sizes"]:
        for state in ("after_fill", "vacuumed"):
            run = size[state]
            r = _ratio(run, CHECK)
            found.append(Target(f"check / SELECT 1, {size['size']:,} rows, {state}",
                                f"{r:.2f}×", f"≤ {CHECK_GOAL}×", r <= CHECK_GOAL))
            for name, seen in ((CALENDAR_FIRST, "first sight"), (CALENDAR, "repeat")):
                c = _ratio(run, name, "calendar floor")
                found.append(Target(
                    f"35-day calendar ({seen}) / SELECT 1, {size['size']:,} rows, {state}",
                    f"{c:.2f}×", f"≤ {CALENDAR_GOAL}×", c <= CALENDAR_GOAL))
    for sync, rates in _write_runs(payload):
        slower = rates["slower_median"]
        found.append(Target(f"INSERT commits/s with the trigger, {sync}",
                            f"{slower:+.1%} slower", f"≤ {WRITE_GOAL:.0%}", slower <= WRITE_GOAL))
    return found


def tables(payload: dict[str, Any]) -> str:
    rows = []
    for size in payload["sizes"]:
        for state in ("after_fill", "vacuumed"):
            run = size[state]
            for name in (CHECK, LEDGER_SQL, LEDGER_WIRE, FRONTIER_SQL, ROWS, FLOOR,
                         CALENDAR_FIRST, CALENDAR, RANGE_WIRE, "calendar floor"):
                if name not in run:
                    continue
                floor = "calendar floor" if name.startswith("calendar") else FLOOR
                rows.append((f"{size['size']:,}", state, name, run[name]["p50_us"],
                             run[name]["p99_us"], f"{_ratio(run, name, floor):.2f}×"))
    text = render_table(["rows", "state", "candidate", "p50 µs", "p99 µs", "× floor"], rows)
    writes = [(sync, r["with trigger"], r["without trigger"], f"{r['slower_median']:+.1%}",
               f"{r['slower_range'][0]:+.1%} … {r['slower_range'][1]:+.1%}", r["rounds"])
              for sync, r in _write_runs(payload)]
    if writes:
        text += "\n\n" + render_table(
            ["setting", "with trigger /s", "without /s", "slower (median of rounds)",
             "rounds' range", "rounds"], writes)
        text += "\n\n" + render_table(["trigger, server time", "µs per row"], [
            (k, v) for k, v in payload["writes"].items() if k.endswith("µs/row")])
    return text


def _write_runs(payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(k, v) for k, v in payload.get("writes", {}).items() if isinstance(v, dict)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = benchmark_parser("ledger", __doc__)
    parser.add_argument("--sizes", type=parse_sizes, default=None,
                        help="table sizes (default 30000,300000; --quick 2000)")
    parser.add_argument("--checks", type=int, default=None,
                        help="timed checks per candidate (default 2000; --quick 60)")
    parser.add_argument("--write-rounds", type=int, default=None,
                        help="alternating rounds per write setting (default 16; --quick 2)")
    parser.add_argument("--write-rows", type=int, default=None,
                        help="single-row INSERTs per round (default 200; --quick 30)")
    parser.add_argument("--order", choices=ORDERS, default="shuffled",
                        help="the candidates' order per key: a seeded shuffle (default: each "
                        "runs after every other equally often) or the cyclic rotation of "
                        "earlier rounds (each always after the same neighbour)")
    args = parser.parse_args(argv)
    if not pg_available(args.pg_url):
        say("[ledger] PostgreSQL not reachable at --pg-url")
        return 2
    sizes = args.sizes or ([2000] if args.quick else [30_000, 300_000])
    checks = args.checks or (60 if args.quick else 2000)
    payload: dict[str, Any] = {"order": args.order,
                               "sizes": [_size_run(args.pg_url, s, args.seed, checks, args.order)
                                         for s in sizes]}
    payload["writes"] = _writes(args.pg_url, args.write_rounds or (2 if args.quick else 16),
                                args.write_rows or (30 if args.quick else 200), args.seed)
    finish(payload, targets_of=targets, tables_of=tables, pg_url=args.pg_url,
           json_path=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
