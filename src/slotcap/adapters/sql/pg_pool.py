"""A PostgreSQL store's connections from the application's own pool."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from slotcap.sql.connection import SqlConnection
from slotcap.sql.dialect import Dialect

if TYPE_CHECKING:
    import psycopg

__all__ = ["ConnectionPoolLike", "PoolConnections"]


class ConnectionPoolLike(Protocol):
    """What the store needs of a pool: ``psycopg_pool.ConnectionPool`` fits."""

    def connection(self) -> contextlib.AbstractContextManager[psycopg.Connection[Any]]: ...


class PoolConnections:
    """Borrow a pool's connection for one store call or one booking. The pool checks and
    replaces broken connections itself (psycopg_pool discards them on return); behind
    a transaction pooler (``pooled()``) each borrowed connection prepares nothing."""

    def __init__(self, pool: ConnectionPoolLike, pooled: Callable[[], bool]) -> None:
        self._pool = pool
        self._pooled = pooled

    @contextlib.contextmanager
    def borrow(self) -> Iterator[SqlConnection]:
        with self._pool.connection() as conn:
            pooled = self._pooled()
            if pooled:
                conn.prepare_threshold = None
            yield SqlConnection(conn, Dialect.POSTGRES, pooled=pooled)

    def opened(self) -> list[SqlConnection]:
        return []  # the pool's: each is made unprepared when borrowed

    def close(self) -> None:
        """The application owns the pool."""
