"""The plan's validation checklists as code: read-only, parameterised, with counts.

``validate(conn)`` runs every check of the plan's Phase 1, Phase 2 and Phase 4
checklists that applies to the database's phase (state table + columns), plus the
Phase 3 dual-write monitor. Each check reports a name, the phase whose checklist it
comes from, whether it passed and the counts behind the verdict. Non-blocking checks
(the plan's "looks reasonable" ones) are reported but do not fail the report.

Nothing here writes: only SELECTs (and, on PostgreSQL, one EXPLAIN).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from slotcap.domain.model import LEGACY_SERVICE_CODES, Period
from slotcap.domain.timeparse import parse_preferred_time
from slotcap.migration._dbinfo import load_clinic_hours
from slotcap.migration.catalog import Catalog, snapshot
from slotcap.migration.ddl.archive import contract_record
from slotcap.migration.ddl.ledger import fill_done, ledger_recount_problems
from slotcap.migration.ddl.names import (
    ARCHIVE_LEGACY,
    FINAL_INDEXES,
    FK_SERVICE,
    IDX_HELD_CONTRACTED,
    IDX_PERIOD,
    IDX_SERVICE,
    JOURNAL,
    LEDGER_TABLES,
    LEDGER_TABLES_CONTRACTED,
    LEGACY_ONLY_COLUMNS,
    LIMITS,
    NEW_COLUMNS,
    PERIOD_TYPE,
    READ_INDEXES,
    RESERVATIONS_TABLE,
    SERVICE_TYPE,
    SERVICES,
    SLOTS,
    STATE,
    q,
)
from slotcap.migration.ddl.utc import window_start
from slotcap.migration.state import Phase, detect_phase
from slotcap.migration.validation.report import Check, ValidationReport
from slotcap.sql import Dialect, SqlConnection

__all__ = ["validate"]



_R = q(RESERVATIONS_TABLE)
_S = q(SERVICES)


def _count(conn: SqlConnection, sql: str, params: Iterable[Any] = ()) -> int:
    return int(conn.scalar(sql, tuple(params)) or 0)


# -- phase 1 ------------------------------------------------------------------------------


def _services_seeded(conn: SqlConnection, cat: Catalog) -> Check:
    codes = {r[0] for r in conn.execute(f'SELECT "code" FROM {_S}')}  # noqa: S608
    missing = sorted(set(LEGACY_SERVICE_CODES) - codes)
    return Check("services_cover_service_type", "phase1", not missing,
                 {"service_count": len(codes), "missing_codes": missing})


def _time_slots(conn: SqlConnection, cat: Catalog) -> Check:
    total, active = conn.execute(
        f'SELECT count(*), count(CASE WHEN "isActive" THEN 1 END) FROM {q(SLOTS)}'  # noqa: S608
    )[0]
    return Check("clinic_time_slots_present", "phase1", int(active or 0) > 0,
                 {"slot_count": int(total), "active": int(active or 0), "plan_seed": 11})


def _new_columns_nullable(conn: SqlConnection, cat: Catalog) -> Check:
    cols = cat.table_columns(RESERVATIONS_TABLE)
    missing = [c for c in NEW_COLUMNS if c not in cols]
    not_null = [c for c in NEW_COLUMNS if c in cols and not cols[c].nullable]
    nulls = _count(conn, f'SELECT count(*) FROM {_R} WHERE "serviceId" IS NULL')  # noqa: S608
    return Check("new_columns_nullable", "phase1", not missing and not not_null,
                 {"missing": missing, "not_nullable": not_null, "rows_without_serviceId": nulls})


def _fk_present(conn: SqlConnection, cat: Catalog) -> Check:
    if conn.dialect is Dialect.POSTGRES:
        found = cat.constraints.get((RESERVATIONS_TABLE, FK_SERVICE))
        ok = found is not None and found[1]
        return Check("service_foreign_key", "phase1", ok,
                     {"constraint": FK_SERVICE, "present": found is not None,
                      "validated": bool(found and found[1])})
    ok = any(
        name.endswith(":serviceId") and "REFERENCES services(id)" in definition
        for (table, name), (definition, _v) in cat.constraints.items()
        if table == RESERVATIONS_TABLE
    )
    return Check("service_foreign_key", "phase1", ok, {"constraint": FK_SERVICE, "present": ok})


def _indexes_present(names: Iterable[str], check_name: str, phase: str) -> Callable[
    [SqlConnection, Catalog], Check
]:
    wanted = tuple(names)

    def check(conn: SqlConnection, cat: Catalog) -> Check:
        missing = [n for n in wanted if n not in cat.indexes]
        invalid = [n for n in wanted if n in cat.indexes and not cat.indexes[n][2]]
        return Check(check_name, phase, not missing and not invalid,
                     {"missing": missing, "invalid": invalid})

    return check


def _old_fields_populated(conn: SqlConnection, cat: Catalog) -> Check:
    total, has_service, has_time = conn.execute(
        f'SELECT count(*), count("service"), count("preferredTime") FROM {_R}'  # noqa: S608
    )[0]
    return Check("old_fields_populated", "phase1", total == has_service == has_time,
                 {"total": total, "has_old_service": has_service, "has_old_time": has_time})


# -- phase 2 ------------------------------------------------------------------------------


def _all_migrated(conn: SqlConnection, cat: Catalog) -> Check:
    row = conn.execute(
        f'SELECT count(*), count("serviceId"), count("serviceName"), '  # noqa: S608
        f'count("estimatedDuration"), count("period") FROM {_R}'
    )[0]
    total, sid, sname, dur, per = (int(v) for v in row)
    return Check("all_rows_migrated", "phase2", total == sid == sname == dur == per,
                 {"total": total, "has_serviceId": sid, "has_serviceName": sname,
                  "has_duration": dur, "has_period": per, "awaiting_review": total - per})


def _period_distribution(conn: SqlConnection, cat: Catalog) -> Check:
    rows = conn.execute(
        f'SELECT CAST("period" AS TEXT), count(*) FROM {_R} GROUP BY "period"'  # noqa: S608
    )
    counts = {str(p): int(n) for p, n in rows}
    with_period = sum(n for p, n in counts.items() if p != "None")
    lopsided = with_period >= 20 and any(counts.get(p.value, 0) == with_period for p in Period)
    return Check("period_distribution", "phase2", not lopsided, {"counts": counts},
                 blocking=False)


def _service_mapping(conn: SqlConnection, cat: Catalog) -> Check:
    bad = _count(
        conn,
        f'SELECT count(*) FROM {_R} r JOIN {_S} s ON r."serviceId" = s."id" '  # noqa: S608
        'WHERE CAST(r."service" AS TEXT) <> s."code"',
    )
    return Check("service_mapping_matches", "phase2", bad == 0, {"mismatched_rows": bad})


def _snapshot_matches(journaled: bool) -> Callable[[SqlConnection, Catalog], Check]:
    # Rows the toolkit filled must match the catalogue exactly; rows the application
    # wrote may predate a later duration change (the plan's "or only old reservations
    # before duration changes"), so for them this is reported, not blocking.
    cond = "EXISTS" if journaled else "NOT EXISTS"
    name = "duration_and_name_match" if journaled else "duration_and_name_match_app_rows"

    def check(conn: SqlConnection, cat: Catalog) -> Check:
        duration, service_name = conn.execute(
            "SELECT count(CASE WHEN r.\"estimatedDuration\" <> "  # noqa: S608
            's."durationMinutes" + s."bufferMinutes" THEN 1 END), '
            'count(CASE WHEN r."serviceName" <> s."name" THEN 1 END) '
            f'FROM {_R} r JOIN {_S} s ON r."serviceId" = s."id" '
            f'WHERE {cond} (SELECT 1 FROM {q(JOURNAL)} j WHERE j."reservationId" = r."id")'
        )[0]
        bad = int(duration or 0) + int(service_name or 0)
        return Check(name, "phase2", bad == 0,
                     {"duration_mismatch": int(duration or 0),
                      "name_mismatch": int(service_name or 0)},
                     blocking=journaled)

    return check


def _old_fields_intact(conn: SqlConnection, cat: Catalog) -> Check:
    check = _old_fields_populated(conn, cat)
    return attrs.evolve(check, name="old_fields_intact", phase="phase2")


def _backfill_agrees_with_parser(conn: SqlConnection, cat: Catalog) -> Check:
    """No row the backfill filled has a period its preferredTime does not support —
    in particular no unreadable value filed under MORNING (the plan's ELSE branch)."""
    # The hours the backfill read with (active slots), so the two verdicts compare.
    hours = load_clinic_hours(conn)
    rows = conn.execute(
        f'SELECT r."preferredTime", CAST(r."period" AS TEXT), count(*) FROM {_R} r '  # noqa: S608
        f'JOIN {q(JOURNAL)} j ON j."reservationId" = r."id" '
        "WHERE r.\"period\" IS NOT NULL AND j.\"source\" NOT LIKE 'review%%' "
        'GROUP BY r."preferredTime", r."period"'
    )
    unreadable = disagree = 0
    samples: list[str] = []
    for text, period, n in rows:
        parsed = parse_preferred_time(text, hours=hours).period
        if parsed is None:
            unreadable += int(n)
        elif parsed.value != period:
            disagree += int(n)
        else:
            continue
        if len(samples) < 5:
            samples.append(f"{text!r} -> {period}")
    return Check("backfill_period_matches_parser", "phase2", unreadable + disagree == 0,
                 {"unreadable_with_period": unreadable, "period_disagrees": disagree,
                  "distinct_values_checked": len(rows), "samples": samples})


def _ledger_matches(phase: Phase) -> CheckFn:
    """The ledger (ddl/ledger.py) against a recount of reservations, row for row;
    phase 4's without the per-service counts."""
    name, tables = "ledger_matches_recount", (
        LEDGER_TABLES if phase is Phase.PHASE2 else LEDGER_TABLES_CONTRACTED)

    def check(conn: SqlConnection, cat: Catalog) -> Check:
        if not all(t in cat.tables for t in tables):
            # Asked of a phase-1 database ("may it become phase 2?"): phase 2 creates it.
            early = detect_phase(conn).rank < phase.rank
            return Check(name, phase.value, early, {"ledger": "missing"})
        if not fill_done(conn):
            return Check(name, phase.value, False, {"ledger": "not completely filled"})
        differ = ledger_recount_problems(conn)
        return Check(name, phase.value, not differ, {"rows_differing": differ})

    return check


# -- phase 3 ------------------------------------------------------------------------------


def _dual_write(conn: SqlConnection, cat: Catalog) -> Check:
    """Rows created since phase 2 without the new columns. ``createdAt`` is UTC when
    Prisma (or slotcap) wrote it and local time when a column default did, so the window
    opens at :func:`~slotcap.migration.ddl.utc.window_start` of phase 2's record: at most
    the zone's offset early (rows phase 2 proved complete), never late."""
    last_apply = (f'SELECT max("appliedAt") FROM {q(STATE)} '  # noqa: S608
                  "WHERE \"phase\" = 'phase2' AND \"action\" = 'apply'")
    since = conn.scalar(
        f"SELECT CAST(({last_apply}) AS TEXT)"
    ) if STATE in cat.tables else None
    if since is None:
        return Check("dual_write_since_phase2", "phase3", True,
                     {"note": "phase 2 not applied yet: nothing to monitor"})
    start = window_start(conn.dialect, f"({last_apply})")
    row = conn.execute(
        'SELECT count(*), count("service"), count("serviceId"), count("preferredTime"), '  # noqa: S608
        'count("period"), count(CASE WHEN "serviceId" IS NULL OR "serviceName" IS NULL '
        'OR "estimatedDuration" IS NULL OR "period" IS NULL THEN 1 END), '
        f"CAST({start} AS TEXT) "
        f'FROM {_R} WHERE "createdAt" >= {start}'
    )[0]
    total, old_service, new_id, old_time, new_period, missing = (int(v) for v in row[:6])
    return Check("dual_write_since_phase2", "phase3", missing == 0,
                 {"since": since, "window_start": row[6], "total": total,
                  "has_old_service": old_service, "has_new_serviceId": new_id,
                  "has_old_time": old_time, "has_new_period": new_period,
                  "old_without_new": missing})


# -- phase 4 ------------------------------------------------------------------------------


def _old_fields_removed(conn: SqlConnection, cat: Catalog) -> Check:
    left = [c for c in LEGACY_ONLY_COLUMNS if cat.has_column(RESERVATIONS_TABLE, c)]
    return Check("old_fields_removed", "phase4", not left, {"remaining": left})


def _enum_removed(conn: SqlConnection, cat: Catalog) -> Check:
    present = SERVICE_TYPE in cat.enums
    return Check("service_type_enum_removed", "phase4", not present,
                 {"present": present, "engine": conn.dialect.value})


def _limits_removed(conn: SqlConnection, cat: Catalog) -> Check:
    present = LIMITS in cat.tables
    return Check("limits_table_removed", "phase4", not present, {"present": present})


def _new_columns_required(conn: SqlConnection, cat: Catalog) -> Check:
    cols = cat.table_columns(RESERVATIONS_TABLE)
    nullable = [c for c in NEW_COLUMNS if c not in cols or cols[c].nullable]
    typed = conn.dialect is Dialect.SQLITE or (
        cols.get("period") is not None and cols["period"].type == f'"{PERIOD_TYPE}"'
    )
    return Check("new_columns_required", "phase4", not nullable and typed,
                 {"nullable_or_missing": nullable, "period_is_enum": typed})


def _archive_complete(conn: SqlConnection, cat: Catalog) -> Check:
    """The archive held every reservation when the legacy columns were dropped (counted
    in that very transaction) and has not lost a row since."""
    if ARCHIVE_LEGACY not in cat.tables:
        return Check("legacy_archive_complete", "phase4", False, {"archive": "missing"})
    recorded = contract_record(conn)
    archived = _count(conn, f"SELECT count(*) FROM {q(ARCHIVE_LEGACY)}")  # noqa: S608
    ok = (
        recorded is not None
        and recorded["archived"] == recorded["reservations"]
        and archived >= recorded["archived"]
    )
    return Check("legacy_archive_complete", "phase4", ok,
                 {"archived_rows": archived, "at_contract": recorded})


def _plan_uses_index(conn: SqlConnection, cat: Catalog) -> Check:
    if conn.dialect is not Dialect.POSTGRES:
        return Check("availability_query_uses_index", "phase4", True,
                     {"engine": "sqlite", "note": "checked on PostgreSQL only"}, blocking=False)
    plan = conn.scalar(
        f'EXPLAIN (FORMAT JSON) SELECT * FROM {_R} WHERE "preferredDate" = %s '  # noqa: S608
        "AND \"period\" = 'MORNING' AND \"status\" = 'CONFIRMED'",
        (dt.date(2025, 12, 1),),
    )
    text = json.dumps(plan)
    uses = "Index" in text
    return Check("availability_query_uses_index", "phase4", uses,
                 {"plan_mentions_index": uses}, blocking=False)


CheckFn = Callable[[SqlConnection, Catalog], Check]

_PHASE1: tuple[CheckFn, ...] = (
    _services_seeded,
    _time_slots,
    _fk_present,
)
_PHASE1_EXPANDED: tuple[CheckFn, ...] = (_new_columns_nullable, _old_fields_populated)
_PHASE2: tuple[CheckFn, ...] = (
    # Built by phase 2 after the backfill (the plan has the first two in phase 1).
    _indexes_present(READ_INDEXES, "new_reservation_indexes", "phase2"),
    _all_migrated,
    _period_distribution,
    _service_mapping,
    _snapshot_matches(journaled=True),
    _snapshot_matches(journaled=False),
    _old_fields_intact,
    _backfill_agrees_with_parser,
    _ledger_matches(Phase.PHASE2),
    _dual_write,
)
_PHASE4: tuple[CheckFn, ...] = (
    _old_fields_removed,
    _enum_removed,
    _limits_removed,
    _new_columns_required,
    _indexes_present((name for name, _ in FINAL_INDEXES), "final_indexes", "phase4"),
    _indexes_present((IDX_PERIOD, IDX_SERVICE, IDX_HELD_CONTRACTED), "read_indexes", "phase4"),
    _archive_complete,
    _ledger_matches(Phase.PHASE4),
    _plan_uses_index,
)


def _checks_for(phase: Phase) -> tuple[CheckFn, ...]:
    if phase is Phase.LEGACY:
        return ()
    if phase is Phase.PHASE1:
        return _PHASE1 + _PHASE1_EXPANDED
    if phase is Phase.PHASE2:
        return _PHASE1 + _PHASE1_EXPANDED + _PHASE2
    return _PHASE1 + _PHASE4


def validate(conn: SqlConnection, *, phase: Phase | str | None = None) -> ValidationReport:
    """Run the checks that apply to ``phase`` (default: the database's own phase).

    ``phase=PHASE2`` on a phase-1 database asks "may it become phase 2 now?".
    """
    target = detect_phase(conn) if phase is None else Phase.parse(phase)
    cat = snapshot(conn)
    checks = [fn(conn, cat) for fn in _checks_for(target)]
    review = 0
    if cat.has_column(RESERVATIONS_TABLE, "period"):
        review = _count(
            conn,
            f'SELECT count(*) FROM {_R} WHERE "period" IS NULL '  # noqa: S608
            'AND "serviceId" IS NOT NULL',
        )
    return ValidationReport(phase=target, checks=checks, needs_review=review)
