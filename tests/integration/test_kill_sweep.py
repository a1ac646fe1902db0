"""SIGKILL the real ``slotcap migrate`` during every phase and every rollback, on both
dialects: ``status`` must tell the truth, and both the rerun and the inverse command must
end exactly (schema and data) where an uninterrupted run does.

CI runs an even spread of the checkpoints of each scenario plus kills at random times
(``SLOTCAP_KILL_POINTS`` per scenario, default 6, and ``SLOTCAP_KILL_TIMED``, default 2);
``scripts/killtest`` sweeps every checkpoint.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from tests.conftest import PG_URL, require_postgres
from tests.killpoints.harness import SCENARIOS, Scenario, Sweep, databases

ROWS = int(os.environ.get("SLOTCAP_KILL_ROWS", "20000"))
MOST = int(os.environ.get("SLOTCAP_KILL_POINTS", "6"))
TIMED = int(os.environ.get("SLOTCAP_KILL_TIMED", "2"))

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def sweep(request: pytest.FixtureRequest) -> Iterator[Sweep]:
    if request.param == "postgresql":
        require_postgres()
    with databases(request.param, PG_URL) as dbs:
        yield Sweep(dbs, ROWS)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_every_kill_point_recovers_both_ways(sweep: Sweep, scenario: Scenario) -> None:
    points = sweep.points(scenario, most=MOST, timed=TIMED)
    outcomes = sweep.run([(scenario, p) for p in points])
    assert len(outcomes) == len(points) >= MOST // 2
    # At least the checkpoint kills really killed the process mid-command.
    assert sum(o.killed for o in outcomes) >= len([p for p in points if p.label])
    failures = [f"{o.point}: status {o.status}: {'; '.join(o.problems)}"
                for o in outcomes if not o.ok]
    assert not failures, "\n".join(failures)
