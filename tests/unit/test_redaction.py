"""slotcap.redaction and parse_url: passwords and patient values never survive, whatever
shape the text has; a malformed URL is a ConfigurationError, never a ValueError."""

from __future__ import annotations

import sqlite3
import urllib.parse

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from tests.strategies.hostile import hostile_text

from slotcap import ConfigurationError, open_store
from slotcap.errors import DatabaseError
from slotcap.redaction import redact_db_text, redact_url, scrub, url_secrets
from slotcap.sql.driver_errors import database_error
from slotcap.sql.url import DatabaseUrl, parse_url, redact

PW = "Zq7SecretPW"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://u:{PW}@host/db", "postgresql://u:***@host/db"),
        (f"postgresql://u:{PW}@[::1/db", "postgresql://u:***@[::1/db"),
        (f"postgresql://u:{PW}/x#y@host:5/db", "postgresql://u:***@host:5/db"),
        (f"postgresql://u@h/db?sslmode=require&password={PW}",
         "postgresql://u@h/db?sslmode=require&password=***"),
        (f"host=h password={PW} dbname=d", "host=h password=*** dbname=d"),
        (f"host=h password='{PW} x' dbname=d", "host=h password=*** dbname=d"),
        ("postgresql://u@host/db", "postgresql://u@host/db"),
        ("sqlite:///a/b.db", "sqlite:///a/b.db"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert redact(url) == shown


def test_url_secrets_finds_raw_and_decoded_passwords() -> None:
    assert set(url_secrets("postgresql://u:p%40ss%2Fword@h/db")) == {"p%40ss%2Fword",
                                                                    "p@ss/word"}
    assert url_secrets(f"x?password={PW}") == [PW]
    assert url_secrets("postgresql://u@h/db") == []


def test_scrub_hides_urls_pairs_and_literal_secrets_in_any_text() -> None:
    text = (f"failed: postgresql://u:{PW}@h/db; dsn host=h password={PW}; "
            f"driver said {PW!r}")
    cleaned = scrub(text, [PW])
    assert PW not in cleaned
    assert "postgresql://u:***@h/db" in cleaned


@given(st.text(min_size=6).filter(lambda p: p.strip() == p and "\x00" not in p))
@example("s3cr3t-pw")
@example("postgr")  # inside the scheme: skipped by the assume below, not a failure
def test_no_password_survives_parse_url_or_redact(password: str) -> None:
    encoded = urllib.parse.quote(password, safe="")
    url = f"postgresql://clinic:{encoded}@db.example:5432/prod"
    # A password that is part of what may stay visible ("postgr" is in the scheme) cannot
    # be told apart from it: those say nothing about redaction.
    visible = ("error with  and postgresql://clinic:***@db.example:5432/prod "
               "DatabaseUrl(engine=<Engine.POSTGRES: 'postgresql'>)")
    assume(encoded not in visible and password not in visible)
    assert encoded not in redact(url)
    parsed = parse_url(url)
    assert encoded not in str(parsed) and encoded not in repr(parsed)
    assert password not in scrub(f"error with {password} and {url}", url_secrets(url))


@given(st.one_of(hostile_text(), st.text().map(lambda t: "postgresql://" + t)))
def test_parse_url_refuses_with_configuration_error_only(text: str) -> None:
    assert isinstance(_parse(text), DatabaseUrl | ConfigurationError)


def _parse(text: str) -> DatabaseUrl | ConfigurationError:
    try:
        return parse_url(text)
    except ConfigurationError as exc:  # anything else escapes and fails the test
        return exc


@pytest.mark.parametrize(
    "url",
    [f"postgresql://u:{PW}@[::1/db", f"postgresql://u:{PW}@h:99999/db",
     f"postgresql://u:{PW}@h:x/db", f"mysql://u:{PW}@h/db", f"password={PW}",
     f"postgresql://u:{PW}/1@h/db"],
)
def test_open_store_raises_configuration_error_without_the_password(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        open_store(url)
    assert PW not in str(caught.value)
    assert caught.value.code == "configuration"


def test_redact_db_text_hides_rows_and_patient_keys_but_keeps_names() -> None:
    text = ('duplicate key value violates unique constraint "u_phone"\n'
            'DETAIL:  Key ("patientName", phone)=(김하늘, 010-1234-5678) already exists.\n'
            'DETAIL:  Key (id)=(r1) already exists.\n'
            "DETAIL:  Failing row contains (r1, 김하늘, 010-1234-5678, sky@example.com).\n"
            'invalid input syntax for type date: "1990-13-01"')
    shown = redact_db_text(text)
    for value in ("김하늘", "010-1234-5678", "sky@example.com", "1990-13-01"):
        assert value not in shown
    assert 'constraint "u_phone"' in shown
    assert "Key (id)=(r1)" in shown  # an id is not patient data
    assert "Failing row contains (***)" in shown
    url = "cannot connect to postgresql://app:***@db.example.com:5432/clinic"
    assert redact_db_text(url) == url  # a URL's user@host is not an email address
    assert redact_db_text("mail kim.ha-neul+x@mail.example.co.kr now") == "mail *** now"


def test_sqlite_errors_become_one_line_database_errors() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, name TEXT NOT NULL)")
    with pytest.raises(sqlite3.IntegrityError) as caught:
        conn.execute("INSERT INTO t VALUES ('a', NULL)")
    error = database_error(caught.value)
    assert isinstance(error, DatabaseError)
    assert error.code == "constraint_violation"
    assert "NOT NULL constraint failed: t.name" in error.message
    assert "\n" not in error.message
    assert database_error(ValueError("not a driver error")) is None


@pytest.mark.postgres
def test_postgres_errors_become_one_line_database_errors_without_values(pg_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id text PRIMARY KEY, phone text CHECK (phone LIKE '02%'))")
        with pytest.raises(psycopg.Error) as caught:
            conn.execute("INSERT INTO t VALUES (%s, %s)", ("r1", "010-9876-5432"))
        with pytest.raises(psycopg.Error) as bad_value:
            conn.execute("SELECT %s::date", ("김하늘",))
    error = database_error(caught.value)
    assert isinstance(error, DatabaseError)
    assert "010-9876-5432" in str(caught.value)  # the driver's own text has the row ...
    assert "010-9876-5432" not in error.message  # ... slotcap's does not
    assert "\n" not in error.message
    assert (error.sqlstate, error.table, error.constraint) == ("23514", "t", "t_phone_check")
    assert 'constraint "t_phone_check"' in error.message
    value_error = database_error(bad_value.value)
    assert value_error is not None and "김하늘" not in value_error.message
    assert "22007" in value_error.message


def test_library_entry_points_raise_one_line_database_errors_without_the_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from slotcap.sql.driver_errors import database_errors

    def failing() -> None:
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, phone TEXT CHECK (phone <> '010'))")
        conn.execute("INSERT INTO t VALUES ('a', '010')")

    monkeypatch.delenv("SLOTCAP_DEBUG", raising=False)
    with pytest.raises(DatabaseError) as caught, database_errors():
        failing()
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert caught.value.code == "constraint_violation"
    monkeypatch.setenv("SLOTCAP_DEBUG", "1")
    with pytest.raises(DatabaseError) as debug, database_errors():
        failing()
    assert isinstance(debug.value.__cause__, sqlite3.IntegrityError)
    with pytest.raises(ValueError, match="not a driver"), database_errors():
        raise ValueError("not a driver error")
