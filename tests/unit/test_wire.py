"""The lean check's libpq executor (adapters/sql/wire.py) against a fake libpq
connection: which outcomes it answers, which it leaves to the store's regular path,
and when it says a pooler is in between. Its libpq constants are psycopg's own."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from slotcap.adapters.sql import wire
from slotcap.adapters.sql.pg_session import PG_TRANS_IDLE
from slotcap.adapters.sql.wire import LEDGER_ROW_NAME, PoolerMet, ledger_row
from slotcap.domain.model import Period
from slotcap.errors import StoreBusy
from slotcap.sql.connection import PG_COMMAND_OK, PG_FATAL_ERROR, PG_TUPLES_OK, SqlConnection
from slotcap.sql.dialect import Dialect

DAY = dt.date(2026, 3, 1)


class Result:
    def __init__(self, status: int, rows: list[tuple[bytes | None, ...]] = (),  # type: ignore[assignment]
                 sqlstate: str | None = None) -> None:
        self.status = status
        self._rows = list(rows)
        self.ntuples = len(self._rows)
        self._sqlstate = sqlstate

    def get_value(self, row: int, col: int) -> bytes | None:
        return self._rows[row][col]

    def error_field(self, code: int) -> bytes | None:
        assert code == ord("C")
        return self._sqlstate.encode() if self._sqlstate else None


def ok(*rows: tuple[bytes | None, ...]) -> Result:
    return Result(PG_TUPLES_OK, list(rows))


def error(sqlstate: str) -> Result:
    return Result(PG_FATAL_ERROR, sqlstate=sqlstate)


class PGconn:
    """Scripted answers for exec_prepared / prepare / exec_params, calls recorded."""

    def __init__(self, *answers: Result) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, Any]] = []
        self.transaction_status = 0
        self.pipeline_status = 0

    def _next(self, call: str, arg: Any) -> Result:
        self.calls.append((call, arg))
        return self.answers.pop(0)

    def exec_prepared(self, name: bytes, params: list[bytes], result_format: int = 0
                      ) -> Result:
        assert name == LEDGER_ROW_NAME
        return self._next("exec_prepared", params)

    def prepare(self, name: bytes, sql: bytes) -> Result:
        assert b"$1" in sql and b"$2" in sql
        return self._next("prepare", name)

    def exec_params(self, sql: bytes, params: list[bytes], result_format: int = 0
                    ) -> Result:
        return self._next("exec_params", params)


class Conn:
    def __init__(self, pgconn: PGconn, *, pooled: bool = False) -> None:
        self.pgconn = pgconn
        self.autocommit = True
        self.prepare_threshold = None if pooled else 5


def conn_of(*answers: Result, pooled: bool = False) -> tuple[SqlConnection, PGconn]:
    pg = PGconn(*answers)
    return SqlConnection(Conn(pg, pooled=pooled), Dialect.POSTGRES), pg


def test_prepared_once_then_run_with_encoded_text_parameters() -> None:
    sc, pg = conn_of(Result(1), ok((b"70", b"0")), ok())
    assert ledger_row(sc, DAY, Period.MORNING) == (70, 0)
    assert ledger_row(sc, DAY, Period.AFTERNOON) == (0, 0)  # no row: nothing held
    assert [c for c, _ in pg.calls] == ["prepare", "exec_prepared", "exec_prepared"]
    assert pg.calls[-1][1] == [b"2026-03-01", b"AFTERNOON"]


def test_pooled_runs_unnamed() -> None:
    sc, pg = conn_of(ok((b"40", b"1")), pooled=True)
    assert ledger_row(sc, DAY, Period.MORNING) == (40, 1)
    assert [c for c, _ in pg.calls] == ["exec_params"]


def test_a_statement_gone_missing_is_prepared_again() -> None:
    sc, pg = conn_of(Result(1), ok(), error("26000"), Result(1), ok((b"5", b"0")))
    assert ledger_row(sc, DAY, Period.MORNING) == (0, 0)
    assert ledger_row(sc, DAY, Period.MORNING) == (5, 0)
    assert [c for c, _ in pg.calls][-3:] == ["exec_prepared", "prepare", "exec_prepared"]


@pytest.mark.parametrize("answers", [
    (Result(1), error("26000")),  # missing right after it was prepared
    (error("42P05"),),  # already there, though this client never prepared it
])
def test_a_statement_moving_between_server_connections_is_a_pooler(
    answers: tuple[Result, ...]
) -> None:
    sc, _pg = conn_of(*answers)
    with pytest.raises(PoolerMet) as met:
        ledger_row(sc, DAY, Period.MORNING)
    assert met.value.sqlstate in ("26000", "42P05")


def test_other_errors_are_left_to_the_regular_path() -> None:
    sc, _pg = conn_of(Result(1), error("42P01"))  # the ledger went (a rollback)
    assert ledger_row(sc, DAY, Period.MORNING) is None


def test_a_busy_error_is_store_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    class Busy(Exception):
        sqlstate = "55P03"

    monkeypatch.setattr(wire, "_error_of", lambda res, conn: Busy())
    sc, _pg = conn_of(Result(1), error("55P03"))
    with pytest.raises(StoreBusy):
        ledger_row(sc, DAY, Period.MORNING)


def test_inside_a_transaction_or_a_pipeline_it_steps_aside() -> None:
    for attr, value in (("transaction_status", 2), ("pipeline_status", 1)):
        sc, pg = conn_of()
        setattr(pg, attr, value)
        assert ledger_row(sc, DAY, Period.MORNING) is None
        assert pg.calls == []
    sc, pg = conn_of()
    sc.raw.autocommit = False
    assert ledger_row(sc, DAY, Period.MORNING) is None


def test_a_failing_call_is_left_to_the_regular_path() -> None:
    sc, pg = conn_of()
    pg.prepare = None  # type: ignore[assignment,method-assign]  # calling it raises
    assert ledger_row(sc, DAY, Period.MORNING) is None


def test_the_libpq_constants_are_psycopgs() -> None:
    pq = pytest.importorskip("psycopg.pq")
    assert PG_FATAL_ERROR == pq.ExecStatus.FATAL_ERROR
    assert PG_COMMAND_OK == pq.ExecStatus.COMMAND_OK
    assert PG_TRANS_IDLE == pq.TransactionStatus.IDLE
    assert wire._PIPELINE_OFF == pq.PipelineStatus.OFF
    assert wire._SQLSTATE_FIELD == pq.DiagnosticField.SQLSTATE

