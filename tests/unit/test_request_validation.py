"""Request validation is total: any JSON value in, ValidBooking or InvalidRequest out.

The web app hands the decoded POST body straight to ``BookingRequest.from_mapping``;
whatever it holds, the only outcomes are a ``ValidBooking`` or one ``InvalidRequest``
naming every bad field — and a refused request writes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.strategies.budget import examples
from tests.strategies.hostile import VALID_BODY, booking_bodies, hostile_text, json_values

from slotcap import BookingRequest, InvalidRequest, InvalidService, ReservationFull, book
from slotcap.adapters.memory import MemoryStore
from slotcap.domain.clock import DayClock, SystemClock
from slotcap.errors import ConfigurationError
from slotcap.usecases import ValidBooking, validate_request

#: VALID_BODY books Monday 2026-01-05; the tests pretend it is the Friday before.
TODAY = dt.date(2026, 1, 2)
#: The system clock with "today" pinned to TODAY.
CLOCK = DayClock(TODAY)
FUZZ = settings(max_examples=examples(3), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def outcome(body: Any, *, dynamic: bool = True) -> ValidBooking | InvalidRequest:
    """Validate like the web app does; anything but these two outcomes fails the test."""
    try:
        return validate_request(BookingRequest.from_mapping(body), dynamic=dynamic, clock=CLOCK)
    except InvalidRequest as refused:
        return refused


def refused(body: Any, *, dynamic: bool = True, today: dt.date = TODAY,
            horizon_days: int = 365) -> dict[str, str]:
    with pytest.raises(InvalidRequest) as caught:
        validate_request(body, dynamic=dynamic, clock=DayClock(today), horizon_days=horizon_days)
    return caught.value.fields


def with_(**fields: Any) -> dict[str, Any]:
    return {**VALID_BODY, **fields}


def test_the_valid_body_is_valid() -> None:
    valid = validate_request(BookingRequest.from_mapping(VALID_BODY), dynamic=True, clock=CLOCK)
    assert valid.preferred_date == dt.date(2026, 1, 5)
    assert valid.notes == VALID_BODY["notes"]  # newlines are fine in notes


@pytest.mark.parametrize("body", [[], [VALID_BODY], "a string", "", 0, 1.5, True, None])
def test_a_body_that_is_not_an_object_is_refused(body: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        BookingRequest.from_mapping(body)
    assert set(caught.value.fields) == {"body"}
    assert "JSON object" in caught.value.fields["body"]
    assert set(refused(body)) == {"body"}  # validate_request takes the raw body too


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("patient_name", "김\x00하늘", "U+0000"),
        ("patient_name", "김\ud800하늘", "surrogate"),
        ("patient_name", "김하늘\n", "U+000A"),  # a name is one line
        ("phone", "010-1234-5678\x1b", "U+001B"),
        ("email", "a\x7f@b.co", "U+007F"),
        ("service", "SKIN\x00CARE", "U+0000"),
        ("preferred_time", "10:00\udfff", "surrogate"),
        ("notes", "주차\x00", "U+0000"),
        ("notes", "a\rb", "U+000D"),  # a lone CR; CR LF is a newline
        ("notes", "\x85", "U+0085"),
        ("gender", "FEMALE\x00", "U+0000"),
        ("preferred_date", "2026-01-05\x00", "U+0000"),
    ],
)
def test_text_refuses_nul_surrogates_and_control_characters(
    field: str, value: str, needle: str
) -> None:
    problems = refused(with_(**{field: value}))
    assert set(problems) == {field}
    assert needle in problems[field]


def test_notes_keep_newlines_and_tabs() -> None:
    notes = "첫 줄\r\n둘째 줄\n\t들여쓰기"
    assert validate_request(with_(notes=notes), dynamic=True, clock=CLOCK).notes == notes


@pytest.mark.parametrize("field", sorted(VALID_BODY))
@pytest.mark.parametrize("value", [["a"], {"a": 1}, 5, 1.5, True, float("nan")])
def test_non_text_values_are_refused_not_dropped(field: str, value: Any) -> None:
    problems = refused(with_(**{field: value}))
    assert field in problems
    assert "must be" in problems[field]


def test_every_bad_field_is_named_at_once() -> None:
    problems = refused(with_(patient_name=None, phone=["010"], notes={"x": 1}, email="\x00",
                             preferred_date="9999-12-31", birth_date="2099-01-01"))
    assert set(problems) == {"patient_name", "phone", "notes", "email", "preferred_date",
                             "birth_date"}


@pytest.mark.parametrize("day", ["0001-01-01", "2026-01-01", "2027-01-03", "9999-12-31"])
def test_preferred_dates_outside_the_window_are_refused_with_the_window(day: str) -> None:
    problems = refused(with_(preferred_date=day))
    assert set(problems) == {"preferred_date"}
    assert "2026-01-02" in problems["preferred_date"]  # today
    assert "2027-01-02" in problems["preferred_date"]  # today + 365 days


@pytest.mark.parametrize("day", ["2026-01-02", "2027-01-02"])
def test_the_window_includes_today_and_its_last_day(day: str) -> None:
    valid = validate_request(with_(preferred_date=day, period="AFTERNOON"), dynamic=True,
                             clock=CLOCK)
    assert valid.preferred_date.isoformat() == day


def test_the_horizon_is_configurable() -> None:
    body = with_(preferred_date="2026-01-12")
    assert set(refused(body, horizon_days=7)) == {"preferred_date"}
    assert validate_request(body, dynamic=True, clock=CLOCK, horizon_days=10)
    with pytest.raises(ConfigurationError):
        validate_request(body, dynamic=True, clock=CLOCK, horizon_days=-1)


def test_odd_but_legal_configuration_does_not_crash() -> None:
    body = with_(preferred_date="2026-01-05")
    assert validate_request(body, dynamic=True, clock=CLOCK,
                            horizon_days=10**8).preferred_date == dt.date(2026, 1, 5)


def test_today_is_the_clocks() -> None:
    clock = SystemClock()
    today = clock.today()
    body = with_(preferred_date=today.isoformat(), period="MORNING")
    assert validate_request(body, dynamic=True, clock=clock).preferred_date == today
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    with pytest.raises(InvalidRequest):
        validate_request(with_(preferred_date=yesterday), dynamic=True, clock=clock)


def test_birth_date_not_after_today() -> None:
    assert set(refused(with_(birth_date="2026-01-03"))) == {"birth_date"}
    assert validate_request(with_(birth_date="2026-01-02"), dynamic=True, clock=CLOCK)
    assert set(refused(with_(birth_date="1899-12-31"))) == {"birth_date"}


def test_messages_do_not_repeat_patient_data() -> None:
    body = with_(phone="02-99", email="kim.haneul@nowhere", birth_date="2030-05-05")
    with pytest.raises(InvalidRequest) as caught:
        validate_request(body, dynamic=True, clock=CLOCK)
    for secret in ("02-99", "kim.haneul", "2030-05-05"):
        assert secret not in str(caught.value)


def test_phone_digits_must_be_ascii() -> None:
    assert set(refused(with_(phone="٠١٠-١٢٣٤-٥٦٧٨"))) == {"phone"}
    assert set(refused(with_(phone="０１０-１２３４-５６７８"))) == {"phone"}


@FUZZ
@given(json_values())
def test_any_json_value_gives_valid_booking_or_invalid_request(value: Any) -> None:
    result = outcome(value)
    assert isinstance(result, ValidBooking | InvalidRequest)
    if isinstance(result, InvalidRequest):
        assert result.fields and result.code == "invalid_request"


@FUZZ
@given(booking_bodies(), st.booleans())
def test_hostile_bodies_give_valid_booking_or_invalid_request(
    body: dict[str, Any], dynamic: bool
) -> None:
    result = outcome(body, dynamic=dynamic)
    if isinstance(result, InvalidRequest):
        # Every field named is a real field or the body itself.
        assert set(result.fields) <= {*VALID_BODY, "body"}
        return
    # What is accepted can be stored anywhere: encodable, no NUL, no stray controls.
    for value in (result.patient_name, result.phone, result.email, result.service_code,
                  result.preferred_time, result.notes):
        if value is not None:
            value.encode("utf-8")
            assert "\x00" not in value
    assert TODAY <= result.preferred_date <= TODAY + dt.timedelta(days=365)


@FUZZ
@given(st.dictionaries(st.sampled_from(sorted(VALID_BODY)), hostile_text()))
def test_json_round_trip_of_hostile_text_never_escapes(body: dict[str, str]) -> None:
    # What a browser could really send: the body as JSON text, surrogates escaped.
    decoded = json.loads(json.dumps(body))
    assert isinstance(outcome(decoded), ValidBooking | InvalidRequest)


@FUZZ
@given(booking_bodies(), st.booleans())
def test_nothing_reaches_the_store_unless_the_request_is_valid(
    body: dict[str, Any], dynamic: bool
) -> None:
    store = MemoryStore()
    try:
        stored = book(store, BookingRequest.from_mapping(body), dynamic=dynamic, clock=CLOCK)
    except InvalidRequest:
        assert store.all_reservations() == []
    except (InvalidService, ReservationFull):
        assert store.all_reservations() == []
    else:
        assert store.all_reservations() == [stored]
