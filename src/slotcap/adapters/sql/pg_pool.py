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

#: The attribute of a pool's psycopg connection that holds its slotcap wrapper.
_WRAPPER = "_slotcap_sql_connection"


class ConnectionPoolLike(Protocol):
    """What the store needs of a pool: ``psycopg_pool.ConnectionPool`` fits."""

    def connection(self) -> contextlib.AbstractContextManager[psycopg.Connection[Any]]: ...


class PoolConnections:
    """Borrow a pool's connection for one store call or one booking. The pool checks and
    replaces broken connections itself (psycopg_pool discards them on return); behind
    a transaction pooler (``pooled()``) each borrowed connection prepares nothing.

    Each pool connection carries its own wrapper (and so its reused cursor) from
    borrow to borrow, as an attribute of the connection object (as psycopg_pool keeps
    its own marks there): it goes when the pool discards the connection, and no map
    anywhere keeps a connection alive."""

    def __init__(self, pool: ConnectionPoolLike, pooled: Callable[[], bool]) -> None:
        self._pool = pool
        self._pooled = pooled

    @staticmethod
    def _wrap(conn: psycopg.Connection[Any], pooled: bool) -> SqlConnection:
        # Only the borrower touches it: the pool lends a connection to one at a time.
        wrapped: SqlConnection | None = getattr(conn, _WRAPPER, None)
        if wrapped is None:
            wrapped = SqlConnection(conn, Dialect.POSTGRES)
            setattr(conn, _WRAPPER, wrapped)
        wrapped.pooled = pooled
        return wrapped

    @contextlib.contextmanager
    def borrow(self) -> Iterator[SqlConnection]:
        with self._pool.connection() as conn:
            pooled = self._pooled()
            if pooled:
                conn.prepare_threshold = None
            yield self._wrap(conn, pooled)

    def opened(self) -> list[SqlConnection]:
        return []  # the pool's: each is made unprepared when borrowed

    def close(self) -> None:
        """The application owns the pool."""
