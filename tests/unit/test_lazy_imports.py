"""``import slotcap`` and ``slotcap --help`` never import psycopg (issue #23): an SQLite
user need not install it and it cost a fifth of a second of every command. psycopg is
loaded when a PostgreSQL URL is opened; the libpq constants spelled as values instead
of imported must equal psycopg's own."""

from __future__ import annotations

import subprocess
import sys

from slotcap.adapters.sql.pg_session import PG_TRANS_IDLE, PG_TRANS_INERROR
from slotcap.sql.connection import PG_TUPLES_OK

_HEAVY = ("psycopg", "starlette", "uvicorn", "prometheus_client", "rich")


def _loaded_after(code: str) -> list[str]:
    probe = (f"import sys\n{code}\n"
             f"print(' '.join(m for m in {_HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=60)
    return done.stdout.split()


def test_import_slotcap_loads_no_driver_server_or_terminal_library() -> None:
    assert _loaded_after("import slotcap") == []


def test_cli_help_loads_no_driver_server_or_terminal_library() -> None:
    code = ("import contextlib, io\nfrom slotcap.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    assert main(['--help']) == 0")
    assert _loaded_after(code) == []


def test_opening_a_postgres_url_loads_psycopg(pg_url: str) -> None:
    code = (f"import slotcap\nfrom slotcap.sql import open_sql\n"
            f"open_sql({pg_url!r}).close()")
    assert "psycopg" in _loaded_after(code)


def test_libpq_constants_spelled_as_values_equal_psycopgs() -> None:
    from psycopg import pq
    assert PG_TUPLES_OK == pq.ExecStatus.TUPLES_OK
    assert PG_TRANS_IDLE == pq.TransactionStatus.IDLE
    assert PG_TRANS_INERROR == pq.TransactionStatus.INERROR
