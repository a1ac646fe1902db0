"""The operator page's shadow panel and ``/metrics``' shadow counters (docs/monitor.md):
kept apart from ``page.py`` and ``metrics.py``, which only call in.

The panel: stored mismatches (bookings the other rule would have decided differently)
per booked day, for the heat map's weeks, beside it. The counters: this process's
shadow decisions from ``store.shadow`` (bookings and availability checks).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from slotcap.domain.shadow import AGREEMENTS, CONTROLS, NOT_SHADOWABLE
from slotcap.errors import SlotcapError
from slotcap.ports import Store
from slotcap.usecases.shadow import shadow_report

__all__ = ["ShadowCollector", "shadow_panel"]

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def shadow_panel(store: Store, today: dt.date, weeks: int) -> str:
    """``<section id="shadow">``: mismatches per day from this week's Monday on."""
    head = ('<section id="shadow"><h2>Shadow: mismatches per day</h2>'
            '<p class="mute">bookings the other rule would have decided differently '
            "(slotcap shadow report)</p>")
    start = today - dt.timedelta(days=today.weekday())
    end = start + dt.timedelta(days=7 * weeks - 1)
    try:
        report = shadow_report(store, start, end)
    except SlotcapError as exc:
        return head + f'<p class="warn">unavailable: {html.escape(str(exc))}</p></section>'
    per_day: dict[dt.date, int] = {}
    for m in report.mismatches:
        per_day[m.day] = per_day.get(m.day, 0) + 1
    rows = []
    for w in range(weeks):
        cells = []
        for d in range(7):
            day = start + dt.timedelta(days=7 * w + d)
            n = per_day.get(day, 0)
            css = "day" + (" today" if day == today else "") + (" past" if day < today else "")
            mark = "h0" if n else "closed"  # red with mismatches, grey without
            cells.append(f'<td data-date="{day.isoformat()}" data-mismatches="{n}">'
                         f'<div class="{css}"><div class="date">{day.day}</div>'
                         f'<span class="p {mark}" title="{day.isoformat()}: {n} mismatches">'
                         f"{n if n else '·'}</span></div></td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (head + f'<p id="shadow-total">{report.decisions} bookings shadowed, '
            f"{len(report.mismatches)} mismatches</p>"
            '<table class="heat shadow"><thead><tr>'
            + "".join(f"<th>{d}</th>" for d in _WEEKDAYS)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>")


class ShadowCollector(Collector):
    """``slotcap_shadow_decisions_total{control, agreement}`` (bookings),
    ``slotcap_shadow_checks_total{control, agreement}`` (sampled availability checks),
    ``slotcap_shadow_not_shadowable_total{what}`` and ``slotcap_shadow_failures_total``,
    read from the scraped store's counters at collect time."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.store: Store | None = None
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        counts = {} if self.store is None else self.store.shadow.snapshot()
        for what, name, text in (
            ("booking", "slotcap_shadow_decisions", "Bookings decided by both rules, by the "
             "deciding (control) rule and how the other agreed (this process)."),
            ("check", "slotcap_shadow_checks", "Availability checks shadowed (one in "
             "CHECK_SAMPLE), by control rule and agreement (this process)."),
        ):
            family = CounterMetricFamily(name, text, labels=["control", "agreement"])
            for control in CONTROLS:
                for agreement in AGREEMENTS:
                    family.add_metric([control, agreement],
                                      counts.get((what, control, agreement), 0))
            yield family
        unshadowable = CounterMetricFamily(
            "slotcap_shadow_not_shadowable", "Legacy bookings/checks whose time reads to "
            "no period: the minutes rule cannot be asked.", labels=["what"])
        for what in ("booking", "check"):
            unshadowable.add_metric([what], sum(n for (w, _, a), n in counts.items()
                                                if w == what and a == NOT_SHADOWABLE))
        yield unshadowable
        failures = CounterMetricFamily("slotcap_shadow_failures",
                                       "Shadow evaluations that failed (never raised).")
        failures.add_metric([], 0 if self.store is None else self.store.shadow.failures)
        yield failures
