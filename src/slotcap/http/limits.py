"""Per-client rate limits: a token bucket per client, and who the client is.

A bucket holds up to ``per_minute`` tokens and gains ``per_minute / 60`` a second; a
request takes one, and a request that finds none is answered 429 with the seconds
until one is back (``Retry-After``). The buckets live in one bounded table (least
recently seen client evicted first), so a flood of distinct clients costs bounded
memory; an evicted client simply starts again with a full bucket. The table is per
process: N server processes allow a client up to N times the limit.

The client is the socket's peer address. ``X-Forwarded-For`` (or ``Forwarded:
for=``) is read only when that peer is a trusted proxy (``--forwarded-allow-ips``, as
uvicorn means it: addresses or networks, ``*`` for any): the client is then the
right-most address in the header that is not itself a trusted proxy, so an address a
client wrote at the left of the header changes nothing.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

__all__ = ["DEFAULT_MAX_CLIENTS", "ClientAddress", "RateLimiter", "parse_rate"]

#: Buckets kept per limiter before the least recently seen client is evicted.
DEFAULT_MAX_CLIENTS = 10_000

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_rate(text: str) -> int:
    """``"10/m"``, ``"10/min"`` or ``"10"`` → 10 requests a minute; ``"0"`` disables.
    ValueError (naming the accepted forms) otherwise."""
    value = text.strip().lower()
    for suffix in ("/minute", "/min", "/m"):
        if value.endswith(suffix):
            value = value[: -len(suffix)]
            break
    if not value.isdigit() or len(value) > 9:
        raise ValueError(f"not a rate: {text!r} (use N/m, e.g. 10/m; 0 disables)")
    return int(value)


class RateLimiter:
    """Token buckets by client key; ``take(key)`` → 0 (allowed) or the seconds to wait.

    Not thread-safe: it is called from the server's event loop only.
    """

    def __init__(self, per_minute: int, *, max_clients: int = DEFAULT_MAX_CLIENTS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1 or max_clients < 1:
            raise ValueError("per_minute and max_clients must be at least 1")
        self.per_minute = per_minute
        self._rate = per_minute / 60.0  # tokens a second
        self._max_clients = max_clients
        self._clock = clock
        #: key -> (tokens, when they were counted); most recently seen last.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> int:
        now = self._clock()
        buckets = self._buckets
        found = buckets.pop(key, None)
        tokens = float(self.per_minute) if found is None else min(
            float(self.per_minute), found[0] + (now - found[1]) * self._rate)
        if tokens >= 1.0:
            buckets[key] = (tokens - 1.0, now)
            wait = 0
        else:
            buckets[key] = (tokens, now)
            wait = max(1, math.ceil((1.0 - tokens) / self._rate))
        if len(buckets) > self._max_clients:
            buckets.popitem(last=False)
        return wait


class ClientAddress:
    """Who a request comes from, given the trusted proxies."""

    def __init__(self, trusted: Iterable[str] = ()) -> None:
        self._any = False
        self._networks: list[_Network] = []
        for item in trusted:
            item = item.strip()
            if not item:
                continue
            if item == "*":
                self._any = True
                continue
            try:
                self._networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"not an address or network: {item!r}") from None

    @property
    def trusts_any(self) -> bool:
        return self._any or bool(self._networks)

    def is_trusted(self, address: str) -> bool:
        if self._any:
            return True
        if not self._networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def of(self, peer: str, headers: dict[str, str]) -> str:
        """The client: ``peer``, or — when ``peer`` is trusted — the right-most
        untrusted address of ``X-Forwarded-For`` (else ``Forwarded: for=``)."""
        if not self.is_trusted(peer):
            return peer
        chain = _forwarded_for(headers)
        for hop in reversed(chain):
            if not self.is_trusted(hop):
                return hop
        return chain[0] if chain else peer


def _forwarded_for(headers: dict[str, str]) -> list[str]:
    xff = headers.get("x-forwarded-for")
    if xff is not None:
        return [hop.strip() for hop in xff.split(",") if hop.strip()]
    forwarded = headers.get("forwarded")
    if forwarded is None:
        return []
    hops = []
    for element in forwarded.split(","):
        for pair in element.split(";"):
            name, _, value = pair.strip().partition("=")
            if name.strip().lower() == "for" and value:
                value = value.strip().strip('"')
                if value.startswith("["):  # "[2001:db8::1]:4711"
                    value = value[1:].split("]", 1)[0]
                elif value.count(":") == 1:  # "192.0.2.1:4711"
                    value = value.split(":", 1)[0]
                hops.append(value)
    return hops
