"""Hostile booking bodies against the real SQL stores: what used to reach the driver
(a NUL byte → psycopg ``DataError``, a lone surrogate → ``UnicodeEncodeError``) is now
an ``InvalidRequest`` before anything is written."""

from __future__ import annotations

from typing import Any

import pytest
from tests.builders import ON_TODAY, request
from tests.integration.store_helpers import build_sql_database, open_sql_store

from slotcap import InvalidRequest, book
from slotcap.sql import open_sql

HOSTILE: list[dict[str, Any]] = [
    {"patient_name": "김\x00하늘"},
    {"patient_name": "김\ud800하늘"},
    {"notes": "주차\x00가능?"},
    {"notes": ["a", "list"]},
    {"preferred_time": "10:00\udc00"},
    {"preferred_date": "9999-12-31"},
    {"preferred_date": "0001-01-01"},
]


@pytest.mark.parametrize("fields", HOSTILE, ids=[next(iter(f)) + str(i)
                                                 for i, f in enumerate(HOSTILE)])
def test_hostile_fields_are_refused_before_the_store(sql_url: str, fields: dict[str, Any]) -> None:
    build_sql_database(sql_url)
    store = open_sql_store(sql_url)
    try:
        with pytest.raises(InvalidRequest) as caught:
            book(store, request(**fields), dynamic=True, clock=ON_TODAY)
        assert set(caught.value.fields) == set(fields)
        # The same body, cleaned, books: the store itself was fine all along.
        assert book(store, request(), dynamic=True, clock=ON_TODAY).id
    finally:
        store.close()
    with open_sql(sql_url) as conn:
        assert conn.scalar('SELECT COUNT(*) FROM "reservations"') == 1
