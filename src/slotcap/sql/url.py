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
from slotcap.redaction import redact_url

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "DatabaseUrl",
    "Engine",
    "connect_postgres",
    "connect_sqlite",
    "parse_url",
    "psycopg_module",
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
    """The URL with any password replaced by ``***`` (also ``password=`` pairs); never
    raises, even on a malformed URL (see :mod:`slotcap.redaction`)."""
    return redact_url(url)


def parse_url(url: str) -> DatabaseUrl:
    """Recognise a store URL; ``ConfigurationError`` (redacted) for anything else,
    malformed PostgreSQL URLs included (bad port, IPv6 host without ``]``)."""
    if not isinstance(url, str):
        raise ConfigurationError(f"a database URL must be text, not {type(url).__name__}")
    if url.startswith("memory://"):
        return DatabaseUrl(Engine.MEMORY, "")
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if not path:
            raise ConfigurationError("sqlite URL needs a file path: sqlite:///path/to.db")
        if "\x00" in path:
            raise ConfigurationError("sqlite URL: the file path contains a NUL character")
        return DatabaseUrl(Engine.SQLITE, path)
    if url.startswith(("postgresql://", "postgres://")):
        _check_postgres_url(url)
        return DatabaseUrl(Engine.POSTGRES, url)
    hint = (" (a libpq key=value string? write it as a URL)"
            if "://" not in url and "=" in url else "")
    raise ConfigurationError(
        f"unsupported database URL {redact(url)!r}{hint}: use sqlite:///path.db or "
        "postgresql://user@host/db (memory:// too, from Python only: it keeps nothing "
        "between two commands)"
    )


def _check_postgres_url(url: str) -> None:
    """Refuse what urllib or libpq would choke on, naming the part but never its text
    (urllib's own messages can quote a piece of the password)."""
    where = redact(url)
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in url):
        raise ConfigurationError(f"malformed database URL {where!r}: it contains a control "
                                 "character")
    rest = url.partition("://")[2]
    authority_end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    if "@" in rest[authority_end:]:
        raise ConfigurationError(
            f"malformed database URL {where!r}: a '/', '?', '#' or '@' in the user name or "
            "password must be percent-encoded (%2F, %3F, %23, %40)"
        )
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        if "IPv6" in str(exc):
            reason = "an IPv6 host must be written in brackets, e.g. postgresql://u@[::1]:5432/db"
        elif "Port" in str(exc) or "port" in str(exc):
            reason = "the port must be a number from 1 to 65535"
        else:
            reason = "it cannot be parsed"
        raise ConfigurationError(f"malformed database URL {where!r}: {reason}") from None
    if port == 0:
        raise ConfigurationError(f"malformed database URL {where!r}: "
                                 "the port must be a number from 1 to 65535")
    if parts.fragment or "#" in url:
        raise ConfigurationError(
            f"malformed database URL {where!r}: '#' must be percent-encoded (%23), "
            "e.g. in a password"
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


def psycopg_module() -> Any:
    """psycopg, or ``ConfigurationError`` naming the extra to install: the one place
    the optional driver is imported for use (it stays optional for SQLite users)."""
    try:
        import psycopg
    except ImportError:
        raise ConfigurationError(
            "PostgreSQL support needs psycopg 3: pip install 'slotcap[postgres]'"
        ) from None
    return psycopg


def connect_postgres(url: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """A psycopg 3 connection; a missing extra or a failed connect names neither the
    password nor anything but the redacted URL."""
    driver = psycopg_module()
    try:
        conn: psycopg.Connection[Any] = driver.connect(url, **kwargs)
    except driver.Error as exc:
        # psycopg's message can echo connection parameters; keep only its class name.
        raise ConfigurationError(
            f"cannot connect to {redact(url)}: {type(exc).__name__}: "
            f"{_first_line_without_secrets(str(exc), url)}"
        ) from None
    return conn


def _first_line_without_secrets(message: str, url: str) -> str:
    line = message.strip().splitlines()[0] if message.strip() else ""
    password = urllib.parse.urlsplit(url).password
    if password:
        line = line.replace(password, "***")
    return line
