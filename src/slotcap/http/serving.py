"""How uvicorn runs the app on the open internet: slow clients cut off, the access log
without secrets, and N processes on one socket.

* :class:`GuardedH11Protocol` — uvicorn's h11 protocol with a header deadline: a
  connection that has not sent a complete request head within ``header_timeout``
  seconds of connecting (or of its previous answer) is closed, so trickled headers
  cannot hold sockets forever (uvicorn itself waits indefinitely once bytes arrive).
* :class:`AccessLogRedaction` — a logging filter for ``uvicorn.access``: a query
  string keeps only the API's own parameters' values (``date``, ``service``, ``from``,
  ``to``); any other value (a token someone put in a URL) is logged as ``redacted``.
  Headers (``Authorization``) are never in the access log.
* :func:`run_workers` — ``--workers N``: N processes forked after the socket is bound,
  each serving it with its own store; SIGTERM/SIGINT to the parent stops them all
  gracefully, a worker that dies is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["SHOWN_QUERY_PARAMETERS", "AccessLogRedaction", "GuardedH11Protocol", "run_workers"]

#: Query parameters whose values the access log shows; every other value is redacted.
SHOWN_QUERY_PARAMETERS = frozenset({"date", "service", "from", "to"})


def protocol_with_header_timeout(header_timeout: float) -> type[GuardedH11Protocol]:
    """uvicorn's ``http=`` class with this deadline."""
    return type("GuardedH11", (GuardedH11Protocol,), {"header_timeout": header_timeout})


class GuardedH11Protocol(H11Protocol):
    header_timeout = 10.0
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the request head is complete

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()  # the next request's head has the same deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._head_deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _too_slow(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


class AccessLogRedaction(logging.Filter):
    """uvicorn's access record is ``(client, method, path?query, version, status)``."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], redact_target(args[2]), *args[3:])
        return True


def redact_target(target: str) -> str:
    path, sep, query = target.partition("?")
    if not sep:
        return path
    shown = [f"{quote(k)}={quote(v) if k in SHOWN_QUERY_PARAMETERS else 'redacted'}"
             for k, v in parse_qsl(query, keep_blank_values=True)]
    return path + "?" + "&".join(shown)


def run_workers(count: int, serve: Callable[[], int], *,
                log: Callable[[str], Any] = lambda text: print(text, file=sys.stderr,
                                                               flush=True)) -> int:
    """Fork ``count`` processes running ``serve`` (each opens its own store and serves
    the socket bound before the fork); 0 once all stopped after SIGTERM/SIGINT.

    A worker that exits without being told to is logged and replaced (at most once a
    second, so a worker that cannot start does not spin)."""
    children: dict[int, int] = {}  # pid -> slot
    stopping: list[int] = []

    def start(slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 1
            try:
                code = serve()
            finally:
                os._exit(code)
        children[pid] = slot

    def stop(number: int, _frame: Any) -> None:
        stopping.append(number)
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for slot in range(count):
            start(slot)
        last_restart = 0.0
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:  # pragma: no cover (PEP 475 retries)
                continue
            slot = children.pop(pid, -1)
            if slot < 0 or stopping:
                continue
            log(f"slotcap serve: worker {pid} exited ({os.waitstatus_to_exitcode(status)}); "
                "starting another")
            time.sleep(max(0.0, 1.0 - (time.monotonic() - last_restart)))
            last_restart = time.monotonic()
            start(slot)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
