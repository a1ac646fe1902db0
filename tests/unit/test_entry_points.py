"""The entry points leave the process as they found it: building the HTTP app changes
no thread limiter (the server's start-up sets it for the server's life and puts it
back), and ``slotcap.cli.main.main()`` neither replaces the streams nor touches
logging; the console script makes its process-wide settings once."""

from __future__ import annotations

import datetime as dt
import io
import logging
import sys
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from slotcap import FixedClock, bootstrap
from slotcap.cli._process import quiet_driver_logs
from slotcap.cli.main import main
from slotcap.http import create_app


def test_create_app_changes_no_thread_limiter_and_its_lifespan_puts_it_back() -> None:
    async def scenario() -> list[float]:
        limiter = anyio.to_thread.current_default_thread_limiter()
        seen = [limiter.total_tokens]
        clock = FixedClock(dt.datetime(2026, 1, 5, tzinfo=dt.UTC))
        with bootstrap("memory://", env={}, clock=clock) as app:
            first = create_app(app, threads=3, close_on_shutdown=False)
            create_app(app, threads=5, close_on_shutdown=False)
            seen.append(limiter.total_tokens)  # building two apps changed nothing
            async with first.router.lifespan_context(first):
                seen.append(limiter.total_tokens)  # the server's life: its cap
            seen.append(limiter.total_tokens)  # stopped: as before
        return seen

    before, built, serving, after = anyio.run(scenario)
    assert (built, serving, after) == (before, 3, before)
    assert before != 3


def _process_state() -> tuple[object, ...]:
    driver = logging.getLogger("psycopg")
    return (sys.stdout, sys.stderr, tuple(logging.getLogger().handlers),
            tuple(driver.handlers), driver.propagate,
            getattr(sys.stdout, "errors", None), getattr(sys.stderr, "errors", None))


@pytest.mark.parametrize("argv", [
    ["--version"],
    ["no-such-command"],
    ["services", "list", "--database", "memory://"],
    ["migrate", "status", "--database", "sqlite:///{tmp}/absent/x.db"],
])
def test_main_leaves_the_streams_and_logging_as_they_were(
    argv: list[str], tmp_path: Path
) -> None:
    before = _process_state()
    stdout, stderr = sys.stdout, sys.stderr
    out, err = io.StringIO(), io.StringIO()
    sys.stdout, sys.stderr = out, err
    try:
        inside = _process_state()
        code = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
        assert _process_state() == inside
    finally:
        sys.stdout, sys.stderr = stdout, stderr
    assert _process_state() == before
    assert (out.getvalue() + err.getvalue()).strip()  # it ran and said something
    assert isinstance(code, int)


def test_the_console_scripts_log_setting_is_made_once() -> None:
    driver = logging.getLogger("psycopg")
    quiet_driver_logs()
    handlers = list(driver.handlers)
    quiet_driver_logs()
    assert driver.handlers == handlers  # a second call adds nothing
    assert driver.propagate is False
