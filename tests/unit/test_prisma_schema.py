"""slotcap.migration.prisma without an engine: the description, its determinism, and
docs/prisma.md's list of what Prisma cannot express (the same list, exactly)."""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slotcap.errors import ConfigurationError
from slotcap.migration.ddl.names import (
    FINAL_INDEXES,
    IDX_LEGACY_SERVICE,
    IDX_SERVICE,
    LEGACY_ONLY_COLUMNS,
    NEW_COLUMNS,
)
from slotcap.migration.ddl.phase4 import CONTRACTED_COLUMNS
from slotcap.migration.prisma import (
    PHASES,
    config_ts,
    not_expressed,
    render,
    schema_for,
    schema_path,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "prisma.md"


def _doc_rows() -> set[tuple[str, str, str, str]]:
    """(phase, kind, table, name) of every row of the not-expressed table."""
    section = DOC.read_text(encoding="utf-8").split("<!-- not-expressed:", 1)[1]
    rows = set()
    for line in section.split("-->", 1)[1].strip().splitlines():
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] in ("kind", "---"):
            continue
        kind, table, name, phases = cells[0], cells[1].strip("`"), cells[2].strip("`"), cells[3]
        for phase in re.split(r",\s*", phases):
            rows.add((phase, kind, table, table if name == "—" else name))
    return rows


def test_docs_list_exactly_what_the_schema_leaves_out() -> None:
    expected = {(phase, i.kind, i.table, i.name) for phase in PHASES
                for i in not_expressed(phase)}
    assert _doc_rows() == expected


def test_docs_tell_how_to_baseline() -> None:
    text = DOC.read_text(encoding="utf-8")
    for needed in ("prisma migrate resolve --applied", "prisma migrate diff",
                   "--phase phase4", "slotcap_"):
        assert needed in text


@pytest.mark.parametrize("phase", PHASES)
def test_the_output_is_deterministic(phase: str) -> None:
    assert render(schema_for(phase)) == render(schema_for(phase))
    assert render(schema_for(phase)).endswith("}\n")


@pytest.mark.parametrize(("phase", "provider"), [
    ("phase1", "postgresql"), ("legacy", "postgresql"), ("phase3", "postgresql"),
    ("phase2", "sqlite"),
])
def test_unknown_phase_or_provider_is_refused(phase: str, provider: str) -> None:
    with pytest.raises(ConfigurationError, match=r"--phase|--provider"):
        schema_for(phase, provider)


def test_reservation_columns_follow_the_ddl() -> None:
    p2, p4 = (schema_for(p).model("Reservation") for p in PHASES)
    assert [c.name for c in p4.columns] == list(CONTRACTED_COLUMNS)
    assert {c.name for c in p2.columns} == set(CONTRACTED_COLUMNS) | set(LEGACY_ONLY_COLUMNS)
    for name in NEW_COLUMNS:
        assert p2.column(name).optional and not p4.column(name).optional
    names2 = {i.name for i in p2.indexes}
    names4 = {i.name for i in p4.indexes}
    assert IDX_LEGACY_SERVICE in names2 and IDX_LEGACY_SERVICE not in names4
    assert IDX_SERVICE in names2 & names4
    assert {(n, c) for n, c in FINAL_INDEXES} <= {(i.name, i.columns) for i in p4.indexes}


def test_index_names_are_prismas_defaults_so_no_map_is_needed() -> None:
    for phase in PHASES:
        for model in schema_for(phase).models:
            for index in model.indexes:
                assert index.name == index.default_name(model.table)
        assert "map:" not in render(schema_for(phase))


_SEGMENTS = st.lists(
    st.text(st.characters(exclude_characters="/\x00", exclude_categories=["Cs"]),
            min_size=1, max_size=12).filter(lambda s: s not in (".", "..")),
    max_size=4)


@given(config_dir=_SEGMENTS, schema_dir=_SEGMENTS,
       name=_SEGMENTS.filter(bool).map(lambda parts: parts[-1]))
def test_the_configs_schema_path_leads_back_to_the_schema(
        config_dir: list[str], schema_dir: list[str], name: str) -> None:
    """Law: prisma.config.ts names the schema relative to its own folder, so joining the
    two gives the schema file again, for any folder names (quotes and backslashes
    included: the path is a JSON/TypeScript string literal)."""
    folder = posixpath.join("/", *config_dir)
    schema = posixpath.join("/", *schema_dir, name)
    relative = schema_path(folder, schema)
    assert posixpath.normpath(posixpath.join(folder, relative)) == posixpath.normpath(schema)
    text = config_ts("phase2", schema=relative)
    line = next(li for li in text.splitlines() if li.startswith("  schema: "))
    assert json.loads(line.removeprefix("  schema: ").removesuffix(",")) == relative


def test_schema_path_refuses_relative_paths() -> None:
    with pytest.raises(ValueError, match="absolute"):
        schema_path("prisma", "/x/schema.prisma")
