"""The tests' scratch PostgreSQL databases: made, copied from templates, dropped.

Several developers and CI share one server, and their test runs create databases on it
at the same time, so every name carries this process's id and a random part
(``slotcap_t_<pid>_<label>_<hex>``; templates ``slotcap_tpl_<pid>_<label>_<hex>``).
Every scratch database is set ``synchronous_commit = off`` (``ALTER DATABASE … SET``):
its commits stop waiting for the WAL flush on the slow disk; a killed *client* still
loses nothing, and nothing changes for the server's other databases. Tests that
restart or fail over a server keep full durability on clusters of their own.

``benchmarks/`` has its own recipe (``benchmarks._harness.temp_pg_database``) and keeps
durable commits: what it measures must not be this shortcut. The tests never import
``benchmarks`` for their fixtures.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

__all__ = ["create_database", "database_url", "drop_database", "scratch_database"]


def database_url(server_url: str, name: str) -> str:
    """``server_url`` with its database replaced by ``name`` (the query string kept)."""
    base, _, rest = server_url.rpartition("/")
    query = rest.partition("?")[2]
    return f"{base}/{name}" + (f"?{query}" if query else "")


def _name(prefix: str, label: str) -> str:
    return f"{prefix}_{os.getpid()}_{label}_{uuid.uuid4().hex[:8]}"


def create_database(server_url: str, label: str, *, prefix: str = "slotcap_t",
                    template: str | None = None, durable: bool = False) -> str:
    """Create ``<prefix>_<pid>_<label>_<random>`` (a copy of the database named by the
    URL ``template`` when given, which must have no session) and return its URL."""
    import psycopg

    name = _name(prefix, label)
    copy = "" if template is None else f' TEMPLATE "{template.rpartition("/")[2]}"'
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"{copy}')
        if not durable:
            admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    return database_url(server_url, name)


def drop_database(server_url: str, url: str) -> None:
    """Drop the database of ``url``, sessions and all."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')


@contextlib.contextmanager
def scratch_database(server_url: str, label: str = "db", *, prefix: str = "slotcap_t",
                     template: str | None = None, durable: bool = False) -> Iterator[str]:
    """A new database (empty, or a copy of ``template``), dropped on exit; yields its URL."""
    url = create_database(server_url, label, prefix=prefix, template=template,
                          durable=durable)
    try:
        yield url
    finally:
        drop_database(server_url, url)
