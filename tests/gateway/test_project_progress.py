"""GET /v1/projects/{id}/progress through the gateway: the projects service's figures merged
with the project's casework figures, which change when a service record is added; and the
projects service's attendee checks going through the gateway with the caller's token."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest

from gateway.config import GatewaySettings
from shared import clock
from tests.fixtures.calls import a_project
from tests.fixtures.gateway import FAST_HASHING, Gateway, users


@pytest.fixture
async def gateway(cases_app, cases_client) -> AsyncIterator[Gateway]:
    """The gateway with a projects app of its own whose beneficiary lookups go back through it
    (the volunteers service plays no part here: a stub stands in for it)."""
    from gateway.app import create_app as create_gateway
    from services.projects.app import create_app as create_projects

    holder = {}

    async def through_gateway(scope, receive, send):
        await holder["app"](scope, receive, send)

    projects_app = create_projects(transports={"gateway": httpx.ASGITransport(app=through_gateway)})
    app = create_gateway(GatewaySettings(station_push_interval_s=3600, **FAST_HASHING), transports={
        "cases": httpx.ASGITransport(app=cases_app), "projects": httpx.ASGITransport(app=projects_app),
        "volunteers": httpx.MockTransport(lambda request: httpx.Response(503))})
    holder["app"] = app
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(projects_app.router.lifespan_context(projects_app))
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(Gateway(transport=httpx.ASGITransport(app=app),
                                                         base_url="http://gateway"))
        client.app = app
        yield client


def by_metric(progress: dict) -> dict:
    return {t["metric"]: (t["value"], t["met"]) for t in progress["targets"]}


class TestProjectProgress:
    async def test_casework_figures_merge_and_move_with_a_new_service_record(self, gateway, admin_headers,
                                                                             gateway_tree):
        staff = await users(gateway, admin_headers, gateway_tree, ("chen.head", "station_head", "mengzhuiwan"),
                            ("li.worker", "social_worker", "mengzhuiwan"),
                            ("wang.sibling", "social_worker", "shuangqiao"), ("zhao.official", "official", "chenghua"))
        head, worker = staff["chen.head"], staff["li.worker"]
        today = clock.today()

        r = await gateway.post("/v1/projects", headers=head, json=a_project(
            "猛追湾街道社工站项目", targets=[
                {"metric": "groups", "target": 1, "conditions": {"min_sessions": 1, "min_members": 1}},
                {"metric": "activities", "target": 1, "conditions": {"min_participants": 8}},
                {"metric": "person_times.casework", "target": 2},
                # The former name of cases.beneficiaries: still taken, stored under the new one.
                {"metric": "beneficiaries.registered", "target": 1},
                {"metric": "cases.full", "target": 1, "conditions": {"min_sessions": 2}}]))
        assert r.status_code == 201, r.text
        project = r.json()
        assert [t["metric"] for t in project["targets"]][3] == "cases.beneficiaries"

        r = await gateway.post("/v1/beneficiaries", headers=worker, json={"name": "张桂芳", "populations": ["elderly"]})
        assert r.status_code == 201, r.text
        person = r.json()["id"]
        # The member and the attendee are checked by the projects service through the gateway, as the worker.
        r = await gateway.post("/v1/groups", headers=worker, json={
            "project_id": project["id"], "title": "长者防诈骗小组", "members": [person]})
        assert r.status_code == 201, r.text
        group = r.json()
        r = await gateway.post(f"/v1/groups/{group['id']}/sessions", headers=worker, json={
            "held_on": today.isoformat(), "attendees": [{"beneficiary_id": person}], "anonymous_count": 3})
        assert r.status_code == 201 and r.json()["person_times"] == 4, r.text
        r = await gateway.post("/v1/activities", headers=worker, json={
            "project_id": project["id"], "title": "重阳节敬老活动", "held_on": today.isoformat(),
            "anonymous_count": 7, "attendees": [{"beneficiary_id": person}]})
        assert r.status_code == 201 and r.json()["person_times"] == 8, r.text

        url = f"/v1/projects/{project['id']}/progress"
        r = await gateway.get(url, headers=worker)
        assert r.status_code == 200, r.text
        # Polled: the same answer again is a 304 without a body.
        seen = r.headers["etag"]
        again = await gateway.get(url, headers={**worker, "If-None-Match": seen})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == seen
        assert r.json()["degraded"] == [] and r.json()["as_of"] == today.isoformat()
        assert by_metric(r.json()) == {"groups": (1, True), "activities": (1, True),
                                       "person_times.casework": (0, False), "cases.beneficiaries": (0, False),
                                       "cases.full": (0, False)}

        r = await gateway.post("/v1/cases", headers=worker, json={
            "beneficiary_id": person, "title": "独居老人照护", "project_id": project["id"],
            "opened_on": today.isoformat()})
        assert r.status_code == 201, r.text
        case = r.json()
        record = {"served_on": today.isoformat(), "mode": "home_visit", "content": "入户探访",
                  "service_type": "elder_child_care", "person_times": 1}
        r = await gateway.post(f"/v1/cases/{case['id']}/service-records", headers=worker, json=record)
        assert r.status_code == 201, r.text
        r = await gateway.get(url, headers={**worker, "If-None-Match": seen})
        assert r.status_code == 200 and r.headers["etag"] != seen
        assert by_metric(r.json())["person_times.casework"] == (1, False)

        r = await gateway.post(f"/v1/cases/{case['id']}/service-records", headers=worker, json=record)
        assert r.status_code == 201, r.text
        progress = by_metric((await gateway.get(url, headers=worker)).json())
        assert progress["person_times.casework"] == (2, True)
        assert progress["cases.beneficiaries"] == (1, True) and progress["cases.full"] == (1, True)

        # A county official sees the progress (figures only); a sibling station cannot tell the project exists.
        official = await gateway.headers_for("zhao.official")
        assert (await gateway.get(url, headers=official)).status_code == 200
        sibling = await gateway.headers_for("wang.sibling")
        r = await gateway.get(url, headers=sibling)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"

    async def test_unknown_attendee_through_the_gateway_and_a_failed_cases_service(self, gateway, admin_headers,
                                                                                   gateway_tree):
        staff = await users(gateway, admin_headers, gateway_tree, ("chen.head", "station_head", "mengzhuiwan"),
                            ("wang.sibling", "social_worker", "shuangqiao"))
        head, sibling = staff["chen.head"], staff["wang.sibling"]
        today = clock.today()
        r = await gateway.post("/v1/projects", headers=head, json={
            "name": "项目", "purchaser": "区民政局", "operator": "好邻", "starts_on": today.isoformat(),
            "ends_on": today.isoformat(), "targets": [{"metric": "person_times.casework", "target": 5}]})
        project = r.json()
        r = await gateway.post("/v1/beneficiaries", headers=sibling, json={"name": "李四"})
        elsewhere = r.json()["id"]
        r = await gateway.post("/v1/groups", headers=head, json={
            "project_id": project["id"], "title": "小组", "members": [elsewhere]})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "members[0]", r.text

        class Down(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request):
                raise httpx.ConnectError("down", request=request)

        gateway.app.state.upstreams._clients["cases"] = httpx.AsyncClient(base_url="http://cases", transport=Down())
        r = await gateway.get(f"/v1/projects/{project['id']}/progress", headers=head)
        assert r.status_code == 200 and r.json()["degraded"] == ["cases"]
        assert by_metric(r.json()) == {"person_times.casework": (None, None)}


class TestContractFiguresStayWithTheirStations:
    """A sibling station cannot move another station's contract figures by linking its cases."""

    async def test_a_case_cannot_join_a_sibling_stations_project(self, gateway, admin_headers, gateway_tree, db):
        staff = await users(gateway, admin_headers, gateway_tree, ("a.worker", "social_worker", "mengzhuiwan"),
                            ("b.head", "station_head", "shuangqiao"), ("b.worker", "social_worker", "shuangqiao"))
        worker_a, head_b = staff["a.worker"], staff["b.head"]
        today = clock.today()
        r = await gateway.post("/v1/projects", headers=head_b, json=a_project(
            "双桥街道社工站项目", targets=[{"metric": "person_times.casework", "target": 80},
                                           {"metric": "cases.beneficiaries", "target": 10},
                                           {"metric": "cases.full", "target": 1, "conditions": {"min_sessions": 1}}]))
        assert r.status_code == 201, r.text
        project = r.json()
        url = f"/v1/projects/{project['id']}/progress"
        nothing = {"person_times.casework": (0, False), "cases.beneficiaries": (0, False),
                   "cases.full": (0, False)}
        assert by_metric((await gateway.get(url, headers=head_b)).json()) == nothing

        # A's worker, for A's own beneficiary: opening the case under B's project is refused...
        r = await gateway.post("/v1/beneficiaries", headers=worker_a, json={"name": "张桂芳"})
        person = r.json()["id"]
        case = {"beneficiary_id": person, "title": "独居老人照护", "opened_on": today.isoformat()}
        r = await gateway.post("/v1/cases", headers=worker_a, json={**case, "project_id": project["id"]})
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
        assert [e["field"] for e in r.json()["errors"]] == ["project_id"]
        assert await db.fetchval('SELECT count(*) FROM cases."case"') == 0
        # ... and so is moving a case of A's under it; the service record of 50 person-times counts for A only.
        r = await gateway.post("/v1/cases", headers=worker_a, json=case)
        assert r.status_code == 201, r.text
        case_id = r.json()["id"]
        r = await gateway.patch(f"/v1/cases/{case_id}", headers={**worker_a, "If-Match": '"1"'},
                                json={"project_id": project["id"]})
        assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["project_id"], r.text
        assert await db.fetchval('SELECT project_id FROM cases."case" WHERE id = $1', case_id) is None
        r = await gateway.post(f"/v1/cases/{case_id}/service-records", headers=worker_a, json={
            "served_on": today.isoformat(), "mode": "home_visit", "content": "入户探访",
            "service_type": "elder_child_care", "person_times": 50})
        assert r.status_code == 201, r.text
        assert by_metric((await gateway.get(url, headers=head_b)).json()) == nothing

        # A link stored before links were checked counts nothing for B either.
        await db.execute('UPDATE cases."case" SET project_id = $1 WHERE id = $2', project["id"], case_id)
        assert by_metric((await gateway.get(url, headers=head_b)).json()) == nothing

        # B's own casework under its project does count.
        worker_b = await gateway.headers_for("b.worker")
        theirs = (await gateway.post("/v1/beneficiaries", headers=worker_b, json={"name": "李建国"})).json()["id"]
        r = await gateway.post("/v1/cases", headers=worker_b, json={**case, "beneficiary_id": theirs,
                                                                      "project_id": project["id"]})
        assert r.status_code == 201, r.text
        r = await gateway.post(f"/v1/cases/{r.json()['id']}/service-records", headers=worker_b, json={
            "served_on": today.isoformat(), "mode": "phone", "content": "电话回访",
            "service_type": "elder_child_care", "person_times": 2})
        assert r.status_code == 201, r.text
        assert by_metric((await gateway.get(url, headers=head_b)).json()) == {
            "person_times.casework": (2, False), "cases.beneficiaries": (1, False), "cases.full": (1, True)}

    async def test_a_project_takes_cases_of_the_stations_it_covers(self, gateway, admin_headers, gateway_tree):
        a, b, village = gateway_tree["mengzhuiwan"], gateway_tree["shuangqiao"], gateway_tree["heping"]
        await gateway.user(admin_headers, "county.head", "station_head", gateway_tree["chenghua"]["id"])
        for name, station in (("a.worker", a), ("b.worker", b), ("village.worker", village)):
            await gateway.user(admin_headers, name, "social_worker", station["id"])
        await gateway.app.state.pusher.sync_now()
        today = clock.today()
        # The county's contract covers station A only: B's workers see it (a station above theirs) but
        # cannot file under it; A's subtree, the village room under A included, can.
        r = await gateway.post("/v1/projects", headers=await gateway.headers_for("county.head"), json={
            "name": "成华区项目", "purchaser": "成华区民政局", "operator": "好邻社工中心",
            "covered_station_ids": [a["id"]], "starts_on": today.isoformat(), "ends_on": today.isoformat(),
            "targets": [{"metric": "cases.beneficiaries", "target": 2}]})
        assert r.status_code == 201, r.text
        project = r.json()
        answers = {}
        for name in ("a.worker", "village.worker", "b.worker"):
            headers = await gateway.headers_for(name)
            assert (await gateway.get(f"/v1/projects/{project['id']}", headers=headers)).status_code == 200
            person = (await gateway.post("/v1/beneficiaries", headers=headers, json={"name": "王芳"})).json()["id"]
            r = await gateway.post("/v1/cases", headers=headers, json={
                "beneficiary_id": person, "title": "个案", "project_id": project["id"]})
            answers[name] = r.status_code
        assert answers == {"a.worker": 201, "village.worker": 201, "b.worker": 422}
        r = await gateway.get(f"/v1/projects/{project['id']}/progress", headers=await gateway.headers_for("a.worker"))
        assert r.json()["coverage"] == [a["id"]]
        assert by_metric(r.json()) == {"cases.beneficiaries": (2, True)}
