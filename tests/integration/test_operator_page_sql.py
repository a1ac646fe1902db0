"""The operator page on SQLite and PostgreSQL: the migration phase and its history
(``slotcap migrate status``'s own function, on one of the store's connections), the
heat map from the calendar's one query, and a database that cannot answer a part."""

from __future__ import annotations

import datetime as dt
import re

from tests.builders import MONDAY, TODAY, request

from slotcap import FixedClock, book, bootstrap
from slotcap.domain.rollout import Rollout
from slotcap.http.metrics import ServerMetrics
from slotcap.http.page import render_operator_page
from slotcap.migration import migrate, rollback
from slotcap.schema.legacy import create_legacy_schema
from slotcap.sql import open_sql

CLOCK = FixedClock(dt.datetime(2025, 11, 28, 9, tzinfo=dt.UTC), day=TODAY)


def render(url: str) -> str:
    with bootstrap(url, env={}, clock=CLOCK) as app:
        return render_operator_page(app.store, rollout=Rollout(percentage=5), clock=CLOCK,
                                    metrics=ServerMetrics(), migration=app.migration)


def test_phase_history_and_heat_map(sql_url: str) -> None:
    with open_sql(sql_url) as conn:
        create_legacy_schema(conn)
    legacy = render(sql_url)
    assert 'id="phase">legacy<' in legacy and 'id="schema-state">legacy<' in legacy
    assert "no migration recorded yet" in legacy
    assert "the capacity calendar unavailable" in legacy  # minutes need phase 1
    assert "look at this" in legacy  # 5 % rollout on a legacy schema

    assert migrate(sql_url, to="phase2").ok
    assert rollback(sql_url, to="phase1").ok
    with bootstrap(sql_url, env={}, clock=CLOCK) as app:
        book(app.store, request(), dynamic=True, clock=CLOCK)
    text = render(sql_url)
    assert 'id="phase">phase1<' in text and 'id="schema-state">expanded<' in text
    assert "settled at phase1" in text
    history = re.findall(r"<tr><td>[^<]*</td><td>(\w+)</td><td>(\w+)</td></tr>", text)
    assert history[0] == ("phase1", "rollback")  # newest first
    assert ("phase2", "apply") in history
    cell = re.search(rf'data-day="{MONDAY.isoformat()}" data-period="MORNING" '
                     r'data-remaining="(\d+)"', text)
    assert cell is not None and int(cell.group(1)) == 180 - 40
