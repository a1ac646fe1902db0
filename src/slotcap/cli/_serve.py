"""``slotcap serve``: the plan's public reservation API over HTTP (the ``server`` extra).

A thin shell: it checks the extra is installed, wires the app through the composition
root (``bootstrap``: store, clock and the rollout from ``USE_DYNAMIC_SERVICES`` and
``DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE``), binds the socket itself (so a port in use is a
one-line error, and ``--port 0`` picks a free one) and hands both to uvicorn.

Every problem before serving — the extra missing, the database unreadable, the address
taken — is one line on stderr and exit 2. SIGTERM (or Ctrl-C) stops accepting
connections, lets the in-flight requests finish (up to ``--graceful-timeout``), closes
the store and exits 0.
"""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

from slotcap.bootstrap import App, bootstrap
from slotcap.cli._args import positive_float, positive_int, resolve_database
from slotcap.errors import ConfigurationError
from slotcap.redaction import redact_db_text

__all__ = ["DEFAULT_PORT", "DEFAULT_THREADS", "EXTRA_MODULES", "cmd_serve", "register"]

Handler = Callable[[argparse.Namespace], int]
Subcommand = Callable[[Any, str, Handler, str], argparse.ArgumentParser]

DEFAULT_PORT = 8000
#: Worker threads (and so database connections) of one server.
DEFAULT_THREADS = 16
#: What ``pip install 'slotcap[server]'`` brings, by import name.
EXTRA_MODULES = ("starlette", "uvicorn", "prometheus_client")
_LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 0 to 65535, got {value}")
    return value


def _check_extra() -> None:
    for name in EXTRA_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            raise ConfigurationError(
                f"slotcap serve needs the server extra ({name} is not installed): "
                "pip install 'slotcap[server]'"
            ) from None


def _open(url: str) -> App:
    try:
        return bootstrap(url, application_name="slotcap-serve")
    except ConfigurationError:
        raise
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ConfigurationError(
            f"cannot open the database: {type(exc).__name__}: {redact_db_text(first)}"
        ) from None


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket. Made with ``IPPROTO_TCP`` (``socket.create_server`` leaves
    the protocol 0) so that asyncio sets TCP_NODELAY on every accepted connection: without
    it a keep-alive client waits ~40 ms per response (Nagle's algorithm holding the body
    back behind the headers until the client's delayed ACK)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None
    sock.set_inheritable(True)
    return sock


def cmd_serve(args: argparse.Namespace) -> int:
    _check_extra()
    url = resolve_database(args.database)
    app = _open(url)
    try:
        sock = _listen(args.host, args.port)
    except ConfigurationError:
        app.close()
        raise
    import uvicorn

    from slotcap.adapters.http import create_app
    from slotcap.adapters.http.mounts import operator_routes

    metrics, routes = operator_routes(app)
    asgi = create_app(app, metrics=metrics, routes=routes, max_body_bytes=args.max_body_bytes,
                      threads=args.threads)
    config = uvicorn.Config(
        asgi, lifespan="on", log_level=args.log_level, server_header=False,
        timeout_graceful_shutdown=args.graceful_timeout, proxy_headers=False,
    )
    server = uvicorn.Server(config)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    listening = {"url": f"http://{shown}:{port}", "host": host, "port": port,
                 "schema_state": app.store.schema_state.value,
                 "rollout": {"enabled": app.rollout.enabled,
                             "percentage": app.rollout.percentage}}
    if args.json:
        print(json.dumps(listening), flush=True)
    else:
        print(f"slotcap serve: listening on {listening['url']} "
              f"(schema {listening['schema_state']}, dynamic rule "
              f"{'on for everyone' if app.rollout.enabled else str(app.rollout.percentage) + ' %'}"
              "); SIGTERM or Ctrl-C stops it gracefully", flush=True)
    # uvicorn catches SIGTERM and SIGINT, shuts down gracefully, then raises the signal
    # again with the previous handler: these, so that a graceful stop exits 0.
    stopped: list[int] = []
    previous = {sig: signal.signal(sig, lambda number, _frame: stopped.append(number))
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    if not server.started:
        raise ConfigurationError("the server did not start (see the log above)")
    print("slotcap serve: stopped; in-flight requests finished", file=sys.stderr, flush=True)
    return 0


def register(sub: Any, subcommand: Subcommand) -> None:
    """Add ``serve`` to the top-level subparsers ``sub``."""
    serve = subcommand(sub, "serve", cmd_serve,
                       "serve the reservation API over HTTP (needs the server extra)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=port_number, default=DEFAULT_PORT,
                       help=f"port (default: {DEFAULT_PORT}; 0 picks a free one)")
    serve.add_argument("--max-body-bytes", type=positive_int, default=64 * 1024,
                       dest="max_body_bytes", metavar="BYTES",
                       help="largest request body; larger ones get 413 (default: 65536)")
    serve.add_argument("--graceful-timeout", type=positive_float, default=30.0,
                       dest="graceful_timeout", metavar="SECONDS",
                       help="on SIGTERM, how long in-flight requests may take to finish "
                       "(default: 30)")
    serve.add_argument("--threads", type=positive_int, default=DEFAULT_THREADS,
                       help="worker threads running database work, each with its own "
                       f"connection: the most connections the server opens "
                       f"(default: {DEFAULT_THREADS})")
    serve.add_argument("--log-level", choices=_LOG_LEVELS, default="info", dest="log_level",
                       help="uvicorn's log level (default: info)")
