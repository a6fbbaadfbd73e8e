"""Fixtures for the projects tests: the projects app, whose attendee checks reach the real cases
app in-process (in production they go through the gateway, which forwards the same path),
the station tree in every service, and record makers. The tree, the people and the callers by
role are the suites' shared ones (tests/fixtures/).
"""

from datetime import timedelta

import httpx
import pytest

from shared import clock
from tests.fixtures.calls import posted
from tests.fixtures.people import ID_BORN_1985, ID_BORN_1990


@pytest.fixture(scope="session")
async def projects(projects_client) -> httpx.AsyncClient:
    """The projects service; its lookups reach the in-process services (tests/conftest.py `relay`)."""
    return projects_client


# Volunteers of station 2 that activities name (the volunteers service checks they exist in scope).
VOLUNTEERS = {"v-1": ID_BORN_1990, "v-2": ID_BORN_1985}


@pytest.fixture
async def tree(projects, cases_client, volunteers_client, push_tree, worker):
    """The station tree in every service, and the volunteers v-1 and v-2 at station 2."""
    await push_tree(cases_client, projects, volunteers_client)
    for volunteer_id, id_number in VOLUNTEERS.items():
        r = await volunteers_client.post("/v1/volunteers", headers=worker,
                                         json={"id": volunteer_id, "name": "志愿者", "id_number": id_number})
        assert r.status_code == 201, r.text


@pytest.fixture
def period(today):
    return (today - timedelta(days=90), today + timedelta(days=90))


@pytest.fixture
def register(cases_client, tree):
    """A beneficiary registered in the cases service; returns its id."""

    async def make(headers, populations=("elderly",), name="张桂芳") -> str:
        body = {"name": name, "populations": list(populations)}
        return (await posted(cases_client, "/v1/beneficiaries", body, headers))["id"]

    return make


@pytest.fixture
def make_project(projects, tree, head, period):
    async def make(headers=None, expect: int = 201, **fields) -> dict:
        body = {"name": "猛追湾街道社工站项目", "purchaser": "成华区民政局", "operator": "好邻社工中心",
                "starts_on": period[0].isoformat(), "ends_on": period[1].isoformat(),
                "budget": [{"source": "civil_affairs", "amount_yuan": "400000.00"},
                           {"source": "womens_federation", "amount_yuan": "100000.00"}],
                "targets": [{"metric": "groups", "target": 3, "conditions": {"min_sessions": 4, "min_members": 5}},
                            {"metric": "activities", "target": 15, "conditions": {"min_participants": 8}},
                            {"metric": "person_times.casework", "target": 80}], **fields}
        return await posted(projects, "/v1/projects", body, headers or head, expect)

    return make


@pytest.fixture
def make_group(projects):
    async def make(headers, project_id: str, expect: int = 201, **fields) -> dict:
        body = {"project_id": project_id, "title": "长者防诈骗小组", **fields}
        return await posted(projects, "/v1/groups", body, headers, expect)

    return make


@pytest.fixture
def make_session(projects, today):
    async def make(headers, group_id: str, expect: int = 201, **fields) -> dict:
        body = {"held_on": today.isoformat(), "topic": "认识电信诈骗", **fields}
        return await posted(projects, f"/v1/groups/{group_id}/sessions", body, headers, expect)

    return make


@pytest.fixture
def make_activity(projects, today):
    async def make(headers, project_id: str, expect: int = 201, **fields) -> dict:
        body = {"project_id": project_id, "title": "重阳节敬老活动", "kind": "festival", "place": "社区广场",
                "held_on": today.isoformat(), "anonymous_count": 10, **fields}
        return await posted(projects, "/v1/activities", body, headers, expect)

    return make


async def stats(client, service_headers, path="/1/", days=120, **query) -> dict:
    today = clock.today()
    body = {"station_path": path, "from": (today - timedelta(days=days)).isoformat(),
            "to": (today + timedelta(days=days)).isoformat(), **query}
    r = await client.post("/internal/stats", json=body, headers=service_headers)
    assert r.status_code == 200, r.text
    return {(row["metric"], row.get("population"), row.get("period"), row.get("station")): row["value"]
            for row in r.json()["rows"]}
