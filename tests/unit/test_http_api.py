"""The HTTP adapter in-process (Starlette's test client over the ASGI app, a memory
store): whatever a client sends — any JSON value, any bytes, any query — the answer is
a documented status with a JSON body, never a 500; and the reply mapping's laws."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.strategies.budget import examples
from tests.strategies.hostile import VALID_BODY, booking_bodies, hostile_text, json_values

import slotcap
from slotcap.adapters.memory import MemoryStore
from slotcap.http import create_app
from slotcap.http.app import decode_json
from slotcap.http.handlers import rule_for, subject_key
from slotcap.http.openapi import openapi_document
from slotcap.http.replies import Reply, invalid
from slotcap.ports import SchemaState

with warnings.catch_warnings():
    # Starlette 1.x suggests another client package than httpx for its test client;
    # httpx is the one the project uses (and the test client still runs on it).
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

#: VALID_BODY books a Monday morning three days after this.
NOW = dt.datetime(2026, 1, 2, 9, 0, tzinfo=dt.UTC)
POST_STATUSES = {200, 400, 409, 413}
SETTINGS = settings(max_examples=examples(1.5), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def observe(self, *, endpoint: str, rule_path: str, outcome: str, seconds: float) -> None:
        assert seconds >= 0
        self.seen.append((endpoint, rule_path, outcome))


def _app(env: dict[str, str], state: SchemaState = SchemaState.EXPANDED) -> slotcap.App:
    return slotcap.bootstrap(env=env, clock=slotcap.FixedClock(NOW),
                             store=MemoryStore(schema_state=state))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(recorder: Recorder) -> Iterator[TestClient]:
    app = _app({"DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE": "50"})
    with TestClient(create_app(app, metrics=recorder, max_body_bytes=4096),
                    raise_server_exceptions=True) as test_client:
        yield test_client


@given(body=st.one_of(json_values(), booking_bodies()))
@SETTINGS
def test_any_json_body_gets_a_documented_answer(client: TestClient, body: Any) -> None:
    reply = client.post("/api/public/reservations", content=json.dumps(body))
    assert reply.status_code in POST_STATUSES, reply.text
    payload = reply.json()
    if reply.status_code == 200:
        assert payload["success"] is True and payload["reservation"]["status"] == "PENDING"
    else:
        assert isinstance(payload["error"], str) and isinstance(payload["code"], str)
    assert reply.headers["access-control-allow-origin"] == "*"


@given(raw=st.binary(max_size=300))
@SETTINGS
def test_any_bytes_get_a_documented_answer(client: TestClient, raw: bytes) -> None:
    reply = client.post("/api/public/reservations", content=raw)
    assert reply.status_code in POST_STATUSES
    if reply.status_code != 200:
        assert reply.json()["error"]


@given(params=st.dictionaries(st.sampled_from(["date", "service", "from", "to", "x"]),
                              hostile_text(max_size=12), max_size=4))
@SETTINGS
def test_any_query_gets_a_documented_answer(client: TestClient, params: dict[str, str]) -> None:
    # Encoded by hand: a lone surrogate goes out as the bytes it stands for (not UTF-8).
    query = urllib.parse.urlencode(params, encoding="utf-8", errors="surrogatepass")
    for path in ("/api/public/reservations/availability", "/api/public/reservations/calendar"):
        reply = client.get(f"{path}?{query}")
        assert reply.status_code in {200, 400}, reply.text


def test_a_booking_and_what_the_metrics_saw(client: TestClient, recorder: Recorder) -> None:
    body = {**VALID_BODY, "phone": "010-0000-0001"}
    dynamic = slotcap.Rollout(percentage=50).uses_dynamic("01000000001")
    reply = client.post("/api/public/reservations", json=body)
    assert reply.status_code == 200
    assert reply.json()["reservation"]["preferred_time"] == ("MORNING" if dynamic else "10:00")
    assert client.post("/api/public/reservations", content=b"x" * 5000).status_code == 413
    assert client.get("/healthz").json() == {"status": "ok"}
    assert recorder.seen == [
        ("/api/public/reservations", "dynamic" if dynamic else "legacy", "created"),
        ("/api/public/reservations", "none", "invalid"),
    ]


def test_decode_json_refuses_what_is_not_json() -> None:
    assert decode_json(b'{"a": 1}') == {"a": 1}
    for raw in (b"", b"  ", b"{", b"\xff", b"[" * 50_000, b"1" * 5000):
        reply = decode_json(raw)
        assert isinstance(reply, Reply) and reply.status == 400, raw[:5]


def test_the_rule_follows_the_rollout_and_the_schema_phase() -> None:
    everyone = {"USE_DYNAMIC_SERVICES": "true"}
    assert rule_for(_app(everyone), "k") is True
    assert rule_for(_app(everyone, SchemaState.LEGACY), "k") is False  # no minutes yet
    assert rule_for(_app({}, SchemaState.CONTRACTED), "k") is True  # no count any more
    assert rule_for(_app({}), None) is False
    half = _app({"DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE": "50"})
    assert rule_for(half, None) is False  # anonymous: the rule everyone gets
    keys = [f"key{i}" for i in range(40)]
    assert [rule_for(half, k) for k in keys] == [half.rollout.uses_dynamic(k) for k in keys]


def test_subject_key_is_the_header_or_the_phone_digits() -> None:
    assert subject_key(" s1 ", {"phone": "010-1"}) == "s1"
    assert subject_key(None, {"phone": "010-1234-5678"}) == "01012345678"
    assert subject_key(None, {"phone": 5}) is None
    assert subject_key(None, ["phone"]) is None
    assert subject_key("", {"phone": "abc"}) is None


@given(fields=st.dictionaries(st.sampled_from(
    ["patient_name", "phone", "birth_date", "gender", "service", "preferred_date", "period",
     "notes", "body"]), st.sampled_from(["required", "not a phone number", "bad"]),
    min_size=1))
def test_every_refused_field_is_named(fields: dict[str, str]) -> None:
    reply = invalid(slotcap.InvalidRequest(fields))
    assert reply.status == 400 and reply.body["details"] == fields
    missing = {f for f, problem in fields.items() if problem == "required"}
    named = set(reply.body["fields"])
    assert named == (missing or ({"body"} if "body" in fields else set(fields)))


def test_the_document_lists_the_limit() -> None:
    document = openapi_document(max_body_bytes=1234)
    post = document["paths"]["/api/public/reservations"]["post"]
    assert "1234" in post["responses"]["413"]["description"]


def _client_on(state: SchemaState, env: dict[str, str]) -> TestClient:
    return TestClient(create_app(_app(env, state)))


def test_a_legacy_database_books_by_count_and_says_what_it_cannot_serve() -> None:
    with _client_on(SchemaState.LEGACY, {"USE_DYNAMIC_SERVICES": "true"}) as client:
        booked = client.post("/api/public/reservations", json=VALID_BODY)
        assert booked.status_code == 200, booked.text
        assert booked.json()["reservation"]["preferred_time"] == "10:00"  # the count rule
        for path in ("/api/services",
                     "/api/public/reservations/calendar?from=2026-01-05&to=2026-01-06"):
            refused = client.get(path)
            assert refused.status_code == 503, (path, refused.text)
            assert refused.json()["code"] == "schema_state"
            assert refused.headers["retry-after"] == "30"
        assert client.get("/readyz").json()["rules"] == ["legacy"]


def test_a_contracted_database_books_by_minutes_whatever_the_rollout() -> None:
    with _client_on(SchemaState.CONTRACTED, {}) as client:
        booked = client.post("/api/public/reservations", json=VALID_BODY)
        assert booked.status_code == 200, booked.text
        assert booked.json()["reservation"]["preferred_time"] == "MORNING"
        day = client.get("/api/public/reservations/availability",
                         params={"date": "2026-01-05", "service": "SKIN_CARE"}).json()
        assert day["rule"] == "dynamic" and day["periods"][0]["booked_minutes"] == 40
        assert client.get("/readyz").json()["rules"] == ["dynamic"]


def test_the_command_line_defaults_are_the_adapters() -> None:
    from slotcap.cli.main import build_parser
    from slotcap.http import DEFAULT_MAX_BODY_BYTES

    args = build_parser().parse_args(["serve"])
    assert args.max_body_bytes == DEFAULT_MAX_BODY_BYTES
    assert (args.host, args.port, args.threads) == ("127.0.0.1", 8000, 16)
