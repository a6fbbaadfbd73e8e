"""Dashboard aggregates through the gateway (/v1/stats/summary, /timeseries, /breakdown) on the
real services and PostgreSQL.

A known dataset is made through the public API only (beneficiaries, cases opened, served and
closed, groups with sessions, community activities, volunteers and their confirmed hours, at
several stations of the tree and on days in different weeks and months). Every record made is
also written down in a `Ledger` of plain facts (metric, station, day, amount, populations, who),
and the figures the gateway answers are compared with what the ledger computes on its own:
sums for person-times, hours and yuan, sets for distinct persons and active volunteers, the
level at the end of the range for open cases, Monday-started weeks for the series, one subtree
per child for the breakdown.

The other tests: a stopped service (degraded answer), If-None-Match / ETag against new records,
a burst of identical polls costing the services one computation, and scope and input checks.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

import httpx
import pytest

from gateway.stats.cache import AnswerCache
from shared import clock
from tests.fixtures.gateway import users
from tests.fixtures.people import ID_BORN_1970, ID_BORN_1985, ID_BORN_1990, id_number

ID_R = id_number("51010819550505345")

PROBLEM = "application/problem+json"

# Every figure the summary shows.
FIGURES = ("person_times", "persons", "person_times.casework", "person_times.group", "person_times.community",
           "person_times.visit", "roster.members", "roster.visited", "roster.overdue", "cases.new", "cases.closed", "cases.reopened", "cases.open", "beneficiaries.registered", "groups",
           "group_sessions", "activities", "resources.linked_yuan", "volunteers.registered", "volunteers.active",
           "volunteer.hours", "volunteer.person_times", "supervision.sessions", "supervision.hours",
           "supervision.cases_reviewed")
PERSON_TIMES_PARTS = ("person_times.casework", "person_times.group", "person_times.community", "person_times.visit")
DISTINCT = frozenset({"persons", "volunteers.active"})  # counted as a set of `who`, not summed
STOCK = frozenset({"cases.open"})  # a level at the end of the range, not a flow inside it
# The services that own each figure: who is missing when one of them is down.
OWNED_BY = {
    "person_times": {"cases", "projects"}, "persons": {"cases", "projects"},
    "person_times.casework": {"cases"}, "person_times.visit": {"cases"}, "cases.new": {"cases"},
    "roster.members": {"cases"}, "roster.visited": {"cases"}, "roster.overdue": {"cases"}, "cases.closed": {"cases"},
    "cases.reopened": {"cases"}, "cases.open": {"cases"}, "beneficiaries.registered": {"cases"},
    "resources.linked_yuan": {"cases", "projects"},
    "person_times.group": {"projects"}, "person_times.community": {"projects"}, "groups": {"projects"},
    "group_sessions": {"projects"}, "activities": {"projects"},
    "supervision.sessions": {"cases"}, "supervision.hours": {"cases"}, "supervision.cases_reviewed": {"cases"},
    "volunteers.registered": {"volunteers"}, "volunteers.active": {"volunteers"}, "volunteer.hours": {"volunteers"},
    "volunteer.person_times": {"volunteers"},
}


# ---------------------------------------------------------------------------------------------
# The ledger: what the test made, and the figures computed from it with plain Python
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fact:
    metric: str
    station: int
    day: date
    amount: float = 1
    populations: tuple[str, ...] = ()
    who: str | None = None  # the person or volunteer, for the distinct figures
    service: str = ""  # the service that keeps the record


# The visit rules' defaults of the populations the world's roster lists (docs/rosters.md).
RULES = {"tekun": (30, {"home_visit", "phone"}), "dibao": (90, {"home_visit", "phone"})}
ROSTER = frozenset({"roster.members", "roster.visited", "roster.overdue"})


class Ledger:
    def __init__(self, gateway_tree: dict[str, dict]) -> None:
        self.parent = {s["id"]: s["parent_id"] for s in gateway_tree.values()}
        self.facts: list[Fact] = []
        self.members: list[tuple[str, int, str, date]] = []  # who, station, population, joined
        self.visits: list[tuple[str, date, str]] = []  # who, day, mode

    def roster(self, figure: str, stations: set[int], frm: date, to: date, population: str | None) -> int:
        """People on a roster at `to` (visited in [frm, to], overdue at `to`), each once."""
        found = set()
        for who, station, pop, joined in self.members:
            if station not in stations or joined > to or population not in (None, pop):
                continue
            seen = [(day, mode) for w, day, mode in self.visits if w == who and day <= to]
            every, modes = RULES[pop]
            due = max([d for d, m in seen if m in modes], default=joined) + timedelta(days=every)
            if (figure == "roster.members" or (figure == "roster.visited" and any(d >= frm for d, _ in seen))
                    or (figure == "roster.overdue" and due < to)):
                found.add(who)
        return len(found)

    def add(self, service: str, metric: str, station: int, day: date, amount: float = 1, populations=(),
            who=None) -> None:
        self.facts.append(Fact(metric, station, day, amount, tuple(populations), who, service))

    def subtree(self, station: int) -> set[int]:
        def under(s: int | None) -> bool:
            while s is not None:
                if s == station:
                    return True
                s = self.parent[s]
            return False

        return {s for s in self.parent if under(s)}

    def _facts(self, figure: str) -> list[Fact]:
        if figure in ROSTER:
            return [Fact(figure, s, j, populations=(p,)) for _, s, p, j in self.members]
        names = PERSON_TIMES_PARTS if figure == "person_times" else (figure,)
        return [f for f in self.facts if f.metric in names]

    def value(self, figure: str, stations: set[int], frm: date, to: date, population: str | None = None,
              services: frozenset[str] = frozenset({"cases", "projects", "volunteers"})) -> float:
        if figure in ROSTER:
            return self.roster(figure, stations, frm, to, population) if "cases" in services else 0
        facts = [f for f in self._facts(figure) if f.station in stations and f.service in services
                 and (population is None or population in f.populations)
                 and f.day <= to and (figure in STOCK or f.day >= frm)]
        if figure in DISTINCT:
            return len({f.who for f in facts})
        return sum(f.amount for f in facts)

    def populations(self, figure: str) -> list[str]:
        return sorted({p for f in self._facts(figure) for p in f.populations})

    def by_population(self, figure: str, stations: set[int], frm: date, to: date) -> dict[str, float]:
        found = {p: self.value(figure, stations, frm, to, p) for p in self.populations(figure)}
        return {p: v for p, v in found.items() if v}

    def summary(self, station: int, frm: date, to: date) -> dict[str, tuple]:
        stations = self.subtree(station)
        return {name: (self.value(name, stations, frm, to), self.by_population(name, stations, frm, to))
                for name in FIGURES}

    def series(self, figure: str, station: int, frm: date, to: date, interval: str,
               by_population: bool) -> list[dict]:
        stations = self.subtree(station)
        spans = periods(frm, to, interval)

        def values(population):
            return [self.value(figure, stations, p["from"], p["to"], population) for p in spans]

        out = [{"population": None, "values": values(None)}]
        if by_population:
            for p in self.populations(figure):
                found = values(p)
                if any(found):
                    out.append({"population": p, "values": found})
        return out

    def breakdown(self, figure: str, station: int, children: list[int], frm: date, to: date) -> dict:
        return {"rows": {c: self.value(figure, self.subtree(c), frm, to) for c in children},
                "own": self.value(figure, {station}, frm, to),
                "total": self.value(figure, self.subtree(station), frm, to)}


def periods(frm: date, to: date, interval: str) -> list[dict]:
    """Calendar periods touching [frm, to], each clipped to it; weeks start on Monday."""
    months = {"month": 1, "quarter": 3, "year": 12}.get(interval)
    if interval == "day":
        start = frm
    elif interval == "week":
        start = frm - timedelta(days=frm.weekday())
    else:
        start = date(frm.year, (frm.month - 1) // months * months + 1, 1)
    out = []
    while start <= to:
        if interval == "day":
            nxt = start + timedelta(days=1)
        elif interval == "week":
            nxt = start + timedelta(days=7)
        else:
            index = start.year * 12 + start.month - 1 + months
            nxt = date(index // 12, index % 12 + 1, 1)
        out.append({"period": start, "from": max(start, frm), "to": min(nxt - timedelta(days=1), to)})
        start = nxt
    return out


# ---------------------------------------------------------------------------------------------
# Making records through the gateway, and writing them down
# ---------------------------------------------------------------------------------------------

class World:
    """The gateway client, plus the ledger of everything made through it."""

    def __init__(self, gateway, gateway_tree: dict[str, dict]) -> None:
        self.gw = gateway
        self.tree = gateway_tree
        self.ledger = Ledger(gateway_tree)
        self.today = clock.today()
        self.populations_of: dict[str, list[str]] = {}
        self.station_of: dict[str, int] = {}
        self.headers: dict[str, dict] = {}  # username -> bearer headers

    async def post(self, headers: dict, path: str, body: dict | None = None, expect: int = 201) -> dict:
        r = await self.gw.post(path, headers=headers, json=body)
        assert r.status_code == expect, (path, r.text)
        return r.json()

    async def beneficiary(self, headers, station: int, name: str, populations: list[str], **fields) -> str:
        b = await self.post(headers, "/v1/beneficiaries", {"name": name, "populations": populations,
                                                             "station_id": station, **fields})
        assert b["station_id"] == station
        self.populations_of[b["id"]] = populations
        self.station_of[b["id"]] = station
        self.ledger.add("cases", "beneficiaries.registered", station, self.today, populations=populations)
        return b["id"]

    async def case(self, headers, station: int, person: str, opened_on: date) -> dict:
        c = await self.post(headers, "/v1/cases", {"beneficiary_id": person, "title": "个案", "station_id": station,
                                                     "opened_on": opened_on.isoformat()})
        assert c["station_id"] == station
        pops = self.populations_of[person]
        self.ledger.add("cases", "cases.new", station, opened_on, populations=pops)
        self.ledger.add("cases", "cases.open", station, opened_on, populations=pops)
        return c

    async def close(self, headers, case: dict, on: date) -> None:
        closed = await self.post(headers, f"/v1/cases/{case['id']}/close",
                                 {"reason": "client_withdrew", "on": on.isoformat()}, expect=200)
        assert closed["status"] == "closed"
        pops = self.populations_of[case["beneficiary_id"]]
        self.ledger.add("cases", "cases.closed", case["station_id"], on, populations=pops)
        self.ledger.add("cases", "cases.open", case["station_id"], on, -1, populations=pops)

    async def service_record(self, headers, case: dict, day: date, person_times: int = 1,
                             yuan: str | None = None) -> None:
        body = {"served_on": day.isoformat(), "mode": "home_visit", "content": "入户探访",
                "service_type": "elder_child_care", "person_times": person_times}
        if yuan is not None:
            body["resources_yuan"] = yuan
        await self.post(headers, f"/v1/cases/{case['id']}/service-records", body)
        person, station = case["beneficiary_id"], case["station_id"]
        pops = self.populations_of[person]
        self.ledger.add("cases", "person_times.casework", station, day, person_times, pops)
        self.ledger.add("cases", "persons", station, day, populations=pops, who=person)
        if yuan is not None:
            self.ledger.add("cases", "resources.linked_yuan", station, day, float(yuan), pops)

    async def visit(self, headers, person: str, day: date, mode: str) -> None:
        v = await self.post(headers, f"/v1/beneficiaries/{person}/visits", {"visited_on": day.isoformat(),
                                                                             "mode": mode, "health": "fair"})
        station, pops = self.station_of[person], self.populations_of[person]
        assert v["station_id"] == station
        self.ledger.add("cases", "person_times.visit", station, day, 1, pops)
        self.ledger.add("cases", "persons", station, day, populations=pops, who=person)
        self.ledger.visits.append((person, day, mode))

    async def roster(self, headers, station: int, listed_on: date, rows: list[tuple[str, str, str]]) -> dict:
        """A roster of (name, ID number, population) imported for a station; new people are registered there."""
        csv_text = "姓名,身份证号,人群类别\n" + "".join(f"{n},{i},{p}\n" for n, i, p in rows)
        r = await self.gw.post("/v1/rosters/import", headers=headers, files={"file": ("名册.csv", csv_text.encode())},
                               params={"station_id": station, "listed_on": listed_on.isoformat()})
        assert r.status_code == 201, r.text
        people = {}
        for (name, _, population), change in zip(rows, r.json()["changes"], strict=True):
            who = change["beneficiary_id"]
            people[name] = who
            if change["action"] == "register":
                self.populations_of[who], self.station_of[who] = [population], station
                self.ledger.add("cases", "beneficiaries.registered", station, self.today, populations=[population])
            self.ledger.members.append((who, self.station_of[who], population, listed_on))
        return people

    def _attended(self, metric: str, station: int, day: date, attendees: list[str], anonymous: int) -> None:
        for person in attendees:
            pops = self.populations_of[person]
            self.ledger.add("projects", metric, station, day, 1, pops)
            self.ledger.add("projects", "persons", station, day, populations=pops, who=person)
        if anonymous:
            # A headcount adds person-times (under everyone only) but no person.
            self.ledger.add("projects", metric, station, day, anonymous)

    async def project(self, headers, station: int, name: str) -> dict:
        return await self.post(headers, "/v1/projects", {
            "name": name, "purchaser": "区民政局", "operator": "好邻社工中心", "station_id": station,
            "starts_on": (self.today - timedelta(days=150)).isoformat(),
            "ends_on": (self.today + timedelta(days=200)).isoformat()})

    async def group(self, headers, project: dict, station: int, starts_on: date, members: list[str],
                    target: str | None = None) -> dict:
        g = await self.post(headers, "/v1/groups", {
            "project_id": project["id"], "station_id": station, "title": "小组", "target_population": target,
            "starts_on": starts_on.isoformat(), "members": members})
        assert g["station_id"] == station
        self.ledger.add("projects", "groups", station, starts_on, populations=[target] if target else [])
        return g

    async def session(self, headers, group: dict, day: date, attendees: list[str], anonymous: int) -> None:
        s = await self.post(headers, f"/v1/groups/{group['id']}/sessions", {
            "held_on": day.isoformat(), "anonymous_count": anonymous,
            "attendees": [{"beneficiary_id": a} for a in attendees]})
        assert s["person_times"] == len(attendees) + anonymous
        target = group["target_population"]
        self.ledger.add("projects", "group_sessions", group["station_id"], day,
                        populations=[target] if target else [])
        self._attended("person_times.group", group["station_id"], day, attendees, anonymous)

    async def activity(self, headers, project: dict, station: int, day: date, attendees: list[str],
                       anonymous: int, yuan: str | None = None) -> None:
        body = {"project_id": project["id"], "station_id": station, "title": "社区活动", "held_on": day.isoformat(),
                "anonymous_count": anonymous, "attendees": [{"beneficiary_id": a} for a in attendees]}
        if yuan is not None:
            body["resources_yuan"] = yuan
        a = await self.post(headers, "/v1/activities", body)
        assert a["station_id"] == station and a["person_times"] == len(attendees) + anonymous
        self.ledger.add("projects", "activities", station, day)
        self._attended("person_times.community", station, day, attendees, anonymous)
        if yuan is not None:
            self.ledger.add("projects", "resources.linked_yuan", station, day, float(yuan))

    async def volunteer(self, headers, station: int, name: str, id_number: str) -> str:
        v = await self.post(headers, "/v1/volunteers", {"name": name, "id_number": id_number, "station_id": station})
        assert v["station_id"] == station
        self.ledger.add("volunteers", "volunteers.registered", station, self.today)
        return v["id"]

    async def hours(self, headers, volunteer: str, station: int, day: date, hours: str) -> None:
        """A shift recorded by its organising station and confirmed."""
        h = await self.post(headers, "/v1/volunteer-hours", {
            "volunteer_id": volunteer, "station_id": station, "served_on": day.isoformat(), "hours": hours,
            "content": "助老送餐"})
        assert h["station_id"] == station
        confirmed = await self.post(headers, f"/v1/volunteer-hours/{h['id']}/confirm", expect=200)
        assert confirmed["status"] == "confirmed"
        self.ledger.add("volunteers", "volunteer.hours", station, day, float(hours))
        self.ledger.add("volunteers", "volunteer.person_times", station, day)
        self.ledger.add("volunteers", "volunteers.active", station, day, who=volunteer)

    async def supervision(self, headers, station: int, day: date, minutes: int, cases: list[dict]) -> None:
        """A supervision session filed at `station`, discussing `cases`."""
        made = await self.post(headers, "/v1/supervision-records", {
            "station_id": station, "held_on": day.isoformat(), "supervisor_id": "centre-supervisor",
            "worker_ids": ["w1", "w2"], "mode": "group", "duration_minutes": minutes, "topics": ["个案研讨"],
            "case_ids": [c["id"] for c in cases]})
        assert made["station_id"] == station
        self.ledger.add("cases", "supervision.sessions", station, day)
        self.ledger.add("cases", "supervision.hours", station, day, round(minutes / 60, 2))
        if cases:
            self.ledger.add("cases", "supervision.cases_reviewed", station, day, len(cases))


@pytest.fixture
async def world(gateway, admin_headers, gateway_tree) -> World:
    """The known dataset. Stations: chenghua (county) > mengzhuiwan > heping, and > shuangqiao;
    mianyang is another city, outside the county. Days a < b < c < d = today lie in different
    weeks and months; a case opened before the range asked (`early`) is still open in it."""
    w = World(gateway, gateway_tree)
    ids = {k: s["id"] for k, s in gateway_tree.items()}
    h = await users(gateway, admin_headers, gateway_tree, ("county.head", "station_head", "chenghua"),
                    ("meng.worker", "social_worker", "mengzhuiwan"), ("heping.worker", "social_worker", "heping"),
                    ("shuang.worker", "social_worker", "shuangqiao"), ("mian.head", "station_head", "mianyang"),
                    ("county.official", "official", "chenghua"))
    w.headers = h
    t = w.today
    w.early, w.a, w.b, w.c, w.d = t - timedelta(days=100), t - timedelta(days=60), t - timedelta(days=30), \
        t - timedelta(days=8), t
    county, meng, heping, shuang, mian = (h["county.head"], h["meng.worker"], h["heping.worker"],
                                          h["shuang.worker"], h["mian.head"])

    # People: P is served by casework, a group session and an activity (one person, three person-times).
    p = await w.beneficiary(meng, ids["mengzhuiwan"], "张桂芳", ["elderly", "elderly_alone"])
    q = await w.beneficiary(heping, ids["heping"], "小明", ["child_left_behind"])
    r = await w.beneficiary(shuang, ids["shuangqiao"], "李建国", ["dibao", "disabled"], id_number=ID_R)
    s = await w.beneficiary(shuang, ids["shuangqiao"], "王芳", [])
    m = await w.beneficiary(mian, ids["mianyang"], "外地人", ["elderly"])

    # Casework.
    c1 = await w.case(meng, ids["mengzhuiwan"], p, w.early)
    await w.service_record(meng, c1, w.a)
    await w.service_record(meng, c1, w.c, person_times=2, yuan="300")
    c2 = await w.case(heping, ids["heping"], q, w.a)
    await w.service_record(heping, c2, w.b)
    await w.close(heping, c2, w.c)
    c3 = await w.case(shuang, ids["shuangqiao"], r, w.b)
    await w.service_record(shuang, c3, w.d, yuan="150.5")
    c4 = await w.case(mian, ids["mianyang"], m, w.a)
    await w.service_record(mian, c4, w.b)
    await w.close(mian, c4, w.d)

    # A roster at Shuangqiao since day `early`: T and U registered by it, R (registered already) matched.
    on_roster = await w.roster(shuang, ids["shuangqiao"], w.early, [
        ("田特困", id_number("51010819400101123"), "tekun"), ("于低保", id_number("51010819600202234"), "dibao"),
        ("李建国", ID_R, "dibao")])
    assert on_roster["李建国"] == r
    await w.visit(shuang, on_roster["田特困"], w.a, "phone")

    # Visits: P twice (also served by casework, a group and an activity), S once (also at an activity).
    await w.visit(meng, p, w.c, "home_visit")
    await w.visit(meng, p, w.d, "phone")
    await w.visit(shuang, s, w.b, "video")
    await w.visit(mian, m, w.b, "home_visit")

    # Group work and community activities under the county's project; one at the county itself.
    project = await w.project(county, ids["chenghua"], "成华区社工站项目")
    g1 = await w.group(county, project, ids["mengzhuiwan"], w.a, [p, q], target="elderly")
    await w.session(county, g1, w.a, [p, q], anonymous=2)
    await w.session(county, g1, w.b, [p], anonymous=0)
    g2 = await w.group(county, project, ids["chenghua"], w.c, [])
    await w.session(county, g2, w.d, [], anonymous=5)
    await w.activity(county, project, ids["shuangqiao"], w.c, [p, s], anonymous=10, yuan="500")
    await w.activity(county, project, ids["heping"], w.d, [q], anonymous=0)
    elsewhere = await w.project(mian, ids["mianyang"], "绵阳项目")
    await w.activity(mian, elsewhere, ids["mianyang"], w.b, [m], anonymous=20, yuan="80")

    # Volunteers: v1 serves at two townships of the county.
    v1 = await w.volunteer(meng, ids["mengzhuiwan"], "张志愿", ID_BORN_1990)
    v2 = await w.volunteer(shuang, ids["shuangqiao"], "李志愿", ID_BORN_1985)
    v3 = await w.volunteer(mian, ids["mianyang"], "赵志愿", ID_BORN_1970)
    await w.hours(county, v1, ids["mengzhuiwan"], w.a, "2")
    await w.hours(county, v1, ids["shuangqiao"], w.c, "3")
    await w.hours(county, v2, ids["shuangqiao"], w.d, "1.5")
    await w.hours(mian, v3, ids["mianyang"], w.b, "4")

    # Supervision: sessions at two townships of the county and one elsewhere.
    await w.supervision(county, ids["mengzhuiwan"], w.b, 90, [c1])
    await w.supervision(county, ids["heping"], w.c, 105, [c2])
    await w.supervision(county, ids["shuangqiao"], w.d, 45, [])
    await w.supervision(mian, ids["mianyang"], w.d, 60, [c4])
    return w


async def get_ok(gateway, path: str, headers: dict, **params) -> dict:
    r = await gateway.get(path, headers=headers, params={k: v.isoformat() if isinstance(v, date) else v
                                                         for k, v in params.items()})
    assert r.status_code == 200, (path, params, r.text)
    return r.json()


def shown(figures: dict) -> dict[str, tuple]:
    return {name: (f["value"], f["by_population"]) for name, f in figures.items()}


# ---------------------------------------------------------------------------------------------
# 1. Every endpoint's figures against the ledger
# ---------------------------------------------------------------------------------------------

class TestFiguresMatchTheRecords:
    async def test_summary(self, world):
        w, gw, ids = world, world.gw, {k: s["id"] for k, s in world.tree.items()}
        official, frm, to = w.headers["county.official"], w.today - timedelta(days=70), w.today

        body = await get_ok(gw, "/v1/stats/summary", official, station_id=ids["chenghua"], **{"from": frm, "to": to})
        assert body["station"] == {"id": ids["chenghua"], "name": "Chenghua", "kind": "county"}
        assert body["filters"]["from"] == frm.isoformat() and body["filters"]["to"] == to.isoformat()
        assert body["degraded"] == [] and body["as_of"]
        figures = body["figures"]
        assert set(figures) == set(FIGURES)
        assert shown(figures) == w.ledger.summary(ids["chenghua"], frm, to)
        assert all(f["missing"] == [] for f in figures.values())
        assert figures["persons"]["exact"] is True

        # Spelled out for the reader (and as a check of the ledger itself): the county's subtree,
        # without Mianyang. P (casework + group + activity) is one person; Q, R, S and T (visited) the others.
        assert figures["persons"]["value"] == 5
        assert figures["persons"]["by_population"] == {"elderly": 1, "elderly_alone": 1, "child_left_behind": 1,
                                                       "dibao": 1, "disabled": 1, "tekun": 1}
        # casework 1 + 2 (P) + 1 (Q) + 1 (R); group 2 named + 2 anonymous, 1, 5 anonymous; activities 2 + 10, 1;
        # visits 2 (P) + 1 (S) + 1 (T).
        assert figures["person_times.casework"]["value"] == 5
        assert figures["person_times.group"]["value"] == 10
        assert figures["person_times.community"]["value"] == 13
        assert figures["person_times.visit"]["value"] == 4
        assert figures["person_times"]["value"] == 32
        # The roster: T, U and R on it; T visited on day a; all three overdue today (T since a + 30,
        # U and R since early + 90): coverage 1 / 3.
        assert [figures[f]["value"] for f in ("roster.members", "roster.visited", "roster.overdue")] == [3, 1, 3]
        assert figures["roster.members"]["by_population"] == {"tekun": 1, "dibao": 2}
        # P: casework, sessions, activity, visits
        assert figures["person_times"]["by_population"]["elderly"] == 3 + 2 + 1 + 2
        assert figures["cases.new"]["value"] == 2  # C1 opened before `from`
        assert figures["cases.open"]["value"] == 2 and figures["cases.closed"]["value"] == 1  # C1, C3 open
        assert figures["cases.reopened"]["value"] == 0
        assert figures["resources.linked_yuan"]["value"] == 950.5
        assert figures["volunteers.active"]["value"] == 2 and figures["volunteer.hours"]["value"] == 6.5
        assert figures["volunteer.person_times"]["value"] == 3 and figures["volunteers.registered"]["value"] == 2
        # Supervision at three stations of the county (Mianyang's is outside): 1.5 + 1.75 + 0.75 hours.
        assert figures["supervision.sessions"]["value"] == 3 and figures["supervision.hours"]["value"] == 4
        assert figures["supervision.cases_reviewed"]["value"] == 2

        # Other stations, other ranges, other callers.
        admin = await gw.admin()
        for headers, station, span in (
                (official, "chenghua", (w.b, w.c)),          # a middle slice: today's records left out
                (official, "mengzhuiwan", (frm, to)),        # a township with its village
                (official, "heping", (w.a, w.a)),            # one day
                (admin, "root", (frm, to)),                  # everything, Mianyang included
                (w.headers["mian.head"], "mianyang", (frm, to))):
            body = await get_ok(gw, "/v1/stats/summary", headers, station_id=ids[station],
                                **{"from": span[0], "to": span[1]})
            assert shown(body["figures"]) == w.ledger.summary(ids[station], *span), (station, span)
        # Without station_id: the caller's own station.
        body = await get_ok(gw, "/v1/stats/summary", w.headers["shuang.worker"], **{"from": frm, "to": to})
        assert body["station"]["id"] == ids["shuangqiao"]
        assert shown(body["figures"]) == w.ledger.summary(ids["shuangqiao"], frm, to)

    async def test_timeseries(self, world):
        w, gw, ids = world, world.gw, {k: s["id"] for k, s in world.tree.items()}
        official, frm, to = w.headers["county.official"], w.today - timedelta(days=70), w.today
        county = ids["chenghua"]

        for interval in ("week", "month"):
            expected_periods = periods(frm, to, interval)
            for metric in FIGURES:
                by = {"by": "population"} if metric in ("person_times", "persons", "cases.open", "groups") else {}
                body = await get_ok(gw, "/v1/stats/timeseries", official, metric=metric, interval=interval,
                                    station_id=county, **{"from": frm, "to": to}, **by)
                assert body["periods"] == [{k: v.isoformat() for k, v in p.items()} for p in expected_periods]
                assert body["missing"] == [] and body["degraded"] == []
                got = [{"population": s["population"], "values": s["values"]} for s in body["series"]]
                assert got == w.ledger.series(metric, county, frm, to, interval, bool(by)), (interval, metric)
                if metric == "persons":
                    assert all(s["exact"] for s in body["series"])
        # Quarters and years: the same figures in longer periods, cut by `from` and `to`.
        for interval in ("quarter", "year"):
            for metric in ("person_times", "persons", "cases.open", "volunteers.active", "resources.linked_yuan"):
                body = await get_ok(gw, "/v1/stats/timeseries", official, metric=metric, interval=interval,
                                    station_id=county, by="population", **{"from": frm, "to": to})
                assert body["periods"] == [{k: v.isoformat() for k, v in p.items()}
                                           for p in periods(frm, to, interval)]
                got = [{"population": s["population"], "values": s["values"]} for s in body["series"]]
                assert got == w.ledger.series(metric, county, frm, to, interval, True), (interval, metric)

        # Weeks start on Monday; the weeks between day a and day b have nothing and say 0.
        body = await get_ok(gw, "/v1/stats/timeseries", official, metric="person_times", interval="week",
                            station_id=county, **{"from": frm, "to": to})
        starts = [date.fromisoformat(p["period"]) for p in body["periods"]]
        assert all(s.weekday() == 0 for s in starts) and body["periods"][0]["from"] == frm.isoformat()
        values = dict(zip(starts, body["series"][0]["values"], strict=True))
        empty = [s for s in starts if w.a + timedelta(days=7) <= s and s + timedelta(days=6) < w.b]
        assert empty and all(values[s] == 0 for s in empty)
        assert sum(values.values()) == 32

        # By day over a fortnight that ends today: the days without records are there with 0.
        short = to - timedelta(days=13)
        body = await get_ok(gw, "/v1/stats/timeseries", official, metric="person_times", interval="day",
                            station_id=county, **{"from": short, "to": to})
        assert len(body["periods"]) == 14
        assert body["series"] == [{"population": None,
                                   "values": [w.ledger.value("person_times", w.ledger.subtree(county), d, d)
                                              for d in (short + timedelta(days=i) for i in range(14))]}]
        assert body["series"][0]["values"].count(0) >= 12

    async def test_breakdown(self, world):
        w, gw, ids = world, world.gw, {k: s["id"] for k, s in world.tree.items()}
        official, frm, to = w.headers["county.official"], w.today - timedelta(days=70), w.today
        admin = await gw.admin()
        for headers, station, children in ((official, "chenghua", ("mengzhuiwan", "shuangqiao")),
                                           (official, "mengzhuiwan", ("heping",)),
                                           (admin, "root", ("chengdu", "mianyang"))):
            # volunteers.active, a distinct count like persons: test_breakdown_total_of_active_volunteers.
            for metric in (f for f in FIGURES if f != "volunteers.active"):
                body = await get_ok(gw, "/v1/stats/breakdown", headers, metric=metric, station_id=ids[station],
                                    **{"from": frm, "to": to})
                assert body["missing"] == [] and body["degraded"] == []
                assert sorted(r["station"]["id"] for r in body["rows"]) == sorted(ids[c] for c in children)
                got = {"rows": {r["station"]["id"]: r["value"] for r in body["rows"]}, "own": body["own"]["value"],
                       "total": body["total"]["value"]}
                expected = w.ledger.breakdown(metric, ids[station], [ids[c] for c in children], frm, to)
                assert got == expected, (station, metric)

        # Spelled out: P is in both townships' persons (casework and group at Mengzhuiwan, the
        # activity at Shuangqiao) but once in the county's total; the county's own group is its own.
        body = await get_ok(gw, "/v1/stats/breakdown", official, metric="persons", station_id=ids["chenghua"],
                            **{"from": frm, "to": to})
        rows = {r["station"]["name"]: r["value"] for r in body["rows"]}
        assert rows == {"Mengzhuiwan": 2, "Shuangqiao": 4} and body["total"] == {"value": 5, "exact": True}
        body = await get_ok(gw, "/v1/stats/breakdown", official, metric="person_times.group",
                            station_id=ids["chenghua"], **{"from": frm, "to": to})
        assert body["own"] == {"value": 5} and body["total"] == {"value": 10}

    async def test_breakdown_total_of_active_volunteers(self, world):
        """v1 served at Mengzhuiwan and at Shuangqiao, v2 at Shuangqiao: each township has its
        active volunteers, and the county has two, as its summary says, not 1 + 2."""
        w, gw, ids = world, world.gw, {k: s["id"] for k, s in world.tree.items()}
        official, frm, to = w.headers["county.official"], w.today - timedelta(days=70), w.today
        county = ids["chenghua"]
        summary = await get_ok(gw, "/v1/stats/summary", official, station_id=county, **{"from": frm, "to": to})
        assert summary["figures"]["volunteers.active"]["value"] == 2
        body = await get_ok(gw, "/v1/stats/breakdown", official, metric="volunteers.active", station_id=county,
                            **{"from": frm, "to": to})
        assert {r["station"]["name"]: r["value"] for r in body["rows"]} == {"Mengzhuiwan": 1, "Shuangqiao": 2}
        assert body["own"] == {"value": 0}
        assert body["total"] == {"value": 2}  # the county's whole subtree, each volunteer once


# ---------------------------------------------------------------------------------------------
# 2. A stopped service
# ---------------------------------------------------------------------------------------------

class Down(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request):
        raise httpx.ConnectError("connection refused", request=request)


class TestDegraded:
    async def test_a_stopped_service_is_named_and_the_rest_still_counts(self, world):
        w, gw, ids = world, world.gw, {k: s["id"] for k, s in world.tree.items()}
        official, frm, to = w.headers["county.official"], w.today - timedelta(days=70), w.today
        county = ids["chenghua"]
        clients = gw.app.state.upstreams._clients
        working = clients["projects"]
        clients["projects"] = httpx.AsyncClient(base_url="http://projects", transport=Down())

        r = await gw.get("/v1/stats/summary", headers=official,
                         params={"station_id": county, "from": frm.isoformat(), "to": to.isoformat()})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["degraded"] == ["projects"] and "no-cache" in r.headers["cache-control"]
        figures, expected = body["figures"], w.ledger.summary(county, frm, to)
        for name, f in figures.items():
            owners = OWNED_BY[name]
            if owners == {"projects"}:
                assert (f["value"], f["by_population"], f["missing"]) == (None, {}, ["projects"]), name
            elif "projects" in owners:
                assert f["missing"] == ["projects"], name
            else:
                assert f["missing"] == [] and (f["value"], f["by_population"]) == expected[name], name
        # What the cases service alone still knows of the shared figures.
        stations, rest = w.ledger.subtree(county), frozenset({"cases", "volunteers"})
        for name in ("person_times", "persons", "resources.linked_yuan"):
            assert figures[name]["value"] == w.ledger.value(name, stations, frm, to, services=rest), name
        # P, Q and R by casework, S and T by a visit
        assert figures["person_times"]["value"] == 5 + 4 and figures["persons"]["value"] == 5
        assert figures["resources.linked_yuan"]["value"] == 450.5

        r = await gw.get("/v1/stats/timeseries", headers=official, params={
            "metric": "activities", "interval": "month", "station_id": county, "from": frm.isoformat()})
        assert r.status_code == 200 and r.json()["missing"] == ["projects"] and r.json()["series"] == []
        r = await gw.get("/v1/stats/breakdown", headers=official, params={
            "metric": "groups", "station_id": county, "from": frm.isoformat()})
        assert r.status_code == 200 and r.json()["degraded"] == ["projects"]
        assert {row["value"] for row in r.json()["rows"]} == {None} and r.json()["total"] == {"value": None}

        # A partial answer is not kept: once the service is back, the next poll is whole again.
        clients["projects"] = working
        body = await get_ok(gw, "/v1/stats/summary", official, station_id=county, **{"from": frm, "to": to})
        assert body["degraded"] == [] and shown(body["figures"]) == expected

    async def test_a_late_service_is_left_out_and_its_figures_come_with_the_next_poll(self, world, gateway_factory):
        w, ids = world, {k: s["id"] for k, s in world.tree.items()}
        official, frm, to = w.headers["county.official"], w.today - timedelta(days=70), w.today
        params = {"station_id": ids["chenghua"], "from": frm.isoformat(), "to": to.isoformat()}
        polled = await gateway_factory(stats_timeout_s=0.3, stats_cache_per_compute=0)
        clients = polled.app.state.upstreams._clients
        clients["projects"] = httpx.AsyncClient(base_url=clients["projects"].base_url,
                                                transport=Slow(clients["projects"]._transport, 1.0))
        asked = Asked(polled)

        r = await polled.get("/v1/stats/summary", headers=official, params=params)
        assert r.status_code == 200 and r.json()["degraded"] == ["projects"], r.text
        assert "no-cache" in r.headers["cache-control"]
        assert r.json()["figures"]["groups"]["value"] is None
        # While projects is still counting, a poll gets the same partial answer and asks nobody again.
        again = await polled.get("/v1/stats/summary", headers=official, params=params)
        assert again.status_code == 200 and again.content == r.content
        assert asked.total() == 5

        for _ in range(100):
            if not polled.app.state.stats_cache._holding:
                break
            await asyncio.sleep(0.05)
        # The late figures made the whole answer, kept: the next poll has it without asking again.
        body = await get_ok(polled, "/v1/stats/summary", official, **params)
        assert body["degraded"] == [] and shown(body["figures"]) == w.ledger.summary(ids["chenghua"], frm, to)
        assert asked.total() == 5


class Slow(httpx.AsyncBaseTransport):
    """A service that answers, but only after `delay_s`."""

    def __init__(self, inner: httpx.AsyncBaseTransport, delay_s: float) -> None:
        self.inner, self.delay_s = inner, delay_s

    async def handle_async_request(self, request):
        await asyncio.sleep(self.delay_s)
        return await self.inner.handle_async_request(request)


# ---------------------------------------------------------------------------------------------
# 3 and 4. ETag, the cache, and a burst of polls
# ---------------------------------------------------------------------------------------------

class Asked:
    """Counts the gateways' requests to each service's counting endpoints: on their way out of
    in-process gateways, or, gateways being processes (tests/fixtures/topology.py), as every service
    replica counts the requests it answered (`await Asked(...).since()`, then `await asked.counted()`)."""

    PATHS = ("/internal/stats", "/internal/persons")

    def __init__(self, *gateways) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self._topology = next((gateway.topology for gateway in gateways if gateway.app is None), None)
        self._before: Counter[tuple[str, str]] = Counter()
        for gateway in gateways:
            if gateway.app is not None:
                for name, client in gateway.app.state.upstreams._clients.items():
                    client.event_hooks["request"].append(self._hook(name))

    def _hook(self, name: str):
        async def hook(request: httpx.Request) -> None:
            if request.url.path in self.PATHS:
                self.calls[(name, request.url.path)] += 1

        return hook

    def total(self) -> int:
        return sum(self.calls.values())

    async def since(self) -> Asked:
        """Counting from now on, wherever the gateways run."""
        if self._topology is not None:
            self._before = await self._topology.service_requests(self.PATHS)
        return self

    async def counted(self) -> Counter[tuple[str, str]]:
        if self._topology is None:
            return self.calls
        return await self._topology.service_requests(self.PATHS) - self._before


async def small_world(gateway, admin_headers, gateway_tree) -> tuple[World, dict]:
    """One worker, one beneficiary, one case with one service record today."""
    w = World(gateway, gateway_tree)
    w.headers = await users(gateway, admin_headers, gateway_tree, ("meng.worker", "social_worker", "mengzhuiwan"))
    worker = w.headers["meng.worker"]
    person = await w.beneficiary(worker, gateway_tree["mengzhuiwan"]["id"], "张桂芳", ["elderly"])
    case = await w.case(worker, gateway_tree["mengzhuiwan"]["id"], person, w.today)
    await w.service_record(worker, case, w.today)
    return w, case


class TestPolling:
    async def test_if_none_match_answers_304_until_a_service_record_changes_the_figures(
            self, gateway, gateway_factory, admin_headers, gateway_tree):
        w, case = await small_world(gateway, admin_headers, gateway_tree)
        worker = w.headers["meng.worker"]
        uncached = await gateway_factory(stats_cache_s=0)
        params = {"from": (w.today - timedelta(days=7)).isoformat(), "to": w.today.isoformat()}

        r = await uncached.get("/v1/stats/summary", headers=worker, params=params)
        assert r.status_code == 200 and r.headers["etag"], r.text
        first = r.headers["etag"]
        assert r.json()["figures"]["person_times.casework"]["value"] == 1
        for _ in range(2):
            r = await uncached.get("/v1/stats/summary", headers={**worker, "If-None-Match": first}, params=params)
            assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == first

        await w.service_record(worker, case, w.today)
        r = await uncached.get("/v1/stats/summary", headers={**worker, "If-None-Match": first}, params=params)
        assert r.status_code == 200 and r.headers["etag"] != first, r.text
        assert r.json()["figures"]["person_times.casework"]["value"] == 2
        assert r.json()["figures"]["persons"]["value"] == 1
        second = r.headers["etag"]
        r = await uncached.get("/v1/stats/summary", headers={**worker, "If-None-Match": second}, params=params)
        assert r.status_code == 304

    async def test_a_second_poll_within_the_cache_time_does_not_ask_the_services(self, gateway, admin_headers,
                                                                                 gateway_tree):
        w, _ = await small_world(gateway, admin_headers, gateway_tree)
        worker = w.headers["meng.worker"]
        asked = Asked(gateway)
        r1 = await gateway.get("/v1/stats/summary", headers=worker)
        assert r1.status_code == 200 and r1.headers["cache-control"] == "private, max-age=5"
        # Summary: every service's stats, and the person sets of cases and projects.
        assert asked.calls == {("cases", "/internal/stats"): 1, ("projects", "/internal/stats"): 1,
                               ("volunteers", "/internal/stats"): 1, ("cases", "/internal/persons"): 1,
                               ("projects", "/internal/persons"): 1}
        r2 = await gateway.get("/v1/stats/summary", headers=worker)
        assert r2.status_code == 200 and r2.content == r1.content and r2.headers["etag"] == r1.headers["etag"]
        assert asked.total() == 5

    async def test_a_burst_of_identical_polls_costs_one_computation(self, gateway, admin_headers, gateway_tree):
        w, _ = await small_world(gateway, admin_headers, gateway_tree)
        worker = w.headers["meng.worker"]
        asked = Asked(gateway)
        params = {"station_id": gateway_tree["mengzhuiwan"]["id"], "from": (w.today - timedelta(days=30)).isoformat()}

        answers = await asyncio.gather(*(gateway.get("/v1/stats/summary", headers=worker, params=params)
                                         for _ in range(20)))
        assert [a.status_code for a in answers] == [200] * 20
        assert len({a.content for a in answers}) == 1 and len({a.headers["etag"] for a in answers}) == 1
        assert answers[0].json()["figures"]["person_times.casework"]["value"] == 1
        assert asked.calls == {("cases", "/internal/stats"): 1, ("projects", "/internal/stats"): 1,
                               ("volunteers", "/internal/stats"): 1, ("cases", "/internal/persons"): 1,
                               ("projects", "/internal/persons"): 1}
        assert gateway.app.state.stats_cache.computations == 1

    @pytest.mark.replicated
    async def test_a_burst_spread_over_two_gateways_costs_one_computation(self, gateway, gateway_factory,
                                                                          admin_headers, gateway_tree, db):
        """Two gateways on one database (two workers, or two replicas): the polls of both wait for
        one computation, and both answer the same figures with the same ETag."""
        w, _ = await small_world(gateway, admin_headers, gateway_tree)
        worker = w.headers["meng.worker"]
        other = await gateway_factory()
        asked = await Asked(gateway, other).since()
        params = {"station_id": gateway_tree["mengzhuiwan"]["id"], "from": (w.today - timedelta(days=30)).isoformat()}

        answers = await asyncio.gather(*(gw.get("/v1/stats/summary", headers=worker, params=params)
                                         for _ in range(10) for gw in (gateway, other)))
        assert [a.status_code for a in answers] == [200] * 20
        assert len({a.content for a in answers}) == 1 and len({a.headers["etag"] for a in answers}) == 1
        assert answers[0].json()["figures"]["person_times.casework"]["value"] == 1
        assert sum((await asked.counted()).values()) == 5  # one computation: 5 questions
        if gateway.app is not None:
            # Which gateway computed and which found the answer: inside the apps, not to be seen of processes
            # (there the 5 questions the services counted, and the one answer stored, say it).
            shared = [gateway.app.state.stats_shared, other.app.state.stats_shared]
            assert sorted((s.computed, s.found) for s in shared) == [(0, 1), (1, 0)]
        assert await db.fetchval("SELECT count(*) FROM gateway.stats_answer") == 1

        # A later poll on either, within the cache time, asks nobody.
        again = await other.get("/v1/stats/summary", headers={**worker, "If-None-Match": answers[0].headers["etag"]},
                                params=params)
        assert again.status_code == 304
        assert sum((await asked.counted()).values()) == 5

    async def test_a_partial_answer_is_not_shared(self, gateway, gateway_factory, admin_headers, gateway_tree, db,
                                                  projects_app):
        w, _ = await small_world(gateway, admin_headers, gateway_tree)
        worker = w.headers["meng.worker"]

        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        gateway.app.state.upstreams._clients["projects"]._transport = httpx.MockTransport(refuse)
        r = await gateway.get("/v1/stats/summary", headers=worker)
        assert r.status_code == 200 and r.json()["degraded"] == ["projects"]
        assert await db.fetchval("SELECT count(*) FROM gateway.stats_answer") == 0
        other = await gateway_factory()
        r = await other.get("/v1/stats/summary", headers=worker)
        assert r.status_code == 200 and r.json()["degraded"] == []

    async def test_after_the_cache_time_a_poll_gets_the_last_answer_at_once_while_a_new_one_is_made(
            self, gateway, gateway_factory, admin_headers, gateway_tree):
        w, case = await small_world(gateway, admin_headers, gateway_tree)
        worker = w.headers["meng.worker"]
        polled = await gateway_factory(stats_cache_s=0.3, stats_stale_s=30, stats_cache_per_compute=0)
        cache = polled.app.state.stats_cache
        asked = Asked(polled)

        def casework(r) -> int:
            assert r.status_code == 200, r.text
            return r.json()["figures"]["person_times.casework"]["value"]

        first = await polled.get("/v1/stats/summary", headers=worker)
        assert casework(first) == 1 and asked.total() == 5
        await w.service_record(worker, case, w.today)
        await asyncio.sleep(0.4)  # past the cache time, within the stale time

        # The old figures at once (same ETag: 304), while the services are asked again behind it.
        r = await polled.get("/v1/stats/summary", headers={**worker, "If-None-Match": first.headers["etag"]})
        assert r.status_code == 304 and r.headers["etag"] == first.headers["etag"]
        for _ in range(100):
            if cache.computations == 2 and not cache._running:
                break
            await asyncio.sleep(0.02)
        assert cache.computations == 2 and asked.total() == 10
        # The next poll gets what the background computation found.
        second = await polled.get("/v1/stats/summary", headers={**worker, "If-None-Match": first.headers["etag"]})
        assert casework(second) == 2 and second.headers["etag"] != first.headers["etag"]
        assert cache.computations == 2

        # With no stale time, a poll after the cache time waits for the new answer.
        waiting = await gateway_factory(stats_cache_s=0.3, stats_stale_s=0, stats_cache_per_compute=0)
        assert casework(await waiting.get("/v1/stats/summary", headers=worker)) == 2
        await w.service_record(worker, case, w.today)
        await asyncio.sleep(0.4)
        assert casework(await waiting.get("/v1/stats/summary", headers=worker)) == 3

    async def test_a_failed_refresh_keeps_serving_the_last_answer_until_its_stale_time_ends(self):
        cache: AnswerCache[int] = AnswerCache(0.2, stale_s=0.6)
        results = iter([1, RuntimeError("service down"), 3, 4])

        async def compute() -> int:
            value = next(results)
            if isinstance(value, Exception):
                raise value
            return value

        assert await cache.get("k", compute) == 1
        await asyncio.sleep(0.25)
        assert await cache.get("k", compute) == 1  # stale, and a refresh starts: it fails
        await asyncio.sleep(0.02)
        assert await cache.get("k", compute) == 1  # the failure left the last answer; another refresh runs
        await asyncio.sleep(0.02)
        assert await cache.get("k", compute) == 3 and cache.computations == 3
        await asyncio.sleep(0.9)  # past fresh and stale: the next caller waits for a new computation
        assert await cache.get("k", compute) == 4 and cache.computations == 4

    async def test_a_held_partial_answer_is_served_until_the_whole_one_is_in_but_never_over_a_kept_one(self):
        cache: AnswerCache[str] = AnswerCache(0.05, stale_s=5)

        async def compute() -> str:
            raise AssertionError("a held or kept answer is served without computing")

        arrived: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        cache.hold("k", "partial", arrived, time.monotonic())
        assert await cache.get("k", compute) == "partial"
        arrived.set_result("whole")
        await asyncio.sleep(0.01)
        assert await cache.get("k", compute) == "whole"

        await asyncio.sleep(0.1)  # "whole" is stale now, yet still served before a held partial answer
        cache.hold("k", "partial again", asyncio.get_running_loop().create_future(), time.monotonic())
        refreshed = asyncio.get_running_loop().create_future()
        assert await cache.get("k", lambda: refreshed) == "whole"
        refreshed.set_result("new")
        cache.close()

    async def test_an_answer_that_took_long_to_compute_is_kept_longer(self):
        cache: AnswerCache[int] = AnswerCache(0.05, per_compute=5)
        made = iter(range(1, 10))

        async def slow() -> int:
            await asyncio.sleep(0.1)  # kept for about 5 x 0.1 s, not 0.05 s
            return next(made)

        assert await cache.get("slow", slow) == 1
        await asyncio.sleep(0.2)
        assert await cache.get("slow", slow) == 1 and cache.computations == 1
        await asyncio.sleep(0.4)
        assert await cache.get("slow", slow) == 2 and cache.computations == 2

        async def quick() -> int:
            return next(made)

        assert await cache.get("quick", quick) == 3
        await asyncio.sleep(0.1)  # past ttl_s: a quick answer is not kept longer
        assert await cache.get("quick", quick) == 4


# ---------------------------------------------------------------------------------------------
# 5. Scope and input
# ---------------------------------------------------------------------------------------------

class TestScopeAndInput:
    async def test_scope_roles_and_bad_queries(self, gateway, admin_headers, gateway_tree):
        h = await users(gateway, admin_headers, gateway_tree, ("county.official", "official", "chenghua"),
                        ("meng.worker", "social_worker", "mengzhuiwan"), ("zhang.vol", "volunteer", "mengzhuiwan"))
        official = h["county.official"]
        today = clock.today()

        # Inside the county: yes; another city, a parent station or one that does not exist: the same 404.
        assert (await gateway.get("/v1/stats/summary", headers=official,
                                  params={"station_id": gateway_tree["heping"]["id"]})).status_code == 200
        not_found = []
        for headers, station in ((official, gateway_tree["mianyang"]["id"]), (official, gateway_tree["chengdu"]["id"]),
                                 (official, 999_999), (h["meng.worker"], gateway_tree["chenghua"]["id"])):
            for path, extra in (("/v1/stats/summary", {}), ("/v1/stats/timeseries", {"metric": "persons"}),
                                ("/v1/stats/breakdown", {"metric": "activities"})):
                r = await gateway.get(path, headers=headers, params={"station_id": station, **extra})
                assert r.status_code == 404 and r.headers["content-type"] == PROBLEM, (path, station, r.text)
                not_found.append({k: v for k, v in r.json().items() if k not in ("instance", "detail")})
        assert all(p == not_found[0] for p in not_found)

        # A volunteer's login sees no aggregates at all.
        for path, extra in (("/v1/stats/summary", {}), ("/v1/stats/timeseries", {"metric": "persons"}),
                            ("/v1/stats/breakdown", {"metric": "persons"})):
            r = await gateway.get(path, headers=h["zhang.vol"], params=extra)
            assert r.status_code == 403 and r.headers["content-type"] == PROBLEM, (path, r.text)
        assert (await gateway.get("/v1/stats/summary")).status_code == 401

        def fields(r) -> list[str]:
            assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
            return [e["field"] for e in r.json()["errors"]]

        for path, extra in (("/v1/stats/summary", {}), ("/v1/stats/timeseries", {"metric": "persons"}),
                            ("/v1/stats/breakdown", {"metric": "persons"})):
            r = await gateway.get(path, headers=official, params={
                "from": today.isoformat(), "to": (today - timedelta(days=1)).isoformat(), **extra})
            assert fields(r) == ["from"], path
        for path in ("/v1/stats/timeseries", "/v1/stats/breakdown"):
            r = await gateway.get(path, headers=official, params={"metric": "happiness"})
            assert any(f.endswith("metric") for f in fields(r)), path
        five_years = {"from": (today - timedelta(days=5 * 365)).isoformat(), "to": today.isoformat()}
        r = await gateway.get("/v1/stats/timeseries", headers=official,
                              params={"metric": "persons", "interval": "day", **five_years})
        assert fields(r) == ["interval"]
        r = await gateway.get("/v1/stats/timeseries", headers=official,
                              params={"metric": "persons", "interval": "week", **five_years})
        assert r.status_code == 200 and len(r.json()["periods"]) in (261, 262)
        # Dates outside the records' calendar (the probes' year 1 and 9999 made 500s in date arithmetic).
        for path, extra in (("/v1/stats/summary", {}), ("/v1/stats/timeseries", {"metric": "cases.open"}),
                            ("/v1/stats/breakdown", {"metric": "cases.open"})):
            r = await gateway.get(path, headers=official, params={"from": "0001-01-01", "to": "0001-01-03", **extra})
            assert fields(r) == ["query.from", "query.to"], path
            r = await gateway.get(path, headers=official, params={"from": "9999-01-01", "to": "9999-12-31",
                                                                  "interval": "year", **extra})
            assert fields(r) == ["query.from", "query.to"], path
        r = await gateway.get("/v1/reports/monthly.xlsx", headers=official, params={"month": "9999-12"})
        assert fields(r) == ["month"]


class TestConnectionsHeldByFigures:
    """A drill-down and the monthly report read the station's children, and a summary takes its key's
    turn, then ask the services while the gateway counts its own figures on a connection of its own.
    They held the first connection through it all: with one connection in the pool the request waited
    for itself until the pool timed out (30 s), and under as many requests at once as the pool had
    connections, all of them did. The children are now read on a connection given back before the
    services are asked, and the turns are taken on a pool of their own."""

    async def test_a_one_connection_pool_answers(self, gateway_factory, gateway_tree):
        small = await gateway_factory(db_pool_size=1, db_max_overflow=0)
        admin = await small.admin()
        chengdu = gateway_tree["chengdu"]["id"]
        # A summary computed under its key's turn (shared with other gateways), which holds a connection
        # of the answers' own pool while the gateway's own figures take one of the main pool.
        r = await asyncio.wait_for(small.get("/v1/stats/summary", headers=admin, params={"station_id": chengdu}), 20)
        assert r.status_code == 200, r.text
        assert r.json()["system"]["stations.township"]["value"] == 2
        r = await asyncio.wait_for(small.get("/v1/stats/breakdown", headers=admin,
                                             params={"station_id": chengdu, "metric": "person_times"}), 20)
        assert r.status_code == 200, r.text
        assert [row["station"]["name"] for row in r.json()["rows"]] == ["Chenghua"]
        r = await asyncio.wait_for(small.get("/v1/reports/monthly.xlsx", headers=admin,
                                             params={"station_id": chengdu, "month": "2026-11"}), 20)
        assert r.status_code == 200, r.text
