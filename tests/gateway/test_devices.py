"""Station tablets: registered by an admin or the station's head, a credential shown once,
which works at /v1/sync until the device is revoked."""

import asyncio

import pytest


async def register(gateway, headers, station_id, name="和平村社工室平板", expect=201) -> dict:
    r = await gateway.post("/v1/devices", headers=headers, json={"station_id": station_id, "name": name})
    assert r.status_code == expect, r.text
    return r.json()


class TestDevices:
    async def test_register_use_and_revoke(self, gateway, admin_headers, gateway_tree):
        village = gateway_tree["heping"]
        await gateway.user(admin_headers, "chen.head", "station_head", gateway_tree["mengzhuiwan"]["id"])
        head = await gateway.headers_for("chen.head")
        device = await register(gateway, head, village["id"])
        assert device["station_id"] == village["id"] and device["credential"].startswith("hl_dev_")
        assert device["revoked_at"] is None and device["created_by"]

        listed = (await gateway.get("/v1/devices", headers=head)).json()
        assert [d["id"] for d in listed] == [device["id"]] and "credential" not in listed[0]

        tablet = {"Authorization": f"Bearer {device['credential']}"}
        r = await gateway.get("/v1/sync", params={"last_pulled_at": "null"}, headers=tablet)
        assert r.status_code == 200 and r.json()["timestamp"] > 0, r.text

        wrong = {"Authorization": f"Bearer {device['credential'][:-2]}xx"}
        r = await gateway.get("/v1/sync", params={"last_pulled_at": "null"}, headers=wrong)
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
        # A user's access token is not a device credential.
        r = await gateway.get("/v1/sync", params={"last_pulled_at": "null"}, headers=head)
        assert r.status_code == 401

        r = await gateway.post(f"/v1/devices/{device['id']}/revoke", headers=head)
        assert r.status_code == 200 and r.json()["revoked_at"]
        r = await gateway.get("/v1/sync", params={"last_pulled_at": "null"}, headers=tablet)
        assert r.status_code == 401 and "revoked" in r.json()["detail"]

    async def test_only_managers_in_scope(self, gateway, admin_headers, gateway_tree):
        await gateway.user(admin_headers, "li.worker", "social_worker", gateway_tree["mengzhuiwan"]["id"])
        await gateway.user(admin_headers, "wang.head", "station_head", gateway_tree["shuangqiao"]["id"])
        worker, sibling = await gateway.headers_for("li.worker"), await gateway.headers_for("wang.head")
        r = await gateway.post("/v1/devices", headers=worker, json={"station_id": gateway_tree["heping"]["id"],
                                                                    "name": "x"})
        assert r.status_code == 403
        # Another township's head cannot register, list or revoke devices of this one.
        await register(gateway, sibling, gateway_tree["heping"]["id"], expect=404)
        device = await register(gateway, admin_headers, gateway_tree["heping"]["id"])
        assert (await gateway.get("/v1/devices", headers=sibling)).json() == []
        assert (await gateway.post(f"/v1/devices/{device['id']}/revoke", headers=sibling)).status_code == 404
        r = await gateway.post("/v1/devices", headers=admin_headers, json={"station_id": gateway_tree["heping"]["id"],
                                                                           "name": ""})
        assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith("name")


class TestRetriedRegistration:
    """A tablet's name is its natural key within its station while it is live."""

    async def test_the_same_registration_twice_is_409_naming_name_and_one_tablet(self, gateway, admin_headers,
                                                                                 gateway_tree, db):
        village = gateway_tree["heping"]["id"]
        first = await register(gateway, admin_headers, village)
        again = await register(gateway, admin_headers, village, expect=409)
        assert again["errors"][0]["field"] == "name" and again["errors"][0]["code"] == "duplicate"
        assert await db.fetchval("SELECT count(*) FROM gateway.device WHERE station_id = $1", village) == 1
        # The name is free again once that tablet is revoked, and free at any other station.
        assert (await gateway.post(f"/v1/devices/{first['id']}/revoke", headers=admin_headers)).status_code == 200
        await register(gateway, admin_headers, village)
        await register(gateway, admin_headers, gateway_tree["shuangqiao"]["id"])

    async def test_two_registrations_at_once_make_one_tablet(self, gateway, admin_headers, gateway_tree, db):
        body = {"station_id": gateway_tree["heping"]["id"], "name": "和平村社工室平板"}
        a, b = await asyncio.gather(gateway.post("/v1/devices", headers=admin_headers, json=body),
                                    gateway.post("/v1/devices", headers=admin_headers, json=body))
        assert sorted((a.status_code, b.status_code)) == [201, 409], (a.text, b.text)
        assert await db.fetchval("SELECT count(*) FROM gateway.device") == 1


@pytest.mark.replicated
class TestEveryWorker:
    async def test_a_device_revoked_on_one_gateway_is_refused_by_another_at_once(self, gateway, gateway_factory,
                                                                                 admin_headers, gateway_tree):
        """Nothing about a device is kept in a gateway process: the other one's very next sync is refused."""
        other = await gateway_factory()
        device = await register(gateway, admin_headers, gateway_tree["heping"]["id"])
        tablet = {"Authorization": f"Bearer {device['credential']}"}
        assert (await other.get("/v1/sync", params={"last_pulled_at": "null"}, headers=tablet)).status_code == 200
        assert (await gateway.post(f"/v1/devices/{device['id']}/revoke", headers=admin_headers)).status_code == 200
        r = await other.get("/v1/sync", params={"last_pulled_at": "null"}, headers=tablet)
        assert r.status_code == 401 and "revoked" in r.json()["detail"]
