"""One pooled httpx.AsyncClient per service, built in the gateway's lifespan.

httpx stays the client API (typed clients, the proxy and the station pusher all
take an AsyncClient), but its default transport, httpcore, costs more per request
than the rest of a gateway hop: encode/httpx#3215 measured 450-650 req/s through a
gateway against 6,000 direct. aiohttp's connection pool under httpx-aiohttp's
transport is much cheaper; bench/README.md has our own figures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from http.cookiejar import CookieJar, DefaultCookiePolicy

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from gateway.config import GatewaySettings
from gateway.upstream.replicas import Replica, ReplicaSet, ReplicaTransport

SERVICES = ("cases", "projects", "volunteers")

# A busy gateway keeps many requests in flight to one service; past this they queue
# for a connection instead of opening more sockets than uvicorn serves well.
POOL_CONNECTIONS = 256
# Well below the services' keep-alive (shared/server.py KEEP_ALIVE_S): a connection the service
# has already closed must never be picked from the pool for the next request.
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
    """What the proxy needs to reach one service: its replicas (one address or several), the
    client's transport and, when that transport is aiohttp's, its session (one pool for both)."""

    __slots__ = ("replicas", "transport", "extensions", "aiohttp_timeout")

    def __init__(self, bases: str | Sequence[str], transport: httpx.AsyncBaseTransport, timeout_s: float, *,
                 service: str = "service", connect_timeout_s: float | None = None, probe_s: float = 1.0,
                 probe_max_s: float = 10.0) -> None:
        self.transport = transport
        connect_s = min(timeout_s, connect_timeout_s or timeout_s)
        self.extensions = {"timeout": {"connect": connect_s, "read": timeout_s, "write": timeout_s,
                                       "pool": timeout_s}}
        # One deadline, asyncio.timeout(upstream_timeout_s), covers the proxy's whole exchange; only a
        # connect longer than connect_s ends one attempt early, so that another replica can be tried.
        self.aiohttp_timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_s)
        bases = (bases,) if isinstance(bases, str) else tuple(bases)
        self.replicas = ReplicaSet(service, bases, self._ready, probe_s, probe_max_s)

    async def _ready(self, replica: Replica) -> bool:
        """Does the replica answer /readyz with 200 (its process is up and reaches its database)?"""
        try:
            async with asyncio.timeout(self.extensions["timeout"]["read"]):
                response = await self.transport.handle_async_request(
                    httpx.Request("GET", replica.base + "/readyz", extensions=self.extensions))
                await response.aread()
                await response.aclose()
        except Exception:
            return False
        return response.status_code == 200

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
            bases = settings.service_urls(name)
            hop = hops[name] = Hop(bases, transport, timeout_s, service=name,
                                   connect_timeout_s=settings.upstream_connect_timeout_s,
                                   probe_s=settings.replica_probe_s, probe_max_s=settings.replica_probe_max_s)
            clients[name] = httpx.AsyncClient(
                base_url=bases[0], transport=ReplicaTransport(hop.replicas, transport), cookies=_no_cookies(),
                timeout=httpx.Timeout(timeout_s, connect=hop.extensions["timeout"]["connect"]),
                # Internal hops never go through an HTTP(S)_PROXY meant for the outside world.
                trust_env=False,
            )
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

    def replica_sets(self) -> list[ReplicaSet]:
        return [hop.replicas for hop in self._hops.values()]

    def replicas(self) -> dict[str, list[str]]:
        """"up" or "down" for each replica of each service, in the order of its setting (for /readyz)."""
        return {name: hop.replicas.status() for name, hop in self._hops.items()}

    async def aclose(self) -> None:
        await asyncio.gather(*(h.replicas.aclose() for h in self._hops.values()), return_exceptions=True)
        await asyncio.gather(*(c.aclose() for c in self._clients.values()), return_exceptions=True)
