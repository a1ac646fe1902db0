"""Human-readable renderings of the toolkit's reports (the ``--json`` forms are the
reports' own ``to_dict()``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slotcap.cli._render import VERDICTS, format_duration, print_table
from slotcap.domain.calendar import DAY_NAMES, day_of_week
from slotcap.migration.analyze import Analysis
from slotcap.migration.backfill_report import BackfillReport
from slotcap.migration.review import ReviewRow
from slotcap.ports import CalendarEntry

__all__ = [
    "calendar_rows",
    "print_analysis",
    "print_backfill",
    "print_calendar",
    "print_checks",
    "print_mapping",
    "print_migration",
    "print_review_rows",
    "print_status",
]


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


def print_analysis(analysis: Analysis, *, limit: int) -> None:
    total = analysis.total
    print(f"Reservations: {total:,}  ({analysis.schema} schema; "
          f"dates {analysis.earliest_date or '-'} .. {analysis.latest_date or '-'})")
    print("By status: " + ", ".join(f"{k} {v:,}" for k, v in analysis.statuses.items()))
    print(f"Hours used to read bare times: {analysis.hours_source}")
    print()
    print(f"preferredTime: {analysis.distinct_times:,} distinct values. The parser reads:")
    for key in ("MORNING", "AFTERNOON", "abstained"):
        count = analysis.periods.get(key, 0)
        print(f"  {key:<10} {count:>9,}  {_pct(count, total):>6}")
    abstained: dict[str, int] = {}
    for fmt in analysis.time_formats:
        if fmt.period is None:
            abstained[fmt.reason] = abstained.get(fmt.reason, 0) + fmt.count
    if abstained:
        print("  abstained by reason: " + ", ".join(
            f"{reason} {n:,}" for reason, n in sorted(abstained.items(), key=lambda i: -i[1])))
    shown = analysis.time_formats[:limit]
    print()
    print(f"Most frequent preferredTime values ({len(shown)} of {analysis.distinct_times}):")
    print_table(
        ("preferredTime", "count", "active", "earliest", "latest", "period", "clock", "reason"),
        [(repr(t.text), t.count, t.active_count, t.earliest, t.latest, t.period or "-",
          t.clock or "-", t.reason) for t in shown],
        right=(1, 2),
    )
    print()
    print("Services:")
    print_table(
        ("service", "count", "percent", "in catalogue"),
        [(s.code, s.count, f"{s.percentage:.2f}%", "yes" if s.known else "NO")
         for s in analysis.services],
        right=(1, 2),
    )
    print()
    print("Anomalies:")
    for name, detail in analysis.anomalies.items():
        extra = {k: v for k, v in detail.items() if k != "count" and v}
        print(f"  {name:<18} {detail['count']:>7,}  {_detail(extra)}".rstrip())
    if analysis.unfilled is not None:
        print()
        print("New columns still NULL: " + ", ".join(
            f"{c} {n:,}" for c, n in analysis.unfilled.items()))


def print_backfill(report: BackfillReport) -> None:
    verb = "would fill" if report.dry_run else "filled"
    print(f"Backfill{' (dry run: nothing written)' if report.dry_run else ''}: "
          f"{report.rows_scanned:,} rows examined in {report.batches} batch(es), "
          f"{report.rows_updated:,} {'would be ' if report.dry_run else ''}written, "
          f"{format_duration(report.elapsed_seconds)} ({report.rows_per_second:,.0f} rows/s); "
          f"{report.distinct_times_parsed:,} distinct preferredTime values parsed.")
    print(f"Columns {verb}: " + ", ".join(f"{c} {n:,}" for c, n in report.filled.items()))
    print("Period: " + ", ".join(f"{k} {v:,}" for k, v in report.periods.items()))
    if report.abstain_reasons:
        print("Abstentions by reason: "
              + ", ".join(f"{k} {v:,}" for k, v in sorted(report.abstain_reasons.items())))
    if report.services:
        print("Services: " + ", ".join(f"{k} {v:,}" for k, v in sorted(report.services.items())))
    if report.unknown_services:
        print("Unknown service codes (no services row; left NULL): "
              + ", ".join(f"{k} {v:,}" for k, v in sorted(report.unknown_services.items())))
    if report.fill_samples:
        print()
        print(f"Sample periods {verb}:")
        print_table(("id", "preferredTime", "period", "reason"),
                    [(s.id, repr(s.preferred_time), s.period, s.reason)
                     for s in report.fill_samples[:5]])
    if report.abstain_samples:
        print()
        print("Sample abstentions (left NULL, for manual review):")
        print_table(("id", "preferredTime", "service", "reason"),
                    [(s.id, repr(s.preferred_time), s.service, s.reason)
                     for s in report.abstain_samples[:5]])


def _detail(detail: Any) -> str:
    if isinstance(detail, dict):
        return ", ".join(f"{k}={_detail(v)}" for k, v in detail.items() if v not in (None, [], {}))
    if isinstance(detail, list):
        return "[" + ", ".join(_detail(v) for v in detail) + "]"
    return str(detail)


def print_checks(checks: Sequence[Any], *, indent: str = "") -> None:
    """The validation table; non-blocking checks show ``warn`` instead of FAIL."""
    print_table(
        ("check", "phase", "result", "detail"),
        [
            (c.name, c.phase,
             "PASS" if c.passed else ("FAIL" if getattr(c, "blocking", True) else "warn"),
             _detail(c.detail))
            for c in checks
        ],
        indent=indent, colours=VERDICTS,
    )


def print_review_rows(rows: Sequence[ReviewRow], *, indent: str = "") -> None:
    print_table(
        ("id", "preferredDate", "preferredTime", "service", "status", "reason"),
        [(r.id, r.preferred_date, repr(r.preferred_time), r.service, r.status, r.reason)
         for r in rows],
        indent=indent,
    )


def calendar_rows(entries: Sequence[CalendarEntry]) -> list[dict[str, Any]]:
    return [
        {
            "date": e.day.isoformat(),
            "day_of_week": day_of_week(e.day),
            "period": e.period.value,
            "is_open": e.is_open,
            "capacity": e.capacity,
            "booked": e.booked,
            "remaining": e.remaining,
            "closed_reason": e.closed_reason,
        }
        for e in entries
    ]


def print_calendar(entries: Sequence[CalendarEntry], *, indent: str = "") -> None:
    print_table(
        ("date", "day", "period", "capacity", "booked", "remaining", ""),
        [
            (e.day.isoformat(), DAY_NAMES[day_of_week(e.day)][:3], e.period.value,
             e.capacity if e.is_open else "closed", e.booked, e.remaining if e.is_open else "-",
             _bar(e))
            for e in entries
        ],
        right=(3, 4, 5),
        indent=indent,
    )


def _bar(entry: CalendarEntry, size: int = 20) -> str:
    if entry.closed_reason is not None:
        return f"CLOSED: {entry.closed_reason}"
    if not entry.is_open or entry.capacity <= 0:
        return ""
    used = min(round(size * entry.booked / entry.capacity), size)
    full = " FULL" if entry.booked >= entry.capacity else ""
    return "#" * used + "." * (size - used) + full


def print_migration(report: Any) -> None:
    """A ``MigrationReport``: where it started and stopped, its steps and checks."""
    verdict = "ok" if report.ok else f"stopped before {report.target.value}"
    verb = "rollback" if report.target.rank < report.start.rank else "migrate"
    print(f"{verb}: {report.start.value} -> {report.target.value}: "
          f"now at {report.reached.value} ({verdict})")
    if report.steps:
        print("steps: " + ", ".join(f"{s.name} {s.seconds:.2f}s" for s in report.steps))
    if isinstance(report.backfill, BackfillReport):
        b = report.backfill
        print(f"backfill: {b.rows_scanned:,} rows examined, {b.rows_updated:,} written, "
              + ", ".join(f"{k} {v:,}" for k, v in b.periods.items()))
    validation = report.validation
    if validation is not None:
        failed = [c for c in validation.checks if not c.passed]
        print(f"validation ({validation.phase.value}): "
              f"{len(validation.checks) - len(failed)} passed, {len(failed)} failed")
        if failed:
            print_checks(failed, indent="  ")
    if report.needs_review:
        print(f"{report.needs_review:,} reservation(s) await manual review: "
              "slotcap review export --out review.csv")
    if report.message:
        print(report.message)


def print_status(status: Any) -> None:
    """A ``MigrationStatus``: where the database is (settled, interrupted or
    inconsistent, with the commands that go on), the last validation, the history."""
    schema = "unknown" if status.schema_state is None else status.schema_state.value
    if status.state == "interrupted":
        how = "PAUSED" if status.paused else "INTERRUPTED"
        print(f"{how} during {status.transition} at sub-step {status.step} "
              f"(last settled phase: {status.phase.value}; schema: {schema})")
        print(f"  forward (finish it): {status.forward}")
        print(f"  back (undo it):      {status.back}")
    elif status.state == "inconsistent":
        print(f"INCONSISTENT: the record says {status.phase.value} but the catalogue differs "
              f"(schema: {schema}):")
        for problem in status.problems:
            print(f"  - {problem}")
    else:
        since = f" since {status.applied_at}" if status.applied_at else ""
        print(f"phase: {status.phase.value}{since} (settled; schema: {schema})")
    kept = getattr(status, "kept_tables", ())
    if kept:
        print(f"kept in every phase: {', '.join(kept)} (slotcap serve's Idempotency-Key "
              "records)")
    shadow = getattr(status, "shadow_tables", ())
    if shadow:
        print(f"shadow decisions: {', '.join(shadow)} (slotcap shadow report)")
    last = status.last_validation
    if last is not None:
        outcome = "passed" if last.get("passed") else "FAILED"
        print(f"last validation: {outcome} ({last.get('phase')}) at {status.last_validated_at}"
              f"; awaiting review: {last.get('needs_review', 0)}")
    if status.history:
        print()
        print_table(
            ("#", "phase", "action", "at", "detail"),
            [(h.get("seq"), h.get("phase"), h.get("action"), h.get("appliedAt"),
              _history_detail(h))
             for h in status.history],
            right=(0,),
        )


def _history_detail(row: dict[str, Any]) -> str:
    if row.get("action") == "begin":
        return str((row.get("detail") or {}).get("transition", ""))
    if not row.get("validation"):
        return "-"
    return "checks passed" if row["validation"].get("passed") else "checks failed"


def print_mapping(document: Any, indent: str = "") -> None:
    """A generic key: value rendering for reports without a dedicated one."""
    if isinstance(document, dict):
        for key, value in document.items():
            if isinstance(value, dict | list) and value:
                print(f"{indent}{key}:")
                print_mapping(value, indent + "  ")
            else:
                print(f"{indent}{key}: {value}")
    elif isinstance(document, list):
        for item in document:
            if isinstance(item, dict):
                print(f"{indent}-")
                print_mapping(item, indent + "  ")
            else:
                print(f"{indent}- {item}")
    else:
        print(f"{indent}{document}")
