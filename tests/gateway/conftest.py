"""Gateway fixtures: the real gateway app wired to the in-process services, a fresh one per
test (its startup recreates the bootstrap admin the per-test truncation removed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest

from gateway.config import GatewaySettings

ADMIN_PASSWORD = "admin-test-password"  # tests/conftest.py sets ADMIN_PASSWORD
PASSWORD = "correct horse battery"
# Cheap argon2 parameters: the tests hash hundreds of passwords.
FAST_HASHING = {"password_time_cost": 1, "password_memory_kib": 1024, "password_parallelism": 1}


class Gateway(httpx.AsyncClient):
    """A client on a started gateway app, with helpers that go through the public API."""

    app = None

    async def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        return await self.post("/v1/auth/token", data={"username": username, "password": password})

    async def headers_for(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        r = await self.login(username, password)
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    async def admin(self) -> dict[str, str]:
        return await self.headers_for("admin", ADMIN_PASSWORD)

    async def station(self, headers: dict, parent_id: int, kind: str, name: str, **extra) -> dict:
        r = await self.post("/v1/stations", json={"parent_id": parent_id, "kind": kind, "name": name, **extra},
                            headers=headers)
        assert r.status_code == 201, r.text
        return r.json()

    async def user(self, headers: dict, username: str, role: str, station_id: int, **extra) -> dict:
        body = {"username": username, "display_name": username.title(), "role": role, "station_id": station_id,
                "password": PASSWORD, **extra}
        r = await self.post("/v1/users", json=body, headers=headers)
        assert r.status_code == 201, r.text
        return r.json()


@pytest.fixture
async def gateway_factory(cases_app, projects_app, volunteers_app, cases_client, projects_client, volunteers_client,
                          relay):
    """make(**settings) -> a Gateway client on a started app with those settings; the services'
    lookups of the gateway's own records (a volunteer's login) reach the one made last."""
    async with AsyncExitStack() as stack:
        stack.callback(setattr, relay, "gateway", None)

        async def make(**overrides) -> Gateway:
            from gateway.app import create_app

            settings = GatewaySettings(**{"station_push_interval_s": 3600, **FAST_HASHING, **overrides})
            app = create_app(settings, transports={
                "cases": httpx.ASGITransport(app=cases_app),
                "projects": httpx.ASGITransport(app=projects_app),
                "volunteers": httpx.ASGITransport(app=volunteers_app),
            })
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(
                Gateway(transport=httpx.ASGITransport(app=app), base_url="http://gateway"))
            client.app = app
            relay.gateway = app
            return client

        yield make


@pytest.fixture
async def gateway(gateway_factory) -> AsyncIterator[Gateway]:
    yield await gateway_factory()


@pytest.fixture
async def admin(gateway) -> dict[str, str]:
    return await gateway.admin()


@pytest.fixture
async def root(gateway, admin) -> dict:
    """The bootstrap root station."""
    r = await gateway.get("/v1/stations", headers=admin)
    return r.json()["items"][0]


@pytest.fixture
async def tree(gateway, admin, root) -> dict[str, dict]:
    """root (province) > chengdu (city) > chenghua (county) > {mengzhuiwan, shuangqiao} (township)
    > heping (village, under mengzhuiwan); plus a second city, mianyang."""
    chengdu = await gateway.station(admin, root["id"], "city", "Chengdu")
    mianyang = await gateway.station(admin, root["id"], "city", "Mianyang")
    chenghua = await gateway.station(admin, chengdu["id"], "county", "Chenghua")
    mengzhuiwan = await gateway.station(admin, chenghua["id"], "township", "Mengzhuiwan")
    shuangqiao = await gateway.station(admin, chenghua["id"], "township", "Shuangqiao")
    heping = await gateway.station(admin, mengzhuiwan["id"], "village", "Heping")
    return {"root": root, "chengdu": chengdu, "mianyang": mianyang, "chenghua": chenghua,
            "mengzhuiwan": mengzhuiwan, "shuangqiao": shuangqiao, "heping": heping}
