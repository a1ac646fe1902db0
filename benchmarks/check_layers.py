"""Where a PostgreSQL availability check's time goes, layer by layer.

    python -m benchmarks.check_layers --size 1000000

One generated database (``benchmarks._data``), one connection, one store; each layer of
the check is a candidate, all run round-robin on the same keys (``interleave``), from
``SELECT 1`` up to ``check_availability``. Each row adds one layer to the one above it,
so the differences between rows are what each layer costs. With phase 2's ledger filled,
so ``store.period_facts`` and ``check_availability`` take the lean path (one libpq call,
``slotcap.adapters.sql.wire``); the rows between them measure the regular path's layers
(the lean path's fallback). Diagnostics only: it calls private store methods and a
rename simply breaks it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks import _data
from benchmarks._cli import benchmark_parser, postgres_missing
from benchmarks._explain import StoreStatements
from benchmarks._harness import (
    finish,
    interleave,
    render_table,
    say,
    temp_pg_database,
)
from slotcap.adapters.postgres import PostgresStore
from slotcap.adapters.sql.pg_session import StatementSession
from slotcap.adapters.sql.wire import ledger_row
from slotcap.migration.transitions.common import ensure_ledger
from slotcap.sql import open_sql
from slotcap.sql.connection import SqlConnection
from slotcap.sql.dialect import Dialect
from slotcap.sql.url import connect_postgres
from slotcap.usecases.availability import check_availability

Key = _data.CheckKey
LAYERS = (
    ("floor: conn.execute('SELECT 1') (new cursor)", "floor"),
    ("SELECT 1 on a kept cursor", "kept"),
    ("the lean check's ledger row through libpq (wire.ledger_row)", "wire"),
    ("the check's statement on a new cursor (= SQL alone)", "sql"),
    ("the statement through SqlConnection.run (kept cursor)", "rows"),
    ("+ SqlCore.run (schema-change retry, rule check)", "run"),
    ("+ the session (_session(): borrow, StatementScope)", "session"),
    ("+ _checked_facts (params, snapshot lookup, PeriodFacts)", "facts_body"),
    ("store.period_facts (all of the above)", "period_facts"),
    ("check_availability (+ Period, check_period_capacity, Decision)", "check"),
)


def _candidates(conn: Any, store: PostgresStore) -> dict[str, Callable[[Key], object]]:
    kept = conn.cursor()
    sc = SqlConnection(conn, Dialect.POSTGRES)  # what the store's sessions run through

    def params(k: Key) -> dict[str, Any]:
        return {"day": k.day, "period": k.period.value}

    statements = StoreStatements(store)

    def statement(k: Key) -> tuple[str, dict[str, Any]]:
        return statements.period_facts(k.day, k.period, k.service)

    def run(k: Key) -> object:
        p = params(k)
        return store._core.run(StatementSession(sc), lambda st: (st.period_held, p))

    def session(k: Key) -> object:
        p = params(k)
        with store._session() as s:
            return store._core.run(s, lambda st: (st.period_held, p))

    return {
        "floor": lambda k: conn.execute("SELECT 1").fetchall(),
        "kept": lambda k: kept.execute("SELECT 1").fetchall(),
        "wire": lambda k: ledger_row(sc, k.day, k.period),
        "sql": lambda k: conn.execute(*statement(k)).fetchall(),
        "rows": lambda k: sc.run(*statement(k)),
        "run": run,
        "session": session,
        "facts_body": lambda k: store._reads.checked_facts(
            StatementSession(sc), k.day, k.period, k.service
        ),
        "period_facts": lambda k: store.period_facts(k.day, k.period, k.service),
        "check": lambda k: check_availability(
            store, k.day, k.service, period=k.period, dynamic=True
        ),
    }


def run(*, size: int, checks: int, seed: int, pg_server: str) -> dict[str, Any]:
    with temp_pg_database(pg_server, "layers") as url:
        say(f"[check_layers] generating and loading {size:,} reservations …")
        _data.load_postgres(url, _data.generate(size, seed, backfilled=True))
        with open_sql(url) as sql:  # phase 2's ledger: the check is the lean one
            ensure_ledger(sql, say)
        conn = connect_postgres(url, autocommit=True)
        store = PostgresStore.from_connection(conn)
        try:
            fns = _candidates(conn, store)
            keys = _data.check_keys(checks + checks // 20, seed + 1)
            say(f"[check_layers] {checks:,} keys × {len(fns)} layers …")
            stats = interleave(list(fns.items()), keys, warmup=checks // 20)
        finally:
            store.close()
            conn.close()
    return {
        "benchmark": "check_layers",
        "params": {"size": size, "checks": checks, "seed": seed},
        "layers": {name: stats[key].to_dict() for name, key in LAYERS},
    }


def tables(payload: dict[str, Any]) -> str:
    layers = payload["layers"]
    floor = next(iter(layers.values()))["p50_us"]
    rows = [(name, v["p50_us"], v["min_us"], f"{v['p50_us'] / floor:.2f}×")
            for name, v in layers.items()]
    return render_table(["layer", "p50 µs", "min µs", "× floor (p50)"], rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = benchmark_parser("check_layers", __doc__)
    parser.add_argument("--size", type=int, default=None,
                        help="reservations (default 1000000; --quick 2000)")
    parser.add_argument("--checks", type=int, default=None,
                        help="timed keys (default 4000; --quick 100)")
    args = parser.parse_args(argv)
    if (missing := postgres_missing(args, "check_layers")) is not None:
        return missing
    payload = run(
        size=args.size or (2000 if args.quick else 1_000_000),
        checks=args.checks or (100 if args.quick else 4000),
        seed=args.seed, pg_server=args.pg_url,
    )
    finish(payload, targets_of=lambda _: [], tables_of=tables, pg_url=args.pg_url,
           json_path=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
