"""``slotcap serve`` end to end: the real command on a free port, on SQLite and on
PostgreSQL, driven over HTTP with httpx — the plan's curl body, every error response,
a concurrent race for one period, availability before and after, a graceful SIGTERM
and the one-line start-up errors."""

from __future__ import annotations

import datetime as dt
import functools
import json
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.server_process import (
    PLAN_BODY,
    Server,
    booking_body,
    concurrently,
    monday_ahead,
    running_server,
    serve_command,
    serve_env,
)
from tests.integration.store_helpers import build_sql_database

import slotcap
from slotcap.ports import SchemaState
from slotcap.usecases import catalogue

RESERVATIONS_PATH = "/api/public/reservations"
AVAILABILITY = RESERVATIONS_PATH + "/availability"
CALENDAR = RESERVATIONS_PATH + "/calendar"
DYNAMIC = {"USE_DYNAMIC_SERVICES": "true"}

pytestmark = pytest.mark.subprocess  # every test runs `slotcap serve`


@pytest.fixture
def db(sql_url: str) -> str:
    """An expanded (phase-1) database of each engine with the default catalogue."""
    build_sql_database(sql_url, SchemaState.EXPANDED)
    return sql_url


def post(server: Server, body: object, **kwargs: Any) -> httpx.Response:
    return httpx.post(server.url(RESERVATIONS_PATH), json=body, timeout=30, **kwargs)


def get(server: Server, path: str, **params: str) -> httpx.Response:
    return httpx.get(server.url(path), params=params, timeout=30)


def morning(server: Server, day: dt.date, service: str = "WRINKLE_BOTOX") -> dict[str, Any]:
    reply = get(server, AVAILABILITY, date=day.isoformat(), service=service)
    assert reply.status_code == 200, reply.text
    periods = {p["period"]: p for p in reply.json()["periods"]}
    assert set(periods) == {"MORNING", "AFTERNOON"}
    return dict(periods["MORNING"])


def test_the_plans_curl_body_books_on_the_legacy_path(db: str, tmp_path: Path) -> None:
    day = monday_ahead()
    with running_server(db, tmp_path) as server:
        before = get(server, AVAILABILITY, date=day.isoformat(), service="WRINKLE_BOTOX")
        assert before.status_code == 200, before.text
        assert before.json() == {
            "date": day.isoformat(), "rule": "legacy", "service": "WRINKLE_BOTOX",
            "available": True, "reason": "AVAILABLE", "daily_count": 0, "daily_limit": 10,
            "remaining": 10,
        }
        reply = post(server, booking_body(day))
        assert reply.status_code == 200, reply.text
        assert reply.headers["access-control-allow-origin"] == "*"
        assert reply.headers["access-control-allow-methods"] == "POST, OPTIONS"
        assert "Content-Type" in reply.headers["access-control-allow-headers"]
        body = reply.json()
        rid = body["reservation"].pop("id")
        assert len(rid) == 36
        assert body == {
            "success": True,
            "reservation": {"status": "PENDING", "preferred_date": day.isoformat(),
                            "preferred_time": "10:00"},
            "message": "예약이 성공적으로 접수되었습니다.",
        }
        after = get(server, AVAILABILITY, date=day.isoformat(), service="WRINKLE_BOTOX")
        assert (after.json()["daily_count"], after.json()["remaining"]) == (1, 9)
        # The legacy path dual-writes: the minutes are visible to the dynamic rule too.
        calendar = get(server, CALENDAR, **{"from": day.isoformat(), "to": day.isoformat()})
        entries = {e["period"]: e for e in calendar.json()["entries"]}
        assert entries["MORNING"]["booked_minutes"] == 40
        # The plan's body verbatim asks for 2025-12-01, now in the past: refused by name.
        stale = post(server, PLAN_BODY)
        assert stale.status_code == 400
        assert stale.json()["error"] == "Invalid date format"
        assert stale.json()["fields"] == ["preferred_date"]
        assert server.stop() == 0
    with slotcap.open_store(db) as store:
        stored = store.get_reservation(rid)
    assert stored is not None and stored.patient_name == "Test Patient"
    assert stored.period is slotcap.Period.MORNING and stored.preferred_time == "10:00"


def test_the_dynamic_path_answers_with_the_period(db: str, tmp_path: Path) -> None:
    day = monday_ahead()
    with running_server(db, tmp_path, env=DYNAMIC) as server:
        before = morning(server, day)
        assert before == {"period": "MORNING", "is_open": True, "capacity_minutes": 180,
                          "booked_minutes": 0, "remaining_minutes": 180, "fits": True,
                          "reason": "AVAILABLE", "requested_minutes": 40,
                          "closed_reason": None}
        reply = post(server, booking_body(day))  # preferred_time 10:00 reads as MORNING
        assert reply.status_code == 200, reply.text
        assert reply.json()["reservation"]["preferred_time"] == "MORNING"
        reply = post(server, booking_body(day, period="AFTERNOON", service="SKIN_CARE"))
        assert reply.json()["reservation"]["preferred_time"] == "AFTERNOON"
        after = get(server, AVAILABILITY, date=day.isoformat(), service="SKIN_CARE").json()
        assert after["rule"] == "dynamic" and after["available"] is True
        periods = {p["period"]: p for p in after["periods"]}
        assert periods["MORNING"]["booked_minutes"] == 40
        assert periods["AFTERNOON"]["booked_minutes"] == 70
        assert periods["AFTERNOON"]["remaining_minutes"] == 170
        # Without a service: both periods, nothing about fitting.
        bare = get(server, AVAILABILITY, date=day.isoformat()).json()
        assert bare["available"] is None and {p["fits"] for p in bare["periods"]} == {None}
        services = get(server, "/api/services").json()["services"]
        assert [s["code"] for s in services][:2] == ["WRINKLE_BOTOX", "VOLUME_LIFTING"]
        assert services[0]["total_minutes"] == 40
        ready = get(server, "/readyz").json()
        assert ready == {"status": "ready", "schema_state": "expanded",
                         "rules": ["legacy", "dynamic"],
                         "rollout": {"enabled": True, "percentage": 0}}
        assert get(server, "/healthz").json() == {"status": "ok"}


def _errors(server: Server, day: dt.date) -> None:
    """Every error a client can cause; none is a 500."""
    missing = post(server, {"patient_name": "x", "phone": "010-1234-5678"})
    assert missing.status_code == 400
    assert missing.json()["error"] == "Missing required fields"
    # The plan's order; the dynamic path needs a period (the legacy one preferred_time).
    assert missing.json()["fields"] == ["birth_date", "gender", "treatment_type", "service",
                                        "preferred_date", "period"]
    assert missing.headers["access-control-allow-origin"] == "*"

    bad_date = post(server, booking_body(day, birth_date="1990-13-01"))
    assert (bad_date.status_code, bad_date.json()["fields"]) == (400, ["birth_date"])
    assert bad_date.json()["error"] == "Invalid date format"
    assert "1990-13-01" not in bad_date.text  # a birth date is never repeated

    values = post(server, booking_body(day, gender="X", phone=12345))
    assert values.status_code == 400
    assert values.json()["error"] == "Invalid field values"
    assert values.json()["fields"] == ["phone", "gender"]
    assert values.json()["details"]["phone"] == "must be text, got a number"

    unknown = post(server, booking_body(day, service="NO_SUCH"))
    assert unknown.status_code == 400 and unknown.json()["fields"] == ["service"]
    assert unknown.json()["error"] == "Invalid service type"
    inactive = post(server, booking_body(day, service="BODY_CARE"))
    assert inactive.status_code == 400
    assert inactive.json()["code"] == "service_inactive"

    for raw, problem in ((b"{", "not valid JSON"), (b"", "empty body"),
                         (b"\xff\xfe\x00", "not valid JSON"),
                         (b"[" * 60_000, "nested too deeply")):
        reply = httpx.post(server.url(RESERVATIONS_PATH), content=raw, timeout=30)
        assert reply.status_code == 400, (raw[:10], reply.text)
        assert reply.json()["fields"] == ["body"] and problem in reply.json()["details"]["body"]
    for value in ([], "text", None, 3, [PLAN_BODY]):
        reply = httpx.post(server.url(RESERVATIONS_PATH), content=json.dumps(value), timeout=30)
        assert reply.status_code == 400 and reply.json()["error"] == "Invalid request body"
    huge = post(server, booking_body(day, notes="가" * 40_000))
    assert huge.status_code == 413 and huge.json()["limit"] == 65536

    def chunks() -> Any:
        for _ in range(100):
            yield b" " * 1024

    streamed = httpx.post(server.url(RESERVATIONS_PATH), content=chunks(), timeout=30)
    assert streamed.status_code == 413  # no Content-Length: counted while reading

    preflight = httpx.options(server.url(RESERVATIONS_PATH), timeout=30, headers={
        "Origin": "https://clinic.example", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-methods"] == "POST, OPTIONS"
    assert preflight.headers["access-control-allow-origin"] == "*"

    for params, field in (({}, "date"), ({"date": "2026-02-30"}, "date"),
                          ({"date": day.isoformat(), "service": "NOPE"}, "service")):
        reply = get(server, AVAILABILITY, **params)
        assert reply.status_code == 400 and reply.json()["fields"] == [field], reply.text
    for params, fields in (({"from": "2026-01-02", "to": "2026-01-01"}, ["to"]),
                           ({"from": "2026-01-01", "to": "2027-06-01"}, ["to"]),
                           ({"to": "x"}, ["from"])):  # missing first; details name both
        reply = get(server, CALENDAR, **params)
        assert reply.status_code == 400 and reply.json()["fields"] == fields, reply.text
    assert set(reply.json()["details"]) == {"from", "to"}


def test_every_error_response(db: str, tmp_path: Path) -> None:
    with slotcap.open_store(db) as store:
        catalogue.deactivate_service(store, "BODY_CARE")
    day = monday_ahead()
    with running_server(db, tmp_path, env=DYNAMIC) as server:
        _errors(server, day)
        assert morning(server, day)["booked_minutes"] == 0  # nothing was written
        # The public catalogue lists only what can be booked.
        listed = {s["code"] for s in get(server, "/api/services").json()["services"]}
        assert "BODY_CARE" not in listed and "SKIN_CARE" in listed
        assert "Traceback" not in server.stderr() and "Test Patient" not in server.stderr()


def _race(server: Server, bodies: list[dict[str, object]]) -> Counter[int]:
    def post(body: dict[str, object]) -> int:
        with httpx.Client(timeout=60) as client:
            return client.post(server.url(RESERVATIONS_PATH), json=body).status_code

    return Counter(concurrently([functools.partial(post, body) for body in bodies]))


def test_a_concurrent_race_for_one_period_never_overbooks(db: str, tmp_path: Path) -> None:
    day = monday_ahead(2)
    with running_server(db, tmp_path, env=DYNAMIC) as server:
        # 180 minutes, 40 each: exactly 4 of 24 fit.
        bodies = [booking_body(day, period="MORNING", phone=f"010-5555-{i:04d}")
                  for i in range(24)]
        assert _race(server, bodies) == Counter({200: 4, 409: 20})
        after = morning(server, day)
        assert (after["booked_minutes"], after["remaining_minutes"], after["fits"]) == \
            (160, 20, False)
        full = post(server, booking_body(day, period="MORNING"))  # a 25th patient
        assert full.status_code == 409
        assert full.json() == {
            "error": "Reservation limit reached", "code": "reservation_full",
            "message": "해당 날짜/시간대의 예약이 마감되었습니다.", "reason": "FULL",
            "unit": "minutes", "remaining": 20, "requested": 40, "capacity": 180,
            "remaining_minutes": 20, "detail": None,
        }


def test_a_concurrent_race_on_the_legacy_count(db: str, tmp_path: Path) -> None:
    day = monday_ahead(3)
    with running_server(db, tmp_path) as server:
        bodies = [booking_body(day, service="OTHER_CONSULTATION", preferred_time="3시")
                  for _ in range(16)]
        assert _race(server, bodies) == Counter({200: 10, 409: 6})
        after = get(server, AVAILABILITY, date=day.isoformat(),
                    service="OTHER_CONSULTATION").json()
        assert (after["daily_count"], after["available"]) == (10, False)
        refused = post(server, booking_body(day, service="OTHER_CONSULTATION",
                                            preferred_time="3시")).json()
        assert (refused["unit"], refused["remaining"], refused["remaining_minutes"]) == \
            ("bookings", 0, None)


def test_the_rollout_is_sticky_per_patient(db: str, tmp_path: Path) -> None:
    day = monday_ahead()
    env = {"DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE": "50"}
    rollout = slotcap.Rollout(percentage=50)
    phones = [f"010-7777-{i:04d}" for i in range(12)]
    seen: set[str] = set()
    with running_server(db, tmp_path, env=env) as server:
        for i, phone in enumerate(phones):
            when = day + dt.timedelta(days=7 * (i // 5) + i % 5)  # room for every booking
            # Two siblings on one phone (another name each: not a duplicate booking).
            shown = {post(server, booking_body(when, phone=phone, service="OTHER_CONSULTATION",
                                               preferred_time="14:30", patient_name=name)
                          ).json()["reservation"]["preferred_time"] for name in ("A", "B")}
            digits = phone.replace("-", "")
            assert shown == {"AFTERNOON" if rollout.uses_dynamic(digits) else "14:30"}
            seen.update(shown)
        assert seen == {"AFTERNOON", "14:30"}  # both rules were exercised
        # An availability check with the web app's session id follows the same buckets.
        for key in ("session-a", "session-b", "session-c", "session-d"):
            reply = httpx.get(server.url(AVAILABILITY), timeout=30,
                              params={"date": day.isoformat(), "service": "SKIN_CARE"},
                              headers={"X-Slotcap-Subject": key})
            assert reply.json()["rule"] == ("dynamic" if rollout.uses_dynamic(key)
                                            else "legacy")


def test_sigterm_lets_the_in_flight_request_finish(sqlite_url: str, tmp_path: Path) -> None:
    build_sql_database(sqlite_url, SchemaState.EXPANDED)
    day = monday_ahead()
    # A generous busy budget: the booking below waits for the test's lock, not 2 s.
    with running_server(sqlite_url, tmp_path, env=DYNAMIC,
                        args=["--busy-budget", "30"]) as server:
        assert post(server, booking_body(day)).status_code == 200  # warm
        blocker = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # the booking below waits for this writer
        result: list[httpx.Response] = []
        request = threading.Thread(
            target=lambda: result.append(post(server, booking_body(day, phone="010-9999-0000"))))
        request.start()
        time.sleep(1.5)  # the request is in flight, waiting for the lock
        assert not result
        server.process.send_signal(15)
        time.sleep(0.5)
        with pytest.raises(httpx.ConnectError):  # no new connection is accepted
            httpx.get(server.url("/healthz"), timeout=5)
        assert server.process.poll() is None  # still finishing the booking
        blocker.execute("COMMIT")
        blocker.close()
        request.join(timeout=30)
        assert result and result[0].status_code == 200, result
        assert server.process.wait(timeout=30) == 0
        assert "stopped; in-flight requests finished" in server.stderr()
    assert morning_minutes(sqlite_url, day) == 80


def morning_minutes(url: str, day: dt.date) -> int:
    with slotcap.open_store(url) as store:
        entries = slotcap.availability_calendar(store, day, day)
    return next(e.booked for e in entries if e.period is slotcap.Period.MORNING)


def _serve_fails(url: str | None, *args: str, python: list[str] | None = None,
                 env: dict[str, str] | None = None) -> tuple[int, str]:
    import subprocess

    command = serve_command(url, "--port", "0", *args)
    if python is not None:
        command = [command[0], *python, *command[3:]]
    done = subprocess.run(command, capture_output=True, text=True, env=serve_env(env),
                          timeout=60, check=False)
    assert done.stdout == ""
    return done.returncode, done.stderr


def test_start_up_problems_are_one_line_and_exit_2(tmp_path: Path) -> None:
    code, err = _serve_fails("postgresql://clinic:s3cret@127.0.0.1:1/x?connect_timeout=2")
    assert code == 2 and err.startswith("slotcap: error [configuration]: cannot connect")
    assert "s3cret" not in err and len(err.strip().splitlines()) == 1
    code, err = _serve_fails(f"sqlite:///{tmp_path / 'absent.db'}")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    code, err = _serve_fails(None)
    assert code == 2 and "SLOTCAP_DATABASE_URL" in err
    not_a_db = tmp_path / "not.db"
    not_a_db.write_bytes(b"this is not a database" * 100)
    code, err = _serve_fails(f"sqlite:///{not_a_db}")
    assert code == 2 and "cannot open the database" in err and len(err.splitlines()) == 1
    # The extra missing: uvicorn cannot be imported.
    hide = ["-c", "import sys; sys.modules['uvicorn'] = None; from slotcap.cli.main import "
            "main; sys.exit(main(sys.argv[1:]))"]
    code, err = _serve_fails("sqlite:///x.db", python=hide)
    assert code == 2
    assert err.strip() == ("slotcap: error [configuration]: slotcap serve needs the server "
                           "extra (uvicorn is not installed): pip install 'slotcap[server]'")


def test_a_taken_port_is_one_line_and_exit_2(sqlite_url: str, tmp_path: Path) -> None:
    build_sql_database(sqlite_url, SchemaState.EXPANDED)
    with running_server(sqlite_url, tmp_path) as server:
        import subprocess

        done = subprocess.run(
            serve_command(sqlite_url, "--port", str(server.info["port"])),
            capture_output=True, text=True, env=serve_env(), timeout=60, check=False)
        assert done.returncode == 2
        assert done.stderr.startswith("slotcap: error [configuration]: cannot listen on "
                                      f"127.0.0.1:{server.info['port']}")


def _counters(server: Server) -> dict[tuple[str, str, str], float]:
    from tests.e2e.server_process import parse_prometheus

    reply = httpx.get(server.url("/metrics"), timeout=30)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    counted = {}
    for (name, labels), value in parse_prometheus(reply.text).items():
        if name == "slotcap_http_requests_total" and value:
            label = dict(labels)
            counted[(label["endpoint"], label["rule_path"], label["outcome"])] = value
    return counted


def test_metrics_and_the_operator_page_count_what_was_sent(db: str, tmp_path: Path) -> None:
    day = monday_ahead()
    with running_server(db, tmp_path, env=DYNAMIC) as server:
        assert _counters(server) == {}
        statuses = [post(server, booking_body(day, period="MORNING")).status_code
                    for _ in range(6)]  # 4 fit in 180 minutes
        assert statuses == [200, 200, 200, 200, 409, 409]
        assert post(server, booking_body(day, gender="X")).status_code == 400
        assert post(server, booking_body(day, service="NOPE")).status_code == 400
        bad = httpx.post(server.url(RESERVATIONS_PATH), content=b"{", timeout=30)
        assert bad.status_code == 400
        assert post(server, booking_body(day, notes="x" * 70_000)).status_code == 413
        assert httpx.options(server.url(RESERVATIONS_PATH), timeout=30).status_code == 204
        for _ in range(3):
            assert get(server, AVAILABILITY, date=day.isoformat()).status_code == 200
        assert get(server, AVAILABILITY).status_code == 400
        assert get(server, CALENDAR, **{"from": day.isoformat(),
                                        "to": day.isoformat()}).status_code == 200
        assert get(server, "/api/services").status_code == 200
        assert get(server, "/healthz").status_code == 200  # not an API request: not counted
        assert _counters(server) == {
            (RESERVATIONS_PATH, "dynamic", "created"): 4,
            (RESERVATIONS_PATH, "dynamic", "full"): 2,
            (RESERVATIONS_PATH, "dynamic", "invalid"): 2,
            (RESERVATIONS_PATH, "none", "invalid"): 2,
            (RESERVATIONS_PATH, "none", "ok"): 1,
            (AVAILABILITY, "dynamic", "ok"): 3,
            (AVAILABILITY, "none", "invalid"): 1,
            (CALENDAR, "none", "ok"): 1,
            ("/api/services", "none", "ok"): 1,
        }
        page = httpx.get(server.url("/"), timeout=30)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        for path, outcome, count in (("dynamic", "created", 4), ("dynamic", "full", 2),
                                     ("none", "invalid", 3)):
            assert f'data-path="{path}" data-outcome="{outcome}">{count}<' in page.text


def test_keep_alive_answers_are_not_held_back_by_nagle(sqlite_url: str, tmp_path: Path) -> None:
    # Without TCP_NODELAY on the accepted connections every answer on a kept-alive
    # connection waited for the client's delayed ACK: ~40 ms each, even for /healthz.
    build_sql_database(sqlite_url, SchemaState.EXPANDED)
    with running_server(sqlite_url, tmp_path) as server, httpx.Client(timeout=30) as client:
        took = []
        for _ in range(15):
            began = time.perf_counter()
            assert client.get(server.url("/healthz")).status_code == 200
            took.append(time.perf_counter() - began)
        assert sorted(took)[len(took) // 2] < 0.035, took


def test_readyz_follows_the_database(pg_url: str, tmp_path: Path) -> None:
    import psycopg
    from tests.conftest import PG_URL

    build_sql_database(pg_url, SchemaState.EXPANDED)
    name = pg_url.rpartition("/")[2]
    with running_server(pg_url, tmp_path) as server:
        assert get(server, "/readyz").json()["status"] == "ready"
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %s", (name,))
            down = get(server, "/readyz")
            assert down.status_code == 503 and down.json()["status"] == "unavailable"
            assert down.headers["retry-after"]
            assert get(server, "/healthz").status_code == 200  # the process is fine
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        assert get(server, "/readyz").json()["status"] == "ready"
        day = monday_ahead()
        assert post(server, booking_body(day)).status_code == 200  # and books again


def test_a_bad_rollout_variable_is_exit_2(sqlite_url: str) -> None:
    build_sql_database(sqlite_url, SchemaState.EXPANDED)
    code, err = _serve_fails(sqlite_url, env={"DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE": "half"})
    assert code == 2 and "DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE" in err


def test_a_busy_store_is_503_with_retry_after(sqlite_url: str, tmp_path: Path) -> None:
    build_sql_database(sqlite_url, SchemaState.EXPANDED)
    day = monday_ahead()
    with running_server(sqlite_url, tmp_path, env=DYNAMIC,
                        args=["--busy-budget", "0.5"]) as server:
        blocker = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database
        try:
            busy = post(server, booking_body(day))
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert busy.status_code == 503, busy.text
        assert busy.headers["retry-after"] == "1"
        assert busy.json()["code"] == "store_busy"
        assert post(server, booking_body(day)).status_code == 200  # and then it books
        assert _counters(server)[(RESERVATIONS_PATH, "dynamic", "busy")] == 1


def test_a_closed_date_is_refused_with_its_reason(db: str, tmp_path: Path) -> None:
    """A holiday added while the server runs: the booking is a 409 CLOSED carrying the
    closure's reason; availability and the calendar show the date closed with it."""
    from slotcap.usecases import closures

    day = monday_ahead()
    with running_server(db, tmp_path, env=DYNAMIC) as server:
        assert post(server, booking_body(day, period="MORNING")).status_code == 200
        with slotcap.open_store(db) as store:
            closures.add_closure(store, start_date=day, reason="설날")
        refused = post(server, booking_body(day, period="AFTERNOON"))
        assert refused.status_code == 409, refused.text
        assert refused.json()["reason"] == "CLOSED" and refused.json()["detail"] == "설날"
        time.sleep(1.1)  # an availability check reads closures at most a second old
        periods = get(server, AVAILABILITY, date=day.isoformat(),
                      service="WRINKLE_BOTOX").json()["periods"]
        assert {(p["period"], p["fits"], p["reason"], p["closed_reason"]) for p in periods} == {
            ("MORNING", False, "CLOSED", "설날"), ("AFTERNOON", False, "CLOSED", "설날")}
        after = day + dt.timedelta(days=1)
        entries = get(server, CALENDAR, **{"from": day.isoformat(),
                                           "to": after.isoformat()}).json()["entries"]
        assert {(e["date"], e["closed_reason"]) for e in entries} == {
            (day.isoformat(), "설날"), (after.isoformat(), None)}
        # The morning booking made before the closure is still held (never cancelled).
        assert next(p for p in periods if p["period"] == "MORNING")["booked_minutes"] > 0
