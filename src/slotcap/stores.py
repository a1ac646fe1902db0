"""``open_store(url)``: the one entry point from a URL to a store."""

from __future__ import annotations

from slotcap.adapters.sql.store import DEFAULT_BUSY_BUDGET
from slotcap.dburl import Engine, parse_url
from slotcap.ports import Store

__all__ = ["open_store"]


def open_store(
    url: str,
    *,
    busy_budget: float = DEFAULT_BUSY_BUDGET,
    application_name: str | None = None,
) -> Store:
    """``memory://``, ``sqlite:///path/to.db`` or ``postgresql://user@host/db``.

    SQL stores detect the database's schema phase on open. PostgreSQL needs the
    ``postgres`` extra (psycopg 3); without it this raises ``ConfigurationError``
    naming the extra. The URL's password never appears in an error.

    ``busy_budget``: seconds a booking or write keeps retrying lock waits (deadlocks,
    serialization failures) before ``StoreBusy``. ``application_name``: how the
    PostgreSQL store's sessions appear in ``pg_stat_activity`` (default ``slotcap``).
    """
    parsed = parse_url(url)
    if parsed.engine is Engine.MEMORY:
        from slotcap.adapters.memory import MemoryStore

        return MemoryStore(busy_budget=busy_budget)
    if parsed.engine is Engine.SQLITE:
        from slotcap.adapters.sqlite import SqliteStore

        return SqliteStore.open(parsed.target, busy_budget=busy_budget)
    from slotcap.adapters.postgres import PostgresStore

    return PostgresStore.open(
        parsed.target, busy_budget=busy_budget, application_name=application_name
    )
