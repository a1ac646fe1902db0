"""PostgreSQL URLs as libpq reads them (slotcap.sql.libpq_url): several hosts, every
libpq parameter, Prisma's pgbouncer=true; passwords redacted and nothing else."""

from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import require_psycopg

from slotcap import ConfigurationError, open_store
from slotcap.redaction import MASK
from slotcap.sql.libpq_url import LIBPQ_PARAMETERS, parse_postgres_url
from slotcap.sql.url import Engine, parse_url, redact

PW = "Zq7SecretPW"


@pytest.mark.parametrize(
    ("url", "libpq", "pooled", "hosts"),
    [
        ("postgresql://u:p@h1:5432,h2:5433/db?target_session_attrs=read-write",
         "postgresql://u:p@h1:5432,h2:5433/db?target_session_attrs=read-write", False,
         (("h1", 5432), ("h2", 5433))),
        ("postgresql://u@db:6432/clinic?pgbouncer=true&connection_limit=1&sslmode=require",
         "postgresql://u@db:6432/clinic?sslmode=require", True, (("db", 6432),)),
        ("postgres://u@db/clinic?pgbouncer=false&schema=public", "postgres://u@db/clinic",
         False, (("db", None),)),
        ("postgresql://[::1]:5432,[fe80::1]/db", "postgresql://[::1]:5432,[fe80::1]/db",
         False, (("::1", 5432), ("fe80::1", None))),
        ("postgresql:///db?host=/var/run/postgresql&port=5432,5433",
         "postgresql:///db?host=/var/run/postgresql&port=5432,5433", False, (("", None),)),
        ("postgresql://%2Fvar%2Frun%2Fpostgresql/db", "postgresql://%2Fvar%2Frun%2Fpostgresql/db",
         False, (("/var/run/postgresql", None),)),
        ("postgresql://h,h2/db?PGBOUNCER=TRUE&pgbouncer=1", "postgresql://h,h2/db", True,
         (("h", None), ("h2", None))),
    ],
)
def test_libpq_urls_are_accepted(
    url: str, libpq: str, pooled: bool, hosts: tuple[tuple[str, int | None], ...]
) -> None:
    if "PGBOUNCER" in url:  # parameter names are case-sensitive in libpq: refused
        with pytest.raises(ConfigurationError, match="unknown parameter 'PGBOUNCER'"):
            parse_postgres_url(url)
        url = url.replace("PGBOUNCER=TRUE&", "")
    checked = parse_postgres_url(url)
    assert (checked.libpq, checked.pooled, checked.hosts) == (libpq, pooled, hosts)
    parsed = parse_url(url)
    assert (parsed.engine, parsed.target, parsed.pooled) == (Engine.POSTGRES, libpq, pooled)


@pytest.mark.parametrize(
    ("url", "names"),
    [
        (f"postgresql://u:{PW}@h/db?colour=blue", "unknown parameter 'colour'"),
        (f"postgresql://u:{PW}@h/db?pgbouncer=maybe", "pgbouncer= must be true or false"),
        (f"postgresql://u:{PW}@h/db?schema=clinic", "schema="),
        (f"postgresql://u:{PW}@h1:5432,h2:99999/db", "port"),
        (f"postgresql://u:{PW}@h1:5432,h2:/db", "port"),
        (f"postgresql://u:{PW}@h/db?port=5432,x", "port"),
        (f"postgresql://u:{PW}@h/db?sslmode", "has no '=value'"),
        (f"postgresql://u:{PW}@h1,[::1/db", "brackets"),
    ],
)
def test_what_libpq_or_slotcap_cannot_honour_is_refused_by_name(url: str, names: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        parse_url(url)
    assert names in refused.value.message and PW not in refused.value.message
    with pytest.raises(ConfigurationError) as opening:
        open_store(url)
    assert PW not in str(opening.value)


_HOST = st.one_of(
    st.from_regex(r"[a-z][a-z0-9-]{0,12}(\.[a-z][a-z0-9-]{0,8}){0,2}", fullmatch=True),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
)
_PORT = st.one_of(st.none(), st.integers(1, 65535))
_VALUE = st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True)
_PARAMS = st.lists(
    st.tuples(st.sampled_from(sorted(LIBPQ_PARAMETERS - {"port", "host", "hostaddr", "dbname",
                                                        "password", "sslpassword"})),
              _VALUE), max_size=4)


@st.composite
def libpq_urls(draw: st.DrawFn) -> tuple[str, str, str, bool]:
    """(URL, its password, its URL without pgbouncer=, pooled)."""
    hosts = draw(st.lists(st.tuples(_HOST, _PORT), min_size=1, max_size=3))
    # Marked, so that finding it in the output means the password, not a host's digits.
    password = "Zq7" + draw(st.text(max_size=20).filter(lambda p: "\x00" not in p))
    user = draw(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True))
    params = draw(_PARAMS)
    pooled = draw(st.booleans())
    flag_at = draw(st.integers(0, len(params)))
    authority = ",".join(h if p is None else f"{h}:{p}" for h, p in hosts)
    encoded = urllib.parse.quote(password, safe="")
    base = f"postgresql://{user}:{encoded}@{authority}/clinic"
    pieces = [f"{k}={v}" for k, v in params]
    flagged = [*pieces[:flag_at], f"pgbouncer={'true' if pooled else 'false'}",
               *pieces[flag_at:]]
    without = base + (f"?{'&'.join(pieces)}" if pieces else "")
    return f"{base}?{'&'.join(flagged)}", encoded, without, pooled


@given(libpq_urls())
def test_generated_libpq_urls_parse_and_redact_only_the_password(
    case: tuple[str, str, str, bool],
) -> None:
    url, encoded, without, pooled = case
    parsed = parse_url(url)
    assert (parsed.target, parsed.pooled) == (without, pooled)
    shown = redact(url)
    # Redaction masks the password and nothing else: put it back, the URL is whole.
    assert shown.replace(f":{MASK}@", f":{encoded}@", 1) == url
    assert encoded not in str(parsed) and encoded not in repr(parsed)


@given(libpq_urls())
def test_what_slotcap_accepts_libpq_parses_too(case: tuple[str, str, str, bool]) -> None:
    require_psycopg()  # a unit test: the driver parses, no server is needed
    import psycopg

    url, _, without, _ = case
    options = psycopg.conninfo.conninfo_to_dict(parse_url(url).target)
    assert options["dbname"] == "clinic"
    assert parse_url(without).target == without
