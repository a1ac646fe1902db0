"""The open-internet guard in-process: the rate limiter's laws, who the client is, the
Idempotency-Key header's forms, the duplicate rule's notion of a patient, the request
fingerprint, and the ASGI guard over the real app (operator token / hidden operator
routes, 429, 431, nosniff, no-store, 404/405 under /api as JSON with CORS)."""

from __future__ import annotations

import datetime as dt
import unicodedata
import warnings
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.builders import request
from tests.strategies.hostile import VALID_BODY

import slotcap
from slotcap.adapters.memory import MemoryStore
from slotcap.cli._serve import _is_loopback, operator_token
from slotcap.domain.patients import is_same_patient, patient_identity
from slotcap.errors import ConfigurationError, InvalidRequest
from slotcap.http import create_app
from slotcap.http.guard import GuardSettings
from slotcap.http.handlers import idempotency_key
from slotcap.http.limits import ClientAddress, RateLimiter, parse_rate
from slotcap.http.serving import redact_target
from slotcap.usecases import BookingRequest
from slotcap.usecases.idempotency import request_fingerprint

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

NOW = dt.datetime(2026, 1, 2, 9, 0, tzinfo=dt.UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the rate limiter -------------------------------------------------------------------

@given(per_minute=st.integers(1, 120), burst=st.integers(0, 300))
def test_a_burst_gets_exactly_the_limit(per_minute: int, burst: int) -> None:
    limiter = RateLimiter(per_minute, clock=FakeClock())
    allowed = sum(limiter.take("client") == 0 for _ in range(burst))
    assert allowed == min(burst, per_minute)


@given(per_minute=st.integers(1, 120), waits=st.lists(st.floats(0, 120), max_size=40))
def test_retry_after_is_honest(per_minute: int, waits: list[float]) -> None:
    """A client told to wait N seconds is allowed once it has (and never more than the
    limit a minute over any run)."""
    clock = FakeClock()
    limiter = RateLimiter(per_minute, clock=clock)
    for _ in range(per_minute):
        assert limiter.take("c") == 0
    for pause in waits:
        clock.now += pause
        wait = limiter.take("c")
        if wait:
            clock.now += wait
            assert limiter.take("c") == 0


@given(clients=st.integers(1, 2000), cap=st.integers(1, 100))
def test_memory_stays_bounded_under_a_flood_of_clients(clients: int, cap: int) -> None:
    limiter = RateLimiter(5, max_clients=cap, clock=FakeClock())
    for n in range(clients):
        limiter.take(f"10.0.{n // 256}.{n % 256}")
        assert len(limiter) <= cap


@given(n=st.integers(0, 10**6), suffix=st.sampled_from(["", "/m", "/min", "/minute", "/M"]))
def test_rates_read_as_per_minute(n: int, suffix: str) -> None:
    assert parse_rate(f" {n}{suffix} ") == n


@pytest.mark.parametrize("text", ["", "ten", "10/s", "-1", "1.5/m", "10/h"])
def test_a_bad_rate_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a rate"):
        parse_rate(text)


# -- who the client is ----------------------------------------------------------------

def test_forwarded_headers_count_only_from_a_trusted_proxy() -> None:
    nobody = ClientAddress()
    assert nobody.of("203.0.113.9", {"x-forwarded-for": "198.51.100.1"}) == "203.0.113.9"
    proxy = ClientAddress(["10.0.0.0/8"])
    # The right-most untrusted hop: a client cannot hide behind what it wrote on the left.
    assert proxy.of("10.0.0.2", {"x-forwarded-for": "1.1.1.1, 198.51.100.7"}) == \
        "198.51.100.7"
    assert proxy.of("10.0.0.2", {"x-forwarded-for": "198.51.100.7, 10.0.0.3"}) == \
        "198.51.100.7"
    assert proxy.of("203.0.113.9", {"x-forwarded-for": "1.1.1.1"}) == "203.0.113.9"
    assert proxy.of("10.0.0.2", {"forwarded": 'for="[2001:db8::1]:4711";proto=https'}) == \
        "2001:db8::1"
    assert proxy.of("10.0.0.2", {"forwarded": "for=192.0.2.60:80, for=10.0.0.9"}) == \
        "192.0.2.60"
    assert proxy.of("10.0.0.2", {}) == "10.0.0.2"
    assert ClientAddress(["*"]).of("203.0.113.9", {"x-forwarded-for": "192.0.2.1"}) == \
        "192.0.2.1"
    with pytest.raises(ValueError, match="not an address"):
        ClientAddress(["not-an-ip"])


_HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)


@given(xff=_HEADER_TEXT, forwarded=_HEADER_TEXT)
def test_an_untrusted_peer_is_the_client_whatever_it_writes(xff: str, forwarded: str) -> None:
    headers = {"x-forwarded-for": xff, "forwarded": forwarded}
    assert ClientAddress().of("203.0.113.9", headers) == "203.0.113.9"
    assert ClientAddress(["10.0.0.0/8"]).of("203.0.113.9", headers) == "203.0.113.9"


@given(xff=_HEADER_TEXT, forwarded=_HEADER_TEXT)
def test_behind_a_trusted_proxy_the_client_is_a_hop_or_the_proxy(xff: str,
                                                                  forwarded: str) -> None:
    """Never an exception, never a value that was not in the headers."""
    client = ClientAddress(["10.0.0.0/8"]).of("10.0.0.2", {"x-forwarded-for": xff})
    assert client == "10.0.0.2" or client in xff
    via_forwarded = ClientAddress(["10.0.0.0/8"]).of("10.0.0.2", {"forwarded": forwarded})
    assert via_forwarded == "10.0.0.2" or via_forwarded in forwarded


# -- the Idempotency-Key header -----------------------------------------------------------

_KEY = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1,
               max_size=255)


@given(key=_KEY)
def test_a_key_reads_the_same_bare_or_quoted(key: str) -> None:
    quoted = '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
    assert idempotency_key(quoted) == key
    if key == key.strip() and not key.startswith('"'):
        assert idempotency_key(key) == key


@pytest.mark.parametrize("header", ["", "   ", "x" * 256, "ключ", "a\tb", '"a"b"', '"a\\"',
                                    '"\\n"'])
def test_a_malformed_key_names_the_header(header: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        idempotency_key(header)
    assert list(raised.value.fields) == ["Idempotency-Key"]


@given(pairs=st.permutations(sorted(VALID_BODY.items())), extra=st.text(max_size=5))
def test_the_fingerprint_ignores_key_order_and_unknown_keys(
        pairs: list[tuple[str, object]], extra: str) -> None:
    body = dict(pairs)
    body["x-unknown" + extra] = extra
    assert request_fingerprint(BookingRequest.from_mapping(body)) == \
        request_fingerprint(BookingRequest.from_mapping(VALID_BODY))
    other = {**VALID_BODY, "notes": "another"}
    assert request_fingerprint(BookingRequest.from_mapping(other)) != \
        request_fingerprint(BookingRequest.from_mapping(VALID_BODY))


# -- one patient ----------------------------------------------------------------------

_NAME = st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=20)


@given(name=_NAME, spaces=st.sampled_from([" ", "  ", "\t", "\u3000"]))
def test_names_compare_folded_and_collapsed(name: str, spaces: str) -> None:
    variant = spaces + unicodedata.normalize("NFD", name.casefold()).replace(" ", spaces) + " "
    assert is_same_patient(name, "010-1234-5678", variant, "01012345678")
    ascii_name = name.encode("ascii", "ignore").decode() or "kim"
    assert is_same_patient(ascii_name.upper(), "010-1234-5678", ascii_name.lower(),
                           "010.1234.5678")


def test_a_sibling_or_another_phone_is_another_patient() -> None:
    assert not is_same_patient("김하늘", "010-1234-5678", "김바다", "010-1234-5678")
    assert not is_same_patient("김하늘", "010-1234-5678", "김하늘", "010-1234-5679")
    assert patient_identity("Kim", "+82 10-1234-5678") == patient_identity("kim", "010 1234 5678")


# -- the guard over the app ------------------------------------------------------------

def _client(guard: GuardSettings) -> TestClient:
    app = slotcap.bootstrap(env={}, clock=slotcap.FixedClock(NOW), store=MemoryStore())
    from slotcap.http.mounts import operator_routes

    metrics, routes = operator_routes(app)
    return TestClient(create_app(app, metrics=metrics, routes=routes, guard=guard))


@pytest.fixture
def hidden() -> Iterator[TestClient]:
    with _client(GuardSettings(operator_hidden=True)) as client:
        yield client


def test_without_a_token_on_a_public_address_the_operator_routes_are_absent(
        hidden: TestClient) -> None:
    for path in ("/", "/metrics"):
        reply = hidden.get(path)
        assert (reply.status_code, reply.json()["code"]) == (404, "not_found")
    assert hidden.get("/api/services").status_code == 200
    assert hidden.get("/healthz").status_code == 200
    assert _is_loopback("127.0.0.1") and _is_loopback("::1") and _is_loopback("localhost")
    assert not _is_loopback("0.0.0.0") and not _is_loopback("192.0.2.1")  # noqa: S104


def test_the_token_is_compared_and_never_echoed() -> None:
    with _client(GuardSettings(operator_token="s3cret-token")) as client:  # noqa: S106
        none = client.get("/metrics")
        assert none.status_code == 401
        assert none.headers["www-authenticate"] == 'Bearer realm="slotcap"'
        wrong = client.get("/", headers={"Authorization": "Bearer s3cret-tokeN"})
        assert wrong.status_code == 401 and "invalid_token" in wrong.headers["www-authenticate"]
        assert "s3cret" not in wrong.text
        assert client.get("/", headers={"Authorization": "Bearer s3cret-token"}).status_code \
            == 200
        assert client.get("/readyz").status_code == 200


def test_the_token_file_is_stripped_and_checked(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "token"  # type: ignore[operator]
    path.write_text("abc123\n\n", encoding="utf-8")
    assert operator_token(str(path), {}) == "abc123"
    assert operator_token(None, {"SLOTCAP_OPERATOR_TOKEN": "xyz "}) == "xyz"
    assert operator_token(None, {}) is None
    path.write_text("two words", encoding="utf-8")
    with pytest.raises(ConfigurationError) as raised:
        operator_token(str(path), {})
    assert "two" not in str(raised.value)


def test_limits_headers_and_api_errors() -> None:
    guard = GuardSettings(bookings_per_minute=2, reads_per_minute=3, max_header_bytes=2048)
    with _client(guard) as client:
        statuses = [client.get("/api/services").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = client.get("/api/services")
        assert limited.json()["code"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.headers["access-control-allow-origin"] == "*"
        assert all(client.get("/healthz").status_code == 200 for _ in range(10))
        body = dict(VALID_BODY)
        posts = [client.post("/api/public/reservations",
                             json={**body, "phone": request().phone}).status_code
                 for _ in range(3)]
        assert posts[-1] == 429 and 429 not in posts[:2]
        huge = client.get("/healthz", headers={"X-Big": "a" * 4096})
        assert huge.status_code == 431 and huge.json()["code"] == "headers_too_large"
        for reply in (client.get("/healthz"), client.get("/api/nope"), limited):
            assert reply.headers["x-content-type-options"] == "nosniff"
        assert limited.headers.get("cache-control") is None  # /api/services: cacheable
        assert client.get("/api/public/reservations/calendar").headers["cache-control"] \
            == "no-store"


def test_404_and_405_under_api_are_json_with_cors(hidden: TestClient) -> None:
    """Regression (issue #23 item 5): they were text/plain without CORS."""
    missing = hidden.get("/api/public/nothing-here")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert missing.headers["access-control-allow-origin"] == "*"
    wrong = hidden.delete("/api/public/reservations")
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"
    assert wrong.headers["access-control-allow-origin"] == "*"
    assert "POST" in wrong.headers["allow"]
    outside = hidden.get("/no-such-page")
    assert outside.status_code == 404 and outside.headers["content-type"].startswith(
        "text/plain")


def test_the_access_log_keeps_only_the_apis_own_parameters() -> None:
    assert redact_target("/api/x?date=2026-01-05&token=s3cret&service=A") == \
        "/api/x?date=2026-01-05&token=redacted&service=A"
    assert redact_target("/metrics") == "/metrics"


@settings(deadline=None)
@given(target=st.text(max_size=60))
def test_redaction_never_shows_an_unknown_parameters_value(target: str) -> None:
    shown = redact_target("/p?secret=" + target.replace("&", "").replace("#", ""))
    assert shown.endswith("secret=redacted")
