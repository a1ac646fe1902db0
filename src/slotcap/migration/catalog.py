"""A comparable snapshot of a database's schema, for both engines.

``snapshot(conn)`` reads tables, columns (type, nullability, default), indexes
(definition and validity), constraints (definition and validity) and enum types
(labels in order). Two snapshots compare with ``==``; ``diff`` says what differs.
Tests take one before a phase and after its rollback; ``validate`` reads it for the
schema checks.

Column *order* is not part of a snapshot on PostgreSQL: a column re-added by the
phase-4 rollback goes to the end of the table (PostgreSQL cannot insert a column in
place without rewriting the table), and Prisma and slotcap address columns by name.
On SQLite the table's SQL text is part of the snapshot, so order is compared there.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from slotcap.domain.schema_state import schema_state
from slotcap.migration.ddl.names import RESERVATIONS
from slotcap.ports import SchemaState
from slotcap.sqldb import Dialect, SqlConnection

__all__ = ["Catalog", "Column", "detect_schema_state", "snapshot"]


@attrs.frozen
class Column:
    type: str
    nullable: bool
    default: str | None


@attrs.frozen
class Catalog:
    dialect: str
    #: table -> definition (SQLite: normalised CREATE TABLE text; PostgreSQL: "").
    tables: dict[str, str]
    #: (table, column) -> Column
    columns: dict[tuple[str, str], Column]
    #: index name -> (table, definition, valid)
    indexes: dict[str, tuple[str, str, bool]]
    #: (table, constraint name) -> (definition, validated)
    constraints: dict[tuple[str, str], tuple[str, bool]]
    #: enum type -> labels in order (PostgreSQL only)
    enums: dict[str, tuple[str, ...]]
    #: trigger name -> (table, definition)
    triggers: dict[str, tuple[str, str]] = attrs.Factory(dict)

    def has_column(self, table: str, column: str) -> bool:
        return (table, column) in self.columns

    def table_columns(self, table: str) -> dict[str, Column]:
        return {c: info for (t, c), info in self.columns.items() if t == table}

    def diff(self, other: Catalog) -> list[str]:
        """Human-readable differences (empty when equal)."""
        out: list[str] = []
        for field in ("tables", "columns", "indexes", "constraints", "enums", "triggers"):
            mine: dict[Any, Any] = getattr(self, field)
            theirs: dict[Any, Any] = getattr(other, field)
            for key in sorted(mine.keys() | theirs.keys(), key=repr):
                if mine.get(key) != theirs.get(key):
                    out.append(f"{field}[{key!r}]: {mine.get(key)!r} != {theirs.get(key)!r}")
        return out


def _normalise(sql: str | None) -> str:
    return re.sub(r"\s+", " ", sql or "").strip()


def _snapshot_sqlite(conn: SqlConnection) -> Catalog:
    tables: dict[str, str] = {}
    columns: dict[tuple[str, str], Column] = {}
    indexes: dict[str, tuple[str, str, bool]] = {}
    constraints: dict[tuple[str, str], tuple[str, bool]] = {}
    triggers: dict[str, tuple[str, str]] = {}
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master "
        "WHERE name NOT LIKE 'sqlite_stat%%' AND name <> 'sqlite_sequence' ORDER BY name"
    )
    for kind, name, table, sql in rows:
        if kind == "table":
            tables[name] = _normalise(sql)
        elif kind == "index":
            if sql is None:  # automatic index of a UNIQUE/PRIMARY KEY constraint
                cols = conn.execute(
                    "SELECT name FROM pragma_index_info(%s) ORDER BY seqno", (name,)
                )
                sql = f"auto ({', '.join(str(c[0]) for c in cols)})"
            indexes[name] = (table, _normalise(sql), True)
        elif kind == "trigger":
            triggers[name] = (table, _normalise(sql))
    for table in tables:
        for _cid, col, ctype, notnull, default, _pk in conn.execute(
            "SELECT cid, name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(%s)",
            (table,),
        ):
            columns[(table, col)] = Column(str(ctype), not notnull, default)
        for fk in conn.execute(
            'SELECT id, seq, "table", "from", "to", on_delete FROM pragma_foreign_key_list(%s)',
            (table,),
        ):
            fk_id, _seq, parent, src, dst, on_delete = fk
            constraints[(table, f"fk{fk_id}:{src}")] = (
                f"FOREIGN KEY ({src}) REFERENCES {parent}({dst}) ON DELETE {on_delete}",
                True,
            )
    return Catalog("sqlite", tables, columns, indexes, constraints, {}, triggers)


def _snapshot_postgres(conn: SqlConnection) -> Catalog:
    tables = {
        r[0]: ""
        for r in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
        )
    }
    columns = {
        (t, c): Column(str(typ), not notnull, default)
        for t, c, typ, notnull, default in conn.execute(
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
            "pg_get_expr(d.adbin, d.adrelid) "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') "
            "AND a.attnum > 0 AND NOT a.attisdropped"
        )
    }
    indexes = {
        name: (str(table), str(definition), bool(valid))
        for name, table, definition, valid in conn.execute(
            "SELECT ic.relname, tc.relname, pg_get_indexdef(i.indexrelid), i.indisvalid "
            "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
            "JOIN pg_class tc ON tc.oid = i.indrelid "
            "JOIN pg_namespace n ON n.oid = ic.relnamespace "
            "WHERE n.nspname = current_schema()"
        )
    }
    constraints = {
        (str(table), str(name)): (str(definition), bool(valid))
        for table, name, definition, valid in conn.execute(
            "SELECT t.relname, c.conname, pg_get_constraintdef(c.oid), c.convalidated "
            "FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE n.nspname = current_schema()"
        )
    }
    enums: dict[str, tuple[str, ...]] = {}
    for typname, label in conn.execute(
        "SELECT t.typname, e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
        "JOIN pg_namespace n ON n.oid = t.typnamespace "
        "WHERE n.nspname = current_schema() ORDER BY t.typname, e.enumsortorder"
    ):
        enums[typname] = (*enums.get(typname, ()), str(label))
    triggers = {
        str(name): (str(table), str(definition))
        for name, table, definition in conn.execute(
            "SELECT t.tgname, c.relname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND NOT t.tgisinternal"
        )
    }
    return Catalog("postgresql", tables, columns, indexes, constraints, enums, triggers)


def snapshot(conn: SqlConnection) -> Catalog:
    """Read the whole schema of the connection's database (current schema on PG),
    triggers included."""
    if conn.dialect is Dialect.POSTGRES:
        return _snapshot_postgres(conn)
    return _snapshot_sqlite(conn)


def detect_schema_state(conn: SqlConnection) -> SchemaState:
    """Which columns ``reservations`` has: legacy only, both, or new only (the one rule
    in :func:`slotcap.domain.schema_state.schema_state`, shared with the stores)."""
    return schema_state(conn.columns(RESERVATIONS), conn.tables())
