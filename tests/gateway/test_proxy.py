"""The gateway's resource proxy, against a small fake service of our own.

The gateway under test is the shared app shell (middleware, error handlers) with
only the proxy installed, so these tests stand apart from the identity code; the
fake service is wired in through httpx's ASGI transport as the "cases" upstream,
except where the real network transport is the point (refused and silent sockets).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gateway.config import GatewaySettings
from gateway.upstream import Upstreams, install_proxy
from shared.app import build_app

TIMEOUT_S = 0.5


class Station(BaseModel):
    """Same name as a gateway schema, different shape: the merge must keep both."""

    code: str
    beds: int


class ServiceRecordRead(BaseModel):
    id: str
    content: str


def fake_cases_service() -> FastAPI:
    app = FastAPI(title="fake cases")
    app.state.seen = []

    @app.middleware("http")
    async def remember(request: Request, call_next):
        app.state.seen.append(request.scope["path"])
        return await call_next(request)

    async def echo(case_id: str, rid: str, request: Request) -> Response:
        """Answer with what arrived."""
        seen = {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "body": (await request.body()).decode(),
            "headers": {k: v for k, v in request.headers.items()},
        }
        return JSONResponse(seen, status_code=201 if request.method == "POST" else 200, headers={
            "ETag": '"7"', "Location": f"/v1/cases/{case_id}/service-records/{rid}",
            "Cache-Control": "private, max-age=0", "X-Internal-Debug": "secret", "Set-Cookie": "s=1",
        })

    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        app.add_api_route("/v1/cases/{case_id}/service-records/{rid}", echo, methods=[method],
                          response_model=ServiceRecordRead, operation_id=f"service_record_{method.lower()}")

    @app.post("/v1/cases/{case_id}/close")
    async def close(case_id: str) -> Response:
        """A transition the case's state does not allow."""
        problem = {"type": "https://haolin.dev/problems/conflict", "title": "Conflict", "status": 409,
                   "detail": "A closed case cannot be closed again.", "current_status": "closed"}
        return Response(json.dumps(problem, ensure_ascii=False), status_code=409,
                        media_type="application/problem+json")

    @app.get("/v1/cases/slow")
    async def slow() -> dict:
        """Longer than the gateway waits."""
        await asyncio.sleep(5)
        return {}

    @app.get("/v1/caseload")
    async def caseload(if_none_match: str | None = Header(default=None)) -> Response:
        """Not modified when the client has the current version."""
        if if_none_match == '"3"':
            return Response(status_code=304, headers={"ETag": '"3"'})
        return JSONResponse({"open": 2}, headers={"ETag": '"3"'})

    @app.put("/v1/stations-of-cases", response_model=Station)
    async def station(station: Station) -> Station:
        """Uses a schema whose name the gateway also uses."""
        return station

    @app.put("/internal/stations")
    async def internal() -> dict:
        """Never shown to the outside."""
        return {}

    return app


def _gateway_station_model() -> type[BaseModel]:
    class Station(BaseModel):
        """The gateway's own schema of that name."""

        id: int
        name: str

    return Station


GatewayStation = _gateway_station_model()


def gateway_app(settings: GatewaySettings, transports: dict | None, prefixes: dict[str, str] | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.upstreams = Upstreams.build(settings, transports)
        yield
        await app.state.upstreams.aclose()

    app = build_app(title="gateway under test", service="gateway", settings=settings, lifespan=lifespan)

    @app.post("/v1/stations", response_model=GatewayStation)
    async def create_station(station: GatewayStation) -> GatewayStation:
        """The gateway's own operation."""
        return station

    install_proxy(app, prefixes)
    return app


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app on a real loopback socket, in this event loop."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off",
                                          timeout_graceful_shutdown=1))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(params=["in-process", "network"])
async def proxied(request) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway with the fake service in-process (httpx transport) or on a socket
    (the aiohttp path production takes)."""
    if request.param == "in-process":
        settings = GatewaySettings(upstream_timeout_s=TIMEOUT_S)
        async with running(gateway_app(settings, {"cases": httpx.ASGITransport(app=fake_cases_service())})) as c:
            yield c
    else:
        async with served(fake_cases_service()) as url:
            settings = GatewaySettings(upstream_timeout_s=TIMEOUT_S, cases_url=url)
            async with running(gateway_app(settings, None)) as c:
                yield c


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TestPassOn:
    async def test_method_path_query_body_and_headers_reach_the_service(self, proxied):
        r = await proxied.post(
            "/v1/cases/c-1/service-records/r-9?mode=home_visit&tag=%E5%A5%BD", content=b'{"content":"visit"}',
            headers={"Authorization": "Bearer t0k", "Content-Type": "application/json", "Accept": "application/json",
                     "Accept-Language": "zh-CN", "If-Match": '"6"', "Idempotency-Key": "k-1",
                     "X-Request-ID": "req-abc", "Cookie": "gw=1", "X-Other": "dropped"})
        assert r.status_code == 201
        seen = r.json()
        assert seen["method"] == "POST"
        assert seen["path"] == "/v1/cases/c-1/service-records/r-9"
        assert seen["query"] == "mode=home_visit&tag=%E5%A5%BD"
        assert seen["body"] == '{"content":"visit"}'
        h = seen["headers"]
        assert h["authorization"] == "Bearer t0k"
        assert h["content-type"] == "application/json"
        assert h["accept"] == "application/json"
        assert h["accept-language"] == "zh-CN"
        assert h["if-match"] == '"6"'
        assert h["idempotency-key"] == "k-1"
        assert h["x-forwarded-for"] == "203.0.113.7"
        assert "cookie" not in h and "x-other" not in h

    async def test_the_gateways_request_id_is_passed_on(self, proxied):
        r = await proxied.get("/v1/cases/c-1/service-records/r-1", headers={"X-Request-ID": "req-42"})
        assert r.json()["headers"]["x-request-id"] == "req-42"
        assert r.headers["x-request-id"] == "req-42"

        r = await proxied.get("/v1/cases/c-1/service-records/r-1")
        generated = r.headers["x-request-id"]
        assert generated and r.json()["headers"]["x-request-id"] == generated

    async def test_a_forwarded_chain_is_kept(self, proxied):
        r = await proxied.get("/v1/cases/c-1/service-records/r-1", headers={"X-Forwarded-For": "198.51.100.1"})
        assert r.json()["headers"]["x-forwarded-for"] == "198.51.100.1, 203.0.113.7"

    @pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
    async def test_every_method_is_proxied(self, proxied, method):
        r = await proxied.request(method, "/v1/cases/c-1/service-records/r-1")
        assert r.status_code == 200
        assert r.json()["method"] == method


class TestPassBack:
    async def test_status_body_and_chosen_headers_come_back(self, proxied):
        r = await proxied.post("/v1/cases/c-1/service-records/r-2", json={})
        assert r.status_code == 201
        assert r.headers["etag"] == '"7"'
        assert r.headers["location"] == "/v1/cases/c-1/service-records/r-2"
        assert r.headers["cache-control"] == "private, max-age=0"
        assert r.headers["content-type"] == "application/json"
        assert int(r.headers["content-length"]) == len(r.content)
        # Internal headers and cookies stay behind; the request id is not doubled.
        assert "x-internal-debug" not in r.headers and "set-cookie" not in r.headers
        assert len(r.headers.get_list("x-request-id")) == 1

    async def test_a_services_problem_passes_through_unchanged(self, proxied):
        r = await proxied.post("/v1/cases/c-1/close")
        assert r.status_code == 409
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json() == {"type": "https://haolin.dev/problems/conflict", "title": "Conflict", "status": 409,
                            "detail": "A closed case cannot be closed again.", "current_status": "closed"}

    async def test_not_modified_has_no_body(self, proxied):
        r = await proxied.get("/v1/caseload", headers={"If-None-Match": '"3"'})
        assert r.status_code == 304
        assert r.content == b""
        assert r.headers["etag"] == '"3"'

    async def test_dot_segments_never_leave_the_prefix(self):
        fake = fake_cases_service()
        settings = GatewaySettings(upstream_timeout_s=TIMEOUT_S)
        async with running(gateway_app(settings, {"cases": httpx.ASGITransport(app=fake)})) as client:
            for path in ("/v1/cases/%2e%2e/internal/stations", "/v1/cases/%2E%2E/%2e%2e/internal/stations",
                         "/v1/cases/%2e/c-1"):
                r = await client.put(httpx.URL("http://gateway" + path))
                assert r.status_code == 404, path
                assert r.headers["content-type"] == "application/problem+json"
        assert fake.state.seen == []

    async def test_only_proxied_prefixes_are_proxied(self, proxied):
        r = await proxied.put("/internal/stations")
        assert r.status_code == 404
        r = await proxied.get("/v1/casesx")
        assert r.status_code == 404


class TestUpstreamFailures:
    async def test_a_refused_connection_is_a_502_naming_the_service(self):
        settings = GatewaySettings(upstream_timeout_s=TIMEOUT_S, cases_url=f"http://127.0.0.1:{closed_port()}")
        async with running(gateway_app(settings, None)) as client:
            r = await client.get("/v1/cases/c-1", headers={"Authorization": "Bearer secret-token"})
        assert r.status_code == 502
        assert r.headers["content-type"] == "application/problem+json"
        problem = r.json()
        assert problem["status"] == 502 and problem["service"] == "cases"
        assert "cases" in problem["detail"]
        assert "Traceback" not in r.text and "secret-token" not in r.text

    async def test_a_slow_service_is_a_504_within_the_timeout(self, proxied):
        started = time.monotonic()
        r = await proxied.get("/v1/cases/slow")
        elapsed = time.monotonic() - started
        assert r.status_code == 504
        assert r.json()["service"] == "cases"
        assert r.headers["content-type"] == "application/problem+json"
        assert elapsed < TIMEOUT_S + 0.5

    async def test_a_silent_socket_is_a_504_within_the_timeout(self):
        held: list[asyncio.StreamWriter] = []

        async def accept_and_say_nothing(reader, writer):
            held.append(writer)

        server = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        settings = GatewaySettings(upstream_timeout_s=TIMEOUT_S, cases_url=f"http://127.0.0.1:{port}")
        try:
            async with running(gateway_app(settings, None)) as client:
                started = time.monotonic()
                r = await client.get("/v1/cases/c-1")
                elapsed = time.monotonic() - started
        finally:
            for w in held:
                w.close()
            server.close()
            await server.wait_closed()
        assert r.status_code == 504
        assert r.json()["service"] == "cases"
        assert elapsed < TIMEOUT_S + 0.5


class TestMergedOpenAPI:
    async def test_the_services_operations_appear_in_the_gateways_document(self, proxied):
        r = await proxied.get("/openapi.json")
        assert r.status_code == 200
        doc = r.json()
        paths = doc["paths"]
        assert "/v1/stations" in paths
        assert "/v1/cases/{case_id}/service-records/{rid}" in paths
        assert "/v1/caseload" in paths
        assert "/internal/stations" not in paths
        # Not under a proxied prefix, so a client could not call it through the gateway.
        assert "/v1/stations-of-cases" not in paths
        schemas = doc["components"]["schemas"]
        assert "ServiceRecordRead" in schemas
        assert set(schemas["Station"]["properties"]) == {"id", "name"}

    async def test_a_clashing_schema_name_gets_the_service_in_front(self):
        # One more proxied prefix, whose operation uses the fake service's Station.
        prefixes = {"/v1/cases": "cases", "/v1/stations-of-cases": "cases"}
        settings = GatewaySettings(upstream_timeout_s=TIMEOUT_S)
        app = gateway_app(settings, {"cases": httpx.ASGITransport(app=fake_cases_service())}, prefixes)
        async with running(app) as client:
            doc = (await client.get("/openapi.json")).json()
        schemas = doc["components"]["schemas"]
        assert set(schemas["Station"]["properties"]) == {"id", "name"}
        assert set(schemas["CasesStation"]["properties"]) == {"code", "beds"}
        ref = doc["paths"]["/v1/stations-of-cases"]["put"]["requestBody"]["content"]["application/json"]["schema"]
        assert ref == {"$ref": "#/components/schemas/CasesStation"}

    async def test_a_service_that_is_down_is_left_out(self):
        settings = GatewaySettings(upstream_timeout_s=TIMEOUT_S, cases_url=f"http://127.0.0.1:{closed_port()}")
        async with running(gateway_app(settings, None)) as client:
            r = await client.get("/openapi.json")
        assert r.status_code == 200
        assert "/v1/stations" in r.json()["paths"]
        assert not any(p.startswith("/v1/cases") for p in r.json()["paths"])
