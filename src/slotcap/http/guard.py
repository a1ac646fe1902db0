"""What stands between the open internet and the handlers: one ASGI middleware.

In order, for every HTTP request:

1. request headers over ``max_header_bytes`` (names and values summed) → 431;
2. the operator's routes (``/``, ``/metrics``): with an operator token configured they
   need ``Authorization: Bearer <token>`` (compared in constant time), else 401 with
   ``WWW-Authenticate: Bearer realm="slotcap"``; with none configured on a
   non-loopback address they answer 404, as if absent;
3. per-client rate limits on ``/api`` (bookings: ``POST /api/public/reservations``;
   reads: the ``/api`` GETs) → 429 with ``Retry-After`` and ``"code": "rate_limited"``;
   ``/healthz``, ``/readyz``, ``/openapi.json`` and CORS preflights are never limited;

and on every response ``X-Content-Type-Options: nosniff``, plus ``Cache-Control:
no-store`` on every ``/api/public/reservations`` answer (a booking's carries its id).
Its refusals under ``/api`` have the JSON error shape and the CORS headers.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import attrs

from slotcap.http.limits import ClientAddress, RateLimiter

__all__ = [
    "API_CORS",
    "DEFAULT_MAX_HEADER_BYTES",
    "GuardMiddleware",
    "GuardSettings",
    "error_response",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Request headers larger than this, in all, are refused with 431 (names + values).
DEFAULT_MAX_HEADER_BYTES = 16 * 1024
#: The CORS headers of a refusal under ``/api`` (the route's own methods are not known
#: before routing: the union of the API's).
API_CORS: dict[str, str] = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, X-Slotcap-Subject, Idempotency-Key",
}
_RESERVATIONS_PATH = "/api/public/reservations"
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (b"cache-control", b"no-store")


@attrs.frozen(kw_only=True)
class GuardSettings:
    """``operator_token``: the Bearer token of the operator's routes (None: none);
    ``operator_hidden``: no token and a non-loopback address, so those routes answer
    404; ``bookings_per_minute`` / ``reads_per_minute``: per client, 0 = no limit."""

    operator_paths: frozenset[str] = frozenset({"/", "/metrics"})
    operator_token: str | None = None
    operator_hidden: bool = False
    bookings_per_minute: int = 0
    reads_per_minute: int = 0
    forwarded_allow_ips: tuple[str, ...] = ()
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    max_clients: int = 10_000


def error_response(status: int, body: dict[str, Any],
                   headers: dict[str, str] | None = None) -> tuple[int, list[tuple[bytes, bytes]],
                                                                    bytes]:
    payload = json.dumps(body, ensure_ascii=False).encode()
    raw = [(b"content-type", b"application/json"),
           (b"content-length", str(len(payload)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in (headers or {}).items()]
    return status, raw, payload


class GuardMiddleware:
    def __init__(self, app: ASGIApp, settings: GuardSettings) -> None:
        self.app = app
        self.settings = settings
        self._token = (settings.operator_token.encode()
                       if settings.operator_token is not None else None)
        self._clients = ClientAddress(settings.forwarded_allow_ips)
        self._bookings = (RateLimiter(settings.bookings_per_minute,
                                      max_clients=settings.max_clients)
                          if settings.bookings_per_minute > 0 else None)
        self._reads = (RateLimiter(settings.reads_per_minute, max_clients=settings.max_clients)
                       if settings.reads_per_minute > 0 else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        no_store = path.startswith(_RESERVATIONS_PATH)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append(_NOSNIFF)
                if no_store and not any(k == b"cache-control" for k, _ in headers):
                    headers.append(_NO_STORE)
                message["headers"] = headers
            await send(message)

        refusal = self._refusal(scope, path)
        if refusal is not None:
            status, headers, payload = refusal
            await send_with_headers({"type": "http.response.start", "status": status,
                                     "headers": headers})
            await send_with_headers({"type": "http.response.body", "body": payload})
            return
        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope, path: str) -> tuple[int, list[tuple[bytes, bytes]],
                                                            bytes] | None:
        raw_headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        api = path.startswith("/api")
        cors = API_CORS if api else {}
        size = sum(len(k) + len(v) for k, v in raw_headers)
        if size > self.settings.max_header_bytes:
            return error_response(431, {
                "error": "Request header fields too large", "code": "headers_too_large",
                "message": f"request headers may hold at most "
                           f"{self.settings.max_header_bytes} bytes in all",
                "limit": self.settings.max_header_bytes}, {**cors, "Connection": "close"})
        if path in self.settings.operator_paths:
            return self._operator(raw_headers)
        if not api or scope.get("method") == "OPTIONS":
            return None
        limiter = self._bookings if scope.get("method") == "POST" else self._reads
        if limiter is None:
            return None
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw_headers
                   if k in (b"x-forwarded-for", b"forwarded")}
        client = scope.get("client")
        peer = client[0] if client else "unknown"
        wait = limiter.take(self._clients.of(peer, headers))
        if wait == 0:
            return None
        kind = "bookings" if limiter is self._bookings else "requests"
        return error_response(429, {
            "error": "Too many requests", "code": "rate_limited",
            "message": f"at most {limiter.per_minute} {kind} a minute from one client; "
                       f"retry in {wait} s",
            "retry_after": wait}, {**cors, "Retry-After": str(wait)})

    def _operator(self, raw_headers: list[tuple[bytes, bytes]]) -> tuple[
            int, list[tuple[bytes, bytes]], bytes] | None:
        if self._token is None:
            if self.settings.operator_hidden:
                return error_response(404, {"error": "Not found", "code": "not_found"})
            return None
        sent = next((v for k, v in raw_headers if k == b"authorization"), None)
        scheme, _, credentials = (sent or b"").partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self._token):
            return None
        challenge = 'Bearer realm="slotcap"'
        if sent is not None:
            challenge += ', error="invalid_token"'
        return error_response(401, {
            "error": "Unauthorized", "code": "unauthorized",
            "message": "the operator's routes need Authorization: Bearer <operator token>"},
            {"WWW-Authenticate": challenge})
