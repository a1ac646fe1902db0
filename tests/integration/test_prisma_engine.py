"""The generated schema.prisma, checked by Prisma's own schema engine.

tests/prisma/check.js runs ``@prisma/prisma-schema-wasm`` (the engine the Prisma CLI
ships: Prisma 7.10's, and Prisma 6.19's beside it under the npm alias
``prisma-schema-wasm-6``, both pinned in tests/prisma/package-lock.json) offline under
Node: validate, get_config,
lint, and ``prisma format`` (the output must already be in its layout). It prints what
the engine understood (models, fields, enums), which must be what slotcap described.
Without Node or the package the tests skip loudly — and fail under CI=true (.ci/run
installs the package with ``npm ci --prefix tests/prisma``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from tests.conftest import missing
from tests.strategies.budget import examples
from tests.strategies.prisma import schemas

from slotcap.errors import ConfigurationError
from slotcap.migration import prisma
from slotcap.migration.prisma import Column, Index, Schema

HERE = Path(__file__).resolve().parents[1] / "prisma"
CHECK = HERE / "check.js"
PACKAGES = {7: HERE / "node_modules" / "@prisma" / "prisma-schema-wasm" / "package.json",
            6: HERE / "node_modules" / "prisma-schema-wasm-6" / "package.json"}
#: The engine each Prisma major's CLI ships (tests/prisma/package.json pins them).
ENGINES = {7: "7.10.0-4.0edf323efd1d98336f3f0a68684b56f689b900d3",
           6: "6.19.0-26.2ba551f319ab1df4bc874a89965d8b3641056773"}


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        missing("PRISMA ENGINE TESTS", "node is not on PATH (Node.js 18+ runs Prisma's "
                "schema engine)")
    if not all(p.is_file() for p in PACKAGES.values()):
        missing("PRISMA ENGINE TESTS", "Prisma's schema engines are not installed: "
                "npm ci --prefix tests/prisma")
    return node


def engine(text: str, *flags: str, prisma: int = 7) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_node(), str(CHECK), "--prisma", str(prisma), *flags], input=text,
                          capture_output=True, text=True, encoding="utf-8", timeout=60,
                          check=False, cwd=HERE)


def understood(text: str, prisma: int = 7) -> dict[str, Any]:
    result = engine(text, prisma=prisma)
    assert result.returncode == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    assert summary.pop("engine") == ENGINES[prisma]
    return summary


def _expected(schema: Schema) -> dict[str, Any]:
    """What the engine must report for ``schema``, from the description alone."""
    enums = {e.name for e in schema.enums}
    models = []
    for model in schema.models:
        fields = [
            {"name": c.name, "kind": "enum" if c.type in enums else "scalar", "type": c.type,
             "dbName": None, "isRequired": not c.optional, "isList": False, "isId": c.id,
             "isUnique": c.unique, "hasDefault": c.default is not None,
             "isUpdatedAt": c.updated_at}
            for c in model.columns
        ]
        fields += [
            {"name": r.name, "kind": "object", "type": r.model, "dbName": None,
             "isRequired": r.many or not r.optional, "isList": r.many, "isId": False,
             "isUnique": False, "hasDefault": False, "isUpdatedAt": False}
            for r in model.relations
        ]
        models.append({"name": model.name,
                       "dbName": None if model.name == model.table else model.table,
                       "fields": fields})
    return {"provider": [schema.provider], "models": models,
            "enums": [{"name": e.name, "values": list(e.values)} for e in schema.enums]}


@pytest.mark.node
@pytest.mark.parametrize("version", prisma.PRISMA_VERSIONS)
@pytest.mark.parametrize("phase", prisma.PHASES)
def test_prisma_validates_and_understands_the_schema(phase: str, version: int) -> None:
    """Each Prisma major's own engine accepts the schema generated for it, formatted."""
    schema = prisma.schema_for(phase)
    assert understood(prisma.render(schema, prisma=version), version) == _expected(schema)


@pytest.mark.node
@pytest.mark.parametrize("phase", prisma.PHASES)
def test_each_engine_refuses_the_other_majors_datasource(phase: str) -> None:
    """The one difference is real: Prisma 7 refuses ``url`` in the datasource (P1012),
    Prisma 6 requires it; so the default output is Prisma 7's and ``--prisma 6`` exists."""
    schema = prisma.schema_for(phase)
    for version, other in ((7, 6), (6, 7)):
        result = engine(prisma.render(schema, prisma=version), prisma=other)
        assert result.returncode == 1
        assert "P1012" in result.stderr and "url" in result.stderr
    text7, text6 = (prisma.render(schema, prisma=v) for v in (7, 6))
    assert 'url      = env("DATABASE_URL")' in text6
    assert "url" not in text7.split("datasource db {", 1)[1].split("}", 1)[0]


def test_an_unknown_prisma_version_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="--prisma"):
        prisma.render(prisma.schema_for("phase2"), prisma=5)


@pytest.mark.node
def test_the_phases_differ_as_the_migration_does() -> None:
    p2, p4 = (understood(prisma.render(prisma.schema_for(p))) for p in prisma.PHASES)

    def reservation(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
        model = next(m for m in summary["models"] if m["name"] == "Reservation")
        return {f["name"]: f for f in model["fields"]}

    r2, r4 = reservation(p2), reservation(p4)
    for name in ("serviceId", "serviceName", "estimatedDuration", "period"):
        assert not r2[name]["isRequired"] and r4[name]["isRequired"]
    assert r2["service"]["type"] == "ServiceType" and "preferredTime" in r2
    assert r4["service"] == {**r4["service"], "kind": "object", "type": "Service"}
    assert "preferredTime" not in r4 and "serviceRelation" not in r4
    assert {e["name"] for e in p2["enums"]} - {e["name"] for e in p4["enums"]} == {"ServiceType"}
    assert {m["name"] for m in p2["models"]} - {m["name"] for m in p4["models"]} == {
        "service_reservation_limits"}


@pytest.mark.node
def test_the_engine_rejects_a_wrong_schema() -> None:
    """The check can fail: an index on a column the model lacks is Prisma's error P1012."""
    schema = prisma.schema_for("phase4")
    slots = schema.model("ClinicTimeSlot")
    broken = attrs.evolve(slots, indexes=(*slots.indexes, Index(("nope",), "x_idx")))
    text = prisma.render(attrs.evolve(
        schema, models=tuple(broken if m is slots else m for m in schema.models)))
    result = engine(text)
    assert result.returncode == 1
    assert "P1012" in result.stderr and "nope" in result.stderr


@pytest.mark.node
def test_the_engine_reports_a_schema_not_in_prisma_format_layout() -> None:
    text = prisma.render(prisma.schema_for("phase2"))
    misaligned = text.replace("  patientName       String\n", "  patientName String\n")
    assert misaligned != text
    result = engine(misaligned)
    assert result.returncode == 1
    assert "prisma format would change the schema" in result.stderr
    assert engine(misaligned, "--no-format-check").returncode == 0


@pytest.mark.node
@settings(max_examples=examples(0.25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schemas())
def test_any_described_schema_renders_valid_and_formatted(schema: Schema) -> None:
    """The renderer's law: every valid description comes out as a schema Prisma accepts,
    already in ``prisma format``'s layout, meaning what was described."""
    assert understood(prisma.render(schema)) == _expected(schema)


def test_columns_render_their_attributes_in_prisma_order() -> None:
    column = Column("at", "DateTime", optional=True, default="now()", unique=True,
                    updated_at=True, native="@db.Date", comment="c")
    assert column.attributes() == ["@unique", "@default(now())", "@updatedAt", "@db.Date"]
