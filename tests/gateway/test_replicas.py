"""Several replicas of a service behind the gateway (gateway/upstream/replicas.py), against small
services of our own on real loopback sockets, through the aiohttp path production takes: requests
spread over the replicas, a gone replica is counted down and its requests go to another, a request
that may have been carried out goes again only when repeating it cannot do it twice, and a replica
that comes back is probed and used again. The same with the real cases service as processes:
tests/reliability/test_replicas.py."""

from __future__ import annotations

import asyncio
import re
import socket
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gateway.config import GatewaySettings
from gateway.state import GatewayState
from gateway.upstream import Upstreams, install_proxy
from gateway.upstream.replicas import ReplicaCollector, repeatable
from shared.app import build_app
from shared.contracts.calls import service as contract_service

KEY = {"Idempotency-Key": "replica-test-key-0001"}


def replica_app(name: str) -> FastAPI:
    """A cases service that says which replica answered and counts what it was asked."""
    app = FastAPI()
    app.state.seen = Counter()
    app.state.release = asyncio.Event()

    @app.get("/readyz")
    async def readyz() -> dict:
        return {"status": "ready"}

    @app.get("/v1/cases/wait")
    async def wait() -> dict:
        app.state.seen["wait"] += 1
        await app.state.release.wait()
        return {"replica": name}

    @app.get("/v1/cases/{case_id}")
    async def read(case_id: str) -> dict:
        app.state.seen["GET"] += 1
        return {"replica": name, "id": case_id}

    @app.post("/v1/cases")
    async def create(request: Request) -> JSONResponse:
        app.state.seen["POST"] += 1
        return JSONResponse({"replica": name, "body": (await request.body()).decode()}, status_code=201)

    return app


@asynccontextmanager
async def served(app: FastAPI, port: int = 0) -> AsyncIterator[str]:
    """The app on a real loopback socket, in this event loop, until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                                          timeout_graceful_shutdown=1))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the replica did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def dropping() -> AsyncIterator[tuple[str, Counter]]:
    """A replica that reads each request whole and then closes the connection without an answer, as
    a process killed while it works on a request does. Counts the requests by method."""
    seen: Counter = Counter()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length:\s*(\d+)", head)
        if length:
            await reader.readexactly(int(length.group(1)))
        seen[head.split(b" ", 1)[0].decode()] += 1
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", seen
    finally:
        server.close()
        await server.wait_closed()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gateway_app(urls: list[str], **settings) -> FastAPI:
    """The gateway's app shell with its state's replicas (for /readyz and /metrics) and the proxy only."""
    settings = GatewaySettings(cases_urls=",".join(urls), upstream_timeout_s=5.0, **settings)
    state = GatewayState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.upstreams = Upstreams.build(settings)
        yield
        await state.upstreams.aclose()

    app = build_app(title="gateway under test", service="gateway", settings=settings, lifespan=lifespan,
                    state=state, collectors=[ReplicaCollector(state.replica_sets)])
    install_proxy(app)
    return app


@asynccontextmanager
async def gateway(urls: list[str], **settings) -> AsyncIterator[httpx.AsyncClient]:
    app = gateway_app(urls, **settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            client.app = app
            yield client


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    found = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", text, re.MULTILINE)
    assert found, f"no {name}{{{wanted}}} in /metrics"
    return float(found.group(1))


async def wait_until(check, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "not within the time"
        await asyncio.sleep(0.05)


class TestRepeatable:
    @pytest.mark.parametrize("method, headers, body, expected", [
        ("GET", [], b"", True),
        ("HEAD", [], b"", True),
        ("POST", [(b"idempotency-key", b"k" * 20)], b'{"name": "x"}', True),
        ("POST", [], b'{"id": "tablet-made-1", "name": "x"}', True),
        ("POST", [], b'{"name": "x"}', False),
        ("POST", [], b'{"id": "", "name": "x"}', False),
        ("POST", [], b'[{"id": "a"}]', False),
        ("POST", [], b"not json", False),
        ("POST", [], b"", False),
        ("PUT", [], b'{"id": "a"}', False),
        ("DELETE", [], b"", False),
    ])
    def test_which_request_may_go_twice(self, method, headers, body, expected):
        assert repeatable(method, headers, body) is expected


class TestSettings:
    def test_a_list_replaces_the_single_address(self, monkeypatch):
        monkeypatch.setenv("CASES_URL", "http://one:8001")
        assert GatewaySettings().service_urls("cases") == ("http://one:8001",)
        monkeypatch.setenv("CASES_URLS", " http://a:8001/, http://b:8001 ,")
        assert GatewaySettings().service_urls("cases") == ("http://a:8001", "http://b:8001")
        assert GatewaySettings().service_urls("projects") == (GatewaySettings().projects_url,)

    @pytest.mark.parametrize("value", ["a:8001,b:8001", "http://a:8001,http://a:8001"])
    def test_a_bad_list_stops_the_start(self, monkeypatch, value):
        monkeypatch.setenv("CASES_URLS", value)
        with pytest.raises(ValueError, match="CASES_URLS"):
            GatewaySettings()


class TestSpread:
    async def test_requests_take_turns_and_a_busy_replica_gets_fewer(self):
        a, b = replica_app("a"), replica_app("b")
        async with served(a) as url_a, served(b) as url_b, gateway([url_a, url_b]) as gw:
            answered = [(await gw.get(f"/v1/cases/c-{i}")).json()["replica"] for i in range(20)]
            assert Counter(answered) == {"a": 10, "b": 10}

            # One request held by whichever replica took it: the next ones all go to the other.
            held = asyncio.create_task(gw.get("/v1/cases/wait"))
            await wait_until(lambda: asyncio.sleep(0, a.state.seen["wait"] + b.state.seen["wait"] == 1))
            busy = "a" if a.state.seen["wait"] else "b"
            answered = [(await gw.get(f"/v1/cases/d-{i}")).json()["replica"] for i in range(6)]
            assert set(answered) == {"b" if busy == "a" else "a"}
            a.state.release.set(), b.state.release.set()
            assert (await held).json()["replica"] == busy

    async def test_contract_clients_spread_too(self):
        a, b = replica_app("a"), replica_app("b")
        async with served(a) as url_a, served(b) as url_b, gateway([url_a, url_b]) as gw:
            http = contract_service(gw.app.state.upstreams, _NoTokens(), "cases").http
            answered = [(await http.get(f"/v1/cases/c-{i}")).json()["replica"] for i in range(10)]
            assert Counter(answered) == {"a": 5, "b": 5}
            assert a.state.seen["GET"] == 5 and b.state.seen["GET"] == 5


class _NoTokens:
    def service_token(self) -> str:
        return "unused"


class TestGoneReplica:
    async def test_a_refused_replica_is_counted_down_and_left_alone(self):
        a = replica_app("a")
        async with served(a) as url_a, gateway([f"http://127.0.0.1:{closed_port()}", url_a],
                                               replica_probe_s=60) as gw:
            for i in range(20):
                r = await gw.get(f"/v1/cases/c-{i}")
                assert r.status_code == 200 and r.json()["replica"] == "a"
            # A create without a key or id goes too: it never reached the refused replica.
            r = await gw.post("/v1/cases", json={"name": "张桂芳"})
            assert r.status_code == 201 and r.json()["replica"] == "a"
            assert a.state.seen == {"GET": 20, "POST": 1}

            ready = (await gw.get("/readyz")).json()
            assert ready["replicas"]["cases"] == ["down", "up"]
            assert "127.0.0.1" not in str(ready)
            text = (await gw.get("/metrics")).text
            assert metric(text, "haolin_upstream_replica_down", service="cases", replica="1") == 1
            assert metric(text, "haolin_upstream_replica_down", service="cases", replica="2") == 0
            # Tried once, by the first request that found it gone: not on every request.
            assert metric(text, "haolin_upstream_replica_downs_total", service="cases", replica="1") == 1
            assert metric(text, "haolin_upstream_retries_total", service="cases") == 1

    async def test_every_replica_gone_is_a_502(self):
        async with gateway([f"http://127.0.0.1:{closed_port()}", f"http://127.0.0.1:{closed_port()}"]) as gw:
            for _ in range(3):
                r = await gw.get("/v1/cases/c-1")
                assert r.status_code == 502 and r.json()["service"] == "cases"
            assert (await gw.get("/readyz")).json()["replicas"]["cases"] == ["down", "down"]


class TestDroppedRequest:
    async def test_only_what_cannot_be_done_twice_goes_again(self):
        a = replica_app("a")
        async with dropping() as (url_drop, dropped), served(a) as url_a, gateway([url_drop, url_a]) as gw:
            # Reads, and creates with a key or a client id: every one answered, by the replica that stayed.
            for i in range(4):
                assert (await gw.get(f"/v1/cases/c-{i}")).json()["replica"] == "a"
                r = await gw.post("/v1/cases", json={"name": "x"}, headers={"Idempotency-Key": f"replica-key-{i:012}"})
                assert r.status_code == 201 and r.json()["replica"] == "a"
                r = await gw.post("/v1/cases", json={"id": f"tablet-{i}", "name": "x"})
                assert r.status_code == 201 and r.json()["replica"] == "a"
            assert a.state.seen == {"GET": 4, "POST": 8}
            # Half of them went to the dropping one first (aiohttp itself sends a read there twice).
            assert dropped["POST"] == 4 and dropped["GET"] >= 2

            # A create without either may have been carried out by the replica that dropped it: never sent
            # again, it is a 502; the other replica gets only its own share.
            statuses = sorted([(await gw.post("/v1/cases", json={"name": "x"})).status_code for _ in range(4)])
            assert statuses == [201, 201, 502, 502]
            assert a.state.seen["POST"] == 8 + 2
            # Dropping a request does not count a replica down: it answers /readyz, it may be its last breath.
            assert (await gw.get("/readyz")).json()["replicas"]["cases"] == ["up", "up"]


class TestBack:
    async def test_a_replica_that_comes_back_is_probed_and_used_again(self):
        a, b = replica_app("a"), replica_app("b")
        port_b = closed_port()
        async with served(a) as url_a, gateway([url_a, f"http://127.0.0.1:{port_b}"],
                                               replica_probe_s=0.1, replica_probe_max_s=0.2) as gw:
            for i in range(4):
                assert (await gw.get(f"/v1/cases/c-{i}")).json()["replica"] == "a"
            assert (await gw.get("/readyz")).json()["replicas"]["cases"] == ["up", "down"]

            async with served(b, port_b):
                async def back() -> bool:
                    return (await gw.get("/readyz")).json()["replicas"]["cases"] == ["up", "up"]
                await wait_until(back)
                assert b.state.seen["GET"] == 0  # the probe asked /readyz only
                answered = [(await gw.get(f"/v1/cases/d-{i}")).json()["replica"] for i in range(10)]
                assert Counter(answered) == {"a": 5, "b": 5}

            # Gone again: counted down again by the first request that finds it so; nothing is lost.
            answered = [(await gw.get(f"/v1/cases/e-{i}")).json()["replica"] for i in range(6)]
            assert answered == ["a"] * 6
            text = (await gw.get("/metrics")).text
            assert metric(text, "haolin_upstream_replica_downs_total", service="cases", replica="2") == 2
