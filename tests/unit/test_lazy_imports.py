"""``import slotcap`` and ``slotcap --help`` never import psycopg (issue #23): an SQLite
user need not install it and it cost a fifth of a second of every command. psycopg is
loaded when a PostgreSQL URL is opened; the libpq constants spelled as values instead
of imported must equal psycopg's own."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from slotcap.adapters.sql.pg_session import PG_TRANS_IDLE, PG_TRANS_INERROR
from slotcap.schema.legacy import legacy_ddl
from slotcap.sql import Dialect
from slotcap.sql.connection import PG_TUPLES_OK

#: Each probe is a fresh interpreter (what is imported at start-up).
pytestmark = pytest.mark.subprocess

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


def test_sqlite_only_commands_load_no_driver_server_or_terminal_library(
    tmp_path: Path,
) -> None:
    """A user of SQLite only never loads psycopg: phase 1 applied, the status and a
    calendar answered, the library's store opened (issue #25)."""
    path = tmp_path / "clinic.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(legacy_ddl(Dialect.SQLITE))
    url = f"sqlite:///{path}"
    code = ("import contextlib, io\nfrom slotcap.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), "
            "contextlib.redirect_stderr(io.StringIO()):\n"
            f"    assert main(['migrate', '--to', 'phase1', '--database', {url!r}]) == 0\n"
            f"    assert main(['migrate', 'status', '--database', {url!r}]) == 0\n"
            f"    assert main(['availability', '--database', {url!r}, '--from', "
            "'2026-03-02', '--to', '2026-03-03']) == 0\n"
            f"import slotcap\nslotcap.open_store({url!r}).close()")
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


def test_help_imports_no_command_module() -> None:
    code = ("import contextlib, io\nfrom slotcap.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    assert main(['--help']) == 0\n"
            "    assert main([]) == 0 and main(['--version']) == 0\n"
            "heavy = [m for m in sys.modules if m.startswith(('slotcap.migration', "
            "'slotcap.usecases', 'slotcap.adapters', 'slotcap.bootstrap', 'slotcap.sql'))]\n"
            "assert heavy == [], heavy")
    _loaded_after(code)


def test_the_quick_top_level_says_exactly_what_the_full_parser_says() -> None:
    from slotcap.cli._help import overview
    from slotcap.cli.main import build_parser, top_parser

    assert top_parser().format_help() == build_parser().format_help()
    assert overview(top_parser()) == overview(build_parser())


def test_constants_spelled_for_speed_agree_with_their_sources() -> None:
    import importlib

    from slotcap.bootstrap import DATABASE_ENV
    from slotcap.cli._args import DIRECT_DATABASE_ENV
    from slotcap.sql.driver_errors import DEBUG_ENV

    main = importlib.import_module("slotcap.cli.main")
    assert (main.DATABASE_ENV, main.DEBUG_ENV, main.DIRECT_DATABASE_ENV) == (
        DATABASE_ENV, DEBUG_ENV, DIRECT_DATABASE_ENV)


def test_public_names_load_on_first_use_and_bootstrap_stays_the_function() -> None:
    code = ("import slotcap\nassert 'slotcap.usecases' not in sys.modules\n"
            "import slotcap.bootstrap\nassert callable(slotcap.bootstrap) and "
            "not isinstance(slotcap.bootstrap, type(sys))\n"
            "from slotcap import book, Period, __version__\n"
            "assert set(slotcap.__all__) <= set(dir(slotcap))\n"
            "assert all(getattr(slotcap, n) is not None for n in slotcap.__all__)")
    _loaded_after(code)


def test_lock_failures_are_psycopgs_once_it_is_loaded() -> None:
    from psycopg import errors

    from slotcap.migration.ddl.lock_policy import lock_failures

    assert lock_failures() == (errors.LockNotAvailable, errors.DeadlockDetected)
    assert _loaded_after("from slotcap.migration.ddl.lock_policy import lock_failures\n"
                         "assert lock_failures() == ()") == []
