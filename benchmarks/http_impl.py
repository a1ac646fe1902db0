"""uvicorn's HTTP implementations under the same app: h11 on asyncio (what ``slotcap
serve`` runs) against httptools on uvloop (``uvicorn[standard]``).

    python -m benchmarks.http_impl --json benchmarks/results/http_impl.json

Needs ``httptools`` and ``uvloop`` (not dependencies of slotcap: this benchmark is the
measurement behind not adopting them; without them it says so and exits 0 in
``--quick``). The app is slotcap's own (``create_app`` over a memory store, no database
in the way, guard off), served by uvicorn in a subprocess per implementation; client
threads with keep-alive ``httpx.Client``\\s call ``GET /healthz`` (the server alone) and
``GET /api/public/reservations/availability`` (the app's read path), the two servers
taking turns in rounds so that a shared machine's load falls on both alike. The ratio
httptools/h11 of requests/s is the median of the rounds' ratios.
"""

from __future__ import annotations

import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._cli import benchmark_parser
from benchmarks._harness import Target, finish, render_table, run_threads, say

IMPLEMENTATIONS = {"h11+asyncio": ("h11", "asyncio"), "httptools+uvloop": ("httptools", "uvloop")}
PATHS = {"healthz": "/healthz",
         "availability": "/api/public/reservations/availability?date=2026-01-05"
                         "&service=WRINKLE_BOTOX"}
ROUNDS = 5


def _serve(http: str, loop: str, port_file: str) -> None:
    """The child: slotcap's app on uvicorn with this implementation."""
    import datetime as dt
    import socket

    import uvicorn

    import slotcap
    from slotcap.adapters.memory import MemoryStore
    from slotcap.http import create_app

    app = slotcap.bootstrap(env={}, store=MemoryStore(), clock=slotcap.FixedClock(
        dt.datetime(2026, 1, 2, 9, tzinfo=dt.UTC)))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    Path(port_file).write_text(str(sock.getsockname()[1]), encoding="ascii")
    config = uvicorn.Config(create_app(app), http=http, loop=loop, log_level="warning",
                            lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


def _start(name: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    http, loop = IMPLEMENTATIONS[name]
    port_file = workdir / f"{http}.port"
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.http_impl", "--serve", http,
                                loop, str(port_file)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text(encoding="ascii"):
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.05)
    time.sleep(0.3)
    return process, f"http://127.0.0.1:{port_file.read_text(encoding='ascii')}"


def _round(base: str, path: str, clients: int, each: int) -> float:
    import httpx

    ready = threading.Barrier(clients + 1)
    failures: list[int] = []

    def client() -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            http.get(path)
            ready.wait()
            for _ in range(each):
                if http.get(path).status_code != 200:
                    failures.append(1)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    seconds = run_threads(threads, ready)
    if failures:
        raise RuntimeError(f"{len(failures)} answers were not 200")
    return clients * each / seconds


def run(*, clients: int, requests: int, workdir: Path) -> dict[str, Any]:
    servers = {name: _start(name, workdir) for name in IMPLEMENTATIONS}
    results: list[dict[str, Any]] = []
    try:
        for label, path in PATHS.items():
            rounds: dict[str, list[float]] = {name: [] for name in IMPLEMENTATIONS}
            for _ in range(ROUNDS):
                for name, (_process, base) in servers.items():
                    rounds[name].append(_round(base, path, clients, requests // clients // ROUNDS))
            ratios = [b / a for a, b in zip(rounds["h11+asyncio"], rounds["httptools+uvloop"],
                                            strict=True)]
            results.append({"path": label, "clients": clients,
                            "requests_per_s": {k: round(statistics.median(v), 1)
                                               for k, v in rounds.items()},
                            "ratio": round(statistics.median(ratios), 3)})
            say(f"[http_impl] {label}: {results[-1]}")
    finally:
        for process, _base in servers.values():
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    return {"benchmark": "http_impl", "params": {"clients": clients, "requests": requests,
                                                 "rounds": ROUNDS}, "runs": results}


def targets(payload: dict[str, Any]) -> list[Target]:
    return [Target("runs completed (every answer 200)", str(len(payload["runs"])),
                   str(len(PATHS)), len(payload["runs"]) == len(PATHS))]


def tables(payload: dict[str, Any]) -> str:
    rows = [(r["path"], r["clients"], r["requests_per_s"]["h11+asyncio"],
             r["requests_per_s"]["httptools+uvloop"], r["ratio"]) for r in payload["runs"]]
    return ("uvicorn's HTTP implementations under slotcap's app (median of the rounds)\n\n"
            + render_table(["path", "clients", "h11+asyncio req/s", "httptools+uvloop req/s",
                            "ratio"], rows))


def summary(payload: dict[str, Any]) -> list[str]:
    """One line per run: how many times the requests/s the fast implementation did."""
    return [f"uvicorn[standard], {r['path']} at {r['clients']} clients: httptools+uvloop "
            f"did {r['ratio']}x the requests/s of h11+asyncio (median of {ROUNDS} rounds)"
            for r in payload["runs"]]


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["--serve"]:
        _serve(*args_in[1:4])
        return 0
    parser = benchmark_parser("http_impl", __doc__)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=None,
                        help="requests per path and implementation (default 10000; "
                        "--quick 1000)")
    args = parser.parse_args(args_in)
    try:
        import httptools  # noqa: F401
        import uvloop  # noqa: F401
    except ImportError:
        say("[http_impl] needs httptools and uvloop (pip install 'uvicorn[standard]')")
        return 0 if args.quick else 1
    import tempfile

    with tempfile.TemporaryDirectory(prefix="slotcap-http-impl-") as scratch:
        payload = run(clients=args.clients,
                      requests=args.requests or (1000 if args.quick else 10_000),
                      workdir=Path(scratch))
    finish(payload, targets_of=targets, tables_of=tables, pg_url=args.pg_url,
           json_path=args.json, summary=summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
