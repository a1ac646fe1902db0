"""SIGKILL the real ``slotcap migrate`` during every phase and every rollback, on both
dialects: ``status`` must tell the truth, and both the rerun and the inverse command must
end exactly (schema and data) where an uninterrupted run does.

CI kills every checkpoint of every scenario once (each label; of a label passed once per
batch, the first and the last batch) plus kills at random times (``SLOTCAP_KILL_TIMED``
per scenario, default 2), on ``SLOTCAP_KILL_ROWS`` reservations (default 3000: three
batches of the default 1000 for every batched step). ``SLOTCAP_KILL_POINTS=N`` kills an
even spread of N checkpoints per scenario instead; ``scripts/killtest`` sweeps every
pass of every checkpoint on larger tables (30,000 rows by default).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from tests.conftest import PG_URL, require_postgres
from tests.killpoints.harness import SCENARIOS, Scenario, Sweep, databases, distinct_points

ROWS = int(os.environ.get("SLOTCAP_KILL_ROWS", "3000"))
_POINTS = os.environ.get("SLOTCAP_KILL_POINTS", "each")
#: None: every checkpoint once; else that many, spread evenly.
MOST = None if _POINTS == "each" else int(_POINTS)
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
    points, labels = sweep.points_and_labels(scenario, most=MOST, timed=TIMED,
                                             distinct=MOST is None)
    if MOST is None:
        # Every checkpoint the uninterrupted run passed is among the kills.
        killed_at = {p.label.partition("#")[0] for p in points if p.label}
        assert killed_at == {label.partition("#")[0] for label in labels}
        assert [p.label for p in points if p.label] == distinct_points(labels)
    outcomes = sweep.run([(scenario, p) for p in points])
    assert len(outcomes) == len(points) >= (MOST or 2) // 2
    # At least the checkpoint kills really killed the process mid-command.
    assert sum(o.killed for o in outcomes) >= len([p for p in points if p.label])
    failures = [f"{o.point}: status {o.status}: {'; '.join(o.problems)}"
                for o in outcomes if not o.ok]
    assert not failures, "\n".join(failures)
