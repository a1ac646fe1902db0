"""Property-based tests of the live ``slotcap serve`` from its own ``/openapi.json``:
Schemathesis generates requests for every documented operation (valid and invalid
bodies, parameters and headers) and checks every response — no 5xx, a documented
status code and content type, and a body that matches the documented schema.

Bounded (``MAX_EXAMPLES`` per mode, spread over the operations) so that the whole run
stays well under a minute. The server runs with half of the patients on the dynamic
rule, so both paths are exercised.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.conftest import postgres_database
from tests.e2e.server_process import Server, running_server
from tests.integration.store_helpers import build_sql_database
from tests.strategies.budget import examples

from slotcap.ports import SchemaState

MAX_EXAMPLES = examples(3)

pytestmark = pytest.mark.subprocess  # `slotcap serve`
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("schemathesis")
    env = {"DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE": "50"}
    if request.param == "sqlite":
        url = f"sqlite:///{workdir / 'api.db'}"
        build_sql_database(url, SchemaState.EXPANDED)
        with running_server(url, workdir, env=env) as server:
            yield server
        return
    with postgres_database("api") as url:
        build_sql_database(url, SchemaState.EXPANDED)
        with running_server(url, workdir, env=env) as server:
            yield server


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_response_matches_the_document(live: Server, mode: GenerationMode) -> None:
    # Schemathesis's Python API (its pytest plugin's parametrize does not run on pytest 9):
    # one Hypothesis strategy over every operation of the live document.
    schema = schemathesis.openapi.from_url(live.url("/openapi.json"))
    seen: set[str] = set()

    @given(case=schema.as_strategy(mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        seen.add(f"{case.operation.method.upper()} {case.operation.path}")
        case.call_and_validate(checks=CHECKS, timeout=30)

    run()
    assert live.process.poll() is None
    assert {"POST /api/public/reservations", "GET /api/public/reservations/availability",
            "GET /api/public/reservations/calendar"} <= seen


def test_the_document_names_every_route(live: Server) -> None:
    import httpx

    document = httpx.get(live.url("/openapi.json"), timeout=30).json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) >= {
        "/api/public/reservations", "/api/public/reservations/availability",
        "/api/public/reservations/calendar", "/api/services", "/healthz", "/readyz",
        "/openapi.json", "/metrics", "/",
    }
    post = document["paths"]["/api/public/reservations"]["post"]
    assert set(post["responses"]) == {"200", "400", "408", "409", "413", "422", "429", "431",
                                      "503"}
    assert {p["name"] for p in post["parameters"]} == {"X-Slotcap-Subject", "Idempotency-Key"}
    limited = document["paths"]["/api/public/reservations/availability"]["get"]["responses"]
    assert "Retry-After" in limited["429"]["headers"]
    assert "WWW-Authenticate" in document["paths"]["/metrics"]["get"]["responses"]["401"][
        "headers"]
