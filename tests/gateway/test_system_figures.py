"""The station system's figures (stations by tier, projects, staff) against what the test made.

Every expected number is counted here from the test's own list of stations, accounts, projects
and service records, in the tree as it stands after one station moved to another parent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import httpx
import pytest

from shared import clock
from tests.fixtures.gateway import users
from tests.gateway.test_stats import Down, get_ok

TIERS = ("province", "city", "county", "township", "village")
SYSTEM = ("stations.total", *(f"stations.{t}" for t in TIERS), "stations.started", "stations.active",
          "projects.active", "projects.started", "projects.closed", "projects.budget_yuan", "staff.social_workers",
          "staff.station_heads", "staff.supervisors", "staff.active_workers")
ROLE_OF = {"staff.social_workers": "social_worker", "staff.station_heads": "station_head",
           "staff.supervisors": "supervisor"}


@dataclass
class Made:
    """What the test made, and the figures counted from it in plain Python."""

    stations: dict[str, dict]  # key -> {"id", "kind", "parent": key or None}
    today: date
    accounts: list[tuple[str, str, str]] = field(default_factory=list)  # username, role, station key (live ones)
    served: list[tuple[str, str, date, str]] = field(default_factory=list)  # station key, username, day, service
    projects: list[dict] = field(default_factory=list)  # station, starts, ends, status, budget {source: yuan}

    def subtree(self, key: str) -> set[str]:
        found, grew = {key}, True
        while grew:
            more = {k for k, s in self.stations.items() if s["parent"] in found} - found
            found |= more
            grew = bool(more)
        return found

    def figures(self, key: str, frm: date, to: date,
                services: frozenset[str] = frozenset({"cases", "projects"})) -> dict[str, int | float]:
        under = self.subtree(key)
        # Every station was made today: none is in the tree at the end of a period that ends before.
        stations = [self.stations[k] for k in under] if to >= self.today else []
        out: dict[str, int | float] = {"stations.total": len(stations)}
        for tier in TIERS:
            out[f"stations.{tier}"] = sum(1 for s in stations if s["kind"] == tier)
        out["stations.started"] = len(stations) if frm <= self.today <= to else 0
        active = [(k, who) for k, who, day, service in self.served
                  if k in under and frm <= day <= to and service in services]
        out["stations.active"] = len({k for k, _ in active})
        out["staff.active_workers"] = len({who for _, who in active})
        running = [p for p in self.projects if p["station"] in under and p["status"] != "planned"
                   and p["starts"] <= to and p["ends"] >= frm]
        out["projects.active"] = len(running)
        out["projects.started"] = sum(1 for p in self.projects if p["station"] in under and p["status"] != "planned"
                                      and frm <= p["starts"] <= to)
        out["projects.closed"] = sum(1 for p in self.projects if p["station"] in under and p["status"] == "closed"
                                     and frm <= p["ends"] <= to)
        out["projects.budget_yuan"] = sum(sum(p["budget"].values()) for p in running)
        for figure, role in ROLE_OF.items():
            out[figure] = sum(1 for _, r, k in self.accounts if r == role and k in under) if to >= self.today else 0
        return out

    def budget_by_source(self, key: str, frm: date, to: date) -> dict[str, float]:
        under, split = self.subtree(key), {}
        for p in self.projects:
            if p["station"] in under and p["status"] != "planned" and p["starts"] <= to and p["ends"] >= frm:
                for source, yuan in p["budget"].items():
                    split[source] = split.get(source, 0) + yuan
        return split


async def _post(gw, headers, path: str, body: dict | None = None, expect: int = 201) -> dict:
    r = await gw.post(path, headers=headers, json=body)
    assert r.status_code == expect, (path, r.text)
    return r.json()


@pytest.fixture
async def made(gateway, admin_headers, gateway_tree) -> Made:
    gw, t = gateway, clock.today()
    parents = {"root": None, "chengdu": "root", "mianyang": "root", "chenghua": "chengdu",
               "mengzhuiwan": "chenghua", "shuangqiao": "chenghua", "heping": "mengzhuiwan"}
    tree = dict(gateway_tree)
    tree["xinqiao"] = await gw.station(admin_headers, tree["shuangqiao"]["id"], "village", "Xinqiao")
    parents["xinqiao"] = "shuangqiao"
    m = Made({k: {"id": s["id"], "kind": s["kind"], "parent": parents[k]} for k, s in tree.items()}, t)

    accounts = [("county.head", "station_head", "chenghua"), ("meng.head", "station_head", "mengzhuiwan"),
                ("meng.worker", "social_worker", "mengzhuiwan"), ("heping.worker", "social_worker", "heping"),
                ("shuang.worker", "social_worker", "shuangqiao"), ("xin.worker", "social_worker", "xinqiao"),
                ("city.supervisor", "supervisor", "chengdu"), ("county.supervisor", "supervisor", "chenghua"),
                ("gone.worker", "social_worker", "mengzhuiwan"), ("mian.head", "station_head", "mianyang"),
                ("county.official", "official", "chenghua")]
    h = await users(gw, admin_headers, tree, *accounts)
    m.headers = h
    # An account disabled is no longer staff.
    gone = next(u for u in (await gw.get("/v1/users", headers=admin_headers, params={"limit": 100})).json()["items"]
                if u["username"] == "gone.worker")
    await _post(gw, admin_headers, f"/v1/users/{gone['id']}/disable", expect=200)
    m.accounts = [a for a in accounts if a[0] != "gone.worker"]

    async def casework(who: str, key: str, days: list[date]) -> None:
        person = await _post(gw, h[who], "/v1/beneficiaries", {"name": "张桂芳", "station_id": tree[key]["id"]})
        case = await _post(gw, h[who], "/v1/cases", {"beneficiary_id": person["id"], "title": "个案",
                                                      "station_id": tree[key]["id"],
                                                      "opened_on": (t - timedelta(days=120)).isoformat()})
        for day in days:
            await _post(gw, h[who], f"/v1/cases/{case['id']}/service-records", {
                "served_on": day.isoformat(), "mode": "home_visit", "content": "入户探访",
                "service_type": "elder_child_care", "person_times": 1})
            m.served.append((key, who, day, "cases"))

    async def project(headers: dict, key: str, starts: date, ends: date, budget: dict[str, float],
                      actions: tuple[str, ...]) -> dict:
        p = await _post(gw, headers, "/v1/projects", {
            "name": "社工站项目", "purchaser": "区民政局", "operator": "好邻社工中心", "station_id": tree[key]["id"],
            "starts_on": starts.isoformat(), "ends_on": ends.isoformat(),
            "budget": [{"source": s, "amount_yuan": str(y)} for s, y in budget.items()]})
        for action in actions:
            p = await _post(gw, headers, f"/v1/projects/{p['id']}/{action}", expect=200)
        m.projects.append({"station": key, "starts": starts, "ends": ends, "status": p["status"], "budget": budget})
        return p

    await casework("meng.worker", "mengzhuiwan", [t - timedelta(days=60), t - timedelta(days=5)])
    await casework("heping.worker", "heping", [t - timedelta(days=100)])  # before the range asked
    await casework("shuang.worker", "shuangqiao", [t - timedelta(days=30)])
    await casework("xin.worker", "xinqiao", [t - timedelta(days=10)])
    await casework("meng.head", "heping", [t - timedelta(days=3)])  # a head serving at the village below
    running = await project(h["county.head"], "chenghua", t - timedelta(days=150), t + timedelta(days=200),
                            {"civil_affairs": 300000.0, "womens_federation": 50000.0}, ("start",))
    await project(h["meng.head"], "mengzhuiwan", t - timedelta(days=120), t - timedelta(days=20),
                  {"civil_affairs": 100000.0}, ("start", "close"))  # ends inside the range
    await project(admin_headers, "shuangqiao", t - timedelta(days=10), t + timedelta(days=90),
                  {"charity": 8000.0}, ())  # planned: not started, counts nowhere
    await project(admin_headers, "xinqiao", t - timedelta(days=40), t + timedelta(days=100),
                  {"charity": 20000.0}, ("start",))  # starts inside the range
    await project(h["county.head"], "chenghua", t - timedelta(days=400), t - timedelta(days=200),
                  {"civil_affairs": 90000.0}, ("start", "close"))  # over before the range
    await project(h["mian.head"], "mianyang", t - timedelta(days=50), t + timedelta(days=50),
                  {"civil_affairs": 70000.0}, ("start",))  # another city
    # A group session and an activity of the county's project: projects service work, by the county head.
    group = await _post(gw, h["county.head"], "/v1/groups", {
        "project_id": running["id"], "station_id": tree["shuangqiao"]["id"], "title": "小组",
        "starts_on": (t - timedelta(days=20)).isoformat(), "members": []})
    await _post(gw, h["county.head"], f"/v1/groups/{group['id']}/sessions", {
        "held_on": (t - timedelta(days=20)).isoformat(), "anonymous_count": 6, "attendees": []})
    m.served.append(("shuangqiao", "county.head", t - timedelta(days=20), "projects"))
    await _post(gw, h["county.head"], "/v1/activities", {
        "project_id": running["id"], "station_id": tree["chenghua"]["id"], "title": "社区活动",
        "held_on": (t - timedelta(days=2)).isoformat(), "anonymous_count": 30, "attendees": []})
    m.served.append(("chenghua", "county.head", t - timedelta(days=2), "projects"))
    m.tree = tree
    m.gw = gw
    m.admin = admin_headers
    return m


def shown(figures: dict) -> dict:
    return {name: f["value"] for name, f in figures.items()}


async def move(m: Made, key: str, parent: str) -> None:
    r = await m.gw.post(f"/v1/stations/{m.tree[key]['id']}/move", json={"parent_id": m.tree[parent]["id"]},
                        headers=m.admin)
    assert r.status_code == 200, r.text
    await m.gw.app.state.pusher.sync_now()
    m.stations[key]["parent"] = parent
    # Answers are kept for stats_cache_s: what follows reads the figures after the move.
    await m.gw.app.state.forget_stats()


class TestStationSystem:
    async def test_summary_at_every_level_and_after_a_move(self, made):
        m = made
        frm, to = m.today - timedelta(days=70), m.today
        span = {"from": frm.isoformat(), "to": to.isoformat()}
        levels = ("root", "chengdu", "chenghua", "mengzhuiwan", "shuangqiao", "xinqiao", "mianyang")

        async def check() -> None:
            for key in levels:
                body = await get_ok(m.gw, "/v1/stats/summary", m.admin, station_id=m.tree[key]["id"], **span)
                assert set(body["system"]) == set(SYSTEM)
                assert shown(body["system"]) == m.figures(key, frm, to), key
                assert body["system"]["projects.budget_yuan"]["by_population"] == m.budget_by_source(key, frm, to)
                assert all(f["missing"] == [] for f in body["system"].values())

        await check()
        # Spelled out for the reader: the county holds itself, two townships and two villages.
        county = await get_ok(m.gw, "/v1/stats/summary", m.admin, station_id=m.tree["chenghua"]["id"], **span)
        assert (county["system"]["stations.total"]["value"], county["system"]["stations.township"]["value"],
                county["system"]["stations.village"]["value"]) == (5, 2, 2)
        assert county["system"]["projects.active"]["value"] == 3  # running, ended inside, started inside
        assert county["system"]["projects.closed"]["value"] == 1

        # Xinqiao moves from Shuangqiao to Mengzhuiwan: its station, worker, project and service go along.
        before = await get_ok(m.gw, "/v1/stats/summary", m.admin, station_id=m.tree["shuangqiao"]["id"], **span)
        await move(m, "xinqiao", "mengzhuiwan")
        after = await get_ok(m.gw, "/v1/stats/summary", m.admin, station_id=m.tree["shuangqiao"]["id"], **span)
        assert after["system"]["stations.total"]["value"] == before["system"]["stations.total"]["value"] - 1
        assert after["system"]["staff.social_workers"]["value"] == 1
        await check()

    async def test_a_range_that_ends_before_the_tree_was_made(self, made):
        m = made
        frm, to = m.today - timedelta(days=70), m.today - timedelta(days=1)
        body = await get_ok(m.gw, "/v1/stats/summary", m.admin, station_id=m.tree["chenghua"]["id"],
                            **{"from": frm.isoformat(), "to": to.isoformat()})
        assert shown(body["system"]) == m.figures("chenghua", frm, to)
        assert body["system"]["stations.total"]["value"] == 0 and body["system"]["projects.active"]["value"] == 3

    async def test_timeseries_gives_each_period_its_own_count(self, made):
        m = made
        frm, to = m.today - timedelta(days=130), m.today
        for key in ("chenghua", "mengzhuiwan"):
            for metric in SYSTEM:
                body = await get_ok(m.gw, "/v1/stats/timeseries", m.admin, metric=metric, interval="month",
                                    station_id=m.tree[key]["id"], **{"from": frm.isoformat(), "to": to.isoformat()})
                expected = [m.figures(key, date.fromisoformat(p["from"]), date.fromisoformat(p["to"]))[metric]
                            for p in body["periods"]]
                assert body["series"][0]["values"] == expected, (key, metric)
                assert body["missing"] == []

    async def test_breakdown_by_child_station(self, made):
        m = made
        await move(m, "xinqiao", "mengzhuiwan")
        frm, to = m.today - timedelta(days=70), m.today
        span = {"from": frm.isoformat(), "to": to.isoformat()}
        for key, children in (("chenghua", ("mengzhuiwan", "shuangqiao")), ("root", ("chengdu", "mianyang"))):
            for metric in SYSTEM:
                body = await get_ok(m.gw, "/v1/stats/breakdown", m.admin, metric=metric,
                                    station_id=m.tree[key]["id"], **span)
                rows = {r["station"]["id"]: r["value"] for r in body["rows"]}
                assert rows == {m.tree[c]["id"]: m.figures(c, frm, to)[metric] for c in children}, (key, metric)
                assert body["total"]["value"] == m.figures(key, frm, to)[metric], (key, metric)
                if metric not in ("stations.active", "staff.active_workers"):
                    own = m.figures(key, frm, to)[metric] - sum(m.figures(c, frm, to)[metric] for c in children)
                    assert body["own"]["value"] == own, (key, metric)

    async def test_officials_see_counts_and_volunteers_nothing(self, made):
        m = made
        official = m.headers["county.official"]
        body = await get_ok(m.gw, "/v1/stats/summary", official, station_id=m.tree["chenghua"]["id"])
        text = str(body)
        assert "meng.worker" not in text and "Meng.Worker" not in text
        r = await m.gw.get("/v1/stats/summary", headers=official, params={"station_id": m.tree["mianyang"]["id"]})
        assert r.status_code == 404

    async def test_a_stopped_projects_service_leaves_its_part_out_and_names_it(self, made):
        m = made
        frm, to = m.today - timedelta(days=70), m.today
        span = {"from": frm.isoformat(), "to": to.isoformat()}
        clients = m.gw.app.state.upstreams._clients
        working = clients["projects"]
        clients["projects"] = httpx.AsyncClient(base_url="http://projects", transport=Down())
        try:
            body = await get_ok(m.gw, "/v1/stats/summary", m.admin, station_id=m.tree["chenghua"]["id"], **span)
        finally:
            clients["projects"] = working
        system, alone = body["system"], m.figures("chenghua", frm, to, services=frozenset({"cases"}))
        assert body["degraded"] == ["projects"]
        for name, figure in system.items():
            if name.startswith("projects."):
                assert (figure["value"], figure["missing"]) == (None, ["projects"]), name
            elif name in ("stations.active", "staff.active_workers"):
                # What casework alone saw: the county head's group session and activity are left out.
                assert (figure["value"], figure["missing"]) == (alone[name], ["projects"]), name
            else:
                assert (figure["value"], figure["missing"]) == (alone[name], []), name
        assert alone["staff.active_workers"] < m.figures("chenghua", frm, to)["staff.active_workers"]
