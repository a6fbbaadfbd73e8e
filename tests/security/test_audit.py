"""The audit log: every write and every read of a sensitive or a child's record, who, when, from
where; append-only; queryable by an administrator through the gateway; kept six months."""

from __future__ import annotations

from datetime import date

import asyncpg
import httpx
import pytest

from gateway.config import GatewaySettings
from shared import clock
from shared.audit.prune import prune
from tests.cases.test_sync import tablet_beneficiary
from tests.fixtures.gateway import Gateway, users
from tests.gateway.test_sync_flow import Tablet

SCHEMAS = ("gateway", "cases", "projects", "volunteers")
ADDRESS = "203.0.113.7"  # the worker's tablet or browser, as the gateway sees it


async def client_from(gateway: Gateway, address: str) -> Gateway:
    """A client of the same gateway app, connecting from `address`."""
    transport = httpx.ASGITransport(app=gateway.app, client=(address, 52000))
    client = Gateway(transport=transport, base_url="http://gateway")
    client.app = gateway.app
    return client


async def entries(gateway: Gateway, headers: dict, **params) -> list[dict]:
    r = await gateway.get("/v1/audit", headers=headers, params={"limit": 200, **params})
    assert r.status_code == 200, r.text
    assert r.json()["degraded"] == []
    return r.json()["items"]


@pytest.fixture
async def worker_setup(gateway, admin_headers, gateway_tree):
    """A social worker of a township, logged in from ADDRESS."""
    township = gateway_tree["mengzhuiwan"]
    user = await gateway.user(admin_headers, "zhou.worker", "social_worker", township["id"])
    await gateway.app.state.pusher.sync_now()
    client = await client_from(gateway, ADDRESS)
    headers = await client.headers_for("zhou.worker")
    yield client, headers, user, township
    await client.aclose()


class TestWhoWhatWhereThroughTheGateway:
    async def test_create_update_and_read_of_a_childs_record(self, gateway, admin_headers, worker_setup):
        client, headers, user, township = worker_setup
        today = clock.today()
        child_born = date(today.year - 8, 3, 1)
        r = await client.post("/v1/beneficiaries", headers=headers, json={
            "name": "小红", "birth_on": child_born.isoformat(), "populations": ["children"]})
        assert r.status_code == 201, r.text
        child = r.json()
        r = await client.patch(f"/v1/beneficiaries/{child['id']}", headers={**headers, "If-Match": r.headers["etag"]},
                               json={"disability_type": "hearing"})
        assert r.status_code == 200, r.text
        # Addresses a client claims for itself are not believed: only a trusted proxy's are.
        r = await client.get(f"/v1/beneficiaries/{child['id']}", headers={
            **headers, "X-Forwarded-For": "198.51.100.1", "X-Real-IP": "198.51.100.2"})
        assert r.status_code == 200 and r.json()["disability_type"] == "hearing"

        got = await entries(gateway, admin_headers, record=f"cases:beneficiary:{child['id']}")
        assert [(e["action"], e["operation"]) for e in got] == [
            ("read", "get_beneficiary"), ("update", "update_beneficiary"), ("create", "register_beneficiary")]
        for e in got:
            assert (e["service"], e["record_table"], e["record_id"]) == ("cases", "beneficiary", child["id"])
            assert (e["actor_id"], e["actor_role"], e["address"]) == (str(user["id"]), "social_worker", ADDRESS)
            assert e["station_path"] == township["path"]
        assert got[0]["at"] >= got[1]["at"] >= got[2]["at"]

    async def test_a_users_actions_across_processes_page_by_page(self, gateway, admin_headers, worker_setup):
        client, headers, user, _ = worker_setup
        r = await client.post("/v1/beneficiaries", headers=headers, json={"name": "李大爷", "populations": ["elderly"]})
        assert r.status_code == 201
        r = await client.post("/v1/cases", headers=headers, json={"beneficiary_id": r.json()["id"], "title": "照护"})
        assert r.status_code == 201
        case_id = r.json()["id"]
        assert (await client.get(f"/v1/cases/{case_id}", headers=headers)).status_code == 200
        assert (await client.get("/v1/cases", headers=headers)).status_code == 200

        whole = await entries(gateway, admin_headers, user_id=str(user["id"]))
        seen = [(e["service"], e["action"], e["record_table"]) for e in whole]
        assert ("gateway", "login", "user") in seen
        assert ("cases", "create", "beneficiary") in seen and ("cases", "create", "case") in seen
        assert seen.count(("cases", "read", "case")) == 2  # the case by id, then in the list
        assert {e["address"] for e in whole} == {ADDRESS}
        ordered = [(e["at"], e["service"], e["id"]) for e in whole]
        assert ordered == sorted(ordered, reverse=True)

        # One row a page, following next_cursor: the same rows in the same order.
        paged, cursor = [], None
        while True:
            params = {"user_id": str(user["id"]), "limit": 1, **({"cursor": cursor} if cursor else {})}
            r = await gateway.get("/v1/audit", headers=admin_headers, params=params)
            assert r.status_code == 200, r.text
            paged += r.json()["items"]
            cursor = r.json()["next_cursor"]
            if cursor is None:
                break
        assert [(e["service"], e["id"]) for e in paged] == [(e["service"], e["id"]) for e in whole]

    async def test_only_an_administrator_asks(self, gateway, admin_headers, worker_setup, gateway_tree):
        client, headers, _, township = worker_setup
        r = await client.get("/v1/audit", headers=headers)
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
        await gateway.user(admin_headers, "wu.head", "station_head", township["id"])
        r = await gateway.get("/v1/audit", headers=await gateway.headers_for("wu.head"))
        assert r.status_code == 403
        assert (await gateway.get("/v1/audit")).status_code == 401
        r = await gateway.get("/v1/audit", headers=admin_headers, params={"record": "nowhere:x:1"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "record"

    async def test_gateway_writes_and_failed_logins(self, gateway, admin_headers, gateway_tree):
        station = await gateway.station(admin_headers, gateway_tree["chenghua"]["id"], "township", "Baoshan")
        user = await gateway.user(admin_headers, "he.worker", "social_worker", station["id"])
        assert (await gateway.login("he.worker", "wrong password")).status_code == 401
        got = await entries(gateway, admin_headers, record=f"gateway:user:{user['id']}")
        assert [e["action"] for e in got] == ["login_failed", "create"]
        assert got[0]["actor_id"] == str(user["id"])
        assert got[1]["actor_role"] == "admin"
        r = await gateway.post(f"/v1/stations/{station['id']}/move", headers=admin_headers,
                               json={"parent_id": gateway_tree["mianyang"]["id"]})
        assert r.status_code == 200, r.text
        got = await entries(gateway, admin_headers, record=f"gateway:station:{station['id']}")
        assert [e["action"] for e in got] == ["move", "create"]
        assert (got[0]["station_path"], got[1]["station_path"]) == (r.json()["path"], station["path"])

    async def test_a_tablets_pull_and_push_name_the_device(self, gateway, admin_headers, gateway_tree, db):
        township = gateway_tree["mengzhuiwan"]
        staff = await users(gateway, admin_headers, gateway_tree, ("ma.head", "station_head", "mengzhuiwan"))
        head = staff["ma.head"]
        r = await gateway.post("/v1/devices", headers=head, json={"station_id": township["id"], "name": "平板"})
        assert r.status_code == 201, r.text
        device_id = r.json()["id"]
        tablet = Tablet(await client_from(gateway, ADDRESS), r.json()["credential"], db)
        await tablet.pull()
        row = tablet_beneficiary()
        await tablet.push({"beneficiaries": {"created": [row], "updated": [], "deleted": []}})
        got = await entries(gateway, admin_headers, user_id=f"device:{device_id}")
        assert {(e["service"], e["action"], e["record_table"]) for e in got} >= {
            ("gateway", "read", "station"), ("cases", "create", "beneficiary")}
        assert {e["address"] for e in got} == {ADDRESS}
        assert {e["device_id"] for e in got} == {str(device_id)}
        await tablet.gateway.aclose()


class TestAppendOnly:
    @pytest.mark.parametrize("schema", SCHEMAS)
    async def test_update_and_delete_refused(self, db, schema):
        await db.execute(f"INSERT INTO {schema}.audit_log (actor_id, actor_role, action, record_table, record_id) "
                         "VALUES ('u1', 'admin', 'create', 'thing', '1')")
        for statement in (f"UPDATE {schema}.audit_log SET actor_id = 'someone else'",
                          f"DELETE FROM {schema}.audit_log"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await db.execute(statement)
        assert await db.fetchval(f"SELECT actor_id FROM {schema}.audit_log") == "u1"

    async def test_a_failed_write_leaves_no_row(self, cases_client, token_for, push_stations, db):
        await push_stations(cases_client, "/1/", "/1/2/")
        worker = token_for("social_worker", 2, "/1/2/", user_id="w2")
        r = await cases_client.post("/v1/cases", headers=worker, json={"beneficiary_id": "nobody", "title": "x"})
        assert r.status_code in (404, 422)
        assert await db.fetchval("SELECT count(*) FROM cases.audit_log") == 0


class TestRetention:
    async def _rows(self, db, schema: str, *ages: int) -> None:
        for age in ages:
            await db.execute(f"INSERT INTO {schema}.audit_log (at, actor_id, actor_role, action, record_table, "
                             f"record_id) VALUES (now() - make_interval(days => $1), 'u1', 'admin', 'read', 't', $2)",
                             age, str(age))

    @pytest.mark.parametrize("schema", SCHEMAS)
    async def test_pruning_keeps_six_months(self, db, schema):
        await self._rows(db, schema, 400, 190, 170, 30, 0)
        assert await prune(db, schema, 183) == 2
        kept = {r["record_id"] for r in await db.fetch(f"SELECT record_id FROM {schema}.audit_log")}
        assert kept == {"170", "30", "0"}

    async def test_a_longer_retention_keeps_more(self, db):
        await self._rows(db, "cases", 400, 190)
        assert await prune(db, "cases", 365) == 1
        assert await db.fetchval("SELECT count(*) FROM cases.audit_log") == 1

    async def test_less_than_six_months_is_refused_everywhere(self, db, monkeypatch):
        await self._rows(db, "cases", 100)
        with pytest.raises(ValueError):
            await prune(db, "cases", 30)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):  # the database holds the line on its own
            await db.execute("SELECT set_config('haolin.audit_retention_days', '30', true); "
                             "DELETE FROM cases.audit_log")
        assert await db.fetchval("SELECT count(*) FROM cases.audit_log") == 1
        monkeypatch.setenv("AUDIT_RETENTION_DAYS", "90")
        with pytest.raises(ValueError):
            GatewaySettings()
        monkeypatch.setenv("AUDIT_RETENTION_DAYS", "400")
        assert GatewaySettings().audit_retention_days == 400
