"""The composition root: where configuration becomes wired objects.

One function, :func:`bootstrap`, turns a database URL, an environment mapping and an
optional clock into an :class:`App` — the store, the clock and the rollout — and the
entry points (the ``slotcap`` CLI, the HTTP server, tests) all build theirs with it,
so they all get the same thing one way (cosmicpython's ``bootstrap.py``). Tests pass
fakes: ``bootstrap("memory://", env={}, clock=FixedClock(...))``, or a ready ``store=``.

:func:`open_store` (public as ``slotcap.open_store``) is the one place a URL becomes a
store; ``bootstrap`` calls it. Adapter modules are imported only for the engine asked
for, so ``memory://`` and ``sqlite://`` work without psycopg installed.
"""

from __future__ import annotations

import datetime as dt
import os
import zoneinfo
from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from slotcap.domain.clock import SystemClock
from slotcap.domain.rollout import Rollout
from slotcap.errors import ConfigurationError
from slotcap.ports import (
    DEFAULT_BUSY_BUDGET,
    Clock,
    ClosesOnExit,
    MigrationStatusReader,
    MigrationView,
    Store,
)
from slotcap.sql.url import Engine, parse_url

if TYPE_CHECKING:
    from slotcap.sql import SqlConnection

__all__ = [
    "DATABASE_ENV",
    "TIMEZONE_ENV",
    "App",
    "bootstrap",
    "clinic_clock",
    "clock_for",
    "clock_from_env",
    "migration_reader",
    "open_store",
    "shadow_from_env",
    "store_on",
]

#: The database URL when none is passed.
DATABASE_ENV = "SLOTCAP_DATABASE_URL"
#: The clinic's IANA time zone (e.g. ``Asia/Seoul``) for "today"; default: the machine's.
TIMEZONE_ENV = "SLOTCAP_CLINIC_TZ"
#: ``off`` turns the shadow decisions off (docs/rollout.md).
SHADOW_ENV = "SLOTCAP_SHADOW"


@attrs.frozen(kw_only=True)
class App(ClosesOnExit):
    """Everything an entry point needs, wired once. Owns the store: closing the app
    (or leaving its ``with`` block) closes the store."""

    store: Store
    clock: Clock
    rollout: Rollout
    #: Where the operator page reads the migration's status (default: the store's, as
    #: :func:`migration_reader` picks it).
    migration: MigrationStatusReader = attrs.field(
        default=attrs.Factory(lambda app: migration_reader(app.store), takes_self=True))

    def close(self) -> None:
        self.store.close()


def open_store(
    url: str,
    *,
    busy_budget: float = DEFAULT_BUSY_BUDGET,
    application_name: str | None = None,
    clock: Clock | None = None,
    pooled: bool | None = None,
    shadow: bool = True,
) -> Store:
    """``memory://``, ``sqlite:///path/to.db`` or ``postgresql://user@host/db``.

    SQL stores detect the database's schema phase on open. PostgreSQL needs the
    ``postgres`` extra (psycopg 3); without it this raises ``ConfigurationError``
    naming the extra. The URL's password never appears in an error.

    ``busy_budget``: seconds a booking or write keeps retrying lock waits (deadlocks,
    serialization failures) before ``StoreBusy``. ``application_name``: how the
    PostgreSQL store's sessions appear in ``pg_stat_activity`` (default ``slotcap``).
    ``clock``: where every store takes its timestamps (default: the system clock).
    ``pooled``: the PostgreSQL URL goes through a transaction pooler such as PgBouncer
    (default: as the URL says, ``?pgbouncer=true``): the store then keeps no session
    state between transactions (docs/stores.md, "Running behind a pooler").
    ``shadow``: whether bookings and checks also ask the other rule (phases 1-3;
    docs/rollout.md, "Shadow decisions"); never changes an answer.
    """
    store = _open_store(url, busy_budget=busy_budget, application_name=application_name,
                        clock=clock, pooled=pooled)
    store.shadow.enabled = shadow
    return store


def _open_store(
    url: str, *, busy_budget: float, application_name: str | None, clock: Clock | None,
    pooled: bool | None,
) -> Store:
    parsed = parse_url(url)
    if parsed.engine is Engine.MEMORY:
        from slotcap.adapters.memory import MemoryStore

        return MemoryStore(busy_budget=busy_budget, clock=clock)
    if parsed.engine is Engine.SQLITE:
        from slotcap.adapters.sqlite import SqliteStore

        return SqliteStore.open(parsed.target, busy_budget=busy_budget, clock=clock)
    from slotcap.adapters.postgres import PostgresStore

    return PostgresStore.open(
        parsed.target, busy_budget=busy_budget, application_name=application_name,
        clock=clock, pooled=parsed.pooled if pooled is None else pooled,
    )


def store_on(
    conn: SqlConnection,
    *,
    busy_budget: float = DEFAULT_BUSY_BUDGET,
    clock: Clock | None = None,
) -> Store:
    """A store on a connection the caller already has open (and keeps owning: closing
    the store leaves it open), so that a tool which migrates and then reads — the CLI's
    ``demo`` — opens its database once."""
    if conn.is_postgres:
        from slotcap.adapters.postgres import PostgresStore

        return PostgresStore.from_connection(conn.raw, busy_budget=busy_budget, clock=clock)
    from slotcap.adapters.sqlite import SqliteStore

    return SqliteStore.from_connection(conn.raw, busy_budget=busy_budget, clock=clock)


def shadow_from_env(env: Mapping[str, str]) -> bool:
    """``SLOTCAP_SHADOW``: ``on`` (default) or ``off`` (also true/false, 1/0, yes/no)."""
    raw = env.get(SHADOW_ENV, "").strip().lower()
    if raw in ("", "on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise ConfigurationError(f"{SHADOW_ENV} must be on or off, got {raw!r}")


def clock_from_env(env: Mapping[str, str]) -> Clock:
    """The system clock, in the clinic's time zone when ``SLOTCAP_CLINIC_TZ`` names one."""
    name = env.get(TIMEZONE_ENV, "").strip()
    if not name:
        return SystemClock()
    try:
        tz: dt.tzinfo = zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"{TIMEZONE_ENV}: not a known time zone: {name[:40]!r} (e.g. Asia/Seoul)"
        ) from None
    return SystemClock(tz)


def bootstrap(
    url: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    store: Store | None = None,
    busy_budget: float = DEFAULT_BUSY_BUDGET,
    application_name: str | None = None,
    pooled: bool | None = None,
) -> App:
    """Wire an :class:`App` from configuration.

    ``env`` (default ``os.environ``) supplies the rollout (``USE_DYNAMIC_SERVICES``,
    ``DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE``), the clinic's time zone
    (``SLOTCAP_CLINIC_TZ``), the shadow switch of the store it opens
    (``SLOTCAP_SHADOW``) and, when ``url`` is None, the database URL
    (``SLOTCAP_DATABASE_URL``). ``clock`` and ``store`` replace the configured ones
    (tests pass fakes). Everything is read and checked before the store is opened, so a
    bad variable never leaves a connection behind.
    """
    if env is None:
        env = os.environ
    rollout = Rollout.from_env(env)
    shadow = shadow_from_env(env)
    # The clinic's "today": SLOTCAP_CLINIC_TZ when set (the operator's override), else
    # the time zone stored in clinic_settings (phase 1 on), else the machine's zone.
    from_store = clock is None and not env.get(TIMEZONE_ENV, "").strip()
    if clock is None:
        clock = clock_from_env(env)  # checked before any connection is opened
    if store is None:
        if url is None:
            url = env.get(DATABASE_ENV, "").strip()
            if not url:
                raise ConfigurationError(
                    f"no database: pass a URL or set {DATABASE_ENV}", code="no_database"
                )
        store = open_store(
            url, busy_budget=busy_budget, application_name=application_name, clock=clock,
            pooled=pooled, shadow=shadow,
        )
    if from_store:
        clock = clinic_clock(store)
    return App(store=store, clock=clock, rollout=rollout)


def clock_for(
    store: Store | None, env: Mapping[str, str] | None = None, *, zone: str | None = None
) -> Clock:
    """The clinic's one clock, as :func:`bootstrap` builds it, for an entry point that
    needs only a store and "today" (``hours set``, ``availability``, ``demo``): so the
    CLI, the server and the operator page never disagree on the date.

    ``SLOTCAP_CLINIC_TZ`` in ``env`` when set (the operator's override); else the zone
    stored in ``store``'s ``clinic_settings``; else — no store yet, e.g. the demo before
    its phase 1 — ``zone``, the zone about to be stored; else the machine's.
    """
    if env is None:
        env = os.environ
    if env.get(TIMEZONE_ENV, "").strip() or (store is None and zone is None):
        return clock_from_env(env)
    if store is not None:
        return clinic_clock(store)
    assert zone is not None  # noqa: S101 (narrowing: the branch above took None)
    return SystemClock(zoneinfo.ZoneInfo(zone))


def clinic_clock(store: Store) -> Clock:
    """The system clock, its "today" in the time zone stored in ``store``'s
    ``clinic_settings`` (the machine's zone where none is stored; re-read at most every
    minute): the use cases' own default (:mod:`slotcap.usecases.clock`), imported when
    first asked so that ``import slotcap.bootstrap`` stays light."""
    from slotcap.usecases.clock import clinic_clock as stored_zone_clock

    return stored_zone_clock(store)


class _NoJournal:
    """A store without a migration journal (the memory store): nothing to show."""

    def migration_status(self) -> MigrationView | None:
        return None


def migration_reader(store: Store) -> MigrationStatusReader:
    """The operator page's :class:`~slotcap.ports.MigrationStatusReader` for ``store``:
    the migration journal read on the store's own connections for a SQL store, none
    for the others. The migration toolkit is imported only when a SQL store asks."""
    from slotcap.adapters.sql.monitoring import Monitoring

    if not isinstance(store, Monitoring):
        return _NoJournal()
    from slotcap.migration.operator import SqlMigrationStatus

    return SqlMigrationStatus(store.sql_connection)
