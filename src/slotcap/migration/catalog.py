"""A comparable snapshot of a database's schema, for both engines: a thin face over
:mod:`slotcap.sql.catalog`, the one introspection the stores read too.

``snapshot(conn)`` reads tables, columns, indexes, constraints, enum types and
triggers; two snapshots compare with ``==`` and ``Catalog.diff`` says what differs.
Tests take one before a phase and after its rollback; ``validate`` reads it for the
schema checks.
"""

from __future__ import annotations

from slotcap.ports import SchemaState
from slotcap.sql import SqlConnection
from slotcap.sql.catalog import STORE_PARTS, Catalog, Column, read_catalog

__all__ = ["Catalog", "Column", "detect_schema_state", "snapshot"]


def snapshot(conn: SqlConnection) -> Catalog:
    """Read the whole schema of the connection's database (current schema on PG),
    triggers included — always afresh (another connection may have changed it)."""
    return conn.catalog(refresh=True)


def detect_schema_state(conn: SqlConnection) -> SchemaState:
    """Which columns ``reservations`` has: legacy only, both, or new only (the one rule
    in :func:`slotcap.domain.schema_state.schema_state`, shared with the stores)."""
    return read_catalog(conn, parts=STORE_PARTS).schema_state()
