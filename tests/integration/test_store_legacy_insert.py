"""The legacy count rule's check and insert in one locked scope
(``SqlBooking.insert_within_daily_limit``): one statement on PostgreSQL, two under the
write lock on SQLite, the same answers as ``daily_facts`` + ``check_daily_limit`` +
``insert``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.integration.store_helpers import MONDAY, build_sql_database, open_sql_store, row

from slotcap.adapters.sql import SqlStore
from slotcap.domain.model import ServiceLimit
from slotcap.domain.rules import check_daily_limit
from slotcap.errors import SchemaStateError
from slotcap.ports import DailyFacts, SchemaState


@pytest.fixture(params=[SchemaState.LEGACY, SchemaState.EXPANDED])
def store(request: pytest.FixtureRequest, sql_url: str) -> Iterator[SqlStore]:
    build_sql_database(sql_url, request.param)
    with open_sql_store(sql_url) as store:
        yield store


def _book(store: SqlStore, code: str) -> tuple[DailyFacts, bool]:
    legacy = store.schema_state is SchemaState.LEGACY
    reservation = row(code=code, minutes=40, new_columns=not legacy)
    with store.booking(MONDAY, code, []) as tx:
        facts = tx.insert_within_daily_limit(reservation)
    return facts, store.get_reservation(reservation.id) is not None


def test_inserts_while_under_the_limit_and_reports_the_facts_before(store: SqlStore) -> None:
    store.save_limit(ServiceLimit(service_code="SKIN_CARE", daily_limit=2))
    outcomes = [_book(store, "SKIN_CARE") for _ in range(3)]
    assert [(f.held_count, inserted) for f, inserted in outcomes] == [
        (0, True), (1, True), (2, False),
    ]
    for facts, inserted in outcomes:
        assert facts.limit is not None and facts.limit.daily_limit == 2
        decision = check_daily_limit(limit=facts.limit, held_count=facts.held_count)
        assert decision.allowed is inserted
    assert store.daily_facts(MONDAY, "SKIN_CARE").held_count == 2


def test_no_limit_or_an_inactive_one_inserts_nothing(store: SqlStore) -> None:
    store.save_limit(ServiceLimit(service_code="SKIN_CARE", daily_limit=5, is_active=False))
    for code in ("SKIN_CARE", "NOT_A_SERVICE_CODE"):
        facts, inserted = _book(store, code)
        assert facts.held_count == 0
        assert not inserted
        assert not check_daily_limit(limit=facts.limit, held_count=facts.held_count).allowed


def test_refused_once_the_count_rule_is_gone(sql_url: str) -> None:
    build_sql_database(sql_url, SchemaState.CONTRACTED)
    with open_sql_store(sql_url) as store, pytest.raises(SchemaStateError):
        _book(store, "SKIN_CARE")
