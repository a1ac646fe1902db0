"""The web team's typed HTTP client (clients/typescript/).

* The committed OpenAPI document and openapi-typescript's types of it are exactly what
  ``scripts/gen-ts-client`` makes from the server's document today: any change to the
  API fails here until they are regenerated (the message says how).
* ``tsc`` (strict) type-checks the typed example of the booking and availability calls
  against the generated types — 200, 400, 409, 503, and 429 through the generic error
  schema until the document declares it — and its output then runs against a real
  ``slotcap serve``, whose answers must have the shapes the types promise.

Without Node or ``npm ci --prefix clients/typescript`` the tests skip loudly (fail in CI).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import missing
from tests.e2e.server_process import monday_ahead, running_server
from tests.integration.store_helpers import build_sql_database

from slotcap.ports import SchemaState

#: Node (openapi-typescript, tsc, the compiled example) against a real server.
pytestmark = pytest.mark.node

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "typescript"
GENERATED = ("openapi.json", "src/slotcap-api.d.ts")
FIX = "scripts/gen-ts-client (then commit clients/typescript/)"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        missing("TYPESCRIPT CLIENT TESTS", "node is not on PATH")
    for package in ("typescript", "openapi-typescript", "@types/node"):
        if not (CLIENT / "node_modules" / package / "package.json").is_file():
            missing("TYPESCRIPT CLIENT TESTS", f"{package} is not installed: npm ci "
                    "--prefix clients/typescript")
    return node


def test_the_committed_types_are_the_servers(tmp_path: Path) -> None:
    _node()
    result = subprocess.run([str(ROOT / "scripts" / "gen-ts-client"), str(tmp_path)],
                            env={**os.environ, "SLOTCAP_PYTHON": sys.executable},
                            capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr
    for name in GENERATED:
        fresh = (tmp_path / name).read_text(encoding="utf-8")
        committed = (CLIENT / name).read_text(encoding="utf-8")
        assert fresh == committed, (
            f"clients/typescript/{name} differs from the server's OpenAPI document: run {FIX}")


def test_the_typed_example_compiles_and_reads_a_real_server(sqlite_url: str,
                                                            tmp_path: Path) -> None:
    node = _node()
    out = tmp_path / "dist"
    tsc = subprocess.run([node, str(CLIENT / "node_modules" / "typescript" / "bin" / "tsc"),
                          "-p", str(CLIENT), "--outDir", str(out)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert tsc.returncode == 0, tsc.stdout + tsc.stderr
    build_sql_database(sqlite_url, SchemaState.EXPANDED)
    day = monday_ahead().isoformat()
    with running_server(sqlite_url, tmp_path / "serve",
                        env={"USE_DYNAMIC_SERVICES": "true",
                             "DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE": "100"}) as server:
        run = subprocess.run([node, str(out / "example.js"), server.base_url, day],
                             capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["first"]["status"] == 200 and seen["open"] == ["MORNING", "AFTERNOON"]
    assert seen["booked"]["kind"] == "booked"
    assert seen["booked"]["reservation"]["preferred_date"] == day
    assert seen["invalid"]["kind"] == "invalid" and "preferred_date" in seen["invalid"]["fields"]
    # SKIN_CARE holds 70 of a Monday morning's 180 minutes: one more fits, then 409s.
    kinds = [o["kind"] for o in seen["outcomes"]]
    assert kinds == ["booked", "full", "full", "full", "full"], seen["outcomes"]
    assert seen["outcomes"][1] == {"kind": "full", "code": "reservation_full", "reason": "FULL",
                                   "unit": "minutes", "remaining": 40}
