"""Distinct persons (人) through the gateway: each service's bitmap of person numbers, unioned
exactly, checked against the people this test served, at every station of the tree it touched."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from shared import clock
from tests.fixtures.gateway import users
from tests.gateway.test_stats import get_ok


@pytest.fixture
async def gateway(gateway_factory):
    """Answers not shared between reads, so each read sees the last write."""
    return await gateway_factory(stats_cache_s=0, stats_stale_s=0)


class Served:
    """Who was served where and when, as this test made it: the figures' expected values."""

    def __init__(self, tree: dict[str, dict]) -> None:
        self.tree = tree
        self.visits: dict[str, tuple[str, date, str]] = {}  # record key -> (person, day, station key)

    def persons(self, station: str, frm: date, to: date) -> int:
        path = self.tree[station]["path"]
        return len({p for p, day, at in self.visits.values()
                    if self.tree[at]["path"].startswith(path) and frm <= day <= to})


class World:
    def __init__(self, gateway, tree, headers, head, reader) -> None:
        self.gw, self.tree, self.h, self.head = gateway, tree, headers, head
        self.reader = reader  # the administrator: every station of the tree, the root included
        self.served = Served(tree)
        self.today = clock.today()

    async def post(self, path: str, body: dict, expect: int = 201) -> dict:
        r = await self.gw.post(path, headers=self.h, json=body)
        assert r.status_code == expect, (path, r.text)
        return r.json()

    async def person(self, station: str, name: str) -> str:
        return (await self.post("/v1/beneficiaries", {"name": name, "populations": ["elderly"],
                                                      "station_id": self.tree[station]["id"]}))["id"]

    async def casework(self, station: str, person: str, day: date) -> dict:
        case = await self.post("/v1/cases", {"beneficiary_id": person, "title": "个案",
                                             "station_id": self.tree[station]["id"],
                                             "opened_on": (self.today - timedelta(days=120)).isoformat()})
        record = await self.post(f"/v1/cases/{case['id']}/service-records", {
            "served_on": day.isoformat(), "mode": "home_visit", "content": "入户探访",
            "service_type": "elder_child_care"})
        self.served.visits[record["id"]] = (person, day, station)
        return {"case": case, "record": record}

    async def visit(self, station: str, person: str, day: date) -> dict:
        """A visit (探访), filed at the person's station (`station`)."""
        visit = await self.post(f"/v1/beneficiaries/{person}/visits", {"visited_on": day.isoformat(),
                                                                       "mode": "phone"})
        self.served.visits[f"visit:{visit['id']}"] = (person, day, station)
        return visit

    async def project(self, station: str) -> dict:
        r = await self.gw.post("/v1/projects", headers=self.head, json={
            "name": "项目", "purchaser": "区民政局", "operator": "好邻社工中心", "station_id": self.tree[station]["id"],
            "starts_on": (self.today - timedelta(days=150)).isoformat(),
            "ends_on": (self.today + timedelta(days=200)).isoformat()})
        assert r.status_code == 201, r.text
        return r.json()

    async def session(self, project: dict, station: str, people: list[str], day: date) -> dict:
        group = await self.post("/v1/groups", {
            "project_id": project["id"], "station_id": self.tree[station]["id"], "title": "小组",
            "starts_on": (self.today - timedelta(days=100)).isoformat(), "members": people})
        s = await self.post(f"/v1/groups/{group['id']}/sessions", {
            "held_on": day.isoformat(), "attendees": [{"beneficiary_id": p} for p in people]})
        for p in people:
            self.served.visits[f"session:{s['id']}:{p}"] = (p, day, station)
        return {"group": group, "session": s}

    async def activity(self, project: dict, station: str, people: list[str], day: date) -> dict:
        a = await self.post("/v1/activities", {
            "project_id": project["id"], "station_id": self.tree[station]["id"], "title": "社区活动",
            "held_on": day.isoformat(), "anonymous_count": 5, "attendees": [{"beneficiary_id": p} for p in people]})
        for p in people:
            self.served.visits[f"activity:{a['id']}:{p}"] = (p, day, station)
        return a

    async def persons(self, station: str, frm: date, to: date) -> int:
        body = await get_ok(self.gw, "/v1/stats/summary", self.reader, station_id=self.tree[station]["id"],
                            **{"from": frm.isoformat(), "to": to.isoformat()})
        figure = body["figures"]["persons"]
        assert figure["exact"] is True and not body["degraded"]
        return figure["value"]

    async def check(self, frm: date, to: date) -> None:
        """Every station of the tree, the figure against the people served there."""
        for station in self.tree:
            assert await self.persons(station, frm, to) == self.served.persons(station, frm, to), station


@pytest.fixture
async def world(gateway, admin_headers, gateway_tree) -> World:
    h = await users(gateway, admin_headers, gateway_tree, ("county.worker", "social_worker", "chenghua"),
                    ("county.head", "station_head", "chenghua"))
    return World(gateway, gateway_tree, h["county.worker"], h["county.head"], admin_headers)


class TestPersons:
    async def test_a_person_served_by_casework_a_group_and_an_activity_is_one(self, world):
        w, t = world, world.today
        a, b = t - timedelta(days=70), t - timedelta(days=35)  # always in different months
        p = await w.person("heping", "张桂芳")
        q = await w.person("shuangqiao", "李秀英")
        await w.casework("heping", p, a)
        project = await w.project("chenghua")
        await w.session(project, "mengzhuiwan", [p], b)
        await w.activity(project, "shuangqiao", [p, q], t)
        # Visited too, at home and on the day of the activity: still one person each.
        await w.visit("heping", p, b)
        await w.visit("shuangqiao", q, t)
        # Served four ways at three stations: once in the county, once in each place served.
        assert await w.persons("chenghua", a, t) == 2
        body = await get_ok(w.gw, "/v1/stats/summary", w.reader, station_id=w.tree["chenghua"]["id"],
                            **{"from": a.isoformat(), "to": t.isoformat()})
        assert body["figures"]["person_times.visit"]["value"] == 2
        await w.check(a, t)
        await w.check(a, b)
        await w.check(b, t)
        # Month by month: P in each month served, Q only this month.
        body = await get_ok(w.gw, "/v1/stats/timeseries", w.h, station_id=w.tree["chenghua"]["id"],
                            metric="persons", interval="month", **{"from": a.isoformat(), "to": t.isoformat()})
        [everyone] = body["series"]
        by_month = dict(zip((p_["period"] for p_ in body["periods"]), everyone["values"]))
        for period in body["periods"]:
            start, end = date.fromisoformat(period["from"]), date.fromisoformat(period["to"])
            assert by_month[period["period"]] == w.served.persons("chenghua", start, end), period
        assert everyone["exact"] is True

    async def test_a_person_leaves_only_with_their_last_record_and_moves_with_its_date(self, world):
        w, t = world, world.today
        a, b = t - timedelta(days=70), t - timedelta(days=35)
        p = await w.person("heping", "张桂芳")
        first = await w.casework("heping", p, b)
        second = await w.casework("heping", p, b)
        project = await w.project("chenghua")
        made = await w.session(project, "heping", [p], b)
        await w.check(a, t)

        async def delete(made: dict) -> None:
            url = f"/v1/cases/{made['case']['id']}/service-records/{made['record']['id']}"
            r = await w.gw.delete(url, headers={**w.h, "If-Match": '"1"'})
            assert r.status_code == 204, r.text
            del w.served.visits[made["record"]["id"]]

        await delete(first)
        assert await w.persons("heping", b, b) == 1  # the second record and the session still serve them
        await w.check(a, t)
        await delete(second)
        assert await w.persons("heping", b, b) == 1  # the session still does
        # The session moved to another month: the person goes with it.
        s = made["session"]
        url = f"/v1/groups/{made['group']['id']}/sessions/{s['id']}"
        r = await w.gw.patch(url, headers={**w.h, "If-Match": f'"{s["version"]}"'}, json={"held_on": a.isoformat()})
        assert r.status_code == 200, r.text
        w.served.visits[f"session:{s['id']}:{p}"] = (p, a, "heping")
        assert await w.persons("heping", b, b) == 0 and await w.persons("heping", a, a) == 1
        await w.check(a, t)
        await w.check(b, t)
        r = await w.gw.delete(url, headers={**w.h, "If-Match": f'"{r.json()["version"]}"'})
        assert r.status_code == 204, r.text
        del w.served.visits[f"session:{s['id']}:{p}"]
        assert await w.persons("chenghua", a, t) == 0
        await w.check(a, t)

    async def test_a_moved_station_takes_its_persons_to_its_new_parent(self, world, admin_headers):
        w, t = world, world.today
        a = t - timedelta(days=40)
        p, q = await w.person("heping", "张桂芳"), await w.person("mengzhuiwan", "王建国")
        await w.casework("heping", p, a)
        project = await w.project("chenghua")
        await w.activity(project, "heping", [p, q], t)
        await w.check(a, t)
        assert await w.persons("mengzhuiwan", a, t) == 2 and await w.persons("shuangqiao", a, t) == 0

        r = await w.gw.post(f"/v1/stations/{w.tree['heping']['id']}/move",
                            json={"parent_id": w.tree["shuangqiao"]["id"]}, headers=admin_headers)
        assert r.status_code == 200, r.text
        await w.gw.app.state.pusher.sync_now()
        w.tree["heping"] = {**w.tree["heping"], "path": r.json()["path"]}
        # A station's history moves with it: both were served at Heping, now under Shuangqiao (Q is
        # registered at Mengzhuiwan, but persons count where people were served).
        assert await w.persons("shuangqiao", a, t) == 2 and await w.persons("mengzhuiwan", a, t) == 0
        await w.check(a, t)
