"""The ASGI application: Starlette routes over :mod:`.handlers`.

Store work is blocking, so every handler runs in Starlette's worker threads
(``run_in_threadpool``); the event loop only reads bodies and writes responses. The SQL
stores are safe to share between those threads: each thread gets its own connection
(``adapters.sql.connections.ThreadLocalConnections``), so one store serves the whole
process, and a booking's transaction never interleaves with another's.

Bodies are read up to ``max_body_bytes`` (413 beyond, before the rest is read) and
within ``body_timeout`` seconds (408 and the connection closed beyond: a client
trickling its body holds no worker); a body that is not JSON, or not a JSON object, is
a 400 naming ``body``. :mod:`.guard` (operator token, rate limits, header size,
``nosniff`` / ``no-store``) wraps the whole application; 404 and 405 under ``/api``
answer the JSON error shape with CORS. Expired ``Idempotency-Key`` records are purged
at start and every ``PURGE_EVERY`` seconds. The public routes
answer CORS preflights (``OPTIONS``) and carry the plan's CORS headers on every
response, errors included, so that a browser form can read why it was refused.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Protocol

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from slotcap.bootstrap import App
from slotcap.http import handlers, replies
from slotcap.http.guard import API_CORS, GuardMiddleware, GuardSettings
from slotcap.http.handlers import IDEMPOTENCY_HEADER, NO_RULE, REPLAYED_HEADER, Outcome
from slotcap.http.openapi import openapi_document
from slotcap.http.replies import Reply
from slotcap.usecases import DEFAULT_IDEMPOTENCY_TTL
from slotcap.usecases.shadow import purge_expired

__all__ = [
    "AVAILABILITY",
    "CALENDAR",
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_MAX_BODY_BYTES",
    "PURGE_EVERY",
    "RESERVATIONS_PATH",
    "SERVICES",
    "SUBJECT_HEADER",
    "Observer",
    "create_app",
    "decode_json",
]

#: The largest request body read (bytes). A booking is well under 4 KiB; notes may
#: hold 2,000 characters of Korean (6 KiB in UTF-8).
DEFAULT_MAX_BODY_BYTES = 64 * 1024
#: The header carrying the rollout's sticky key (the web app's session id).
SUBJECT_HEADER = "X-Slotcap-Subject"
#: Seconds a client has to send its whole body once the headers are in.
DEFAULT_BODY_TIMEOUT = 30.0
#: Seconds between two purges of expired Idempotency-Key records.
PURGE_EVERY = 600.0
_LOG = logging.getLogger("slotcap.server")
RESERVATIONS_PATH = "/api/public/reservations"
AVAILABILITY = RESERVATIONS_PATH + "/availability"
CALENDAR = RESERVATIONS_PATH + "/calendar"
SERVICES = "/api/services"


class Observer(Protocol):
    """Where every API request is counted (``ServerMetrics``)."""

    def observe(self, *, endpoint: str, rule_path: str, outcome: str, seconds: float) -> None:
        ...


def _cors(methods: str) -> dict[str, str]:
    # The plan's headers; the subject header is allowed too, for a web app that sends it.
    return {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": methods,
        "Access-Control-Allow-Headers": f"Content-Type, {SUBJECT_HEADER}, {IDEMPOTENCY_HEADER}",
        "Access-Control-Expose-Headers": f"{REPLAYED_HEADER}, Retry-After",
    }


def _response(reply: Reply, extra: Mapping[str, str] | None = None) -> Response:
    headers = {**reply.headers, **(extra or {})}
    return JSONResponse(reply.body, status_code=reply.status, headers=headers)


async def _read_body_within(request: Request, limit: int, timeout: float) -> bytes | Reply:
    with anyio.move_on_after(timeout):
        return await _read_body(request, limit)
    return Reply(408, {"error": "Request timeout", "code": "body_timeout",
                       "message": f"the body was not received within {timeout:g} s"},
                 outcome="invalid", headers={"Connection": "close"})


async def _read_body(request: Request, limit: int) -> bytes | Reply:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            return replies.invalid_json("Content-Length is not a number")
        if int(declared) > limit:
            return replies.too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return replies.too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        return replies.invalid_json("the client went away before the body was read")
    return b"".join(chunks)


def decode_json(raw: bytes) -> object | Reply:
    """The decoded body, or the 400 saying why it is not JSON."""
    if not raw.strip():
        return replies.invalid_json("empty body: send a JSON object of booking fields")
    try:
        body: object = json.loads(raw)
    except RecursionError:
        return replies.invalid_json("nested too deeply")
    except json.JSONDecodeError as exc:
        return replies.invalid_json(f"not valid JSON: {exc.msg} (line {exc.lineno}, "
                                    f"column {exc.colno})")
    except ValueError:  # not UTF-8/16/32, or an integer too long to convert
        return replies.invalid_json("not valid JSON text (UTF-8)")
    return body


def create_app(
    app: App,
    *,
    metrics: Observer | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    routes: list[Route] | None = None,
    close_on_shutdown: bool = True,
    threads: int | None = None,
    guard: GuardSettings | None = None,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    idempotency_ttl: dt.timedelta = DEFAULT_IDEMPOTENCY_TTL,
) -> Starlette:
    """The API over ``app``'s store, clock and rollout.

    ``metrics`` counts every API request; ``routes`` are mounted beside the API's
    (the operator's ``/metrics`` and ``/``). With ``close_on_shutdown`` the app's store
    is closed when the server stops (after the in-flight requests finished).
    ``threads`` caps the worker threads that run store work (default: Starlette's, 40);
    each holds one database connection, so this bounds the server's connections.
    ``guard``: the operator token, rate limits and header limit (default: none of
    them — ``slotcap serve`` always passes its options); ``idempotency_ttl``: how
    long an ``Idempotency-Key``'s first answer is kept.
    """

    async def api(
        request: Request, endpoint: str, methods: str,
        work: Callable[[], Awaitable[Outcome]],
    ) -> Response:
        started = time.perf_counter()
        cors = _cors(methods)
        if request.method == "OPTIONS":
            reply, rule_path = Reply(204, None), NO_RULE
            response: Response = Response(status_code=204,
                                          headers={**cors, "Access-Control-Max-Age": "600"})
        else:
            reply, rule_path = await work()
            response = _response(reply, cors)
        if metrics is not None:
            outcome = reply.outcome
            metrics.observe(endpoint=endpoint, rule_path=rule_path, outcome=outcome,
                            seconds=time.perf_counter() - started)
        return response

    async def post_reservation(request: Request) -> Response:
        async def work() -> Outcome:
            raw = await _read_body_within(request, max_body_bytes, body_timeout)
            if isinstance(raw, Reply):
                return raw, NO_RULE
            body = decode_json(raw)
            if isinstance(body, Reply):
                return body, NO_RULE
            subject = request.headers.get(SUBJECT_HEADER)
            key = request.headers.get(IDEMPOTENCY_HEADER)
            return await run_in_threadpool(
                lambda: handlers.create_reservation(app, body, subject, key,
                                                    idempotency_ttl=idempotency_ttl))

        return await api(request, RESERVATIONS_PATH, "POST, OPTIONS", work)

    async def get_availability(request: Request) -> Response:
        async def work() -> Outcome:
            params = dict(request.query_params)
            subject = request.headers.get(SUBJECT_HEADER)
            return await run_in_threadpool(
                handlers.guarded, lambda: handlers.availability(app, params, subject))

        return await api(request, AVAILABILITY, "GET, OPTIONS", work)

    async def get_calendar(request: Request) -> Response:
        async def work() -> Outcome:
            params = dict(request.query_params)
            return await run_in_threadpool(
                handlers.guarded, lambda: handlers.calendar(app, params))

        return await api(request, CALENDAR, "GET, OPTIONS", work)

    async def get_services(request: Request) -> Response:
        async def work() -> Outcome:
            return await run_in_threadpool(handlers.guarded, lambda: handlers.services(app))

        return await api(request, SERVICES, "GET, OPTIONS", work)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        return _response(await run_in_threadpool(handlers.readiness, app))

    mounted = {route.path for route in routes or []}
    document = openapi_document(max_body_bytes=max_body_bytes,
                                operator={"/metrics", "/"} <= mounted)

    async def openapi(_request: Request) -> Response:
        return JSONResponse(document)

    def purge() -> None:
        try:
            gone = app.store.purge_idempotency_keys(
                app.clock.now().astimezone(dt.UTC).replace(tzinfo=None) - idempotency_ttl)
        except Exception as exc:  # the next round tries again; bookings are unaffected
            _LOG.warning("idempotency purge failed: %s", type(exc).__name__)
        else:
            if gone:
                _LOG.info("idempotency purge: %d expired keys removed", gone)
        purge_expired(app.store, app.clock.now())  # shadow records: 30 days; never raises

    async def purge_forever() -> None:
        while True:
            await run_in_threadpool(purge)
            await anyio.sleep(PURGE_EVERY)

    @contextlib.asynccontextmanager
    async def lifespan(_server: Starlette) -> AsyncIterator[None]:
        # The server's start-up: the worker-thread cap is set on the serving event
        # loop's limiter for the server's life and put back when it stops (building
        # the app changes nothing).
        limiter = anyio.to_thread.current_default_thread_limiter()
        before = limiter.total_tokens
        if threads is not None:
            limiter.total_tokens = threads
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(purge_forever)
                yield
                tasks.cancel_scope.cancel()
            if close_on_shutdown:
                await run_in_threadpool(app.close)
        finally:
            limiter.total_tokens = before

    async def missing(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)  # noqa: S101 (registered for 404 and 405)
        if not request.url.path.startswith("/api"):
            return PlainTextResponse(exc.detail, status_code=exc.status_code,
                                     headers=exc.headers)
        allow = (exc.headers or {}).get("Allow")
        return _response(replies.not_found(exc.status_code, allow), API_CORS)

    return Starlette(
        routes=[
            Route(RESERVATIONS_PATH, post_reservation, methods=["POST", "OPTIONS"]),
            Route(AVAILABILITY, get_availability, methods=["GET", "OPTIONS"]),
            Route(CALENDAR, get_calendar, methods=["GET", "OPTIONS"]),
            Route(SERVICES, get_services, methods=["GET", "OPTIONS"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            *(routes or []),
        ],
        lifespan=lifespan,
        exception_handlers={404: missing, 405: missing},
        middleware=[Middleware(GuardMiddleware, settings=guard or GuardSettings())],
    )
