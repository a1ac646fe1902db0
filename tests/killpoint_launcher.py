"""``python -m tests.killpoint_launcher [--kill-at LABEL] [--log FILE] -- ARGS``: run
``slotcap ARGS`` as ``python -m slotcap.cli`` would, with a checkpoint hook installed.

The shipped CLI passes no checkpoint hook and reads no test variable; the kill-point
tests start this launcher instead, which hands ``slotcap.cli.main.main`` a hook that

* ``--log FILE``: appends every checkpoint label reached, one per line (flushed and
  fsynced, so a SIGKILL right after loses nothing);
* ``--kill-at LABEL`` or ``LABEL#N``: SIGKILLs this process the first (or N-th) time
  that label is reached.

The kill-point tests start hundreds of such runs, and a new interpreter spends ~0.6 s
importing slotcap before the command does anything. :func:`run` starts them through a
fork server instead (``python -m tests.killpoint_launcher --fork-server``): one process
per calling thread that imports slotcap once, then ``fork()``s a child per run. Each
child is a new process running the command with its own environment, working directory,
stdout and stderr, and dies by a real SIGKILL (at a label, or from the test after a
delay: :meth:`Run.wait` with a timeout, then :meth:`Run.kill`); the server reaps it and
reports its exit status as ``subprocess`` would (``-9``). Nothing of a run is left in
the server: it opens no database and forks before every run.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import json
import os
import pkgutil
import queue
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

__all__ = ["Run", "checkpoint_hook", "launcher_argv", "launcher_env", "main", "run", "start"]

#: The repository's root: ``tests`` is importable from there whatever the cwd.
ROOT = Path(__file__).resolve().parents[1]


def _wanted(spec: str) -> tuple[str, int]:
    label, sep, nth = spec.rpartition("#")
    if sep and nth.isdigit() and int(nth) >= 1:
        return label, int(nth)
    return spec, 1


def checkpoint_hook(*, kill_at: str | None = None,
                    log: str | None = None) -> Callable[[str], None]:
    """A hook that logs each label to ``log`` and SIGKILLs the process at ``kill_at``."""
    counts: dict[str, int] = {}
    wanted = _wanted(kill_at) if kill_at else None

    def reached(label: str) -> None:
        count = counts[label] = counts.get(label, 0) + 1
        if log:
            with open(log, "a", encoding="utf-8") as out:
                out.write(label + "\n")
                out.flush()
                os.fsync(out.fileno())
        if wanted is not None and wanted == (label, count):
            os.kill(os.getpid(), signal.SIGKILL)

    return reached


def launcher_argv(*args: str, kill_at: str | None = None, log: str | None = None) -> list[str]:
    """The command line that runs ``slotcap *args`` through this launcher."""
    options = [*(("--kill-at", kill_at) if kill_at else ()), *(("--log", log) if log else ())]
    return [sys.executable, "-m", "tests.killpoint_launcher", *options, "--", *args]


def launcher_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with the repository's root first on ``PYTHONPATH`` (for ``-m tests…``)."""
    path = [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    return {**env, "PYTHONPATH": os.pathsep.join(path)}


# -- the fork server ---------------------------------------------------------------------
#: What a run of ``slotcap migrate`` imports, loaded once by the fork server (a module
#: left out is imported by the child itself: slower, not different).
PRELOAD_PACKAGES = ("slotcap.cli", "slotcap.migration", "slotcap.sql", "slotcap.usecases",
                    "slotcap.domain")
PRELOAD_MODULES = ("psycopg", "slotcap.bootstrap")


def _preload() -> None:
    for name in PRELOAD_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    for package in PRELOAD_PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, package + "."):
            if info.name.endswith(".__main__"):  # runs the command line when imported
                continue
            with contextlib.suppress(ImportError):
                importlib.import_module(info.name)


def _child(request: dict[str, Any]) -> int:
    """In the forked child: become the requested run; its exit code."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    if request["cwd"]:
        os.chdir(request["cwd"])
    args: list[str] = request["args"]
    from slotcap.cli.main import main as slotcap_main

    if request["hooked"]:  # as ``python -m tests.killpoint_launcher``
        return slotcap_main(args, checkpoint=checkpoint_hook(kill_at=request["kill_at"],
                                                             log=request["log"]))
    from slotcap.cli._process import console_process  # as ``python -m slotcap.cli``

    console_process()
    return slotcap_main(args)


def _serve() -> int:
    """``--fork-server``: one JSON request a line on stdin; for each, fork a child that
    runs it, answer ``{"pid": …}`` at once and ``{"returncode": …}`` once it is reaped."""
    _preload()
    requests = sys.stdin.buffer
    answers = sys.stdout.buffer
    for line in requests:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _child(request)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                for stream in (sys.stdout, sys.stderr):
                    with contextlib.suppress(Exception):
                        stream.flush()
                os._exit(code)
        answers.write(json.dumps({"pid": pid}).encode() + b"\n")
        answers.flush()
        _, status = os.waitpid(pid, 0)
        answers.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}).encode()
                      + b"\n")
        answers.flush()
    return 0


class _Server:
    """One fork server process (used by one run at a time)."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="slotcap-forks-")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.killpoint_launcher", "--fork-server"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=launcher_env(os.environ),
            cwd=ROOT,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.requests: IO[bytes] = self.process.stdin
        self.answers: IO[bytes] = self.process.stdout

    def answer(self, timeout: float | None) -> dict[str, Any] | None:
        """The server's next answer; None when ``timeout`` passes first."""
        ready, _, _ = select.select([self.answers], [], [], timeout)
        if not ready:
            return None
        line = self.answers.readline()
        if not line:
            raise RuntimeError("the kill-point fork server died "
                               f"(exit {self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.requests.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)


_idle: queue.SimpleQueue[_Server] = queue.SimpleQueue()
_all: list[_Server] = []


@contextlib.contextmanager
def _server() -> Iterator[_Server]:
    try:
        server = _idle.get_nowait()
    except queue.Empty:
        server = _Server()
        _all.append(server)
    try:
        yield server
    except BaseException:
        # A run left unanswered (an error, a timeout): this server is not reused.
        _all.remove(server)
        server.process.kill()
        server.close()
        raise
    _idle.put(server)


@atexit.register
def _close_servers() -> None:
    while _all:
        _all.pop().close()


class Run:
    """A running ``slotcap`` child of the fork server."""

    def __init__(self, argv: list[str], *, env: Mapping[str, str], cwd: str | None,
                 kill_at: str | None, log: str | None, hooked: bool) -> None:
        self.args = argv
        self._context = _server()
        self._server = self._context.__enter__()
        self._out = os.path.join(self._server.dir, "stdout")
        self._err = os.path.join(self._server.dir, "stderr")
        self.returncode: int | None = None
        self._output = ("", "")
        try:
            request = {"args": argv, "env": dict(env), "cwd": cwd, "kill_at": kill_at,
                       "log": log, "hooked": hooked, "stdout": self._out,
                       "stderr": self._err}
            self._server.requests.write(json.dumps(request).encode() + b"\n")
            self._server.requests.flush()
            started = self._server.answer(60)
            if started is None:
                raise RuntimeError("the kill-point fork server did not start a run in 60 s")
            self.pid: int = started["pid"]
        except BaseException:
            self._context.__exit__(*sys.exc_info())
            raise

    def wait(self, timeout: float | None = None) -> int:
        """The exit status (``-9``: SIGKILL); ``subprocess.TimeoutExpired`` if it is
        still running after ``timeout`` seconds."""
        if self.returncode is None:
            answer = self._server.answer(timeout)
            if answer is None:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            self.returncode = int(answer["returncode"])
            # Read before the server takes its next run (which writes the same files).
            self._output = (Path(self._out).read_text(encoding="utf-8", errors="replace"),
                            Path(self._err).read_text(encoding="utf-8", errors="replace"))
            self._context.__exit__(None, None, None)
        return self.returncode

    def kill(self) -> None:
        """SIGKILL the child (from outside, as an operator's ``kill -9``)."""
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def output(self) -> tuple[str, str]:
        """What the finished run wrote to stdout and stderr."""
        assert self.returncode is not None
        return self._output

    def abandon(self) -> None:
        """Kill a run that outlived its time; its server is not reused."""
        self.kill()
        self._context.__exit__(RuntimeError, RuntimeError("abandoned"), None)


def start(*args: str, env: Mapping[str, str], cwd: str | None = None,
          kill_at: str | None = None, log: str | None = None,
          hooked: bool = True) -> Run:
    """``slotcap *args`` started as a forked child (``hooked``: with the checkpoint hook,
    as :func:`launcher_argv`'s command; else as ``python -m slotcap.cli``)."""
    return Run(list(args), env=env, cwd=cwd, kill_at=kill_at, log=log, hooked=hooked)


def run(*args: str, env: Mapping[str, str], cwd: str | None = None,
        kill_at: str | None = None, log: str | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """What ``subprocess.run(launcher_argv(*args, kill_at=, log=), env=env,
    capture_output=True, text=True)`` returns, the process forked by the fork server."""
    child = start(*args, env=env, cwd=cwd, kill_at=kill_at, log=log)
    try:
        code = child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.abandon()
        raise
    out, err = child.output()
    return subprocess.CompletedProcess(launcher_argv(*args, kill_at=kill_at, log=log),
                                       code, out, err)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--fork-server"]:
        return _serve()
    parser = argparse.ArgumentParser(prog="python -m tests.killpoint_launcher")
    parser.add_argument("--kill-at", dest="kill_at", metavar="LABEL[#N]")
    parser.add_argument("--log", metavar="FILE")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    args = list(options.args)
    if args[:1] == ["--"]:
        args = args[1:]
    from slotcap.cli.main import main as slotcap_main

    return slotcap_main(args, checkpoint=checkpoint_hook(kill_at=options.kill_at,
                                                         log=options.log))


if __name__ == "__main__":
    sys.exit(main())
