"""A comparable snapshot of a database's schema, for both engines: a thin face over
:mod:`slotcap.sql.catalog`, the one introspection the stores read too.

``snapshot(conn)`` reads tables, columns, indexes, constraints, enum types and
triggers; two snapshots compare with ``==`` and ``Catalog.diff`` says what differs.
Tests take one before a phase and after its rollback; ``validate`` reads it for the
schema checks.
"""

from __future__ import annotations

from slotcap.sql import SqlConnection
from slotcap.sql.catalog import Catalog, Column

__all__ = ["Catalog", "Column", "snapshot"]


def snapshot(conn: SqlConnection) -> Catalog:
    """Read the whole schema of the connection's database (current schema on PG),
    triggers included — always afresh (another connection may have changed it)."""
    return conn.catalog()

