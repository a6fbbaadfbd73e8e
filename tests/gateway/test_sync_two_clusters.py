"""Sync with the volunteers service on a PostgreSQL server of its own: the one `timestamp` a
tablet holds stands for each service's own cursor, which on separate servers have nothing in
common (a young server's transaction ids are far behind the main one's)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import uuid
from contextlib import AsyncExitStack

import asyncpg
import httpx
import pytest
from sqlalchemy import select

from gateway.config import GatewaySettings
from gateway.models import SyncCursor
from ops import pg
from ops.migrate import upgrade_all
from services.volunteers.config import VolunteersSettings
from tests.fixtures.gateway import FAST_HASHING, Gateway
from tests.fixtures.people import ID_BORN_1985, ID_BORN_1990
from tests.fixtures.sync import settle
from tests.gateway.test_sync_flow import Tablet, updated

DATA = pg.ROOT / ".data" / f"pg-second-{uuid.uuid4().hex[:8]}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
async def second_server():
    port = _free_port()
    url = await asyncio.to_thread(pg.start, DATA, port)
    await asyncio.to_thread(upgrade_all, url)
    try:
        yield url
    finally:
        await asyncio.to_thread(pg.stop, DATA)
        shutil.rmtree(DATA, ignore_errors=True)


@pytest.fixture
async def split_gateway(second_server, cases_app, projects_app, cases_client, projects_client):
    from gateway.app import create_app
    from services.volunteers.app import create_app as volunteers_app

    async with AsyncExitStack() as stack:
        volunteers = volunteers_app(VolunteersSettings(database_url=second_server))
        await stack.enter_async_context(volunteers.router.lifespan_context(volunteers))
        app = create_app(GatewaySettings(station_push_interval_s=3600, **FAST_HASHING), transports={
            "cases": httpx.ASGITransport(app=cases_app), "projects": httpx.ASGITransport(app=projects_app),
            "volunteers": httpx.ASGITransport(app=volunteers)})
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(Gateway(transport=httpx.ASGITransport(app=app),
                                                         base_url="http://gateway"))
        client.app = app
        conn = await asyncpg.connect(second_server.replace("postgresql+asyncpg", "postgresql"))
        stack.push_async_callback(conn.close)
        client.second = conn
        yield client


async def test_one_timestamp_for_services_on_separate_servers(split_gateway, db):
    gateway = split_gateway
    admin = await gateway.admin()
    root = (await gateway.get("/v1/stations", headers=admin)).json()["items"][0]
    town = await gateway.station(admin, root["id"], "township", "Mengzhuiwan")
    await gateway.user(admin, "chen.head", "station_head", town["id"])
    await gateway.app.state.pusher.sync_now()
    head = await gateway.headers_for("chen.head")
    r = await gateway.post("/v1/devices", headers=head, json={"station_id": town["id"], "name": "平板"})
    tablet = Tablet(gateway, r.json()["credential"], db)

    async def pull() -> dict:
        await settle(gateway.second)
        return await tablet.pull()

    # Records in both services before the first pull, and after it: each comes exactly once.
    r = await gateway.post("/v1/beneficiaries", headers=head, json={"name": "张桂芳", "populations": ["elderly"]})
    person = r.json()
    r = await gateway.post("/v1/volunteers", headers=head, json={
        "name": "刘志愿", "id_type": "mainland_id", "id_number": ID_BORN_1990, "disclosure_consent": True})
    assert r.status_code == 201, r.text
    first_volunteer = r.json()
    first = await pull()
    assert person["id"] in updated(first, "beneficiaries")
    assert first_volunteer["id"] in updated(first, "volunteers")

    async with gateway.app.state.db.read_sessions() as session:
        cursor = (await session.scalars(select(SyncCursor).where(SyncCursor.id == tablet.last_pulled_at))).one()
    # Each service's cursor is its own server's: the young server's is far behind the main one's.
    assert int(cursor.cursors["volunteers"]) < int(cursor.cursors["cases"])

    r = await gateway.post("/v1/volunteers", headers=head, json={
        "name": "王志愿", "id_type": "mainland_id", "id_number": ID_BORN_1985, "disclosure_consent": True})
    assert r.status_code == 201, r.text
    second_volunteer = r.json()
    r = await gateway.patch(f"/v1/beneficiaries/{person['id']}", headers={**head, "If-Match": str(person["version"])},
                            json={"address": "和平村4组"})
    assert r.status_code == 200, r.text
    later = await pull()
    assert list(updated(later, "volunteers")) == [second_volunteer["id"]]
    assert list(updated(later, "beneficiaries")) == [person["id"]]

    # A push to the volunteers service checks conflicts against its own cursor.
    row = updated(later, "volunteers")[second_volunteer["id"]]
    await tablet.push({"volunteers": {"updated": [{**row, "skills": '["陪诊"]'}]}})
    r = await gateway.get(f"/v1/volunteers/{second_volunteer['id']}", headers=head)
    assert r.json()["skills"] == ["陪诊"]
    stale = updated(first, "volunteers")[first_volunteer["id"]]
    r = await gateway.patch(f"/v1/volunteers/{first_volunteer['id']}",
                            headers={**head, "If-Match": str(first_volunteer["version"])}, json={"skills": ["助老"]})
    assert r.status_code == 200, r.text
    r = await tablet.push({"volunteers": {"updated": [{**stale, "skills": '["理发"]'}]}}, expect=409)
    assert r.json()["records"] == [{"table": "volunteers", "id": first_volunteer["id"]}]
    back = await pull()
    assert set(updated(back, "volunteers")) == {first_volunteer["id"], second_volunteer["id"]}
    assert updated(back, "beneficiaries") == {}
