"""Database URLs: parse, redact, connect.

Three schemes: ``memory://``, ``sqlite:///relative.db`` / ``sqlite:////absolute.db``
(SQLAlchemy's convention: the path is what follows ``sqlite:///``) and
``postgresql://user:password@host:port/dbname`` (also ``postgres://``; several
``host:port`` pairs, every libpq parameter, Prisma's ``pgbouncer=true``), handed to
libpq as written but for the parameters that are not libpq's
(:mod:`slotcap.sql.libpq_url`).

A connection that cannot be made because the server is down, restarting, refusing
connections or out of reach is :class:`~slotcap.errors.StoreUnavailable` (retry
later); one the server refused for good (no such role or database, a failed password,
``pg_hba.conf``, a bad parameter) is :class:`~slotcap.errors.ConfigurationError`.

A URL may carry a password. Every message, log line and exception built here uses
:func:`redact`, so the password never leaves this module in text.
"""

from __future__ import annotations

import enum
import sqlite3
from typing import TYPE_CHECKING, Any

import attrs

from slotcap.errors import ConfigurationError, StoreUnavailable
from slotcap.redaction import redact_url, url_secrets
from slotcap.sql.libpq_url import parse_postgres_url

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
    #: SQLite: the file path; PostgreSQL: the URL handed to libpq (secret: it may hold a
    #: password; ``pgbouncer=true`` and Prisma's pool settings removed); memory: "".
    target: str = attrs.field(repr=False)
    #: PostgreSQL behind a transaction pooler (``?pgbouncer=true``, Prisma's mark).
    pooled: bool = False

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
    malformed PostgreSQL URLs included (bad port, IPv6 host without ``]``, a parameter
    libpq does not know): see :mod:`slotcap.sql.libpq_url` (multi-host URLs, every libpq
    parameter, Prisma's ``pgbouncer=true``)."""
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
        checked = parse_postgres_url(url)
        return DatabaseUrl(Engine.POSTGRES, checked.libpq, pooled=checked.pooled)
    hint = (" (a libpq key=value string? write it as a URL)"
            if "://" not in url and "=" in url else "")
    raise ConfigurationError(
        f"unsupported database URL {redact(url)!r}{hint}: use sqlite:///path.db or "
        "postgresql://user@host/db (memory:// too, from Python only: it keeps nothing "
        "between two commands)"
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


#: Words of libpq's message when the server answered and refused for good: a retry
#: cannot help, the configuration must change.
_REFUSED_FOR_GOOD = (
    "does not exist", "authentication failed", "no pg_hba.conf entry", "password",
    "permission denied", "certificate", "invalid", "unsupported", "requires",
)


def connect_postgres(url: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """A psycopg 3 connection; a missing extra or a failed connect names neither the
    password nor anything but the redacted URL. ``StoreUnavailable`` when the server
    could not be reached or is not accepting connections now (down, restarting, a
    standby not yet promoted), ``ConfigurationError`` when it refused for good."""
    driver = psycopg_module()
    try:
        conn: psycopg.Connection[Any] = driver.connect(url, **kwargs)
    except driver.Error as exc:
        # psycopg's message can echo connection parameters; keep only its class name.
        line = _first_line_without_secrets(str(exc), url)
        message = f"cannot connect to {redact(url)}: {type(exc).__name__}: {line}"
        if isinstance(exc, driver.OperationalError) and not any(
            word in line.lower() for word in _REFUSED_FOR_GOOD
        ):
            raise StoreUnavailable(message) from None
        raise ConfigurationError(message) from None
    return conn


def _first_line_without_secrets(message: str, url: str) -> str:
    line = message.strip().splitlines()[0] if message.strip() else ""
    for secret in url_secrets(url):
        line = line.replace(secret, "***")
    return line
