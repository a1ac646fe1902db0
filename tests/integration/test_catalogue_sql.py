"""The service catalogue use cases on SQLite and PostgreSQL: the same behaviour as on
the in-memory store, the phase-1 requirement, and reservations that keep their
snapshot when their service changes or is deactivated."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from tests.builders import TODAY, request

from slotcap import FixedClock, InvalidService, SchemaStateError, Service, book, bootstrap
from slotcap.domain.defaults import DEFAULT_SERVICES
from slotcap.errors import InvalidServiceDefinition, ServiceExists
from slotcap.usecases.catalogue import (
    add_service,
    deactivate_service,
    list_services,
    reactivate_service,
    update_service,
)

CLOCK = FixedClock(dt.datetime(2025, 11, 28, 9, tzinfo=dt.UTC), day=TODAY)


def test_before_phase_1_every_catalogue_call_is_refused(legacy_url: str) -> None:
    with bootstrap(legacy_url, env={}, clock=CLOCK) as app:
        for call in (
            lambda: list_services(app.store),
            lambda: add_service(app.store, code="NEW", name="새", duration_minutes=30),
            lambda: update_service(app.store, "SKIN_CARE", duration_minutes=30),
            lambda: deactivate_service(app.store, "SKIN_CARE"),
            lambda: reactivate_service(app.store, "SKIN_CARE"),
        ):
            with pytest.raises(SchemaStateError) as caught:
                call()
            assert "phase 1" in caught.value.message


def test_add_update_deactivate_reactivate_persist(phase1_url: str) -> None:
    with bootstrap(phase1_url, env={}, clock=CLOCK) as app:
        assert [s.code for s in list_services(app.store)] == [s.code for s in DEFAULT_SERVICES]
        added = add_service(app.store, code="LASER_TONING", name="레이저 토닝",
                            name_en="Laser toning", duration_minutes=25, buffer_minutes=5)
        assert added.display_order == 7
        with pytest.raises(ServiceExists):
            add_service(app.store, code="LASER_TONING", name="x", duration_minutes=10)
        with pytest.raises(InvalidServiceDefinition) as bad:
            add_service(app.store, code="low er", name="x", duration_minutes=10)
        assert set(bad.value.fields) == {"code"}
        update_service(app.store, "LASER_TONING", duration_minutes=35, name_en=None)
        deactivate_service(app.store, "LASER_TONING")
        deactivate_service(app.store, "BODY_CARE")
        reactivate_service(app.store, "BODY_CARE")
        with pytest.raises(InvalidService) as unknown:
            deactivate_service(app.store, "NOPE")
        assert unknown.value.code == "unknown_service"
    # A new connection sees exactly what was written.
    with bootstrap(phase1_url, env={}, clock=CLOCK) as app:
        laser = app.store.get_service("LASER_TONING")
        assert laser is not None
        assert (laser.name, laser.name_en, laser.duration_minutes, laser.buffer_minutes,
                laser.is_active, laser.deleted_at) == ("레이저 토닝", None, 35, 5, False, None)
        assert len(list_services(app.store)) == 7
        active = {s.code for s in list_services(app.store, include_inactive=False)}
        assert "LASER_TONING" not in active and "BODY_CARE" in active


@pytest.mark.parametrize("name", [
    "a\x00b", "two\nlines", "a\u2028b", "\ud800", "😀 보톡스", "e\u0301",
    "'; DROP TABLE services;--", "x" * 100, "  padded  ",
])
def test_names_either_round_trip_or_are_refused_before_the_database(
    phase1_url: str, name: str
) -> None:
    with bootstrap(phase1_url, env={}, clock=CLOCK) as app:
        refused: InvalidServiceDefinition | None
        try:
            added = add_service(app.store, code="ODD", name=name, name_en=name,
                                duration_minutes=30)
        except InvalidServiceDefinition as exc:
            refused = exc
        else:
            refused = None
            assert app.store.get_service("ODD") == added
            assert added.name == name.strip()
        if refused is not None:
            assert set(refused.fields) == {"name", "name_en"}
            assert app.store.get_service("ODD") is None


def test_concurrent_adds_of_one_code_save_one_and_refuse_the_other(phase1_url: str) -> None:
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def add(name: str) -> None:
        with bootstrap(phase1_url, env={}, clock=CLOCK) as app:
            app.store.list_services()  # connected before the race starts
            barrier.wait()
            try:
                outcomes.append(add_service(app.store, code="RACE", name=name,
                                            duration_minutes=30))
            except ServiceExists as exc:
                outcomes.append(exc)

    threads = [threading.Thread(target=add, args=(name,)) for name in ("첫째", "둘째")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    saved = [o for o in outcomes if isinstance(o, Service)]
    assert len(saved) == 1 and len(outcomes) == 2
    assert isinstance(outcomes[0 if outcomes[1] is saved[0] else 1], ServiceExists)
    with bootstrap(phase1_url, env={}, clock=CLOCK) as app:
        assert app.store.get_service("RACE") == saved[0]


def test_deactivation_keeps_the_reservations_snapshot(phase1_url: str) -> None:
    with bootstrap(phase1_url, env={}, clock=CLOCK) as app:
        booked = book(app.store, request(service="SKIN_CARE"), dynamic=True, clock=CLOCK)
        assert (booked.service_name, booked.estimated_duration) == ("피부케어", 70)
        update_service(app.store, "SKIN_CARE", name="새 피부케어", duration_minutes=90)
        deactivate_service(app.store, "SKIN_CARE")
        with pytest.raises(InvalidService) as refused:
            book(app.store, request(service="SKIN_CARE"), dynamic=True, clock=CLOCK)
        assert refused.value.code == "service_inactive"
    with bootstrap(phase1_url, env={}, clock=CLOCK) as app:
        stored = app.store.get_reservation(booked.id)
        assert stored is not None
        assert (stored.service_name, stored.estimated_duration, stored.service_id) == (
            "피부케어", 70, "srv_skin_care")
        assert stored == booked
        service = app.store.get_service("SKIN_CARE")
        assert service is not None and not service.is_active
