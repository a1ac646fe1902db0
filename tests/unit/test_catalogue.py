"""The service catalogue use cases on the in-memory store: validation, uniqueness,
deactivation that never deletes, and the phase-1 requirement."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.builders import ON_TODAY, TODAY, request
from tests.strategies.budget import examples

from slotcap import (
    FixedClock,
    InvalidRequest,
    InvalidService,
    SchemaState,
    SchemaStateError,
    Service,
    book,
    check_availability,
)
from slotcap.adapters.memory import MemoryStore
from slotcap.domain.defaults import DEFAULT_SERVICES
from slotcap.errors import InvalidServiceDefinition, ServiceExists
from slotcap.usecases.catalogue import (
    MAX_MINUTES,
    add_service,
    deactivate_service,
    list_services,
    reactivate_service,
    update_service,
)

FIELDS = {"code", "name", "name_en", "duration_minutes", "buffer_minutes", "display_order"}


def test_list_is_ordered_and_hides_inactive_on_request() -> None:
    store = MemoryStore()
    assert [s.code for s in list_services(store)] == [s.code for s in DEFAULT_SERVICES]
    deactivate_service(store, "SKIN_CARE")
    assert "SKIN_CARE" in {s.code for s in list_services(store)}
    assert "SKIN_CARE" not in {s.code for s in list_services(store, include_inactive=False)}


def test_add_saves_an_active_service_after_the_last() -> None:
    store = MemoryStore()
    added = add_service(store, code="LASER_2", name="  레이저  ", name_en="Laser",
                        duration_minutes=25, buffer_minutes=5)
    assert added == store.get_service("LASER_2")
    assert added.id.startswith("srv_laser_2_")
    assert (added.name, added.name_en, added.is_active) == ("레이저", "Laser", True)
    assert (added.duration_minutes, added.buffer_minutes, added.display_order) == (25, 5, 7)
    assert list_services(store)[-1] == added
    ordered = add_service(store, code="FIRST", name="첫째", duration_minutes=10,
                          display_order=0)
    assert list_services(store)[0] == ordered
    assert ordered.buffer_minutes == 0 and ordered.name_en is None


def test_add_refuses_a_code_in_use_even_when_inactive() -> None:
    store = MemoryStore()
    deactivate_service(store, "BODY_CARE")
    with pytest.raises(ServiceExists) as caught:
        add_service(store, code="BODY_CARE", name="바디", duration_minutes=30)
    assert caught.value.code == "service_exists"
    assert store.get_service("BODY_CARE") is not None
    assert store.get_service("BODY_CARE").name == "바디케어"  # type: ignore[union-attr]


class StaleStore(MemoryStore):
    """A store whose reads miss what another writer has just saved (the race between
    add_service's check and its write)."""

    def list_services(self, *, include_deleted: bool = False) -> list[Service]:
        return []


def test_a_code_taken_between_check_and_write_is_refused_not_overwritten() -> None:
    store = StaleStore()
    with pytest.raises(ServiceExists):
        add_service(store, code="SKIN_CARE", name="덮어쓰기", duration_minutes=5)
    assert store.get_service("SKIN_CARE") == next(s for s in DEFAULT_SERVICES
                                                  if s.code == "SKIN_CARE")


def test_add_never_overwrites_a_service_holding_the_seed_id() -> None:
    store = MemoryStore()
    # A service whose code was renamed keeps its id srv_skin_care.
    renamed = next(s for s in DEFAULT_SERVICES if s.code == "SKIN_CARE")
    store.save_service(attrs.evolve(renamed, code="SKIN"))
    added = add_service(store, code="SKIN_CARE", name="새 피부", duration_minutes=30)
    assert added.id != "srv_skin_care"
    assert store.get_service("SKIN") is not None


@pytest.mark.parametrize(("values", "field"), [
    ({"code": "sk in"}, "code"),
    ({"code": "1ABC"}, "code"),
    ({"code": "A" * 51}, "code"),
    ({"code": "AB-C"}, "code"),
    ({"code": "ABC\n"}, "code"),
    ({"code": ""}, "code"),
    ({"name": ""}, "name"),
    ({"name": "a\x00b"}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name_en": "two\nlines"}, "name_en"),
    ({"duration_minutes": 0}, "duration_minutes"),
    ({"duration_minutes": MAX_MINUTES + 1}, "duration_minutes"),
    ({"duration_minutes": True}, "duration_minutes"),
    ({"duration_minutes": 30.0}, "duration_minutes"),
    ({"buffer_minutes": -1}, "buffer_minutes"),
    ({"display_order": -1}, "display_order"),
])
def test_add_names_the_bad_field(values: dict[str, object], field: str) -> None:
    store = MemoryStore()
    arguments: dict[str, object] = {"code": "NEW", "name": "새", "duration_minutes": 30,
                                    **values}
    with pytest.raises(InvalidServiceDefinition) as caught:
        add_service(store, **arguments)  # type: ignore[arg-type]
    assert set(caught.value.fields) == {field}
    assert caught.value.code == "invalid_service_definition"
    assert isinstance(caught.value, InvalidRequest)  # the CLI maps it to exit 2
    assert field in caught.value.message
    assert len(list_services(store)) == len(DEFAULT_SERVICES)


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(InvalidServiceDefinition) as caught:
        add_service(MemoryStore(), code="1x", name="", duration_minutes=0, buffer_minutes=-5)
    assert set(caught.value.fields) == {"code", "name", "duration_minutes", "buffer_minutes"}


def test_boundaries_are_accepted() -> None:
    store = MemoryStore()
    add_service(store, code="A", name="a", duration_minutes=1, buffer_minutes=0)
    add_service(store, code="Z" * 50, name="z" * 100, duration_minutes=MAX_MINUTES,
                buffer_minutes=MAX_MINUTES, display_order=1_000_000)
    assert store.get_service("Z" * 50) is not None


def test_update_changes_only_what_is_given() -> None:
    store = MemoryStore()
    before = store.get_service("SKIN_CARE")
    assert before is not None
    after = update_service(store, "SKIN_CARE", duration_minutes=70, name_en=None)
    assert after == store.get_service("SKIN_CARE")
    assert (after.duration_minutes, after.name_en) == (70, None)
    assert (after.name, after.buffer_minutes, after.id) == (before.name, before.buffer_minutes,
                                                            before.id)
    assert update_service(store, "SKIN_CARE") == after


def test_update_refuses_unknown_fields_codes_and_bad_values() -> None:
    store = MemoryStore()
    with pytest.raises(InvalidServiceDefinition) as caught:
        update_service(store, "SKIN_CARE", code="OTHER", is_active=False, buffer_minutes=-1)
    assert set(caught.value.fields) == {"code", "is_active", "buffer_minutes"}
    with pytest.raises(InvalidService) as unknown:
        update_service(store, "NOPE", duration_minutes=10)
    assert unknown.value.code == "unknown_service"
    with pytest.raises(InvalidServiceDefinition):
        deactivate_service(store, "not a code")
    assert store.get_service("SKIN_CARE") == next(s for s in DEFAULT_SERVICES
                                                  if s.code == "SKIN_CARE")


def test_deactivate_and_reactivate_are_idempotent_and_never_delete() -> None:
    store = MemoryStore()
    off = deactivate_service(store, "BODY_CARE")
    assert off.is_active is False and off.deleted_at is None
    assert deactivate_service(store, "BODY_CARE") == off
    assert len(store.list_services(include_deleted=True)) == len(DEFAULT_SERVICES)
    on = reactivate_service(store, "BODY_CARE")
    assert on.is_active is True and reactivate_service(store, "BODY_CARE") == on


def test_deactivation_keeps_reservations_and_refuses_new_bookings() -> None:
    clock = FixedClock(dt.datetime(2025, 11, 28, 9, tzinfo=dt.UTC), day=TODAY)
    store = MemoryStore(clock=clock)
    booked = book(store, request(service="SKIN_CARE"), dynamic=True, clock=clock)
    assert (booked.service_name, booked.estimated_duration) == ("피부케어", 70)
    update_service(store, "SKIN_CARE", name="바뀐 이름", duration_minutes=90)
    deactivate_service(store, "SKIN_CARE")
    assert store.get_reservation(booked.id) == booked
    # The minutes rule reads the catalogue. (The legacy count rule follows the legacy
    # app's own switch, service_reservation_limits.isActive, not the services table.)
    with pytest.raises(InvalidService) as refused:
        book(store, request(service="SKIN_CARE"), dynamic=True, clock=clock)
    assert refused.value.code == "service_inactive"
    reactivate_service(store, "SKIN_CARE")
    again = book(store, request(service="SKIN_CARE"), dynamic=True, clock=clock)
    assert (again.service_name, again.estimated_duration) == ("바뀐 이름", 100)
    assert store.get_reservation(booked.id) == booked


def test_the_catalogue_needs_phase_1_on_every_store() -> None:
    store = MemoryStore(schema_state=SchemaState.LEGACY)
    for call in (
        lambda: list_services(store),
        lambda: add_service(store, code="NEW", name="새", duration_minutes=30),
        lambda: update_service(store, "SKIN_CARE", duration_minutes=30),
        lambda: deactivate_service(store, "SKIN_CARE"),
        lambda: reactivate_service(store, "SKIN_CARE"),
    ):
        with pytest.raises(SchemaStateError) as caught:
            call()
        assert caught.value.code == "schema_state" and "phase 1" in caught.value.message
    assert list_services(MemoryStore(schema_state=SchemaState.CONTRACTED))


@settings(max_examples=examples(3), deadline=None)
@given(
    code=st.text(max_size=60) | st.from_regex(r"[A-Z][A-Z0-9_]{0,55}", fullmatch=True),
    name=st.text(max_size=120),
    name_en=st.none() | st.text(max_size=120),
    duration=st.integers() | st.integers(min_value=-5, max_value=MAX_MINUTES + 5),
    buffer=st.integers() | st.integers(min_value=-5, max_value=MAX_MINUTES + 5),
    order=st.none() | st.integers(),
)
def test_any_input_gives_a_saved_service_or_a_clear_error(
    code: str, name: str, name_en: str | None, duration: int, buffer: int, order: int | None
) -> None:
    store = MemoryStore()
    refused: InvalidServiceDefinition | None = None
    try:
        added = add_service(store, code=code, name=name, name_en=name_en,
                            duration_minutes=duration, buffer_minutes=buffer,
                            display_order=order)
    except InvalidServiceDefinition as exc:
        refused = exc
    except ServiceExists:
        assert code.upper() in {s.code for s in DEFAULT_SERVICES}
        return
    if refused is not None:
        assert refused.fields and set(refused.fields) <= FIELDS
        assert all(field in refused.message for field in refused.fields)
        assert len(list_services(store)) == len(DEFAULT_SERVICES)
        return
    assert store.get_service(code.upper()) == added  # codes in any case, stored upper
    assert added.name == name.strip() and 1 <= added.duration_minutes <= MAX_MINUTES
    assert 0 <= added.buffer_minutes <= MAX_MINUTES and added.is_active


@settings(max_examples=examples(2), deadline=None)
@given(changes=st.dictionaries(
    st.sampled_from(sorted(FIELDS | {"is_active", "id"})),
    st.none() | st.text(max_size=30) | st.integers() | st.booleans(),
    max_size=4,
))
def test_any_update_gives_a_saved_service_or_a_clear_error(changes: dict[str, object]) -> None:
    store = MemoryStore()
    before = store.get_service("SKIN_CARE")
    refused: InvalidServiceDefinition | None = None
    try:
        after = update_service(store, "SKIN_CARE", **changes)
    except InvalidServiceDefinition as exc:
        refused = exc
    if refused is not None:
        assert refused.fields and set(refused.fields) <= set(changes)
        assert store.get_service("SKIN_CARE") == before
        return
    assert store.get_service("SKIN_CARE") == after
    assert after.code == "SKIN_CARE" and after.id == "srv_skin_care"


def test_codes_are_taken_in_any_case_everywhere() -> None:
    # #23: PERIOD was read in any case but a service code only in upper case.
    store = MemoryStore()
    added = add_service(store, code="laser_toning", name="레이저", duration_minutes=30)
    assert added.code == "LASER_TONING"
    with pytest.raises(ServiceExists):
        add_service(store, code="Laser_Toning", name="again", duration_minutes=30)
    assert deactivate_service(store, " laser_toning ").is_active is False
    assert reactivate_service(store, "LASER_toning").is_active is True
    monday = dt.date(2026, 1, 5)
    decision = check_availability(store, monday, "skin_care", period="morning", dynamic=True)
    assert decision.allowed
    assert check_availability(store, monday, "skin_care", dynamic=False).allowed
    booked = book(store, request(service="skin_care", period="morning"), dynamic=True,
                  clock=ON_TODAY)
    assert booked.service == "SKIN_CARE"
