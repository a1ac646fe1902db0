"""Hypothesis strategies of Prisma schema descriptions (slotcap.migration.prisma.model):
random but valid models and enums, to hold the renderer to ``prisma format``'s layout."""

from __future__ import annotations

from hypothesis import strategies as st

from slotcap.migration.prisma import Column, Enum, Index, Model, Schema

__all__ = ["schemas"]

_SCALARS = ("String", "Int", "Boolean", "DateTime")
_DEFAULTS = {"String": '"x"', "Int": "7", "Boolean": "false", "DateTime": "now()"}

_idents = st.from_regex(r"[a-z][A-Za-z0-9]{0,18}", fullmatch=True)
_comments = st.none() | st.from_regex(r"[A-Za-z0-9 ,.:=()'-]{1,30}", fullmatch=True).map(
    str.strip).filter(bool)


@st.composite
def _column(draw: st.DrawFn, name: str, enums: list[str]) -> Column:
    type_ = draw(st.sampled_from([*_SCALARS, *enums]))
    optional = draw(st.booleans())
    default = None
    if draw(st.booleans()):
        default = _DEFAULTS.get(type_) or draw(st.sampled_from(["A", "B"]))
    return Column(
        name, type_, optional=optional, default=default,
        unique=not optional and draw(st.booleans()),
        native="@db.Date" if type_ == "DateTime" and draw(st.booleans()) else None,
        updated_at=type_ == "DateTime" and default is None and draw(st.booleans()),
        comment=draw(_comments),
    )


@st.composite
def _model(draw: st.DrawFn, index: int, enums: list[str]) -> Model:
    names = draw(st.lists(_idents, min_size=1, max_size=8, unique_by=str.lower)
                 .filter(lambda ns: "id" not in ns))
    table = f"t{index}_{draw(_idents).lower()}"
    columns = [Column("id", "String", id=True)]
    columns += [draw(_column(n, enums)) for n in names]
    indexes: list[Index] = []
    for _ in range(draw(st.integers(0, 3))):
        cols = tuple(draw(st.lists(st.sampled_from(names), min_size=1, max_size=3,
                                   unique=True)))
        index_ = Index(cols, "", unique=False)
        name = index_.default_name(table)
        if name not in {i.name for i in indexes}:
            indexes.append(Index(cols, name, comment=draw(_comments)))
    return Model(f"M{index}{draw(_idents)}", table, tuple(columns), (), tuple(indexes),
                 comment=draw(_comments))


@st.composite
def schemas(draw: st.DrawFn) -> Schema:
    """A valid PostgreSQL schema of 1-4 models (no relations) and 0-2 enums (A, B)."""
    enums = [f"E{i}" for i in range(draw(st.integers(0, 2)))]
    models = [draw(_model(i, enums)) for i in range(draw(st.integers(1, 4)))]
    return Schema("phase2", "postgresql", tuple(models),
                  tuple(Enum(e, ("A", "B")) for e in enums))
