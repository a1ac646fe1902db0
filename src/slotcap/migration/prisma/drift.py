"""Does a live PostgreSQL database match the Prisma schema slotcap generates for it?

Pure: compares a :class:`~slotcap.sql.catalog.Catalog` (``snapshot(conn)``, the one
introspection slotcap has) with a :class:`~slotcap.migration.prisma.model.Schema`.
Everything Prisma can express must match — tables, columns, types, nullability,
defaults, primary keys, unique and plain indexes (names and columns), the foreign key
and its actions, enum types and labels. Everything else the database holds is
*unmodelled*, and must be exactly what :func:`~slotcap.migration.prisma.schema.
not_expressed` says (docs/prisma.md lists the same): that is the drift
``prisma migrate diff`` reports and nobody may "fix".
"""

from __future__ import annotations

import re

import attrs

from slotcap.migration.ddl.names import KEPT_TABLES
from slotcap.migration.prisma.model import Column, Model, NotExpressed, Schema
from slotcap.migration.prisma.schema import not_expressed
from slotcap.sql.catalog import Catalog

__all__ = ["PRISMA_MIGRATIONS", "Difference", "Drift", "compare"]


@attrs.frozen
class Difference:
    """Something the schema describes that the database does not have as described."""

    table: str
    text: str

    def __str__(self) -> str:
        return f"{self.table}: {self.text}"


@attrs.frozen
class Drift:
    differences: tuple[Difference, ...]
    #: Objects in the database the schema does not describe.
    unmodelled: tuple[NotExpressed, ...]
    #: Unmodelled objects docs/prisma.md does not announce, and announced ones absent.
    unexpected: tuple[NotExpressed, ...]
    absent: tuple[NotExpressed, ...]

    @property
    def ok(self) -> bool:
        return not (self.differences or self.unexpected or self.absent)


#: Prisma Migrate's own record (after baselining): Prisma never diffs it, nor do we.
PRISMA_MIGRATIONS = "_prisma_migrations"
_WHY_KEPT = ("slotcap serve's Idempotency-Key records (made on first use, kept by every "
             "phase): the application never reads them through Prisma")

_SCALAR_TYPES = {
    "String": "text",
    "Int": "integer",
    "Boolean": "boolean",
    "DateTime": "timestamp(3) without time zone",
}
_NATIVE_TYPES = {"@db.Date": "date"}
_ACTIONS = {"Restrict": "RESTRICT", "Cascade": "CASCADE", "SetNull": "SET NULL",
            "SetDefault": "SET DEFAULT", "NoAction": "NO ACTION"}
_INDEX = re.compile(
    r"CREATE (?P<unique>UNIQUE )?INDEX (?P<name>\S+) ON (?P<table>\S+) USING (?P<method>\w+) "
    r"\((?P<keys>[^()]*)\)(?: INCLUDE \((?P<include>[^()]*)\))?(?P<where> WHERE .*)?$"
)
_FK = re.compile(r"FOREIGN KEY \((?P<cols>[^()]*)\) REFERENCES (?P<table>[^(]+)"
                 r"\((?P<refs>[^()]*)\)(?P<rest>.*)$")
_IDENT = re.compile(r'^(?:[a-z_][a-z0-9_$]*|"(?:[^"]|"")+")$')


def _unquote(name: str) -> str:
    name = name.strip()
    if name.startswith('"') and name.endswith('"'):
        return name[1:-1].replace('""', '"')
    return name


def _names(text: str) -> tuple[str, ...] | None:
    """A comma-separated list of plain column names, or None (an expression, ASC/DESC,
    an operator class: anything Prisma's ``@@index([a, b])`` cannot say)."""
    parts = [p.strip() for p in text.split(",")]
    if not all(_IDENT.match(p) for p in parts):
        return None
    return tuple(_unquote(p) for p in parts)


def _type_name(name: str) -> str:
    """format_type()'s spelling of an enum type: quoted unless plain lower case."""
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else f'"{name}"'


def _expected_type(column: Column, enums: set[str]) -> str:
    if column.type in enums:
        return _type_name(column.type)
    if column.native:
        return _NATIVE_TYPES[column.native]
    return _SCALAR_TYPES[column.type]


def _expected_default(column: Column, enums: set[str]) -> str | None:
    value = column.default
    if value is None:
        return None
    if value == "now()":
        return "CURRENT_TIMESTAMP"
    if column.type in enums:
        return f"'{value}'::{_type_name(column.type)}"
    if column.type == "String":
        return f"'{value.strip(chr(34))}'::text"
    return value


def _expected_indexes(model: Model) -> dict[str, tuple[bool, tuple[str, ...]]]:
    """Index name -> (unique, key columns) for everything the model declares."""
    out = {f"{model.table}_pkey": (True, tuple(c.name for c in model.columns if c.id))}
    out |= {f"{model.table}_{c.name}_key": (True, (c.name,))
            for c in model.columns if c.unique}
    out |= {i.name: (i.unique, i.columns) for i in model.indexes}
    return out


def _compare_columns(model: Model, catalog: Catalog, enums: set[str]) -> list[Difference]:
    out = []
    live = catalog.table_columns(model.table)
    wanted = {c.name: c for c in model.columns}
    for name in sorted(live.keys() - wanted.keys()):
        out.append(Difference(model.table, f"column {name} is not in the schema"))
    for name in sorted(wanted.keys() - live.keys()):
        out.append(Difference(model.table, f"column {name} is missing"))
    for name in sorted(wanted.keys() & live.keys()):
        column, info = wanted[name], live[name]
        expected = (_expected_type(column, enums), column.optional,
                    _expected_default(column, enums))
        actual = (info.type, info.nullable, info.default)
        if expected != actual:
            out.append(Difference(model.table, f"column {name}: (type, nullable, default) "
                                               f"{actual!r}, the schema says {expected!r}"))
    return out


def _compare_indexes(model: Model, catalog: Catalog) -> tuple[list[Difference],
                                                              list[NotExpressed]]:
    out: list[Difference] = []
    extra: list[NotExpressed] = []
    wanted = _expected_indexes(model)
    live = {name: d for name, (table, d, _valid) in catalog.indexes.items()
            if table == model.table}
    for name in sorted(wanted.keys() - live.keys()):
        out.append(Difference(model.table, f"index {name} is missing"))
    for name, definition in sorted(live.items()):
        match = _INDEX.match(definition)
        keys = _names(match["keys"]) if match else None
        plain = (match is not None and keys is not None and match["method"] == "btree"
                 and not match["include"] and not match["where"])
        if name in wanted:
            shape = (bool(match and match["unique"]), keys)
            if not plain or shape != wanted[name]:
                out.append(Difference(model.table, f"index {name} is {definition!r}, the "
                                                   f"schema says {wanted[name]!r}"))
        elif plain:
            out.append(Difference(model.table, f"index {name} is not in the schema"))
        else:
            extra.append(NotExpressed("index", model.table, name, definition))
    pkey = catalog.constraints.get((model.table, f"{model.table}_pkey"))
    if pkey is None or not pkey[0].startswith("PRIMARY KEY"):
        out.append(Difference(model.table, f"{model.table}_pkey is not a primary key"))
    return out, extra


def _compare_constraints(model: Model, catalog: Catalog) -> tuple[list[Difference],
                                                                  list[NotExpressed]]:
    out: list[Difference] = []
    extra: list[NotExpressed] = []
    wanted = {r.constraint or f"{model.table}_{'_'.join(r.fields)}_fkey": r
              for r in model.relations if r.fields}
    live = {name: d for (table, name), (d, _valid) in catalog.constraints.items()
            if table == model.table}
    for name in sorted(wanted.keys() - live.keys()):
        out.append(Difference(model.table, f"foreign key {name} is missing"))
    for name, definition in sorted(live.items()):
        if definition.startswith(("PRIMARY KEY", "UNIQUE")):
            continue  # their indexes are compared
        fk = _FK.match(definition)
        if name not in wanted:
            kind = "check" if definition.startswith("CHECK") else "constraint"
            if fk is not None:
                out.append(Difference(model.table, f"foreign key {name} is not in the schema"))
            else:
                extra.append(NotExpressed(kind, model.table, name, definition))
            continue
        relation = wanted[name]
        rest = fk["rest"] if fk else ""
        on_delete = re.search(r"ON DELETE (SET NULL|SET DEFAULT|\w+)", rest)
        on_update = re.search(r"ON UPDATE (SET NULL|SET DEFAULT|\w+)", rest)
        actual = (
            _names(fk["cols"]) if fk else None, _names(fk["refs"]) if fk else None,
            on_delete[1] if on_delete else "NO ACTION", on_update[1] if on_update else "NO ACTION",
        )
        expected = (relation.fields, relation.references,
                    _ACTIONS[relation.on_delete or "NoAction"],
                    _ACTIONS[relation.on_update or "NoAction"])
        if actual != expected:
            out.append(Difference(model.table, f"foreign key {name} is {definition!r}, the "
                                               f"schema says {expected!r}"))
    return out, extra


def _compare_references(schema: Schema, catalog: Catalog) -> list[Difference]:
    out = []
    tables = {m.name: m.table for m in schema.models}
    for model in schema.models:
        for relation in model.relations:
            if not relation.fields:
                continue
            name = relation.constraint or f"{model.table}_{'_'.join(relation.fields)}_fkey"
            found = catalog.constraints.get((model.table, name))
            fk = _FK.match(found[0]) if found else None
            if fk and _unquote(fk["table"].split(".")[-1]) != tables[relation.model]:
                out.append(Difference(model.table, f"foreign key {name} references "
                                                   f"{fk['table']}, not {tables[relation.model]}"))
    return out


def compare(catalog: Catalog, schema: Schema) -> Drift:
    """Compare a PostgreSQL catalogue with ``schema`` (see the module's docstring)."""
    enums = {e.name for e in schema.enums}
    differences: list[Difference] = []
    unmodelled: list[NotExpressed] = []
    modelled = {m.table for m in schema.models}
    for model in schema.models:
        if model.table not in catalog.tables:
            differences.append(Difference(model.table, "table is missing"))
            continue
        differences += _compare_columns(model, catalog, enums)
        for part in (_compare_indexes, _compare_constraints):
            found, extra = part(model, catalog)
            differences += found
            unmodelled += extra
    differences += _compare_references(schema, catalog)
    unmodelled += [NotExpressed("table", t, t, "not modelled")
                   for t in sorted(catalog.tables.keys() - modelled - {PRISMA_MIGRATIONS})]
    for name, (table, definition) in sorted(catalog.triggers.items()):
        unmodelled.append(NotExpressed("trigger", table, name, definition))
    for enum in schema.enums:
        labels = catalog.enums.get(enum.name)
        if labels != enum.values:
            differences.append(Difference(f'enum "{enum.name}"', f"labels {labels!r}, the "
                                                                  f"schema says {enum.values!r}"))
    for name in sorted(catalog.enums.keys() - enums):
        differences.append(Difference(f'enum "{name}"', "type is not in the schema"))
    announced = {(i.kind, i.table, i.name): i for i in not_expressed(schema.phase)}
    # slotcap serve's Idempotency-Key records exist once a server has used them, in any
    # phase: not modelled, expected when present, never missed when absent.
    announced.update({("table", t, t): NotExpressed("table", t, t, _WHY_KEPT)
                      for t in KEPT_TABLES if t in catalog.tables})
    found_keys = {(i.kind, i.table, i.name): i for i in unmodelled}
    return Drift(
        tuple(differences),
        tuple(sorted(unmodelled, key=lambda i: (i.kind, i.table, i.name))),
        tuple(found_keys[k] for k in sorted(found_keys.keys() - announced.keys())),
        tuple(announced[k] for k in sorted(announced.keys() - found_keys.keys())),
    )
