"""The two ends of one gateway hop, without a database, for bench/proxy_bench.py.

`upstream`: the shared service shell (same middleware as a real service) answering a
small JSON body on a proxied path. `gateway`: the shared shell with only the proxy
installed; BENCH_TRANSPORT picks its upstream transport: aiohttp (the default, as
shipped: aiohttp's session directly), httpx+aiohttp (httpx's models over the same
aiohttp transport) or httpcore (httpx's own transport).
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from gateway.config import GatewaySettings
from gateway.upstream import SERVICES, Upstreams, install_proxy
from gateway.upstream.clients import KEEPALIVE_EXPIRY_S, POOL_CONNECTIONS, pooled_transport
from shared.app import build_app
from shared.config import ServiceSettings

BODY = {"id": "c-1", "status": "intake", "station_id": 7, "version": 3, "risk_level": "low",
        "summary": "独居老人，需定期探访", "created_at": "2026-11-21T09:00:00+08:00"}


def upstream() -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield

    app = build_app(title="bench upstream", service="cases", settings=ServiceSettings(), lifespan=lifespan)

    @app.get("/v1/cases/{case_id}")
    async def read_case(case_id: str) -> dict:
        """A small case body, as a read would return."""
        return BODY

    return app


class Opaque(httpx.AsyncBaseTransport):
    """aiohttp's transport, hidden so the proxy relays through httpx's models."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def gateway() -> FastAPI:
    settings = GatewaySettings()
    transport = os.environ.get("BENCH_TRANSPORT", "aiohttp")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        transports = None
        if transport == "httpcore":
            limits = httpx.Limits(max_connections=POOL_CONNECTIONS, max_keepalive_connections=POOL_CONNECTIONS,
                                  keepalive_expiry=KEEPALIVE_EXPIRY_S)
            transports = {name: httpx.AsyncHTTPTransport(limits=limits) for name in SERVICES}
        elif transport == "httpx+aiohttp":
            transports = {name: Opaque(pooled_transport()) for name in SERVICES}
        app.state.upstreams = Upstreams.build(settings, transports)
        yield
        await app.state.upstreams.aclose()

    app = build_app(title="bench gateway", service="gateway", settings=settings, lifespan=lifespan)
    install_proxy(app)
    return app


def gateway_raw_aiohttp() -> FastAPI:
    """The ceiling: the same hop with aiohttp called directly, no httpx layer."""
    import aiohttp

    from shared.observability import request_id_var

    settings = GatewaySettings()
    forwarded = {b"authorization", b"content-type", b"accept", b"accept-language", b"if-match", b"if-none-match",
                 b"idempotency-key"}
    returned = {"content-type", "etag", "location", "cache-control", "retry-after", "www-authenticate"}
    state: dict = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state["session"] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=POOL_CONNECTIONS, keepalive_timeout=KEEPALIVE_EXPIRY_S),
            timeout=aiohttp.ClientTimeout(total=settings.upstream_timeout_s), auto_decompress=False)
        yield
        await state["session"].close()

    async def proxy(scope, receive, send):
        message = await receive()
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k in forwarded}
        headers["x-request-id"] = request_id_var.get()
        async with state["session"].request(scope["method"], settings.cases_url + scope["path"], headers=headers,
                                            data=message.get("body") or None) as r:
            body = await r.read()
            out = [(k.lower().encode(), v.encode()) for k, v in r.headers.items() if k.lower() in returned]
            out.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": r.status, "headers": out})
            await send({"type": "http.response.body", "body": body})

    app = build_app(title="bench gateway (raw aiohttp)", service="gateway", settings=settings, lifespan=lifespan)
    class Endpoint:  # a class instance, so Starlette treats it as ASGI, as the real proxy
        async def __call__(self, scope, receive, send):
            await proxy(scope, receive, send)

    app.router.add_route("/v1/cases/{rest:path}", Endpoint(), include_in_schema=False)
    return app


def gateway_without_account_check() -> FastAPI:
    """The gateway as shipped but for the live-account check (gateway.identity.live.AccountGate):
    scenario 1's "before" of issue 15's item 3, measured in the same run as the gateway with it. The
    bench only: proxied reads work (the services trust the token's claims), the gateway's own
    routes that need the live account do not."""
    from gateway.app import main
    from gateway.identity.live import AccountGate

    app = main()
    app.user_middleware[:] = [m for m in app.user_middleware if m.cls is not AccountGate]
    return app
