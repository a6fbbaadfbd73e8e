"""One world per module for the security tests, built through the gateway's public API.

Two sibling township stations under one county: A, whose users of every role are the
callers, and B, which holds one record of every kind. Everything B holds carries a marker in a
text field (names, titles, topics...), so a response that shows any of it is found by its text:
"ZZB" on records about people, "ZZS" on the station's own structure (its name, staff, tablets,
projects), which B's volunteer may see; the volunteer login of B (`volunteer@B`) owns the
records marked "ZZO".

The suite's per-test reset is switched off here (the world costs a few seconds to build,
and the matrix runs hundreds of requests against it); the module resets once at its start.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest

from gateway.config import GatewaySettings
from shared import clock
from tests.fixtures.gateway import FAST_HASHING, PASSWORD, Gateway
from tests.fixtures.people import id_number

MARK_B = "ZZB"  # B's records about people
MARK_STRUCTURE = "ZZS"  # B's station, staff, tablets and projects: no person in them
MARK_OWN = "ZZO"
# A 1x1 PNG: the file each of B's records with files carries.
ATTACHMENT = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8"
                           "cfc000000301010018dd8db00000000049454e44ae426082")
ROLES = ("admin", "official", "station_head", "social_worker", "supervisor", "volunteer")


@dataclass
class Caller:
    label: str
    role: str
    headers: dict[str, str]
    user_id: str


@dataclass
class World:
    gateway: Gateway
    # Process name -> a client on that process (the gateway, or a service called directly).
    clients: dict[str, httpx.AsyncClient]
    stations: dict[str, dict]
    # "a" / "b" -> record kind -> id: B's records are the targets, A's are the caller's own.
    ids: dict[str, dict[str, Any]]
    # Ids of what volunteer@B may see of B: their own volunteer record, hours, certificate, entry.
    own: set[str]
    callers: dict[str, Caller]
    root_admin: dict[str, str]
    # Personal values of B's people as they were registered: names, ID numbers, phones, addresses.
    personal: list[str]
    devices: dict[str, str] = field(default_factory=dict)
    database_url: str = ""

    def b_ids(self) -> set[str]:
        return {str(v) for v in self.ids["b"].values() if isinstance(v, str)}


@pytest.fixture
def clean_database() -> Iterator[None]:
    """Overrides the suite's per-test reset: here the module's world must survive its tests."""
    yield


@pytest.fixture(scope="module")
async def fresh_database(database_url: str, reset) -> str:
    await reset()
    return database_url


@pytest.fixture(scope="module")
async def security_gateway(fresh_database, cases_app, projects_app, volunteers_app, cases_client, projects_client,
                           volunteers_client, relay) -> AsyncIterator[Gateway]:
    from gateway.app import create_app

    # The services' figures waited for up to 30 s, not the shipped 3 s (as tests/fixtures/gateway.py): these
    # tests ask who may see what, and on a loaded 2-core CI machine a monthly report's figures once took
    # longer than 3 s, leaving every service out (502) of an answer the test meant to read.
    settings = GatewaySettings(station_push_interval_s=3600, login_per_address_per_minute=1000, stats_timeout_s=30,
                               **FAST_HASHING)
    app = create_app(settings, transports={
        "cases": httpx.ASGITransport(app=cases_app),
        "projects": httpx.ASGITransport(app=projects_app),
        "volunteers": httpx.ASGITransport(app=volunteers_app),
    })
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            Gateway(transport=httpx.ASGITransport(app=app), base_url="http://gateway"))
        client.app = app
        relay.gateway = app
        stack.callback(setattr, relay, "gateway", None)
        yield client


async def _ok(response: httpx.Response, *expect: int) -> dict:
    assert response.status_code in (expect or (200, 201)), (response.request.method, response.request.url,
                                                            response.status_code, response.text)
    return response.json() if response.content else {}


@pytest.fixture(scope="module")
async def world(security_gateway: Gateway, fresh_database: str, cases_client, projects_client,
                volunteers_client) -> World:
    gw = security_gateway
    admin = await gw.admin()
    root = (await gw.get("/v1/stations", headers=admin)).json()["items"][0]
    city = await gw.station(admin, root["id"], "city", "Chengdu")
    county = await gw.station(admin, city["id"], "county", "Chenghua")
    a = await gw.station(admin, county["id"], "township", "Mengzhuiwan A")
    b = await gw.station(admin, county["id"], "township", f"{MARK_STRUCTURE} Shuangqiao B")
    stations = {"root": root, "city": city, "county": county, "a": a, "b": b}

    async def user(username: str, role: str, station: dict, display: str, phone: str | None = None) -> dict:
        body = {"username": username, "display_name": display, "role": role, "station_id": station["id"],
                "password": PASSWORD}
        if phone:
            body["phone"] = phone
        return await _ok(await gw.post("/v1/users", json=body, headers=admin), 201)

    users: dict[str, dict] = {}
    for role in ROLES:
        users[f"{role}@A"] = await user(f"a.{role}", role, a, f"A {role}")
    users["station_head@B"] = await user("b.head", "station_head", b, f"{MARK_STRUCTURE} Head", "13900000001")
    users["social_worker@B"] = await user("b.worker", "social_worker", b, f"{MARK_STRUCTURE} Worker", "13900000002")
    users["volunteer@B"] = await user("b.volunteer", "volunteer", b, f"{MARK_OWN} Volunteer")
    users["official@county"] = await user("county.official", "official", county, "County official")
    await gw.app.state.pusher.sync_now()

    logins = {label: await gw.headers_for(u["username"]) for label, u in users.items()}
    callers = {label: Caller(label, label.split("@")[0], logins[label], str(users[label]["id"]))
               for label in users}
    head_b, worker_b = logins["station_head@B"], logins["social_worker@B"]
    head_a, worker_a = logins["station_head@A"], logins["social_worker@A"]
    today = clock.today()
    t = today.isoformat()
    ids: dict[str, dict[str, Any]] = {"a": {}, "b": {}}
    ids["a"].update(station=a["id"], user=users["social_worker@A"]["id"])
    ids["b"].update(station=b["id"], user=users["social_worker@B"]["id"])

    async def post(path: str, body: dict | None, headers: dict, *expect: int) -> dict:
        return await _ok(await gw.post(path, json=body, headers=headers), *expect)

    # Devices: one live per station, one revoked at B.
    dev_a = await post("/v1/devices", {"station_id": a["id"], "name": "A tablet"}, head_a)
    dev_b = await post("/v1/devices", {"station_id": b["id"], "name": f"{MARK_STRUCTURE} tablet"}, head_b)
    revoked = await post("/v1/devices", {"station_id": b["id"], "name": f"{MARK_STRUCTURE} lost tablet"}, head_b)
    await post(f"/v1/devices/{revoked['id']}/revoke", None, head_b, 200)
    ids["a"]["device"], ids["b"]["device"] = dev_a["id"], dev_b["id"]
    devices = {"a": dev_a["credential"], "b": dev_b["credential"], "revoked": revoked["credential"]}

    # Casework at B: a fully described person, a child, a case with one record of each kind.
    person = {"name": f"{MARK_B}张桂芳", "gender": "female", "birth_on": "1950-03-01",
              "id_number": id_number("51010819500301123"), "phone": "13712345678",
              "address": f"{MARK_B}成华区建设路88号", "self_care": "partial", "disability_type": "physical",
              "disability_grade": 2, "emergency_contact": {"name": f"{MARK_B}王小明", "relation": "son",
                                                         "phone": "13687654321"},
              "populations": ["elderly"]}
    child = {"name": f"{MARK_B}李小宝", "birth_on": "2016-05-04", "id_number": id_number("51010820160504234"),
             "populations": ["children"]}
    p1 = await post("/v1/beneficiaries", person, worker_b, 201)
    p2 = await post("/v1/beneficiaries", child, worker_b, 201)
    pa = await post("/v1/beneficiaries", {"name": "A居民", "populations": ["elderly"]}, worker_a, 201)
    ids["b"]["beneficiary"], ids["b"]["child"], ids["a"]["beneficiary"] = p1["id"], p2["id"], pa["id"]
    personal = [person["name"], person["id_number"], person["phone"], person["address"],
                person["emergency_contact"]["name"], person["emergency_contact"]["phone"], child["name"],
                child["id_number"]]

    case = await post("/v1/cases", {"beneficiary_id": p1["id"], "title": f"{MARK_B}独居老人照护",
                                    "risk_level": "high"}, worker_b, 201)
    case_a = await post("/v1/cases", {"beneficiary_id": pa["id"], "title": "A个案"}, worker_a, 201)
    ids["b"]["case"], ids["a"]["case"] = case["id"], case_a["id"]
    records = {
        "assessment": ("assessments", {"assessed_on": t, "areas": ["health"], "needs": f"{MARK_B}需要助餐"}),
        "plan": ("plans", {"planned_on": t, "goals": [{"goal": f"{MARK_B}每周助餐", "due_on": t}]}),
        "service_record": ("service-records", {"served_on": t, "mode": "home_visit", "duration_minutes": 45,
                                               "content": f"{MARK_B}入户探访", "service_type": "elder_child_care"}),
        "referral": ("referrals", {"agency": f"{MARK_B}区残联", "reason": "辅具申请", "referred_on": t}),
        "follow_up": ("follow-ups", {"due_on": (today + timedelta(days=3)).isoformat(), "method": "phone",
                                     "notes": f"{MARK_B}回访"}),
    }
    for kind, (path, body) in records.items():
        ids["b"][kind] = (await post(f"/v1/cases/{case['id']}/{path}", body, worker_b, 201))["id"]
    visit = {"visited_on": t, "mode": "home_visit", "health": "poor", "needs": ["meals"], "notes": f"{MARK_B}独居"}
    ids["b"]["visit"] = (await post(f"/v1/beneficiaries/{p1['id']}/visits", visit, worker_b, 201))["id"]
    # B's person on a civil-affairs roster (a roster's file names the person by ID number).
    roster = f"姓名,身份证号,人群类别,村(社区)\n{person['name']},{person['id_number']},tekun,{MARK_B}村\n"
    await _ok(await gw.post("/v1/rosters/import", headers=worker_b,
                            files={"file": ("roster.csv", roster.encode(), "text/csv")}), 201)
    rule = await post("/v1/visit-rules", {"population": "tekun", "every_days": 14, "modes": ["home_visit"]},
                      head_b, 201)
    ids["b"]["visit_rule"] = rule["id"]
    # B asks to move its child to a station outside B's subtree and outside A's (the county itself): a
    # transfer only B and the county reach.
    moving = await post(f"/v1/beneficiaries/{p2['id']}/transfer", {"to_station_id": county["id"],
                                                                   "reason": f"{MARK_B}搬家"}, head_b, 202)
    ids["b"]["transfer"] = moving["id"]

    # Supervision at B: its own approval rule, the case's assessment submitted for approval, and a
    # supervisor of elsewhere assigned to B (no caller of A: A's supervisor must not reach B's).
    await _ok(await gw.put(f"/v1/approval-rules/{b['id']}", json={"steps": ["assess"]}, headers=head_b))
    await post(f"/v1/cases/{case['id']}/assess", None, worker_b, 202)
    pending = (await gw.get("/v1/approvals", params={"case_id": case["id"]}, headers=head_b)).json()["items"]
    ids["b"]["approval"] = pending[0]["id"]
    assignment = await post("/v1/supervisor-assignments", {"supervisor_id": "centre-supervisor",
                                                           "station_id": b["id"]}, head_b, 201)
    ids["b"]["assignment"] = assignment["id"]
    session_b = await post("/v1/supervision-records", {
        "held_on": t, "supervisor_id": "centre-supervisor", "worker_ids": [str(users["social_worker@B"]["id"])],
        "mode": "individual", "duration_minutes": 90, "topics": [f"{MARK_B}独居老人个案研讨"],
        "case_ids": [case["id"]], "notes": f"{MARK_B}督导意见"}, head_b, 201)
    ids["b"]["supervision_record"] = session_b["id"]

    # Projects at B: a project with an evaluation, a group with a session and attendance, an activity.
    project = {"name": f"{MARK_STRUCTURE}双桥社工站项目", "purchaser": "成华区民政局", "operator": "好邻社工中心",
               "starts_on": (today - timedelta(days=90)).isoformat(),
               "ends_on": (today + timedelta(days=90)).isoformat(),
               "budget": [{"source": "civil_affairs", "amount_yuan": "100000.00"}],
               "targets": [{"metric": "activities", "target": 5}]}
    pr_b = await post("/v1/projects", project, head_b, 201)
    pr_a = await post("/v1/projects", {**project, "name": "A项目"}, head_a, 201)
    ids["b"]["project"], ids["a"]["project"] = pr_b["id"], pr_a["id"]
    evaluation = {"evaluated_on": t, "evaluator": f"{MARK_STRUCTURE}评估机构", "scores": {"output": 30},
                  "grade": "good"}
    ev = await post(f"/v1/projects/{pr_b['id']}/evaluations", evaluation, head_b, 201)
    ids["b"]["evaluation"] = ev["id"]
    group = await post("/v1/groups", {"project_id": pr_b["id"], "title": f"{MARK_B}长者防诈骗小组",
                                      "members": [p1["id"]]}, worker_b, 201)
    session = await post(f"/v1/groups/{group['id']}/sessions", {
        "held_on": t, "topic": f"{MARK_B}认识电信诈骗", "attendees": [{"beneficiary_id": p1["id"]}]}, worker_b, 201)
    activity = await post("/v1/activities", {
        "project_id": pr_b["id"], "title": f"{MARK_B}重阳节敬老活动", "kind": "festival", "held_on": t,
        "anonymous_count": 3, "attendees": [{"beneficiary_id": p2["id"]}]}, worker_b, 201)
    ids["b"].update(group=group["id"], session=session["id"], activity=activity["id"])
    activity_a = await post("/v1/activities", {"project_id": pr_a["id"], "title": "A活动", "held_on": t}, worker_a, 201)
    ids["a"]["activity"] = activity_a["id"]

    # Volunteers at B: one linked to volunteer@B's login (their own), one other, a team, hours, certificates.
    own = await post("/v1/volunteers", {"name": f"{MARK_OWN}赵自己", "id_number": id_number("51010819900101345"),
                                        "user_id": str(users["volunteer@B"]["id"])}, head_b, 201)
    other_person = {"name": f"{MARK_B}钱志愿", "id_number": id_number("51010819850615456"), "phone": "13598765432"}
    other = await post("/v1/volunteers", other_person, worker_b, 201)
    va = await post("/v1/volunteers", {"name": "A志愿者", "id_number": id_number("51010819800101567")}, worker_a, 201)
    personal += list(other_person.values())
    ids["b"]["volunteer"], ids["a"]["volunteer"] = other["id"], va["id"]
    entry_own = await post(f"/v1/volunteers/{own['id']}/entries", {
        "kind": "training", "title": f"{MARK_OWN}急救培训", "occurred_on": t}, worker_b, 201)
    entry = await post(f"/v1/volunteers/{other['id']}/entries", {
        "kind": "award", "title": f"{MARK_B}优秀志愿者", "occurred_on": t}, worker_b, 201)
    ids["b"]["entry"] = entry["id"]
    team = await post("/v1/teams", {"name": f"{MARK_B}助老服务队", "leader_id": other["id"]}, worker_b, 201)
    team_a = await post("/v1/teams", {"name": "A服务队", "leader_id": va["id"]}, worker_a, 201)
    ids["b"]["team"], ids["a"]["team"] = team["id"], team_a["id"]
    hours = {}
    for who in (own, other):
        mark = MARK_OWN if who is own else MARK_B
        h = await post("/v1/volunteer-hours", {"volunteer_id": who["id"], "served_on": t, "hours": "2",
                                               "content": f"{mark}助老送餐"}, worker_b, 201)
        await post(f"/v1/volunteer-hours/{h['id']}/confirm", None, worker_b, 200)
        hours[who["id"]] = h
    ids["b"]["hours"] = hours[other["id"]]["id"]
    hours_a = await post("/v1/volunteer-hours", {"volunteer_id": va["id"], "served_on": t, "hours": "1",
                                                 "content": "A助老"}, worker_a, 201)
    ids["a"]["hours"] = hours_a["id"]
    certs = {who["id"]: await post("/v1/certificates", {"volunteer_id": who["id"], "from": t, "to": t}, worker_b, 201)
             for who in (own, other)}
    ids["b"]["certificate"] = certs[other["id"]]["id"]

    # One file on each kind of B's records that carries files (shared/attachments).
    with_files = {"beneficiary": (f"/v1/beneficiaries/{p1['id']}", "consent_form", worker_b, MARK_B),
                  "case": (f"/v1/cases/{case['id']}", "closure_report", worker_b, MARK_B),
                  "session": (f"/v1/groups/{group['id']}/sessions/{session['id']}", "sign_in_sheet", worker_b, MARK_B),
                  "activity": (f"/v1/activities/{activity['id']}", "photo", worker_b, MARK_B),
                  "evaluation": (f"/v1/projects/{pr_b['id']}/evaluations/{ev['id']}", "evaluation_report", head_b,
                                 MARK_STRUCTURE),
                  "hours": (f"/v1/volunteer-hours/{hours[other['id']]['id']}", "proof", worker_b, MARK_B)}
    for kind, (path, purpose, headers, mark) in with_files.items():
        r = await gw.post(f"{path}/attachments", content=ATTACHMENT, headers=headers,
                          params={"purpose": purpose, "file_name": f"{mark}证据.png"})
        ids["b"][f"attachment:{kind}"] = (await _ok(r, 201))["id"]

    # Records under review at both stations, pushed by their tablets: each breaks a data-quality
    # rule (a visit dated before its case opened; B's volunteer over 24 hours on a day), so the
    # review lists hold something of A's and something of B's.
    yesterday = (today - timedelta(days=1)).isoformat()
    for side, case_id in (("a", case_a["id"]), ("b", case["id"])):
        mark = MARK_B if side == "b" else ""
        visit = {"id": fresh_id(), "case_id": case_id, "served_on": yesterday, "mode": "home_visit",
                 "content": f"{mark}补录探访", "service_type": "elder_child_care", "person_times": 1}
        changes: dict[str, Any] = {"service_records": {"created": [visit], "updated": [], "deleted": []}}
        ids[side]["flagged_record"] = visit["id"]
        if side == "b":
            shift = {"id": fresh_id(), "volunteer_id": other["id"], "served_on": t, "hours": 23,
                     "content": f"{MARK_B}通宵值守"}
            changes["volunteer_hours"] = {"created": [shift], "updated": [], "deleted": []}
            ids["b"]["flagged_hours"] = shift["id"]
        r = await gw.post("/v1/sync", params={"last_pulled_at": "null"}, json=changes,
                          headers={"Authorization": f"Bearer {devices[side]}"})
        assert r.status_code == 204, r.text

    return World(
        gateway=gw, clients={"gateway": gw, "cases": cases_client, "projects": projects_client,
                             "volunteers": volunteers_client},
        stations=stations, ids=ids, callers=callers, root_admin=admin, personal=personal, devices=devices,
        own={own["id"], hours[own["id"]]["id"], certs[own["id"]]["id"], entry_own["id"]},
        database_url=fresh_database)


def fresh_id() -> str:
    return str(uuid.uuid4())
