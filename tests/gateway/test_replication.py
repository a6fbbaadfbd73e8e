"""Station replication: every service's replica follows the gateway's tree, catching up
after it was unreachable, without ever failing the gateway."""

from __future__ import annotations

import asyncio

import httpx

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.replication import StationPusher
from tests.fixtures.gateway import ADMIN_PASSWORD, FAST_HASHING

SCHEMAS = ("cases", "projects", "volunteers")


async def stored_tree(db) -> dict[int, tuple]:
    rows = await db.fetch("SELECT id, parent_id, path, kind, name, deleted_at, change_seq FROM gateway.station")
    return {r["id"]: tuple(r) for r in rows}


async def replica(db, schema: str) -> dict[int, tuple]:
    rows = await db.fetch(f"SELECT id, parent_id, path, kind, name, deleted_at, change_seq FROM {schema}.station")
    return {r["id"]: tuple(r) for r in rows}


async def quiet(gateway) -> None:
    """Bring the services up to date, then stop the gateway's own pusher so that only the
    test's pusher writes to the replicas."""
    await gateway.app.state.pusher.sync_now()
    await gateway.app.state.pusher.stop()


class SwitchableUpstreams:
    """The Upstreams interface (client(name)), with services that can be made unreachable."""

    def __init__(self, apps: dict) -> None:
        self.down: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self._clients = {name: httpx.AsyncClient(transport=self._transport(name, app), base_url=f"http://{name}")
                         for name, app in apps.items()}

    def _transport(self, name: str, app) -> httpx.AsyncBaseTransport:
        inner = httpx.ASGITransport(app=app)
        upstreams = self

        class Transport(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                upstreams.calls.append((name, request.method))
                if name in upstreams.down:
                    raise httpx.ConnectError("connection refused", request=request)
                return await inner.handle_async_request(request)

        return Transport()

    def client(self, name: str) -> httpx.AsyncClient:
        return self._clients[name]

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()


class TestSyncNow:
    async def test_every_service_gets_the_tree(self, gateway, admin_headers, gateway_tree, db):
        await gateway.app.state.pusher.sync_now()
        expected = await stored_tree(db)
        assert len(expected) == 7
        for schema in SCHEMAS:
            assert await replica(db, schema) == expected, schema

    async def test_renames_reach_the_services(self, gateway, admin_headers, gateway_tree, db):
        await gateway.patch(f"/v1/stations/{gateway_tree['heping']['id']}", json={"name": "Heping community"},
                            headers={**admin_headers, "If-Match": '"1"'})
        result = await gateway.app.state.pusher.sync_now()
        assert set(result) == set(SCHEMAS) and None not in result.values()
        for schema in SCHEMAS:
            name = await db.fetchval(f"SELECT name FROM {schema}.station WHERE id = $1", gateway_tree["heping"]["id"])
            assert name == "Heping community"

    async def test_nothing_to_send_when_current(self, gateway, admin_headers, gateway_tree):
        pusher = gateway.app.state.pusher
        await pusher.sync_now()
        assert await pusher.sync_now() == {name: 0 for name in SCHEMAS}


class TestCatchUp:
    async def test_a_service_that_was_down_catches_up(self, gateway, admin_headers, gateway_tree, db, cases_app,
                                                      projects_app,
                                                      volunteers_app, caplog):
        upstreams = SwitchableUpstreams({"cases": cases_app, "projects": projects_app, "volunteers": volunteers_app})
        pusher = StationPusher(gateway.app.state.db, upstreams, gateway.app.state.signer, interval_s=3600)
        await quiet(gateway)
        await gateway.post(f"/v1/stations/{gateway_tree['chenghua']['id']}/move",
                           json={"parent_id": gateway_tree["mianyang"]["id"]},
                           headers=admin_headers)
        upstreams.down = {"projects"}
        result = await pusher.sync_now()
        assert result["projects"] is None and result["cases"] == 4 and result["volunteers"] == 4
        assert "station push to projects failed: ConnectError" in caplog.text
        stale = await replica(db, "projects")
        assert stale[gateway_tree["heping"]["id"]][2].startswith(gateway_tree["chengdu"]["path"])

        upstreams.down = set()
        result = await pusher.sync_now()
        assert result == {"cases": 0, "projects": 4, "volunteers": 0}
        assert await replica(db, "projects") == await stored_tree(db)
        await upstreams.aclose()

    async def test_batches(self, gateway, admin_headers, gateway_tree, db, cases_app, projects_app, volunteers_app):
        upstreams = SwitchableUpstreams({"cases": cases_app})
        pusher = StationPusher(gateway.app.state.db, upstreams, gateway.app.state.signer, interval_s=3600,
                               services=("cases",), batch=2)
        await quiet(gateway)
        await db.execute("TRUNCATE cases.station")
        assert await pusher.sync_now() == {"cases": 7}
        assert [m for _, m in upstreams.calls] == ["GET", "PUT", "PUT", "PUT", "PUT"]
        assert await replica(db, "cases") == await stored_tree(db)
        await upstreams.aclose()

    async def test_the_loop_retries_on_its_own(self, gateway, admin_headers, gateway_tree, db, cases_app, projects_app,
                                               volunteers_app):
        upstreams = SwitchableUpstreams({"cases": cases_app})
        upstreams.down = {"cases"}
        await quiet(gateway)
        await db.execute("TRUNCATE cases.station")
        pusher = StationPusher(gateway.app.state.db, upstreams, gateway.app.state.signer, interval_s=0.05,
                               services=("cases",))
        await pusher.start()
        try:
            await asyncio.sleep(0.2)
            assert await replica(db, "cases") == {}
            upstreams.down = set()
            for _ in range(100):
                if len(await replica(db, "cases")) == 7:
                    break
                await asyncio.sleep(0.02)
            assert await replica(db, "cases") == await stored_tree(db)
        finally:
            await pusher.stop()
            await upstreams.aclose()


class TestNotify:
    async def test_a_station_write_is_pushed_without_waiting_for_the_interval(self, gateway, admin_headers, root, db):
        # The fixture's interval is an hour: only notify() can have sent this.
        created = await gateway.station(admin_headers, root["id"], "city", "Leshan")
        for _ in range(100):
            if await db.fetchval("SELECT count(*) FROM cases.station WHERE id = $1", created["id"]):
                break
            await asyncio.sleep(0.02)
        assert await db.fetchval("SELECT path FROM cases.station WHERE id = $1", created["id"]) == created["path"]


class TestGatewayWithoutServices:
    async def test_starts_and_writes_stations_with_every_service_down(self, db):
        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        app = create_app(GatewaySettings(station_push_interval_s=0.05, **FAST_HASHING),
                         transports={name: httpx.MockTransport(refuse) for name in SCHEMAS})
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
                login = await client.post("/v1/auth/token", data={"username": "admin",
                                                                  "password": ADMIN_PASSWORD})
                headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
                r = await client.post("/v1/stations", json={"parent_id": 1, "kind": "city", "name": "Ya'an"},
                                      headers=headers)
                assert r.status_code == 201
                await asyncio.sleep(0.15)
                assert await app.state.pusher.sync_now() == {name: None for name in SCHEMAS}
                assert (await client.get("/healthz")).status_code == 200
        assert await db.fetchval("SELECT count(*) FROM cases.station") == 0
