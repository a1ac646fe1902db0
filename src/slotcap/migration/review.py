"""The plan's step 2.3, made safe: manual review of the rows the parser abstained on.

``export_review`` writes one CSV row per reservation whose ``period`` is NULL, with
what the operator needs to decide (the raw ``preferredTime``, its date and service,
the parser's reason) and an empty ``period`` column to fill in.

``import_review`` applies the filled-in file in ONE transaction. It refuses the whole
file — listing every problem with its line number, and writing nothing — when a period
is not MORNING/AFTERNOON, an id is unknown or repeated, a required column is missing
or repeated, a row has more or fewer fields than the header, the quoting is broken, the
file is not UTF-8, or a reservation already has a *different* period. A blank period
means "not decided yet" and is skipped; a period equal to the stored one is a no-op
(re-importing the same file is safe). Applied rows are journalled with source ``review``.

The file is UTF-8 with a byte-order mark (``utf-8-sig``): Excel, which most clinic
operators will open it with, otherwise shows Korean text as mojibake. The import
accepts the file with or without the mark.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from slotcap.domain.model import Period
from slotcap.domain.timeparse import parse_preferred_time
from slotcap.errors import ImportProblem, ReviewRejected
from slotcap.migration._dbinfo import (
    chunked,
    iso_date,
    load_clinic_hours,
    period_cast,
    record_journal,
    require_expanded,
)
from slotcap.sql import Dialect, SqlConnection
from slotcap.sql.driver_errors import database_error

__all__ = [
    "EXPORT_COLUMNS",
    "ImportProblem",
    "ReviewExport",
    "ReviewImport",
    "ReviewRejected",
    "ReviewRow",
    "count_pending",
    "export_review",
    "import_review",
    "pending_review",
]

EXPORT_COLUMNS: tuple[str, ...] = (
    "id", "preferredDate", "preferredTime", "service", "status", "reason", "period",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("id", "period")
JOURNAL_SOURCE = "review"
ENCODING = "utf-8-sig"

#: What an operator may type in the period column (case-insensitive); Korean
#: 오전/오후 too, since that is how the clinic's staff write it.
_ACCEPTED: dict[str, Period] = {
    "morning": Period.MORNING,
    "afternoon": Period.AFTERNOON,
    "오전": Period.MORNING,
    "오후": Period.AFTERNOON,
}


@attrs.frozen(kw_only=True)
class ReviewRow:
    id: str
    preferred_date: str | None
    preferred_time: str
    service: str
    status: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "preferredDate": self.preferred_date,
            "preferredTime": self.preferred_time,
            "service": self.service,
            "status": self.status,
            "reason": self.reason,
        }


@attrs.frozen(kw_only=True)
class ReviewExport:
    path: str
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "rows": self.rows, "encoding": ENCODING}


@attrs.frozen(kw_only=True)
class ReviewImport:
    applied: int
    unchanged: int
    blank: int
    remaining: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "unchanged": self.unchanged,
            "blank": self.blank,
            "remaining": self.remaining,
        }


def pending_review(conn: SqlConnection, *, limit: int | None = None) -> list[ReviewRow]:
    """Reservations without a period, soonest date first (those are the urgent ones)."""
    require_expanded(conn, journal=False)
    hours = load_clinic_hours(conn)
    sql = (
        'SELECT "id", "preferredDate", "preferredTime", CAST("service" AS TEXT), '
        'CAST("status" AS TEXT) FROM "reservations" WHERE "period" IS NULL '
        'ORDER BY "preferredDate", "id"'
    )
    params: tuple[Any, ...] = ()
    if limit is not None:
        sql += " LIMIT %s"
        params = (limit,)
    reasons: dict[str, str] = {}
    rows = []
    for rid, day, text, service, status in conn.execute(sql, params):
        raw = "" if text is None else str(text)
        if raw not in reasons:
            reasons[raw] = parse_preferred_time(raw, hours=hours).reason
        rows.append(
            ReviewRow(id=str(rid), preferred_date=iso_date(day), preferred_time=raw,
                      service=str(service), status=str(status), reason=reasons[raw])
        )
    return rows


def count_pending(conn: SqlConnection) -> int:
    return int(conn.scalar('SELECT COUNT(*) FROM "reservations" WHERE "period" IS NULL') or 0)


def export_review(conn: SqlConnection, out: Path) -> ReviewExport:
    """Write the review CSV to ``out`` (overwritten) and return how many rows it has."""
    rows = pending_review(conn)
    with out.open("w", encoding=ENCODING, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            writer.writerow([row.id, row.preferred_date or "", row.preferred_time, row.service,
                             row.status, row.reason, ""])
    return ReviewExport(path=str(out), rows=len(rows))


@attrs.frozen
class _Decision:
    line: int
    id: str
    period: Period


def _read_file(path: Path) -> tuple[list[_Decision], int, list[ImportProblem]]:
    """Parse and check the file on its own; returns decisions, blanks and problems.

    The file is decoded whole first, so a bad byte is reported with its line number
    and nothing after it is guessed at; quoting is read strictly (``"r0"x`` or a
    quote never closed is an error, not a silently merged cell).
    """
    raw = path.read_bytes()
    try:
        text = raw.decode(ENCODING)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        message = (f"not UTF-8 text (byte {exc.start} on line {line}); save the file as "
                   "\"CSV UTF-8\"")
        raise ReviewRejected([ImportProblem(line=line, id=None, message=message)]) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    while True:
        first_line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            unreadable = ImportProblem(
                line=first_line, id=None,
                message=f"unreadable CSV from this line on ({exc}); check the quotes",
            )
            raise ReviewRejected([unreadable]) from None
        rows.append((reader.line_num, cells))
    return _check_rows(rows)


def _check_header(header: list[str]) -> dict[str, int]:
    """Column name -> index for the required columns; refuses missing or repeated ones."""
    problems = []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        problems.append(ImportProblem(
            line=1, id=None,
            message=f"missing column(s) {', '.join(missing)} in the header "
            f"(expected at least {', '.join(REQUIRED_COLUMNS)})",
        ))
    for column in REQUIRED_COLUMNS:
        if header.count(column) > 1:
            problems.append(ImportProblem(
                line=1, id=None,
                message=f"the header has {header.count(column)} {column!r} columns; "
                "keep exactly one",
            ))
    if problems:
        raise ReviewRejected(problems)
    return {c: header.index(c) for c in REQUIRED_COLUMNS}


def _check_rows(
    rows: list[tuple[int, list[str]]],
) -> tuple[list[_Decision], int, list[ImportProblem]]:
    problems: list[ImportProblem] = []
    decisions: list[_Decision] = []
    blank = 0
    seen: dict[str, int] = {}
    if not rows:
        raise ReviewRejected([ImportProblem(line=1, id=None, message="the file is empty")])
    header = rows[0][1]
    where = _check_header(header)
    for line, cells in rows[1:]:  # line: the physical line the record ended on
        if not any(cell.strip() for cell in cells):
            continue  # an empty line (Excel adds some at the end)
        rid = cells[where["id"]].strip() if where["id"] < len(cells) else ""
        raw = cells[where["period"]].strip() if where["period"] < len(cells) else ""
        if len(cells) != len(header):
            relation = "more" if len(cells) > len(header) else "fewer"
            problems.append(ImportProblem(
                line=line, id=rid or None,
                message=f"{relation} fields than the header has ({len(cells)}, not "
                f"{len(header)})",
            ))
            continue
        if not rid:
            if raw:
                problems.append(ImportProblem(line=line, id=None, message="empty id"))
            continue
        if rid in seen:
            problems.append(ImportProblem(
                line=line, id=rid, message=f"duplicate id (first on line {seen[rid]})"
            ))
            continue
        seen[rid] = line
        if not raw:
            blank += 1
            continue
        period = _ACCEPTED.get(raw.lower())
        if period is None:
            problems.append(ImportProblem(
                line=line, id=rid,
                message=f"invalid period {raw[:40]!r}: use MORNING or AFTERNOON "
                "(or leave blank)",
            ))
            continue
        decisions.append(_Decision(line, rid, period))
    return decisions, blank, problems


def _current_periods(conn: SqlConnection, ids: Iterable[str], *, lock: bool) -> dict[str, Any]:
    """id -> stored period (None when NULL) for the ids that exist."""
    found: dict[str, Any] = {}
    for chunk in chunked(ids, 500):
        if conn.dialect is Dialect.POSTGRES:
            # Lock the rows so nobody sets their period between our check and our write.
            rows = conn.execute(
                'SELECT "id", CAST("period" AS TEXT) FROM "reservations" WHERE "id" = ANY(%s)'  # noqa: S608
                + (" FOR NO KEY UPDATE" if lock else ""),
                (chunk,),
            )
        else:
            marks = ", ".join(["%s"] * len(chunk))
            rows = conn.execute(
                f'SELECT "id", "period" FROM "reservations" WHERE "id" IN ({marks})', chunk  # noqa: S608
            )
        found.update({str(r[0]): r[1] for r in rows})
    return found


def import_review(conn: SqlConnection, path: Path) -> ReviewImport:
    """Apply an operator's review file atomically, or raise ``ReviewRejected``.

    A database error while applying it (a constraint of the database's own) rolls
    the whole file back and is raised as a one-line ``DatabaseError`` naming the
    constraint, never the row (the driver's exception is its ``__cause__``).
    """
    cat = require_expanded(conn)
    decisions, blank, problems = _read_file(path)
    try:
        return _apply(conn, decisions, blank, problems, period_cast(conn, cat))
    except Exception as exc:
        error = database_error(exc)
        if error is None:
            raise
        raise error from exc


def _apply(
    conn: SqlConnection,
    decisions: list[_Decision],
    blank: int,
    problems: list[ImportProblem],
    cast: str,
) -> ReviewImport:
    applied: list[_Decision] = []
    unchanged = 0
    with conn.transaction():
        current = _current_periods(conn, (d.id for d in decisions), lock=True)
        for decision in decisions:
            if decision.id not in current:
                problems.append(ImportProblem(line=decision.line, id=decision.id,
                                              message="unknown reservation id"))
            elif current[decision.id] is None:
                applied.append(decision)
            elif str(current[decision.id]) == decision.period.value:
                unchanged += 1
            else:
                problems.append(ImportProblem(
                    line=decision.line, id=decision.id,
                    message=f"period is already {current[decision.id]}; the file says "
                    f"{decision.period.value} (fix the file or the row, not both)",
                ))
        if problems:
            # Raising inside the transaction rolls it back: nothing was written.
            raise ReviewRejected(sorted(problems, key=lambda p: p.line))
        conn.execute_many(
            f'UPDATE "reservations" SET "period" = CAST(%s AS {cast}) '  # noqa: S608
            'WHERE "id" = %s AND "period" IS NULL',
            [(d.period.value, d.id) for d in applied],
        )
        record_journal(conn, [d.id for d in applied], JOURNAL_SOURCE, "period")
        remaining = count_pending(conn)
    return ReviewImport(applied=len(applied), unchanged=unchanged, blank=blank,
                        remaining=remaining)
