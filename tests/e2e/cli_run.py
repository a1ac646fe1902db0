"""Running ``slotcap`` in the tests: in-process, or as a real process when the process
is the point.

* ``run(capsys, *argv)``: ``slotcap *argv``'s exit code, stdout and stderr, in-process,
  through pytest's capture.
* ``slotcap(*argv, env=, cwd=)``: the same in-process, without ``capsys`` (for module
  fixtures and helpers), with the process's environment and working directory as a
  subprocess would have them; returns what ``subprocess.run`` would (``returncode``,
  ``stdout``, ``stderr``).
* ``slotcap_process(*argv, env=, cwd=, kill_at=)``: the real thing (``python -m
  slotcap.cli`` = the console script), for the few tests about the process itself:
  its exit status, a SIGKILL at a checkpoint (``kill_at``: run through
  ``tests.killpoint_launcher``, which installs the checkpoint hook), every byte it
  writes. Such a test is marked ``subprocess`` (tests/conftest.py fails it otherwise).

Both ways start from this process's environment without ``SLOTCAP_DATABASE_URL`` and
``SLOTCAP_DEBUG`` (a developer's shell must not leak in), plus ``env``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from tests import killpoint_launcher
from tests.killpoint_launcher import launcher_env

from slotcap.cli._process import quiet_driver_logs
from slotcap.cli.main import main

__all__ = ["Completed", "run", "slotcap", "slotcap_process"]

# What the console script does once for its process (``main()`` no longer does it on
# every call): psycopg's own warnings stay off stderr, as in a real run.
quiet_driver_logs()

#: Never inherited from the developer's shell.
_UNSET = ("SLOTCAP_DATABASE_URL", "SLOTCAP_DEBUG")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@dataclasses.dataclass(frozen=True)
class Completed:
    """What ``subprocess.run(..., text=True)`` would have returned."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


def environment(env: Mapping[str, str] | None = None,
                unset: Sequence[str] = ()) -> dict[str, str]:
    """This process's environment without ``_UNSET`` and ``unset``, plus ``env``."""
    full = {k: v for k, v in os.environ.items() if k not in (*_UNSET, *unset)}
    full.update(env or {})
    return full


@contextlib.contextmanager
def _as_process(env: Mapping[str, str] | None, unset: Sequence[str],
                cwd: Path | None) -> Iterator[None]:
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.clear()
    os.environ.update(environment(env, unset))
    try:
        if cwd is not None:
            os.chdir(cwd)
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def slotcap(*args: str, env: Mapping[str, str] | None = None, unset: Sequence[str] = (),
            cwd: Path | None = None) -> Completed:
    """``slotcap *args`` in this process: ``main(args)``'s exit code and what it wrote."""
    out, err = io.StringIO(), io.StringIO()
    with (_as_process(env, unset, cwd), contextlib.redirect_stdout(out),
          contextlib.redirect_stderr(err)):
        code = main(list(args))
    return Completed(["slotcap", *args], code, out.getvalue(), err.getvalue())


def slotcap_process(*args: str, env: Mapping[str, str] | None = None,
                    unset: Sequence[str] = (), cwd: Path | None = None,
                    kill_at: str | None = None,
                    timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``slotcap *args`` as a real process (``python -m slotcap.cli``); ``kill_at``: the
    checkpoint at which it SIGKILLs itself (through ``tests.killpoint_launcher``)."""
    full = environment(env, unset)
    argv = [sys.executable, "-m", "slotcap.cli", *args]
    if kill_at is not None:
        # Forked by the launcher's fork server: slotcap is imported once, not per kill.
        return killpoint_launcher.run(*args, env=launcher_env(full),
                                      cwd=None if cwd is None else str(cwd),
                                      kill_at=kill_at, timeout=timeout)
    return subprocess.run(
        argv,
        capture_output=True, text=True, encoding="utf-8", env=full, cwd=cwd,
        timeout=timeout, check=False,
    )
