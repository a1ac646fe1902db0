"""One catalogue introspection for both engines, returning a typed, immutable snapshot.

:func:`read_catalog` reads tables, columns (type, nullability, default), indexes
(definition and validity), constraints (definition and validity), triggers and enum
types (labels in order). Two snapshots compare with ``==``; :meth:`Catalog.diff` says
what differs. The stores read only the parts they follow (``parts=STORE_PARTS``: the
columns and the enum labels, two statements on either engine); the migration toolkit
reads everything (:meth:`SqlConnection.catalog`). Nothing caches a snapshot: the
stores keep what they built from one, and re-read when a statement or a refusal says
the schema may have moved.

Column *order* is not part of a snapshot on PostgreSQL: a column re-added by the
phase-4 rollback goes to the end of the table (PostgreSQL cannot insert a column in
place without rewriting the table), and Prisma and slotcap address columns by name.
On SQLite the table's SQL text is part of the snapshot, so order is compared there.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from slotcap.domain.schema_state import SchemaState, schema_state
from slotcap.errors import SchemaStateError
from slotcap.sql.dialect import Dialect
from slotcap.sql.names import RESERVATIONS_TABLE

__all__ = [
    "ALL_PARTS",
    "STORE_PARTS",
    "Catalog",
    "Column",
    "Executor",
    "Part",
    "column_names",
    "read_catalog",
    "reservations_state",
    "table_names",
]


class Executor(Protocol):
    """What introspection needs: pyformat statements and the dialect (a
    :class:`slotcap.sql.connection.SqlConnection`, or a store's session adapter)."""

    @property
    def dialect(self) -> Dialect: ...

    def execute(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[tuple[Any, ...]]: ...


class Part(enum.Flag):
    COLUMNS = enum.auto()  # tables and their columns
    ENUMS = enum.auto()
    INDEXES = enum.auto()
    CONSTRAINTS = enum.auto()
    TRIGGERS = enum.auto()


ALL_PARTS = Part.COLUMNS | Part.ENUMS | Part.INDEXES | Part.CONSTRAINTS | Part.TRIGGERS
#: What a store follows: which columns exist, and the old ``service`` enum's labels.
STORE_PARTS = Part.COLUMNS | Part.ENUMS


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

    def has_table(self, table: str) -> bool:
        return table in self.tables

    def has_column(self, table: str, column: str) -> bool:
        return (table, column) in self.columns

    def table_columns(self, table: str) -> dict[str, Column]:
        return {c: info for (t, c), info in self.columns.items() if t == table}

    def enum_labels(self, table: str, column: str) -> tuple[str, ...] | None:
        """The labels of the enum type of ``table.column`` (None: not an enum)."""
        info = self.columns.get((table, column))
        return None if info is None else self.enums.get(info.type.strip('"'))

    def schema_state(self) -> SchemaState:
        """The one rule on this snapshot (see :func:`reservations_state`)."""
        return reservations_state(self.columns, self.tables)

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



def reservations_state(
    columns: Iterable[tuple[str, str]], tables: Collection[str]
) -> SchemaState:
    """The one rule (:func:`slotcap.domain.schema_state.schema_state`) on catalogue
    facts: ``(table, column)`` pairs and the table names. ``SchemaStateError`` without
    a reservations table. The stores' :class:`SchemaInfo` and :meth:`Catalog.schema_state`
    both call it."""
    if RESERVATIONS_TABLE not in tables:
        raise SchemaStateError(
            "no reservations table: this is not the clinic's reservation database"
        )
    return schema_state({c for t, c in columns if t == RESERVATIONS_TABLE}, tables)

def _read_sqlite(ex: Executor, parts: Part) -> Catalog:
    tables: dict[str, str] = {}
    columns: dict[tuple[str, str], Column] = {}
    indexes: dict[str, tuple[str, str, bool]] = {}
    constraints: dict[tuple[str, str], tuple[str, bool]] = {}
    triggers: dict[str, tuple[str, str]] = {}
    rows = ex.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master "
        "WHERE name NOT LIKE 'sqlite_stat%%' AND name <> 'sqlite_sequence' ORDER BY name"
    )
    for kind, name, table, sql in rows:
        if kind == "table":
            tables[name] = _normalise(sql)
        elif kind == "index" and Part.INDEXES in parts:
            if sql is None:  # automatic index of a UNIQUE/PRIMARY KEY constraint
                cols = ex.execute(
                    "SELECT name FROM pragma_index_info(%s) ORDER BY seqno", (name,)
                )
                sql = f"auto ({', '.join(str(c[0]) for c in cols)})"
            indexes[name] = (table, _normalise(sql), True)
        elif kind == "trigger" and Part.TRIGGERS in parts:
            triggers[name] = (table, _normalise(sql))
    # Every table's columns in one statement (the stores re-read this before a refusal).
    for table, col, ctype, notnull, default in ex.execute(
        'SELECT m."name", p."name", p."type", p."notnull", p."dflt_value" '
        "FROM sqlite_master m, pragma_table_info(m.\"name\") p WHERE m.\"type\" = 'table'"
    ):
        if table in tables:
            columns[(str(table), str(col))] = Column(str(ctype), not notnull, default)
    if Part.CONSTRAINTS in parts:
        for table in tables:
            for fk in ex.execute(
                'SELECT id, seq, "table", "from", "to", on_delete '
                "FROM pragma_foreign_key_list(%s)",
                (table,),
            ):
                fk_id, _seq, parent, src, dst, on_delete = fk
                constraints[(table, f"fk{fk_id}:{src}")] = (
                    f"FOREIGN KEY ({src}) REFERENCES {parent}({dst}) ON DELETE {on_delete}",
                    True,
                )
    return Catalog("sqlite", tables, columns, indexes, constraints, {}, triggers)


_PG_COLUMNS = (
    "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
    "pg_get_expr(d.adbin, d.adrelid) "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
    "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
)
_PG_INDEXES = (
    "SELECT ic.relname, tc.relname, pg_get_indexdef(i.indexrelid), i.indisvalid "
    "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
    "JOIN pg_class tc ON tc.oid = i.indrelid "
    "JOIN pg_namespace n ON n.oid = ic.relnamespace "
    "WHERE n.nspname = current_schema()"
)
_PG_CONSTRAINTS = (
    "SELECT t.relname, c.conname, pg_get_constraintdef(c.oid), c.convalidated "
    "FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
    "JOIN pg_namespace n ON n.oid = t.relnamespace "
    "WHERE n.nspname = current_schema()"
)
_PG_ENUMS = (
    "SELECT t.typname, e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
    "JOIN pg_namespace n ON n.oid = t.typnamespace "
    "WHERE n.nspname = current_schema() ORDER BY t.typname, e.enumsortorder"
)
_PG_TRIGGERS = (
    "SELECT t.tgname, c.relname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
    "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema() AND NOT t.tgisinternal"
)


def _read_postgres(ex: Executor, parts: Part) -> Catalog:
    tables: dict[str, str] = {}
    columns: dict[tuple[str, str], Column] = {}
    # Tables and columns in one statement: a table without columns still has its row.
    for t, c, typ, notnull, default in ex.execute(_PG_COLUMNS):
        tables[str(t)] = ""
        if c is not None:
            columns[(str(t), str(c))] = Column(str(typ), not notnull, default)
    indexes = {
        str(name): (str(table), str(definition), bool(valid))
        for name, table, definition, valid in (
            ex.execute(_PG_INDEXES) if Part.INDEXES in parts else ()
        )
    }
    constraints = {
        (str(table), str(name)): (str(definition), bool(valid))
        for table, name, definition, valid in (
            ex.execute(_PG_CONSTRAINTS) if Part.CONSTRAINTS in parts else ()
        )
    }
    enums: dict[str, tuple[str, ...]] = {}
    for typname, label in ex.execute(_PG_ENUMS) if Part.ENUMS in parts else ():
        enums[str(typname)] = (*enums.get(str(typname), ()), str(label))
    triggers = {
        str(name): (str(table), str(definition))
        for name, table, definition in (
            ex.execute(_PG_TRIGGERS) if Part.TRIGGERS in parts else ()
        )
    }
    return Catalog("postgresql", tables, columns, indexes, constraints, enums, triggers)


def read_catalog(ex: Executor, *, parts: Part = ALL_PARTS) -> Catalog:
    """Read the schema of the connection's database (current schema on PostgreSQL).
    Parts not asked for are empty in the snapshot."""
    if ex.dialect is Dialect.POSTGRES:
        return _read_postgres(ex, parts)
    return _read_sqlite(ex, parts)


def table_names(ex: Executor) -> set[str]:
    """Just the table names, read now (SQLite's own tables included)."""
    if ex.dialect is Dialect.SQLITE:
        rows = ex.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = ex.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return {r[0] for r in rows}


def column_names(ex: Executor, table: str) -> set[str]:
    """Just one table's column names, read now."""
    if ex.dialect is Dialect.SQLITE:
        rows = ex.execute("SELECT name FROM pragma_table_info(%s)", (table,))
    else:
        rows = ex.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s",
            (table,),
        )
    return {r[0] for r in rows}
