"""A small version of ``python -m benchmarks.live_migration`` (issue 15's goals).

App threads with stores opened before phase 1 book and read through every step and
back (phase 1, backfill, phase 2, phase 4, rollbacks to legacy): no app-visible error,
no stall beyond one lock try's cap; an idle-in-transaction reader while phase 1 and
phase 4 start stalls the app at most one try's timeout; and the longest strong-lock
hold of every step does not grow with the table.
"""

from __future__ import annotations

from typing import Any

import pytest
from benchmarks._harness import temp_pg_database
from benchmarks._live import legacy_database
from benchmarks.live_migration import STEPS, run_idle_scenario, run_path

from slotcap.migration.ddl.lock_policy import HoldLog

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CAP_MS = 500
#: Thread scheduling on a shared 2-core CI machine; the benchmark itself reports the
#: stalls against the bare 500 ms goal.
SLACK_MS = 300


def _no_errors(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        assert row["errors"] == {}, row
        assert row["max_ms"] <= CAP_MS + SLACK_MS, row
        assert row["operations"] > 0, row


def test_whole_path_and_back_with_live_app_then_idle_reader(pg_url: str) -> None:
    legacy_database(pg_url, 3000)
    path = run_path(pg_url, threads=3, settle=0.3, availability_reps=50)
    steps = path["steps"]
    assert [r["step"] for r in steps] == [name for name, *_ in STEPS]
    assert [r["outcome"] for r in steps] == [
        "at phase1", "completed", "at phase2", "at phase4", "at phase2", "at phase1",
        "at legacy"]
    _no_errors(steps)
    idle = run_idle_scenario(pg_url, hold=3.0, threads=3, settle=0.3)
    assert [r["outcome"] for r in idle] == ["at phase1", "at phase4"]
    _no_errors(idle)
    # The step waited for the reader (short tries), then went through.
    assert idle[0]["seconds"] >= 2.5


def _holds_per_step(url: str) -> dict[str, float]:
    """The longest strong-lock hold of each step of the path and back, no app."""
    found = {}
    for name, _during, action, _after in STEPS:
        log = HoldLog()
        action(url, log)
        found[name] = log.longest()
    return found


def test_longest_strong_lock_hold_does_not_grow_with_the_table(pg_url: str) -> None:
    legacy_database(pg_url, 2000)
    small = _holds_per_step(pg_url)
    with temp_pg_database(pg_url, "holds") as big_url:
        legacy_database(big_url, 20000)
        big = _holds_per_step(big_url)
    assert small.keys() == big.keys()
    # Catalogue-only work under the strong lock: tens of milliseconds at either size
    # (a copy or count under it would take far longer at 20,000 rows).
    for step in small:
        assert small[step] < 0.25 and big[step] < 0.25, (step, small, big)
    assert max(big.values()) > 0  # the holds were measured at all
