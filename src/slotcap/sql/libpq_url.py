"""PostgreSQL URLs as libpq reads them: several hosts, every documented parameter, and
Prisma's ``pgbouncer=true``.

libpq accepts ``postgresql://user:password@host1:port1,host2:port2/db?param=value&…``
(a multi-host URL, tried in order; with ``target_session_attrs=read-write`` the first
host that accepts writes wins, which is how a client follows a failover). The standard
library's ``urlsplit`` refuses that netloc ("Port could not be cast"), so the authority
is read here, host by host, and nothing else of the URL is rewritten: what libpq gets is
the text the operator wrote, minus the parameters that are not libpq's:

* ``pgbouncer=true`` (Prisma's mark of a URL that goes through a transaction pooler):
  the store then keeps no session state (see :mod:`slotcap.adapters.postgres`) and
  migrations refuse the URL (they need the direct one). libpq itself refuses it
  ("invalid URI query parameter"), so it is removed.
* Prisma's client-side pool settings (``connection_limit``, ``pool_timeout``,
  ``statement_cache_size``, ``socket_timeout``): they size Prisma's own pool and mean
  nothing to slotcap's connections; removed, so one ``DATABASE_URL`` serves both.
* ``schema=public`` (Prisma's default) is removed; another schema is refused: slotcap
  reads and migrates the ``public`` schema.

Any other parameter must be one libpq documents (``sslmode``, ``target_session_attrs``,
``connect_timeout``, ``application_name``, ``keepalives``, …; the installed libpq's own
list is added when psycopg is importable); an unknown one is refused by name. Messages
name the part that is wrong, never its text beyond the redacted URL.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable

import attrs

from slotcap.errors import ConfigurationError
from slotcap.redaction import redact_url

__all__ = ["LIBPQ_PARAMETERS", "PostgresUrl", "parse_postgres_url"]

#: libpq's documented connection parameters (PostgreSQL 17's "Parameter Key Words").
LIBPQ_PARAMETERS: frozenset[str] = frozenset({
    "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "require_auth",
    "channel_binding", "connect_timeout", "client_encoding", "options", "application_name",
    "fallback_application_name", "keepalives", "keepalives_idle", "keepalives_interval",
    "keepalives_count", "tcp_user_timeout", "replication", "gssencmode", "sslmode",
    "requiressl", "sslnegotiation", "sslcompression", "sslcert", "sslkey", "sslkeylogfile",
    "sslpassword", "sslcertmode", "sslrootcert", "sslcrl", "sslcrldir", "sslsni",
    "requirepeer", "ssl_min_protocol_version", "ssl_max_protocol_version", "min_protocol_version",
    "max_protocol_version", "krbsrvname", "gsslib", "gssdelegation", "service",
    "target_session_attrs", "load_balance_hosts", "scram_client_key", "scram_server_key",
    "oauth_issuer", "oauth_client_id", "oauth_client_secret", "oauth_scope",
})
#: Prisma's own client-pool settings: dropped (see the module's docstring).
PRISMA_POOL_PARAMETERS = frozenset(
    {"connection_limit", "pool_timeout", "statement_cache_size", "socket_timeout"}
)
POOLER_PARAMETER = "pgbouncer"
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_PORT_MESSAGE = "the port must be a number from 1 to 65535"


@attrs.frozen
class PostgresUrl:
    #: What libpq is given (secret: may hold a password).
    libpq: str = attrs.field(repr=False)
    #: ``pgbouncer=true``: the URL goes through a transaction-mode pooler.
    pooled: bool
    #: (host, port or None) in the order libpq tries them; an empty host is libpq's default.
    hosts: tuple[tuple[str, int | None], ...]


def _libpq_keywords() -> frozenset[str]:
    try:
        from psycopg import pq
    except ImportError:  # pragma: no cover (exercised only without the postgres extra)
        return LIBPQ_PARAMETERS
    try:
        known = {d.keyword.decode() for d in pq.Conninfo.get_defaults()}
    except Exception:  # pragma: no cover (a libpq without PQconndefaults)
        return LIBPQ_PARAMETERS
    return LIBPQ_PARAMETERS | known


_KEYWORDS: frozenset[str] | None = None


def _known(key: str) -> bool:
    global _KEYWORDS
    if _KEYWORDS is None:
        _KEYWORDS = _libpq_keywords()
    return key in _KEYWORDS


def _port(text: str, where: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ConfigurationError(f"malformed database URL {where!r}: {_PORT_MESSAGE}")
    return int(text)


def _host_entry(entry: str, where: str) -> tuple[str, int | None]:
    if entry.startswith("["):
        end = entry.find("]")
        if end < 0:
            raise ConfigurationError(
                f"malformed database URL {where!r}: an IPv6 host must be written in "
                "brackets, e.g. postgresql://u@[::1]:5432/db"
            )
        host, rest = entry[1:end], entry[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ConfigurationError(f"malformed database URL {where!r}: it cannot be parsed")
        return host, (_port(rest[1:], where) if rest else None)
    if "[" in entry or "]" in entry:
        raise ConfigurationError(
            f"malformed database URL {where!r}: an IPv6 host must be written in brackets, "
            "e.g. postgresql://u@[::1]:5432/db"
        )
    host, colon, port = entry.partition(":")
    return urllib.parse.unquote(host), (_port(port, where) if colon else None)


def _hosts(hostlist: str, where: str) -> tuple[tuple[str, int | None], ...]:
    return tuple(_host_entry(entry, where) for entry in hostlist.split(","))


def _flag(value: str, where: str) -> bool:
    text = urllib.parse.unquote_plus(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigurationError(
        f"database URL {where!r}: {POOLER_PARAMETER}= must be true or false"
    )


def _query(pieces: Iterable[str], where: str) -> tuple[list[str], bool]:
    """The pieces libpq is given, and whether the URL is marked pooled."""
    kept: list[str] = []
    pooled = False
    for piece in pieces:
        if not piece:
            continue
        raw_key, eq, value = piece.partition("=")
        key = urllib.parse.unquote_plus(raw_key)
        shown = key[:40]
        if not eq:
            raise ConfigurationError(
                f"database URL {where!r}: the parameter {shown!r} has no '=value'"
            )
        if key == POOLER_PARAMETER:
            pooled = _flag(value, where)
        elif key in PRISMA_POOL_PARAMETERS:
            continue
        elif key == "schema":
            if urllib.parse.unquote_plus(value) != "public":
                raise ConfigurationError(
                    f"database URL {where!r}: schema= (Prisma's) must be public: slotcap "
                    "reads and migrates the public schema"
                )
        elif not _known(key):
            raise ConfigurationError(
                f"database URL {where!r}: unknown parameter {shown!r} (libpq's parameters "
                "such as sslmode or target_session_attrs are accepted, and Prisma's "
                "pgbouncer=true)"
            )
        else:
            if key == "port":
                for port in urllib.parse.unquote_plus(value).split(","):
                    if port:
                        _port(port.strip(), where)
            kept.append(piece)
    return kept, pooled


def parse_postgres_url(url: str) -> PostgresUrl:
    """Check a ``postgresql://`` / ``postgres://`` URL the way libpq reads it;
    ``ConfigurationError`` (redacted, naming the part) for anything libpq would refuse
    or slotcap cannot honour."""
    where = redact_url(url)
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in url):
        raise ConfigurationError(f"malformed database URL {where!r}: it contains a control "
                                 "character")
    if "#" in url:
        raise ConfigurationError(
            f"malformed database URL {where!r}: '#' must be percent-encoded (%23), "
            "e.g. in a password"
        )
    scheme, _, rest = url.partition("://")
    authority_end = min((i for i in map(rest.find, "/?") if i >= 0), default=len(rest))
    authority, tail = rest[:authority_end], rest[authority_end:]
    if "@" in tail:
        raise ConfigurationError(
            f"malformed database URL {where!r}: a '/', '?', '#' or '@' in the user name or "
            "password must be percent-encoded (%2F, %3F, %23, %40)"
        )
    hostlist = authority.rpartition("@")[2]
    hosts = _hosts(hostlist, where)
    path, question, query = tail.partition("?")
    kept, pooled = _query(query.split("&") if question else [], where)
    libpq = f"{scheme}://{authority}{path}" + (f"?{'&'.join(kept)}" if kept else "")
    return PostgresUrl(libpq=libpq, pooled=pooled, hosts=hosts)
