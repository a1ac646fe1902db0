"""The operator page's HTML on the in-memory store: escaping, the heat map's cells, the
schema state, the rollout split and the last hour's outcomes. (The migration phase and
history of a SQL database: tests/integration/test_operator_page_sql.py; a real browser:
tests/e2e/test_operator_page_browser.py.)"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from tests.builders import request

from slotcap import FixedClock, book
from slotcap.adapters.memory import MemoryStore
from slotcap.bootstrap import App, migration_reader
from slotcap.domain.model import Period
from slotcap.domain.rollout import Rollout
from slotcap.errors import StoreUnavailable
from slotcap.http.metrics import ServerMetrics
from slotcap.http.page import HEAT_WEEKS, heat_level, render_operator_page
from slotcap.ports import CalendarEntry, MigrationView, SchemaState
from slotcap.usecases.catalogue import add_service

#: A Wednesday; the heat map starts on Monday 2025-11-24.
TODAY = dt.date(2025, 11, 26)
CLOCK = FixedClock(dt.datetime(2025, 11, 26, 1, 30, tzinfo=dt.UTC), day=TODAY)
MONDAY = dt.date(2025, 12, 1)


class Cells(HTMLParser):
    """The heat map's period cells: (day, period) -> (class, remaining); and every
    element, to check the document is well nested."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], tuple[str, int]] = {}
        self.ids: dict[str, str] = {}
        self._open_id: str | None = None
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "data-day" in a:
            self.cells[(a["data-day"] or "", a["data-period"] or "")] = (
                a.get("class") or "", int(a["data-remaining"] or 0))
        self._open_id = a.get("id")

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        if self._open_id is not None:
            self.ids[self._open_id] = data
            self._open_id = None


def page(store: MemoryStore, rollout: Rollout | None = None,
         metrics: ServerMetrics | None = None) -> tuple[str, Cells]:
    text = render_operator_page(store, rollout=rollout or Rollout(), clock=CLOCK,
                                metrics=metrics or ServerMetrics(),
                                migration=migration_reader(store))
    parsed = Cells()
    parsed.feed(text)
    return text, parsed


def test_the_heat_map_shows_every_period_of_the_weeks_from_this_monday() -> None:
    store = MemoryStore(clock=CLOCK)
    for _ in range(2):  # 2 × 40 min of Monday morning's 180
        book(store, request(), dynamic=True, clock=CLOCK)
    book(store, request(service="SKIN_CARE", period="AFTERNOON", preferred_time=None),
         dynamic=True, clock=CLOCK)
    _, parsed = page(store)
    days = {day for day, _ in parsed.cells}
    assert len(days) == 7 * HEAT_WEEKS and len(parsed.cells) == 14 * HEAT_WEEKS
    assert min(days) == "2025-11-24" and max(days) == "2025-12-28"
    assert parsed.cells[(MONDAY.isoformat(), "MORNING")] == ("p h3", 100)
    assert parsed.cells[(MONDAY.isoformat(), "AFTERNOON")] == ("p h3", 170)  # 71 %
    assert parsed.cells[("2025-11-30", "MORNING")] == ("p closed", 0)  # Sunday
    assert parsed.cells[("2025-12-02", "MORNING")] == ("p h4", 180)


@pytest.mark.parametrize(("capacity", "booked", "level"), [
    (180, 0, "h4"), (180, 45, "h4"), (180, 46, "h3"), (180, 90, "h3"), (180, 91, "h2"),
    (180, 135, "h2"), (180, 136, "h1"), (180, 179, "h1"), (180, 180, "h0"), (180, 400, "h0"),
])
def test_heat_levels(capacity: int, booked: int, level: str) -> None:
    entry = CalendarEntry(day=MONDAY, period=Period.MORNING, is_open=True,
                          capacity=capacity, booked=booked)
    assert heat_level(entry) == level
    closed = CalendarEntry(day=MONDAY, period=Period.MORNING, is_open=False, capacity=0,
                           booked=booked)
    assert heat_level(closed) == "closed"


def test_admin_input_is_escaped() -> None:
    store = MemoryStore(clock=CLOCK)
    add_service(store, code="XSS_TEST", name='<script>alert("x")</script> & <b>',
                duration_minutes=30)
    text, parsed = page(store)
    assert "<script>" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;" in text
    assert '<script>alert("x")</script> & <b>' in parsed.texts  # what a browser shows


def test_state_rollout_and_health_are_shown() -> None:
    text, parsed = page(MemoryStore(clock=CLOCK), Rollout(percentage=25))
    assert parsed.ids["status"] == "healthy"
    assert parsed.ids["schema-state"] == "expanded"
    assert parsed.ids["share"] == "25%"
    assert "DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE=25" in text
    assert 'name="viewport"' in text and "<script" not in text


def test_a_legacy_database_still_renders_and_says_what_it_cannot_show() -> None:
    text, parsed = page(MemoryStore(schema_state=SchemaState.LEGACY, clock=CLOCK),
                        Rollout(percentage=5))
    assert parsed.ids["status"] == "look at this: 1 finding"
    assert parsed.ids["schema-state"] == "legacy"
    assert "the capacity calendar unavailable" in text and "phase 1" in text
    assert parsed.cells == {}


def test_the_last_hours_outcomes_are_counted() -> None:
    metrics = ServerMetrics()
    for path, outcome in [("dynamic", "created"), ("dynamic", "created"), ("legacy", "full"),
                          ("none", "invalid")]:
        metrics.observe(endpoint="/api/reservations", rule_path=path, outcome=outcome,
                        seconds=0.01)
    text, _ = page(MemoryStore(clock=CLOCK), metrics=metrics)
    cell = r'<td class="num" data-path="{}" data-outcome="{}">(\d+)</td>'
    found = {(p, o): int(m.group(1)) for p in ("dynamic", "legacy", "none")
             for o in ("created", "full", "invalid", "busy")
             if (m := re.search(cell.format(p, o), text))}
    assert found[("dynamic", "created")] == 2 and found[("legacy", "full")] == 1
    assert found[("none", "invalid")] == 1 and found[("dynamic", "busy")] == 0
    assert "4 requests" in text
    assert 'id="served-dynamic">2<' in text and 'id="served-legacy">0<' in text


def test_a_closed_date_shows_its_reason_escaped() -> None:
    from slotcap.usecases.closures import add_closure

    store = MemoryStore(clock=CLOCK)
    add_closure(store, start_date=MONDAY, period="afternoon", reason="설날 <연휴>")
    text, _parsed = page(store)
    cell = re.search(rf'<span class="p closed" data-day="{MONDAY.isoformat()}" '
                     r'data-period="AFTERNOON"[^>]*title="([^"]*)"', text)
    assert cell is not None, text
    assert cell.group(1) == f"{MONDAY.isoformat()} AFTERNOON: closed (설날 &lt;연휴&gt;)"
    morning = re.search(rf'data-day="{MONDAY.isoformat()}" data-period="MORNING"', text)
    assert morning is not None and 'class="p closed" data-day="2025-12-01" data-period="MORNING"' \
        not in text


class _UnreadableJournal:
    """A ``MigrationStatusReader`` whose database cannot be read."""

    def migration_status(self) -> MigrationView | None:
        raise StoreUnavailable("the database is unreachable")


def test_the_migration_is_read_through_the_port_bootstrap_wires() -> None:
    store = MemoryStore(clock=CLOCK)
    assert migration_reader(store).migration_status() is None  # no journal in memory
    assert App(store=store, clock=CLOCK, rollout=Rollout()).migration.migration_status() is None
    text = render_operator_page(store, rollout=Rollout(), clock=CLOCK, metrics=ServerMetrics(),
                                migration=_UnreadableJournal())
    assert "migration status unavailable: the database is unreachable" in text
    assert 'id="share">0%<' in text  # the rest of the page still renders
