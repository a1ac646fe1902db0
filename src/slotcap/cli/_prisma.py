"""``slotcap prisma-schema --phase phase2|phase4``: the web application's schema.prisma.

A thin shell over :mod:`slotcap.migration.prisma` (pure: no database). ``--output``
writes the file whole or not at all (a temporary file renamed over it). ``--database``
compares a live PostgreSQL database with the schema instead (exit 1 on a difference).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from slotcap.cli._args import UsageError, resolve_database
from slotcap.cli._render import emit_json
from slotcap.migration import prisma, snapshot
from slotcap.migration.prisma.drift import Drift, compare
from slotcap.sql import Dialect, open_sql

__all__ = ["cmd_prisma_schema", "register"]


def _write(path: Path, text: str) -> None:
    if path.is_dir():
        raise UsageError(f"--output: {path} is a directory; name a file")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"--output: directory does not exist: {parent}")
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"--output: cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UsageError(f"--output: cannot write {path}: {exc.strerror or exc}") from None


def _drift_dict(drift: Drift) -> dict[str, Any]:
    def items(found: tuple[prisma.NotExpressed, ...]) -> list[dict[str, str]]:
        return [{"kind": i.kind, "table": i.table, "name": i.name} for i in found]

    return {"matches": drift.ok, "differences": [str(d) for d in drift.differences],
            "unannounced": items(drift.unexpected), "announced_but_absent": items(drift.absent),
            "not_modelled": items(drift.unmodelled)}


def _check(args: argparse.Namespace, schema: prisma.Schema) -> Drift:
    with open_sql(resolve_database(args.database)) as conn:
        if conn.dialect is not Dialect.POSTGRES:
            raise UsageError("--database: the Prisma schema describes a PostgreSQL "
                             "database; this one is SQLite")
        drift = compare(snapshot(conn), schema)
    if args.json:
        emit_json({"phase": args.phase, **_drift_dict(drift)})
        return drift
    if drift.ok:
        print(f"The database matches the {args.phase} Prisma schema "
              f"({len(schema.models)} models, {len(schema.enums)} enums).")
    else:
        print(f"The database does NOT match the {args.phase} Prisma schema:")
        for difference in drift.differences:
            print(f"  {difference}")
        for item in drift.unexpected:
            print(f"  {item.table}: {item.kind} {item.name} is not modelled and not "
                  "announced in docs/prisma.md")
        for item in drift.absent:
            print(f"  {item.table}: {item.kind} {item.name} is announced but absent")
    print(f"Not modelled (expected `prisma migrate diff` drift, docs/prisma.md): "
          f"{len(drift.unmodelled)} objects")
    for item in drift.unmodelled:
        print(f"  {item.kind:<6} {item.table}.{item.name}" if item.kind != "table"
              else f"  table  {item.name}")
    return drift


def cmd_prisma_schema(args: argparse.Namespace) -> int:
    schema = prisma.schema_for(args.phase, args.provider)
    text = prisma.render(schema)
    if args.database:
        drift = _check(args, schema)
        if not drift.ok:
            return 1
        if not args.output:
            return 0
    if args.output:
        _write(Path(args.output), text)
        print(f"wrote {args.output} (Prisma schema after {args.phase})", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def register(sub: Any) -> None:
    """Add ``prisma-schema`` to the top-level subparsers ``sub``."""
    text = "print the Prisma schema of a database after phase 2 or phase 4 (no database needed)"
    parser = sub.add_parser("prisma-schema", help=text, description=text)
    parser.add_argument("--phase", required=True, choices=prisma.PHASES,
                        help="phase2: legacy and new columns side by side; phase4: contracted")
    parser.add_argument("--provider", choices=prisma.PROVIDERS, default="postgresql",
                        help="the datasource provider (default: %(default)s)")
    parser.add_argument("--output", metavar="FILE",
                        help="write the schema to FILE (whole or not at all) instead of stdout")
    parser.add_argument("--database", metavar="URL",
                        help="compare this PostgreSQL database with the schema instead of "
                        "printing it; exit 1 if they differ (with --output, the file is "
                        "written only when they match)")
    parser.add_argument("--json", action="store_true",
                        help="with --database: print the comparison as one JSON document")
    parser.set_defaults(handler=cmd_prisma_schema)
