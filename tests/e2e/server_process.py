"""``slotcap serve`` as a subprocess on a free port, for end-to-end tests.

``running_server(url)`` starts the real command (``python -m slotcap.cli serve --port 0
--json``), waits for the line saying where it listens, yields a :class:`Server`, and
stops it with SIGTERM on the way out. Its output goes to files (never a pipe the test
might not drain), readable as ``server.stdout()`` / ``server.stderr()``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs

__all__ = [
    "NO_RATE_LIMITS",
    "PLAN_BODY",
    "Server",
    "booking_body",
    "concurrently",
    "monday_ahead",
    "parse_prometheus",
    "running_server",
    "serve_command",
    "serve_env",
]

#: The plan's own curl body (its smoke test and its Phase 3 rollback check), verbatim.
PLAN_BODY: dict[str, str] = {
    "patient_name": "Test Patient",
    "phone": "010-1234-5678",
    "birth_date": "1990-01-01",
    "gender": "FEMALE",
    "treatment_type": "FIRST_VISIT",
    "service": "WRINKLE_BOTOX",
    "preferred_date": "2025-12-01",
    "preferred_time": "10:00",
}
_START_TIMEOUT = 30.0
#: The servers of the end-to-end tests send many requests from 127.0.0.1: they run
#: without rate limits unless a test asks for them (``rate_limits=True``).
NO_RATE_LIMITS = ("--rate-limit-bookings", "0", "--rate-limit-reads", "0")
_PATIENTS = itertools.count(1)


def monday_ahead(weeks: int = 1) -> dt.date:
    """A Monday at least ``weeks`` weeks from today (inside the booking window)."""
    today = dt.date.today()
    return today + dt.timedelta(days=7 * weeks + (7 - today.weekday()) % 7)


def booking_body(day: dt.date, **overrides: object) -> dict[str, object]:
    """The plan's body for ``day``, for another patient each call (its own phone: the
    server refuses a second booking of one patient, service and date); keyword
    arguments replace or add fields."""
    n = next(_PATIENTS)
    phone = f"010-{6000 + n // 10_000 % 4000:04d}-{n % 10_000:04d}"
    return {**PLAN_BODY, "phone": phone, "preferred_date": day.isoformat(), **overrides}


def serve_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment without any rollout or database setting of the caller's."""
    dropped = {"SLOTCAP_DATABASE_URL", "USE_DYNAMIC_SERVICES",
               "DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(extra or {})
    return env


@attrs.define
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    info: dict[str, Any]
    out_path: Path
    err_path: Path

    def url(self, path: str) -> str:
        return self.base_url + path

    def stdout(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait for the graceful exit; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise AssertionError(f"slotcap serve ignored SIGTERM for {timeout} s") from None


def serve_command(url: str | None, *args: str) -> list[str]:
    database = ["--database", url] if url is not None else []
    return [sys.executable, "-m", "slotcap.cli", "serve", *database, *args]


@contextlib.contextmanager
def running_server(
    url: str | None,
    workdir: Path,
    *,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    rate_limits: bool = False,
) -> Iterator[Server]:
    """``slotcap serve --database url --port 0 --json`` until the block ends (without
    rate limits unless ``rate_limits``: then the server's defaults or ``args``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = workdir / "serve.out", workdir / "serve.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(
            serve_command(url, "--port", "0", "--json", "--log-level", "warning",
                          *(() if rate_limits else NO_RATE_LIMITS), *args),
            stdout=out, stderr=err, env=serve_env(env),
        )
    try:
        info = _wait_listening(process, out_path, err_path)
        server = Server(process, info["url"], info, out_path, err_path)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _wait_listening(
    process: subprocess.Popen[bytes], out_path: Path, err_path: Path
) -> dict[str, Any]:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        first = out_path.read_text(encoding="utf-8", errors="replace").split("\n", 1)
        if len(first) == 2:
            info: dict[str, Any] = json.loads(first[0])
            return info
        if process.poll() is not None:
            raise AssertionError(
                f"slotcap serve exited {process.returncode}: "
                f"{err_path.read_text(encoding='utf-8', errors='replace')}"
            )
        time.sleep(0.05)
    raise AssertionError("slotcap serve did not say where it listens within "
                         f"{_START_TIMEOUT} s")


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Samples of the Prometheus text format: (name, labels) -> value."""
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            raise AssertionError(f"not a Prometheus sample: {line!r}")
        name, labels, value = match.groups()
        pairs = frozenset(_LABEL.findall(labels or ""))
        samples[(name, pairs)] = float(value)
    return samples


T = TypeVar("T")


def concurrently(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Every call in its own thread, all released at once (a barrier); their results,
    in the order they finished."""
    barrier = threading.Barrier(len(calls))
    out: list[T] = []
    lock = threading.Lock()

    def one(call: Callable[[], T]) -> None:
        barrier.wait()
        result = call()
        with lock:
            out.append(result)

    threads = [threading.Thread(target=one, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out
