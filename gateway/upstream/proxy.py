"""The resource proxy: `/v1/cases/...` and friends go to the service that owns them.

A plain ASGI endpoint rather than a FastAPI route: it runs on every resource request,
so it skips dependency solving and pydantic, copies only the headers it forwards,
and relays bodies as bytes. Services authenticate the bearer token themselves (they
hold the public key), so the hop adds no second verification.

Responses are buffered rather than streamed: API pages are small, and a buffered
exchange lets one deadline cover connect, send and the whole body, so the gateway
never hangs past `upstream_timeout_s` on a service that trickles.

A service run as several replicas (CASES_URLS) gets each request at the replica
gateway/upstream/replicas.py picks, and a request a gone replica could not answer at the next.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import httpx
import yarl
from fastapi import FastAPI
from starlette.requests import ClientDisconnect
from starlette.routing import Route

from gateway.upstream.clients import Hop, Upstreams
from gateway.upstream.replicas import SAFE_METHODS, Replica, repeatable
from gateway.upstream.openapi import install_merged_openapi
from gateway.upstream.streams import relay_stream, streamed
from shared.proxies import request_client
from shared.errors import BadGateway, GatewayTimeout, NotFound
from shared.observability import request_id_var

log = logging.getLogger("haolin.gateway.proxy")

# Path prefix -> owning service. One line per prefix: a service's new resource is routed by adding
# its prefix here and nothing else.
PROXIED_PREFIXES: dict[str, str] = {
    "/v1/beneficiaries": "cases",
    "/v1/caseload": "cases",
    "/v1/cases": "cases",
    "/v1/populations": "cases",
    "/v1/approvals": "cases",
    "/v1/approval-rules": "cases",
    "/v1/supervisor-assignments": "cases",
    "/v1/supervision-records": "cases",
    "/v1/rosters": "cases",
    "/v1/visit-rules": "cases",
    "/v1/transfers": "cases",
    "/v1/projects": "projects",
    "/v1/groups": "projects",
    "/v1/activities": "projects",
    "/v1/volunteers": "volunteers",
    "/v1/teams": "volunteers",
    "/v1/volunteer-hours": "volunteers",
    "/v1/certificates": "volunteers",
}

FORWARDED_REQUEST_HEADERS = frozenset({
    b"authorization", b"content-type", b"accept", b"accept-language", b"if-match", b"if-none-match",
    b"idempotency-key",
})
RETURNED_RESPONSE_HEADERS = frozenset({
    b"content-type", b"etag", b"location", b"cache-control", b"retry-after", b"www-authenticate",
    b"content-disposition", b"last-modified", b"link", b"vary", b"content-language", b"idempotent-replayed",
})
# Status codes that carry no body, hence no content-length.
_NO_BODY = frozenset({204, 304})


class ProxyEndpoint:
    """ASGI endpoint relaying a request to one service."""

    __slots__ = ("service",)

    def __init__(self, service: str) -> None:
        self.service = service

    async def __call__(self, scope, receive, send) -> None:
        if "/." in scope["path"] and _has_dot_segment(scope["path"]):
            # "/v1/cases/../internal/..." must not leave the prefix it was routed by,
            # whatever a later hop does with dot segments.
            raise NotFound("No such resource.")
        upstreams: Upstreams = scope["app"].state.upstreams
        headers = [(k, v) for k, v in scope["headers"] if k in FORWARDED_REQUEST_HEADERS]
        headers.append((b"x-request-id", request_id_var.get().encode("latin-1")))
        headers.append((b"x-forwarded-for", _forwarded_for(scope)))
        # The client's address as the gateway resolved it, for the services' audit logs; a client's
        # own X-Real-IP is never forwarded (not in FORWARDED_REQUEST_HEADERS).
        headers.append((b"x-real-ip", _client_address(scope).encode("latin-1")))
        target = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if scope["query_string"]:
            target += "?" + scope["query_string"].decode("latin-1")
        method = scope["method"]
        hop = upstreams.hop(self.service)
        if streamed(scope):
            return await self._stream(scope, receive, send, hop, method, target, headers, upstreams)
        body = await _read_body(receive)
        session = hop.session()

        async def exchange(replica: Replica) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            if session is not None:
                return await _via_aiohttp(session, method, replica.base + target, headers, body, hop.aiohttp_timeout)
            return await _via_httpx(hop, method, replica.base + target, headers, body)

        try:
            async with asyncio.timeout(upstreams.timeout_s):
                status, raw, content = await hop.replicas.send(
                    exchange, lambda: repeatable(method, scope["headers"], body))
        except Exception as exc:
            raise upstream_error(self.service, method, scope["path"], exc) from None

        out = [(k.lower(), v) for k, v in raw if k.lower() in RETURNED_RESPONSE_HEADERS]
        if status not in _NO_BODY:
            if method == "HEAD":
                out.extend((k.lower(), v) for k, v in raw if k.lower() == b"content-length")
            else:
                out.append((b"content-length", str(len(content)).encode("latin-1")))
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": content})


    async def _stream(self, scope, receive, send, hop: Hop, method: str, target: str, headers, upstreams) -> None:
        # An attachment's bytes (gateway/upstream/streams.py): relayed as they come, both ways. A download
        # goes to another replica when one is gone; an upload, whose body is read as it is sent, does not.
        started = False

        async def watched(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def relay(replica: Replica) -> None:
            await relay_stream(hop, method, replica.base + target, headers, RETURNED_RESPONSE_HEADERS,
                               upstreams.timeout_s, receive, watched)

        try:
            await hop.replicas.send(relay, lambda: not started and method in SAFE_METHODS)
        except Exception as exc:
            if started or isinstance(exc, ClientDisconnect):
                raise
            raise upstream_error(self.service, method, scope["path"], exc) from None


async def _via_aiohttp(session: aiohttp.ClientSession, method: str, url: str, headers: list[tuple[bytes, bytes]],
                       body: bytes, timeout: aiohttp.ClientTimeout) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    # aiohttp straight, under the same pool the httpx clients use: going through
    # httpx's Request/Response models costs the hop about 40% of its throughput
    # (bench/README.md). The path and query are already encoded as they came in.
    async with session.request(
        method, yarl.URL(url, encoded=True), data=body or None, allow_redirects=False, timeout=timeout,
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers],
    ) as response:
        return response.status, list(response.raw_headers), await response.read()


async def _via_httpx(hop: Hop, method: str, url: str, headers: list[tuple[bytes, bytes]],
                     body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    response = await hop.transport.handle_async_request(
        httpx.Request(method, url, headers=headers, content=body, extensions=hop.extensions))
    try:
        content = await response.aread()
    finally:
        await response.aclose()
    return response.status_code, response.headers.raw, content


def _has_dot_segment(path: str) -> bool:
    return any(segment in (".", "..") for segment in path.split("/"))


async def _read_body(receive) -> bytes:
    # The gateway's middleware has already capped the size (max_body_bytes).
    message = await receive()
    body = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    chunks = [body]
    while message.get("more_body", False):
        message = await receive()
        chunks.append(message.get("body", b""))
    return b"".join(chunks)


def _forwarded_for(scope) -> bytes:
    client = scope.get("client")
    address = client[0].encode("latin-1") if client else b"unknown"
    for k, v in scope["headers"]:
        if k == b"x-forwarded-for":
            # Behind a load balancer: keep the chain, add the hop we saw.
            return v + b", " + address
    return address


def _client_address(scope) -> str:
    return request_client(scope) or "unknown"


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, TimeoutError):  # our own deadline (asyncio.timeout)
        return True
    if isinstance(exc, httpx.TimeoutException):
        # httpx-aiohttp maps every aiohttp ClientConnectionError, "connection refused"
        # included, to httpx.ConnectTimeout; the aiohttp cause tells the two apart.
        cause = exc.__cause__
        if isinstance(cause, aiohttp.ClientError) and not isinstance(cause, asyncio.TimeoutError):
            return False
        return True
    return False


def upstream_error(service: str, method: str, path: str, exc: BaseException) -> Exception:
    """The problem (502/504 naming the service) for a failed call to a service."""
    # The path only: query strings carry names and phone digits.
    log.warning("upstream %s failed on %s %s: %s", service, method, path, type(exc).__name__)
    if _is_timeout(exc):
        return GatewayTimeout(f"The {service} service did not answer in time.", service=service)
    if isinstance(exc, (httpx.HTTPError, aiohttp.ClientError, OSError)):
        return BadGateway(f"The {service} service could not be reached.", service=service)
    return exc if isinstance(exc, Exception) else BadGateway(service=service)


def install_proxy(app: FastAPI, prefixes: dict[str, str] | None = None) -> None:
    """Route each proxied prefix to its service, and merge the services' docs into /openapi.json.

    Call after the gateway's own routers. The proxy's routes go ahead of them: Starlette tries
    routes in order, and matching a proxied read against every gateway route first cost about a
    sixth of the gateway's CPU per read (py-spy, docs/performance.md). Gateway routes under a
    proxied prefix (/v1/projects/{id}/progress) stay ahead of the proxy, so they still win.
    """
    prefixes = PROXIED_PREFIXES if prefixes is None else prefixes
    proxied = []
    for prefix, service in prefixes.items():
        endpoint = ProxyEndpoint(service)
        # Two routes, not "{rest:path}" on the bare prefix: /v1/cases must not also
        # capture /v1/caseload or /v1/casesomething.
        proxied.append(Route(prefix, endpoint, include_in_schema=False))
        proxied.append(Route(prefix + "/{rest:path}", endpoint, include_in_schema=False))
    own = list(app.router.routes)
    shadowing = [r for r in own if _shadows(r, "", prefixes)]
    app.router.routes[:] = shadowing + proxied + [r for r in own if r not in shadowing]
    install_merged_openapi(app, prefixes)


def _shadows(route, prefix: str, prefixes: dict[str, str]) -> bool:
    """Does this route (or a router included as one) serve a path under a proxied prefix? A route
    whose paths cannot be told is kept ahead of the proxy, as before."""
    path = getattr(route, "path", None)
    if isinstance(path, str):
        path = prefix + path
        return any(path == p or path.startswith(p + "/") for p in prefixes)
    # FastAPI keeps an included router as one route holding the router (0.16x: _IncludedRouter).
    inner = getattr(route, "original_router", None)
    context = getattr(route, "include_context", None)
    if inner is None or context is None:
        return True
    return any(_shadows(r, prefix + (context.prefix or ""), prefixes) for r in inner.routes)
