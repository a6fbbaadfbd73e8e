"""Station replication: every service's replica follows the gateway's tree, catching up
after it was unreachable, without ever failing the gateway."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.replication import LEADER_KEY, StationPusher
from tests.fixtures.gateway import ADMIN_PASSWORD, FAST_HASHING, Gateway

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


@pytest.mark.replicated
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


async def until(check, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


class TestOneLeader:
    """Every gateway worker and replica runs the pusher's loop; one leads, chosen by an advisory
    lock on a connection of its own, and another takes over when that connection goes."""

    async def test_one_of_two_gateways_pushes_and_the_other_takes_over(self, gateway_factory, db):
        first = await gateway_factory(station_push_interval_s=0.1)
        second = await gateway_factory(station_push_interval_s=0.1)
        pushers = {"first": first.app.state.pusher, "second": second.app.state.pusher}
        await until(lambda: _true(any(p.leading for p in pushers.values())))
        await asyncio.sleep(0.5)  # several intervals: the follower asked for the lock and was refused
        leader = next(name for name, p in pushers.items() if p.leading)
        follower = next(name for name in pushers if name != leader)
        assert not pushers[follower].leading and pushers[follower].rounds == 0
        assert pushers[leader].rounds >= 2

        # A station written through the follower is pushed by the leader.
        writer = first if follower == "first" else second
        admin = await writer.admin()
        root = (await writer.get("/v1/stations", headers=admin)).json()["items"][0]
        city = await writer.station(admin, root["id"], "city", "Leshan")
        await until(lambda: _has(db, city["id"]))
        assert pushers[follower].rounds == 0

        # The leader's lock connection is cut (as when its process dies): the follower leads.
        await db.execute("SELECT pg_terminate_backend($1)", pushers[leader].leadership.server_pid)
        await until(lambda: _true(pushers[follower].leading))
        town = await writer.station(admin, city["id"], "county", "Emei")
        await until(lambda: _has(db, town["id"]))
        assert pushers[follower].rounds >= 1
        # The old leader found its connection gone, and the lock taken, at its next round.
        await until(lambda: _true(not pushers[leader].leading))
        await asyncio.sleep(0.3)
        assert not pushers[leader].leading and pushers[follower].leading
        assert await db.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                                 "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                                 "AND (classid::bigint << 32 | objid::bigint) = $1", LEADER_KEY) == 1

    async def test_a_gateway_that_stops_hands_the_lead_over(self, gateway_factory):
        first = await gateway_factory(station_push_interval_s=0.1)
        await until(lambda: _true(first.app.state.pusher.leading))
        second = await gateway_factory(station_push_interval_s=0.1)
        await asyncio.sleep(0.3)
        assert not second.app.state.pusher.leading
        await first.app.state.pusher.stop()
        await until(lambda: _true(second.app.state.pusher.leading))


@pytest.mark.replicated(only=True)
class TestOneLeaderAmongProcesses:
    """TestOneLeader's outcome with the gateways as processes, where which one leads cannot be seen
    from outside it: each is killed in turn (SIGKILL; PostgreSQL drops its lock with its connection),
    and a station written on the one left still reaches every service. The second kill always hits
    the leader: the first one's, or the one that took over from it."""

    async def test_a_station_reaches_the_services_whichever_gateway_dies(self, gateway, admin_headers, root, db):
        platform = gateway.topology.platform
        first, second = platform.replicas("gateway")
        for dead, alive in ((first, second), (second, first)):
            platform.kill(dead)
            async with Gateway(base_url=platform.processes[alive].url, timeout=30) as left:
                city = await left.station(admin_headers, root["id"], "city", f"Leshan {dead}")
            await until(lambda: _has(db, city["id"]), timeout_s=15)
            platform.start(dead)
            await platform.wait_ready(dead)


async def _true(value: bool) -> bool:
    return value


async def _has(db, station_id: int) -> bool:
    counts = [await db.fetchval(f"SELECT count(*) FROM {schema}.station WHERE id = $1", station_id)
              for schema in SCHEMAS]
    return counts == [1, 1, 1]
