"""The building blocks of a Prisma schema and their renderer (``prisma format``'s layout).

Pure: a :class:`Schema` in, the ``schema.prisma`` text out. What the blocks hold for
slotcap's databases is in :mod:`slotcap.migration.prisma.schema`.
"""

from __future__ import annotations

from typing import Final

import attrs

from slotcap.errors import ConfigurationError

__all__ = [
    "DEFAULT_PRISMA",
    "PRISMA_VERSIONS",
    "RELATION",
    "Column",
    "Enum",
    "Index",
    "Model",
    "NotExpressed",
    "Relation",
    "Schema",
    "check_prisma",
    "render",
]

#: The Prisma major versions a schema is generated for; 7 (today's) by default.
PRISMA_VERSIONS: Final = (7, 6)
DEFAULT_PRISMA: Final = 7

#: The one relation of the schema (Reservation.serviceId -> Service.id), by its name.
RELATION = "ServiceToReservation"


@attrs.frozen
class Column:
    """One scalar field, named as its column (Prisma's camelCase names are the DDL's)."""

    name: str
    #: Prisma scalar type (``String``, ``Int``, ``Boolean``, ``DateTime``) or an enum name.
    type: str
    optional: bool = False
    #: The ``@default(...)`` argument: ``now()``, ``true``, ``30``, ``PENDING``.
    default: str | None = None
    id: bool = False
    unique: bool = False
    updated_at: bool = False
    #: A native type attribute, e.g. ``@db.Date``.
    native: str | None = None
    comment: str | None = None

    def attributes(self) -> list[str]:
        out = []
        if self.id:
            out.append("@id")
        if self.unique:
            out.append("@unique")
        if self.default is not None:
            out.append(f"@default({self.default})")
        if self.updated_at:
            out.append("@updatedAt")
        if self.native:
            out.append(self.native)
        return out


@attrs.frozen
class Relation:
    """A relation field: the owning side (``fields``/``references``) or the back side."""

    name: str
    model: str
    optional: bool = False
    many: bool = False
    fields: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    on_delete: str | None = None
    on_update: str | None = None
    #: The foreign key constraint's name (rendered ``map:`` when not Prisma's default).
    constraint: str | None = None
    comment: str | None = None

    def attribute(self, table: str) -> str:
        args = [f'"{RELATION}"']
        if self.fields:
            args.append(f"fields: [{', '.join(self.fields)}]")
            args.append(f"references: [{', '.join(self.references)}]")
            if self.on_delete:
                args.append(f"onDelete: {self.on_delete}")
            if self.on_update:
                args.append(f"onUpdate: {self.on_update}")
            default = f"{table}_{'_'.join(self.fields)}_fkey"
            if self.constraint and self.constraint != default:
                args.append(f'map: "{self.constraint}"')
        return f"@relation({', '.join(args)})"


@attrs.frozen
class Index:
    """A plain b-tree index (``@@index``) or a composite unique one (``@@unique``)."""

    columns: tuple[str, ...]
    name: str
    unique: bool = False
    comment: str | None = None

    def default_name(self, table: str) -> str:
        return f"{table}_{'_'.join(self.columns)}_{'key' if self.unique else 'idx'}"


@attrs.frozen
class Model:
    name: str
    table: str
    columns: tuple[Column, ...]
    relations: tuple[Relation, ...] = ()
    indexes: tuple[Index, ...] = ()
    comment: str | None = None

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@attrs.frozen
class Enum:
    name: str
    values: tuple[str, ...]
    comment: str | None = None


@attrs.frozen
class NotExpressed:
    """A database object the Prisma schema cannot describe (``kind``: table, index,
    check)."""

    kind: str
    table: str
    name: str
    why: str


@attrs.frozen
class Schema:
    phase: str
    provider: str
    models: tuple[Model, ...]
    enums: tuple[Enum, ...]

    def model(self, name: str) -> Model:
        return next(m for m in self.models if m.name == name)


# -- rendering (prisma format's layout) -----------------------------------------------------


def _aligned(rows: list[tuple[tuple[str, ...], str | None]]) -> list[str]:
    """Field lines as ``prisma format`` lays them out: each cell but a line's last padded
    to its column's widest cell (over every line that has one) plus one space; a trailing
    comment is not a column, it follows the last cell after one space."""
    widths: dict[int, int] = {}
    for cells, _comment in rows:
        for i, cell in enumerate(cells):
            widths[i] = max(widths.get(i, 0), len(cell))
    out = []
    for cells, comment in rows:
        text = " ".join(cell.ljust(widths[i]) if i < len(cells) - 1 else cell
                        for i, cell in enumerate(cells))
        out.append(f"  {text} // {comment}" if comment else f"  {text}")
    return out


def _render_model(model: Model) -> list[str]:
    rows: list[tuple[tuple[str, ...], str | None]] = []
    for col in model.columns:
        type_ = col.type + ("?" if col.optional else "")
        attributes = " ".join(col.attributes())
        rows.append(((col.name, type_, attributes) if attributes else (col.name, type_),
                     col.comment))
    for rel in model.relations:
        type_ = rel.model + ("[]" if rel.many else "?" if rel.optional else "")
        rows.append(((rel.name, type_, rel.attribute(model.table)), rel.comment))
    lines = [f"/// {model.comment}"] if model.comment else []
    lines += [f"model {model.name} {{", *_aligned(rows)]
    block = []
    for index in model.indexes:
        keyword = "@@unique" if index.unique else "@@index"
        args = f"[{', '.join(index.columns)}]"
        if index.name != index.default_name(model.table):
            args += f', map: "{index.name}"'
        line = f"  {keyword}({args})"
        if index.comment:
            line += f" // {index.comment}"
        block.append(line)
    if model.name != model.table:
        block.append(f'  @@map("{model.table}")')
    if block:
        lines += ["", *block]
    lines.append("}")
    return lines


def _render_enum(enum: Enum) -> list[str]:
    lines = [f"/// {enum.comment}"] if enum.comment else []
    return [*lines, f"enum {enum.name} {{", *(f"  {v}" for v in enum.values), "}"]


def render(schema: Schema, *, prisma: int = DEFAULT_PRISMA) -> str:
    """The ``schema.prisma`` text for Prisma ``prisma`` (7, the default, or 6),
    deterministic and already in ``prisma format``'s layout. Prisma 7 refuses a ``url``
    in the datasource (P1012): its URL lives in ``prisma.config.ts``
    (:func:`slotcap.migration.prisma.config.config_ts`); Prisma 6 reads it from here."""
    check_prisma(prisma)
    datasource = ["datasource db {", f'  provider = "{schema.provider}"']
    if prisma < 7:
        datasource.append('  url      = env("DATABASE_URL")')
    else:
        datasource.insert(0, "// Prisma 7: the connection URL is in prisma.config.ts.")
    blocks: list[list[str]] = [
        [
            f"// Generated by `slotcap prisma-schema --phase {schema.phase} --prisma {prisma}`:",
            "// the database as slotcap's migration leaves it. Objects Prisma cannot describe",
            "// (INCLUDE and partial indexes, CHECK constraints, the slotcap_* tables) are not",
            "// modelled; `prisma migrate diff` reports them as drift: expected, never to be",
            "// dropped. See slotcap's docs/prisma.md.",
        ],
        [
            "generator client {",
            '  provider = "prisma-client-js"',
            "}",
        ],
        [*datasource, "}"],
    ]
    blocks += [_render_model(m) for m in schema.models]
    blocks += [_render_enum(e) for e in schema.enums]
    return "\n\n".join("\n".join(b) for b in blocks) + "\n"


def check_prisma(prisma: int) -> None:
    """Refuse a Prisma major version the schema is not generated for."""
    if prisma not in PRISMA_VERSIONS:
        raise ConfigurationError(
            f"--prisma: {prisma!r} is not one of {', '.join(map(str, PRISMA_VERSIONS))}"
        )
