"""Option types and the ``--database`` resolution, shared by every subcommand.

Bad values are usage errors (exit 2) whose message names the option; a database URL
is only ever echoed redacted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from slotcap.bootstrap import DATABASE_ENV, open_store
from slotcap.errors import ConfigurationError, InvalidRequest, UsageError
from slotcap.ports import Store
from slotcap.sql.url import Engine, parse_url

__all__ = [
    "DATABASE_ENV",
    "DIRECT_DATABASE_ENV",
    "UsageError",
    "add_database",
    "add_direct_url",
    "add_json",
    "fields_as_options",
    "iso_date",
    "non_negative_float",
    "positive_float",
    "positive_int",
    "resolve_database",
    "resolve_direct_database",
    "store_of",
]

#: The database URL migrations use when the app's goes through a pooler (Prisma's
#: ``directUrl``).
DIRECT_DATABASE_ENV = "SLOTCAP_DIRECT_DATABASE_URL"



def iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use YYYY-MM-DD)") from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def add_database(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        metavar="URL",
        help=f"sqlite:///path.db or postgresql://user@host/db (default: ${DATABASE_ENV})",
    )


def add_direct_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--direct-url",
        metavar="URL",
        dest="direct_url",
        help="PostgreSQL's own address, not a pooler's: what this command runs on when "
        f"--database goes through PgBouncer (default: ${DIRECT_DATABASE_ENV}, else "
        "--database)",
    )


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def resolve_database(value: str | None, *, must_exist: bool = True) -> str:
    """The URL from ``--database`` or the environment, checked but never echoed raw.

    An SQLite file that does not exist is refused: opening it would silently create an
    empty database and every report would then describe nothing.
    """
    source = "--database"
    if not value:
        value = os.environ.get(DATABASE_ENV, "").strip()
        source = DATABASE_ENV
    if not value:
        raise UsageError(f"--database is required (or set {DATABASE_ENV})")
    try:
        parsed = parse_url(value)
    except ConfigurationError as exc:
        raise UsageError(f"{source}: {exc.message}") from None
    if parsed.engine is Engine.MEMORY:
        raise UsageError(f"{source}: memory:// holds nothing between commands; "
                         "use sqlite:///path.db or postgresql://...")
    if must_exist and parsed.engine is Engine.SQLITE and not Path(parsed.target).is_file():
        raise UsageError(f"{source}: no such SQLite database file: {parsed.target}")
    return value


def resolve_direct_database(args: argparse.Namespace) -> str:
    """The URL a migration command runs on (Prisma's ``directUrl``): ``--direct-url``,
    else ``SLOTCAP_DIRECT_DATABASE_URL``, else the ``--database`` URL — refused when it
    goes through a pooler (``?pgbouncer=true``), where a migration's session settings
    and its run lock would be left on a server connection other clients then use."""
    value, source = getattr(args, "direct_url", None), "--direct-url"
    if not value:
        value, source = os.environ.get(DIRECT_DATABASE_ENV, "").strip(), DIRECT_DATABASE_ENV
    if value:
        try:
            parsed = parse_url(value)
        except ConfigurationError as exc:
            raise UsageError(f"{source}: {exc.message}") from None
        if parsed.pooled:
            raise UsageError(f"{source}: this URL goes through a pooler (pgbouncer=true); "
                             "give PostgreSQL's own address")
        if parsed.engine is Engine.MEMORY:
            raise UsageError(f"{source}: memory:// holds nothing between commands")
        return value
    url = resolve_database(args.database)
    if parse_url(url).pooled:
        raise UsageError(
            "the database URL goes through a pooler (pgbouncer=true) and migrations need a "
            f"direct connection: pass --direct-url or set {DIRECT_DATABASE_ENV}"
        )
    return url


@contextmanager
def store_of(args: argparse.Namespace) -> Iterator[Store]:
    """Only a store, from ``--database`` or the environment (the commands that need no
    rollout or clock of ``bootstrap()``), closed when the command is done."""
    with open_store(resolve_database(args.database)) as store:
        yield store


@contextmanager
def fields_as_options(error: type[InvalidRequest], options: Mapping[str, str]) -> Iterator[None]:
    """``error`` raised inside again, its fields named as the command's arguments
    (``options``: library field name → ``--option`` or ``ARGUMENT``)."""
    try:
        yield
    except error as exc:
        raise error({options.get(f, f): problem for f, problem in exc.fields.items()}) from None
