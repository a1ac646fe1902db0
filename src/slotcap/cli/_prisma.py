"""``slotcap prisma-schema --phase phase2|phase4``: the web application's schema.prisma.

A thin shell over :mod:`slotcap.migration.prisma` (pure: no database). ``--output``
writes the file whole or not at all (a temporary file renamed over it).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from slotcap.cli._args import UsageError
from slotcap.migration import prisma

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


def cmd_prisma_schema(args: argparse.Namespace) -> int:
    text = prisma.render(prisma.schema_for(args.phase, args.provider))
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
    parser.set_defaults(handler=cmd_prisma_schema)
