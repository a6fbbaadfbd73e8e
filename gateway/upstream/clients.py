"""One pooled httpx.AsyncClient per service, built in the gateway's lifespan.

httpx stays the client API (typed clients, the proxy and the station pusher all
take an AsyncClient), but its default transport, httpcore, costs more per request
than the rest of a gateway hop: encode/httpx#3215 measured 450-650 req/s through a
gateway against 6,000 direct. aiohttp's connection pool under httpx-aiohttp's
transport is much cheaper; bench/README.md has our own figures.
"""

from __future__ import annotations

import asyncio
from http.cookiejar import CookieJar, DefaultCookiePolicy

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from gateway.config import GatewaySettings

SERVICES = ("cases", "projects", "volunteers")

# A busy gateway keeps many requests in flight to one service; past this they queue
# for a connection instead of opening more sockets than uvicorn serves well.
POOL_CONNECTIONS = 256
# Below uvicorn's default keep-alive (5 s): a connection the service has already
# closed must never be picked from the pool for the next request.
KEEPALIVE_EXPIRY_S = 4.0


def pooled_transport() -> httpx.AsyncBaseTransport:
    limits = httpx.Limits(max_connections=POOL_CONNECTIONS, max_keepalive_connections=POOL_CONNECTIONS,
                          keepalive_expiry=KEEPALIVE_EXPIRY_S)
    return AiohttpTransport(limits=limits, trust_env=False)


def _no_cookies() -> CookieJar:
    # The clients are shared by every user's requests: a cookie one service set for
    # one caller must never ride along on the next caller's request.
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class Hop:
    """What the proxy needs to reach one service: its base URL, the client's transport
    and, when that transport is aiohttp's, its session (one pool for both)."""

    __slots__ = ("base", "transport", "extensions")

    def __init__(self, base: str, transport: httpx.AsyncBaseTransport, timeout_s: float) -> None:
        self.base = base.rstrip("/")
        self.transport = transport
        self.extensions = {"timeout": dict.fromkeys(("connect", "read", "write", "pool"), timeout_s)}

    def session(self) -> aiohttp.ClientSession | None:
        """The aiohttp session behind the transport (made on first use, inside the loop),
        or None when the transport is something else (an in-process app in tests)."""
        transport = self.transport
        if not isinstance(transport, AiohttpTransport):
            return None
        if not isinstance(transport.client, aiohttp.ClientSession):
            transport.client = transport.get_client()
        return transport.client


class Upstreams:
    """The gateway's clients to its services, keyed by service name."""

    def __init__(self, clients: dict[str, httpx.AsyncClient], timeout_s: float,
                 hops: dict[str, Hop] | None = None) -> None:
        self._clients = clients
        self.timeout_s = timeout_s
        self._hops = hops or {}

    @classmethod
    def build(cls, settings: GatewaySettings,
              transports: dict[str, httpx.AsyncBaseTransport] | None = None) -> "Upstreams":
        """`transports` replaces the network to a service (tests wire in-process apps)."""
        transports = transports or {}
        timeout_s = settings.upstream_timeout_s
        clients, hops = {}, {}
        for name in SERVICES:
            transport = transports.get(name) or pooled_transport()
            base = getattr(settings, f"{name}_url")
            clients[name] = httpx.AsyncClient(
                base_url=base, transport=transport, timeout=httpx.Timeout(timeout_s), cookies=_no_cookies(),
                # Internal hops never go through an HTTP(S)_PROXY meant for the outside world.
                trust_env=False,
            )
            hops[name] = Hop(base, transport, timeout_s)
        return cls(clients, timeout_s, hops)

    def client(self, name: str) -> httpx.AsyncClient:
        try:
            return self._clients[name]
        except KeyError:
            raise ValueError(f"unknown service {name!r}; known: {', '.join(self._clients)}") from None

    def hop(self, name: str) -> Hop:
        """The raw hop for the proxy, which needs none of AsyncClient's per-request work."""
        return self._hops[name]

    def names(self) -> tuple[str, ...]:
        return tuple(self._clients)

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self._clients.values()), return_exceptions=True)
