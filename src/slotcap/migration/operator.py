"""``MigrationStatusReader`` over a SQL store's own connections: what the operator page
shows of ``slotcap migrate status``. :mod:`slotcap.bootstrap` chooses it for a SQL store,
so the HTTP server reads the migration through the port, never a raw connection."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from slotcap.migration.phases import status_conn
from slotcap.ports import MigrationView
from slotcap.sql.connection import SqlConnection
from slotcap.sql.driver_errors import database_errors

__all__ = ["SqlMigrationStatus"]


class SqlMigrationStatus:
    """Reads the journal on a connection ``borrow`` lends (briefly, no transaction
    left open): the store's own, so the page opens no connection of its own."""

    def __init__(self, borrow: Callable[[], AbstractContextManager[SqlConnection]]) -> None:
        self._borrow = borrow

    def migration_status(self) -> MigrationView:
        with database_errors(), self._borrow() as conn:
            status = status_conn(conn)
        return MigrationView(phase=status.phase.value, state=status.state,
                             summary=status.summary(), history=tuple(status.history))
