"""A client whose create got no answer sends it again: no duplicate, in the records or in the
figures. Creates are made idempotent by the client's own id (`id` in the body, as tablets do
offline): the same id with the same body answers 200 with the record the first request made;
the same id with another body is 409 `id-in-use` and changes nothing.

Through the gateway, for the main creates of every service. The retry after a truly lost
answer (the client gave up while the service was still working) is in test_service_faults.py.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from shared import clock
from tests.fixtures.people import ID_BORN_1990
from tests.reliability.conftest import problem

FIGURES = ("cases.daily_stat", "cases.person_day", "projects.daily_stat", "projects.person_day",
           "volunteers.daily_stat")


async def figures(db) -> dict[str, list]:
    """Every rollup row the dashboards read."""
    return {table: [tuple(r) for r in await db.fetch(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4")]
            for table in FIGURES}


@pytest.fixture
async def people(gateway, admin_headers, root):
    await gateway.user(admin_headers, "chen.head", "station_head", root["id"])
    await gateway.user(admin_headers, "li.worker", "social_worker", root["id"])
    await gateway.app.state.pusher.sync_now()
    return {"head": await gateway.headers_for("chen.head"), "worker": await gateway.headers_for("li.worker")}


class TestRetriedCreate:
    async def retried(self, gateway, db, headers, path: str, table: str, body: dict, changed: str) -> dict:
        """Create, then send the very same request again as a client that lost the answer would."""
        body = {"id": f"retry-{uuid.uuid4()}", **body}
        first = await gateway.post(path, json=body, headers=headers)
        assert first.status_code == 201, (path, first.text)
        before = await figures(db)

        again = await gateway.post(path, json=body, headers=headers)
        assert again.status_code == 200, (path, again.text)
        assert again.json() == first.json()
        assert await db.fetchval(f"SELECT count(*) FROM {table} WHERE id = $1", body["id"]) == 1
        assert await figures(db) == before, f"a retried {path} counted twice"

        # The same id for something else is refused, and the record stays as first made (compared
        # as stored: some fields are sealed at rest, so the stored form is not the sent text).
        stored = await db.fetchrow(f"SELECT * FROM {table} WHERE id = $1", body["id"])
        other = problem(await gateway.post(path, json={**body, changed: "另一条记录"}, headers=headers), 409)
        assert other["type"].endswith("/id-in-use") and other["errors"][0]["field"] == "id"
        assert await db.fetchrow(f"SELECT * FROM {table} WHERE id = $1", body["id"]) == stored
        return first.json()

    async def test_no_duplicate_from_any_main_create(self, gateway, people, db):
        head, worker = people["head"], people["worker"]
        today = clock.today()

        person = await self.retried(gateway, db, worker, "/v1/beneficiaries", "cases.beneficiary",
                                    {"name": "张桂芳", "populations": ["elderly"]}, "name")
        case = await self.retried(gateway, db, worker, "/v1/cases", "cases.case", {
            "beneficiary_id": person["id"], "title": "独居老人照护", "opened_on": today.isoformat()}, "title")
        await self.retried(gateway, db, worker, f"/v1/cases/{case['id']}/service-records", "cases.service_record", {
            "served_on": today.isoformat(), "mode": "home_visit", "content": "入户探访",
            "service_type": "elder_child_care", "person_times": 1}, "content")

        project = await self.retried(gateway, db, head, "/v1/projects", "projects.project", {
            "name": "社区长者服务项目", "purchaser": "民政局", "operator": "好邻社工中心",
            "starts_on": (today - timedelta(days=30)).isoformat(),
            "ends_on": (today + timedelta(days=300)).isoformat()}, "name")
        group = await self.retried(gateway, db, worker, "/v1/groups", "projects.group", {
            "project_id": project["id"], "title": "长者防诈骗小组", "members": [person["id"]]}, "title")
        await self.retried(gateway, db, worker, f"/v1/groups/{group['id']}/sessions", "projects.group_session", {
            "held_on": today.isoformat(), "topic": "识别电话诈骗", "anonymous_count": 3,
            "attendees": [{"beneficiary_id": person["id"]}]}, "topic")
        await self.retried(gateway, db, worker, "/v1/activities", "projects.activity", {
            "project_id": project["id"], "title": "重阳节敬老活动", "held_on": today.isoformat(),
            "anonymous_count": 7, "attendees": [{"beneficiary_id": person["id"]}]}, "title")

        volunteer = await self.retried(gateway, db, worker, "/v1/volunteers", "volunteers.volunteer",
                                       {"name": "张志愿", "id_number": ID_BORN_1990}, "name")
        await self.retried(gateway, db, worker, "/v1/volunteer-hours", "volunteers.service_hours", {
            "volunteer_id": volunteer["id"], "served_on": today.isoformat(), "hours": "2",
            "content": "助老送餐"}, "content")
        await self.retried(gateway, db, worker, "/v1/teams", "volunteers.team", {"name": "助老服务队"}, "name")

        # The figures count each record once.
        assert await db.fetchval("SELECT count(*) FROM cases.service_record") == 1
        assert await db.fetchval(
            "SELECT sum(value) FROM cases.daily_stat WHERE metric = 'person_times.casework' "
            "AND population = '_all' AND station_id = $1", 1) == 1


class TestRetriedGatewayCreate:
    """The gateway's own creates take no client id; their natural keys keep a retry from duplicating."""

    async def test_a_retried_station_or_user_is_409_naming_the_key_and_not_a_second_row(self, gateway, admin_headers,
                                                                                        root,
                                                                                        db):
        body = {"parent_id": root["id"], "kind": "city", "name": "成都市"}
        assert (await gateway.post("/v1/stations", json=body, headers=admin_headers)).status_code == 201
        again = problem(await gateway.post("/v1/stations", json=body, headers=admin_headers), 409)
        assert "name" in {e["field"] for e in again.get("errors", [])}, again
        assert await db.fetchval("SELECT count(*) FROM gateway.station WHERE name = '成都市'") == 1

        body = {"username": "zhou.worker", "display_name": "周社工", "role": "social_worker",
                "station_id": root["id"], "password": "correct horse battery"}
        assert (await gateway.post("/v1/users", json=body, headers=admin_headers)).status_code == 201
        again = problem(await gateway.post("/v1/users", json=body, headers=admin_headers), 409)
        assert "username" in {e["field"] for e in again.get("errors", [])}, again
        assert await db.fetchval("SELECT count(*) FROM gateway.user WHERE username = 'zhou.worker'") == 1
