"""Database URLs: parse, redact, connect.

Three schemes: ``memory://``, ``sqlite:///relative.db`` / ``sqlite:////absolute.db``
(SQLAlchemy's convention: the path is what follows ``sqlite:///``) and
``postgresql://user:password@host:port/dbname`` (also ``postgres://``), handed to
libpq unchanged.

A URL may carry a password. Every message, log line and exception built here uses
:func:`redact`, so the password never leaves this module in text.
"""

from __future__ import annotations

import enum
import sqlite3
import urllib.parse
from typing import TYPE_CHECKING, Any

import attrs

from slotcap.errors import ConfigurationError

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "DatabaseUrl",
    "Engine",
    "connect_postgres",
    "connect_sqlite",
    "parse_url",
    "redact",
]

#: How long a SQLite writer waits for another writer before ``database is locked``.
SQLITE_BUSY_TIMEOUT_MS = 10_000


class Engine(enum.StrEnum):
    MEMORY = "memory"
    SQLITE = "sqlite"
    POSTGRES = "postgresql"


@attrs.frozen
class DatabaseUrl:
    engine: Engine
    #: SQLite: the file path; PostgreSQL: the whole URL (secret); memory: "".
    target: str = attrs.field(repr=False)

    @property
    def redacted(self) -> str:
        return redact(self.target) if self.engine is Engine.POSTGRES else str(self)

    def __str__(self) -> str:
        if self.engine is Engine.MEMORY:
            return "memory://"
        if self.engine is Engine.SQLITE:
            return f"sqlite:///{self.target}"
        return redact(self.target)


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (also ``password=`` query params)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparseable database URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostinfo = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{hostinfo}" if ":" in userinfo else f"{user}@{hostinfo}"
    query = urllib.parse.urlencode(
        [
            (key, "***" if key.lower() == "password" else value)
            for key, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        ]
    )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def parse_url(url: str) -> DatabaseUrl:
    """Recognise a store URL; ``ConfigurationError`` (redacted) for anything else."""
    if url.startswith("memory://"):
        return DatabaseUrl(Engine.MEMORY, "")
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if not path:
            raise ConfigurationError("sqlite URL needs a file path: sqlite:///path/to.db")
        return DatabaseUrl(Engine.SQLITE, path)
    if url.startswith(("postgresql://", "postgres://")):
        return DatabaseUrl(Engine.POSTGRES, url)
    raise ConfigurationError(
        f"unsupported database URL {redact(url)!r}: use memory://, sqlite:///path.db "
        "or postgresql://user@host/db"
    )


def connect_sqlite(path: str) -> sqlite3.Connection:
    """A connection set up for many threads and processes on one file.

    WAL lets readers run beside the one writer; ``busy_timeout`` makes a second writer
    wait instead of failing at once; autocommit mode (``isolation_level=None``) so that
    every transaction is opened explicitly — ``BEGIN IMMEDIATE`` for booking.
    """
    conn = sqlite3.connect(
        path,
        timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=False,
    )
    conn.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_MS)}")
    if path != ":memory:":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def connect_postgres(url: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """A psycopg 3 connection; a missing extra or a failed connect names neither the
    password nor anything but the redacted URL."""
    try:
        import psycopg
    except ImportError:
        raise ConfigurationError(
            "PostgreSQL support needs psycopg 3: pip install 'slotcap[postgres]'"
        ) from None
    try:
        return psycopg.connect(url, **kwargs)
    except psycopg.Error as exc:
        # psycopg's message can echo connection parameters; keep only its class name.
        raise ConfigurationError(
            f"cannot connect to {redact(url)}: {type(exc).__name__}: "
            f"{_first_line_without_secrets(str(exc), url)}"
        ) from None


def _first_line_without_secrets(message: str, url: str) -> str:
    line = message.strip().splitlines()[0] if message.strip() else ""
    password = urllib.parse.urlsplit(url).password
    if password:
        line = line.replace(password, "***")
    return line
