"""The one schema-state policy (``SchemaState.serves``): which booking rule runs in which
state, asked alike by the booking, the HTTP handlers, readiness and the clinic's
administration."""

from __future__ import annotations

import pytest

from slotcap.adapters.memory import MemoryStore
from slotcap.bootstrap import App
from slotcap.domain.clock import SystemClock
from slotcap.domain.rollout import Rollout
from slotcap.domain.schema_state import Rule, SchemaState, require
from slotcap.errors import SchemaStateError
from slotcap.http.handlers import readiness, rule_for
from slotcap.usecases.hours import list_hours

SERVED = {
    SchemaState.LEGACY: {Rule.COUNT},
    SchemaState.EXPANDED: {Rule.COUNT, Rule.MINUTES},
    SchemaState.CONTRACTED: {Rule.MINUTES},
}


@pytest.mark.parametrize("state", list(SchemaState))
@pytest.mark.parametrize("rule", list(Rule))
def test_require_refuses_exactly_what_serves_denies(state: SchemaState, rule: Rule) -> None:
    assert state.serves(rule) is (rule in SERVED[state])
    if state.serves(rule):
        require(state, rule)
    else:
        with pytest.raises(SchemaStateError):
            require(state, rule)
    chosen = state.rule_for(rule)
    assert state.serves(chosen)
    assert chosen is rule or not state.serves(rule)


@pytest.mark.parametrize("state", list(SchemaState))
def test_the_server_and_the_administration_ask_the_same_policy(state: SchemaState) -> None:
    app = App(store=MemoryStore(schema_state=state), clock=SystemClock(),
              rollout=Rollout(percentage=50))
    body = readiness(app).body
    assert isinstance(body, dict)
    assert set(body["rules"]) == {{Rule.COUNT: "legacy", Rule.MINUTES: "dynamic"}[r]
                                  for r in SERVED[state]}
    for key in ("a", "b", "c", "d", None):
        assert (Rule.MINUTES if rule_for(app, key) else Rule.COUNT) in SERVED[state]
    if state.serves(Rule.MINUTES):
        assert list_hours(app.store)  # phase 1's clinic_time_slots are there
    else:
        with pytest.raises(SchemaStateError, match="apply phase 1 first"):
            list_hours(app.store)
