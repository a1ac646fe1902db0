"""The generated Prisma schema against a real PostgreSQL database slotcap migrated.

A database made from exactly the reference DDL, with legacy rows, is taken to phase 2
and to phase 4 by slotcap's own ``migrate``; after each, its catalogue must match the
schema in everything Prisma can express (tables, columns, types, nullability, defaults,
keys, unique and plain indexes, the foreign key and its actions, enums), and what the
schema leaves out must be exactly ``not_expressed(phase)`` — the list docs/prisma.md
publishes (tests/unit/test_prisma_schema.py holds the page to it). PostgreSQL only:
the schema's provider is PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import postgres_database
from tests.integration.migration_helpers import seed_legacy
from tests.strategies.budget import examples

from slotcap.migration import migrate, snapshot
from slotcap.migration.prisma import (
    PHASES,
    Index,
    schema_for,
)
from slotcap.migration.prisma.drift import PRISMA_MIGRATIONS, Drift, compare
from slotcap.migration.prisma.model import Model, Schema
from slotcap.schema.legacy import create_legacy_schema
from slotcap.sql import open_sql
from slotcap.sql.catalog import Catalog

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def catalogues() -> Iterator[dict[str, Catalog]]:
    """phase -> the catalogue of one database right after slotcap migrated it there."""
    with postgres_database("prisma") as url:
        with open_sql(url) as conn:
            create_legacy_schema(conn)
            seed_legacy(conn, 40)
        found = {}
        for phase in PHASES:
            report = migrate(url, to=phase, confirm=True)
            assert report.ok, report
            with open_sql(url) as conn:
                found[phase] = snapshot(conn)
        yield found


@pytest.mark.parametrize("phase", PHASES)
def test_the_live_database_matches_the_schema(catalogues: dict[str, Catalog],
                                              phase: str) -> None:
    catalogue = catalogues[phase]
    drift = compare(catalogue, schema_for(phase))
    assert [str(d) for d in drift.differences] == []
    assert drift.unexpected == ()
    assert drift.absent == ()
    # Prisma's drift is announced, never empty: the slotcap tables are always there
    # (and, in both phases, the ledger's trigger on reservations).
    assert {i.kind for i in drift.unmodelled} == {"table", "index", "check", "trigger"}


def _with_model(schema: Schema, name: str, **changes: Any) -> Schema:
    old = schema.model(name)
    new = attrs.evolve(old, **changes)
    return attrs.evolve(schema, models=tuple(new if m is old else m for m in schema.models))


def _columns(model: Model, name: str, **changes: Any) -> dict[str, Any]:
    return {"columns": tuple(attrs.evolve(c, **changes) if c.name == name else c
                             for c in model.columns)}


def test_the_comparison_finds_what_the_schema_gets_wrong(
        catalogues: dict[str, Catalog]) -> None:
    """The comparison can fail: each wrong statement about the phase-4 database is found."""
    catalogue, schema = catalogues["phase4"], schema_for("phase4")
    reservation = schema.model("Reservation")
    service = schema.model("Service")
    relation = reservation.relations[0]
    wrong = {
        "nullable serviceId": _with_model(schema, "Reservation",
                                          **_columns(reservation, "serviceId", optional=True)),
        "Int default": _with_model(schema, "Service",
                                   **_columns(service, "bufferMinutes", default="5")),
        "DATE birthDate": _with_model(schema, "Reservation",
                                      **_columns(reservation, "birthDate", native="@db.Date")),
        "no @unique code": _with_model(schema, "Service",
                                       **_columns(service, "code", unique=False)),
        "missing index": _with_model(schema, "Reservation", indexes=reservation.indexes[1:]),
        "index columns": _with_model(schema, "Reservation", indexes=(
            Index(("serviceId", "status"), reservation.indexes[1].name),
            *reservation.indexes[2:], reservation.indexes[0])),
        "onDelete": _with_model(schema, "Reservation", relations=(
            attrs.evolve(relation, on_delete="Cascade"),)),
        "legacy column": schema_for("phase2"),
    }
    for label, described in wrong.items():
        drift = compare(catalogue, described)
        found = drift.differences + drift.unexpected + drift.absent
        assert found, label


def _findings(drift: Drift) -> set[str]:
    return ({str(d) for d in drift.differences}
            | {f"unexpected {i.kind} {i.table}.{i.name}" for i in drift.unexpected}
            | {f"absent {i.kind} {i.table}.{i.name}" for i in drift.absent})


@st.composite
def _mutations(draw: st.DrawFn, catalogue: Catalog, schema: Schema) -> tuple[str, Catalog]:
    """One change to a real catalogue, of any part the comparison reads."""
    modelled = sorted(m.table for m in schema.models if m.table in catalogue.tables)
    columns = dict(catalogue.columns)
    indexes = dict(catalogue.indexes)
    constraints = dict(catalogue.constraints)
    enums = dict(catalogue.enums)
    tables = dict(catalogue.tables)
    kind = draw(st.sampled_from(["column", "index", "constraint", "enum", "table"]))
    if kind == "column":
        key = draw(st.sampled_from(sorted(k for k in columns if k[0] in modelled)))
        info = columns[key]
        how = draw(st.sampled_from(["drop", "nullable", "type", "default", "add"]))
        if how == "drop":
            del columns[key]
        elif how == "nullable":
            columns[key] = attrs.evolve(info, nullable=not info.nullable)
        elif how == "type":
            columns[key] = attrs.evolve(info, type="bigint" if info.type != "bigint" else "text")
        elif how == "default":
            columns[key] = attrs.evolve(info, default="'zz'::text" if info.default else "1")
        else:
            columns[(key[0], "extraColumn")] = info
        label = f"{how} column {key}"
    elif kind == "index":
        name = draw(st.sampled_from(sorted(n for n, v in indexes.items() if v[0] in modelled)))
        table, definition, valid = indexes[name]
        how = draw(st.sampled_from(["drop", "columns", "add"]))
        if how == "drop":
            del indexes[name]
        elif how == "columns":
            head = definition.split(" USING btree (", 1)[0]
            indexes[name] = (table, f"{head} USING btree (\"updatedAtX\")", valid)
        else:
            indexes["extra_idx"] = (table, f"CREATE INDEX extra_idx ON public.{table} "
                                           "USING btree (id)", True)
        label = f"{how} index {name}"
    elif kind == "constraint":
        how = draw(st.sampled_from(["fk", "pkey", "check"]))
        table = draw(st.sampled_from(modelled))
        if how == "fk":
            key = ("reservations", "reservations_serviceId_fkey")
            definition, valid = constraints[key]
            constraints[key] = (definition.replace("RESTRICT", "CASCADE"), valid)
        elif how == "pkey":
            del constraints[(table, f"{table}_pkey")]
        else:
            constraints[(table, "extra_check")] = ("CHECK (true)", True)
        label = f"{how} constraint {table}"
    elif kind == "enum":
        name = draw(st.sampled_from(sorted(enums)))
        how = draw(st.sampled_from(["label", "drop", "add"]))
        if how == "label":
            enums[name] = (*enums[name], "EXTRA")
        elif how == "drop":
            del enums[name]
        else:
            enums["ExtraEnum"] = ("A",)
        label = f"{how} enum {name}"
    else:
        how = draw(st.sampled_from(["add", "drop"]))
        if how == "add":
            tables["extra_table"] = ""
        else:
            gone = draw(st.sampled_from(sorted(tables)))
            del tables[gone]
        label = f"{how} table"
    return label, attrs.evolve(catalogue, tables=tables, columns=columns, indexes=indexes,
                               constraints=constraints, enums=enums)


@pytest.mark.parametrize("phase", PHASES)
def test_any_change_to_the_database_is_found(catalogues: dict[str, Catalog],
                                             phase: str) -> None:
    """Law: one change to a real catalogue (a column's type, nullability or default, an
    index, a key, the foreign key's action, an enum label, a table) always shows up as a
    new finding of the comparison."""
    catalogue, schema = catalogues[phase], schema_for(phase)
    base = _findings(compare(catalogue, schema))

    @settings(max_examples=examples(2), deadline=None, database=None)
    @given(_mutations(catalogue, schema))
    def check(mutation: tuple[str, Catalog]) -> None:
        label, changed = mutation
        assert _findings(compare(changed, schema)) - base, label

    check()


def test_prismas_own_migration_table_is_not_drift(catalogues: dict[str, Catalog]) -> None:
    """After baselining, ``_prisma_migrations`` exists; Prisma ignores it, so do we."""
    catalogue, schema = catalogues["phase4"], schema_for("phase4")
    columns = {**catalogue.columns,
               (PRISMA_MIGRATIONS, "id"): attrs.evolve(catalogue.columns[("services", "id")])}
    baselined = attrs.evolve(catalogue, tables={**catalogue.tables, PRISMA_MIGRATIONS: ""},
                             columns=columns)
    assert compare(baselined, schema) == compare(catalogue, schema)
