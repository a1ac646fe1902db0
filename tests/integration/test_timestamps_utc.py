"""One convention for zone-less time stamps: UTC, as Prisma writes ``createdAt``.

Prisma fills ``createdAt @default(now())`` itself, in UTC, into a ``TIMESTAMP(3)``
without zone; a ``CURRENT_TIMESTAMP`` column default stores the session's local time
instead. On a database whose ``TimeZone`` is Asia/Seoul the two are nine hours apart,
so every "since" slotcap compares with ``createdAt`` must be a UTC instant, and what
slotcap writes itself (the seeded catalogue, the migration record) must be UTC too.
Each test runs on databases whose ``TimeZone`` is UTC, Asia/Seoul and
America/New_York (a zone behind UTC, where a local stamp is the earlier one).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from tests.conftest import postgres_database
from tests.integration.migration_helpers import LEGACY_INSERT, seed_legacy

from slotcap import open_store
from slotcap.domain.clock import db_timestamp
from slotcap.domain.rollout import Rollout
from slotcap.migration import migrate, validate
from slotcap.schema.legacy import create_legacy_schema
from slotcap.sql import open_sql
from slotcap.usecases.monitor import rollout_monitor

pytestmark = pytest.mark.postgres

ZONES = ("UTC", "Asia/Seoul", "America/New_York")
#: What Prisma's client sends for a reservation: every column, createdAt in UTC.
PRISMA_INSERT = LEGACY_INSERT.replace('"updatedAt")', '"updatedAt","createdAt")').replace(
    "CURRENT_TIMESTAMP)", "%s,%s)")


@pytest.fixture(scope="module", params=ZONES)
def zoned_phase2(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """A legacy database whose TimeZone is the zone, taken to phase 2 by slotcap (one per
    zone; the tests add rows with their own ids and compare counts before and after)."""
    zone: str = request.param
    with postgres_database("tz") as url:
        with open_sql(url) as conn:
            name = conn.scalar("SELECT current_database()")
            # ALTER DATABASE takes no bound value: the name is quoted, the zone a constant.
            conn.execute(f"ALTER DATABASE \"{name}\" SET \"TimeZone\" TO '{zone}'")
        with open_sql(url) as conn:
            assert conn.scalar("SELECT current_setting('TimeZone')") == zone
            create_legacy_schema(conn)
            seed_legacy(conn, 12)
        assert migrate(url, to="phase2").ok
        yield url, zone


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _dual_write(url: str) -> dict[str, object]:
    with open_sql(url) as conn:
        check = next(c for c in validate(conn).checks if c.name == "dual_write_since_phase2")
    return check.detail


def _gaps(url: str) -> int:
    value = _dual_write(url)["old_without_new"]
    assert isinstance(value, int)
    return value


def test_what_slotcap_writes_is_utc(zoned_phase2: tuple[str, str]) -> None:
    url, _zone = zoned_phase2
    now = db_timestamp(_utc_now())
    with open_sql(url) as conn:
        stamps = {
            "appliedAt": conn.scalar('SELECT max("appliedAt") FROM "slotcap_migration_state"'),
            "services.createdAt": conn.scalar('SELECT min("createdAt") FROM "services"'),
            "services.updatedAt": conn.scalar('SELECT min("updatedAt") FROM "services"'),
            "clinic_time_slots.createdAt": conn.scalar(
                'SELECT min("createdAt") FROM "clinic_time_slots"'),
            "clinic_settings.updatedAt": conn.scalar(
                'SELECT min("updatedAt") FROM "clinic_settings"'),
        }
    for what, value in stamps.items():
        assert isinstance(value, dt.datetime), what
        assert abs(value - now) < dt.timedelta(minutes=10), (what, value, now)


def test_a_prisma_row_after_phase_2_is_in_the_dual_write_window(
        zoned_phase2: tuple[str, str]) -> None:
    """The issue's case: on a Seoul database a row Prisma created an hour after phase 2
    was outside the window (appliedAt was local time, createdAt UTC)."""
    url, _zone = zoned_phase2
    before = _gaps(url)
    created = db_timestamp(_utc_now())
    with open_sql(url) as conn:
        conn.execute(PRISMA_INSERT, ("prisma_late", "2025-12-03", "10:00", "SKIN_CARE",
                                     created, created))
    detail = _dual_write(url)
    assert detail["old_without_new"] == before + 1, detail
    # A writer that leaves createdAt to the column default (local time) is caught too.
    with open_sql(url) as conn:
        conn.execute(LEGACY_INSERT, ("default_late", "2025-12-03", "10:00", "SKIN_CARE"))
    assert _gaps(url) == before + 2


def test_the_monitor_counts_a_prisma_row_in_its_utc_hour(
        zoned_phase2: tuple[str, str]) -> None:
    url, _zone = zoned_phase2
    now = _utc_now()
    hour = now.replace(minute=0, second=0, microsecond=0)

    def counts() -> tuple[int, int]:
        with open_store(url) as store:
            report = rollout_monitor(store, rollout=Rollout(), now=now, hours=2)
        this_hour = next(h for h in report.per_hour if h.hour_start == hour)
        return this_hour.legacy, report.dual_write_gaps

    legacy, gaps = counts()
    created = db_timestamp(now)
    with open_sql(url) as conn:
        conn.execute(PRISMA_INSERT, ("prisma_now", "2025-12-04", "10:00", "SKIN_CARE",
                                     created, created))
    assert counts() == (legacy + 1, gaps + 1)
