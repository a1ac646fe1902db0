"""The cost of shadow decisions (issue 21): bookings and availability checks with the
shadow on against the same with it off, in one run, alternating; and ``whatif`` over a
year of reservations.

    python -m benchmarks.shadow --json benchmarks/results/shadow.json

For each engine (SQLite, then PostgreSQL when reachable) a scratch database is loaded
with a generated, backfilled year (``benchmarks/_data.py``; ``--rows``, default 300,000)
at phase 1 — so the shadow tables exist — and two stores are opened on it:
``open_store(url, shadow=True)`` and ``open_store(url, shadow=False)``. Then, one
client, the candidates taking turns (``_harness.interleave``, the first of each round
rotating):

* **booking, legacy** / **booking, dynamic**: ``book(...)`` of one Botox into a date of
  its own after the generated year (a fresh (date, service), so nothing is full): the
  legacy path's shadow reads the period's minutes, the dynamic path's the daily count,
  and both upsert the decision counter in the booking's transaction;
* **check, dynamic** / **check, legacy**: ``check_availability`` of a date and service
  of the generated year's bookable months (one check in ``CHECK_SAMPLE`` is shadowed).

On PostgreSQL the same is measured again after ``migrate(url, to="phase2")`` (engine
``postgresql + ledger``): phase 2's ledger is filled, so a booking is decided by one
statement (BEGIN, locks, ``INSERT … SELECT``, COMMIT in one pipeline) and its shadow
takes the other rule's figures from that statement; the run counts how many bookings
went that way. After each engine, the shadowed store is closed (its waiting counts
written) and the report's ``decisions`` compared with the bookings it made.

Reported: p50 and mean per call for each, and the overhead of shadowing (mean on / mean
off − 1; target ≤ 10 %). Then ``whatif --rule dynamic`` and ``--rule legacy`` over the
whole year (one aggregate query; best of 3), with the load average of the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from benchmarks import _data
from benchmarks._harness import (
    Target,
    add_common_arguments,
    finish,
    interleave,
    pg_available,
    render_table,
    say,
    temp_pg_database,
)
from slotcap.bootstrap import open_store
from slotcap.domain.clock import DayClock
from slotcap.domain.model import Period
from slotcap.errors import SlotcapError
from slotcap.migration import migrate
from slotcap.ports import Store
from slotcap.usecases.availability import check_availability
from slotcap.usecases.booking import book
from slotcap.usecases.request import BookingRequest
from slotcap.usecases.shadow import shadow_report
from slotcap.usecases.whatif import whatif

#: Bookings go to weekdays from here on, one (date, service) each.
FIRST_DAY = dt.date(2031, 1, 6)
MAX_OVERHEAD = 0.10
_PHONES = itertools.count(1)


def _weekdays(start: dt.date) -> Iterator[dt.date]:
    day = start
    while True:
        if day.weekday() < 5:
            yield day
        day += dt.timedelta(days=1)


def _request(day: dt.date, dynamic: bool) -> BookingRequest:
    n = next(_PHONES)
    return BookingRequest.from_mapping({
        "patient_name": "Bench Patient",
        "phone": f"010-{n // 10_000 % 10_000:04d}-{n % 10_000:04d}",
        "birth_date": "1990-01-01", "gender": "FEMALE", "treatment_type": "FIRST_VISIT",
        "service": "WRINKLE_BOTOX", "preferred_date": day.isoformat(),
        "preferred_time": "10:00", "period": "MORNING" if dynamic else None,
    })


def _measure(stores: dict[str, Store], repeats: int, seed: int,
             first_day: dt.date = FIRST_DAY) -> dict[str, Any]:
    days = _weekdays(first_day)
    today = FIRST_DAY - dt.timedelta(days=1)
    horizon = 365 * 60
    out: dict[str, Any] = {}
    for dynamic in (False, True):
        # Each candidate books its own fresh date every round.
        own = {name: [next(days) for _ in range(repeats)] for name in stores}

        def booker(name: str, dynamic: bool = dynamic,
                   own: dict[str, list[dt.date]] = own) -> Callable[[int], object]:
            return lambda i: book(stores[name], _request(own[name][i], dynamic),
                                  dynamic=dynamic, clock=DayClock(today), horizon_days=horizon)

        stats = interleave([(n, booker(n)) for n in stores], list(range(repeats)),
                           warmup=min(20, repeats // 10))
        out[f"booking, {'dynamic' if dynamic else 'legacy'}"] = stats
    rng = random.Random(seed)
    keys = [(_data.TODAY + dt.timedelta(days=rng.randrange(90)),
             rng.choice(["WRINKLE_BOTOX", "SKIN_CARE", "BODY_CARE"]))
            for _ in range(repeats * 2)]
    for dynamic in (True, False):
        def checker(name: str, dynamic: bool = dynamic) -> Callable[[Any], object]:
            return lambda k: check_availability(stores[name], k[0], k[1],
                                                period=Period.MORNING, dynamic=dynamic)

        out[f"check, {'dynamic' if dynamic else 'legacy'}"] = interleave(
            [(n, checker(n)) for n in stores], keys, warmup=min(50, len(keys) // 10))
    return out


def _whatif_seconds(store: Store) -> dict[str, float]:
    times = {}
    for rule in ("dynamic", "legacy"):
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            whatif(store, rule, _data.YEAR_START, _data.YEAR_END, names=False)
            best = min(best, time.perf_counter() - t)
        times[rule] = best
    return times


@contextlib.contextmanager
def _database(engine: str, args: argparse.Namespace, data: _data.GeneratedData) -> Iterator[str]:
    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "shadow.db")
            _data.load_sqlite(path, data)
            yield f"sqlite:///{path}"
    else:
        with temp_pg_database(args.pg_url, "shadow") as url:
            _data.load_postgres(url, data)
            yield url


@contextlib.contextmanager
def _one_statement_count() -> Iterator[list[int]]:
    """[one-statement bookings, careful transactions begun] while inside (PostgreSQL)."""
    from slotcap.adapters.sql import pg_booking

    seen = [0, 0]
    cls = pg_booking.LazyBookingSession
    one_trip, begun = cls.one_trip, cls._begun

    def counted_trip(self: Any, *rest: Any) -> Any:
        seen[0] += 1
        return one_trip(self, *rest)

    def counted_begin(self: Any) -> Any:
        seen[1] += self.inner is None
        return begun(self)

    setattr(cls, "one_trip", counted_trip)  # noqa: B010 (instrumentation, put back below)
    setattr(cls, "_begun", counted_begin)  # noqa: B010
    try:
        yield seen
    finally:
        setattr(cls, "one_trip", one_trip)  # noqa: B010
        setattr(cls, "_begun", begun)  # noqa: B010


def _last_day(first_day: dt.date, repeats: int) -> dt.date:
    # 4 × repeats weekdays: two candidates, two paths.
    return first_day + dt.timedelta(days=8 * repeats + 14)


def _engine_run(url: str, name: str, repeats: int, seed: int,
                first_day: dt.date) -> dict[str, Any]:
    on, off = open_store(url, shadow=True), open_store(url, shadow=False)
    trips: list[int] = []
    try:
        load_before = os.getloadavg()[0]
        say(f"{name}: measuring ({repeats} rounds)")
        counting: AbstractContextManager[list[int]] = (
            _one_statement_count() if "ledger" in name else contextlib.nullcontext([]))
        with counting as counted:
            stats = _measure({"on": on, "off": off}, repeats, seed, first_day)
            trips = list(counted)
        seconds = _whatif_seconds(off)
    except SlotcapError as exc:
        sys.exit(f"{name}: {exc}")
    finally:
        off.close()
        on.close()  # writes the waiting shadow counts
    failures = on.shadow.failures
    with contextlib.closing(open_store(url)) as reader:
        recorded = shadow_report(reader, first_day, _last_day(first_day, repeats)).decisions
    figures: dict[str, Any] = {
        "load_average": [load_before, os.getloadavg()[0]],
        "shadow_failures": failures,
        "bookings_shadowed": 2 * repeats,
        "decisions_recorded": recorded,
        "calls": {what: {n: s.__dict__ for n, s in by.items()} for what, by in stats.items()},
        "whatif_seconds": seconds,
    }
    if trips:
        # Both candidates' bookings (2 × 2 × repeats) against the careful transactions.
        figures["one_statement"] = {"trips": trips[0], "careful": trips[1],
                                    "bookings": 4 * repeats}
    return figures


def run(args: argparse.Namespace) -> dict[str, Any]:
    rows = 3_000 if args.quick else args.rows
    repeats = 40 if args.quick else args.repeats
    say(f"generating {rows:,} rows")
    data = _data.generate(rows, args.seed, backfilled=True)
    engines = ["sqlite"] + (["postgresql"] if pg_available(args.pg_url) else [])
    payload: dict[str, Any] = {"rows": rows, "repeats": repeats, "engines": {}}
    for engine in engines:
        say(f"{engine}: loading")
        with _database(engine, args, data) as url:
            payload["engines"][engine] = _engine_run(url, engine, repeats, args.seed,
                                                     FIRST_DAY)
            if engine == "postgresql":
                say(f"{engine}: phase 2 (the ledger)")
                report = migrate(url, to="phase2")
                if not report.ok:
                    sys.exit(f"{engine}: phase 2: {report.message}")
                name = "postgresql + ledger"
                payload["engines"][name] = _engine_run(
                    url, name, repeats, args.seed, _last_day(FIRST_DAY, repeats))
    return payload


def _overhead(calls: dict[str, Any]) -> float:
    return float(calls["on"]["mean"]) / float(calls["off"]["mean"]) - 1


def tables(payload: dict[str, Any]) -> str:
    out = []
    for engine, figures in payload["engines"].items():
        load = figures["load_average"]
        out.append(f"{engine} ({payload['rows']:,} rows; load average {load[0]:.2f} → "
                   f"{load[1]:.2f}; shadow failures {figures['shadow_failures']}; "
                   f"decisions recorded {figures.get('decisions_recorded')} of "
                   f"{figures.get('bookings_shadowed')} shadowed bookings)")
        trips = figures.get("one_statement")
        if trips:
            out.append(f"one-statement bookings {trips['trips']} of {trips['bookings']}, "
                       f"careful transactions begun {trips['careful']}")
        out.append(render_table(
            ["call", "p50 on (µs)", "p50 off (µs)", "mean on (µs)", "mean off (µs)",
             "overhead"],
            [[what, round(by["on"]["p50"]), round(by["off"]["p50"]), round(by["on"]["mean"]),
              round(by["off"]["mean"]), f"{_overhead(by):+.1%}"]
             for what, by in figures["calls"].items()]))
        w = figures["whatif_seconds"]
        out.append(f"whatif over the year: dynamic {w['dynamic']:.3f} s, legacy "
                   f"{w['legacy']:.3f} s\n")
    return "\n".join(out)


def targets(payload: dict[str, Any]) -> list[Target]:
    found = []
    for engine, figures in payload["engines"].items():
        for what, by in figures["calls"].items():
            cost = _overhead(by)
            found.append(Target(f"{engine}: shadow cost, {what}", f"{cost:+.1%}",
                                f"≤ {MAX_OVERHEAD:.0%}", cost <= MAX_OVERHEAD))
        if "decisions_recorded" in figures:
            found.append(Target(f"{engine}: shadow decisions recorded",
                                str(figures["decisions_recorded"]),
                                f"= {figures['bookings_shadowed']} bookings",
                                figures["decisions_recorded"] == figures["bookings_shadowed"]))
        slowest = max(figures["whatif_seconds"].values())
        found.append(Target(f"{engine}: whatif, a year of {payload['rows']:,} rows",
                            f"{slowest:.3f} s", "< 1 s", slowest < 1.0))
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--rows", type=int, default=300_000, help="generated rows")
    parser.add_argument("--repeats", type=int, default=400,
                        help="bookings per candidate and path (checks: twice as many)")
    args = parser.parse_args(argv)
    payload = run(args)
    finish(payload, targets_of=targets, tables_of=tables, pg_url=args.pg_url,
           json_path=args.json)


if __name__ == "__main__":
    main()
