"""Backfill throughput and peak memory on SQLite and PostgreSQL.

    python -m benchmarks.backfill --sizes 100000,1000000 --json benchmarks/results/backfill.json

For each engine and size: a scratch database with the legacy DDL, the generated year
as *legacy* rows (old columns only; ``preferredTime`` from every sample text, including
the ones the parser must refuse), phase 1 applied to the full table (as in production:
indexes built concurrently on PostgreSQL), VACUUM ANALYZE. Then ``run_backfill(conn)``
runs in a **fresh subprocess** (``--worker``), so one run's memory cannot pollute the
next; it reports wall time and the growth of its peak resident set during the backfill
(Linux ``VmHWM``, reset through ``/proc/self/clear_refs`` just before the backfill,
minus ``VmRSS`` before it — psycopg's and SQLite's C allocations included, which
tracemalloc would miss; ``ru_maxrss`` is reported too but cannot be used alone: after
fork + exec it starts from the parent's RSS). Afterwards the parent checks the result
with SQL.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._cli import benchmark_parser
from benchmarks._harness import (
    Target,
    finish,
    parse_sizes,
    pg_available,
    render_table,
    repo_root,
    say,
    temp_pg_database,
)

ENGINES = ("sqlite", "postgres")
MiB = 1024 * 1024


def _status_bytes(field: str) -> int | None:
    """A ``VmRSS`` / ``VmHWM`` line of /proc/self/status, in bytes (Linux only)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset this process's peak RSS (``VmHWM``) to its current RSS (Linux ≥ 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _maxrss_bytes() -> int:
    # Linux reports kilobytes. Caveat: after fork + exec the child's ru_maxrss starts
    # from the *parent's* RSS at fork time, so on its own it cannot show a child's
    # growth when the parent is large; VmHWM (per address space) can.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker(url: str, batch_size: int | None) -> dict[str, Any]:
    """Run one backfill in this (fresh) process and measure it."""
    from slotcap.migration.backfill import run_backfill
    from slotcap.sql import open_sql

    with open_sql(url) as conn:
        conn.execute("SELECT 1")
        rss_before = _status_bytes("VmRSS")
        reset = _reset_peak()
        before = _maxrss_bytes()
        started = time.perf_counter()
        if batch_size is None:
            report = run_backfill(conn)
        else:
            report = run_backfill(conn, batch_size=batch_size)
        seconds = time.perf_counter() - started
        after = _maxrss_bytes()
        hwm = _status_bytes("VmHWM") if reset else None
    if rss_before is not None and hwm is not None:
        # The peak resident set *during* the backfill, and how far above the RSS the
        # process had when it started (imports, connection) it went.
        peak, growth = hwm, hwm - rss_before
        method = "VmHWM (reset via /proc/self/clear_refs) - VmRSS before"
    else:
        peak, growth = after, after - before
        method = "ru_maxrss after - before"
    return {
        "seconds": round(seconds, 3),
        "rows_scanned": report.rows_scanned,
        "rows_updated": report.rows_updated,
        "batches": report.batches,
        "abstained": report.periods["abstained"],
        "distinct_times_parsed": report.distinct_times_parsed,
        "rss_before_mib": None if rss_before is None else round(rss_before / MiB, 1),
        "peak_rss_mib": round(peak / MiB, 1),
        "peak_growth_mib": round(growth / MiB, 1),
        "memory_method": method,
        "ru_maxrss_before_mib": round(before / MiB, 1),
        "ru_maxrss_after_mib": round(after / MiB, 1),
    }


def _spawn_worker(url: str, batch_size: int | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.backfill", "--worker", url]
    if batch_size is not None:
        command += ["--batch-size", str(batch_size)]
    done = subprocess.run(
        command, cwd=repo_root(), capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(repo_root())},
    )
    if done.returncode != 0:
        raise RuntimeError(f"backfill worker failed ({done.returncode}):\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _check(url: str) -> dict[str, int]:
    from slotcap.sql import open_sql

    with open_sql(url) as conn:
        missing_service = conn.scalar(
            'SELECT COUNT(*) FROM "reservations" WHERE "serviceId" IS NULL '
            'OR "serviceName" IS NULL OR "estimatedDuration" IS NULL'
        )
        no_period = conn.scalar('SELECT COUNT(*) FROM "reservations" WHERE "period" IS NULL')
        journal = conn.scalar('SELECT COUNT(*) FROM "slotcap_backfill_journal"')
    return {
        "rows_missing_service_columns": int(missing_service or 0),
        "rows_without_period": int(no_period or 0),
        "journal_rows": int(journal or 0),
    }


def _one(engine: str, size: int, seed: int, server: str, batch_size: int | None) -> dict[str, Any]:
    from benchmarks import _data

    say(f"[backfill] {engine} @ {size:,}: generating legacy rows …")
    data = _data.generate(size, seed, backfilled=False)
    if engine == "postgres":
        with temp_pg_database(server, "backfill") as url:
            say(f"[backfill] {engine} @ {size:,}: loading (COPY, phase 1, VACUUM ANALYZE) …")
            load = _data.load_postgres(url, data)
            del data
            say(f"[backfill] {engine} @ {size:,}: run_backfill in a subprocess …")
            result = _spawn_worker(url, batch_size)
            result.update(_check(url))
    else:
        with tempfile.TemporaryDirectory(prefix="slotcap_bench_") as folder:
            url = f"sqlite:///{Path(folder) / 'backfill.db'}"
            say(f"[backfill] {engine} @ {size:,}: loading (executemany, phase 1) …")
            load = _data.load_sqlite(url.removeprefix("sqlite:///"), data)
            del data
            say(f"[backfill] {engine} @ {size:,}: run_backfill in a subprocess …")
            result = _spawn_worker(url, batch_size)
            result.update(_check(url))
    result.update({
        "engine": engine,
        "size": size,
        "rows_per_s": round(result["rows_scanned"] / result["seconds"], 1)
        if result["seconds"] else None,
        "load_seconds": {k: round(v, 2) for k, v in load.items()},
    })
    say(f"[backfill]   {result['seconds']:.1f}s, {result['rows_per_s']:,.0f} rows/s, "
        f"peak +{result['peak_growth_mib']} MiB")
    return result


def run(
    sizes: Sequence[int], engines: Sequence[str], *, seed: int, server: str,
    batch_size: int | None,
) -> dict[str, Any]:
    runs = [_one(e, s, seed, server, batch_size) for e in engines for s in sizes]
    return {
        "benchmark": "backfill",
        "params": {"sizes": list(sizes), "engines": list(engines), "seed": seed,
                   "batch_size": batch_size or "run_backfill default"},
        "runs": runs,
    }


def targets(payload: dict[str, Any]) -> list[Target]:
    pg = {r["size"]: r for r in payload["runs"] if r["engine"] == "postgres"}
    found = []
    million = pg.get(1_000_000)
    found.append(Target(
        "backfill of 1,000,000 rows on PostgreSQL",
        "not run" if million is None else
        f"{million['seconds']:.1f} s ({million['rows_per_s']:,.0f} rows/s)",
        "≤ 60 s",
        None if million is None else million["seconds"] <= 60,
    ))
    sizes = sorted(pg)
    if len(sizes) >= 2:
        small, big = pg[sizes[0]], pg[sizes[-1]]
        grow_small, grow_big = small["peak_growth_mib"], big["peak_growth_mib"]
        flat = grow_big <= max(grow_small * 1.25, grow_small + 5.0)
        found.append(Target(
            f"peak memory growth, {sizes[-1]:,} vs {sizes[0]:,} rows (PostgreSQL)",
            f"+{grow_big} MiB vs +{grow_small} MiB",
            "does not grow with the table (≤ 1.25× or ≤ +5 MiB)",
            flat if sizes[-1] >= 10 * sizes[0] else None,
        ))
    else:
        found.append(Target("peak memory flat in table size (PostgreSQL)", "one size only",
                            "100k vs 1M", None))
    return found


def tables(payload: dict[str, Any]) -> str:
    rows = [
        (r["engine"], r["size"], r["seconds"], r["rows_per_s"], r["batches"],
         r["peak_growth_mib"], r["peak_rss_mib"], r["abstained"],
         r["rows_missing_service_columns"], r["load_seconds"].get("phase1", 0.0))
        for r in payload["runs"]
    ]
    return "Backfill (run_backfill, one subprocess per run)\n\n" + render_table(
        ["engine", "rows", "seconds", "rows/s", "batches", "peak growth MiB",
         "peak RSS MiB", "abstained (review)", "service cols missing", "phase 1 s"],
        rows,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = benchmark_parser("backfill", __doc__)
    parser.add_argument("--sizes", type=parse_sizes, default=None,
                        help="legacy table sizes (default 100000; --quick 2000)")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="comma-separated subset of sqlite,postgres")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="run_backfill's batch_size (default: the library's default)")
    parser.add_argument("--worker", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.batch_size)))
        return 0
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if "postgres" in engines and not pg_available(args.pg_url):
        say("[backfill] PostgreSQL not reachable at --pg-url: skipping it")
        engines.remove("postgres")
    sizes = args.sizes or ([2000] if args.quick else [100_000])
    payload = run(sizes, engines, seed=args.seed, server=args.pg_url, batch_size=args.batch_size)
    finish(payload, targets_of=targets, tables_of=tables,
           pg_url=args.pg_url if "postgres" in engines else None, json_path=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
