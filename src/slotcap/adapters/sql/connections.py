"""Where a SQL store gets a connection for one call or one booking."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

__all__ = ["ConnectionSource", "SharedConnection", "ThreadLocalConnections"]


class _Closeable(Protocol):
    def close(self) -> None: ...


_C = TypeVar("_C", bound=_Closeable)
_C_co = TypeVar("_C_co", covariant=True)


class ConnectionSource(Protocol[_C_co]):
    """Where a store gets a connection for one call or one booking."""

    def borrow(self) -> contextlib.AbstractContextManager[_C_co]: ...

    def opened(self) -> Sequence[_C_co]:
        """The connections open now that the source owns or lends (not a pool's)."""
        ...

    def close(self) -> None: ...


class ThreadLocalConnections(Generic[_C]):
    """One connection per thread, opened by ``connect`` on the thread's first call.

    A connection serves one thread only, so a booking's transaction can never be
    interleaved with another thread's statements. ``usable`` lets a broken connection
    be replaced on the next borrow, and :meth:`replace` replaces it at once (the store
    calls it when a statement found the connection lost: a server restart, a failover);
    a replaced connection is closed and forgotten, so nothing accumulates however often
    the server goes away. The store owns these connections: :meth:`close` closes them.
    """

    def __init__(self, connect: Callable[[], _C], usable: Callable[[_C], bool]) -> None:
        self._connect = connect
        self._usable = usable
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[_C] = []
        #: Connections discarded because they were broken (for the operator and tests).
        self.replaced = 0

    def borrow(self) -> contextlib.AbstractContextManager[_C]:
        # A plain object, not a generator-based context manager: this runs once per
        # store call, and the generator machinery was a measurable part of a check.
        # The thread's one lent context, made with its connection (no state per entry).
        local = self._local
        conn: _C | None = getattr(local, "conn", None)
        if conn is None or not self._usable(conn):
            self._open_instead(conn)
        lent: _Lent[_C] = local.lent
        return lent

    def held(self) -> _C | None:
        """This thread's connection as it is (None before its first borrow), without
        borrowing it: for a lean read that checks the connection's state itself and
        leaves every other case to a borrowed session (``SqlReads``' lean check)."""
        conn: _C | None = getattr(self._local, "conn", None)
        return conn

    def opened(self) -> list[_C]:
        with self._lock:
            return list(self._opened)

    def replace(self, broken: _C) -> _C:
        """This thread's ``broken`` connection closed and forgotten, a new one opened
        and lent from now on. A failed connect raises (the server is still away) and
        leaves the thread without a connection: its next borrow tries again."""
        return self._open_instead(broken)

    def _open_instead(self, old: _C | None) -> _C:
        if old is not None:
            self._local.conn = None
            with self._lock:
                self._opened = [c for c in self._opened if c is not old]
                self.replaced += 1
            with contextlib.suppress(Exception):  # it is broken: closing may complain
                old.close()
        conn = self._connect()
        self._local.conn = conn
        self._local.lent = _Lent(conn)
        with self._lock:
            self._opened.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
            self._local = threading.local()
        for conn in opened:
            conn.close()


class _Lent(Generic[_C]):
    """``contextlib.nullcontext(conn)``, made once per connection: nothing is made per
    borrow, and entering it is one call."""

    __slots__ = ("_conn",)

    def __init__(self, conn: _C) -> None:
        self._conn = conn

    def __enter__(self) -> _C:
        return self._conn

    def __exit__(self, *exc: object) -> None:
        return None


class _Held(Generic[_C]):
    """``with lock: conn`` as a context manager."""

    __slots__ = ("_conn", "_lock")

    def __init__(self, lock: threading.RLock, conn: _C) -> None:
        self._lock = lock
        self._conn = conn

    def __enter__(self) -> _C:
        self._lock.acquire()
        return self._conn

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


class SharedConnection(Generic[_C]):
    """One connection the application owns, used by one thread at a time (a re-entrant
    lock held for a whole store call or booking). Never closed by the store."""

    def __init__(self, conn: _C) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self._held = _Held(self._lock, conn)

    def borrow(self) -> contextlib.AbstractContextManager[_C]:
        # One reusable plain context manager (the lock is re-entrant and the object
        # keeps no per-entry state): cheaper than a generator-based one per call.
        return self._held

    def opened(self) -> list[_C]:
        return [self._conn]

    def close(self) -> None:
        """The application opened it; the application closes it."""
