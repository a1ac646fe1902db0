"""``slotcap serve``: the plan's public reservation API over HTTP (the ``server`` extra).

A thin shell: it checks the extra is installed, wires the app through the composition
root (``bootstrap``: store, clock and the rollout from ``USE_DYNAMIC_SERVICES`` and
``DYNAMIC_SERVICES_ROLLOUT_PERCENTAGE``), binds the socket itself (so a port in use is a
one-line error, and ``--port 0`` picks a free one) and hands both to uvicorn.

Every problem before serving — the extra missing, the database unreadable, the address
taken, an unreadable operator token file or rate — is one line on stderr and exit 2.
On the open internet (docs/server.md): an operator token (``SLOTCAP_OPERATOR_TOKEN`` or
``--operator-token-file``) guards ``/`` and ``/metrics``; per-client rate limits are on
by default; ``--workers N`` forks N processes on the one socket. SIGTERM (or Ctrl-C) stops accepting
connections, lets the in-flight requests finish (up to ``--graceful-timeout``), closes
the store and exits 0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import ipaddress
import json
import os
import signal
import socket
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from slotcap.bootstrap import App, bootstrap
from slotcap.cli._args import positive_float, positive_int, resolve_database
from slotcap.errors import ConfigurationError
from slotcap.ports import DEFAULT_BUSY_BUDGET
from slotcap.redaction import redact_db_text

__all__ = [
    "DEFAULT_BOOKINGS_RATE",
    "DEFAULT_PORT",
    "DEFAULT_READS_RATE",
    "DEFAULT_THREADS",
    "EXTRA_MODULES",
    "TOKEN_VARIABLE",
    "cmd_serve",
    "operator_token",
    "register",
]

Handler = Callable[[argparse.Namespace], int]
Subcommand = Callable[[Any, str, Handler, str], argparse.ArgumentParser]

DEFAULT_PORT = 8000
#: Worker threads (and so database connections) of one server.
DEFAULT_THREADS = 16
#: What ``pip install 'slotcap[server]'`` brings, by import name.
EXTRA_MODULES = ("starlette", "uvicorn", "prometheus_client")
_LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
#: Per client and minute, by default: a patient books once or twice; a booking form
#: makes a few reads per step.
DEFAULT_BOOKINGS_RATE = "10/m"
DEFAULT_READS_RATE = "120/m"
TOKEN_VARIABLE = "SLOTCAP_OPERATOR_TOKEN"  # noqa: S105 (the variable's name)
_LOOPBACK_NAMES = ("localhost",)


def rate(text: str) -> int:
    from slotcap.http.limits import parse_rate

    try:
        return parse_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def operator_token(file: str | None, env: Mapping[str, str]) -> str | None:
    """The operator token: the file's content (trailing whitespace stripped) if
    given, else ``SLOTCAP_OPERATOR_TOKEN``; never echoed in any message."""
    if file is not None:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"--operator-token-file: cannot read {file}: {type(exc).__name__}") from None
        source = "--operator-token-file"
    else:
        found = env.get(TOKEN_VARIABLE)
        if found is None:
            return None
        text, source = found, TOKEN_VARIABLE
    token = text.rstrip()
    if not token or any(not " " < ch <= "~" for ch in token):
        raise ConfigurationError(
            f"{source}: the operator token must be printable ASCII without spaces "
            "(it is sent as Authorization: Bearer <token>)")
    return token


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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


def _open(url: str, busy_budget: float) -> App:
    try:
        return bootstrap(url, application_name="slotcap-serve", busy_budget=busy_budget)
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


def _guard(args: argparse.Namespace, token: str | None) -> Any:
    from slotcap.http.guard import GuardSettings
    from slotcap.http.limits import ClientAddress

    allowed = tuple(i.strip() for i in (args.forwarded_allow_ips or "").split(",") if i.strip())
    try:
        ClientAddress(allowed)
    except ValueError as exc:
        raise ConfigurationError(f"--forwarded-allow-ips: {exc}") from None
    return GuardSettings(
        operator_token=token,
        operator_hidden=token is None and not _is_loopback(args.host),
        bookings_per_minute=args.rate_limit_bookings,
        reads_per_minute=args.rate_limit_reads,
        forwarded_allow_ips=allowed,
        max_header_bytes=args.max_header_bytes,
    )


def _operator_line(guard: Any) -> str:
    if guard.operator_token is not None:
        return "token"
    return "hidden" if guard.operator_hidden else "open"


def cmd_serve(args: argparse.Namespace) -> int:
    _check_extra()
    url = resolve_database(args.database)
    token = operator_token(args.operator_token_file, os.environ)
    guard = _guard(args, token)
    app = _open(url, args.busy_budget)
    try:
        sock = _listen(args.host, args.port)
    except ConfigurationError:
        app.close()
        raise
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    listening = {"url": f"http://{shown}:{port}", "host": host, "port": port,
                 "schema_state": app.store.schema_state.value,
                 "rollout": {"enabled": app.rollout.enabled,
                             "percentage": app.rollout.percentage},
                 "operator": _operator_line(guard), "workers": args.workers,
                 "rate_limits": {"bookings_per_minute": guard.bookings_per_minute,
                                 "reads_per_minute": guard.reads_per_minute}}
    if args.json:
        print(json.dumps(listening), flush=True)
    else:
        operator = {"token": "need the operator token",
                    "hidden": "answer 404: no operator token on a non-loopback address "
                              f"(set {TOKEN_VARIABLE} or --operator-token-file)",
                    "open": "open (loopback only)"}[listening["operator"]]
        print(f"slotcap serve: listening on {listening['url']} "
              f"(schema {listening['schema_state']}, dynamic rule "
              f"{'on for everyone' if app.rollout.enabled else str(app.rollout.percentage) + ' %'}"
              f", {args.workers} worker(s)); / and /metrics {operator}; "
              "SIGTERM or Ctrl-C stops it gracefully", flush=True)
    if args.workers > 1:
        from slotcap.http.serving import run_workers

        app.close()  # each worker opens its own connections, after the fork
        try:
            return run_workers(args.workers, lambda: _serve_socket(
                _open(url, args.busy_budget), sock, args, guard))
        finally:
            sock.close()
    return _serve_socket(app, sock, args, guard)


def _serve_socket(app: App, sock: socket.socket, args: argparse.Namespace, guard: Any) -> int:
    import logging

    import uvicorn

    from slotcap.http import create_app
    from slotcap.http.mounts import operator_routes
    from slotcap.http.serving import AccessLogRedaction, protocol_with_header_timeout

    if args.no_shadow:
        app.store.shadow.enabled = False  # docs/rollout.md, "Shadow decisions"
    metrics, routes = operator_routes(app)
    asgi = create_app(app, metrics=metrics, routes=routes, max_body_bytes=args.max_body_bytes,
                      threads=args.threads, guard=guard, body_timeout=args.body_timeout,
                      idempotency_ttl=dt.timedelta(hours=args.idempotency_ttl))
    config = uvicorn.Config(
        asgi, lifespan="on", log_level=args.log_level, server_header=False,
        timeout_graceful_shutdown=args.graceful_timeout, proxy_headers=False,
        # Pure-Python h11 on asyncio whatever else is installed: the header deadline
        # is a subclass of uvicorn's h11 protocol (docs/server.md, uvicorn[standard]).
        http=protocol_with_header_timeout(args.header_timeout), loop="asyncio",
        limit_concurrency=args.max_connections,
        # h11 refuses an unfinished head past this (400); a finished one over the
        # limit is answered 431 by the guard.
        h11_max_incomplete_event_size=args.max_header_bytes + 1024,
    )
    logging.getLogger("uvicorn.access").addFilter(AccessLogRedaction())
    server = uvicorn.Server(config)
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
    serve.add_argument("--busy-budget", type=positive_float, default=DEFAULT_BUSY_BUDGET,
                       dest="busy_budget", metavar="SECONDS",
                       help="how long a booking keeps waiting for the database's locks "
                       "(retries included) before it is answered 503 (default: %(default)s)")
    serve.add_argument("--log-level", choices=_LOG_LEVELS, default="info", dest="log_level",
                       help="uvicorn's log level (default: info)")
    serve.add_argument("--operator-token-file", dest="operator_token_file", metavar="FILE",
                       help=f"the token / and /metrics need (Authorization: Bearer); "
                       f"default: ${TOKEN_VARIABLE}. Without one on a non-loopback "
                       "address they answer 404")
    serve.add_argument("--rate-limit-bookings", type=rate, default=DEFAULT_BOOKINGS_RATE,
                       dest="rate_limit_bookings", metavar="N/m",
                       help="bookings per client and minute, per process; 0 disables "
                       "(default: %(default)s)")
    serve.add_argument("--rate-limit-reads", type=rate, default=DEFAULT_READS_RATE,
                       dest="rate_limit_reads", metavar="N/m",
                       help="/api GETs per client and minute, per process; 0 disables "
                       "(default: %(default)s)")
    serve.add_argument("--forwarded-allow-ips", dest="forwarded_allow_ips", default="",
                       metavar="LIST",
                       help="comma-separated proxy addresses or networks (* for any) "
                       "whose X-Forwarded-For / Forwarded name the client (default: none)")
    serve.add_argument("--workers", type=positive_int, default=1,
                       help="processes serving the one socket (default: 1)")
    serve.add_argument("--max-connections", type=positive_int, default=1000,
                       dest="max_connections", metavar="N",
                       help="concurrent connections (and requests) per process before "
                       "new requests get 503 (default: %(default)s)")
    serve.add_argument("--max-header-bytes", type=positive_int, default=16 * 1024,
                       dest="max_header_bytes", metavar="BYTES",
                       help="request headers larger than this get 431 (default: 16384)")
    serve.add_argument("--header-timeout", type=positive_float, default=10.0,
                       dest="header_timeout", metavar="SECONDS",
                       help="a connection whose request head is not complete in time is "
                       "closed (default: 10)")
    serve.add_argument("--body-timeout", type=positive_float, default=30.0,
                       dest="body_timeout", metavar="SECONDS",
                       help="a body not received in time gets 408 (default: 30)")
    serve.add_argument("--no-shadow", action="store_true", dest="no_shadow",
                       help="do not ask the other rule beside each booking and check "
                       "(default: shadow decisions on in phases 1-3; SLOTCAP_SHADOW=off)")
    serve.add_argument("--idempotency-ttl", type=positive_float, default=24.0,
                       dest="idempotency_ttl", metavar="HOURS",
                       help="how long an Idempotency-Key's first answer is kept "
                       "(default: 24)")
