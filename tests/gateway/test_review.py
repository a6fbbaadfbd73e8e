"""GET /v1/review: the station's records under review, merged from every service that keeps
review flags, in one order and one cursor; scoped and role-checked by the services."""

from __future__ import annotations

from datetime import timedelta

from shared import clock
from tests.gateway.test_sync_stock import new_tablet, register_tablet


async def flagged_at(gateway, db, head: dict, station_id: int, worker: dict) -> dict[str, str]:
    """Through a tablet of the station: a visit dated before its case opened (cases) and a
    volunteer's day over 24 hours (volunteers). Their ids by table."""
    today = clock.today()
    r = await gateway.post("/v1/volunteers", headers=worker, json={"name": "吴志愿", "id_number": "11010519491231002X",
                                                                   "station_id": station_id})
    assert r.status_code == 201, r.text
    volunteer = r.json()["id"]
    r = await gateway.post("/v1/volunteer-hours", headers=worker, json={
        "volunteer_id": volunteer, "served_on": today.isoformat(), "hours": "10", "content": "助老"})
    assert r.status_code == 201, r.text
    tablet = await new_tablet(gateway, db, await register_tablet(gateway, head, station_id))
    await tablet.sync()
    person = tablet.db.create("beneficiaries", name="郑奶奶", populations='["elderly"]', station_id=station_id)
    case = tablet.db.create("cases", beneficiary_id=person, title="居家照护", opened_on=today.isoformat())
    visit = tablet.db.create("service_records", case_id=case, served_on=(today - timedelta(days=3)).isoformat(),
                             mode="home_visit", content="补录", service_type="elder_child_care", person_times=1)
    await tablet.sync()
    shift = tablet.db.create("volunteer_hours", volunteer_id=volunteer, served_on=today.isoformat(), hours=16,
                             content="值守", station_id=station_id)
    await tablet.sync()
    return {"service_records": visit, "volunteer_hours": shift}


class TestReviewList:
    async def test_merged_scoped_and_paged(self, gateway, admin_headers, gateway_tree, db):
        township, sibling = gateway_tree["mengzhuiwan"], gateway_tree["shuangqiao"]
        for name, role, station in (("chen.head", "station_head", township), ("li.worker", "social_worker", township),
                                    ("xu.head", "station_head", sibling), ("county.official", "official",
                                                                          gateway_tree["chenghua"])):
            await gateway.user(admin_headers, name, role, station["id"])
        await gateway.app.state.pusher.sync_now()
        head, worker = await gateway.headers_for("chen.head"), await gateway.headers_for("li.worker")
        mine = await flagged_at(gateway, db, head, township["id"], worker)

        r = await gateway.get("/v1/review", headers=head)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert {(i["table"], i["id"]) for i in items} == set(mine.items())
        assert [i["table"] for i in items] == ["volunteer_hours", "service_records"]  # newest change first
        assert {i["review"][0]["code"] for i in items} == {"over_24_a_day", "before_opened"}
        # One service's item a page: the cursor carries on across both services.
        first = (await gateway.get("/v1/review", headers=head, params={"limit": 1})).json()
        assert [i["id"] for i in first["items"]] == [mine["volunteer_hours"]] and first["next_cursor"]
        second = (await gateway.get("/v1/review", headers=head, params={"limit": 1,
                                                                        "cursor": first["next_cursor"]})).json()
        assert [i["id"] for i in second["items"]] == [mine["service_records"]] and second["next_cursor"] is None

        # Another station's head sees none of them, and may not ask about this station.
        other = await gateway.headers_for("xu.head")
        assert (await gateway.get("/v1/review", headers=other)).json()["items"] == []
        r = await gateway.get("/v1/review", headers=other, params={"station_id": township["id"]})
        assert r.status_code == 422 and r.json()["instance"] == "/v1/review"
        # A village below the township holds none of them.
        r = await gateway.get("/v1/review", headers=head, params={"station_id": gateway_tree["heping"]["id"]})
        assert r.status_code == 200 and r.json()["items"] == []
        # An official sees figures, never records; no token, no list.
        r = await gateway.get("/v1/review", headers=await gateway.headers_for("county.official"))
        assert r.status_code == 403
        assert (await gateway.get("/v1/review")).status_code == 401
