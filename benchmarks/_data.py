"""A realistic year of reservations, and loading it into each store.

The generator's assumptions (stated in docs/benchmarks.md):

* one calendar year, 2025-01-01 … 2025-12-31; "today" is 2025-10-01, so nine months
  are history and three months are bookable;
* reservations fall only in open periods (the plan's 11 weekly slots: Mon–Fri morning
  180 min and afternoon 240 min, Saturday morning 240 min; Sunday closed), spread
  evenly over them (±1 row);
* **the clinic is never overbooked**: in every (date, period) the PENDING/CONFIRMED
  rows hold at most the period's minutes. Upcoming periods are filled to a random
  40–100 % of capacity with PENDING (40 %) / CONFIRMED (60 %) bookings; a past period
  keeps one stale PENDING/CONFIRMED row with probability 0.3 (staff never closed it);
* every other row holds nothing: past ones are COMPLETED (75 %), CANCELLED (15 %) or
  NO_SHOW (10 %), upcoming ones CANCELLED. At 1M rows that is ~1,750 rows per period of
  which at most ~12 hold capacity — the table grows, the held set per period does not;
* services by popularity (botox 30 %, skin care 25 %, lifting 15 %, removal 12 %,
  consultation 10 %, body care 8 %); ``preferredTime`` is a real-looking free text
  drawn from ``shared/data/preferred_times_sample.tsv`` (the texts whose label agrees
  with the row's period), or a built-in list when that file is absent;
* rows are inserted in ``createdAt`` order (a booking is made 0–30 days ahead), as a
  live table grows, so a date's rows are spread over a month of heap pages.

Already-backfilled rows carry both the legacy and the new columns (``serviceId``,
``serviceName``, ``estimatedDuration`` = duration + buffer, ``period``). Legacy rows
(for the backfill benchmark) carry the old columns only and *all* sample texts,
including those the parser must refuse.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from slotcap.adapters.memory import MemoryStore
from slotcap.domain.calendar import date_range, day_of_week
from slotcap.domain.defaults import DEFAULT_SERVICES, DEFAULT_TIME_SLOTS
from slotcap.domain.model import Period, Reservation, ReservationStatus, Service
from slotcap.domain.rules import estimated_duration
from slotcap.migration.phases import create_read_indexes, migrate
from slotcap.schema.legacy import create_legacy_schema
from slotcap.sql import SqlConnection, open_sql

__all__ = [
    "LEGACY_ROW_COLUMNS",
    "NEW_COLUMNS",
    "TODAY",
    "YEAR_END",
    "YEAR_START",
    "CheckKey",
    "GeneratedData",
    "check_keys",
    "generate",
    "load_memory",
    "load_postgres",
    "load_sqlite",
    "open_periods",
]

YEAR_START = dt.date(2025, 1, 1)
YEAR_END = dt.date(2025, 12, 31)
TODAY = dt.date(2025, 10, 1)

#: The legacy table's columns, in the order rows are generated.
LEGACY_ROW_COLUMNS: tuple[str, ...] = (
    "id", "patientName", "phone", "email", "birthDate", "gender", "treatmentType",
    "preferredDate", "preferredTime", "status", "notes", "adminNotes", "createdAt",
    "updatedAt", "service", "statusChangedAt", "statusChangedBy",
)
#: Phase 1's columns, appended to a backfilled row.
NEW_COLUMNS: tuple[str, ...] = ("serviceId", "serviceName", "estimatedDuration", "period")

_SERVICE_WEIGHTS: dict[str, int] = {
    "WRINKLE_BOTOX": 30, "SKIN_CARE": 25, "VOLUME_LIFTING": 15, "REMOVAL_PROCEDURE": 12,
    "OTHER_CONSULTATION": 10, "BODY_CARE": 8,
}
_FAMILY = ("김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오")
_GIVEN = ("민준", "서연", "지우", "하은", "도윤", "수아", "예준", "지민", "현우", "유진")

_FALLBACK_TIMES: dict[str, tuple[str, ...]] = {
    "MORNING": ("9:00 AM", "10:30", "오전 10시", "오전 11시 반", "morning", "11:15 AM"),
    "AFTERNOON": ("2:00 PM", "15:30", "오후 3시", "오후 4시 반", "afternoon", "16:45"),
    "NONE": ("아무때나", "10시나 3시"),
}


def _sample_times() -> dict[str, tuple[str, ...]]:
    """Sample texts by label (MORNING / AFTERNOON / NONE) from the shared TSV."""
    path = Path(__file__).resolve().parents[2] / "shared" / "data" / "preferred_times_sample.tsv"
    if not path.exists():  # a clone away from shared/: the repository's copy
        path = Path(__file__).resolve().parents[1] / "tests" / "data" / "preferred_times_sample.tsv"
    if not path.is_file():
        return _FALLBACK_TIMES
    found: dict[str, list[str]] = {"MORNING": [], "AFTERNOON": [], "NONE": []}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) >= 2 and parts[1] in found and parts[0].strip():
            found[parts[1]].append(parts[0])
    if not found["MORNING"] or not found["AFTERNOON"]:
        return _FALLBACK_TIMES
    return {label: tuple(texts) for label, texts in found.items()}


@dataclasses.dataclass(frozen=True)
class OpenPeriod:
    day: dt.date
    period: Period
    capacity: int


def open_periods(start: dt.date = YEAR_START, end: dt.date = YEAR_END) -> list[OpenPeriod]:
    slots = {(s.day_of_week, s.period): s for s in DEFAULT_TIME_SLOTS if s.is_active}
    found = []
    for day in date_range(start, end):
        for period in Period:
            slot = slots.get((day_of_week(day), period))
            if slot is not None:
                found.append(OpenPeriod(day, period, slot.total_minutes))
    return found


@dataclasses.dataclass(frozen=True)
class GeneratedData:
    """Rows as tuples in ``LEGACY_ROW_COLUMNS`` (+ ``NEW_COLUMNS`` when backfilled) order."""

    rows: list[tuple[Any, ...]]
    backfilled: bool
    seconds: float
    #: Minutes held per (date, period), as generated: the "never overbooked" audit.
    held: dict[tuple[dt.date, Period], int]

    @property
    def columns(self) -> tuple[str, ...]:
        return LEGACY_ROW_COLUMNS + (NEW_COLUMNS if self.backfilled else ())


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def generate(size: int, seed: int, *, backfilled: bool = True) -> GeneratedData:
    """``size`` reservations over the year (see the module docstring)."""
    started = time.perf_counter()
    rng = random.Random(seed)
    services = {s.code: s for s in DEFAULT_SERVICES}
    codes = list(_SERVICE_WEIGHTS)
    weights = [_SERVICE_WEIGHTS[c] for c in codes]
    minutes = {c: estimated_duration(services[c]) for c in codes}
    smallest = min(minutes.values())
    times = _sample_times()
    all_times = tuple(t for texts in times.values() for t in texts)
    names = [f + g for f in _FAMILY for g in _GIVEN]
    periods = open_periods()
    base, extra = divmod(size, len(periods))
    bonus = set(rng.sample(range(len(periods)), extra))
    stamps: dict[tuple[dt.date, int], dt.datetime] = {}
    births = [dt.date(1950, 1, 1) + dt.timedelta(days=d) for d in range(0, 365 * 55, 7)]
    held: dict[tuple[dt.date, Period], int] = {}

    def stamp(day: dt.date, offset_days: int) -> dt.datetime:
        key = (day, offset_days)
        value = stamps.get(key)
        if value is None:
            value = dt.datetime.combine(day, dt.time(9)) - dt.timedelta(days=offset_days)
            stamps[key] = value
        return value

    rows: list[tuple[Any, ...]] = []
    for index, slot in enumerate(periods):
        count = base + (1 if index in bonus else 0)
        upcoming = slot.day >= TODAY
        holding: list[str] = []
        if upcoming:
            budget = int(slot.capacity * rng.uniform(0.4, 1.0))
            while budget >= smallest and len(holding) < count:
                code = rng.choices(codes, weights)[0]
                if minutes[code] <= budget:
                    holding.append(code)
                    budget -= minutes[code]
                elif rng.random() < 0.3:
                    break
        elif count and rng.random() < 0.3:
            holding.append(rng.choices(codes, weights)[0])
        held[(slot.day, slot.period)] = sum(minutes[c] for c in holding)
        label_times = times[slot.period.value]
        for i in range(count):
            if i < len(holding):
                code = holding[i]
                status = "PENDING" if rng.random() < 0.4 else "CONFIRMED"
            else:
                code = rng.choices(codes, weights)[0]
                if upcoming:
                    status = "CANCELLED"
                else:
                    r = rng.random()
                    status = "COMPLETED" if r < 0.75 else ("CANCELLED" if r < 0.9 else "NO_SHOW")
            created = stamp(slot.day, rng.randint(0, 30))
            changed = created if status in ("PENDING", "CONFIRMED") else stamp(slot.day, 0)
            text = rng.choice(label_times) if backfilled else rng.choice(all_times)
            row: tuple[Any, ...] = (
                _uuid(rng),
                rng.choice(names),
                f"010-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
                None,
                rng.choice(births),
                "FEMALE" if rng.random() < 0.7 else "MALE",
                "FIRST_VISIT" if rng.random() < 0.4 else "FOLLOW_UP",
                slot.day,
                text,
                status,
                None,
                None,
                created,
                changed,
                code,
                changed,
                None,
            )
            if backfilled:
                service = services[code]
                row += (service.id, service.name, minutes[code], slot.period.value)
            rows.append(row)
    rows.sort(key=lambda r: r[12])  # createdAt: the order a live table grew in
    return GeneratedData(rows, backfilled, time.perf_counter() - started, held)


# -- availability check keys ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CheckKey:
    day: dt.date
    service: str
    period: Period


def check_keys(count: int, seed: int) -> list[CheckKey]:
    """Upcoming open (date, period)s and services, as a booking page would ask."""
    rng = random.Random(seed)
    upcoming = open_periods(TODAY, YEAR_END)
    codes = list(_SERVICE_WEIGHTS)
    weights = [_SERVICE_WEIGHTS[c] for c in codes]
    keys = []
    for _ in range(count):
        slot = rng.choice(upcoming)
        keys.append(CheckKey(slot.day, rng.choices(codes, weights)[0], slot.period))
    return keys


# -- loading -------------------------------------------------------------------------------

_LIMITS_SQL = (
    'INSERT INTO "service_reservation_limits" ("id", "serviceType", "dailyLimit", '
    '"isActive", "updatedAt") VALUES (%s, %s, %s, %s, %s)'
)


def _insert_limits(conn: SqlConnection, now: Any, true: Any) -> None:
    # The legacy table is site configuration the plan does not give: 10 a day each,
    # like slotcap's DEFAULT_DAILY_LIMITS.
    conn.execute_many(
        _LIMITS_SQL,
        [(f"limit_{s.code.lower()}", s.code, 10, true, now) for s in DEFAULT_SERVICES],
    )


def _quoted(columns: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _after_load(url: str, data: GeneratedData, steps: dict[str, float]) -> None:
    """What a loaded database gets next, on either engine: backfilled rows stand for a
    database past phase 2, which builds the read indexes after its backfill; legacy rows
    get phase 1 after the load, as production would."""
    t = time.perf_counter()
    if data.backfilled:
        with open_sql(url) as conn:
            create_read_indexes(conn)
        steps["read_indexes"] = time.perf_counter() - t
    else:
        migrate(url, to="phase1")
        steps["phase1"] = time.perf_counter() - t


def _legacy_schema(url: str, data: GeneratedData, created: Any, active: Any
                   ) -> dict[str, float]:
    """The legacy DDL with its limits rows (``created``/``active`` in the engine's own
    representation), then phase 1 when the rows to load are backfilled ones; seconds
    per step."""
    steps: dict[str, float] = {}
    with open_sql(url) as conn:
        t = time.perf_counter()
        create_legacy_schema(conn)
        _insert_limits(conn, created, active)
        steps["legacy_ddl"] = time.perf_counter() - t
    if data.backfilled:
        t = time.perf_counter()
        migrate(url, to="phase1")
        steps["phase1"] = time.perf_counter() - t
    return steps


def load_postgres(url: str, data: GeneratedData) -> dict[str, float]:
    """Legacy DDL, phase 1 (before the load when the rows are backfilled, after it when
    they are legacy rows — as production would see it), COPY, phase 2's read indexes
    for backfilled rows, VACUUM ANALYZE.
    Returns seconds per step."""
    steps = _legacy_schema(url, data, dt.datetime(2025, 1, 1), True)
    with open_sql(url) as conn:
        t = time.perf_counter()
        with conn.raw.cursor() as cur, cur.copy(
            f'COPY "reservations" ({_quoted(data.columns)}) FROM STDIN'
        ) as copy:
            for row in data.rows:
                copy.write_row(row)
        steps["copy"] = time.perf_counter() - t
    _after_load(url, data, steps)
    with open_sql(url) as conn:
        t = time.perf_counter()
        conn.execute('VACUUM (ANALYZE) "reservations"')
        conn.execute("ANALYZE")
        steps["vacuum_analyze"] = time.perf_counter() - t
    return steps


def _sqlite_value(value: Any, cache: dict[Any, str]) -> Any:
    if isinstance(value, dt.datetime):
        text = cache.get(value)
        if text is None:
            text = value.isoformat(timespec="milliseconds") + "Z"
            cache[value] = text
        return text
    if isinstance(value, dt.date):
        text = cache.get(value)
        if text is None:
            text = value.isoformat()
            cache[value] = text
        return text
    return value


def _sqlite_rows(rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    # The SQLite store's own representation: ISO dates, ISO-8601 UTC timestamps with
    # milliseconds and a Z, booleans 0/1 (slotcap.adapters.sqlite).
    cache: dict[Any, str] = {}
    for row in rows:
        yield tuple(_sqlite_value(v, cache) for v in row)


def load_sqlite(path: str, data: GeneratedData) -> dict[str, float]:
    """Legacy DDL, phase 1 (before or after the load, as for PostgreSQL), one
    ``executemany`` in one transaction, ANALYZE. Returns seconds per step."""
    url = f"sqlite:///{path}"
    steps = _legacy_schema(url, data, "2025-01-01T00:00:00.000Z", 1)
    with open_sql(url) as conn:
        t = time.perf_counter()
        marks = ", ".join("?" for _ in data.columns)
        conn.raw.execute("BEGIN")
        conn.raw.executemany(
            f'INSERT INTO "reservations" ({_quoted(data.columns)}) VALUES ({marks})',
            _sqlite_rows(data.rows),
        )
        conn.raw.execute("COMMIT")
        steps["insert"] = time.perf_counter() - t
    _after_load(url, data, steps)
    with open_sql(url) as conn:
        t = time.perf_counter()
        conn.execute("ANALYZE")
        steps["analyze"] = time.perf_counter() - t
    return steps


def load_memory(data: GeneratedData) -> tuple[MemoryStore, dict[str, float]]:
    """A ``MemoryStore`` (phase-1 shape, default services, hours and limits) holding
    the rows, inserted through its own booking scopes (one per date)."""
    if not data.backfilled:
        raise ValueError("the in-memory store is loaded with backfilled rows only")
    t = time.perf_counter()
    store = MemoryStore()
    columns = data.columns
    by_day: dict[dt.date, list[Reservation]] = {}
    for row in data.rows:
        v = dict(zip(columns, row, strict=True))
        reservation = Reservation(
            id=v["id"], patient_name=v["patientName"], phone=v["phone"], email=v["email"],
            birth_date=v["birthDate"], gender=v["gender"], treatment_type=v["treatmentType"],
            preferred_date=v["preferredDate"], status=ReservationStatus(v["status"]),
            service=v["service"], preferred_time=v["preferredTime"],
            service_id=v["serviceId"], service_name=v["serviceName"],
            estimated_duration=v["estimatedDuration"], period=Period(v["period"]),
            created_at=v["createdAt"], updated_at=v["updatedAt"],
            status_changed_at=v["statusChangedAt"],
        )
        by_day.setdefault(reservation.preferred_date, []).append(reservation)
    for day, reservations in by_day.items():
        with store.booking(day, "", []) as tx:
            for reservation in reservations:
                tx.insert(reservation)
    return store, {"insert": time.perf_counter() - t}


def service_by_code(code: str) -> Service:
    return next(s for s in DEFAULT_SERVICES if s.code == code)
