"""The tests' scratch PostgreSQL databases: made, copied from templates, dropped.

Several developers and CI share one server, and their test runs create databases on it
at the same time, so every name carries this process's id and a random part
(``slotcap_t_<pid>_<label>_<hex>``; templates ``slotcap_tpl_<pid>_<label>_<hex>``).
Every scratch database is set ``synchronous_commit = off`` (``ALTER DATABASE … SET``):
its commits stop waiting for the WAL flush on the slow disk; a killed *client* still
loses nothing, and nothing changes for the server's other databases. Tests that
restart or fail over a server keep full durability on clusters of their own.

Dropping is deferred and batched: ``DROP DATABASE`` makes the server run a checkpoint
and wait for it (PostgreSQL 15: every dirty buffer of every database written and
fsynced, ~0.1–0.3 s here, far more on a slow disk), and the suite drops about a
thousand databases. :func:`drop_database` queues the database; once ``DROP_BATCH`` are
queued (and at the end of the session: :func:`drop_pending`, called by
``tests/conftest.py`` and at exit) they are dropped together on as many connections,
whose checkpoint requests the server serves with a few checkpoints instead of one each.
At most ``DROP_BATCH`` dead databases wait on the server's disk.

``benchmarks/`` has its own recipe (``benchmarks._harness.temp_pg_database``) and keeps
durable commits: what it measures must not be this shortcut. The tests never import
``benchmarks`` for their fixtures.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

__all__ = ["create_database", "database_url", "drop_database", "drop_databases",
           "drop_pending", "scratch_database"]

#: Databases dropped together (and the most that wait to be dropped).
DROP_BATCH = 12


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
    """Drop the database of ``url``, sessions and all: queued, and dropped with the
    next batch (at the latest by :func:`drop_pending`)."""
    with _pending_lock:
        _pending.append((server_url, url))
        if len(_pending) < DROP_BATCH:
            return
        batch = _pending[:]
        del _pending[:]
    _drop_now(batch)


def drop_pending() -> None:
    """Drop every queued database now."""
    with _pending_lock:
        batch = _pending[:]
        del _pending[:]
    _drop_now(batch)


def drop_databases(server_url: str, urls: Iterable[str]) -> None:
    """Drop the databases of ``urls`` now, together (a few checkpoints for them all)."""
    _drop_now([(server_url, url) for url in urls])


_pending: list[tuple[str, str]] = []
_pending_lock = threading.Lock()


@atexit.register
def _drop_left() -> None:
    """At exit (no new threads then): one at a time."""
    with _pending_lock:
        batch = _pending[:]
        del _pending[:]
    for job in batch:
        _drop_one(*job)


def _drop_one(server_url: str, url: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')


def _drop_now(batch: list[tuple[str, str]]) -> None:
    """Each on its own connection at once: the server's checkpoint requests made while
    one checkpoint runs are all served by the next. The first error is raised once
    all are done."""
    if not batch:
        return
    if len(batch) == 1:
        _drop_one(*batch[0])
        return
    with ThreadPoolExecutor(max_workers=min(len(batch), DROP_BATCH)) as pool:
        futures = [pool.submit(_drop_one, *job) for job in batch]
    for future in futures:
        future.result()


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
