"""The ledger of held load: tables, the triggers that keep it, its batched fill and its
recount (docs/capacity.md, "The ledger").

Two counters, kept by the database in the same transaction as every write to
``reservations`` (slotcap's stores, the legacy application, a hand-written UPDATE):

* ``slotcap_ledger_periods`` — per (``preferredDate``, ``period``): ``heldMinutes``, the
  sum of ``estimatedDuration`` of the held (PENDING/CONFIRMED) rows counted in that
  period, and ``unsized``, how many of them have no ``estimatedDuration``. A row
  without a period is counted in both periods of its date (the minutes rule). The
  minutes of an unsized row depend on the service catalogue at read time, so the
  ledger counts it instead of guessing; a reader with ``unsized`` > 0 runs the full
  rule over the rows.
* ``slotcap_ledger_services`` — per (``preferredDate``, ``service``): ``held``, the held
  rows with that legacy service code (the count rule). Phases 2 and 3 only: phase 4
  drops it with the legacy column (:func:`contract_ledger`) and keeps the rest, its
  triggers swapped for ones that read no legacy column (:mod:`.ledger_sql`).

``slotcap_ledger_fill`` (one row) is the fill's frontier: the triggers keep only dates
``<= "through"``; the batched fill counts the dates above it and moves it on, in one
transaction per batch. ``through`` is :data:`DONE` once every date is counted. On
PostgreSQL a writer reads the frontier ``FOR SHARE`` while the fill runs and the fill
takes it ``FOR UPDATE``: a write is then either counted by the batch (committed before
the batch's snapshot) or applied by its trigger after the batch (the frontier it reads
has moved past its date) — never both, never neither. The last batch installs the
function for a complete ledger, which reads no frontier.
"""

# Identifiers come from constants; every value is bound (S608).
# ruff: noqa: S608

from __future__ import annotations

from slotcap.migration.ddl.ledger_sql import pg_sync_sql, sqlite_triggers_sql
from slotcap.migration.ddl.names import (
    HELD_STATUSES,
    LEDGER_FILL,
    LEDGER_FUNCTIONS,
    LEDGER_PERIODS,
    LEDGER_SERVICES,
    LEDGER_TABLES,
    LEDGER_TRIGGERS,
    PERIOD_TYPE,
    RESERVATIONS_TABLE,
    q,
)
from slotcap.sql import Dialect, SqlConnection

__all__ = [
    "DONE",
    "START",
    "contract_ledger",
    "contracted",
    "create_ledger",
    "drop_ledger",
    "fill_batch",
    "fill_done",
    "ledger_recount_problems",
    "lock_ledger",
    "refresh_function",
]

#: The frontier before any date is counted, and once every date is (per dialect).
START = {Dialect.POSTGRES: "-infinity", Dialect.SQLITE: "0000-00-00"}
DONE = {Dialect.POSTGRES: "infinity", Dialect.SQLITE: "9999-12-31"}

_R, _P, _S, _F = q(RESERVATIONS_TABLE), q(LEDGER_PERIODS), q(LEDGER_SERVICES), q(LEDGER_FILL)
_SYNC = q(LEDGER_FUNCTIONS[0])
_HELD = HELD_STATUSES  # "status" IN ('PENDING','CONFIRMED')
#: Earlier versions' helper (one row's share), now written inline in the trigger.
_DROP_APPLY = (f"DROP FUNCTION IF EXISTS {q(LEDGER_FUNCTIONS[1])}(DATE, {q(PERIOD_TYPE)}, "
               "INTEGER, TEXT, INTEGER)")


def _tables_sql(d: Dialect, *, contracted: bool) -> list[str]:
    pg = d is Dialect.POSTGRES
    date = "DATE" if pg else "TEXT"
    period = q(PERIOD_TYPE) if pg else "TEXT"
    # Sparse pages (PostgreSQL): a few hundred rows a year, each updated by every
    # booking of its date. Room on the page keeps those updates HOT, and a table of
    # more pages than a primary-key probe costs is read by that probe: on two dense
    # pages the planner's generic plan was a filter over every row (≈ 3× the probe).
    sparse = " WITH (fillfactor = 10)" if pg else ""
    services = [] if contracted else [
        f'CREATE TABLE IF NOT EXISTS {_S} ("preferredDate" {date} NOT NULL, '
        '"service" TEXT NOT NULL, "held" INTEGER NOT NULL DEFAULT 0, '
        'PRIMARY KEY ("preferredDate", "service"))' + sparse]
    return [
        f'CREATE TABLE IF NOT EXISTS {_P} ("preferredDate" {date} NOT NULL, '
        f'"period" {period} NOT NULL, "heldMinutes" BIGINT NOT NULL DEFAULT 0, '
        '"unsized" INTEGER NOT NULL DEFAULT 0, PRIMARY KEY ("preferredDate", "period"))'
        + sparse,
        *services,
        f'CREATE TABLE IF NOT EXISTS {_F} ("id" INTEGER PRIMARY KEY CHECK ("id" = 1), '
        f'"through" {date} NOT NULL)',
    ]


def contracted(conn: SqlConnection) -> bool:
    """``reservations`` has no legacy ``"service"`` column (phase 4): the ledger is then
    the (date, period) table alone, and its triggers read no legacy column."""
    return "service" not in conn.columns(RESERVATIONS_TABLE)


def create_ledger(conn: SqlConnection) -> None:
    """Tables, frontier row (at :data:`START`) and triggers for the shape of
    ``reservations`` (:func:`contracted`), idempotently; inside the caller's transaction
    (on PostgreSQL one that may take SHARE ROW EXCLUSIVE on reservations for ``CREATE
    TRIGGER``: catalogue only, no scan).

    A contracted ledger found with the legacy column back (phase 4's rollback) has no
    per-service counts: it is dropped and created afresh at :data:`START`, for the fill
    to count both parts again (the fill is resumable; the recount checks it)."""
    d = conn.dialect
    legacy = not contracted(conn)
    if legacy and LEDGER_PERIODS in conn.tables() and LEDGER_SERVICES not in conn.tables():
        drop_ledger(conn)
    for sql in _tables_sql(d, contracted=not legacy):
        conn.execute(sql)
    conn.execute(f'INSERT INTO {_F} ("id", "through") VALUES (1, {_bound(d, "start")}) '
                 'ON CONFLICT ("id") DO NOTHING', {"start": START[d]})
    if d is Dialect.POSTGRES:
        conn.execute(f"LOCK TABLE {_R} IN SHARE ROW EXCLUSIVE MODE")
        conn.execute(pg_sync_sql(filling=_frontier(conn) != DONE[d], contracted=not legacy,
                                 schema=_schema(conn)))
        conn.execute(f"DROP TRIGGER IF EXISTS {q(LEDGER_TRIGGERS[0])} ON {_R}")
        conn.execute(
            f"CREATE TRIGGER {q(LEDGER_TRIGGERS[0])} AFTER INSERT OR UPDATE OR DELETE "
            f"ON {_R} FOR EACH ROW EXECUTE FUNCTION {_SYNC}()"
        )
        conn.execute(_DROP_APPLY)  # the helper of earlier versions, inlined since
        return
    for name in LEDGER_TRIGGERS:  # the other shape's, if any (SQLite has no REPLACE)
        conn.execute(f"DROP TRIGGER IF EXISTS {q(name)}")
    for sql in sqlite_triggers_sql(contracted=not legacy):
        conn.execute(sql)


def refresh_function(conn: SqlConnection) -> None:
    """PostgreSQL, a complete ledger: today's trigger function in place of an earlier
    version's (``CREATE OR REPLACE``: no lock on reservations; the next row uses it).
    The earlier helper stays until the ledger is next rebuilt: a write in flight may
    still be running the old function, which calls it."""
    if conn.dialect is Dialect.POSTGRES and fill_done(conn):
        conn.execute(pg_sync_sql(filling=False, contracted=contracted(conn),
                                 schema=_schema(conn)))


def _schema(conn: SqlConnection) -> str:
    """PostgreSQL: the schema the ledger and reservations are in (the migration's)."""
    return str(conn.scalar("SELECT current_schema()"))


def contract_ledger(conn: SqlConnection) -> None:
    """Phase 4, inside its contract transaction and *before* the legacy columns go:
    drop the triggers (they read ``"service"``) and the per-service counts (the count
    rule goes with the legacy columns). The (date, period) rows stay: the triggers kept
    them exact up to this transaction, which holds reservations against every writer;
    :func:`create_ledger` installs the contracted triggers once the columns are gone.
    On PostgreSQL the caller has locked the ledger's tables first (:func:`lock_ledger`).

    A ledger found without its triggers (a rollback stopped after SQLite's table rebuild,
    whose triggers went with the old table) was not kept meanwhile: it is dropped, and
    created afresh for phase 4's fill to count."""
    if LEDGER_PERIODS in conn.tables() and not _has_triggers(conn):
        drop_ledger(conn)
    if RESERVATIONS_TABLE in conn.tables():
        for name in LEDGER_TRIGGERS[:1] if conn.dialect is Dialect.POSTGRES else LEDGER_TRIGGERS:
            on = f" ON {_R}" if conn.dialect is Dialect.POSTGRES else ""
            conn.execute(f"DROP TRIGGER IF EXISTS {q(name)}{on}")
    conn.execute(f"DROP TABLE IF EXISTS {_S}")


def _has_triggers(conn: SqlConnection) -> bool:
    if conn.dialect is Dialect.POSTGRES:
        found = conn.scalar(
            "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = "
            "current_schema() AND c.relname = %s AND t.tgname = %s",
            (RESERVATIONS_TABLE, LEDGER_TRIGGERS[0]))
        return bool(found)
    found = conn.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                        "AND tbl_name = %s AND name = %s",
                        (RESERVATIONS_TABLE, LEDGER_TRIGGERS[0]))
    return bool(found)


def lock_ledger(conn: SqlConnection) -> None:
    """PostgreSQL: take the ledger's tables ``ACCESS EXCLUSIVE`` — *before* any strong
    lock on reservations in the same transaction. A booking reads the ledger first and
    inserts into reservations second; the other order would deadlock with it (the step
    holding reservations, the booking holding the ledger) until a lock timeout."""
    present = [t for t in LEDGER_TABLES if t in conn.tables()]
    if conn.dialect is Dialect.POSTGRES and present:
        conn.execute(f"LOCK TABLE {q(*present)} IN ACCESS EXCLUSIVE MODE")


def drop_ledger(conn: SqlConnection) -> None:
    """Triggers, functions and tables, each ``IF EXISTS`` (any partial state); on
    PostgreSQL the ledger's tables locked first (:func:`lock_ledger`)."""
    if conn.dialect is Dialect.POSTGRES:
        lock_ledger(conn)
        if RESERVATIONS_TABLE in conn.tables():
            conn.execute(f"DROP TRIGGER IF EXISTS {q(LEDGER_TRIGGERS[0])} ON {_R}")
        conn.execute(f"DROP FUNCTION IF EXISTS {_SYNC}()")
        conn.execute(_DROP_APPLY)
    else:
        for name in LEDGER_TRIGGERS:
            conn.execute(f"DROP TRIGGER IF EXISTS {q(name)}")
    for table in LEDGER_TABLES:
        conn.execute(f"DROP TABLE IF EXISTS {q(table)}")


def fill_done(conn: SqlConnection) -> bool:
    if LEDGER_FILL not in conn.tables():
        return False
    return _frontier(conn) == DONE[conn.dialect]


#: One row per (date, period) of the held rows, as the triggers count them; bounds
#: ``%(lo)s < date <= %(hi)s``.
def _periods_recount(d: Dialect, where: str) -> str:
    periods = ("SELECT 'MORNING' AS \"period\" UNION ALL SELECT 'AFTERNOON'"
               if d is Dialect.SQLITE else
               f'SELECT unnest(enum_range(NULL::{q(PERIOD_TYPE)})) AS "period"')
    return f"""
SELECT r."preferredDate" AS "preferredDate", x."period" AS "period",
  COALESCE(SUM(r."estimatedDuration"), 0) AS "heldMinutes",
  COUNT(*) - COUNT(r."estimatedDuration") AS "unsized"
FROM {_R} r JOIN ({periods}) x ON r."period" IS NULL OR r."period" = x."period"
WHERE r.{_HELD} AND {where}
GROUP BY r."preferredDate", x."period"
"""


def _services_recount(where: str, service: str) -> str:
    return f"""
SELECT r."preferredDate" AS "preferredDate", {service} AS "service", COUNT(*) AS "held"
FROM {_R} r
WHERE r.{_HELD} AND r."service" IS NOT NULL AND {where}
GROUP BY r."preferredDate", r."service"
"""


def _service_expr(d: Dialect) -> str:
    return 'CAST(r."service" AS TEXT)' if d is Dialect.POSTGRES else 'r."service"'


def _bound(d: Dialect, name: str) -> str:
    """A date parameter: the frontier is read and bound as text (psycopg cannot load
    ``infinity`` into a Python date), so PostgreSQL casts it."""
    return f"CAST(%({name})s AS DATE)" if d is Dialect.POSTGRES else f"%({name})s"


def _batch(d: Dialect) -> str:
    return f'r."preferredDate" > {_bound(d, "lo")} AND r."preferredDate" <= {_bound(d, "hi")}'


def _frontier(conn: SqlConnection, lock: str = "") -> str | None:
    through = conn.scalar(f'SELECT CAST("through" AS TEXT) FROM {_F}{lock}')
    return None if through is None else str(through)


def fill_batch(conn: SqlConnection, batch: int) -> bool:
    """Count the next dates above the frontier (about ``batch`` rows: whole dates) and
    move the frontier past them, in the caller's transaction. Returns False when the
    ledger was already complete (nothing done)."""
    d = conn.dialect
    lock = " FOR UPDATE" if d is Dialect.POSTGRES else ""
    lo = _frontier(conn, lock)
    if lo is None or lo == DONE[d]:
        return False
    found = conn.scalar(
        f'SELECT CAST(r."preferredDate" AS TEXT) FROM {_R} r '
        f'WHERE r."preferredDate" > {_bound(d, "lo")} '
        'ORDER BY r."preferredDate" LIMIT 1 OFFSET %(skip)s',
        {"lo": lo, "skip": max(batch, 1) - 1})
    hi = DONE[d] if found is None else str(found)
    params = {"lo": lo, "hi": hi}
    conn.execute(
        f'INSERT INTO {_P} ("preferredDate", "period", "heldMinutes", "unsized") '
        f"SELECT * FROM ({_periods_recount(d, _batch(d))}) c WHERE true "
        'ON CONFLICT ("preferredDate", "period") DO UPDATE SET '
        '"heldMinutes" = excluded."heldMinutes", "unsized" = excluded."unsized"', params)
    if not contracted(conn):
        conn.execute(
            f'INSERT INTO {_S} ("preferredDate", "service", "held") '
            f"SELECT * FROM ({_services_recount(_batch(d), _service_expr(d))}) c WHERE true "
            'ON CONFLICT ("preferredDate", "service") DO UPDATE SET "held" = excluded."held"',
            params)
    conn.execute(f'UPDATE {_F} SET "through" = {_bound(d, "hi")}', params)
    if hi == DONE[d] and d is Dialect.POSTGRES:  # the frontier is never read again
        conn.execute(pg_sync_sql(filling=False, contracted=contracted(conn),
                                 schema=_schema(conn)))
    return True


def _mismatch_sql(recount: str, ledger: str, keys: tuple[str, ...],
                  values: tuple[str, ...]) -> str:
    """How many keys the ledger (non-zero rows, dates the fill has reached) and the
    recount disagree on: a full outer join written as two anti-joins (SQLite before
    3.39 has no FULL JOIN), their keys UNIONed (a key wrong on both sides counts once)."""
    on = " AND ".join(f"c.{q(k)} = l.{q(k)}" for k in keys)
    same = " AND ".join(f"c.{q(v)} = l.{q(v)}" for v in values)
    nonzero = " OR ".join(f"l.{q(v)} <> 0" for v in values)
    covered = f'l."preferredDate" <= (SELECT "through" FROM {_F})'
    return f"""
SELECT COUNT(*) FROM (
  SELECT {", ".join(f"c.{q(k)}" for k in keys)} FROM ({recount}) c
  WHERE NOT EXISTS (SELECT 1 FROM {ledger} l WHERE {on} AND {same})
  UNION
  SELECT {", ".join(f"l.{q(k)}" for k in keys)} FROM {ledger} l
  WHERE ({nonzero}) AND {covered}
    AND NOT EXISTS (SELECT 1 FROM ({recount}) c WHERE {on} AND {same})
) m"""


def ledger_recount_problems(conn: SqlConnection) -> dict[str, int]:
    """How many (date, period) and (date, service) rows of the ledger differ from a
    recount of ``reservations`` over the dates the fill has reached (empty: all agree).
    One statement per table, so each compares one snapshot of both sides."""
    d = conn.dialect
    covered = f'r."preferredDate" <= (SELECT "through" FROM {_F})'
    out: dict[str, int] = {}
    periods = int(conn.scalar(_mismatch_sql(
        _periods_recount(d, covered), _P, ("preferredDate", "period"),
        ("heldMinutes", "unsized"))) or 0)
    if periods:
        out[LEDGER_PERIODS] = periods
    if not contracted(conn):
        services = int(conn.scalar(_mismatch_sql(
            _services_recount(covered, _service_expr(d)), _S,
            ("preferredDate", "service"), ("held",))) or 0)
        if services:
            out[LEDGER_SERVICES] = services
    return out
