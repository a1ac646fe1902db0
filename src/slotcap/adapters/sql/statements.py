"""Every statement the SQL stores run, built once per schema shape.

Written in pyformat (``%(name)s``) like the rest of :mod:`slotcap.sql` and turned into
the driver's style once, when the shape is first seen (:meth:`DialectRules.native`), so
the hot path sends prepared-statement-stable text with no per-call rewrite.
:class:`SchemaInfo` is the part of the catalogue snapshot the stores follow.
"""

# Statements are composed from this package's own constant identifiers only (S608);
# every value a caller supplies is bound as a parameter.
# ruff: noqa: S608

from __future__ import annotations

import functools
from collections.abc import Sequence

import attrs

from slotcap.adapters.sql.held_sql import (
    LEDGER_FILLED,
    LEDGER_HELD,
    LEDGER_ROW,
    ledger_calendar_sql,
    period_held_sql,
    rows_held,
)
from slotcap.domain.model import Period
from slotcap.ports import SchemaState
from slotcap.sql.catalog import Catalog, reservations_state
from slotcap.sql.dialect import DialectRules
from slotcap.sql.names import (
    CLOSURE_COLUMNS,
    COMMON_RESERVATION_COLUMNS,
    HOLDING_LIST,
    LEDGER_SERVICES,
    LEDGER_TABLES,
    LEGACY_ONLY_COLUMNS,
    LIMIT_COLUMNS,
    NEW_COLUMNS,
    RESERVATIONS_TABLE,
    SERVICE_COLUMNS,
    SLOT_COLUMNS,
    STORE_TABLES,
    column_list,
    named_placeholders,
    qualified,
)

__all__ = ["SchemaInfo", "Statements", "build_statements"]


@attrs.frozen
class SchemaInfo:
    """What the stores follow of the catalogue: the columns of their four tables (a
    missing table has none) and, on PostgreSQL, the labels of the old ``service``
    column's enum type."""

    columns: frozenset[tuple[str, str]]
    legacy_enum: frozenset[str] | None = None

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> SchemaInfo:
        labels = catalog.enum_labels(RESERVATIONS_TABLE, "service")
        return cls(
            columns=frozenset(k for k in catalog.columns if k[0] in STORE_TABLES),
            legacy_enum=None if labels is None else frozenset(labels),
        )

    def has_table(self, table: str) -> bool:
        return any(t == table for t, _ in self.columns)

    def has(self, table: str, column: str) -> bool:
        return (table, column) in self.columns

    @functools.cached_property
    def has_ledger(self) -> bool:
        """The ledger of held load is there (its tables — phase 4's has no per-service one;
        its triggers come in the same transaction): availability reads it, not the rows."""
        return all(self.has_table(t) for t in LEDGER_TABLES
                   if t != LEDGER_SERVICES or self.has(RESERVATIONS_TABLE, "service"))

    @functools.cached_property
    def state(self) -> SchemaState:
        """EXPANDED: old and new reservation columns (and the new tables); LEGACY: old
        only; CONTRACTED: no old ``service`` column any more (the one rule,
        :func:`slotcap.domain.schema_state.schema_state`). Derived once per
        introspection (the instance is immutable)."""
        return reservations_state(self.columns, {t for t, _ in self.columns})

    def reservation_columns(self) -> tuple[str, ...]:
        """The reservation columns this state reads and writes, in a stable order.

        LEGACY writes old columns only, CONTRACTED new only, EXPANDED both (dual-write).
        """
        state = self.state
        wanted = COMMON_RESERVATION_COLUMNS
        if state.has_legacy_columns:
            wanted += LEGACY_ONLY_COLUMNS
        if state.has_new_columns:
            wanted += NEW_COLUMNS
        return tuple(c for c in wanted if self.has(RESERVATIONS_TABLE, c))

    def accepts_legacy_code(self, code: str) -> bool:
        """Whether ``code`` can be bound to the old enum-typed columns at all (on
        PostgreSQL an unknown label is an error, not a non-match)."""
        return self.legacy_enum is None or code in self.legacy_enum


@attrs.frozen
class Statements:
    """Every statement for one schema shape, in the driver's placeholder style."""

    schema: SchemaInfo
    state: SchemaState
    #: The common case: held minutes from ``estimatedDuration`` alone, plus how many
    #: rows need the fallback (no duration in the period, or no period on the date).
    period_facts: str
    #: The full rule, run only when ``period_facts`` counted such rows.
    period_facts_full: str
    #: ``period_facts`` without the service and slot rows: what a check outside a
    #: booking runs (the catalogue comes from the store's snapshot).
    period_held: str
    daily_facts: str
    #: Whether ``period_facts``, ``period_held`` and ``calendar`` read the ledger (their
    #: "unknown" count is then also 1 for a date the ledger's fill has not reached).
    uses_ledger: bool
    #: The calendar summed over the rows: the fallback of a ledger ``calendar`` that
    #: reports rows it cannot size (or the calendar itself without a ledger).
    calendar_full: str
    #: ``daily_facts`` and the insert in one statement (None where the dialect runs
    #: the two under its write lock, or the count rule cannot run).
    insert_within_limit: str | None
    calendar: str
    #: With the ledger (else None): the check's one primary-key row, the calendar's
    #: range alone and the fill's completeness — used once the catalogue snapshot says
    #: the fill is complete (``SqlReads.catalogue_now``).
    ledger_row: str | None
    calendar_filled: str | None
    ledger_filled: str | None
    reservation_columns: tuple[str, ...]
    select_reservation: str
    insert_reservation: str
    set_status: str
    list_services: str
    upsert_service: str
    list_slots: str
    upsert_slot: str
    get_limit: str
    upsert_limit: str
    #: PENDING/CONFIRMED reservations between two dates (the bookings a closure hits).
    held_between: str
    #: Closures and settings: None before phase 1 (no table; the stores then see no
    #: closures and no stored time zone).
    list_closures: str | None = None
    insert_closure: str | None = None
    delete_closure: str | None = None
    get_setting: str | None = None
    upsert_setting: str | None = None


def _minutes(schema: SchemaInfo) -> tuple[str, str]:
    """The minutes one held row ``h`` occupies, and the joins that expression needs.

    ``estimatedDuration``, else its service's duration + buffer by ``serviceId``, else
    by the legacy code, else the longest service: the rule of
    ``slotcap.domain.rules.minutes_for``, in SQL.
    """
    parts = ['h."estimatedDuration"', 'by_id."durationMinutes" + by_id."bufferMinutes"']
    joins = ['LEFT JOIN "services" by_id ON by_id."id" = h."serviceId"']
    if schema.has(RESERVATIONS_TABLE, "service"):
        parts.append('by_code."durationMinutes" + by_code."bufferMinutes"')
        joins.append('LEFT JOIN "services" by_code ON by_code."code" = h."code"')
    parts.append('(SELECT MAX(l."durationMinutes" + l."bufferMinutes") FROM "services" l)')
    return f"COALESCE({', '.join(parts)})", "\n".join(joins)


def _held_row(d: DialectRules, schema: SchemaInfo, *extra: str) -> str:
    code = d.text('r."service"') if schema.has(RESERVATIONS_TABLE, "service") else "NULL"
    return ", ".join([*extra, 'r."estimatedDuration"', 'r."serviceId"', f'{code} AS "code"'])


_FACTS_JOINS = """
LEFT JOIN "services" s ON s."code" = %(code)s
LEFT JOIN "clinic_time_slots" t ON t."dayOfWeek" = %(dow)s AND t."period" = %(slot_period)s
"""


def _period_facts_sql(d: DialectRules, schema: SchemaInfo) -> str:
    # Two branches instead of `period = :p OR period IS NULL` so that each is an equality
    # (or IS NULL) probe of reservations_preferredDate_period_status_idx.
    minutes, joins = _minutes(schema)
    row = _held_row(d, schema)
    holding = f'r."status" IN {HOLDING_LIST}'
    return f"""
SELECT held."minutes", {qualified("s", SERVICE_COLUMNS)}, {qualified("t", SLOT_COLUMNS)}
FROM (
  SELECT COALESCE(SUM({minutes}), 0) AS "minutes"
  FROM (
    SELECT {row} FROM "reservations" r
    WHERE r."preferredDate" = %(day)s AND r."period" = %(period)s AND {holding}
    UNION ALL
    SELECT {row} FROM "reservations" r
    WHERE r."preferredDate" = %(day)s AND r."period" IS NULL AND {holding}
  ) h
  {joins}
) held{_FACTS_JOINS}"""


#: Appended to a booking's facts statement once clinic_closures exists: how many
#: closures could cover the date (their date span contains it). 0 — the common case —
#: means none applies and the booking reads no closures; otherwise it reads them.
_CLOSURE_CANDIDATES = """, (
  SELECT COUNT(*) FROM "clinic_closures" c
  WHERE c."startDate" <= %(day)s AND (c."endDate" IS NULL OR c."endDate" >= %(day)s)
) AS "closures"
"""


def _period_facts_fast_sql(closures: bool = False, held: str | None = None) -> str:
    # The common case, once the backfill has filled every row: SUM(estimatedDuration) of
    # the period's held rows (the period index INCLUDEs it) and a count of the rows the
    # sum cannot answer — the period's held rows without a duration and the date's held
    # rows without a period — each an index probe. When that count is not 0 the store
    # runs the full statement instead; the answer is the same either way. ``held``: the
    # ledger's row instead of the sum (phase 2, ledger_sql.LEDGER_HELD).
    return f"""
SELECT held."minutes", held."unknown", {qualified("s", SERVICE_COLUMNS)}, \
{qualified("t", SLOT_COLUMNS)}{_CLOSURE_CANDIDATES if closures else ""}
FROM ({held or rows_held()}) held{_FACTS_JOINS}"""


def _held_count() -> str:
    # Probes reservations_preferredDate_service_status_idx.
    return f"""(
  SELECT COUNT(*) FROM "reservations" r
  WHERE r."preferredDate" = %(day)s AND r."service" = %(code)s AND r."status" IN {HOLDING_LIST}
)"""


def _insert_within_limit_sql(columns: Sequence[str]) -> str:
    # The legacy check and insert in one round trip under the booking's locks: the
    # facts of ``daily_facts``, and the insert only when the count rule allows it
    # (``slotcap.domain.rules.check_daily_limit``: an active limit above the count).
    # The caller decides on the returned facts exactly as on the two-statement form.
    return f"""
WITH facts AS ({_daily_facts_sql()}), inserted AS (
  INSERT INTO "reservations" ({column_list(columns)})
  SELECT {named_placeholders(columns)} FROM facts f
  WHERE f."id" IS NOT NULL AND f."isActive" AND f."held" < f."dailyLimit"
  RETURNING 1
)
SELECT f.*, (SELECT COUNT(*) FROM inserted) FROM facts f
"""


def _daily_facts_sql() -> str:
    # The anchor row makes the answer one row whether or not a limit exists.
    return f"""
SELECT {_held_count()} AS "held", {qualified("l", LIMIT_COLUMNS)}
FROM (SELECT 1 AS "one") anchor
LEFT JOIN "service_reservation_limits" l ON l."serviceType" = %(limit_code)s
"""


def _calendar_sql(d: DialectRules, schema: SchemaInfo) -> str:
    minutes, joins = _minutes(schema)
    period = d.text('r."period"')
    row = _held_row(d, schema, 'r."preferredDate"', f'{period} AS "period"')
    periods = " UNION ALL ".join(
        f"SELECT '{p.value}' AS \"period\", {i} AS \"ord\"" for i, p in enumerate(Period)
    )
    return f"""
{d.with_keyword} {d.days_cte},
periods AS ({periods}),
held AS (
  SELECT h."preferredDate" AS "day", h."period", SUM({minutes}) AS "minutes"
  FROM (
    SELECT {row} FROM "reservations" r
    WHERE r."preferredDate" BETWEEN %(first_day)s AND %(last_day)s
      AND r."status" IN {HOLDING_LIST}
  ) h
  {joins}
  GROUP BY h."preferredDate", h."period"
),
booked AS (
  -- A row without a period holds its minutes in both periods of its date.
  SELECT x."day", p."period", SUM(x."minutes") AS "minutes"
  FROM held x JOIN periods p ON x."period" = p."period" OR x."period" IS NULL
  GROUP BY x."day", p."period"
)
SELECT d."day", p."period", {qualified("t", SLOT_COLUMNS)}, COALESCE(b."minutes", 0)
FROM days d CROSS JOIN periods p
LEFT JOIN "clinic_time_slots" t
  ON t."dayOfWeek" = {d.dow('d."day"')} AND {d.text('t."period"')} = p."period"
LEFT JOIN booked b ON b."day" = d."day" AND b."period" = p."period"
ORDER BY d."day", p."ord"
"""


def _upsert(table: str, columns: Sequence[str], conflict: str, keep: Sequence[str]) -> str:
    """INSERT … ON CONFLICT DO UPDATE of every column but the conflict key and ``keep``."""
    updates = ", ".join(
        f'"{c}" = excluded."{c}"' for c in columns if c not in keep and f'"{c}"' not in conflict
    )
    return (
        f'INSERT INTO "{table}" ({column_list(columns)}) VALUES ({named_placeholders(columns)}) '
        f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}"
    )


def build_statements(d: DialectRules, schema: SchemaInfo) -> Statements:
    """Every statement for ``schema``'s shape (built once per shape, then reused)."""
    res_cols = schema.reservation_columns()
    service_write = (*SERVICE_COLUMNS, "createdAt", "updatedAt")
    slot_write = (*SLOT_COLUMNS, "totalMinutes", "createdAt", "updatedAt")
    limit_write = (*LIMIT_COLUMNS, "createdAt", "updatedAt")
    q = d.native
    closures = schema.has_table("clinic_closures")
    ledger = schema.has_ledger
    return Statements(
        schema=schema,
        state=schema.state,
        period_facts=q(_period_facts_fast_sql(closures, LEDGER_HELD if ledger else None)),
        period_facts_full=q(_period_facts_sql(d, schema)),
        period_held=q(LEDGER_HELD if ledger else period_held_sql()),
        daily_facts=q(_daily_facts_sql()),
        uses_ledger=ledger,
        calendar_full=q(_calendar_sql(d, schema)),
        insert_within_limit=(
            q(_insert_within_limit_sql(res_cols))
            if d.insert_in_cte and schema.state.has_legacy_columns
            else None
        ),
        calendar=q(ledger_calendar_sql(d) if ledger else _calendar_sql(d, schema)),
        ledger_row=q(LEDGER_ROW) if ledger else None,
        calendar_filled=q(ledger_calendar_sql(d, filled=True)) if ledger else None,
        ledger_filled=q(LEDGER_FILLED) if ledger else None,
        reservation_columns=res_cols,
        select_reservation=q(
            f'SELECT {qualified("r", res_cols)} FROM "reservations" r WHERE r."id" = %(id)s'
        ),
        insert_reservation=q(
            f'INSERT INTO "reservations" ({column_list(res_cols)}) '
            f"VALUES ({named_placeholders(res_cols)})"
        ),
        set_status=q(
            'UPDATE "reservations" SET "status" = %(status)s, "statusChangedAt" = %(now)s, '
            '"statusChangedBy" = %(changed_by)s, "updatedAt" = %(now)s WHERE "id" = %(id)s '
            f"RETURNING {column_list(res_cols)}"
        ),
        list_services=q(f'SELECT {qualified("s", SERVICE_COLUMNS)} FROM "services" s'),
        upsert_service=q(_upsert("services", service_write, '"id"', ("createdAt",))),
        list_slots=q(f'SELECT {qualified("t", SLOT_COLUMNS)} FROM "clinic_time_slots" t'),
        upsert_slot=q(
            _upsert("clinic_time_slots", slot_write, '"dayOfWeek", "period"', ("id", "createdAt"))
        ),
        get_limit=q(
            f'SELECT {qualified("l", LIMIT_COLUMNS)} FROM "service_reservation_limits" l '
            'WHERE l."serviceType" = %(code)s'
        ),
        upsert_limit=q(
            _upsert("service_reservation_limits", limit_write, '"serviceType"', ("id", "createdAt"))
        ),
        held_between=q(
            f'SELECT {qualified("r", res_cols)} FROM "reservations" r '
            'WHERE r."preferredDate" BETWEEN %(first_day)s AND %(last_day)s '
            f'AND r."status" IN {HOLDING_LIST} ORDER BY r."preferredDate", r."id"'
        ),
        **_closure_statements(d, schema),
    )


def _closure_statements(d: DialectRules, schema: SchemaInfo) -> dict[str, str | None]:
    q = d.native
    out: dict[str, str | None] = {}
    if schema.has_table("clinic_closures"):
        period = d.text('c."period"')
        columns = [qualified("c", (c,)) if c != "period" else f'{period} AS "period"'
                   for c in CLOSURE_COLUMNS]
        out["list_closures"] = q(
            f'SELECT {", ".join(columns)} FROM "clinic_closures" c '
            'ORDER BY c."startDate", c."id"'
        )
        out["insert_closure"] = q(
            f'INSERT INTO "clinic_closures" ({column_list(CLOSURE_COLUMNS)}) '
            f"VALUES ({named_placeholders(CLOSURE_COLUMNS)})"
        )
        out["delete_closure"] = q(
            'DELETE FROM "clinic_closures" WHERE "id" = %(id)s RETURNING "id"'
        )
    if schema.has_table("clinic_settings"):
        out["get_setting"] = q('SELECT "value" FROM "clinic_settings" WHERE "key" = %(key)s')
        out["upsert_setting"] = q(
            'INSERT INTO "clinic_settings" ("key", "value", "updatedAt") '
            'VALUES (%(key)s, %(value)s, %(now)s) '
            'ON CONFLICT ("key") DO UPDATE SET "value" = excluded."value", '
            '"updatedAt" = excluded."updatedAt"'
        )
    return out
