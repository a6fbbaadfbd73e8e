"""A transfer between two townships through the gateway, as the people and tablets involved see it:
the request and its acceptance over /v1/transfers, each station's figures in /v1/stats/summary, and
the two stations' tablets pulling with stock WatermelonDB requests."""

from __future__ import annotations

from datetime import timedelta

from shared import clock
from tests.fixtures.gateway import users
from tests.gateway.test_stats import get_ok
from tests.gateway.test_sync_flow import Tablet, updated


class TestTransferThroughTheGateway:
    async def test_request_accept_figures_and_tablets(self, gateway_factory, admin_headers, gateway_tree, db):
        gw = await gateway_factory(stats_cache_s=0, stats_stale_s=0)
        tree = gateway_tree
        staff = await users(gw, admin_headers, tree, ("meng.head", "station_head", "mengzhuiwan"),
                            ("meng.worker", "social_worker", "mengzhuiwan"),
                            ("shuang.head", "station_head", "shuangqiao"),
                            ("county.official", "official", "chenghua"))
        meng, shuang = staff["meng.head"], staff["shuang.head"]
        tablets = {}
        for key, head in (("mengzhuiwan", meng), ("shuangqiao", shuang)):
            r = await gw.post("/v1/devices", headers=head, json={"station_id": tree[key]["id"], "name": "平板"})
            assert r.status_code == 201, r.text
            tablets[key] = Tablet(gw, r.json()["credential"], db)
        today = clock.today()
        r = await gw.post("/v1/beneficiaries", headers=staff["meng.worker"],
                          json={"name": "张桂芳", "populations": ["elderly"]})
        assert r.status_code == 201, r.text
        person = r.json()["id"]
        r = await gw.post("/v1/cases", headers=staff["meng.worker"], json={
            "beneficiary_id": person, "title": "独居老人照护", "opened_on": (today - timedelta(days=3)).isoformat()})
        assert r.status_code == 201, r.text
        case = r.json()["id"]
        for tablet in tablets.values():
            await tablet.pull()

        async def open_cases(station: str) -> int:
            body = await get_ok(gw, "/v1/stats/summary", staff["county.official"], station_id=tree[station]["id"],
                                **{"from": today - timedelta(days=5), "to": today})
            return body["figures"]["cases.open"]["value"]

        assert [await open_cases(s) for s in ("mengzhuiwan", "shuangqiao", "chenghua")] == [1, 0, 1]

        # Mengzhuiwan's head asks; Shuangqiao's head finds it in her queue and accepts.
        r = await gw.post(f"/v1/beneficiaries/{person}/transfer", headers=meng,
                          json={"to_station_id": tree["shuangqiao"]["id"], "reason": "搬家到双桥"})
        assert r.status_code == 202, r.text
        tid = r.json()["id"]
        assert [await open_cases(s) for s in ("mengzhuiwan", "shuangqiao", "chenghua")] == [1, 0, 1]
        queue = await get_ok(gw, "/v1/transfers", shuang, direction="incoming", status="pending")
        assert [t["id"] for t in queue["items"]] == [tid]
        assert (await gw.get("/v1/transfers", headers=staff["county.official"])).status_code == 403
        r = await gw.post(f"/v1/transfers/{tid}/accept", headers=shuang)
        assert r.status_code == 200 and r.json()["case_ids"] == [case], r.text
        assert [await open_cases(s) for s in ("mengzhuiwan", "shuangqiao", "chenghua")] == [0, 1, 1]

        # The old station's tablet deletes the person and the case; the new one's receives them.
        old = await tablets["mengzhuiwan"].pull()
        assert old["changes"]["beneficiaries"]["deleted"] == [person]
        assert old["changes"]["cases"]["deleted"] == [case]
        new = await tablets["shuangqiao"].pull()
        assert person in updated(new, "beneficiaries") and case in updated(new, "cases")
        assert new["changes"]["beneficiaries"]["deleted"] == []
