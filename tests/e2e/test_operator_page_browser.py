"""The operator page in a real browser: ``slotcap serve`` as a subprocess on a SQLite
database with bookings, and Debian's headless Chromium reading ``/`` — the DOM it
builds (phase, rollout, heat map, outcomes, an admin's markup shown as text) and a
phone-sized screenshot. ``SLOTCAP_UPDATE_SCREENSHOT=1`` also writes that screenshot to
docs/operator-page.png."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import httpx
import pytest
from tests.conftest import missing
from tests.e2e.server_process import booking_body, monday_ahead, running_server
from tests.integration.store_helpers import build_sql_database

import slotcap
from slotcap.ports import SchemaState
from slotcap.usecases import catalogue

DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "operator-page.png"
PHONE = (390, 844)

pytestmark = pytest.mark.browser


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        missing("CHROMIUM", "the operator page's browser test needs Debian's chromium "
                "(apt-get install -y chromium; .ci/run installs it)")
    return found


def browse(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile}", *extra, url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


@pytest.fixture
def db(sqlite_url: str) -> str:
    build_sql_database(sqlite_url, SchemaState.EXPANDED)
    with slotcap.open_store(sqlite_url) as store:
        catalogue.update_service(store, "BODY_CARE", name="<b>바디</b> & care")
    return sqlite_url


def test_the_page_in_a_headless_browser(db: str, tmp_path: Path) -> None:
    chromium()  # before starting anything
    monday = monday_ahead()
    env = {"DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE": "25"}
    with running_server(db, tmp_path / "server", env=env) as server:
        api = server.url("/api/public/reservations")
        created = requests = 0
        for i in range(12):  # 12 × 40 of a Monday morning's 180 minutes: some are full
            # Sessions 7 and 10 fall in the 25 % (dynamic); the afternoon has room for them.
            afternoon = ({"period": "AFTERNOON", "preferred_time": "15:00"}
                         if i in (2, 7, 10) else {})
            body = booking_body(monday, **{"period": "MORNING", **afternoon},
                                patient_name=f"p{i}")
            reply = httpx.post(api, json=body, timeout=30,
                               headers={"X-Slotcap-Subject": f"session-{i}"})
            assert reply.status_code in (200, 201, 409), reply.text
            created += reply.status_code != 409
            requests += 1
        assert httpx.post(api, json={"patient_name": "x"}, timeout=30).status_code == 400
        requests += 1

        dom = browse(server.url("/"), tmp_path / "profile", "--dump-dom").stdout
        shot = tmp_path / "page.png"
        browse(server.url("/"), tmp_path / "profile2", f"--screenshot={shot}",
               f"--window-size={PHONE[0]},{PHONE[1]}", "--hide-scrollbars")
        metrics = httpx.get(server.url("/metrics"), timeout=30).text

    # What the browser built: the page's parts, from the live database.
    assert 'id="phase">phase1<' in dom
    assert 'id="schema-state">expanded<' in dom
    assert 'id="share">25%<' in dom
    assert re.search(r'id="status">(healthy|look at this)', dom)
    cells = re.findall(r'data-day="([\d-]+)" data-period="(\w+)" data-remaining="(\d+)"', dom)
    assert len(cells) == 70
    left = {(d, p): int(r) for d, p, r in cells}
    assert left[(monday.isoformat(), "MORNING")] < 180  # today's bookings are in the map
    assert "&lt;b&gt;바디&lt;/b&gt; &amp; care" in dom and "<b>바디</b>" not in dom
    assert "<script" not in dom
    outcomes = {(p, o): int(n) for p, o, n in re.findall(
        r'data-path="(\w+)" data-outcome="(\w+)">(\d+)<', dom)}
    assert sum(n for (p, o), n in outcomes.items() if o == "created") == created
    assert sum(outcomes.values()) == requests  # every API request before the page
    served = {k: int(v) for k, v in re.findall(r'id="served-(\w+)">(\d+)<', dom)}
    assert served["dynamic"] + served["legacy"] == created
    assert served["dynamic"] == outcomes[("dynamic", "created")] == 2
    # The screenshot is phone-sized.
    assert png_size(shot) == PHONE
    if os.environ.get("SLOTCAP_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, DOCS_SCREENSHOT)
    # And /metrics agrees.
    assert "slotcap_http_requests_total{" in metrics
    assert 'slotcap_schema_phase{phase="expanded"} 1.0' in metrics
    assert "slotcap_rollout_percentage 25.0" in metrics
