"""The operator page (``GET /``): one server-rendered HTML document, inline CSS, no
JavaScript — the migration phase and its history, the rollout split, a heat map of the
remaining minutes per period for this week and the next ones, the last hour's request
outcomes and the service catalogue. Readable on a phone (one column under 640 px).

Every value from the database is HTML-escaped (service names are admin input). A part
the database cannot answer says so in place; the rest of the page still renders.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence

from slotcap.domain.model import Period, Service
from slotcap.domain.rollout import Rollout
from slotcap.domain.rules import estimated_duration
from slotcap.errors import SlotcapError
from slotcap.http.metrics import OUTCOMES, RULE_PATHS, ServerMetrics
from slotcap.http.shadow_panel import shadow_panel
from slotcap.ports import CalendarEntry, Clock, MigrationStatusReader, Store
from slotcap.usecases.availability import availability_calendar
from slotcap.usecases.monitor import MonitorReport

__all__ = ["HEAT_WEEKS", "heat_level", "render_operator_page"]

#: Weeks the heat map shows, from the Monday of the clinic's current week.
HEAT_WEEKS = 5
#: How many journal rows the migration history shows.
HISTORY_ROWS = 10

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_PERIOD_SHORT = {Period.MORNING: "AM", Period.AFTERNOON: "PM"}


def e(value: object) -> str:
    """HTML-escaped text of ``value`` (quotes too: it may sit in an attribute)."""
    return html.escape(str(value), quote=True)


def heat_level(entry: CalendarEntry) -> str:
    """The heat map's CSS class of one period: ``closed``, or ``h0`` (nothing left)
    to ``h4`` (three quarters or more of the capacity left)."""
    if not entry.is_open or entry.capacity <= 0:
        return "closed"
    share = entry.remaining / entry.capacity
    if entry.remaining <= 0:
        return "h0"
    if share < 0.25:
        return "h1"
    if share < 0.5:
        return "h2"
    if share < 0.75:
        return "h3"
    return "h4"


_CSS = """
:root{color-scheme:light;--ok:#1b7f3b;--warn:#b35900;--ink:#1d232a;--mute:#5d6670}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--ink);background:#f4f6f8}
main{max-width:980px;margin:0 auto;padding:12px}
h1{font-size:1.3rem;margin:4px 0 8px}
h2{font-size:1.05rem;margin:0 0 8px}
section{background:#fff;border-radius:8px;padding:12px;margin:0 0 12px;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
.status{font-weight:600;padding:8px 10px;border-radius:6px;margin:0 0 8px}
.status.ok{background:#e3f4e8;color:var(--ok)}
.status.warn{background:#fff0df;color:var(--warn)}
.mute{color:var(--mute);font-size:.85rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 6px;border-bottom:1px solid #e6e9ed;font-size:.9rem}
.num{text-align:right;font-variant-numeric:tabular-nums}
.bar{display:flex;height:22px;border-radius:4px;overflow:hidden;margin:6px 0;
font-size:.75rem;color:#fff}
.bar span{display:flex;align-items:center;justify-content:center;min-width:2px}
.bar .dyn{background:#2f6fb3}.bar .leg{background:#8a939c}
.heat{table-layout:fixed}
.heat th{text-align:center;font-size:.75rem;color:var(--mute);border:0;padding:2px}
.heat td{padding:2px;border:0;vertical-align:top}
.day{border-radius:4px;padding:2px;background:#fafbfc}
.day.today{outline:2px solid var(--ink)}
.day.past{opacity:.45}
.date{font-size:.7rem;color:var(--mute);text-align:center}
.p{display:block;text-align:center;font-size:.72rem;border-radius:3px;margin:1px 0;
padding:2px 0;font-variant-numeric:tabular-nums}
.h0{background:#c62828;color:#fff}.h1{background:#ef8a3a}.h2{background:#f4cf56}
.h3{background:#a5d67a}.h4{background:#4caf63;color:#fff}
.closed{background:#e3e6ea;color:#7a838c}
.legend .p{display:inline-block;padding:2px 6px;margin:2px}
@media (max-width:640px){main{padding:6px}section{padding:8px}
.p{font-size:.62rem}.date{font-size:.62rem}th,td{font-size:.8rem}}
"""


def render_operator_page(
    store: Store, *, rollout: Rollout, clock: Clock, metrics: ServerMetrics,
    migration: MigrationStatusReader,
) -> str:
    """The whole page as one HTML string; ``migration`` is where it reads the
    migration's status (``App.migration``, wired in ``bootstrap``)."""
    now = clock.now()
    today = clock.today()
    report = metrics.monitor(store, rollout, now)
    recent = metrics.last_hour()
    parts = [
        _status(report),
        _migration(migration, report),
        _rollout(rollout, report, recent),
        _capacity(store, today),
        shadow_panel(store, today, HEAT_WEEKS),
        _outcomes(recent),
        _services(store),
    ]
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>slotcap — operator</title>"
        f"<style>{_CSS}</style></head><body><main>"
        f"<h1>slotcap operator page</h1>"
        f'<p class="mute">generated {e(now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"))} '
        f"UTC · clinic date {e(today.isoformat())}</p>"
        + "".join(parts)
        + "</main></body></html>\n"
    )


def _unavailable(what: str, exc: SlotcapError) -> str:
    # Slotcap's messages carry no passwords and no row values (slotcap.redaction).
    return f'<p class="status warn">{e(what)} unavailable: {e(exc)}</p>'


def _status(report: MonitorReport | None) -> str:
    if report is None:
        return ('<section id="health"><p class="status warn" id="status">look at this: '
                "the database could not be read</p></section>")
    css = "ok" if report.healthy else "warn"
    findings = "".join(f"<li>{e(f)}</li>" for f in report.findings)
    return (
        f'<section id="health"><p class="status {css}" id="status">{e(report.headline())}</p>'
        + (f"<ul>{findings}</ul>" if findings else "")
        + "</section>"
    )


def _migration(migration: MigrationStatusReader, report: MonitorReport | None) -> str:
    head = '<section id="migration"><h2>Migration</h2>'
    try:
        status = migration.migration_status()
    except SlotcapError as exc:
        return head + _unavailable("migration status", exc) + "</section>"
    state = report.schema_state.value if report is not None else "unknown"
    if status is None:
        return (head + f'<p>schema state <b id="schema-state">{e(state)}</b> '
                "(this store keeps no migration journal)</p></section>")
    css = "ok" if status.state == "settled" else "warn"
    rows = "".join(
        f"<tr><td>{e(h.get('appliedAt', ''))}</td><td>{e(h.get('phase', ''))}</td>"
        f"<td>{e(h.get('action', ''))}</td></tr>"
        for h in status.history[:HISTORY_ROWS]
    )
    history = (
        "<table><thead><tr><th>when (UTC)</th><th>phase</th><th>action</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>" if rows
        else '<p class="mute">no migration recorded yet</p>'
    )
    return (
        head
        + f'<p>phase <b id="phase">{e(status.phase)}</b> · schema state '
        f'<b id="schema-state">{e(state)}</b></p>'
        + f'<p class="status {css}">{e(status.summary)}</p>'
        + history + "</section>"
    )


def _rollout(
    rollout: Rollout, report: MonitorReport | None, served: Mapping[tuple[str, str], int]
) -> str:
    share = 100 if rollout.enabled else rollout.percentage
    how = ("USE_DYNAMIC_SERVICES=true: every booking" if rollout.enabled
           else f"DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE={rollout.percentage}")
    dynamic, legacy = served.get(("dynamic", "created"), 0), served.get(("legacy", "created"), 0)
    lines = [
        f'<p>dynamic rule: <b id="share">{share}%</b> <span class="mute">({e(how)})</span></p>',
        _bar(share, 100 - share, "rollout setting"),
        f'<p>bookings created in the last hour by this server: <b id="served-dynamic">'
        f'{dynamic}</b> on the dynamic path, <b id="served-legacy">{legacy}</b> on the '
        "legacy path</p>",
        _bar(dynamic, legacy, "bookings created by path"),
    ]
    if report is not None:
        hour = report.last_hour()
        lines.append(
            f"<p>database, this UTC hour: {hour.dynamic} rows with every new column, "
            f"{hour.legacy} without some · last {report.hours} h: {report.created} rows, "
            f'dual-write gaps: <b id="gaps">{report.dual_write_gaps}</b></p>'
        )
    return '<section id="rollout"><h2>Rollout</h2>' + "".join(lines) + "</section>"


def _bar(dynamic: int, legacy: int, what: str) -> str:
    total = dynamic + legacy
    if total <= 0:
        return ""
    d = round(100 * dynamic / total)
    return (
        f'<div class="bar" role="img" aria-label="{e(what)}: {d}% dynamic">'
        f'<span class="dyn" style="width:{d}%">{f"dynamic {d}%" if d >= 25 else ""}</span>'
        f'<span class="leg" style="width:{100 - d}%">'
        f'{f"legacy {100 - d}%" if d <= 75 else ""}</span></div>'
    )


def _capacity(store: Store, today: dt.date) -> str:
    head = '<section id="capacity"><h2>Capacity: minutes left per period</h2>'
    start = today - dt.timedelta(days=today.weekday())
    end = start + dt.timedelta(days=7 * HEAT_WEEKS - 1)
    try:
        entries = availability_calendar(store, start, end)
    except SlotcapError as exc:
        return head + _unavailable("the capacity calendar", exc) + "</section>"
    by_day: dict[dt.date, dict[Period, CalendarEntry]] = {}
    for entry in entries:
        by_day.setdefault(entry.day, {})[entry.period] = entry
    weeks = []
    for w in range(HEAT_WEEKS):
        cells = []
        for d in range(7):
            day = start + dt.timedelta(days=7 * w + d)
            cells.append(_day_cell(day, today, by_day.get(day, {})))
        weeks.append("<tr>" + "".join(cells) + "</tr>")
    legend = "".join(
        f'<span class="p {c}">{e(t)}</span>'
        for c, t in (("h4", "≥75%"), ("h3", "≥50%"), ("h2", "≥25%"), ("h1", "<25%"),
                     ("h0", "full"), ("closed", "closed"))
    )
    return (
        head + '<table class="heat"><thead><tr>'
        + "".join(f"<th>{d}</th>" for d in _WEEKDAYS)
        + "</tr></thead><tbody>" + "".join(weeks) + "</tbody></table>"
        + f'<p class="legend">{legend}</p></section>'
    )


def _day_cell(day: dt.date, today: dt.date, periods: Mapping[Period, CalendarEntry]) -> str:
    css = "day" + (" today" if day == today else "") + (" past" if day < today else "")
    inner = []
    for period in Period:
        entry = periods.get(period)
        if entry is None:
            continue
        level = heat_level(entry)
        label = "–" if level == "closed" else f"{entry.remaining}"
        closed = "closed" + (f" ({entry.closed_reason})" if entry.closed_reason else "")
        title = (f"{day.isoformat()} {period.value}: {closed}" if level == "closed" else
                 f"{day.isoformat()} {period.value}: {entry.remaining} of "
                 f"{entry.capacity} min left ({entry.booked} booked)")
        inner.append(
            f'<span class="p {level}" data-day="{day.isoformat()}" '
            f'data-period="{period.value}" data-remaining="{entry.remaining}" '
            f'title="{e(title)}">{_PERIOD_SHORT[period]} {label}</span>'
        )
    return (f'<td><div class="{css}"><div class="date">{day.day}'
            f'{"." + str(day.month) if day.day == 1 or day == today else ""}</div>'
            + "".join(inner) + "</div></td>")


def _outcomes(counts: Mapping[tuple[str, str], int]) -> str:
    head = "".join(f'<th class="num">{e(o)}</th>' for o in OUTCOMES)
    rows = []
    for path in RULE_PATHS:
        cells = "".join(
            f'<td class="num" data-path="{e(path)}" data-outcome="{e(o)}">'
            f"{counts.get((path, o), 0)}</td>" for o in OUTCOMES
        )
        rows.append(f"<tr><th>{e(path)}</th>{cells}</tr>")
    total = sum(counts.values())
    return (
        '<section id="outcomes"><h2>Last hour\'s requests</h2>'
        f"<p>{total} request{'s' if total != 1 else ''} since this server started or in "
        "the last hour, whichever is shorter</p>"
        f"<table><thead><tr><th>path</th>{head}</tr></thead><tbody>{''.join(rows)}"
        "</tbody></table></section>"
    )


def _services(store: Store) -> str:
    head = '<section id="services"><h2>Services</h2>'
    try:
        services: Sequence[Service] = store.list_services()
    except SlotcapError as exc:
        return head + _unavailable("the service catalogue", exc) + "</section>"
    rows = "".join(
        f"<tr><td>{e(s.name)}</td><td>{e(s.code)}</td>"
        f'<td class="num">{estimated_duration(s)}</td>'
        f"<td>{'active' if s.is_active else 'inactive'}</td></tr>"
        for s in services
    )
    return (
        head + "<table><thead><tr><th>name</th><th>code</th>"
        '<th class="num">min</th><th></th></tr></thead>'
        f"<tbody>{rows}</tbody></table></section>"
    )
