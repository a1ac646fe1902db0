"""A service added before phase 4 outside the legacy enum is not offered until it can be
booked (#23 defect 2): the public catalogue, availability and booking agree, in every
schema state. It used to be listed by GET /api/services and "fit" in availability,
then booking answered 400 service_not_in_legacy_enum."""

from __future__ import annotations

import datetime as dt
import warnings

import pytest
from tests.strategies.hostile import VALID_BODY

import slotcap
from slotcap.adapters.memory import MemoryStore
from slotcap.domain.rules import Reason
from slotcap.errors import InvalidService
from slotcap.http import create_app
from slotcap.ports import SchemaState
from slotcap.usecases import catalogue

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's note about its test client's package
    from starlette.testclient import TestClient

NOW = dt.datetime(2026, 1, 2, 9, 0, tzinfo=dt.UTC)
MONDAY = dt.date(2026, 1, 5)  # VALID_BODY's date, inside the booking window from NOW
NEW = "LASER_TONING"


def _store(state: SchemaState) -> MemoryStore:
    store = MemoryStore(schema_state=state)
    catalogue.add_service(store, code=NEW, name="레이저 토닝", duration_minutes=30,
                          buffer_minutes=10)
    return store


@pytest.mark.parametrize(("state", "offered"), [(SchemaState.EXPANDED, False),
                                                (SchemaState.CONTRACTED, True)])
def test_offered_exactly_when_bookable(state: SchemaState, offered: bool) -> None:
    store = _store(state)
    app = slotcap.bootstrap(env={"USE_DYNAMIC_SERVICES": "true"},
                            clock=slotcap.FixedClock(NOW), store=store)
    with TestClient(create_app(app)) as client:
        listed = {s["code"] for s in client.get("/api/services").json()["services"]}
        assert (NEW in listed) is offered
        assert "WRINKLE_BOTOX" in listed
        day = client.get("/api/public/reservations/availability",
                         params={"date": MONDAY.isoformat(), "service": NEW}).json()
        assert day["available"] is offered
        booked = client.post("/api/public/reservations", json={**VALID_BODY, "service": NEW})
    assert (booked.status_code == 200) is offered, booked.text
    if not offered:
        assert booked.json()["code"] == "service_not_in_legacy_enum"
        assert {p["reason"] for p in day["periods"]} == {Reason.NOT_YET_BOOKABLE.value}


def test_the_use_cases_agree_with_book() -> None:
    store = _store(SchemaState.EXPANDED)
    assert NEW not in {s.code for s in catalogue.bookable_services(store)}
    decision = slotcap.check_availability(store, MONDAY, NEW, dynamic=True)
    assert (decision.allowed, decision.reason) == (False, Reason.NOT_YET_BOOKABLE)
    request = slotcap.BookingRequest.from_mapping({**VALID_BODY, "service": NEW})
    with pytest.raises(InvalidService) as refused:
        slotcap.book(store, request, dynamic=True, clock=slotcap.FixedClock(NOW))
    assert refused.value.code == "service_not_in_legacy_enum"
