"""HTTP overhead of ``slotcap serve``: the same calls over HTTP and in-process.

    python -m benchmarks.http_load --json benchmarks/results/http_load.json

A scratch PostgreSQL database gets a generated year of background reservations (as the
booking benchmark's), then for 8 and 64 concurrent clients, two operations:

* **availability** — ``GET /api/public/reservations/availability?date=&service=``
  (both periods of a date and whether the service fits), dates cycling over the year
  ahead;
* **booking** — ``POST /api/public/reservations`` with the plan's body (dynamic rule,
  a 25-minute service), each client on its own dates and periods, moving on when one
  answers 409 (full). Every booking a run made is deleted before the next run, so all
  runs book the same empty periods.

Each is run three times with the same work: **HTTP** — client threads, each with its
own keep-alive ``httpx.Client``, against ``slotcap serve`` (one uvicorn process, a
subprocess on the same machine) with the open-internet checks off (``--rate-limit-*
0``, no ``Idempotency-Key``); **HTTP+checks** — the same against a second server with
them on: the per-client rate limiter on every ``/api`` request (limits set so high that
it never refuses: its cost, not its refusals), an operator token, and a fresh
``Idempotency-Key`` on every booking (the key's lookup and insert in the booking's
transaction); and **in-process** — the same number of threads
calling the adapter's own handlers (``slotcap.http.handlers``, the functions
the routes run: request mapping, the use case, the reply) on one shared store, as the
server does. The ratio in-process/HTTP of requests/s and HTTP/in-process of p50 and
p99 latency is the HTTP overhead: the ASGI server, Starlette, JSON and the loopback,
*and the HTTP client's own CPU* on the same cores. HTTP/HTTP+checks is the checks' cost
per request. A third operation, **metrics** (``GET /metrics``, HTTP modes only), shows the
operator token's check. The duplicate-booking rule is a library rule, on in every mode.

Reported per run: requests/s, p50/p99 latency, statuses; afterwards an SQL audit of
overbooked periods (must be 0) and the count of 5xx answers (must be 0).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks import _data
from benchmarks._cli import add_background_argument, benchmark_parser, postgres_missing
from benchmarks._harness import (
    Target,
    finish,
    render_table,
    run_threads,
    say,
    summarize,
    temp_pg_database,
)
from slotcap.domain.calendar import day_of_week
from slotcap.domain.defaults import DEFAULT_TIME_SLOTS
from slotcap.domain.model import Period
from slotcap.sql import open_sql

OPERATIONS = ("availability", "booking", "metrics")
MODES = ("in-process", "in-process+key", "http", "http+checks")
#: Each (operation, clients) is run in this many rounds, the modes taking turns within
#: each round, so that a shared machine's load drifts over all modes alike; the checks'
#: cost is the median of the rounds' ratios.
ROUNDS = 4
#: The HTTP+checks server's limits: so high that the limiter runs and never refuses.
_NEVER_LIMITED = "999999999/m"
_TOKEN = "bench-operator-token"  # noqa: S105 (a benchmark's token)
SERVICE = "OTHER_CONSULTATION"  # 20 + 5 minutes: 7 a morning, 9 an afternoon
PATH = "/api/public/reservations"
_ENV = {"USE_DYNAMIC_SERVICES": "true"}
#: Each server's worker threads (``slotcap serve --threads``) and the in-process pool's
#: size: each holds one database connection. 8 (half the default) so that the three sets
#: — two servers and the pool — fit beside the other users of a shared PostgreSQL.
THREADS = 8
#: Requests of the warm-up burst before the timed runs (opens every worker's connection).
_WARM = 256


def _targets(start: dt.date, days: int) -> list[tuple[dt.date, Period]]:
    """Every open (date, period) in ``days`` days from ``start``."""
    open_slots = {(s.day_of_week, s.period) for s in DEFAULT_TIME_SLOTS if s.is_active}
    return [(day, period)
            for day in (start + dt.timedelta(days=n) for n in range(days))
            for period in Period if (day_of_week(day), period) in open_slots]


def _body(day: dt.date, period: Period, n: int) -> dict[str, object]:
    return {"patient_name": "Test Patient", "phone": f"010-1234-{n % 10_000:04d}",
            "birth_date": "1990-01-01", "gender": "FEMALE", "treatment_type": "FIRST_VISIT",
            "service": SERVICE, "preferred_date": day.isoformat(), "period": period.value}


@dataclasses.dataclass
class _Result:
    ns: list[int] = dataclasses.field(default_factory=list)
    statuses: dict[int, int] = dataclasses.field(default_factory=dict)


#: One request: (operation, JSON body or None, query or None) -> HTTP status.
Call = Callable[[str, dict[str, object] | None, dict[str, str] | None], int]


def _client(
    call_factory: Callable[[], tuple[Call, Callable[[], None]]],
    operation: str, client: int, clients: int, count: int,
    targets: list[tuple[dt.date, Period]], ready: threading.Barrier, out: _Result,
) -> None:
    call, close = call_factory()
    try:
        own: Iterator[tuple[dt.date, Period]] = iter(targets[client::clients])
        target = next(own)
        days = [t[0] for t in targets]
        call("availability", None, {"date": days[0].isoformat(), "service": SERVICE})  # warm
        ready.wait()
        clock = time.perf_counter_ns
        for n in range(count):
            began = clock()
            if operation == "availability":
                day = days[(client * count + n) % len(days)]
                status = call(operation, None, {"date": day.isoformat(), "service": SERVICE})
            else:
                status = call(operation, _body(*target, client * count + n), None)
                if status == 409:
                    target = next(own)
            out.ns.append(clock() - began)
            out.statuses[status] = out.statuses.get(status, 0) + 1
    finally:
        close()


def _http_factory(base: str, checks: bool) -> Callable[[], tuple[Call, Callable[[], None]]]:
    import uuid

    import httpx

    def factory() -> tuple[Call, Callable[[], None]]:
        client = httpx.Client(base_url=base, timeout=60)
        operator = {"Authorization": f"Bearer {_TOKEN}"} if checks else {}

        def call(operation: str, body: dict[str, object] | None,
                 params: dict[str, str] | None) -> int:
            if operation == "booking":
                key = {"Idempotency-Key": str(uuid.uuid4())} if checks else {}
                return client.post(PATH, json=body, headers=key).status_code
            if operation == "metrics":
                return client.get("/metrics", headers=operator).status_code
            return client.get(PATH + "/availability", params=params).status_code

        return call, client.close

    return factory


def _inprocess_factory(
    app: Any, pool: concurrent.futures.ThreadPoolExecutor, keyed: bool = False,
) -> Callable[[], tuple[Call, Callable[[], None]]]:
    """The handlers run in a pool of the server's size (``--threads``), as the server
    runs them in its worker threads: the same work, the same concurrency cap. ``keyed``:
    every booking carries a fresh Idempotency-Key (its lookup and insert)."""
    import uuid

    from slotcap.http import handlers

    def work(operation: str, body: dict[str, object] | None,
             params: dict[str, str] | None) -> int:
        if operation == "booking":
            key = str(uuid.uuid4()) if keyed else None
            return handlers.create_reservation(app, body, None, key)[0].status
        assert params is not None
        reply, _ = handlers.guarded(lambda: handlers.availability(app, params, None))
        return reply.status

    def factory() -> tuple[Call, Callable[[], None]]:
        def call(operation: str, body: dict[str, object] | None,
                 params: dict[str, str] | None) -> int:
            return pool.submit(work, operation, body, params).result()

        return call, lambda: None

    return factory


def _run(factory: Callable[[], tuple[Call, Callable[[], None]]], operation: str,
         clients: int, requests: int, targets: list[tuple[dt.date, Period]]) -> dict[str, Any]:
    each = max(1, requests // clients)
    results = [_Result() for _ in range(clients)]
    ready = threading.Barrier(clients + 1)
    threads = [threading.Thread(target=_client, daemon=True, args=(
        factory, operation, i, clients, each, targets, ready, results[i]))
        for i in range(clients)]
    wall = run_threads(threads, ready)
    samples = [ns for r in results for ns in r.ns]
    statuses: dict[str, int] = {}
    for r in results:
        for status, n in r.statuses.items():
            statuses[str(status)] = statuses.get(str(status), 0) + n
    return {"requests": len(samples), "seconds": round(wall, 3),
            "requests_per_s": round(len(samples) / wall, 1),
            "latency": summarize(samples).to_dict(), "statuses": statuses,
            "_samples": samples}


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The rounds of one mode as one run (their samples and statuses together)."""
    samples = [ns for p in parts for ns in p["_samples"]]
    seconds = sum(p["seconds"] for p in parts)
    statuses: dict[str, int] = {}
    for p in parts:
        for status, n in p["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    return {"requests": len(samples), "seconds": round(seconds, 3),
            "requests_per_s": round(len(samples) / seconds, 1),
            "latency": summarize(samples).to_dict(), "statuses": statuses,
            "rounds_requests_per_s": [p["requests_per_s"] for p in parts]}


def _applies(operation: str, mode: str) -> bool:
    if operation == "metrics":
        return mode.startswith("http")
    return mode != "in-process+key" or operation == "booking"


def _guard_cost(calls: int = 20_000) -> list[dict[str, Any]]:
    """The guard middleware's own CPU per request, in-process (no server, no network):
    an ASGI app that answers at once, called directly and through the guard with the
    limits on (never refusing) and a token, alternating in rounds; µs per request."""
    import asyncio
    import statistics

    from slotcap.http.guard import GuardMiddleware, GuardSettings

    async def answer(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    guard = GuardMiddleware(answer, GuardSettings(
        operator_token=_TOKEN, bookings_per_minute=999_999_999,
        reads_per_minute=999_999_999))

    async def sent(_message: Any) -> None:
        return None

    async def received() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    def scope(path: str, method: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
        return {"type": "http", "path": path, "method": method, "client": ("127.0.0.1", 1),
                "headers": [(b"host", b"x"), (b"user-agent", b"bench"), *headers]}

    cases = {
        "limiter (GET /api/…/availability)": scope(PATH + "/availability", "GET", []),
        "limiter (POST /api/public/reservations)": scope(PATH, "POST", []),
        "operator token (GET /metrics)": scope("/metrics", "GET", [
            (b"authorization", f"Bearer {_TOKEN}".encode())]),
    }

    async def timed(app: Any, one: dict[str, Any]) -> float:
        began = time.perf_counter_ns()
        for _ in range(calls):
            await app(one, received, sent)
        return (time.perf_counter_ns() - began) / calls / 1000

    async def measure() -> list[dict[str, Any]]:
        out = []
        for name, one in cases.items():
            deltas, plain_us = [], []
            for _ in range(5):
                bare = await timed(answer, one)
                through = await timed(guard, one)
                deltas.append(through - bare)
                plain_us.append(bare)
            out.append({"check": name, "us_per_request": round(statistics.median(deltas), 2),
                        "bare_app_us": round(statistics.median(plain_us), 2)})
        return out

    return asyncio.run(measure())


def _start_server(url: str, workdir: Path, checks: bool) -> tuple[subprocess.Popen[bytes], str]:
    workdir = workdir / ("checks" if checks else "plain")
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / "serve.out"
    env = {k: v for k, v in os.environ.items()
           if k not in ("SLOTCAP_DATABASE_URL", "DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE",
                        "SLOTCAP_OPERATOR_TOKEN")}
    env.update(_ENV)
    limit = _NEVER_LIMITED if checks else "0"
    if checks:
        env["SLOTCAP_OPERATOR_TOKEN"] = _TOKEN
    with out.open("wb") as stdout, (workdir / "serve.err").open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "slotcap.cli", "serve", "--database", url, "--port", "0",
             "--json", "--log-level", "warning", "--threads", str(THREADS),
             "--rate-limit-bookings", limit, "--rate-limit-reads", limit],
            stdout=stdout, stderr=stderr, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = out.read_text(encoding="utf-8").split("\n", 1)
        if len(line) == 2:
            return process, str(json.loads(line[0])["url"])
        if process.poll() is not None:
            raise RuntimeError((workdir / "serve.err").read_text(encoding="utf-8"))
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("slotcap serve did not start")


def _reset(url: str, first_day: dt.date) -> None:
    with open_sql(url) as conn:
        conn.execute('DELETE FROM "reservations" WHERE "preferredDate" >= %s', (first_day,))


def _overbooked(url: str) -> int:
    with open_sql(url) as conn:
        over = conn.scalar(
            'SELECT COUNT(*) FROM ('
            ' SELECT r."preferredDate", r."period", SUM(r."estimatedDuration") AS held'
            ' FROM "reservations" r'
            " WHERE r.\"status\" IN ('PENDING', 'CONFIRMED') AND r.\"period\" IS NOT NULL"
            ' GROUP BY r."preferredDate", r."period") h'
            ' LEFT JOIN "clinic_time_slots" t'
            '  ON t."dayOfWeek" = EXTRACT(DOW FROM h."preferredDate")::int'
            '  AND t."period" = h."period" AND t."isActive"'
            ' WHERE t."id" IS NULL OR h.held > t."totalMinutes"'
        )
    return int(over or 0)


def run(*, clients: Sequence[int], requests: dict[str, int], background: int, seed: int,
        pg_server: str, workdir: Path) -> dict[str, Any]:
    import slotcap

    runs: list[dict[str, Any]] = []
    first_day = dt.date.today() + dt.timedelta(days=1)
    targets = _targets(first_day, 360)
    worst = 0
    with temp_pg_database(pg_server, "http") as url:
        say(f"[http_load] loading {background:,} background reservations …")
        data = _data.generate(background, seed, backfilled=True)
        load = _data.load_postgres(url, data)
        del data
        process, base = _start_server(url, workdir, checks=False)
        checked, checked_base = _start_server(url, workdir, checks=True)
        app = slotcap.bootstrap(url, env=_ENV)
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=THREADS)
        factories = {"http": _http_factory(base, False),
                     "http+checks": _http_factory(checked_base, True),
                     "in-process": _inprocess_factory(app, pool),
                     "in-process+key": _inprocess_factory(app, pool, keyed=True)}
        try:
            for mode in MODES:
                _run(factories[mode], "availability", max(clients), _WARM, targets)
            for operation in OPERATIONS:
                for n in clients:
                    parts: dict[str, list[dict[str, Any]]] = {}
                    for _round in range(ROUNDS):
                        for mode in MODES:
                            if not _applies(operation, mode):
                                continue
                            _reset(url, first_day)
                            part = _run(factories[mode], operation, n,
                                        max(n, requests[operation] // ROUNDS), targets)
                            worst = max(worst, _overbooked(url))
                            parts.setdefault(mode, []).append(part)
                    for mode, done in parts.items():
                        result = _merge(done)
                        result.update(operation=operation, clients=n, mode=mode)
                        say(f"[http_load] {operation}, {n} clients, {mode}: "
                            f"{result['requests_per_s']:.0f} requests/s, "
                            f"statuses {result['statuses']}")
                        runs.append(result)
        finally:
            pool.shutdown()
            app.close()
            for server in (process, checked):
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=60)
    return {
        "benchmark": "http_load",
        "params": {"clients": list(clients), "requests": requests, "threads": THREADS,
                   "background_rows": background, "seed": seed, "service": SERVICE},
        "load_seconds": load,
        "overbooked_periods": worst,
        "runs": runs,
        "ratios": _ratios(runs),
        "checks_cost": _checks_cost(runs),
        "guard_cost": _guard_cost(),
    }


def _ratios(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for operation in OPERATIONS:
        for n in sorted({r["clients"] for r in runs}):
            pair = {r["mode"]: r for r in runs
                    if r["operation"] == operation and r["clients"] == n}
            if not {"in-process", "http"} <= set(pair):
                continue
            local, http = pair["in-process"], pair["http"]
            found.append({
                "operation": operation, "clients": n,
                "throughput_ratio": round(local["requests_per_s"] / http["requests_per_s"], 2),
                "p50_ratio": round(http["latency"]["p50_us"] / local["latency"]["p50_us"], 2),
                "p99_ratio": round(http["latency"]["p99_us"] / local["latency"]["p99_us"], 2),
            })
    return found


def _checks_cost(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The open-internet checks against the same run without them: HTTP against
    HTTP+checks, and in-process bookings without and with an Idempotency-Key."""
    import statistics

    found = []
    for operation in OPERATIONS:
        for n in sorted({r["clients"] for r in runs}):
            pair = {r["mode"]: r for r in runs
                    if r["operation"] == operation and r["clients"] == n}
            for base, with_checks in (("http", "http+checks"), ("in-process", "in-process+key")):
                if {base, with_checks} <= set(pair):
                    found.append(_cost(operation, n, pair[base], pair[with_checks],
                                       f"{with_checks} vs {base}", statistics.median))
    return found


def _cost(operation: str, n: int, plain: dict[str, Any], checked: dict[str, Any],
          compared: str, median: Callable[[list[float]], float]) -> dict[str, Any]:
    rounds = [a / b for a, b in zip(plain["rounds_requests_per_s"],
                                    checked["rounds_requests_per_s"], strict=True)]
    return {
                "operation": operation, "clients": n, "compared": compared,
                "throughput_ratio": round(median(rounds), 3),
                "p50_ratio": round(checked["latency"]["p50_us"] / plain["latency"]["p50_us"],
                                   3),
                "p50_delta_us": round(checked["latency"]["p50_us"]
                                      - plain["latency"]["p50_us"], 1),
                "mean_delta_us": round(checked["latency"]["mean_us"]
                                       - plain["latency"]["mean_us"], 1),
    }


def targets(payload: dict[str, Any]) -> list[Target]:
    errors = sum(n for r in payload["runs"] for status, n in r["statuses"].items()
                 if status.startswith("5"))
    unexpected = sum(n for r in payload["runs"] for status, n in r["statuses"].items()
                     if status not in ("200", "409"))
    return [
        Target("overbooked periods after every run (SQL audit)",
               str(payload["overbooked_periods"]), "0", payload["overbooked_periods"] == 0),
        Target("5xx answers", str(errors), "0", errors == 0),
        Target("answers other than 200/409", str(unexpected), "0", unexpected == 0),
    ]


def tables(payload: dict[str, Any]) -> str:
    rows = [(r["operation"], r["clients"], r["mode"], r["requests"], r["requests_per_s"],
             r["latency"]["p50_us"] / 1000, r["latency"]["p99_us"] / 1000,
             " ".join(f"{k}:{v}" for k, v in sorted(r["statuses"].items())))
            for r in payload["runs"]]
    ratios = [(r["operation"], r["clients"], r["throughput_ratio"], r["p50_ratio"],
               r["p99_ratio"]) for r in payload["ratios"]]
    costs = [(r["operation"], r["clients"], r["compared"], r["throughput_ratio"],
              r["p50_ratio"], r["p50_delta_us"], r["mean_delta_us"])
             for r in payload.get("checks_cost", [])]
    guard = [(r["check"], r["us_per_request"], r["bare_app_us"])
             for r in payload.get("guard_cost", [])]
    return (
        "HTTP load (slotcap serve, PostgreSQL) against the same calls in-process\n\n"
        + render_table(["operation", "clients", "mode", "requests", "requests/s",
                        "p50 ms", "p99 ms", "statuses"], rows)
        + "\n\nHTTP overhead (in-process requests/s ÷ HTTP requests/s; HTTP latency ÷ "
        "in-process latency)\n\n"
        + render_table(["operation", "clients", "throughput ratio", "p50 ratio",
                        "p99 ratio"], ratios)
        + "\n\nCost of the open-internet checks (rate limiter, operator token, "
        "Idempotency-Key): requests/s without ÷ with (median of the rounds); latency with "
        "÷ without; added latency per request\n\n"
        + render_table(["operation", "clients", "compared", "throughput ratio", "p50 ratio",
                        "p50 +µs", "mean +µs"], costs)
        + "\n\nThe guard middleware's own CPU per request (in-process, median of 5 "
        "rounds)\n\n"
        + render_table(["check", "µs per request", "bare app µs"], guard)
    )


def summary(payload: dict[str, Any]) -> list[str]:
    """The HTTP overhead, the checks' cost and the guard's CPU, a line each."""
    return [
        *(f"HTTP overhead, {ratio['operation']} at {ratio['clients']} clients: "
          f"in-process is {ratio['throughput_ratio']}x the HTTP requests/s; "
          f"HTTP p50 is {ratio['p50_ratio']}x, p99 {ratio['p99_ratio']}x in-process"
          for ratio in payload["ratios"]),
        *(f"Checks' cost, {cost['operation']} at {cost['clients']} clients "
          f"({cost['compared']}): without them {cost['throughput_ratio']}x the "
          f"requests/s (median of {ROUNDS} rounds); p50 {cost['p50_ratio']}x "
          f"({cost['p50_delta_us']:+} µs)"
          for cost in payload["checks_cost"]),
        *(f"Guard's CPU, {guard['check']}: {guard['us_per_request']:+} µs per request "
          f"(bare app {guard['bare_app_us']} µs)"
          for guard in payload["guard_cost"]),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = benchmark_parser("http_load", __doc__)
    parser.add_argument("--clients", default="8,64", help="client counts (default %(default)s)")
    parser.add_argument("--requests", type=int, default=None,
                        help="requests per run and operation (default 2000; --quick 200)")
    add_background_argument(parser)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the server's output goes (default: a temporary folder)")
    args = parser.parse_args(argv)
    try:
        import httpx  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        say("[http_load] needs the server and dev extras (pip install -e '.[server,dev]')")
        return 0 if args.quick else 1
    if (missing := postgres_missing(args, "http_load")) is not None:
        return missing
    count = args.requests or (200 if args.quick else 2000)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="slotcap-http-load-") as scratch:
        payload = run(
            clients=[int(c) for c in args.clients.split(",") if c.strip()],
            requests={"availability": count, "booking": count, "metrics": count // 4},
            background=args.background if args.background is not None else (
                2000 if args.quick else 100_000),
            seed=args.seed, pg_server=args.pg_url,
            workdir=args.workdir or Path(scratch),
        )
        finish(payload, targets_of=targets, tables_of=tables, pg_url=args.pg_url,
               json_path=args.json, summary=summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
