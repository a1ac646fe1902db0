"""``slotcap prisma-schema --phase phase2|phase4``: the web application's schema.prisma.

A thin shell over :mod:`slotcap.migration.prisma` (pure: no database). ``--prisma 7``
(the default) prints what Prisma 7 accepts (no ``url`` in the datasource) and
``--config-out FILE`` writes the matching ``prisma.config.ts``; ``--prisma 6`` keeps the
URL in the schema. ``--output`` and ``--config-out`` write each file whole or not at all
(a temporary file renamed over it), with the mode an ordinary new file gets (or the
mode of the file replaced). ``--database`` compares a live PostgreSQL database with the
schema first (exit 1 on a difference, and nothing is written). ``--json`` prints one
JSON document instead of text.
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


def _mode_for(path: Path) -> int:
    """The mode of the file being replaced, else what ``open()`` gives a new file
    (0666 less the umask: 0644 under the usual 022)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def _write(option: str, path: Path, text: str) -> None:
    if path.is_dir():
        raise UsageError(f"{option}: {path} is a directory; name a file")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"{option}: directory does not exist: {parent}")
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"{option}: cannot write {path}: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UsageError(f"{option}: cannot write {path}: {exc.strerror or exc}") from None


def _schema_path_from_config(args: argparse.Namespace) -> str:
    """The schema's path as prisma.config.ts names it: relative to the config's folder."""
    if not args.output:
        return "prisma/schema.prisma"
    return prisma.schema_path(Path(args.config_out).resolve().parent.as_posix(),
                              Path(args.output).resolve().as_posix())


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
        emit_json({"phase": args.phase, "prisma": args.prisma, **_drift_dict(drift)})
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


def _json_document(args: argparse.Namespace, text: str, config: str | None) -> dict[str, Any]:
    return {"phase": args.phase, "prisma": args.prisma, "provider": args.provider,
            "schema": text, "config": config, "output": args.output,
            "config_out": args.config_out}


def cmd_prisma_schema(args: argparse.Namespace) -> int:
    if args.config_out and args.prisma < 7:
        raise UsageError("--config-out: prisma.config.ts is for Prisma 7 (--prisma 7); "
                         "with --prisma 6 the URL stays in schema.prisma")
    if args.config_out and args.output and Path(args.config_out) == Path(args.output):
        raise UsageError("--config-out: name another file than --output")
    schema = prisma.schema_for(args.phase, args.provider)
    text = prisma.render(schema, prisma=args.prisma)
    config = (prisma.config_ts(args.phase, schema=_schema_path_from_config(args))
              if args.config_out else None)
    if args.database:
        drift = _check(args, schema)
        if not drift.ok:
            return 1
        if not (args.output or args.config_out):
            return 0
    if args.output:
        _write("--output", Path(args.output), text)
    if config is not None:
        _write("--config-out", Path(args.config_out), config)
    if args.json and not args.database:
        emit_json(_json_document(args, text, config))
        return 0
    for option, what in ((args.output, "Prisma schema"), (args.config_out, "prisma.config.ts")):
        if option:
            print(f"wrote {option} ({what} after {args.phase}, Prisma {args.prisma})",
                  file=sys.stderr)
    if not args.output and not args.database:
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
    parser.add_argument("--prisma", type=int, choices=prisma.PRISMA_VERSIONS,
                        default=prisma.DEFAULT_PRISMA,
                        help="the Prisma major version: 7 (default) has no url in the "
                        "datasource (see --config-out); 6 keeps url = env(\"DATABASE_URL\")")
    parser.add_argument("--output", metavar="FILE",
                        help="write the schema to FILE (whole or not at all) instead of stdout")
    parser.add_argument("--config-out", metavar="FILE",
                        help="also write the matching prisma.config.ts to FILE (Prisma 7): "
                        "the schema's path relative to it, migrations beside the schema, "
                        "the URL from DATABASE_URL")
    parser.add_argument("--database", metavar="URL",
                        help="compare this PostgreSQL database with the schema instead of "
                        "printing it; exit 1 if they differ (with --output, the file is "
                        "written only when they match)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document: the phase, the Prisma version, the "
                        "schema and the config (with --database: the comparison)")
    parser.set_defaults(handler=cmd_prisma_schema)
