"""What every benchmark shares: timing, percentiles, tables, targets, JSON, the machine.

Latency is measured with ``time.perf_counter_ns`` around one call. Candidates that are
compared are run *round-robin* on the same keys — call 1 of A, B, C, then call 2 of
B, C, A, … — so that noise from a shared, 2-core machine hits all of them alike and
their ratios mean something even when the absolute figures wander.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import gc
import json
import math
import os
import platform
import random
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "DEFAULT_PG_URL",
    "ORDERS",
    "Stats",
    "Target",
    "add_common_arguments",
    "finish",
    "interleave",
    "machine_info",
    "machine_line",
    "parse_sizes",
    "pg_available",
    "pg_version",
    "render_table",
    "repo_root",
    "run_threads",
    "say",
    "summarize",
    "targets_table",
    "temp_pg_database",
    "write_json",
]

K = TypeVar("K")

#: The project's PostgreSQL; ``SLOTCAP_BENCH_POSTGRES_URL`` (then the tests' variable)
#: overrides it. Benchmarks create their own ``slotcap_bench_*`` databases and drop them.
DEFAULT_PG_URL = os.environ.get(
    "SLOTCAP_BENCH_POSTGRES_URL",
    os.environ.get("SLOTCAP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


# -- statistics ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Stats:
    """Latency summary, in microseconds."""

    n: int
    p50: float
    p99: float
    mean: float
    min: float
    max: float

    def to_dict(self) -> dict[str, float | int]:
        return {
            "n": self.n,
            "p50_us": round(self.p50, 2),
            "p99_us": round(self.p99, 2),
            "mean_us": round(self.mean, 2),
            "min_us": round(self.min, 2),
            "max_us": round(self.max, 2),
        }


def _rank(ordered: Sequence[int], q: float) -> int:
    """Nearest-rank percentile of an ascending sequence."""
    index = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def summarize(samples_ns: Sequence[int]) -> Stats:
    if not samples_ns:
        raise ValueError("no samples")
    ordered = sorted(samples_ns)
    return Stats(
        n=len(ordered),
        p50=_rank(ordered, 0.50) / 1000,
        p99=_rank(ordered, 0.99) / 1000,
        mean=sum(ordered) / len(ordered) / 1000,
        min=ordered[0] / 1000,
        max=ordered[-1] / 1000,
    )


#: How :func:`interleave` orders the candidates of each key.
ORDERS = ("shuffled", "cyclic")


def interleave(
    candidates: Sequence[tuple[str, Callable[[K], object]]],
    keys: Sequence[K],
    *,
    warmup: int = 0,
    order: str = "shuffled",
    seed: int = 0,
) -> dict[str, Stats]:
    """Time every candidate once per key, in a new order for every key.

    ``order="shuffled"`` (the default): a seeded random permutation per key, so that
    every candidate runs first, last and right after every other candidate equally
    often. ``order="cyclic"``: the order rotates (A B C D, B C D A, …) — every candidate
    runs first equally often, but always right after the same neighbour, and the call
    right after another connection's call pays for what that call left in the caches
    (measured: whichever candidate follows the ``SELECT 1`` floor is ≈ 5 µs slower than
    after any other; docs/benchmarks.md, "Method").

    The first ``warmup`` keys are run but not recorded (connections, prepared
    statements, caches). A cyclic garbage collection is run before and the collector
    is left as it is: a real process pays for it too, and all candidates alike.
    """
    if not candidates:
        return {}
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    samples: dict[str, list[int]] = {name: [] for name, _ in candidates}
    turn = list(candidates)
    rng = random.Random(seed)
    clock = time.perf_counter_ns
    gc.collect()
    for i, key in enumerate(keys):
        if order == "cyclic":
            shift = i % len(turn)
            this_key = turn[shift:] + turn[:shift]
        else:
            rng.shuffle(turn)
            this_key = turn
        for name, fn in this_key:
            started = clock()
            fn(key)
            elapsed = clock() - started
            if i >= warmup:
                samples[name].append(elapsed)
    return {name: summarize(values) for name, values in samples.items()}


# -- targets and tables ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Target:
    """One target of the brief: what was measured against what was required."""

    name: str
    measured: str
    required: str
    met: bool | None  # None: not measured in this run (e.g. a size was skipped)

    @property
    def verdict(self) -> str:
        return "n/a" if self.met is None else ("met" if self.met else "MISSED")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "measured": self.measured,
            "required": self.required,
            "met": self.met,
        }


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain pipe table (valid Markdown), columns padded to their widest cell."""
    text = [[str(h) for h in headers], *[[_cell(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in text) for i in range(len(headers))]
    numeric = [
        all(_is_number(r[i]) for r in text[1:]) and len(text) > 1 for i in range(len(headers))
    ]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(parts) + " |"

    rule = "|" + "|".join(
        "-" * (w + 1) + (":" if num else "-") for w, num in zip(widths, numeric, strict=True)
    ) + "|"
    return "\n".join([line(text[0]), rule, *(line(r) for r in text[1:])])


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _is_number(text: str) -> bool:
    stripped = text.replace(",", "").rstrip("×x%").strip()
    try:
        float(stripped)
    except ValueError:
        return False
    return True


def targets_table(targets: Sequence[Target]) -> str:
    return render_table(
        ["target", "measured", "required", "verdict"],
        [(t.name, t.measured, t.required, t.verdict) for t in targets],
    )


# -- machine and output --------------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True, cwd=repo_root(), timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True, cwd=repo_root(), timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{'+dirty' if dirty else ''}"


def pg_version(url: str) -> str | None:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except Exception:  # no driver, no server: reported as absent
        return None
    return None if row is None else str(row[0])


def pg_available(url: str) -> bool:
    return pg_version(url) is not None


def machine_info(pg_url: str | None = None) -> dict[str, Any]:
    return {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": pg_version(pg_url) if pg_url else None,
        "platform": platform.platform(),
        # The machine is shared: the 1/5/15-minute load averages when the run ended.
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "slotcap_revision": _git_revision(),
    }


def machine_line(info: Mapping[str, Any]) -> str:
    pg = info.get("postgresql") or "not reached"
    return (
        f"machine: {info['nproc']} CPU ({info['cpu']}), Python {info['python']}, "
        f"SQLite {info['sqlite']}, PostgreSQL {pg}, slotcap {info['slotcap_revision']}, "
        f"load average {' / '.join(str(x) for x in info.get('loadavg', []))}"
    )


def write_json(path: str | os.PathLike[str], payload: Mapping[str, Any]) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# -- command line ------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    """``10000,100k,1M`` → [10000, 100000, 1000000]."""
    sizes = []
    for part in text.split(","):
        token = part.strip().lower().replace("_", "")
        if not token:
            continue
        factor = 1
        if token.endswith("k"):
            factor, token = 1_000, token[:-1]
        elif token.endswith("m"):
            factor, token = 1_000_000, token[:-1]
        sizes.append(int(float(token) * factor))
    if not sizes or any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError(f"not a list of positive sizes: {text!r}")
    return sizes


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument(
        "--quick", action="store_true",
        help="a smoke run: tiny sizes and few repetitions (checks that it works, not speed)",
    )
    parser.add_argument(
        "--pg-url", default=DEFAULT_PG_URL,
        help="PostgreSQL server to create scratch databases on (default: %(default)s; "
        "env SLOTCAP_BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--seed", type=int, default=20251201, help="data generator seed")


# -- scratch databases --------------------------------------------------------------------


def _with_database(url: str, name: str) -> str:
    base, _, rest = url.rpartition("/")
    query = rest.partition("?")[2]
    return f"{base}/{name}" + (f"?{query}" if query else "")


@contextlib.contextmanager
def temp_pg_database(
    server_url: str, label: str, *, prefix: str = "slotcap_bench", template: str | None = None
) -> Iterator[str]:
    """A new ``<prefix>_<label>_<random>`` database on the server of ``server_url``,
    dropped (sessions and all) on exit; yields its URL.

    The project's one recipe for a scratch PostgreSQL database: the benchmarks use it,
    and so do the tests' fixtures (``tests/conftest.py``), with ``prefix="slotcap_t"``.
    ``template``: the URL of a database to copy (``CREATE DATABASE … TEMPLATE``; it must
    have no other session), instead of an empty one.
    """
    import psycopg

    name = f"{prefix}_{label}_{uuid.uuid4().hex[:8]}"
    copy = "" if template is None else f' TEMPLATE "{template.rpartition("/")[2]}"'
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield _with_database(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def say(message: str) -> None:
    """Progress on stderr, so stdout carries only the tables."""
    print(message, file=sys.stderr, flush=True)


def run_threads(threads: Sequence[threading.Thread], ready: threading.Barrier, *,
                seconds: float | None = None, stop: threading.Event | None = None) -> float:
    """Start the client ``threads``, pass ``ready`` (a barrier the clients and this
    thread pass once every client is set), and join them — after ``seconds``, when
    given, and setting ``stop`` then; the wall time from ready to joined."""
    for thread in threads:
        thread.start()
    ready.wait()
    began = time.perf_counter()
    if seconds is not None:
        time.sleep(seconds)
    if stop is not None:
        stop.set()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def finish(
    payload: dict[str, Any],
    *,
    targets_of: Callable[[dict[str, Any]], Sequence[Target]],
    tables_of: Callable[[dict[str, Any]], str],
    pg_url: str | None,
    json_path: str | None,
    summary: Callable[[dict[str, Any]], Sequence[str]] | None = None,
) -> None:
    """Every benchmark's ending: record the machine and the targets in the payload,
    print the machine line, the tables and the targets, write JSON when asked, then
    the ``summary`` lines, if any (one-line verdicts for a reader of the log)."""
    payload["machine"] = machine_info(pg_url)
    found = targets_of(payload)
    payload["targets"] = [t.to_dict() for t in found]
    print(machine_line(payload["machine"]))
    print()
    print(tables_of(payload))
    print()
    print(targets_table(found))
    if json_path:
        write_json(json_path, payload)
    for line in summary(payload) if summary is not None else ():
        print(line)
