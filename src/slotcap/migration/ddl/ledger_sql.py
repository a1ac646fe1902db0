"""The ledger's trigger SQL, per dialect and per shape of ``reservations`` (docs/capacity.md,
"The ledger"): the full ledger while the legacy ``"service"`` column exists (phases 2
and 3: held minutes per (date, period) and held rows per (date, legacy service)), the
contracted one after phase 4 drops it (held minutes per (date, period) only).

PostgreSQL: one row trigger whose function applies the old row's share with -1 and the
new row's with +1, each one upsert per ledger table written inline (no helper call, no
dynamic SQL); SQLite: three triggers of plain SQL (insert, update of the counted
columns, delete). :mod:`slotcap.migration.ddl.ledger` creates, swaps and drops them.
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
    LEDGER_TRIGGERS,
    PERIOD_TYPE,
    RESERVATIONS_TABLE,
    q,
)

__all__ = ["COUNTED", "pg_sync_sql", "sqlite_triggers_sql"]

_R, _P, _S, _F = q(RESERVATIONS_TABLE), q(LEDGER_PERIODS), q(LEDGER_SERVICES), q(LEDGER_FILL)
_SYNC = q(LEDGER_FUNCTIONS[0])
_HELD = HELD_STATUSES  # "status" IN ('PENDING','CONFIRMED')

#: The columns the ledger counts by; an UPDATE that changes none of them changes nothing.
COUNTED = ("status", "preferredDate", "period", "estimatedDuration")


def _counted(contracted: bool) -> tuple[str, ...]:
    return COUNTED if contracted else (*COUNTED, "service")


# -- PostgreSQL --------------------------------------------------------------------------


def _pg_apply(row: str, sign: int, contracted: bool, schema: str) -> str:
    """One row's share: an upsert of its (date, period) row — both periods' rows when it
    has no period yet, in one statement — and, while the legacy column exists, one of
    its (date, service) row."""
    minutes = f'{sign} * COALESCE({row}."estimatedDuration", 0)'
    unsized = f'CASE WHEN {row}."estimatedDuration" IS NULL THEN {sign} ELSE 0 END'
    upsert = ('ON CONFLICT ("preferredDate", "period") DO UPDATE '
              'SET "heldMinutes" = l."heldMinutes" + excluded."heldMinutes", '
              '"unsized" = l."unsized" + excluded."unsized"')
    text = f"""
    IF {row}."period" IS NOT NULL THEN
      INSERT INTO {schema}.{_P} AS l ("preferredDate", "period", "heldMinutes", "unsized")
      VALUES ({row}."preferredDate", {row}."period", {minutes}, {unsized}) {upsert};
    ELSE  -- no period yet: held in both periods of the date
      INSERT INTO {schema}.{_P} AS l ("preferredDate", "period", "heldMinutes", "unsized")
      SELECT {row}."preferredDate", x, {minutes}, {unsized}
      FROM unnest(enum_range(NULL::{schema}.{q(PERIOD_TYPE)})) AS x {upsert};
    END IF;"""
    if not contracted:
        text += f"""
    IF {row}."service" IS NOT NULL THEN
      INSERT INTO {schema}.{_S} AS l ("preferredDate", "service", "held")
      VALUES ({row}."preferredDate", {row}."service"::text, {sign})
      ON CONFLICT ("preferredDate", "service") DO UPDATE SET "held" = l."held" + {sign};
    END IF;"""
    return text


def pg_sync_sql(*, filling: bool, contracted: bool, schema: str) -> str:
    """The trigger's function. While the fill runs it reads the frontier (``FOR SHARE``:
    see :mod:`slotcap.migration.ddl.ledger`); the fill's last batch replaces it with the
    version for a complete ledger, which reads nothing but the row (one query less per
    write). ``contracted``: after phase 4, without the legacy ``"service"`` column.

    Every name it uses is qualified with ``schema`` (reservations' schema) instead of a
    ``SET search_path`` clause on the function: the same answer whatever the writer's
    search_path, without a configuration save and restore on every call (≈ 5–10 µs a
    row, a quarter of the trigger's cost at phase 2; docs/benchmarks.md section 9)."""
    schema = q(schema)
    frontier = f"""SELECT f."through" INTO v_through FROM {schema}.{_F} f;
  IF v_through IS DISTINCT FROM 'infinity'::date THEN
    -- The fill is running: serialise with its batch (it takes this row FOR UPDATE).
    SELECT f."through" INTO v_through FROM {schema}.{_F} f FOR SHARE;
  END IF;""" if filling else "v_through := 'infinity'::date;  -- the ledger is complete"
    same = "\n     AND ".join(f'NEW.{q(c)} IS NOT DISTINCT FROM OLD.{q(c)}'
                             for c in _counted(contracted)[1:])
    return f"""CREATE OR REPLACE FUNCTION {_SYNC}() RETURNS trigger
LANGUAGE plpgsql AS $body$
DECLARE
  old_held BOOLEAN := false;
  new_held BOOLEAN := false;
  v_through DATE;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    old_held := OLD.{_HELD};
  END IF;
  IF TG_OP <> 'DELETE' THEN
    new_held := NEW.{_HELD};
  END IF;
  IF NOT (old_held OR new_held) THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' AND old_held = new_held
     AND {same} THEN
    RETURN NULL;
  END IF;
  {frontier}
  -- Both sides in (date, period) order, so that two updates moving rows in opposite
  -- directions lock the ledger rows in the same order (no deadlock between them).
  IF new_held AND NEW."preferredDate" <= v_through AND (NOT old_held
     OR (NEW."preferredDate", NEW."period") < (OLD."preferredDate", OLD."period")) THEN
{_pg_apply("NEW", 1, contracted, schema)}
    new_held := false;
  END IF;
  IF old_held AND OLD."preferredDate" <= v_through THEN
{_pg_apply("OLD", -1, contracted, schema)}
  END IF;
  IF new_held AND NEW."preferredDate" <= v_through THEN
{_pg_apply("NEW", 1, contracted, schema)}
  END IF;
  RETURN NULL;
END
$body$"""


# -- SQLite: three triggers (no procedural code); the frontier read in each -------------

_SQLITE_COVERED = f'(SELECT "through" FROM {_F})'


def _sqlite_apply(row: str, sign: int, contracted: bool) -> str:
    when = f"{row}.{_HELD} AND {row}.\"preferredDate\" <= {_SQLITE_COVERED}"
    text = f"""
  INSERT INTO {_P} ("preferredDate", "period", "heldMinutes", "unsized")
  SELECT {row}."preferredDate", x."period", {sign} * COALESCE({row}."estimatedDuration", 0),
         CASE WHEN {row}."estimatedDuration" IS NULL THEN {sign} ELSE 0 END
  FROM (SELECT 'MORNING' AS "period" UNION ALL SELECT 'AFTERNOON') x
  WHERE ({row}."period" IS NULL OR {row}."period" = x."period") AND {when}
  ON CONFLICT ("preferredDate", "period") DO UPDATE
    SET "heldMinutes" = "heldMinutes" + excluded."heldMinutes",
        "unsized" = "unsized" + excluded."unsized";"""
    if not contracted:
        text += f"""
  INSERT INTO {_S} ("preferredDate", "service", "held")
  SELECT {row}."preferredDate", {row}."service", {sign}
  WHERE {row}."service" IS NOT NULL AND {when}
  ON CONFLICT ("preferredDate", "service") DO UPDATE SET "held" = "held" + excluded."held";"""
    return text


def sqlite_triggers_sql(*, contracted: bool) -> list[str]:
    ins, upd, dele = (q(t) for t in LEDGER_TRIGGERS)
    return [
        f"CREATE TRIGGER IF NOT EXISTS {ins} AFTER INSERT ON {_R} "
        f"BEGIN{_sqlite_apply('NEW', 1, contracted)}\nEND",
        f"CREATE TRIGGER IF NOT EXISTS {upd} AFTER UPDATE OF {q(*_counted(contracted))} "
        f"ON {_R} BEGIN{_sqlite_apply('OLD', -1, contracted)}"
        f"{_sqlite_apply('NEW', 1, contracted)}\nEND",
        f"CREATE TRIGGER IF NOT EXISTS {dele} AFTER DELETE ON {_R} "
        f"BEGIN{_sqlite_apply('OLD', -1, contracted)}\nEND",
    ]
