"""Prisma 7's real client against PostgreSQL while slotcap migrates it.

tests/prisma/client/ pins Prisma 7 (``prisma``, ``@prisma/client``,
``@prisma/adapter-pg``). Three clients are generated once per session with
``prisma generate`` on its bundled WebAssembly engines (``PRISMA_SCHEMA_ENGINE_BINARY``
names any file, so nothing is downloaded): the legacy application's (tests/prisma/
client/legacy.prisma), and the phase-2 and phase-4 ones from ``slotcap prisma-schema
--output … --config-out …`` (the generated prisma.config.ts is what ``generate``
loads). tests/prisma/client/app.js makes the application's calls through
``@prisma/adapter-pg``.

One database, whose ``TimeZone`` is Asia/Seoul (Prisma writes ``createdAt`` in UTC:
docs/prisma.md, "Time stamps"), is walked through the phases in order; each test asks
for a step and the walk runs every step up to it once, so any test also runs alone.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import missing, postgres_database
from tests.integration.migration_helpers import seed_legacy

from slotcap import Period, check_availability, open_store
from slotcap.cli.main import main as slotcap_main
from slotcap.migration import migrate, rollback, validate
from slotcap.migration.backfill import run_backfill
from slotcap.migration.review import export_review, import_review
from slotcap.schema.legacy import create_legacy_schema
from slotcap.sql import SqlConnection, open_sql

pytestmark = [pytest.mark.postgres, pytest.mark.node, pytest.mark.slow]

CLIENT = Path(__file__).resolve().parents[1] / "prisma" / "client"
GEN = CLIENT / ".gen"
PRISMA = CLIENT / "node_modules" / "prisma" / "build" / "index.js"
NEEDED = ("prisma", "@prisma/client", "@prisma/adapter-pg", "pg", "typescript")
DOC = Path(__file__).resolve().parents[2] / "docs" / "prisma.md"
MONDAY, TUESDAY, WEDNESDAY = "2026-03-02", "2026-03-03", "2026-03-04"
STEPS = ("legacy", "phase1", "backfill", "phase2", "phase4", "rollback")
NEW = ("serviceId", "serviceName", "estimatedDuration", "period")


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        missing("PRISMA CLIENT TESTS", "node is not on PATH (Node.js 20+ runs Prisma 7)")
    for name in NEEDED:
        if not (CLIENT / "node_modules" / name / "package.json").is_file():
            missing("PRISMA CLIENT TESTS", f"{name} is not installed: npm ci --prefix "
                    "tests/prisma/client")
    return node


def _env(url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if url is not None:
        env["DATABASE_URL"] = url
    return {**env, "CHECKPOINT_DISABLE": "1", "PRISMA_HIDE_UPDATE_MESSAGE": "1",
            # Any existing file: generate then needs no schema-engine binary download.
            "PRISMA_SCHEMA_ENGINE_BINARY": sys.executable}


def _generate(node: str) -> None:
    """The three clients, generated side by side (one `prisma generate` each), without
    a DATABASE_URL: a build that has no database must be able to generate."""
    shutil.rmtree(GEN, ignore_errors=True)
    GEN.mkdir()
    shutil.copy(CLIENT / "legacy.prisma", GEN / "legacy.prisma")
    commands = [[node, str(PRISMA), "generate", "--schema", str(GEN / "legacy.prisma")]]
    for phase in ("phase2", "phase4"):
        schema, config = GEN / f"{phase}.prisma", GEN / f"{phase}.config.ts"
        assert slotcap_main(["prisma-schema", "--phase", phase, "--output", str(schema),
                             "--config-out", str(config)]) == 0
        text = schema.read_text(encoding="utf-8")
        # One project, three clients: each goes to its own folder (the only edit).
        generator = '  provider = "prisma-client-js"\n'
        schema.write_text(text.replace(generator, f'{generator}  output   = "./{phase}"\n', 1),
                          encoding="utf-8")
        commands.append([node, str(PRISMA), "generate", "--config", str(config)])
    running = [subprocess.Popen(c, cwd=CLIENT, env=_env(None), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for c in commands]
    for command, process in zip(commands, running, strict=True):
        out, _ = process.communicate(timeout=300)
        assert process.returncode == 0, f"{' '.join(command[2:])}:\n{out}"
        assert "Generated Prisma Client (v7." in out, out
        if "--config" in command:  # the prisma.config.ts slotcap wrote was the one loaded
            config = Path(command[-1]).relative_to(CLIENT)
            assert f"Loaded Prisma config from {config}." in out, out


class Walk:
    """The database, the clients, and what each step saw."""

    def __init__(self, node: str, url: str) -> None:
        self.node, self.url = node, url
        self.done: dict[str, dict[str, Any]] = {}
        self.steps: dict[str, Callable[[], dict[str, Any]]] = {
            "legacy": self._legacy, "phase1": self._phase1, "backfill": self._backfill,
            "phase2": self._phase2, "phase4": self._phase4, "rollback": self._rollback,
        }

    def at(self, step: str) -> dict[str, Any]:
        for name in STEPS[: STEPS.index(step) + 1]:
            if name not in self.done:
                self.done[name] = self.steps[name]()
        return self.done[step]

    def app(self, *ops: tuple[str, str, dict[str, Any]]) -> list[dict[str, Any]]:
        payload = json.dumps([{"client": c, "op": o, "args": a} for c, o, a in ops])
        result = subprocess.run([self.node, str(CLIENT / "app.js")], input=payload, cwd=CLIENT,
                                env=_env(self.url), capture_output=True, text=True,
                                timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        answers: list[dict[str, Any]] = json.loads(result.stdout)
        return answers

    def row(self, rid: str) -> dict[str, Any]:
        """The row's new columns, as slotcap filled them (from phase 1 on)."""
        with open_sql(self.url) as conn:
            values = conn.execute(
                'SELECT "serviceId", "serviceName", "estimatedDuration", CAST("period" AS TEXT) '
                'FROM "reservations" WHERE "id" = %s', (rid,))[0]
        return dict(zip(NEW, values, strict=True))

    def created_at(self, rid: str) -> Any:
        with open_sql(self.url) as conn:
            return conn.scalar('SELECT "createdAt" FROM "reservations" WHERE "id" = %s', (rid,))

    def remaining(self, day: str, period: Period) -> int | None:
        with open_store(self.url) as store:
            decision = check_availability(store, dt.date.fromisoformat(day), "SKIN_CARE",
                                          period=period, dynamic=True)
        return decision.remaining

    @staticmethod
    def create(rid: str, time: str, day: str = MONDAY) -> tuple[str, str, dict[str, Any]]:
        return ("legacy", "create", {"id": rid, "day": day, "time": time, "service": "SKIN_CARE"})

    @staticmethod
    def held(client: str = "legacy") -> tuple[str, str, dict[str, Any]]:
        return (client, "held", {"day": MONDAY, "service": "SKIN_CARE"})

    @staticmethod
    def book(client: str, rid: str, day: str, period: str,
             time: str = "10:00") -> tuple[str, str, dict[str, Any]]:
        return (client, "book", {"id": rid, "day": day, "period": period, "time": time,
                                 "service": "SKIN_CARE"})

    # -- the steps ---------------------------------------------------------------------

    def _legacy(self) -> dict[str, Any]:
        created, held = self.app(self.create("L1", "10:00"), self.held())
        return {"created": created, "held": held, "createdAt": self.created_at("L1"),
                "utc_now": dt.datetime.now(dt.UTC).replace(tzinfo=None)}

    def _phase1(self) -> dict[str, Any]:
        report = migrate(self.url, to="phase1")
        created, held = self.app(self.create("L2", "오후 2시"), self.held())
        return {"report": report, "created": created, "held": held}

    def _backfill(self) -> dict[str, Any]:
        (created,) = self.app(self.create("L3", "10시나 3시"))  # the parser will not choose
        with open_sql(self.url) as conn:
            run_backfill(conn)
            pending = self._review(conn, {"L3": "AFTERNOON"})
        after, held = self.app(self.create("L4", "15:00"), self.held())
        return {"created": created, "pending": pending, "after": after, "held": held,
                "rows": {r: self.row(r) for r in ("L1", "L2", "L3", "L4")}}

    def _review(self, conn: SqlConnection, periods: dict[str, str]) -> list[str]:
        import csv

        path = GEN / "review.csv"
        export_review(conn, path)
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
        for row in rows:
            row["period"] = periods.get(row["id"], "")
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        import_review(conn, path)
        return [r["id"] for r in rows]

    def _dual_write(self) -> dict[str, Any]:
        with open_sql(self.url) as conn:
            return next(c for c in validate(conn).checks
                        if c.name == "dual_write_since_phase2").detail

    def _phase2(self) -> dict[str, Any]:
        report = migrate(self.url, to="phase2")
        L4 = self.row("L4")
        late, held = self.app(self.create("L5", "16:00"), self.held())
        gap = self._dual_write()
        catch_up = migrate(self.url, to="phase2")
        closed_gap = self._dual_write()
        # (Before the catch-up slotcap held L5, period unknown, in both periods; the
        # phase-2 client's per-period sum cannot see it: docs/prisma.md.)
        before = self.remaining(MONDAY, Period.MORNING)
        booked, full, read = self.app(self.book("phase2", "B1", MONDAY, "MORNING"),
                                      self.book("phase2", "B_full", MONDAY, "AFTERNOON"),
                                      ("phase2", "read", {"id": "B1"}))
        after = self.remaining(MONDAY, Period.MORNING)
        return {"report": report, "L4": L4, "late": late, "held": held, "gap": gap,
                "booked": booked, "full": full, "read": read, "before": before,
                "after": after, "catch_up": catch_up, "L5": self.row("L5"),
                "closed_gap": closed_gap}

    def _phase4(self) -> dict[str, Any]:
        report = migrate(self.url, to="phase4", confirm=True)
        booked, read, legacy_create, legacy_held, phase2_read = self.app(
            self.book("phase4", "B2", TUESDAY, "AFTERNOON", "14:00"),
            ("phase4", "read", {"id": "B1"}), self.create("L6", "10:00"), self.held(),
            ("phase2", "read", {"id": "B1"}))
        return {"report": report, "booked": booked, "read": read,
                "legacy_create": legacy_create, "legacy_held": legacy_held,
                "phase2_read": phase2_read}

    def _rollback(self) -> dict[str, Any]:
        report = rollback(self.url, to="phase2")
        created, held, booked, read = self.app(
            self.create("L7", "11:00"), self.held(),
            self.book("phase2", "B3", WEDNESDAY, "MORNING"), ("phase2", "read", {"id": "B2"}))
        return {"report": report, "created": created, "held": held, "booked": booked,
                "read": read}


@pytest.fixture(scope="module")
def clients() -> Iterator[tuple[str, str]]:
    """(node, url): the clients generated, the database made (not yet walked)."""
    node = _node()
    with postgres_database("prisma_client") as url:
        with open_sql(url) as conn:
            name = conn.scalar("SELECT current_database()")
            # ALTER DATABASE takes no bound value: the name is quoted, the zone a constant.
            conn.execute(f"ALTER DATABASE \"{name}\" SET \"TimeZone\" TO 'Asia/Seoul'")
        with open_sql(url) as conn:
            create_legacy_schema(conn)
            seed_legacy(conn, 20)
        _generate(node)
        yield node, url


@pytest.fixture(scope="module")
def walk(clients: tuple[str, str]) -> Walk:
    return Walk(*clients)


def test_the_docs_booking_type_checks_against_the_phase2_client(
        clients: tuple[str, str]) -> None:
    """docs/prisma.md's booking is tests/prisma/client/booking.ts, and ``tsc`` (strict)
    accepts it against the client generated from the phase-2 schema — and the
    prisma.config.ts files slotcap wrote against Prisma's own config types."""
    node, _url = clients
    doc = DOC.read_text(encoding="utf-8").split("const HELD", 1)[1].split("```", 1)[0].rstrip()
    code = (CLIENT / "booking.ts").read_text(encoding="utf-8").split("const HELD", 1)[1]
    lines = [line.strip() for line in code.splitlines()]
    assert len(doc.splitlines()) > 20
    assert [line.strip() for line in doc.splitlines()] == lines[: len(doc.splitlines())]
    tsc = subprocess.run([node, str(CLIENT / "node_modules" / "typescript" / "bin" / "tsc"),
                          "-p", str(CLIENT)], capture_output=True, text=True, timeout=300,
                         check=False, cwd=CLIENT)
    assert tsc.returncode == 0, tsc.stdout + tsc.stderr


def _ok(answer: dict[str, Any]) -> Any:
    assert "ok" in answer, answer
    return answer["ok"]


def test_legacy_client_at_legacy_writes_createdAt_in_utc(walk: Walk) -> None:
    seen = walk.at("legacy")
    assert _ok(seen["created"])["service"] == "SKIN_CARE"
    assert _ok(seen["held"]) == {"count": 1, "dailyLimit": 7}
    # On this Asia/Seoul database a column default would store local time (+9 h).
    assert abs(seen["createdAt"] - seen["utc_now"]) < dt.timedelta(minutes=10)


def test_legacy_client_at_phase1(walk: Walk) -> None:
    seen = walk.at("phase1")
    assert seen["report"].ok, seen["report"].message
    assert _ok(seen["created"])["preferredTime"] == "오후 2시"
    assert _ok(seen["held"])["count"] == 2


def test_legacy_client_after_backfill_and_review(walk: Walk) -> None:
    seen = walk.at("backfill")
    assert seen["pending"] == ["L3"]
    rows = seen["rows"]
    assert [rows[r]["period"] for r in ("L1", "L2", "L3")] == ["MORNING", "AFTERNOON",
                                                                "AFTERNOON"]
    for rid in ("L1", "L2", "L3"):  # the backfill filled the legacy client's rows
        assert rows[rid]["serviceId"] == "srv_skin_care"
        assert rows[rid]["estimatedDuration"] == 70
    assert all(rows["L4"][c] is None for c in NEW)  # written after it: phase 2's catch-up
    assert _ok(seen["after"])["id"] == "L4"
    assert _ok(seen["held"])["count"] == 4


def test_phase2_legacy_rows_filled_and_gap_seen_on_a_seoul_database(walk: Walk) -> None:
    seen = walk.at("phase2")
    assert seen["report"].ok, seen["report"].message
    assert seen["L4"]["serviceId"] == "srv_skin_care" and seen["L4"]["period"] == "AFTERNOON"
    assert _ok(seen["late"])["id"] == "L5"
    assert _ok(seen["held"])["count"] == 5
    # L5 came from a client that does not dual-write, an hour of Seoul after phase 2:
    # the dual-write check sees it (it did not when its window was local time).
    assert seen["gap"]["old_without_new"] == 1, seen["gap"]
    assert seen["catch_up"].ok and seen["L5"]["period"] == "AFTERNOON"
    assert seen["closed_gap"]["old_without_new"] == 0


def test_phase2_client_books_through_the_new_relation(walk: Walk) -> None:
    seen = walk.at("phase2")
    booked = _ok(seen["booked"])
    reservation = booked["reservation"]
    assert reservation["serviceRelation"]["code"] == "SKIN_CARE"
    assert (reservation["service"], reservation["preferredTime"]) == ("SKIN_CARE", "10:00")
    assert (reservation["period"], reservation["estimatedDuration"]) == ("MORNING", 70)
    # Prisma's check and slotcap's agree: L1 held 70 of Monday morning's 180 minutes.
    assert (booked["bookedBefore"], booked["capacity"]) == (70, 180)
    assert (seen["before"], seen["after"]) == (110, 40)
    # Monday afternoon holds L2, L3, L4 and L5 (280 of 240): the legacy rows count.
    assert _ok(seen["full"]) == {"refused": "FULL", "booked": 280, "capacity": 240}
    assert _ok(seen["read"])["serviceRelation"]["id"] == "srv_skin_care"


def test_phase4_client_works_and_legacy_client_fails_clearly(walk: Walk) -> None:
    seen = walk.at("phase4")
    assert seen["report"].ok, seen["report"].message
    booked = _ok(seen["booked"])["reservation"]
    assert booked["service"]["code"] == "SKIN_CARE" and "preferredTime" not in booked
    assert _ok(seen["read"])["service"]["id"] == "srv_skin_care"
    for failed, column in ((seen["legacy_create"], "preferredTime"),
                           (seen["legacy_held"], "service"),
                           (seen["phase2_read"], "preferredTime")):
        assert failed["error"]["code"] == "P2022", failed
        assert column in failed["error"]["message"], failed


def test_both_clients_work_again_after_the_rollback_to_phase2(walk: Walk) -> None:
    seen = walk.at("rollback")
    assert seen["report"].ok, seen["report"].message
    assert _ok(seen["created"])["id"] == "L7"
    assert _ok(seen["held"])["count"] == 7  # L1-L5, B1 (phase 2) and L7
    assert _ok(seen["booked"])["reservation"]["serviceRelation"]["code"] == "SKIN_CARE"
    restored = _ok(seen["read"])  # B2, booked by the phase-4 client
    assert restored["service"] == "SKIN_CARE" and restored["preferredTime"]
