"""Phase 2's data migration: fill the new reservation columns from the old ones.

For every reservation with a NULL ``serviceId``, ``serviceName``, ``estimatedDuration``
or ``period``:

* the three service columns come from the ``services`` row whose ``code`` is the
  legacy ``service`` (or from the row's own ``serviceId`` if the app already wrote it);
* ``period`` comes from :func:`parse_preferred_time`, read with the clinic's own hours
  from ``clinic_time_slots``. When the parser abstains the column stays NULL and the
  row goes to manual review — never the plan's ``ELSE 'MORNING'``.

How it stays safe on a live table:

* keyset batches over the primary key, each its own short transaction, so no lock is
  held for long and a crash loses at most one uncommitted batch;
* only NULL columns are written (``COALESCE`` in the UPDATE itself, so a value the
  dual-writing app stored between our read and our write is kept), legacy columns are
  never touched;
* every row filled is journalled in the same transaction (``slotcap_backfill_journal``,
  source ``backfill``) so a phase 2 rollback resets exactly those rows;
* no progress is kept anywhere but in the data: what needs work is "a new column is
  NULL". Killed and re-run, it re-reads that and ends where an uninterrupted run ends.
  Abstained rows are re-parsed on each run (cheap, and picks up a fixed parser or new
  hours) but only once per run: the keyset cursor only moves forward.

On PostgreSQL the work can be shared by ``workers`` connections, each walking its own
contiguous range of the key space (the server's per-row cost — a new row version and
an entry in each index — is what a single connection waits on).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs

from slotcap.domain.model import ClinicTimeSlot
from slotcap.domain.timeparse import parse_preferred_time
from slotcap.errors import MigrationError
from slotcap.migration._dbinfo import (
    NEW_COLUMNS,
    ServiceRow,
    database_errors,
    load_clinic_hours,
    load_services,
    period_cast,
    require_expanded,
)
from slotcap.migration.backfill_report import BackfillProgress, BackfillReport, Sample
from slotcap.migration.ddl.backfill import (
    Fill,
    count_needing_work,
    select_batch,
    split_points,
    write_batch,
)
from slotcap.migration.throttle import Throttle
from slotcap.sql import Dialect, SqlConnection

__all__ = [
    "BackfillProgress",
    "BackfillReport",
    "Sample",
    "run_backfill",
]

_SAMPLES = 10


class _Verdicts:
    """The parser's verdict per distinct preferredTime, shared by the run's workers:
    each text is parsed once per run, however many rows and workers carry it."""

    def __init__(self, hours: Sequence[ClinicTimeSlot]) -> None:
        self._hours = tuple(hours)
        self._known: dict[str, tuple[str | None, str]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._known)

    def get(self, text: str) -> tuple[str | None, str]:
        """(period value, or None when the parser abstains; its reason)."""
        verdict = self._known.get(text)
        if verdict is None:
            with self._lock:
                verdict = self._known.get(text)
                if verdict is None:
                    parsed = parse_preferred_time(text, hours=self._hours)
                    period = None
                    if parsed.period is not None and not parsed.ambiguous:
                        period = parsed.period.value
                    verdict = (period, parsed.reason)
                    self._known[text] = verdict
        return verdict


class _Planner:
    """Decides each row's fill; parses every distinct preferredTime once per run.

    This runs for every row of the table, so it works on plain tuples and caches the
    parser's verdict per text; the report is updated in place.
    """

    def __init__(
        self,
        by_code: dict[str, ServiceRow],
        by_id: dict[str, ServiceRow],
        verdicts: _Verdicts,
        report: BackfillReport,
    ) -> None:
        self._by_code = by_code
        self._by_id = by_id
        self._verdicts = verdicts
        self._report = report

    def _service(self, code: str, service_id: str | None) -> ServiceRow | None:
        if service_id is not None and service_id in self._by_id:
            return self._by_id[service_id]
        return self._by_code.get(code)

    def plan(self, row: Sequence[Any]) -> Fill | None:
        """The fill for one selected row, or None when there is nothing to write."""
        rid, code, text, service_id, service_name, minutes, period = row
        code, text = str(code), str(text)
        report = self._report
        new_id = new_name = new_minutes = new_period = None
        if service_id is None or service_name is None or minutes is None:
            service = self._service(code, service_id)
            if service is None:
                report.unknown_services[code] = report.unknown_services.get(code, 0) + 1
            else:
                new_id = service.id if service_id is None else None
                new_name = service.name if service_name is None else None
                new_minutes = service.minutes if minutes is None else None
                report.services[service.code] = report.services.get(service.code, 0) + 1
        if period is None:
            new_period, reason = self._verdicts.get(text)
            if new_period is not None:
                report.periods[new_period] += 1
                if len(report.fill_samples) < _SAMPLES:
                    report.fill_samples.append(Sample(id=rid, preferred_time=text, service=code,
                                                      period=new_period, reason=reason))
            else:
                report.periods["abstained"] += 1
                report.abstain_reasons[reason] = report.abstain_reasons.get(reason, 0) + 1
                if len(report.abstain_samples) < _SAMPLES:
                    report.abstain_samples.append(Sample(id=rid, preferred_time=text,
                                                         service=code, period=None,
                                                         reason=reason))
        values = (new_id, new_name, new_minutes, new_period)
        if None in (service_id or new_id, service_name or new_name,
                    minutes if minutes is not None else new_minutes, period or new_period):
            report.rows_incomplete += 1
        if values == (None, None, None, None):
            return None
        report.rows_updated += 1
        for column, value in zip(NEW_COLUMNS, values, strict=True):
            if value is not None:
                report.filled[column] += 1
        return (rid, *values)


@attrs.define
class _Run:
    """What the workers of one run share: totals for the progress line, a stop flag."""

    total: int
    dry_run: bool
    started: float
    progress: Callable[[BackfillProgress], None] | None
    throttle: Throttle = attrs.Factory(Throttle)
    rows_done: int = 0
    rows_written: int = 0
    stop: threading.Event = attrs.Factory(threading.Event)
    lock: threading.Lock = attrs.Factory(threading.Lock)

    def batch_done(self, rows: int, written: int) -> None:
        with self.lock:  # progress callbacks are serialised: printers need not be thread-safe
            self.rows_done += rows
            self.rows_written += written
            if self.progress is not None:
                _rate, why = self.throttle.state()
                self.progress(BackfillProgress(
                    batch_rate=self.throttle.last_rate,
                    throttled=why,
                    rows_done=self.rows_done,
                    rows_total=max(self.total, self.rows_done),
                    rows_written=self.rows_written,
                    elapsed_seconds=time.monotonic() - self.started,
                    dry_run=self.dry_run,
                ))


def _walk(
    conn: SqlConnection,
    planner: _Planner,
    report: BackfillReport,
    run: _Run,
    *,
    low: str | None,
    high: str | None,
    batch_size: int,
    cast: str,
) -> None:
    """Keyset batches over [``low``, ``high``), one short transaction each; the run's
    throttle decides the sleep after each."""
    after: str | None = None
    while not run.stop.is_set():
        written_before = report.rows_updated
        batch_started = time.monotonic()
        try:
            with conn.transaction(write=not run.dry_run):
                if conn.dialect is Dialect.POSTGRES and not run.dry_run:
                    # Don't wait for the WAL flush at each commit: a server crash can
                    # lose the last few batches, atomically (data and journal
                    # together), and the next run simply redoes them.
                    conn.execute("SET LOCAL synchronous_commit = off")
                rows = select_batch(conn, after=after, low=low, high=high, limit=batch_size,
                                    lock=not run.dry_run)
                if not rows:
                    return
                fills = [f for f in map(planner.plan, rows) if f is not None]
                if fills and not run.dry_run:
                    write_batch(conn, fills, cast)
        except database_errors() as exc:
            where = f"after id {after!r}" if after is not None else "at the start of its range"
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise MigrationError(
                f"backfill batch {where} failed and was rolled back ({type(exc).__name__}: "
                f"{first_line}); earlier batches are committed — run the backfill again "
                "to resume"
            ) from exc
        after = str(rows[-1][0])
        report.rows_scanned += len(rows)
        report.batches += 1
        sleep = run.throttle.after_batch(conn, len(rows), time.monotonic() - batch_started)
        run.batch_done(len(rows), report.rows_updated - written_before)
        if len(rows) < batch_size:
            return
        if sleep > 0:
            run.stop.wait(sleep)


def _merge(reports: Sequence[BackfillReport], into: BackfillReport) -> None:
    for part in reports:
        into.rows_scanned += part.rows_scanned
        into.rows_updated += part.rows_updated
        into.rows_incomplete += part.rows_incomplete
        into.batches += part.batches
        for mine, theirs in ((into.filled, part.filled), (into.periods, part.periods),
                             (into.abstain_reasons, part.abstain_reasons),
                             (into.services, part.services),
                             (into.unknown_services, part.unknown_services)):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value
        # Workers cover consecutive key ranges, so this keeps the first samples by id.
        into.fill_samples = (into.fill_samples + part.fill_samples)[:_SAMPLES]
        into.abstain_samples = (into.abstain_samples + part.abstain_samples)[:_SAMPLES]


def _in_threads(jobs: Sequence[Callable[[], None]], run: _Run) -> None:
    """Run the jobs in parallel threads; stop them all at the first failure, re-raise it."""
    failures: list[BaseException] = []

    def guard(job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as exc:  # handed over to the calling thread, re-raised there
            failures.append(exc)
            run.stop.set()

    threads = [threading.Thread(target=guard, args=(job,), name=f"backfill-{i}")
               for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:
        run.stop.set()  # Ctrl-C: let each worker finish (commit) its current batch
        for thread in threads:
            thread.join()
        raise
    if failures:
        raise failures[0]


#: SQLite page cache during the backfill, in KiB (negative = KiB in SQLite's PRAGMA).
#: Fixed, so memory stays flat in table size; 1.4x faster than the 2 MiB default here.
_SQLITE_CACHE_KIB = 65536


@contextlib.contextmanager
def _sqlite_page_cache(conn: SqlConnection) -> Iterator[None]:
    """A bigger page cache on SQLite for the walk (each batch touches ~1 page per row
    per index), put back afterwards: the connection belongs to the caller."""
    if conn.dialect is not Dialect.SQLITE:
        yield
        return
    previous = int(conn.scalar("PRAGMA cache_size"))
    conn.execute(f"PRAGMA cache_size = {-_SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA cache_size = {previous}")


def _no_connect() -> SqlConnection:
    raise ValueError("workers > 1 needs connect= to open the extra connections")


def run_backfill(
    conn: SqlConnection,
    *,
    batch_size: int = 1000,
    pause: float = 0.0,
    dry_run: bool = False,
    progress: Callable[[BackfillProgress], None] | None = None,
    workers: int = 1,
    connect: Callable[[], SqlConnection] | None = None,
    max_rate: float | None = None,
    throttle: Throttle | None = None,
) -> BackfillReport:
    """Fill the new columns of every reservation that lacks one (see module docstring).

    ``pause`` seconds are slept between batches, outside any transaction, to leave the
    database to the live application; ``max_rate`` caps rows per second across the
    workers, and the run backs off by itself while the app's sessions wait for locks or
    a batch is slow (``throttle`` overrides all three: see
    :mod:`slotcap.migration.throttle`). On PostgreSQL a run that wrote rows ends with
    ``VACUUM (ANALYZE) reservations``: the rewrite emptied the visibility map, and the
    availability check's index-only scan reads the heap until it is refilled.
    ``dry_run`` reads and reports without writing.
    ``workers`` > 1 (PostgreSQL only; SQLite has a single writer and ignores it) splits
    the key space into that many ranges walked in parallel, on ``conn`` and on
    ``workers - 1`` connections opened with ``connect``. ``progress`` is called after
    every batch (serialised across workers).

    Raises ``SchemaStateError`` before phase 1, ``MigrationError`` if a batch fails
    (that batch is rolled back; every earlier one is committed; re-run to resume).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if pause < 0:
        raise ValueError(f"pause must be >= 0, got {pause}")
    if max_rate is not None and max_rate <= 0:
        raise ValueError(f"max_rate must be > 0, got {max_rate}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers > 1 and connect is None and conn.dialect is Dialect.POSTGRES:
        _no_connect()
    cat = require_expanded(conn)
    report = BackfillReport(dry_run=dry_run)
    by_code, by_id = load_services(conn)
    verdicts = _Verdicts(load_clinic_hours(conn))
    cast = period_cast(conn, cat)
    total = count_needing_work(conn)
    run = _Run(total=total, dry_run=dry_run, started=time.monotonic(), progress=progress,
               throttle=throttle or Throttle(pause=pause, max_rate=max_rate))
    parts = 1 if conn.dialect is Dialect.SQLITE else min(workers, max(total // batch_size, 1))
    bounds: list[str | None] = [None, *split_points(conn, total, parts), None]
    reports = [BackfillReport(dry_run=dry_run) for _ in bounds[1:]]
    walk = functools.partial(_walk, run=run, batch_size=batch_size, cast=cast)
    if len(reports) == 1:
        with _sqlite_page_cache(conn):
            walk(conn, _Planner(by_code, by_id, verdicts, reports[0]), reports[0],
                 low=None, high=None)
    else:
        opener = connect if connect is not None else _no_connect
        extra = [opener() for _ in reports[1:]]
        try:
            _in_threads([
                functools.partial(walk, c, _Planner(by_code, by_id, verdicts, r), r,
                                  low=lo, high=hi)
                for c, r, lo, hi in zip([conn, *extra], reports, bounds[:-1], bounds[1:],
                                        strict=True)
            ], run)
        finally:
            for other in extra:
                other.close()
    _merge(reports, report)
    if conn.dialect is Dialect.POSTGRES and report.rows_updated and not dry_run:
        # Outside any transaction; VACUUM takes no lock that blocks the app.
        conn.execute('VACUUM (ANALYZE) "reservations"')
    report.distinct_times_parsed = len(verdicts)
    report.elapsed_seconds = time.monotonic() - run.started
    return report
