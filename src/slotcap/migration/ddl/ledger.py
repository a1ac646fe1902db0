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
  rows with that legacy service code (the count rule).

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
    "create_ledger",
    "drop_ledger",
    "fill_batch",
    "fill_done",
    "ledger_recount_problems",
    "lock_ledger",
]

#: The frontier before any date is counted, and once every date is (per dialect).
START = {Dialect.POSTGRES: "-infinity", Dialect.SQLITE: "0000-00-00"}
DONE = {Dialect.POSTGRES: "infinity", Dialect.SQLITE: "9999-12-31"}

_R, _P, _S, _F = q(RESERVATIONS_TABLE), q(LEDGER_PERIODS), q(LEDGER_SERVICES), q(LEDGER_FILL)
_SYNC, _APPLY = (q(f) for f in LEDGER_FUNCTIONS)
_HELD = HELD_STATUSES  # "status" IN ('PENDING','CONFIRMED')


def _tables_sql(d: Dialect) -> list[str]:
    pg = d is Dialect.POSTGRES
    date = "DATE" if pg else "TEXT"
    period = q(PERIOD_TYPE) if pg else "TEXT"
    # Sparse pages (PostgreSQL): a few hundred rows a year, each updated by every
    # booking of its date. Room on the page keeps those updates HOT, and a table of
    # more pages than a primary-key probe costs is read by that probe: on two dense
    # pages the planner's generic plan was a filter over every row (≈ 3× the probe).
    sparse = " WITH (fillfactor = 10)" if pg else ""
    return [
        f'CREATE TABLE IF NOT EXISTS {_P} ("preferredDate" {date} NOT NULL, '
        f'"period" {period} NOT NULL, "heldMinutes" BIGINT NOT NULL DEFAULT 0, '
        '"unsized" INTEGER NOT NULL DEFAULT 0, PRIMARY KEY ("preferredDate", "period"))'
        + sparse,
        f'CREATE TABLE IF NOT EXISTS {_S} ("preferredDate" {date} NOT NULL, '
        '"service" TEXT NOT NULL, "held" INTEGER NOT NULL DEFAULT 0, '
        'PRIMARY KEY ("preferredDate", "service"))' + sparse,
        f'CREATE TABLE IF NOT EXISTS {_F} ("id" INTEGER PRIMARY KEY CHECK ("id" = 1), '
        f'"through" {date} NOT NULL)',
    ]


# -- PostgreSQL: one row trigger, one helper that applies a row's share -----------------

_PG_APPLY = f"""CREATE OR REPLACE FUNCTION {_APPLY}(
  d DATE, p {q(PERIOD_TYPE)}, minutes INTEGER, code TEXT, sign INTEGER
) RETURNS void LANGUAGE plpgsql SET search_path FROM CURRENT AS $body$
BEGIN
  IF p IS NOT NULL THEN
    INSERT INTO {_P} AS l ("preferredDate", "period", "heldMinutes", "unsized")
    VALUES (d, p, sign * COALESCE(minutes, 0), CASE WHEN minutes IS NULL THEN sign ELSE 0 END)
    ON CONFLICT ("preferredDate", "period") DO UPDATE
      SET "heldMinutes" = l."heldMinutes" + excluded."heldMinutes",
          "unsized" = l."unsized" + excluded."unsized";
  ELSE  -- no period yet: held in both periods of the date
    INSERT INTO {_P} AS l ("preferredDate", "period", "heldMinutes", "unsized")
    SELECT d, x, sign * COALESCE(minutes, 0), CASE WHEN minutes IS NULL THEN sign ELSE 0 END
    FROM unnest(enum_range(NULL::{q(PERIOD_TYPE)})) AS x
    ON CONFLICT ("preferredDate", "period") DO UPDATE
      SET "heldMinutes" = l."heldMinutes" + excluded."heldMinutes",
          "unsized" = l."unsized" + excluded."unsized";
  END IF;
  IF code IS NOT NULL THEN
    INSERT INTO {_S} AS l ("preferredDate", "service", "held") VALUES (d, code, sign)
    ON CONFLICT ("preferredDate", "service") DO UPDATE SET "held" = l."held" + excluded."held";
  END IF;
END
$body$"""

def _pg_sync(filling: bool) -> str:
    """The trigger's function. While the fill runs it reads the frontier (``FOR SHARE``:
    see the module docstring); the fill's last batch replaces it with the version for a
    complete ledger, which reads nothing but the row (one query less per write)."""
    frontier = f"""SELECT f."through" INTO v_through FROM {_F} f;
  IF v_through IS DISTINCT FROM 'infinity'::date THEN
    -- The fill is running: serialise with its batch (it takes this row FOR UPDATE).
    SELECT f."through" INTO v_through FROM {_F} f FOR SHARE;
  END IF;""" if filling else "v_through := 'infinity'::date;  -- the ledger is complete"
    return f"""CREATE OR REPLACE FUNCTION {_SYNC}() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $body$
DECLARE
  old_held BOOLEAN := false;
  new_held BOOLEAN := false;
  v_through DATE;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    old_held := OLD."status" IN ('PENDING', 'CONFIRMED');
  END IF;
  IF TG_OP <> 'DELETE' THEN
    new_held := NEW."status" IN ('PENDING', 'CONFIRMED');
  END IF;
  IF NOT (old_held OR new_held) THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' AND old_held = new_held
     AND NEW."preferredDate" IS NOT DISTINCT FROM OLD."preferredDate"
     AND NEW."period" IS NOT DISTINCT FROM OLD."period"
     AND NEW."estimatedDuration" IS NOT DISTINCT FROM OLD."estimatedDuration"
     AND NEW."service" IS NOT DISTINCT FROM OLD."service" THEN
    RETURN NULL;
  END IF;
  {frontier}
  -- Both sides in (date, period) order, so that two updates moving rows in opposite
  -- directions lock the ledger rows in the same order (no deadlock between them).
  IF new_held AND NEW."preferredDate" <= v_through AND (NOT old_held
     OR (NEW."preferredDate", NEW."period") < (OLD."preferredDate", OLD."period")) THEN
    PERFORM {_APPLY}(NEW."preferredDate", NEW."period", NEW."estimatedDuration",
                     NEW."service"::text, 1);
    new_held := false;
  END IF;
  IF old_held AND OLD."preferredDate" <= v_through THEN
    PERFORM {_APPLY}(OLD."preferredDate", OLD."period", OLD."estimatedDuration",
                     OLD."service"::text, -1);
  END IF;
  IF new_held AND NEW."preferredDate" <= v_through THEN
    PERFORM {_APPLY}(NEW."preferredDate", NEW."period", NEW."estimatedDuration",
                     NEW."service"::text, 1);
  END IF;
  RETURN NULL;
END
$body$"""


# -- SQLite: three triggers (no procedural code); the frontier read in each -------------

_SQLITE_COVERED = f'(SELECT "through" FROM {_F})'


def _sqlite_apply(row: str, sign: int) -> str:
    when = f"{row}.{_HELD} AND {row}.\"preferredDate\" <= {_SQLITE_COVERED}"
    return f"""
  INSERT INTO {_P} ("preferredDate", "period", "heldMinutes", "unsized")
  SELECT {row}."preferredDate", x."period", {sign} * COALESCE({row}."estimatedDuration", 0),
         CASE WHEN {row}."estimatedDuration" IS NULL THEN {sign} ELSE 0 END
  FROM (SELECT 'MORNING' AS "period" UNION ALL SELECT 'AFTERNOON') x
  WHERE ({row}."period" IS NULL OR {row}."period" = x."period") AND {when}
  ON CONFLICT ("preferredDate", "period") DO UPDATE
    SET "heldMinutes" = "heldMinutes" + excluded."heldMinutes",
        "unsized" = "unsized" + excluded."unsized";
  INSERT INTO {_S} ("preferredDate", "service", "held")
  SELECT {row}."preferredDate", {row}."service", {sign}
  WHERE {row}."service" IS NOT NULL AND {when}
  ON CONFLICT ("preferredDate", "service") DO UPDATE SET "held" = "held" + excluded."held";"""


def _sqlite_triggers() -> list[str]:
    ins, upd, dele = (q(t) for t in LEDGER_TRIGGERS)
    return [
        f"CREATE TRIGGER IF NOT EXISTS {ins} AFTER INSERT ON {_R} "
        f"BEGIN{_sqlite_apply('NEW', 1)}\nEND",
        f'CREATE TRIGGER IF NOT EXISTS {upd} AFTER UPDATE OF "status", "preferredDate", '
        f'"period", "estimatedDuration", "service" ON {_R} '
        f"BEGIN{_sqlite_apply('OLD', -1)}{_sqlite_apply('NEW', 1)}\nEND",
        f"CREATE TRIGGER IF NOT EXISTS {dele} AFTER DELETE ON {_R} "
        f"BEGIN{_sqlite_apply('OLD', -1)}\nEND",
    ]


def create_ledger(conn: SqlConnection) -> None:
    """Tables, frontier row (at :data:`START`) and triggers, idempotently; inside the
    caller's transaction (on PostgreSQL one that may take SHARE ROW EXCLUSIVE on
    reservations for ``CREATE TRIGGER``: catalogue only, no scan)."""
    d = conn.dialect
    for sql in _tables_sql(d):
        conn.execute(sql)
    conn.execute(f'INSERT INTO {_F} ("id", "through") VALUES (1, {_bound(d, "start")}) '
                 'ON CONFLICT ("id") DO NOTHING', {"start": START[d]})
    if d is Dialect.POSTGRES:
        conn.execute(f"LOCK TABLE {_R} IN SHARE ROW EXCLUSIVE MODE")
        conn.execute(_PG_APPLY)
        conn.execute(_pg_sync(filling=_frontier(conn) != DONE[d]))
        conn.execute(f"DROP TRIGGER IF EXISTS {q(LEDGER_TRIGGERS[0])} ON {_R}")
        conn.execute(
            f"CREATE TRIGGER {q(LEDGER_TRIGGERS[0])} AFTER INSERT OR UPDATE OR DELETE "
            f"ON {_R} FOR EACH ROW EXECUTE FUNCTION {_SYNC}()"
        )
        return
    for sql in _sqlite_triggers():
        conn.execute(sql)


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
        conn.execute(f"DROP FUNCTION IF EXISTS {_APPLY}(DATE, {q(PERIOD_TYPE)}, INTEGER, "
                     "TEXT, INTEGER)")
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
    if "service" in conn.columns(RESERVATIONS_TABLE):
        conn.execute(
            f'INSERT INTO {_S} ("preferredDate", "service", "held") '
            f"SELECT * FROM ({_services_recount(_batch(d), _service_expr(d))}) c WHERE true "
            'ON CONFLICT ("preferredDate", "service") DO UPDATE SET "held" = excluded."held"',
            params)
    conn.execute(f'UPDATE {_F} SET "through" = {_bound(d, "hi")}', params)
    if hi == DONE[d] and d is Dialect.POSTGRES:
        conn.execute(_pg_sync(filling=False))  # the frontier is never read again
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
    if "service" in conn.columns(RESERVATIONS_TABLE):
        services = int(conn.scalar(_mismatch_sql(
            _services_recount(covered, _service_expr(d)), _S,
            ("preferredDate", "service"), ("held",))) or 0)
        if services:
            out[LEDGER_SERVICES] = services
    return out
