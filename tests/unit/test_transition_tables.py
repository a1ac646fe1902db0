"""The migration's transitions as data: each dialect's table keeps its promises
(apply / undo / check), checked without a database."""

from __future__ import annotations

import pytest

from slotcap.migration.engine.steps import Step, Transition, table_problems
from slotcap.migration.state import Phase
from slotcap.migration.transitions import DIALECTS, transition, transitions
from slotcap.sql import Dialect


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_table_keeps_its_promises(dialect: Dialect) -> None:
    assert table_problems(transitions(dialect)) == []


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_transition_names_an_inverse_that_leads_back(dialect: Dialect) -> None:
    table = transitions(dialect)
    for t in table.values():
        back = table[t.inverse]
        assert (back.start, back.end) == (t.end, t.start)
        assert table[back.inverse] is not None


@pytest.mark.parametrize("dialect", DIALECTS)
def test_forward_transitions_end_with_their_check(dialect: Dialect) -> None:
    for start, end in ((Phase.LEGACY, Phase.PHASE1), (Phase.PHASE1, Phase.PHASE2),
                       (Phase.PHASE2, Phase.PHASE4)):
        t = transition(dialect, start, end)
        assert t.check is not None and t.check is t.steps[-1]
        assert transition(dialect, end, start).check is None


def _noop(*_args: object) -> None:
    return None


def test_table_problems_finds_a_broken_table() -> None:
    forward = Transition(Phase.LEGACY, Phase.PHASE1, (
        Step("a", _noop, atomic=True), Step("a", _noop, atomic=False)))
    skipping = Transition(Phase.PHASE1, Phase.PHASE4,
                          (Step("c", _noop, atomic=True, check=True),))
    problems = table_problems({
        (Phase.LEGACY, Phase.PHASE1): forward,
        (Phase.PHASE2, Phase.PHASE4): skipping,
    })
    assert any("repeats a step name" in p for p in problems)
    assert any("no inverse" in p for p in problems)
    assert any("does not end with exactly one check" in p for p in problems)
    assert any("filed under" in p for p in problems)
    assert any("adjacent" in p for p in problems)
    assert any("check run as an atomic step" in p for p in problems)
