"""PostgreSQL restarted under load: while clients keep sending requests through the gateway,
the embedded server is stopped (fast shutdown: open sessions are cut) and started again.

Requests fail cleanly while it is down (503 problem+json within the timeouts: no 500, no
traceback, no hang) and succeed again once it is back, without restarting any process: the
pools drop their dead connections instead of handing them out for ever.

The server is one of the test's own (its own data folder and port), so the rest of the
suite, and a `make run` sharing the usual one, never see it go away.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest

from ops import migrate, pg
from tests.reliability.conftest import UPSTREAM_TIMEOUT_S, problem, seed_root, start_platform
from tests.test_make_run import free_ports

pytestmark = pytest.mark.slow

SLACK_S = 3.0


@pytest.fixture
async def own_server():
    data = pg.ROOT / ".data" / f"test-pg-restart-{free_ports(1)[0]}"
    port = free_ports(1)[0]
    try:
        url = await asyncio.to_thread(pg.start, data, port)
        await asyncio.to_thread(migrate.upgrade_all, url)
        yield data, port, url
    finally:
        await asyncio.to_thread(pg.stop, data)
        shutil.rmtree(data, ignore_errors=True)


@dataclass
class Outcome:
    kind: str
    started: float
    elapsed: float
    status: int
    body: str
    content_type: str


@dataclass
class Load:
    """Clients sending requests of several kinds back to back, each outcome kept."""

    client: httpx.AsyncClient
    requests: dict
    outcomes: list[Outcome] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def worker(self, kind: str) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                r = await self.requests[kind]()
            except httpx.HTTPError as exc:  # a connection the gateway cut: kept as status 0
                self.outcomes.append(Outcome(kind, started, time.monotonic() - started, 0, repr(exc), ""))
            else:
                self.outcomes.append(Outcome(kind, started, time.monotonic() - started, r.status_code, r.text,
                                             r.headers.get("content-type", "")))
            await asyncio.sleep(0.05)

    def since(self, moment: float) -> list[Outcome]:
        return [o for o in self.outcomes if o.started >= moment]


class TestDatabaseRestart:
    async def test_requests_fail_cleanly_while_it_is_down_and_recover_without_restarting(self, own_server,
                                                                                         tmp_path):
        data, port, url = own_server
        platform = await start_platform(url, tmp_path)
        try:
            await seed_root(platform)
            async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
                r = await client.post("/v1/auth/token", data={"username": "admin", "password": "admin-test-password"})
                assert r.status_code == 200, r.text
                client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
                r = await client.post("/v1/beneficiaries", json={"name": "孙大爷", "populations": ["elderly"]})
                assert r.status_code == 201, r.text
                person = r.json()["id"]
                await self._run(platform, client, data, port, person)
        finally:
            platform.stop()

    async def _run(self, platform, client, data, port, person) -> None:
        pids = {name: platform.pid(name) for name in platform.processes}
        load = Load(client, {
            # A read by id (the services' raw asyncpg pool), a list (SQLAlchemy's pool), a create (a
            # write transaction), a project list (another service) and the gateway's own tables.
            "read": lambda: client.get(f"/v1/beneficiaries/{person}"),
            "list": lambda: client.get("/v1/beneficiaries", params={"limit": 5}),
            "create": lambda: client.post("/v1/beneficiaries", json={"name": "周阿姨"}),
            "projects": lambda: client.get("/v1/projects"),
            "gateway": lambda: client.get("/v1/stations/1"),
        })
        workers = [asyncio.create_task(load.worker(kind)) for kind in load.requests]
        try:
            await asyncio.sleep(1.0)
            down_at = time.monotonic()
            await asyncio.to_thread(pg.stop, data)
            await asyncio.sleep(2.0)
            async with httpx.AsyncClient(timeout=10) as probe:
                r = await probe.get(platform.processes["cases"].url + "/readyz")
                assert r.status_code == 503, r.text
            await asyncio.to_thread(pg.start, data, port)
            up_at = time.monotonic()
            # Recovered: every kind of request has succeeded a few times in a row.
            deadline = up_at + 20
            while True:
                recent = load.since(up_at)
                if all(len(tail := [o for o in recent if o.kind == k][-3:]) == 3 and
                       all(o.status < 400 for o in tail) for k in load.requests):
                    break
                assert time.monotonic() < deadline, Counter((o.kind, o.status) for o in recent)
                await asyncio.sleep(0.2)
        finally:
            load.stopping.set()
            await asyncio.gather(*workers)

        before = [o for o in load.outcomes if o.started + o.elapsed < down_at]
        assert before and all(o.status in (200, 201) for o in before), Counter((o.kind, o.status) for o in before)
        failed = [o for o in load.outcomes if not 200 <= o.status < 400]
        # The fault was seen, by the services and by the gateway's own requests.
        assert {o.kind for o in failed} >= {"read", "list", "create", "gateway"}, Counter(o.kind for o in failed)
        for o in failed:
            assert o.status == 503, (o.kind, o.status, o.body)
            problem(httpx.Response(o.status, headers={"content-type": o.content_type}, content=o.body.encode()), 503)
        # No hang: every request was answered within the timeouts, down or not.
        slowest = max(load.outcomes, key=lambda o: o.elapsed)
        assert slowest.elapsed < UPSTREAM_TIMEOUT_S + SLACK_S, slowest
        # Recovered in place: the same processes, and what was written while it was up is all there.
        assert {name: platform.pid(name) for name in platform.processes} == pids
        created = sum(1 for o in load.outcomes if o.kind == "create" and o.status == 201)
        r = await client.get("/v1/beneficiaries", params={"limit": 200})
        assert r.status_code == 200
        assert len(r.json()["items"]) == created + 1
