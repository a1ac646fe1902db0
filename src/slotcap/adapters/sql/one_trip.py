"""A booking's deciding statement: the figures from phase 2's ledger and the insert, in
one ``INSERT … SELECT … WHERE <fits> RETURNING`` (PostgreSQL; docs/stores.md, "Which
path a booking takes").

The statement reads, under the booking's locks (taken by the statement before it, in
the same pipeline): the (date, period) ledger row, the fill's frontier, the service and
slot rows, the closures that could cover the date, the held rows of (date, service)
whose phone could be this patient's ("suspects"), and — for the other rule — the
(date, service) ledger count and the legacy limit. It inserts only when:

* the ledger can be trusted alone for the date (filled; no unsized row counted there);
* no closure could apply and no suspect holds the service that day (both decided by
  the careful path: they need the closures' rules and the patient's full identity);
* minutes rule: the service and slot rows are exactly those the caller built its row
  from (the store's catalogue snapshot) and ``held + needed <= capacity`` — the one
  comparison of :func:`slotcap.domain.rules.check_period_capacity` that is left once
  the service is bookable and the slot open; count rule: an active limit above the
  count (:func:`slotcap.domain.rules.check_daily_limit`).

The caller runs the same domain rule on the returned figures; it agrees with whether
the row was inserted (tests/integration/test_one_trip.py).
"""

# Statements are composed from constant identifiers only; values are bound (S608).
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence

from slotcap.adapters.sql.statements import Statements
from slotcap.sql.dialect import DialectRules
from slotcap.sql.names import (
    HOLDING_LIST,
    LEDGER_FILL,
    LEDGER_PERIODS,
    LEDGER_SERVICES,
    LIMIT_COLUMNS,
    RESERVATIONS_TABLE,
    SERVICE_COLUMNS,
    SLOT_COLUMNS,
    column_list,
    named_placeholders,
)

__all__ = ["DAILY_AT", "SERVICE_AT", "SLOT_AT", "deciding_sql", "phone_tail"]

#: A held row's phone is a suspect when its last 7 digits are the patient's, or when it
#: has fewer than 9 digits (then the "+82" rewrite of the identity could touch them).
_TAIL = 7


def phone_tail(digits: str) -> str:
    return digits[-_TAIL:]


def _aliased(alias: str, columns: Sequence[str]) -> str:
    return ", ".join(f'{alias}."{c}" AS "{alias}_{c}"' for c in columns)


#: Where the parts of a returned row start: minutes, unknown, filled, closures,
#: suspects, then the service, the slot, [held, the limit,] and inserted last.
SERVICE_AT = 5
SLOT_AT = SERVICE_AT + len(SERVICE_COLUMNS)
DAILY_AT = SLOT_AT + len(SLOT_COLUMNS)


def deciding_sql(d: DialectRules, st: Statements, *, legacy: bool) -> str | None:
    """The statement for ``st``'s shape (None where it cannot run: no ledger, no
    new tables). ``legacy``: the count rule decides (the minutes figures are still
    returned for the other rule); otherwise the minutes rule."""
    schema = st.schema
    if not (st.uses_ledger and d.insert_in_cte and schema.has_table("services")):
        return None
    count_rule = st.state.has_legacy_columns
    if legacy and not count_rule:
        return None
    if schema.has(RESERVATIONS_TABLE, "service"):
        same_service = d.text('r."service"') + " = %(code)s"
    else:
        same_service = ('r."serviceId" IN (SELECT x."id" FROM "services" x '
                        'WHERE x."code" = %(code)s)')
    digits = "regexp_replace(r.\"phone\", '[^0-9]', '', 'g')"
    closures = ("""(SELECT COUNT(*) FROM "clinic_closures" c WHERE c."startDate" <= %(day)s
      AND (c."endDate" IS NULL OR c."endDate" >= %(day)s))"""
                if schema.has_table("clinic_closures") else "0")
    daily_cols, daily_joins = "", ""
    if count_rule:
        daily_cols = f', COALESCE(ls."held", 0) AS "held", {_aliased("lim", LIMIT_COLUMNS)}'
        daily_joins = f"""
  LEFT JOIN "{LEDGER_SERVICES}" ls ON ls."preferredDate" = %(day)s AND ls."service" = %(code)s
  LEFT JOIN "service_reservation_limits" lim ON lim."serviceType" = %(limit_code)s"""
    if legacy:
        fits = ('f."filled" = 1 AND f."lim_id" IS NOT NULL AND f."lim_isActive" '
                'AND f."held" < f."lim_dailyLimit"')
    else:
        fits = """f."unknown" = 0 AND f."closures" = 0
    AND f."s_id" = %(s_id)s AND f."s_name" = %(s_name)s AND f."s_durationMinutes" = %(s_dur)s
    AND f."s_bufferMinutes" = %(s_buf)s AND f."s_isActive" AND f."s_deletedAt" IS NULL
    AND f."t_id" = %(t_id)s AND f."t_startTime" = %(t_start)s AND f."t_endTime" = %(t_end)s
    AND f."t_isActive" AND f."minutes" + %(needed)s <= %(capacity)s"""
    columns = st.reservation_columns
    return d.native(f"""
WITH f AS (
  SELECT COALESCE(l."heldMinutes", 0) AS "minutes",
    COALESCE(l."unsized", 0) + CASE WHEN fill."through" >= %(day)s THEN 0 ELSE 1 END
      AS "unknown",
    CASE WHEN fill."through" >= %(day)s THEN 1 ELSE 0 END AS "filled",
    {closures} AS "closures",
    (SELECT COUNT(*) FROM "{RESERVATIONS_TABLE}" r WHERE r."preferredDate" = %(day)s
      AND r."status" IN {HOLDING_LIST} AND {same_service}
      AND (length({digits}) < 9 OR right({digits}, {_TAIL}) = %(tail)s)) AS "suspects",
    {_aliased("s", SERVICE_COLUMNS)}, {_aliased("t", SLOT_COLUMNS)}{daily_cols}
  FROM "{LEDGER_FILL}" fill
  LEFT JOIN "{LEDGER_PERIODS}" l ON l."preferredDate" = %(day)s AND l."period" = %(period)s
  LEFT JOIN "services" s ON s."code" = %(code)s
  LEFT JOIN "clinic_time_slots" t ON t."dayOfWeek" = %(dow)s AND t."period" = %(slot_period)s
  {daily_joins}
  WHERE fill."id" = 1
), ins AS (
  INSERT INTO "{RESERVATIONS_TABLE}" ({column_list(columns)})
  SELECT {named_placeholders(columns)} FROM f
  WHERE f."suspects" = 0 AND {fits}
  RETURNING 1
)
SELECT f.*, (SELECT COUNT(*) FROM ins) FROM f
""")
